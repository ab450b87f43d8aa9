//! Address preparation for SMTP commands (`common.md` §4, `remote.md` §2.2).

pub use crate::quote::quote;

/// An address split for `addrmangle`: `None` when it has no `@` (used
/// verbatim), else the quoted box with its `@` and the domain.
pub fn split(addr: &[u8]) -> Option<(Vec<u8>, Vec<u8>)> {
    let at = addr.iter().rposition(|&b| b == b'@')?;
    let mut head = quote(&addr[..at]);
    head.push(b'@');
    Some((head, addr[at + 1..].to_vec()))
}

/// `xtext` as the AUTH patch writes it for `MAIL FROM:<…> AUTH=`.
pub fn xtext(s: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    for &b in s {
        match b {
            b'=' => out.extend_from_slice(b"+3D"),
            b'+' => out.extend_from_slice(b"+2B"),
            b if !(33..=126).contains(&b) => out.extend_from_slice(b"+3F"),
            b => out.push(b),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_examples() {
        assert_eq!(quote(b"a b"), b"\"a b\"");
        assert_eq!(quote(b""), b"\"\"");
        assert_eq!(quote(b".x"), b"\".x\"");
        assert_eq!(quote(b"a..b"), b"\"a..b\"");
        assert_eq!(quote(b"joe+x"), b"joe+x");
        assert_eq!(quote(b"a\"b\\"), b"\"a\\\"b\\\\\"");
        assert_eq!(
            split(b"a b@x").unwrap(),
            (b"\"a b\"@".to_vec(), b"x".to_vec())
        );
        assert_eq!(split(b"@x").unwrap().0, b"\"\"@");
        assert_eq!(split(b"nobody"), None);
        assert_eq!(
            split(b"a@b@c").unwrap(),
            (b"\"a@b\"@".to_vec(), b"c".to_vec())
        );
        assert_eq!(xtext(b"a=b+c d"), b"a+3Db+2Bc+3Fd");
    }
}
