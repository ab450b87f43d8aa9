//! vrehash — move mailbox directories to the current `user-dir-bits`/`user-dir-slices` layout (the intended behaviour; the original always fails).
//!
//! Invocation: `vrehash`.
//!
//! Runs as the domain owner (never set-uid), in `$HOME`; configuration
//! from `~/.vmailmgr` then `/etc/vmailmgr`: `user-dir`, `user-dir-bits`, `user-dir-slices`, `password-file`.
//!
//! Exit codes: 0 done; 1 on any failed step.
//!
//! See: `shared/spec/vmailmgr/commands.md`, `qmail::vmailmgr::commands::maint`.

fn main() {
    let argv: Vec<std::ffi::OsString> = std::env::args_os().collect();
    std::process::exit(qmail::vmailmgr::commands::maint::vrehash(&argv));
}
