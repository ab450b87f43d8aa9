//! listvdomain — list the accounts of the virtual domain.
//!
//! Invocation: `listvdomain [-a|-u] [--quiet] [user ...]`.
//!
//! Runs as the domain owner (never set-uid), in `$HOME`; configuration
//! from `~/.vmailmgr` then `/etc/vmailmgr`: `password-file`.
//!
//! Exit codes: 0; 1 on unknown users, an unreadable table or usage errors.
//!
//! See: `shared/spec/vmailmgr/commands.md`, `qmail::vmailmgr::commands::show`.

fn main() {
    let argv: Vec<std::ffi::OsString> = std::env::args_os().collect();
    std::process::exit(qmail::vmailmgr::commands::show::listvdomain(&argv));
}
