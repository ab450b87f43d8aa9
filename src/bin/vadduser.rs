//! vadduser — add a virtual user (and aliases to it) to the domain owner's passwd.cdb, creating its maildir.
//!
//! Invocation: `vadduser [flags] USERNAME [ALIAS1 ...]` (invoked as `vaddalias`: `--no-mailbox` implied); the password is read from the terminal or one line of stdin unless `--password`/`-P`.
//!
//! Runs as the domain owner (never set-uid), in `$HOME`; configuration
//! from `~/.vmailmgr` then `/etc/vmailmgr`: `default-*` limits, `user-dir`, `user-dir-bits`, `user-dir-slices`, `password-file`.
//!
//! Exit codes: 0 added (alias problems do not count); 1 otherwise.
//!
//! See: `shared/spec/vmailmgr/commands.md`, `qmail::vmailmgr::commands::add`.

fn main() {
    let argv: Vec<std::ffi::OsString> = std::env::args_os().collect();
    std::process::exit(qmail::vmailmgr::commands::add::vadduser(&argv));
}
