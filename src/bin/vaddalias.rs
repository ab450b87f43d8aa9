//! vaddalias — add a forward-only alias: the original shell script `vadduser -D -P -f DEST... VIRTUSER`.
//!
//! Invocation: `vaddalias virtuser dest [dest ...]`.
//!
//! Runs as the domain owner (never set-uid), in `$HOME`; configuration
//! from `~/.vmailmgr` then `/etc/vmailmgr`: as vadduser.
//!
//! Exit codes: as vadduser; 1 with fewer than two arguments.
//!
//! See: `shared/spec/vmailmgr/commands.md`, `qmail::vmailmgr::commands::add`.

fn main() {
    let argv: Vec<std::ffi::OsString> = std::env::args_os().collect();
    std::process::exit(qmail::vmailmgr::commands::add::vaddalias(&argv));
}
