//! The envelope qmail-queue reads on fd 1 (`shared/spec/qmail/queue.md` §4.2):
//!
//! ```text
//! envelope  = "F" sender NUL *( "T" recipient NUL ) NUL
//! ```
//!
//! Addresses are raw bytes (anything but NUL), at most 1002 bytes each.
//! The same layout, without the final NUL, is what `todo/` and `intd/`
//! files hold in the queue.

use std::fmt;

/// Longest address qmail-queue accepts, in bytes (`queue.md` §4.2).
pub const MAX_ADDRESS: usize = 1002;

/// A sender and its recipients.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Envelope {
    pub sender: Vec<u8>,
    pub recipients: Vec<Vec<u8>>,
}

/// Why envelope bytes were refused; each maps to qmail-queue's exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnvelopeError {
    /// A record does not start with `F`/`T` (exit 91).
    Format(usize),
    /// The input ended before the closing NUL (exit 54).
    Truncated,
    /// An address longer than [`MAX_ADDRESS`] (exit 11).
    TooLong,
    /// Bytes after the closing NUL.
    Trailing(usize),
    /// An address holds a NUL byte (cannot be written).
    Nul,
}

impl EnvelopeError {
    /// qmail-queue's exit code for this error.
    pub fn exit_code(self) -> i32 {
        match self {
            EnvelopeError::Format(_) | EnvelopeError::Trailing(_) | EnvelopeError::Nul => 91,
            EnvelopeError::Truncated => 54,
            EnvelopeError::TooLong => 11,
        }
    }
}

impl fmt::Display for EnvelopeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EnvelopeError::Format(at) => write!(f, "envelope format error at byte {at}"),
            EnvelopeError::Truncated => write!(f, "envelope ends before its final NUL"),
            EnvelopeError::TooLong => write!(f, "envelope address longer than {MAX_ADDRESS} bytes"),
            EnvelopeError::Trailing(at) => write!(f, "bytes after the envelope's end at byte {at}"),
            EnvelopeError::Nul => write!(f, "envelope address contains a NUL byte"),
        }
    }
}

impl std::error::Error for EnvelopeError {}

/// `address NUL`, starting at `pos`; returns the address and the next
/// position.
fn address(input: &[u8], pos: usize) -> Result<(&[u8], usize), EnvelopeError> {
    let rest = &input[pos..];
    match rest.iter().position(|&b| b == 0) {
        Some(n) if n > MAX_ADDRESS => Err(EnvelopeError::TooLong),
        Some(n) => Ok((&rest[..n], pos + n + 1)),
        None if rest.len() > MAX_ADDRESS => Err(EnvelopeError::TooLong),
        None => Err(EnvelopeError::Truncated),
    }
}

impl Envelope {
    /// Parse a complete envelope; trailing bytes are refused.
    pub fn parse(input: &[u8]) -> Result<Self, EnvelopeError> {
        let (env, used) = Self::parse_prefix(input)?;
        if used != input.len() {
            return Err(EnvelopeError::Trailing(used));
        }
        Ok(env)
    }

    /// Parse an envelope at the start of `input`, as qmail-queue reads
    /// it from a stream; returns it and the bytes used.
    pub fn parse_prefix(input: &[u8]) -> Result<(Self, usize), EnvelopeError> {
        match input.first() {
            None => return Err(EnvelopeError::Truncated),
            Some(b'F') => {}
            Some(_) => return Err(EnvelopeError::Format(0)),
        }
        let (sender, mut pos) = address(input, 1)?;
        let mut recipients = Vec::new();
        loop {
            match input.get(pos) {
                None => return Err(EnvelopeError::Truncated),
                Some(0) => break,
                Some(b'T') => {
                    let (r, next) = address(input, pos + 1)?;
                    recipients.push(r.to_vec());
                    pos = next;
                }
                Some(_) => return Err(EnvelopeError::Format(pos)),
            }
        }
        Ok((
            Envelope {
                sender: sender.to_vec(),
                recipients,
            },
            pos + 1,
        ))
    }

    /// Encode with the closing NUL (the fd-1 form).
    pub fn write(&self, out: &mut Vec<u8>) -> Result<(), EnvelopeError> {
        self.write_records(out)?;
        out.push(0);
        Ok(())
    }

    /// Encode without the closing NUL (the `todo/ID` file form).
    pub fn write_records(&self, out: &mut Vec<u8>) -> Result<(), EnvelopeError> {
        let all = std::iter::once(&self.sender).chain(&self.recipients);
        if all.clone().any(|a| a.contains(&0)) {
            return Err(EnvelopeError::Nul);
        }
        out.push(b'F');
        out.extend_from_slice(&self.sender);
        out.push(0);
        for r in &self.recipients {
            out.push(b'T');
            out.extend_from_slice(r);
            out.push(0);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn recorded_shape() {
        let e = Envelope::parse(b"Fjoe@a\0Tbob@b\0Tx@c\0\0").unwrap();
        assert_eq!(e.sender, b"joe@a");
        assert_eq!(e.recipients, vec![b"bob@b".to_vec(), b"x@c".to_vec()]);
        assert_eq!(Envelope::parse(b"F\0\0").unwrap(), Envelope::default());
    }

    #[test]
    fn errors_carry_qmail_queue_exit_codes() {
        assert_eq!(Envelope::parse(b"Xa\0\0").unwrap_err().exit_code(), 91);
        assert_eq!(Envelope::parse(b"Fa\0Ub\0\0").unwrap_err().exit_code(), 91);
        assert_eq!(Envelope::parse(b"Fa\0Tb\0").unwrap_err().exit_code(), 54);
        let long = [b"F".to_vec(), vec![b'a'; 1003], b"\0\0".to_vec()].concat();
        assert_eq!(Envelope::parse(&long).unwrap_err().exit_code(), 11);
        let ok = [b"F".to_vec(), vec![b'a'; 1002], b"\0\0".to_vec()].concat();
        assert!(Envelope::parse(&ok).is_ok());
    }

    #[test]
    fn every_prefix_is_truncated() {
        let full = b"Fjoe@a\0Tbob@b\0Tx@c\0\0";
        for n in 0..full.len() {
            assert_eq!(Envelope::parse(&full[..n]), Err(EnvelopeError::Truncated));
        }
    }

    fn addr() -> impl Strategy<Value = Vec<u8>> {
        proptest::collection::vec(1u8..=255, 0..40)
    }

    proptest! {
        #[test]
        fn round_trip(sender in addr(), recipients in proptest::collection::vec(addr(), 0..8)) {
            let e = Envelope { sender, recipients };
            let mut out = Vec::new();
            e.write(&mut out).unwrap();
            prop_assert_eq!(Envelope::parse(&out).unwrap(), e);
        }

        #[test]
        fn bytes_parse_write_parse(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            if let Ok(e) = Envelope::parse(&bytes) {
                let mut out = Vec::new();
                e.write(&mut out).unwrap();
                prop_assert_eq!(&out, &bytes);
            }
        }
    }
}
