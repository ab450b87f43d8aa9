//! mbox ("From_" mailbox) writing as qmail-local's `mailfile` and
//! maildir2mbox do it (`shared/spec/qmail/local.md` §2.6).
//!
//! ```text
//! entry  = ufline rpline dtline *( [">"] line ) [LF] LF
//! ufline = "From " sender-or-MAILER-DAEMON SP myctime LF
//! ```
//! A message line gets one more `>` when it matches `>*From `
//! (qmail's `gfrom`). An unterminated last line gets an LF, then one blank
//! separator line follows.

use std::io::{self, BufRead, Write};

/// `gfrom`: does this line need a `>` in an mbox?
pub fn needs_quote(line: &[u8]) -> bool {
    let rest = &line[line.iter().take_while(|&&b| b == b'>').count()..];
    rest.starts_with(b"From ")
}

/// The From_ line for an envelope sender (space, tab, LF → `-`; empty →
/// `MAILER-DAEMON`), with `date` from [`myctime`].
pub fn from_line(sender: &[u8], date: &str) -> Vec<u8> {
    let mut out = b"From ".to_vec();
    if sender.is_empty() {
        out.extend_from_slice(b"MAILER-DAEMON");
    } else {
        out.extend(sender.iter().map(|&b| match b {
            b' ' | b'\t' | b'\n' => b'-',
            b => b,
        }));
    }
    out.push(b' ');
    out.extend_from_slice(date.as_bytes());
    out
}

/// qmail's `myctime`: `Www Mmm DD HH:MM:SS YYYY` LF in UTC, day zero-padded.
pub fn myctime(unix: u64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let days = unix / 86400;
    let secs = unix % 86400;
    let (y, m, d) = civil(days as i64);
    format!(
        "{} {} {:02} {:02}:{:02}:{:02} {}\n",
        DAYS[(days % 7) as usize],
        MONTHS[(m - 1) as usize],
        d,
        secs / 3600,
        secs / 60 % 60,
        secs % 60,
        y
    )
}

/// Days since 1970-01-01 → (year, month 1..12, day 1..31).
pub fn civil(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// Why copying a message into an mbox stopped.
#[derive(Debug)]
pub enum CopyError {
    Read(io::Error),
    Write(io::Error),
}

/// Write `head` (the From_/Return-Path/Delivered-To lines) and the
/// message in mbox form, with the final blank line.
pub fn write_entry(
    head: &[u8],
    msg: &mut dyn BufRead,
    out: &mut dyn Write,
) -> Result<(), CopyError> {
    out.write_all(head).map_err(CopyError::Write)?;
    let mut line = Vec::new();
    loop {
        line.clear();
        msg.read_until(b'\n', &mut line).map_err(CopyError::Read)?;
        if line.is_empty() {
            break;
        }
        if needs_quote(&line) {
            out.write_all(b">").map_err(CopyError::Write)?;
        }
        out.write_all(&line).map_err(CopyError::Write)?;
        if line.last() != Some(&b'\n') {
            out.write_all(b"\n").map_err(CopyError::Write)?;
            break;
        }
    }
    out.write_all(b"\n").map_err(CopyError::Write)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting() {
        assert!(needs_quote(b"From x"));
        assert!(needs_quote(b">>From x"));
        assert!(!needs_quote(b" From x"));
        assert!(!needs_quote(b"From"));
    }

    #[test]
    fn dates() {
        assert_eq!(myctime(0), "Thu Jan 01 00:00:00 1970\n");
        assert_eq!(myctime(820_631_134), "Wed Jan 03 01:05:34 1996\n");
        assert_eq!(civil(20_000), (2024, 10, 4));
    }

    #[test]
    fn entry() {
        let mut out = Vec::new();
        let mut msg: &[u8] = b"Subject: x\n\nFrom me\n>From you\nend";
        write_entry(b"H\n", &mut msg, &mut out).unwrap();
        assert_eq!(out, b"H\nSubject: x\n\n>From me\n>>From you\nend\n\n");
        assert_eq!(from_line(b"a b@c", "D\n"), b"From a-b@c D\n");
        assert_eq!(from_line(b"", "D\n"), b"From MAILER-DAEMON D\n");
    }
}
