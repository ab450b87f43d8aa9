//! Running one of netqmail's shell-script programs (mailsubj, datemail,
//! qmail-qstat) as the original does: its installed text (`warn-auto.sh`
//! followed by `NAME.sh`, `QMAIL` replaced by conf-qmail as the Makefile's
//! sed does) run by `/bin/sh`, so `echo`, `expr`, `find`, `shift` and
//! `exec` behave, fail and word their errors exactly as there (same line
//! numbers), with `$0` the path the kernel would have given the script.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::Path;

/// The installed script: `text` with every `token` replaced by `value`
/// (the qmail home for `QMAIL`, as netqmail's Makefile does; ucspi-tcp's
/// bin directory for `UCSPI`, as its conf-home).
fn installed(text: &[u8], token: &[u8], value: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len() + 64);
    let mut rest = text;
    while let Some(i) = rest.windows(token.len()).position(|w| w == token) {
        out.extend_from_slice(&rest[..i]);
        out.extend_from_slice(value);
        rest = &rest[i + token.len()..];
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

/// Exec `/bin/sh -c` on the installed `text` (`QMAIL` the qmail home)
/// with this process's arguments; returns only if `/bin/sh` cannot be
/// run (exit 111 then).
#[allow(dead_code)]
pub fn run(name: &str, text: &[u8]) -> ! {
    let home = qmail::root::qmail_home();
    run_installed(name, installed(text, b"QMAIL", home.as_os_str().as_bytes()))
}

/// [`run`] for ucspi-tcp's scripts: `UCSPI` is the directory this
/// program is in, where its tcpclient, delcr and addcr are.
#[allow(dead_code)]
pub fn run_ucspi(name: &str, text: &[u8]) -> ! {
    let dir = std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(Path::to_path_buf))
        .unwrap_or_default();
    run_installed(name, installed(text, b"UCSPI", dir.as_os_str().as_bytes()))
}

fn run_installed(name: &str, text: Vec<u8>) -> ! {
    let mut args = std::env::args_os();
    let arg0 = args.next().unwrap_or_else(|| name.into());
    let e = std::process::Command::new("/bin/sh")
        .arg("-c")
        .arg(OsString::from_vec(text))
        .arg(script_name(arg0))
        .args(args)
        .exec();
    eprintln!("{name}: fatal: unable to run /bin/sh: {e}");
    std::process::exit(111);
}
