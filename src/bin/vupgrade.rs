//! vupgrade — rewrite passwd.cdb (or the plain-text `passwd`) in the current format, giving every account a directory; through `passwd.cdb.tmp` + rename, so an existing table is upgraded in place.
//!
//! Invocation: `vupgrade [--quiet]`.
//!
//! Runs as the domain owner (never set-uid), in `$HOME`; configuration
//! from `~/.vmailmgr` then `/etc/vmailmgr`: `password-file`, `user-dir`, `default-*`.
//!
//! Exit codes: 0 done; 1 otherwise.
//!
//! See: `shared/spec/vmailmgr/commands.md`, `qmail::vmailmgr::commands::maint`.

fn main() {
    let argv: Vec<std::ffi::OsString> = std::env::args_os().collect();
    std::process::exit(qmail::vmailmgr::commands::maint::vupgrade(&argv));
}
