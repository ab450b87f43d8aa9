//! mailsubj — send a message with a subject line.
//!
//! # Invocation
//! `mailsubj subject recip ...`: feeds `Subject: SUBJECT`, `To: RECIP ...`
//! (the recipients separated by spaces), an empty line, then stdin, into
//! `/var/qmail/bin/qmail-inject`, which takes the recipients from the
//! header (`shared/spec/qmail/inject.md` §3).
//!
//! The original is a shell script (`warn-auto.sh` + `mailsubj.sh` with
//! conf-qmail substituted). Its behaviour is the shell's: `echo`'s
//! backslash escapes (dash), `shift` failing without arguments, the
//! pipeline's exit status, `not found` messages with line numbers. So this
//! program does not imitate it: it execs `/bin/sh -c` on the same text
//! (`src/sh/mailsubj.sh`, same line numbers) with `$0` set to the path the
//! kernel would have given the script.
//!
//! # Uid and security
//! Runs as the invoking user.
//!
//! # Exit codes
//! qmail-inject's (the pipeline's status); from `/bin/sh` (dash): 2 with
//! `PATH: 4: shift: can't shift that many` without a subject, 127 if
//! qmail-inject is missing. 111 if `/bin/sh` cannot be started.
//!
//! # See also
//! qmail-inject.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::Path;

/// The installed script's text: `QMAIL` is conf-qmail, as the Makefile's sed does.
fn script() -> Vec<u8> {
    let home = qmail::root::qmail_home();
    let text = include_bytes!("../sh/mailsubj.sh");
    let mut out = Vec::with_capacity(text.len() + 64);
    let mut rest: &[u8] = text;
    while let Some(i) = rest.windows(5).position(|w| w == b"QMAIL") {
        out.extend_from_slice(&rest[..i]);
        out.extend_from_slice(home.as_os_str().as_bytes());
        rest = &rest[i + 5..];
    }
    out.extend_from_slice(rest);
    out
}

/// `$0` of a script: the file name execve got. A bare name was found
/// on PATH, and execvp hands the kernel `DIR/NAME` (`NAME` for an empty
/// PATH element).
fn script_name(arg0: OsString) -> OsString {
    if arg0.as_bytes().contains(&b'/') {
        return arg0;
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    for dir in path.as_bytes().split(|&b| b == b':') {
        let mut p = dir.to_vec();
        if !p.is_empty() {
            p.push(b'/');
        }
        p.extend_from_slice(arg0.as_bytes());
        let exe = Path::new(OsStr::from_bytes(&p))
            .metadata()
            .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0);
        if exe {
            return OsString::from_vec(p);
        }
    }
    arg0
}

fn main() {
    let mut args = std::env::args_os();
    let arg0 = args.next().unwrap_or_else(|| "mailsubj".into());
    let e = std::process::Command::new("/bin/sh")
        .arg("-c")
        .arg(OsString::from_vec(script()))
        .arg(script_name(arg0))
        .args(args)
        .exec();
    eprintln!("mailsubj: fatal: unable to run /bin/sh: {e}");
    std::process::exit(111);
}
