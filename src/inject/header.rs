//! Header field names as qmail's `hfield` knows them, and the line
//! reader of `headerbody` (`shared/spec/qmail/inject.md` §1.4, §1.5).
//!
//! ```text
//! field-name = 1*( %d33-126 ) *( SP / HT ) ":"   ; hfield_valid
//! ```
//! Known names match case-insensitively for letters, `-` exactly, and may
//! be followed by spaces or tabs before the colon.

use std::io::{self, BufRead};

/// The fields qmail-inject knows (`hfield.c` order).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Sender,
    From,
    ReplyTo,
    To,
    Cc,
    Bcc,
    Date,
    MessageId,
    Subject,
    ResentSender,
    ResentFrom,
    ResentReplyTo,
    ResentTo,
    ResentCc,
    ResentBcc,
    ResentDate,
    ResentMessageId,
    ReturnReceiptTo,
    ErrorsTo,
    ApparentlyTo,
    Received,
    ReturnPath,
    DeliveredTo,
    ContentLength,
    ContentType,
    ContentTransferEncoding,
    NoticeRequestedUponDeliveryTo,
    MailFollowupTo,
}

const NAMES: &[(&str, Field)] = &[
    ("sender", Field::Sender),
    ("from", Field::From),
    ("reply-to", Field::ReplyTo),
    ("to", Field::To),
    ("cc", Field::Cc),
    ("bcc", Field::Bcc),
    ("date", Field::Date),
    ("message-id", Field::MessageId),
    ("subject", Field::Subject),
    ("resent-sender", Field::ResentSender),
    ("resent-from", Field::ResentFrom),
    ("resent-reply-to", Field::ResentReplyTo),
    ("resent-to", Field::ResentTo),
    ("resent-cc", Field::ResentCc),
    ("resent-bcc", Field::ResentBcc),
    ("resent-date", Field::ResentDate),
    ("resent-message-id", Field::ResentMessageId),
    ("return-receipt-to", Field::ReturnReceiptTo),
    ("errors-to", Field::ErrorsTo),
    ("apparently-to", Field::ApparentlyTo),
    ("received", Field::Received),
    ("return-path", Field::ReturnPath),
    ("delivered-to", Field::DeliveredTo),
    ("content-length", Field::ContentLength),
    ("content-type", Field::ContentType),
    ("content-transfer-encoding", Field::ContentTransferEncoding),
    (
        "notice-requested-upon-delivery-to",
        Field::NoticeRequestedUponDeliveryTo,
    ),
    ("mail-followup-to", Field::MailFollowupTo),
];

/// `hmatch`: `name` then optional spaces/tabs then `:`.
fn hmatch(s: &[u8], name: &str) -> bool {
    let n = name.as_bytes();
    if s.len() < n.len() {
        return false;
    }
    for (&c, &t) in s.iter().zip(n) {
        if c != t && (t == b'-' || t.wrapping_sub(32) != c) {
            return false;
        }
    }
    for &c in &s[n.len()..] {
        match c {
            b':' => return true,
            b' ' | b'\t' => {}
            _ => return false,
        }
    }
    false
}

impl Field {
    /// `hfield_known`.
    pub fn known(h: &[u8]) -> Option<Field> {
        NAMES.iter().find(|(n, _)| hmatch(h, n)).map(|&(_, f)| f)
    }

    /// Fields whose addresses qmail-inject parses and rewrites.
    pub fn is_address(self) -> bool {
        use Field::*;
        matches!(
            self,
            To | Cc
                | Bcc
                | ApparentlyTo
                | ResentTo
                | ResentCc
                | ResentBcc
                | ReturnPath
                | Sender
                | From
                | ReplyTo
                | ReturnReceiptTo
                | ErrorsTo
                | ResentSender
                | ResentFrom
                | ResentReplyTo
        )
    }
}

/// `hfield_valid`: a name of bytes 33..=126, optional blanks, a colon.
pub fn valid(s: &[u8]) -> bool {
    let Some(colon) = s.iter().position(|&b| b == b':') else {
        return false;
    };
    let name = &s[..colon];
    let end = name
        .iter()
        .rposition(|&b| b != b' ' && b != b'\t')
        .map_or(0, |i| i + 1);
    end > 0 && name[..end].iter().all(|&b| b > 32 && b < 127)
}

/// `getsa`: LF-terminated lines; a final unterminated line gets an LF.
pub struct Lines<'a> {
    input: &'a mut dyn BufRead,
    done: bool,
}

impl<'a> Lines<'a> {
    pub fn new(input: &'a mut dyn BufRead) -> Self {
        Lines { input, done: false }
    }

    /// The next line, with its LF; `None` at the end.
    pub fn next_line(&mut self) -> io::Result<Option<Vec<u8>>> {
        if self.done {
            return Ok(None);
        }
        let mut line = Vec::new();
        self.input.read_until(b'\n', &mut line)?;
        if line.last() == Some(&b'\n') {
            return Ok(Some(line));
        }
        self.done = true;
        if line.is_empty() {
            return Ok(None);
        }
        line.push(b'\n');
        Ok(Some(line))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(Field::known(b"TO: x\n"), Some(Field::To));
        assert_eq!(Field::known(b"To \t: x\n"), Some(Field::To));
        assert_eq!(Field::known(b"Reply-To: x\n"), Some(Field::ReplyTo));
        assert_eq!(Field::known(b"Reply_To: x\n"), None);
        assert_eq!(Field::known(b"Toa: x\n"), None);
        assert!(valid(b"X-Foo : bar\n"));
        assert!(!valid(b" X: bar\n"));
        assert!(!valid(b": bar\n"));
        assert!(!valid(b"no colon\n"));
        assert!(!valid(b"a b: c\n"));
    }
}
