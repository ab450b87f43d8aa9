//! vpasswds — change passwords from `user password` lines on stdin.
//!
//! Invocation: `vpasswds [--quiet] < list`.
//!
//! Runs as the domain owner (never set-uid), in `$HOME`; configuration
//! from `~/.vmailmgr` then `/etc/vmailmgr`: `password-file`.
//!
//! Exit codes: 0 no errors; 1 otherwise.
//!
//! See: `shared/spec/vmailmgr/commands.md`, `qmail::vmailmgr::commands::change`.

fn main() {
    let argv: Vec<std::ffi::OsString> = std::env::args_os().collect();
    std::process::exit(qmail::vmailmgr::commands::change::vpasswds(&argv));
}
