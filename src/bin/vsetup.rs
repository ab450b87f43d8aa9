//! vsetup — set up a virtual domain for its first use: `users/`, `.qmail-default` (`|/usr/bin/vdeliver`), the postmaster aliases.
//!
//! Invocation: `vsetup [--quiet]`.
//!
//! Runs as the domain owner (never set-uid), in `$HOME`; configuration
//! from `~/.vmailmgr` then `/etc/vmailmgr`: hooks `vsetup-pre`, `vsetup-post`; `user-dir`, `postmaster-aliases`, `postmaster-email`.
//!
//! Exit codes: 0 done; 1 usage, HOME, hook or write failure.
//!
//! See: `shared/spec/vmailmgr/commands.md`, `qmail::vmailmgr::commands::add`.

fn main() {
    let argv: Vec<std::ffi::OsString> = std::env::args_os().collect();
    std::process::exit(qmail::vmailmgr::commands::add::vsetup(&argv));
}
