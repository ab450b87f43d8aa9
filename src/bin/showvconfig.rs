//! showvconfig — print the effective configuration (domain chain).
//!
//! Invocation: `showvconfig`.
//!
//! Runs as the domain owner (never set-uid), in `$HOME`; configuration
//! from `~/.vmailmgr` then `/etc/vmailmgr`: every setting.
//!
//! Exit codes: 0; 1 on HOME problems.
//!
//! See: `shared/spec/vmailmgr/commands.md`, `qmail::vmailmgr::commands::show`.

fn main() {
    let argv: Vec<std::ffi::OsString> = std::env::args_os().collect();
    std::process::exit(qmail::vmailmgr::commands::show::showvconfig(&argv));
}
