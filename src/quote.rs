//! Address quoting, `quote` and `quote2` (`shared/spec/qmail/common.md` §4):
//! how qmail-inject, qmail-local (Return-Path), bounces and qmail-remote
//! write an address. One codec for all of them.
//!
//! ```text
//! quote2(addr) = quote(box) "@" domain     ; split at the last "@"
//! quote(box)   = box / DQUOTE escaped(box) DQUOTE
//! ```
//! A box needs quoting when it is empty, holds a byte outside the
//! atom-safe set (or ≥ 0x80), starts or ends with `.`, or contains `..`.

fn atom_safe(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-./=?^_`{|}~".contains(&b)
}

/// `quote_need`.
pub fn quote_need(s: &[u8]) -> bool {
    s.is_empty()
        || s.iter().any(|&b| !atom_safe(b))
        || s[0] == b'.'
        || s[s.len() - 1] == b'.'
        || s.windows(2).any(|w| w == b"..")
}

/// `quote`: the box, quoted if it needs it.
pub fn quote(s: &[u8]) -> Vec<u8> {
    if !quote_need(s) {
        return s.to_vec();
    }
    let mut out = vec![b'"'];
    for &b in s {
        if matches!(b, b'\r' | b'\n' | b'"' | b'\\') {
            out.push(b'\\');
        }
        out.push(b);
    }
    out.push(b'"');
    out
}

/// `quote2`: quote the part before the last `@`.
pub fn quote2(addr: &[u8]) -> Vec<u8> {
    if addr.is_empty() {
        return Vec::new();
    }
    match addr.iter().rposition(|&b| b == b'@') {
        Some(at) => {
            let mut out = quote(&addr[..at]);
            out.extend_from_slice(&addr[at..]);
            out
        }
        None => quote(addr),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_examples() {
        assert_eq!(quote2(b"a b@x"), b"\"a b\"@x");
        assert_eq!(quote2(b"@x"), b"\"\"@x");
        assert_eq!(quote2(b".x@y"), b"\".x\"@y");
        assert_eq!(quote2(b"joe@x"), b"joe@x");
        assert_eq!(quote2(b""), b"");
        assert_eq!(quote2(b"a\"b"), b"\"a\\\"b\"");
        assert_eq!(quote2(b"a@b@c"), b"\"a@b\"@c");
    }

    #[test]
    fn bounce_and_return_path_forms() {
        assert_eq!(quote2(b"joe@x.y"), b"joe@x.y");
        assert_eq!(quote2(b"#@[]"), b"#@[]");
        assert_eq!(quote(b"MAILER-DAEMON"), b"MAILER-DAEMON");
        assert_eq!(quote(b"a\"b"), b"\"a\\\"b\"");
    }
}
