//! mailsubj — send a message with a subject line.
//!
//! # Invocation
//! `mailsubj subject recip ...`: feeds `Subject: SUBJECT`, `To: RECIP ...`
//! (the recipients separated by spaces), an empty line, then stdin, into
//! `/var/qmail/bin/qmail-inject`, which takes the recipients from the
//! header (`shared/spec/qmail/inject.md` §3; the original is a shell
//! script).
//!
//! # Uid and security
//! Runs as the invoking user.
//!
//! # Exit codes
//! qmail-inject's; 100 `mailsubj: usage: mailsubj subject recip ...`
//! without a subject (the script fails in `shift`); 111 if qmail-inject
//! cannot be started.
//!
//! # See also
//! qmail-inject.

use std::io::{self, Write};
use std::os::unix::ffi::OsStrExt;
use std::process::{Command, Stdio};

fn main() {
    let args: Vec<_> = std::env::args_os().skip(1).collect();
    let Some(subject) = args.first() else {
        eprintln!("mailsubj: usage: mailsubj subject recip ...");
        std::process::exit(100);
    };
    let mut head = b"Subject: ".to_vec();
    head.extend_from_slice(subject.as_bytes());
    head.extend_from_slice(b"\nTo:");
    for r in &args[1..] {
        head.push(b' ');
        head.extend_from_slice(r.as_bytes());
    }
    head.extend_from_slice(b"\n\n");
    let mut child = match Command::new(qmail::root::qmail_home().join("bin/qmail-inject"))
        .stdin(Stdio::piped())
        .spawn()
    {
        Ok(c) => c,
        Err(e) => {
            eprintln!("mailsubj: fatal: unable to run qmail-inject: {e}");
            std::process::exit(111);
        }
    };
    if let Some(pipe) = child.stdin.take() {
        let mut pipe = io::BufWriter::new(pipe);
        let _ = pipe
            .write_all(&head)
            .and_then(|()| io::copy(&mut io::stdin().lock(), &mut pipe).map(drop))
            .and_then(|()| pipe.flush());
    }
    match child.wait() {
        Ok(s) => std::process::exit(s.code().unwrap_or(111)),
        Err(_) => std::process::exit(111),
    }
}
