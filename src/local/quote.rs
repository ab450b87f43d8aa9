//! qmail's `quote` and `quote2` (`shared/spec/qmail/common.md` §4): how an
//! address is written into `Return-Path:`, a bounce's `To:` and SMTP.

/// Bytes that may stand unquoted in a box part.
fn atom_safe(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-./=?^_`{|}~".contains(&b)
}

/// `quote(box)`: the box part, in double quotes when it needs them.
pub fn quote(local: &[u8]) -> Vec<u8> {
    let needs = local.is_empty()
        || local.iter().any(|&b| !atom_safe(b))
        || local.first() == Some(&b'.')
        || local.last() == Some(&b'.')
        || local.windows(2).any(|w| w == b"..");
    if !needs {
        return local.to_vec();
    }
    let mut out = vec![b'"'];
    for &b in local {
        if matches!(b, b'\r' | b'\n' | b'"' | b'\\') {
            out.push(b'\\');
        }
        out.push(b);
    }
    out.push(b'"');
    out
}

/// `quote2(addr)`: quote the part before the last `@`.
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
    fn examples() {
        assert_eq!(quote2(b"a b@x"), b"\"a b\"@x");
        assert_eq!(quote2(b"@x"), b"\"\"@x");
        assert_eq!(quote2(b".x@y"), b"\".x\"@y");
        assert_eq!(quote2(b""), b"");
        assert_eq!(quote2(b"joe@x.y"), b"joe@x.y");
        assert_eq!(quote2(b"#@[]"), b"#@[]");
        assert_eq!(quote(b"MAILER-DAEMON"), b"MAILER-DAEMON");
        assert_eq!(quote(b"a\"b"), b"\"a\\\"b\"");
    }
}
