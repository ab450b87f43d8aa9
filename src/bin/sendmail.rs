//! sendmail — the sendmail interface, over qmail-inject.
//!
//! # Invocation
//! `sendmail [ -t ] [ -fsender ] [ -Fname ] [ -bp ] [ -bs ] [ arg ... ]`
//! (`shared/spec/qmail/inject.md` §2). Runs
//! `bin/qmail-inject (-H|-a) [-f sender] -- args...` in /var/qmail.
//! `-t` takes recipients from the header too (`-H`); `-f` also sets
//! `QMAILUSER`/`QMAILHOST` after unsetting `QMAILNAME`, `MAILNAME`,
//! `NAME`, `QMAILHOST`, `MAILHOST`; `-F` sets `MAILNAME`. `-bp` (or the
//! name `mailq`) runs `bin/qmail-qread`; `-bs` runs `bin/qmail-smtpd` on
//! stdin/stdout, with a local-client environment unless `PROTO` is set.
//! Ignored: `-B x -p x -v -i -x -m -e x -o x -bm`, `-E…`, `-J…`.
//! Named `newaliases`, it refuses.
//!
//! # Uid and security
//! Runs as the invoking user.
//!
//! # Exit codes
//! Those of the program it runs; 100 on usage errors or as newaliases;
//! 111 when it cannot enter /var/qmail or run the program.
//!
//! # See also
//! qmail-inject, qmail-qread, qmail-smtpd.

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;
use std::os::unix::process::CommandExt;
use std::process::Command;

use qmail::inject::getopt::{getopt_skipping, Opt};

const USAGE: &str =
    "sendmail: usage: sendmail [ -t ] [ -fsender ] [ -Fname ] [ -bp ] [ -bs ] [ arg ... ]";

fn die(msg: &str, code: i32) -> ! {
    eprintln!("{msg}");
    std::process::exit(code)
}

fn run(mut cmd: Command, name: &str) -> ! {
    let _ = cmd.exec();
    die(&format!("sendmail: fatal: unable to run {name}"), 111)
}

fn mailq() -> ! {
    run(Command::new("bin/qmail-qread"), "qmail-qread")
}

fn smtpd() -> ! {
    let mut cmd = Command::new("bin/qmail-smtpd");
    if std::env::var_os("PROTO").is_none() {
        cmd.env("RELAYCLIENT", "")
            .env("DATABYTES", "0")
            .env("PROTO", "TCP")
            .env("TCPLOCALIP", "127.0.0.1")
            .env("TCPLOCALHOST", "localhost")
            .env("TCPREMOTEIP", "127.0.0.1")
            .env("TCPREMOTEHOST", "localhost")
            .env("TCPREMOTEINFO", "sendmail-bs");
    }
    run(cmd, "qmail-smtpd")
}

fn main() {
    let argv0 = std::env::args_os().next().unwrap_or_default();
    let prog = std::path::Path::new(&argv0)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    if std::env::set_current_dir(qmail::root::qmail_home()).is_err() {
        die(
            "sendmail: fatal: unable to switch to qmail home directory",
            111,
        );
    }
    let args: Vec<Vec<u8>> = std::env::args_os()
        .skip(1)
        .map(OsString::into_vec)
        .collect();
    let (opts, rest) = getopt_skipping(&prog, b"vimte:f:p:o:B:F:EJxb:", b"EJ", &args);
    let mut header = false;
    let mut sender: Option<Vec<u8>> = None;
    let mut mailname: Option<Vec<u8>> = None;
    for o in opts {
        match o {
            Opt::Flag(b't', _) => header = true,
            Opt::Flag(b'f', a) => sender = a,
            Opt::Flag(b'F', a) => mailname = a,
            Opt::Flag(b'b', a) => match a.as_deref().and_then(|a| a.first()) {
                Some(b'm') => {}
                Some(b'p') => mailq(),
                Some(b's') => smtpd(),
                _ => die(USAGE, 100),
            },
            Opt::Flag(b'B' | b'p' | b'v' | b'i' | b'x' | b'm' | b'e' | b'o' | b'E' | b'J', _) => {}
            Opt::Flag(..) => die(USAGE, 100),
            Opt::Error(text) => {
                eprintln!("{text}");
                die(USAGE, 100);
            }
        }
    }
    if prog == "mailq" {
        mailq();
    }
    if prog == "newaliases" {
        die(
            "sendmail: fatal: please use fastforward/newaliases instead",
            100,
        );
    }

    let mut cmd = Command::new("bin/qmail-inject");
    cmd.arg(if header { "-H" } else { "-a" });
    if let Some(n) = mailname {
        cmd.env("MAILNAME", OsString::from_vec(n));
    }
    if let Some(s) = sender {
        cmd.arg("-f").arg(OsString::from_vec(s.clone()));
        for v in ["QMAILNAME", "MAILNAME", "NAME", "QMAILHOST", "MAILHOST"] {
            cmd.env_remove(v);
        }
        match s.iter().rposition(|&b| b == b'@') {
            None => {
                cmd.env("QMAILUSER", OsString::from_vec(s));
            }
            Some(at) => {
                cmd.env("QMAILHOST", OsString::from_vec(s[at + 1..].to_vec()));
                cmd.env("QMAILUSER", OsString::from_vec(s[..at].to_vec()));
            }
        }
    }
    cmd.arg("--");
    cmd.args(rest.into_iter().map(OsString::from_vec));
    run(cmd, "qmail-inject")
}
