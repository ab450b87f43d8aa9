//! qbiff — announce new mail the moment it arrives.
//!
//! # Invocation
//! In a `.qmail` file: `|qbiff`. Uses `USER`, `SENDER` and `LOCAL` from
//! qmail-local. For each login of `USER` in utmp (`/var/run/utmp`,
//! USER_PROCESS records) whose tty under `/dev` is owned by the current
//! uid and has the owner-execute bit (`biff y`), writes
//! CR LF BEL `*** TO <LOCAL> FROM <SENDER>` CR LF, then up to 78 bytes of
//! four spaces + Subject + body text, CR LF. Unprintable bytes become `_`
//! in the first line and `/` in the second. tty names starting with `/`
//! or holding a `.` are skipped. Under `QMAILRS_ROOT` (not set-uid) utmp
//! and `/dev` are looked up inside that root, for tests.
//!
//! # Security
//! Runs as the mailbox owner; writes only to ttys that user owns.
//!
//! # Exit codes
//! Always 0.

use std::fs::OpenOptions;
use std::io::{self, BufReader, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};

use qmail::inject::header::Field;
use qmail::local::headerbody::{headerbody, printable, skipname, Parts};

/// glibc's `struct utmp` on Linux: 384 bytes; ut_type at 0, ut_line[32]
/// at 8, ut_user[32] at 44.
const UTMP_SIZE: usize = 384;
const USER_PROCESS: i16 = 7;

struct Text(Vec<u8>);

impl Text {
    fn add(&mut self, s: &[u8]) {
        self.0.extend_from_slice(s);
        self.0.truncate(78);
    }
}

impl Parts for Text {
    fn field(&mut self, h: &[u8]) {
        if Field::known(h) == Some(Field::Subject) {
            self.add(&h[skipname(h)..]);
        }
    }
    fn done(&mut self) {}
    fn body(&mut self, line: &[u8]) {
        self.add(line);
    }
}

fn cstr(b: &[u8]) -> &[u8] {
    &b[..b.iter().position(|&c| c == 0).unwrap_or(b.len())]
}

fn main() {
    let dev = qmail::root::rooted("/dev");
    if std::env::set_current_dir(&dev).is_err() {
        return;
    }
    let env = |n: &str| std::env::var_os(n).map(|v| v.as_bytes().to_vec());
    let (Some(user), Some(sender), Some(local)) = (env("USER"), env("SENDER"), env("LOCAL")) else {
        return;
    };
    if user.len() > 32 {
        return;
    }
    let mut tofrom = [&b"*** TO <"[..], &local, b"> FROM <", &sender, b">"].concat();
    printable(&mut tofrom, b'_');
    let mut text = Text(b"    ".to_vec());
    if headerbody(&mut BufReader::new(io::stdin()), &mut text).is_err() {
        return;
    }
    printable(&mut text.0, b'/');
    let woof = [&b"\r\n\x07"[..], &tofrom, b"\r\n", &text.0, b"\r\n"].concat();

    let Ok(utmp) = std::fs::read(qmail::root::rooted("/var/run/utmp")) else {
        return;
    };
    let me = nix::unistd::getuid().as_raw();
    for rec in utmp.chunks_exact(UTMP_SIZE) {
        let ut_type = i16::from_ne_bytes([rec[0], rec[1]]);
        if ut_type != USER_PROCESS || cstr(&rec[44..76]) != user.as_slice() {
            continue;
        }
        let line = cstr(&rec[8..40]);
        if line.is_empty() || line[0] == b'/' || line.contains(&b'.') {
            continue;
        }
        let Ok(mut tty) = OpenOptions::new()
            .append(true)
            .create(true)
            .mode(0o600)
            .custom_flags(libc::O_NONBLOCK)
            .open(std::ffi::OsStr::from_bytes(line))
        else {
            continue;
        };
        let Ok(m) = tty.metadata() else { continue };
        if m.mode() & 0o100 == 0 || m.uid() != me {
            continue;
        }
        let _ = tty.write_all(&woof);
    }
}
