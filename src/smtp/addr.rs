//! MAIL/RCPT argument parsing (`addrparse`, `mailfrom_parms`;
//! `shared/spec/qmail/smtpd.md` §6, §7).
//!
//! ```text
//! arg     = [ text ] "<" address [ ">" params ]    ; first "<" wins
//!         / [ text ":" ] *SP address [ SP ... ]    ; no "<" at all
//! address = [ "@" route ":" ] *( quoted / "\" byte / byte )
//! ```
//!
//! Quotes and backslashes are removed; nothing else is checked.

/// Longest accepted address (the original refuses `addr.len > 900`,
/// counting its NUL).
pub const MAX_ADDR: usize = 899;

/// A parsed address, or `None` when it is too long (`555`).
pub fn parse(
    arg: &[u8],
    ipme: &dyn Fn([u8; 4]) -> bool,
    localiphost: Option<&[u8]>,
) -> Option<Vec<u8>> {
    let (mut rest, terminator) = match arg.iter().position(|&b| b == b'<') {
        Some(i) => (&arg[i + 1..], b'>'),
        None => {
            let mut r = match arg.iter().position(|&b| b == b':') {
                Some(i) => &arg[i + 1..],
                None => &arg[arg.len()..],
            };
            while let [b' ', t @ ..] = r {
                r = t;
            }
            (r, b' ')
        }
    };
    // Strip a source route: through the first ':', or everything.
    if rest.first() == Some(&b'@') {
        rest = match rest.iter().position(|&b| b == b':') {
            Some(i) => &rest[i + 1..],
            None => &rest[rest.len()..],
        };
    }
    let mut addr = Vec::with_capacity(rest.len());
    let (mut esc, mut quoted) = (false, false);
    for &ch in rest {
        if esc {
            addr.push(ch);
            esc = false;
            continue;
        }
        if !quoted && ch == terminator {
            break;
        }
        match ch {
            b'\\' => esc = true,
            b'"' => quoted = !quoted,
            _ => addr.push(ch),
        }
    }
    if let Some(liphost) = localiphost {
        if let Some(at) = addr.iter().rposition(|&b| b == b'@') {
            if let Some((ip, used)) = scan_bracket(&addr[at + 1..]) {
                if at + 1 + used == addr.len() && ipme(ip) {
                    addr.truncate(at + 1);
                    addr.extend_from_slice(liphost);
                }
            }
        }
    }
    (addr.len() <= MAX_ADDR).then_some(addr)
}

/// `scan_ulong`: leading decimal digits, wrapping like the original.
fn scan_ulong(s: &[u8]) -> (u64, usize) {
    let n = s.iter().take_while(|b| b.is_ascii_digit()).count();
    let v = s[..n].iter().fold(0u64, |v, &b| {
        v.wrapping_mul(10).wrapping_add(u64::from(b - b'0'))
    });
    (v, n)
}

/// `ip_scanbracket`: `[d.d.d.d]`, each part truncated to a byte as the
/// original stores it; returns the address and the bytes used.
pub fn scan_bracket(s: &[u8]) -> Option<([u8; 4], usize)> {
    if s.first() != Some(&b'[') {
        return None;
    }
    let mut ip = [0u8; 4];
    let mut pos = 1;
    for (k, part) in ip.iter_mut().enumerate() {
        if k > 0 {
            if s.get(pos) != Some(&b'.') {
                return None;
            }
            pos += 1;
        }
        let (v, n) = scan_ulong(&s[pos..]);
        if n == 0 {
            return None;
        }
        *part = v as u8;
        pos += n;
    }
    (s.get(pos) == Some(&b']')).then_some((ip, pos + 1))
}

/// The ESMTP parameters of MAIL that the AUTH patch looks at.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MailParams {
    /// A `SIZE=` value above the limit was given.
    pub too_big: bool,
    /// The decoded `AUTH=` value, if any.
    pub auth: Option<Vec<u8>>,
}

