//! Netstrings (`binaries.md` §QMTP/§QMQP; D. J. Bernstein's netstrings):
//!
//! ```text
//! netstring = length ":" bytes ","     ; length = 1*DIGIT, decimal, of bytes
//! ```
//!
//! QMTP and QMQP frame everything with them. This is the codec only;
//! the servers read them from a stream byte by byte with the originals'
//! limits (`qmtp`, `qmqp`).

use std::fmt;

/// Why bytes are not a netstring.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NetstringError {
    /// The input ended early.
    Truncated,
    /// A byte other than a digit before the `:` (or no digit at all).
    BadLength(usize),
    /// The length does not fit (more than 200,000,000, the originals' cap).
    TooLong,
    /// The byte after the data is not `,`.
    MissingComma(usize),
    /// Bytes after the netstring.
    Trailing(usize),
}

impl fmt::Display for NetstringError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NetstringError::Truncated => write!(f, "netstring ends early"),
            NetstringError::BadLength(at) => write!(f, "bad netstring length at byte {at}"),
            NetstringError::TooLong => write!(f, "netstring length too large"),
            NetstringError::MissingComma(at) => write!(f, "netstring lacks its comma at byte {at}"),
            NetstringError::Trailing(at) => write!(f, "bytes after the netstring at byte {at}"),
        }
    }
}

impl std::error::Error for NetstringError {}

/// Largest length the originals accept before giving up (`getlen`).
pub const MAX_LEN: u64 = 200_000_000;

/// Append `bytes` as a netstring.
pub fn write(bytes: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(bytes.len().to_string().as_bytes());
    out.push(b':');
    out.extend_from_slice(bytes);
    out.push(b',');
}

/// `bytes` as a netstring.
pub fn encode(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len() + 12);
    write(bytes, &mut out);
    out
}

/// `length ":"` at the start of `input`: the length and the bytes used.
pub fn parse_length(input: &[u8]) -> Result<(u64, usize), NetstringError> {
    let mut len: u64 = 0;
    for (i, &b) in input.iter().enumerate() {
        match b {
            b':' if i > 0 => return Ok((len, i + 1)),
            b'0'..=b'9' => {
                len = len * 10 + u64::from(b - b'0');
                if len > MAX_LEN {
                    return Err(NetstringError::TooLong);
                }
            }
            _ => return Err(NetstringError::BadLength(i)),
        }
    }
    Err(NetstringError::Truncated)
}

/// One netstring at the start of `input`: its data and the bytes used.
pub fn parse_prefix(input: &[u8]) -> Result<(&[u8], usize), NetstringError> {
    let (len, start) = parse_length(input)?;
    let len = usize::try_from(len).map_err(|_| NetstringError::TooLong)?;
    let end = start + len;
    match input.get(end) {
        None => Err(NetstringError::Truncated),
        Some(b',') => Ok((&input[start..end], end + 1)),
        Some(_) => Err(NetstringError::MissingComma(end)),
    }
}

/// Exactly one netstring; trailing bytes are refused.
pub fn parse(input: &[u8]) -> Result<&[u8], NetstringError> {
    let (data, used) = parse_prefix(input)?;
    if used != input.len() {
        return Err(NetstringError::Trailing(used));
    }
    Ok(data)
}

/// A concatenation of netstrings (QMTP's recipient list).
pub fn parse_all(mut input: &[u8]) -> Result<Vec<&[u8]>, NetstringError> {
    let mut out = Vec::new();
    while !input.is_empty() {
        let (data, used) = parse_prefix(input)?;
        out.push(data);
        input = &input[used..];
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn known_bytes() {
        assert_eq!(encode(b"hello world!"), b"12:hello world!,");
        assert_eq!(encode(b""), b"0:,");
        assert_eq!(parse(b"3:abc,").unwrap(), b"abc");
        assert_eq!(parse(b"3:abc;"), Err(NetstringError::MissingComma(5)));
        assert_eq!(parse(b":abc,"), Err(NetstringError::BadLength(0)));
        assert_eq!(parse(b"3x:abc,"), Err(NetstringError::BadLength(1)));
        assert_eq!(parse(b"3:abc,x"), Err(NetstringError::Trailing(6)));
        assert_eq!(parse(b"999999999:"), Err(NetstringError::TooLong));
        assert_eq!(
            parse_all(b"1:a,0:,2:bc,").unwrap(),
            vec![&b"a"[..], b"", b"bc"]
        );
    }

    #[test]
    fn every_prefix_is_truncated() {
        let full = b"12:hello world!,";
        for n in 0..full.len() {
            assert_eq!(parse(&full[..n]), Err(NetstringError::Truncated), "{n}");
        }
    }

    proptest! {
        #[test]
        fn round_trip(data in proptest::collection::vec(any::<u8>(), 0..300)) {
            let enc = encode(&data);
            prop_assert_eq!(parse(&enc).unwrap(), &data[..]);
        }

        #[test]
        fn list_round_trip(items in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..20), 0..8)) {
            let mut enc = Vec::new();
            for i in &items { write(i, &mut enc); }
            let got: Vec<Vec<u8>> = parse_all(&enc).unwrap().into_iter().map(<[u8]>::to_vec).collect();
            prop_assert_eq!(got, items);
        }

        #[test]
        fn bytes_parse_write_parse(bytes in proptest::collection::vec(any::<u8>(), 0..40)) {
            if let Ok(d) = parse(&bytes) {
                let enc = encode(d);
                // Leading zeros in the length are the only non-canonical form.
                prop_assert_eq!(parse(&enc).unwrap(), d);
            }
        }
    }
}
