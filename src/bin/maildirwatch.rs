//! maildirwatch — look for new mail in a Maildir.
//!
//! # Invocation
//! `maildirwatch`, with `MAILDIR`. Every 30 seconds: cleans tmp/, clears
//! the screen (`ESC [;H ESC [;J`) and shows each message of new/, oldest
//! first: `FROM <Return-Path> TO <Delivered-To>`, the From field in bold,
//! then up to 158 bytes of Subject and body text; unprintable bytes
//! become `?` in the addresses and `/` elsewhere. Runs until killed.
//!
//! # Security
//! Run by the mailbox owner; reads only.
//!
//! # Exit codes
//! 111 with `maildirwatch: fatal: ...` (MAILDIR not set, unable to chdir,
//! unable to scan, trouble reading new message).

use std::fs::File;
use std::io::{self, BufReader, Write};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use qmail::errstr::io_text;
use qmail::inject::header::Field;
use qmail::local::headerbody::{headerbody, printable, skipname, Parts};
use qmail::maildir::scan;

const FATAL: &str = "maildirwatch: fatal: ";

fn die(msg: &str) -> ! {
    let _ = writeln!(io::stderr(), "{FATAL}{msg}");
    std::process::exit(111)
}

struct Summary {
    sender: Vec<u8>,
    recipient: Vec<u8>,
    from: Vec<u8>,
    text: Vec<u8>,
}

impl Summary {
    fn add(&mut self, s: &[u8]) {
        self.text.extend_from_slice(s);
        self.text.truncate(158);
    }
}

impl Parts for Summary {
    fn field(&mut self, h: &[u8]) {
        let i = skipname(h);
        let value = || h[i..h.len() - 1].to_vec();
        match Field::known(h) {
            Some(Field::Subject) => self.add(&h[i..]),
            Some(Field::DeliveredTo) if i < h.len() => self.recipient = value(),
            Some(Field::ReturnPath) if i < h.len() => self.sender = value(),
            Some(Field::From) => self.from = h[..h.len() - 1].to_vec(),
            _ => {}
        }
    }
    fn done(&mut self) {}
    fn body(&mut self, line: &[u8]) {
        self.add(line);
    }
}

fn main() {
    let Some(maildir) = std::env::var_os("MAILDIR") else {
        die("MAILDIR not set")
    };
    if let Err(e) = std::env::set_current_dir(&maildir) {
        die(&format!(
            "unable to chdir to {}: {}",
            maildir.to_string_lossy(),
            io_text(&e)
        ));
    }
    let mut out = io::stdout().lock();
    loop {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        scan::clean(now);
        let found = match scan::scan(now, false) {
            Ok(f) => f,
            Err(e) => die(&format!("{}{}", e.text, io_text(&e.error))),
        };
        let _ = out.write_all(b"\x1b[;H\x1b[;J");
        let _ = out.flush();
        for f in found {
            let Ok(file) = File::open(&f.path) else {
                continue;
            };
            let mut s = Summary {
                sender: b"?".to_vec(),
                recipient: b"?".to_vec(),
                from: Vec::new(),
                text: Vec::new(),
            };
            if headerbody(&mut BufReader::new(file), &mut s).is_err() {
                die("trouble reading new message");
            }
            printable(&mut s.from, b'/');
            printable(&mut s.sender, b'?');
            printable(&mut s.recipient, b'?');
            printable(&mut s.text, b'/');
            let mut screen = b"FROM ".to_vec();
            screen.extend_from_slice(&s.sender);
            screen.extend_from_slice(b" TO <");
            screen.extend_from_slice(&s.recipient);
            screen.extend_from_slice(b">\n");
            if !s.from.is_empty() {
                screen.extend_from_slice(b"\x1b[1m");
                screen.extend_from_slice(&s.from);
                screen.extend_from_slice(b"\x1b[0m\n");
            }
            screen.extend_from_slice(&s.text);
            screen.extend_from_slice(b"\n\n");
            let _ = out.write_all(&screen);
        }
        let _ = out.flush();
        std::thread::sleep(Duration::from_secs(30));
    }
}
