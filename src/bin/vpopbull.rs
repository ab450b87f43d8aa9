//! vpopbull — POP bulletins (vmailmgr-tools): symlink every bulletin newer
//! than `$MAILDIR/.timestamp` into the mailbox's `new/`, then reset the
//! timestamp; optionally exec a command (run from `checkvpw-postsetuid`
//! or in front of the POP server).
//!
//! Invocation: `vpopbull [--quiet] bulletin-dir [bulletin-dir2 ...] [-- command]`,
//! with `HOME` (entered) and `MAILDIR` set, as the domain owner. Links are
//! named `<time>.<pid>.<hostname>` (retried every 2 s while the name
//! exists); a relative bulletin directory is linked through one `../` per
//! `/` in `$MAILDIR/new`.
//!
//! Exit codes: 0 done (or the command's, through exec); 1 `HOME`/`MAILDIR`
//! unset or the home not enterable; 111 bulletin or link errors, or the
//! command cannot be executed.
//!
//! See: `shared/spec/vmailmgr/commands.md` §3, `qmail::vmailmgr::commands::tools`.

use std::os::unix::process::CommandExt;

use qmail::vmailmgr::commands::tools::{exec_failed, vpopbull, PopbullEnd};

fn main() {
    let argv: Vec<std::ffi::OsString> = std::env::args_os().collect();
    match vpopbull(&argv) {
        PopbullEnd::Exit(code) => std::process::exit(code),
        PopbullEnd::Exec(cmd) => {
            let e = std::process::Command::new(&cmd[0]).args(&cmd[1..]).exec();
            std::process::exit(exec_failed(&cmd[0], &e));
        }
    }
}
