//! vcheckquota — quota check for the `vdeliver-predeliver` hook (vmailmgr-tools): message size, message count, hard and soft quota of `$MAILDIR`.
//!
//! Invocation: `vcheckquota [-a BYTES|--soft-maxsize=BYTES] [-m PATH|--soft-message=PATH]`, message on stdin, limits in `VUSER_*`
//! (`-` = unlimited) and `MAILDIR`.
//!
//! Runs as the domain owner (never set-uid), in `$HOME`; configuration
//! from `~/.vmailmgr` then `/etc/vmailmgr`: none (environment only).
//!
//! Exit codes: 0 accept; 100 over a limit (message on stderr); 111 temporary problems
//! (a missing, empty or non-numeric variable, a maildir entry that cannot be
//! stat'ed or opened). Usage is measured as vmailmgr-tools does: directory
//! sizes, `tmp/` and IMAP folders included.
//!
//! See: `shared/spec/vmailmgr/commands.md`, `qmail::vmailmgr::commands::tools`.

fn main() {
    let argv: Vec<std::ffi::OsString> = std::env::args_os().collect();
    std::process::exit(qmail::vmailmgr::commands::tools::vcheckquota(&argv));
}
