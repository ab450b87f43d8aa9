//! qmail-inject — preprocess and send a mail message.
//!
//! # Invocation
//! `qmail-inject [ -nNaAhH ] [ -fsender ] [ recip ... ]`: reads a message
//! on stdin, completes and rewrites its header, and queues it through
//! `$QMAILQUEUE` or `bin/qmail-queue` (`shared/spec/qmail/inject.md` §1).
//! `-n` prints the message (after `Return-Path: <SENDER>`) instead.
//!
//! # Environment
//! `QMAILUSER`/`MAILUSER`/`USER`/`LOGNAME`, `QMAILHOST`/`MAILHOST`,
//! `QMAILNAME`/`MAILNAME`/`NAME`, `QMAILSUSER`, `QMAILSHOST`,
//! `QMAILINJECT` (flags c s f i r m), `QMAILMFTFILE`,
//! `QMAILDEFAULTDOMAIN`, `QMAILDEFAULTHOST`, `QMAILPLUSDOMAIN`,
//! `QMAILIDHOST`, `QMAILQUEUE`; `QMAILRS_ROOT` (install root).
//!
//! # Uid and security
//! Runs as the invoking user, no privileges.
//!
//! # Control files
//! `me`, `defaultdomain`, `defaulthost`, `plusdomain`, `idhost`.
//!
//! # Exit codes
//! 0 queued (or printed); 100 bad usage, unparseable header or address,
//! permanent queue error; 111 temporary error. Messages go to stderr as
//! `qmail-inject: fatal: ...`.
//!
//! # See also
//! sendmail, qmail-queue, qmail-header(5).

use std::ffi::OsString;
use std::io::{self, BufReader, Write};
use std::os::unix::ffi::OsStringExt;

use qmail::control::Control;
use qmail::inject::getopt::{getopt, Opt};
use qmail::inject::{copy_body, Config, InjectError, Session, Settings, Strategy};
use qmail::queue::client::Injection;

fn fatal(msg: &[u8], code: i32) -> ! {
    let mut e = io::stderr().lock();
    let _ = e.write_all(b"qmail-inject: fatal: ");
    let _ = e.write_all(msg);
    let _ = e.flush();
    std::process::exit(code)
}

fn fail(e: InjectError) -> ! {
    fatal(&e.message(), e.exit_code())
}

fn env(name: &str) -> Option<Vec<u8>> {
    std::env::var_os(name).map(OsString::into_vec)
}

/// Message bytes into the queue pipe.
struct Queue<'a>(&'a mut Injection);

impl Write for Queue<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.put(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn main() {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let pid = std::process::id();
    let mut settings = Settings::from_env(&env);

    // QMAILMFTFILE is relative to the caller's directory.
    if let Some(path) = env("QMAILMFTFILE") {
        match std::fs::read(OsString::from_vec(path)) {
            Ok(b) => settings.mft = Some(qmail::control::list_lines(&b)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => fail(InjectError::Read(e)),
        }
    }

    let home = qmail::root::qmail_home();
    if std::env::set_current_dir(&home).is_err() {
        fatal(b"internal bug\n", 111);
    }
    let control = Control::at("control").unwrap_or_else(|e| fail(InjectError::Read(e)));
    let config = Config::load(&control, &env).unwrap_or_else(|e| fail(e));

    let args: Vec<Vec<u8>> = std::env::args_os()
        .skip(1)
        .map(OsString::into_vec)
        .collect();
    let (opts, rest) = getopt("qmail-inject", b"aAhHnNf:", &args);
    let mut session = Session::new(&config, &settings, now, pid);
    let mut strategy = Strategy::Default;
    for o in opts {
        match o {
            Opt::Flag(b'a', _) => strategy = Strategy::Args,
            Opt::Flag(b'A', _) => strategy = Strategy::Default,
            Opt::Flag(b'h', _) => strategy = Strategy::Header,
            Opt::Flag(b'H', _) => strategy = Strategy::ArgsAndHeader,
            Opt::Flag(b'n', _) => session.print = true,
            Opt::Flag(b'N', _) => session.print = false,
            Opt::Flag(b'f', Some(s)) => session.set_sender(&s).unwrap_or_else(|e| fail(e)),
            Opt::Flag(..) => std::process::exit(100),
            Opt::Error(text) => {
                eprintln!("{text}");
                std::process::exit(100);
            }
        }
    }
    session
        .set_recipients(strategy, &rest)
        .unwrap_or_else(|e| fail(e));

    let mut input = BufReader::with_capacity(65536, io::stdin().lock());
    let header = session.header(&mut input).unwrap_or_else(|e| fail(e));

    if session.print {
        let mut out = io::BufWriter::new(io::stdout().lock());
        let ok = out.write_all(&header).is_ok()
            && copy_body(&mut input, &mut out).is_ok()
            && out.flush().is_ok();
        std::process::exit(if ok { 0 } else { 111 });
    }

    let mut qq = Injection::open().unwrap_or_else(|_| fatal(b"unable to run qmail-queue\n", 111));
    qq.put(&header);
    if let Err(e) = copy_body(&mut input, &mut Queue(&mut qq)) {
        qq.fail();
        let _ = qq.close(&session.envelope());
        fail(InjectError::Read(e));
    }
    match qq.close(&session.envelope()) {
        Ok(()) => std::process::exit(0),
        Err(q) => fatal(
            format!("{}\n", q.text).as_bytes(),
            if q.permanent { 100 } else { 111 },
        ),
    }
}
