//! Bounces (`shared/spec/qmail/send.md` §7): the per-recipient block
//! appended to `bounce/ID`, and the text of the bounce message.

use crate::quote::{quote, quote2};

/// One `bounce/ID` block for a permanently failed recipient.
pub fn block(recipient: &[u8], report: &[u8]) -> Vec<u8> {
    let mut v = b"<".to_vec();
    v.extend(recipient.iter().map(|&b| if b == b'\n' { b'_' } else { b }));
    v.extend_from_slice(b">:\n");
    v.extend_from_slice(report);
    if !report.is_empty() && report.last() != Some(&b'\n') {
        v.push(b'\n');
    }
    if v.len() >= 2 {
        for pos in (1..v.len() - 1).rev() {
            if v[pos] == b'\n' && v[pos - 1] == b'\n' {
                v[pos] = b'/';
            }
        }
    }
    v.push(b'\n');
    v
}

/// `date822fmt`: `D Mon YYYY HH:MM:SS -0000` LF (UTC, day unpadded).
pub fn date822(unix: u64) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let (y, m, d) = crate::mbox::civil((unix / 86400) as i64);
    let s = unix % 86400;
    format!(
        "{d} {} {y} {:02}:{:02}:{:02} -0000\n",
        MONTHS[(m - 1) as usize],
        s / 3600,
        s / 60 % 60,
        s % 60
    )
}

/// Who a bounce goes to and from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// The original sender was `#@[]`: discard.
    Triple,
    /// Envelope `<>` to the sender.
    Single { to: Vec<u8> },
    /// Envelope `#@[]` to doublebounceto@doublebouncehost.
    Double { to: Vec<u8> },
}

/// Classify a bounce by the message's stored sender.
pub fn kind(sender: &[u8], doublebounce_to: &[u8]) -> Kind {
    let s = sender.strip_suffix(b"-@[]").unwrap_or(sender);
    if s == b"#@[]" {
        Kind::Triple
    } else if s.is_empty() {
        Kind::Double {
            to: doublebounce_to.to_vec(),
        }
    } else {
        Kind::Single { to: s.to_vec() }
    }
}

/// Everything before the bounce/ID contents.
pub fn head(now: u64, bouncefrom: &[u8], bouncehost: &[u8], to: &[u8], double: bool) -> Vec<u8> {
    let mut v = b"Date: ".to_vec();
    v.extend_from_slice(date822(now).as_bytes());
    v.extend_from_slice(b"From: ");
    v.extend_from_slice(&quote(bouncefrom));
    v.push(b'@');
    v.extend_from_slice(bouncehost);
    v.extend_from_slice(b"\nTo: ");
    v.extend_from_slice(&quote2(to));
    v.extend_from_slice(b"\nSubject: failure notice\n\nHi. This is the qmail-send program at ");
    v.extend_from_slice(bouncehost);
    v.extend_from_slice(if double {
        &b".\nI tried to deliver a bounce message to this address, but the bounce bounced!\n\n"[..]
    } else {
        &b".\nI'm afraid I wasn't able to deliver your message to the following addresses.\nThis is a permanent error; I've given up. Sorry it didn't work out.\n\n"[..]
    });
    v
}

/// Between the bounce/ID contents and the original message.
pub fn middle(sender: &[u8], double: bool) -> Vec<u8> {
    let mut v = if double {
        b"--- Below this line is the original bounce.\n\n".to_vec()
    } else {
        b"--- Below this line is a copy of the message.\n\n".to_vec()
    };
    v.extend_from_slice(b"Return-Path: <");
    v.extend_from_slice(&quote2(sender));
    v.extend_from_slice(b">\n");
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks() {
        assert_eq!(
            block(
                b"nosuchuser@oracle.example",
                b"Sorry, no mailbox here by that name. (#5.1.1)\n"
            ),
            b"<nosuchuser@oracle.example>:\nSorry, no mailbox here by that name. (#5.1.1)\n\n"
        );
        assert_eq!(block(b"a@b", b"x\n\ny"), b"<a@b>:\nx\n/y\n\n");
        assert_eq!(block(b"a\n@b", b""), b"<a_@b>:\n\n");
    }

    #[test]
    fn recorded_bounce_text() {
        let mut m = head(
            1_795_605_989,
            b"MAILER-DAEMON",
            b"oracle.example",
            b"testuser@example.org",
            false,
        );
        m.extend_from_slice(&block(
            b"nosuchuser@oracle.example",
            b"Sorry, no mailbox here by that name. (#5.1.1)\n",
        ));
        m.extend_from_slice(&middle(b"testuser@example.org", false));
        let rec = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/testdata/send/maildir-bounce-message.eml"
        ))
        .unwrap();
        // The recording: Return-Path, Delivered-To, Received, then our text.
        let body = rec.splitn(4, '\n').nth(3).unwrap();
        let ours = String::from_utf8(m).unwrap();
        let date_masked = |s: &str| {
            s.lines()
                .filter(|l| !l.starts_with("Date: "))
                .collect::<Vec<_>>()
                .join("\n")
        };
        assert!(date_masked(body).starts_with(&date_masked(&ours)), "{ours}");
        assert_eq!(date822(1_795_605_989), "25 Nov 2026 11:26:29 -0000\n");
    }

    #[test]
    fn kinds() {
        assert_eq!(kind(b"#@[]", b"pm@x"), Kind::Triple);
        assert_eq!(
            kind(b"", b"pm@x"),
            Kind::Double {
                to: b"pm@x".to_vec()
            }
        );
        assert_eq!(
            kind(b"l-@x-@[]", b"pm@x"),
            Kind::Single {
                to: b"l-@x".to_vec()
            }
        );
    }
}
