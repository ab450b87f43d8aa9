//! vpasswd — change one virtual user's password (MD5-crypt).
//!
//! Invocation: `vpasswd [--quiet] USERNAME`; the password from the terminal or stdin.
//!
//! Runs as the domain owner (never set-uid), in `$HOME`; configuration
//! from `~/.vmailmgr` then `/etc/vmailmgr`: `password-file`.
//!
//! Exit codes: 0 changed; 1 otherwise.
//!
//! See: `shared/spec/vmailmgr/commands.md`, `qmail::vmailmgr::commands::change`.

fn main() {
    let argv: Vec<std::ffi::OsString> = std::env::args_os().collect();
    std::process::exit(qmail::vmailmgr::commands::change::vpasswd(&argv));
}
