//! vchforwards — replace a virtual user's forwarding addresses.
//!
//! Invocation: `vchforwards [--quiet] USERNAME [DESTINATION1 ...]`.
//!
//! Runs as the domain owner (never set-uid), in `$HOME`; configuration
//! from `~/.vmailmgr` then `/etc/vmailmgr`: `password-file`, `user-dir`.
//!
//! Exit codes: 0 changed; 1 otherwise.
//!
//! See: `shared/spec/vmailmgr/commands.md`, `qmail::vmailmgr::commands::change`.

fn main() {
    let argv: Vec<std::ffi::OsString> = std::env::args_os().collect();
    std::process::exit(qmail::vmailmgr::commands::change::vchforwards(&argv));
}