/// `mailfrom_parms`: only when `>` appears at a position > 4; tokens are
/// split at spaces after the first byte.
pub fn mail_params(arg: &[u8], databytes: u64) -> MailParams {
    let mut p = MailParams::default();
    let Some(gt) = arg.iter().position(|&b| b == b'>') else {
        return p;
    };
    if gt <= 4 {
        return p;
    }
    // The original walks from the second byte, emitting a token at every
    // space and at the end of the string.
    let mut tok: Vec<u8> = Vec::new();
    let body = &arg[1..];
    for i in 0..=body.len() {
        let ch = body.get(i).copied();
        if ch.is_none() || ch == Some(b' ') {
            if starts_ci(&tok, b"SIZE=") {
                let (v, _) = scan_ulong(&tok[5..]);
                if databytes > 0 && v > databytes {
                    p.too_big = true;
                    return p;
                }
            }
            if starts_ci(&tok, b"AUTH=") {
                p.auth = Some(xtext(&tok[5..]));
            }
            tok.clear();
        } else if let Some(c) = ch {
            tok.push(c);
        }
    }
    p
}

fn starts_ci(s: &[u8], prefix: &[u8]) -> bool {
    s.len() >= prefix.len() && s[..prefix.len()].eq_ignore_ascii_case(prefix)
}

/// `mailfrom_auth`'s decoding: `<>` is `unknown`; `+3D` → `=`, `+2B` → `+`.
fn xtext(v: &[u8]) -> Vec<u8> {
    if starts_ci(v, b"<>") {
        return b"unknown".to_vec();
    }
    let mut out = Vec::new();
    let mut i = 0;
    while i < v.len() {
        if v[i] == b'+' {
            if starts_ci(&v[i..], b"+3D") {
                out.push(b'=');
                i += 2;
            } else if starts_ci(&v[i..], b"+2B") {
                out.push(b'+');
                i += 2;
            }
        } else {
            out.push(v[i]);
        }
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(arg: &[u8]) -> Option<Vec<u8>> {
        parse(arg, &|ip| ip == [127, 0, 0, 1], Some(b"me.example"))
    }

    #[test]
    fn spec_examples() {
        for a in [
            &b"TO:<testuser@example.org>"[..],
            b"TO: <testuser@example.org>",
            b"TO:testuser@example.org",
            b"TO:<@relay.example:testuser@example.org>",
        ] {
            assert_eq!(p(a).unwrap(), b"testuser@example.org", "{a:?}");
        }
        assert_eq!(
            p(b"TO:<\"test\\\\user\"@example.org>").unwrap(),
            b"test\\user@example.org"
        );
        assert_eq!(p(b"").unwrap(), b"");
        assert_eq!(p(b"FROM:<unterminated@x").unwrap(), b"unterminated@x");
        assert_eq!(p(b"TO:<\"a>b\"@x>").unwrap(), b"a>b@x");
        assert_eq!(p(b"TO:<@route>").unwrap(), b"");
        assert_eq!(p(b"TO:<box@[127.0.0.1]>").unwrap(), b"box@me.example");
        assert_eq!(p(b"TO:<box@[10.0.0.1]>").unwrap(), b"box@[10.0.0.1]");
        assert_eq!(p(b"TO:<box@[127.0.0.1]x>").unwrap(), b"box@[127.0.0.1]x");
        let long = [b"TO:<".to_vec(), vec![b'a'; 900], b">".to_vec()].concat();
        assert_eq!(p(&long), None);
        let ok = [b"TO:<".to_vec(), vec![b'a'; 899], b">".to_vec()].concat();
        assert!(p(&ok).is_some());
    }

    #[test]
    fn params() {
        assert!(mail_params(b"FROM:<a@b> SIZE=30000", 20000).too_big);
        assert!(!mail_params(b"FROM:<a@b> SIZE=20000", 20000).too_big);
        assert!(!mail_params(b"FROM:<a@b> SIZE=30000", 0).too_big);
        assert!(!mail_params(b"<a> SIZE=30000", 20000).too_big);
        assert_eq!(
            mail_params(b"FROM:<a@b> AUTH=x+2By+3Dz", 0).auth.unwrap(),
            b"x+y=z"
        );
        assert_eq!(
            mail_params(b"FROM:<a@b> AUTH=<>", 0).auth.unwrap(),
            b"unknown"
        );
    }
}
