//! vdeluser — delete virtual users or aliases and their directories.
//!
//! Invocation: `vdeluser [-D] [--quiet] USER1 [USER2 ...]`.
//!
//! Runs as the domain owner (never set-uid), in `$HOME`; configuration
//! from `~/.vmailmgr` then `/etc/vmailmgr`: `password-file`.
//!
//! Exit codes: 0 all deleted; 1 otherwise.
//!
//! See: `shared/spec/vmailmgr/commands.md`, `qmail::vmailmgr::commands::change`.

fn main() {
    let argv: Vec<std::ffi::OsString> = std::env::args_os().collect();
    std::process::exit(qmail::vmailmgr::commands::change::vdeluser(&argv));
}
