//! dumpvuser — print every field of one account.
//!
//! Invocation: `dumpvuser [--quiet] account`.
//!
//! Runs as the domain owner (never set-uid), in `$HOME`; configuration
//! from `~/.vmailmgr` then `/etc/vmailmgr`: `password-file`.
//!
//! Exit codes: 0 found; 1 otherwise.
//!
//! See: `shared/spec/vmailmgr/commands.md`, `qmail::vmailmgr::commands::show`.

fn main() {
    let argv: Vec<std::ffi::OsString> = std::env::args_os().collect();
    std::process::exit(qmail::vmailmgr::commands::show::dumpvuser(&argv));
}
