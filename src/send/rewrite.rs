//! qmail-send's recipient rewriting (`shared/spec/qmail/send.md` §3):
//! envnoathost, percenthack, locals, virtualdomains.

use crate::control::map::Map;

/// The maps `rewrite` consults.
#[derive(Debug, Clone, Default)]
pub struct Rules {
    pub envnoathost: Vec<u8>,
    pub locals: Map,
    pub percenthack: Map,
    pub virtualdomains: Map,
}

/// Channel numbers.
pub const LOCAL: usize = 0;
pub const REMOTE: usize = 1;

fn domain_of(addr: &[u8]) -> &[u8] {
    match addr.iter().rposition(|&b| b == b'@') {
        Some(i) => &addr[i + 1..],
        None => &addr[addr.len()..],
    }
}

/// The virtualdomains prepend for an address, if one applies
/// (keys: address, domain, `.suffix`es, then the empty key).
pub fn vdom_prepend<'a>(rules: &'a Rules, addr: &[u8]) -> Option<&'a [u8]> {
    let v = &rules.virtualdomains;
    let found = v.get(addr).or_else(|| {
        let d = domain_of(addr);
        v.get(d)
            .or_else(|| {
                (0..d.len())
                    .filter(|&i| d[i] == b'.')
                    .find_map(|i| v.get(&d[i..]))
            })
            .or_else(|| v.get(b""))
    })?;
    (!found.is_empty()).then_some(found)
}

/// `rewrite`: the channel and the address to store.
pub fn rewrite(rules: &Rules, recipient: &[u8]) -> (usize, Vec<u8>) {
    let mut addr = recipient.to_vec();
    if !addr.contains(&b'@') {
        addr.push(b'@');
        addr.extend_from_slice(&rules.envnoathost);
    }
    loop {
        let at = addr.iter().rposition(|&b| b == b'@').unwrap_or(0);
        if !rules.percenthack.contains(&addr[at + 1..]) {
            break;
        }
        let Some(pct) = addr[..at].iter().rposition(|&b| b == b'%') else {
            break;
        };
        addr.truncate(at);
        addr[pct] = b'@';
    }
    if rules.locals.contains(domain_of(&addr)) {
        return (LOCAL, addr);
    }
    if let Some(pre) = vdom_prepend(rules, &addr) {
        let mut v = pre.to_vec();
        v.push(b'-');
        v.extend_from_slice(&addr);
        return (LOCAL, v);
    }
    (REMOTE, addr)
}

/// The recipient as shown in a bounce: the virtual-domain prepend removed.
pub fn strip_prepend(rules: &Rules, stored: &[u8]) -> Vec<u8> {
    // The stored form is PREPEND-addr; the domain is the same.
    if let Some(pre) = vdom_prepend(rules, stored) {
        if stored.len() > pre.len() && stored.starts_with(pre) && stored[pre.len()] == b'-' {
            return stored[pre.len() + 1..].to_vec();
        }
    }
    stored.to_vec()
}

/// VERP: `PRE@HOST-@[]` for `local@domain` → `PRElocal=domain@HOST`.
pub fn verp(sender: &[u8], recipient: &[u8]) -> Vec<u8> {
    let Some(base) = sender.strip_suffix(b"-@[]") else {
        return sender.to_vec();
    };
    let (Some(sat), Some(rat)) = (
        base.iter().rposition(|&b| b == b'@'),
        recipient.iter().rposition(|&b| b == b'@'),
    ) else {
        return sender.to_vec();
    };
    let mut v = base[..sat].to_vec();
    v.extend_from_slice(&recipient[..rat]);
    v.push(b'=');
    v.extend_from_slice(&recipient[rat + 1..]);
    v.extend_from_slice(&base[sat..]);
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::control::map::Shape;

    fn rules() -> Rules {
        Rules {
            envnoathost: b"envnoathost.example".to_vec(),
            locals: Map::from_lines(&[&b"oracle.example"[..], b"LocalHost"], Shape::Plain),
            percenthack: Map::from_lines(&[&b"relay.example"[..]], Shape::Plain),
            virtualdomains: Map::from_lines(
                &[
                    &b"nowhere.mil:joe-foo"[..],
                    b".sub.example:sub",
                    b"except.sub.example:",
                ],
                Shape::KeyValue,
            ),
        }
    }

    #[test]
    fn channels() {
        let r = rules();
        assert_eq!(
            rewrite(&r, b"a@oracle.example"),
            (LOCAL, b"a@oracle.example".to_vec())
        );
        assert_eq!(
            rewrite(&r, b"a@localhost"),
            (LOCAL, b"a@localhost".to_vec())
        );
        assert_eq!(
            rewrite(&r, b"a"),
            (REMOTE, b"a@envnoathost.example".to_vec())
        );
        assert_eq!(
            rewrite(&r, b"u%oracle.example@relay.example"),
            (LOCAL, b"u@oracle.example".to_vec())
        );
        assert_eq!(
            rewrite(&r, b"info@nowhere.mil"),
            (LOCAL, b"joe-foo-info@nowhere.mil".to_vec())
        );
        assert_eq!(
            rewrite(&r, b"x@a.sub.example"),
            (LOCAL, b"sub-x@a.sub.example".to_vec())
        );
        assert_eq!(
            rewrite(&r, b"x@except.sub.example"),
            (REMOTE, b"x@except.sub.example".to_vec())
        );
        assert_eq!(
            rewrite(&r, b"x@far.example"),
            (REMOTE, b"x@far.example".to_vec())
        );
        assert_eq!(
            strip_prepend(&r, b"joe-foo-info@nowhere.mil"),
            b"info@nowhere.mil"
        );
    }

    #[test]
    fn verp_expansion() {
        assert_eq!(
            verp(b"list-owner-@example.org-@[]", b"bob@x.y"),
            b"list-owner-bob=x.y@example.org"
        );
        assert_eq!(verp(b"a@b", b"c@d"), b"a@b");
    }
}
