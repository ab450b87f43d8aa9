//! vaddusers — add users from `user password [alias ...]` lines on stdin.
//!
//! Invocation: `vaddusers [--quiet] < list`.
//!
//! Runs as the domain owner (never set-uid), in `$HOME`; configuration
//! from `~/.vmailmgr` then `/etc/vmailmgr`: as vadduser.
//!
//! Exit codes: 0 no errors; 1 otherwise.
//!
//! See: `shared/spec/vmailmgr/commands.md`, `qmail::vmailmgr::commands::add`.

fn main() {
    let argv: Vec<std::ffi::OsString> = std::env::args_os().collect();
    std::process::exit(qmail::vmailmgr::commands::add::vaddusers(&argv));
}
