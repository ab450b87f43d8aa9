//! Base64 as the AUTH patch's `base64.c` does it.
//!
//! Decoding: groups of four; `=` and missing bytes count as zero bits;
//! a byte outside the alphabet is an error (`501 malformed auth input`);
//! trailing NUL bytes of the result are dropped. Encoding is standard.

const ALPHA: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// A byte outside the base64 alphabet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Illegal;

/// `b64decode`.
pub fn decode(input: &[u8]) -> Result<Vec<u8>, Illegal> {
    let mut out = Vec::with_capacity(input.len() / 4 * 3 + 3);
    let at = |i: usize| input.get(i).copied().unwrap_or(0);
    let mut i = 0;
    while i < input.len() {
        let mut a = [0u8; 4];
        for (j, slot) in a.iter_mut().enumerate() {
            let c = at(i + j);
            if i + j < input.len() && c != b'=' {
                *slot = ALPHA.iter().position(|&x| x == c).ok_or(Illegal)? as u8;
            }
        }
        out.push((a[0] << 2) | (a[1] >> 4));
        if at(i + 1) == b'=' {
            break;
        }
        out.push((a[1] << 4) | (a[2] >> 2));
        if at(i + 2) == b'=' {
            break;
        }
        out.push((a[2] << 6) | a[3]);
        i += 4;
    }
    while out.last() == Some(&0) {
        out.pop();
    }
    Ok(out)
}

/// Standard base64 with padding.
pub fn encode(input: &[u8]) -> String {
    use ::base64::Engine;
    ::base64::engine::general_purpose::STANDARD.encode(input)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decoding() {
        assert_eq!(decode(b"dGVzdHVzZXI=").unwrap(), b"testuser");
        assert_eq!(
            decode(b"AHRlc3R1c2VyQGV4YW1wbGUub3JnAHNlY3JldA==").unwrap(),
            b"\0testuser@example.org\0secret"
        );
        assert_eq!(decode(b"AAA=").unwrap(), b"");
        assert_eq!(decode(b"!!!notbase64"), Err(Illegal));
        assert_eq!(decode(b"dGVzdA").unwrap(), b"test");
        assert_eq!(decode(b"").unwrap(), b"");
        assert_eq!(encode(b"Username:"), "VXNlcm5hbWU6");
    }
}
