//! The queue's record files (`shared/spec/qmail/queue.md` §4.3, §5):
//! `todo/ID` and `intd/ID`, `info/S/ID`, `local/S/ID` and `remote/S/ID`.
//! Pure codecs: no file system here.
//!
//! ```text
//! record    = type *( any byte but NUL ) NUL
//! todo      = "u" uid NUL "p" pid NUL "F" sender NUL *( "T" recipient NUL )
//! info      = "F" sender NUL
//! channel   = *( ( "T" / "D" ) recipient NUL )
//! ```

use crate::envelope::Envelope;

/// Why record bytes were refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordError {
    /// The last record has no closing NUL.
    Unterminated(usize),
    /// A record of a type this file does not hold, at this offset.
    UnknownType(u8, usize),
    /// A required record is missing.
    Missing(&'static str),
}

impl std::fmt::Display for RecordError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RecordError::Unterminated(at) => write!(f, "record at byte {at} has no NUL"),
            RecordError::UnknownType(t, at) => {
                write!(f, "unknown record type {:?} at byte {at}", *t as char)
            }
            RecordError::Missing(what) => write!(f, "missing {what} record"),
        }
    }
}

impl std::error::Error for RecordError {}

/// One record: its type byte, its data and its offset in the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Record<'a> {
    pub kind: u8,
    pub data: &'a [u8],
    pub offset: usize,
}

/// `*record`: split bytes into NUL-terminated records.
pub fn records(bytes: &[u8]) -> Result<Vec<Record<'_>>, RecordError> {
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < bytes.len() {
        let rest = &bytes[pos..];
        let n = rest
            .iter()
            .position(|&b| b == 0)
            .ok_or(RecordError::Unterminated(pos))?;
        if n == 0 {
            // An empty record: a NUL where a type byte should be.
            return Err(RecordError::UnknownType(0, pos));
        }
        out.push(Record {
            kind: rest[0],
            data: &rest[1..n],
            offset: pos,
        });
        pos += n + 1;
    }
    Ok(out)
}

/// A `todo/ID` (or `intd/ID`) file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Todo {
    /// The injector's real uid (`u`), as decimal text.
    pub uid: Option<Vec<u8>>,
    /// qmail-queue's pid (`p`), as decimal text.
    pub pid: Option<Vec<u8>>,
    pub envelope: Envelope,
}

impl Todo {
    /// A todo file for `uid`, `pid` and `envelope`.
    pub fn new(uid: u32, pid: u32, envelope: Envelope) -> Self {
        Todo {
            uid: Some(uid.to_string().into_bytes()),
            pid: Some(pid.to_string().into_bytes()),
            envelope,
        }
    }

    /// `todo`: records in any order; `F` required; others refused.
    pub fn parse(bytes: &[u8]) -> Result<Self, RecordError> {
        let mut uid = None;
        let mut pid = None;
        let mut sender = None;
        let mut recipients = Vec::new();
        for r in records(bytes)? {
            match r.kind {
                b'u' => uid = Some(r.data.to_vec()),
                b'p' => pid = Some(r.data.to_vec()),
                b'F' => sender = Some(r.data.to_vec()),
                b'T' => recipients.push(r.data.to_vec()),
                k => return Err(RecordError::UnknownType(k, r.offset)),
            }
        }
        Ok(Todo {
            uid,
            pid,
            envelope: Envelope {
                sender: sender.ok_or(RecordError::Missing("F"))?,
                recipients,
            },
        })
    }

    /// Encode in qmail-queue's order: `u`, `p`, `F`, `T`…
    pub fn write(&self, out: &mut Vec<u8>) -> Result<(), crate::envelope::EnvelopeError> {
        for (t, v) in [(b'u', &self.uid), (b'p', &self.pid)] {
            if let Some(v) = v {
                if v.contains(&0) {
                    return Err(crate::envelope::EnvelopeError::Nul);
                }
                out.push(t);
                out.extend_from_slice(v);
                out.push(0);
            }
        }
        self.envelope.write_records(out)
    }
}

/// `info`: the sender of an `info/S/ID` file.
pub fn parse_info(bytes: &[u8]) -> Result<Vec<u8>, RecordError> {
    match records(bytes)?.as_slice() {
        [r] if r.kind == b'F' => Ok(r.data.to_vec()),
        [] => Err(RecordError::Missing("F")),
        [r] => Err(RecordError::UnknownType(r.kind, 0)),
        [r, ..] if r.kind != b'F' => Err(RecordError::UnknownType(r.kind, 0)),
        [_, r, ..] => Err(RecordError::UnknownType(r.kind, r.offset)),
    }
}

/// One recipient of a channel file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelRecipient {
    pub address: Vec<u8>,
    /// `D`: delivered or permanently failed.
    pub done: bool,
    pub offset: usize,
}

/// `channel`: the records of a `local/S/ID` or `remote/S/ID` file.
pub fn parse_channel(bytes: &[u8]) -> Result<Vec<ChannelRecipient>, RecordError> {
    records(bytes)?
        .into_iter()
        .map(|r| match r.kind {
            b'T' | b'D' => Ok(ChannelRecipient {
                address: r.data.to_vec(),
                done: r.kind == b'D',
                offset: r.offset,
            }),
            k => Err(RecordError::UnknownType(k, r.offset)),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const RECORDED: &[u8] =
        b"u1002\0p1296\0Fsender@remote.example\0Ttestuser@example.org\0Tpostmaster@example.org\0";

    #[test]
    fn recorded_todo() {
        assert_eq!(RECORDED.len(), 81);
        let t = Todo::parse(RECORDED).unwrap();
        assert_eq!(t.uid.as_deref(), Some(&b"1002"[..]));
        assert_eq!(t.envelope.recipients.len(), 2);
        let mut out = Vec::new();
        Todo::new(1002, 1296, t.envelope.clone())
            .write(&mut out)
            .unwrap();
        assert_eq!(out, RECORDED);
    }

    #[test]
    fn truncated_todo_is_refused() {
        for n in 1..RECORDED.len() {
            let cut = &RECORDED[..n];
            if cut.last() != Some(&0) {
                assert!(Todo::parse(cut).is_err(), "{n}");
            }
        }
    }

    #[test]
    fn channel_and_info() {
        let c = parse_channel(b"Ta@b\0Dc@d\0").unwrap();
        assert!(!c[0].done && c[1].done && c[1].offset == 5);
        assert!(parse_channel(b"Xa\0").is_err());
        assert_eq!(parse_info(b"Fjoe@x\0").unwrap(), b"joe@x");
        assert!(parse_info(b"Tjoe@x\0").is_err());
    }

    fn addr() -> impl Strategy<Value = Vec<u8>> {
        proptest::collection::vec(1u8..=255, 0..30)
    }

    proptest! {
        #[test]
        fn todo_round_trip(uid in any::<u32>(), pid in any::<u32>(), sender in addr(),
                           recipients in proptest::collection::vec(addr(), 0..6)) {
            let t = Todo::new(uid, pid, Envelope { sender, recipients });
            let mut out = Vec::new();
            t.write(&mut out).unwrap();
            prop_assert_eq!(Todo::parse(&out).unwrap(), t);
        }
    }
}
