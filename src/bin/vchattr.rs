//! vchattr — change one attribute (quota, limits, expiry, enabled, personal) of virtual users.
//!
//! Invocation: `vchattr -c|-e|-E|-p|-q|-Q|-z [--quiet] VALUE USERNAME ...`.
//!
//! Runs as the domain owner (never set-uid), in `$HOME`; configuration
//! from `~/.vmailmgr` then `/etc/vmailmgr`: `password-file`.
//!
//! Exit codes: the number of users that failed (0 = all changed); 1 on usage errors.
//!
//! See: `shared/spec/vmailmgr/commands.md`, `qmail::vmailmgr::commands::change`.

fn main() {
    let argv: Vec<std::ffi::OsString> = std::env::args_os().collect();
    std::process::exit(qmail::vmailmgr::commands::change::vchattr(&argv));
}
