//! `control/smtproutes` and the AUTH patch's `control/authsenders`
//! (`remote.md` §2.1, §9; lookup maps as `common.md` §3).
//!
//! ```text
//! line  = key ":" value            ; lines without ":" are ignored
//! value = "" / relay [ ":" port ] [ "|" user "|" password ]
//! ```
//! Keys compare ASCII case-insensitively; the last line for a key wins.

/// A map of `key:value` lines (`constmap` with colon splitting).
#[derive(Debug, Clone, Default)]
pub struct Map {
    entries: Vec<(Vec<u8>, Vec<u8>)>,
}

impl Map {
    /// Build from a list file's kept lines.
    pub fn new(lines: &[Vec<u8>]) -> Self {
        Map {
            entries: lines
                .iter()
                .filter_map(|l| {
                    let c = l.iter().position(|&b| b == b':')?;
                    Some((l[..c].to_ascii_lowercase(), l[c + 1..].to_vec()))
                })
                .collect(),
        }
    }

    /// The value for `key`, last occurrence first.
    pub fn get(&self, key: &[u8]) -> Option<&[u8]> {
        let key = key.to_ascii_lowercase();
        self.entries
            .iter()
            .rev()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v.as_slice())
    }
}

/// Where a route sends mail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// Relay host: a name, a dotted IPv4 address or `[a.b.c.d]`.
    pub relay: Vec<u8>,
    /// The port after the relay's first colon, if any (`scan_ulong`:
    /// leading digits, 0 when none; truncated to 16 bits as `htons` does).
    pub port: Option<u16>,
    /// `|user|password` credentials (AUTH patch).
    pub auth: Option<(Vec<u8>, Vec<u8>)>,
}

fn scan_port(s: &[u8]) -> u16 {
    s.iter()
        .take_while(|b| b.is_ascii_digit())
        .fold(0u64, |n, &b| {
            n.wrapping_mul(10).wrapping_add(u64::from(b - b'0'))
        }) as u16
}

/// Parse a non-empty route value.
pub fn parse_value(v: &[u8]) -> Route {
    let mut host = v;
    let mut auth = None;
    if let Some(i) = v.iter().position(|&b| b == b'|') {
        let rest = &v[i + 1..];
        if let Some(j) = rest.iter().position(|&b| b == b'|') {
            auth = Some((rest[..j].to_vec(), rest[j + 1..].to_vec()));
            host = &v[..i];
        }
    }
    let (relay, port) = match host.iter().position(|&b| b == b':') {
        Some(c) => (&host[..c], Some(scan_port(&host[c + 1..]))),
        None => (host, None),
    };
    Route {
        relay: relay.to_vec(),
        port,
        auth,
    }
}

/// The smtproutes route for `host`: the whole host, each suffix starting
/// at a `.` (longest first), then the empty key. An empty value stops the
/// search with "no route".
pub fn smtproute(map: &Map, host: &[u8]) -> Option<Route> {
    let starts = std::iter::once(0)
        .chain((1..host.len()).filter(|&i| host[i] == b'.'))
        .chain(std::iter::once(host.len()));
    for i in starts {
        if let Some(v) = map.get(&host[i..]) {
            return (!v.is_empty()).then(|| parse_value(v));
        }
    }
    None
}

/// The authsenders entry for the quoted sender: the whole sender, each
/// suffix starting at a `.` or `@`, then the empty key.
pub fn authsender(map: &Map, sender: &[u8]) -> Option<Route> {
    let starts = std::iter::once(0)
        .chain((1..sender.len()).filter(|&i| matches!(sender[i], b'.' | b'@')))
        .chain(std::iter::once(sender.len()));
    for i in starts {
        if let Some(v) = map.get(&sender[i..]) {
            return (!v.is_empty()).then(|| parse_value(v));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(text: &str) -> Map {
        Map::new(&crate::control::list_lines(text.as_bytes()))
    }

    #[test]
    fn manual_examples() {
        let m = map("inside.af.mil:firewall.af.mil:26\n.af.mil:\n:heaven.af.mil\n");
        assert_eq!(
            smtproute(&m, b"inside.af.mil"),
            Some(Route {
                relay: b"firewall.af.mil".to_vec(),
                port: Some(26),
                auth: None
            })
        );
        assert_eq!(smtproute(&m, b"x.af.mil"), None);
        assert_eq!(smtproute(&m, b"INSIDE.AF.MIL").unwrap().port, Some(26));
        assert_eq!(
            smtproute(&m, b"example.com").unwrap().relay,
            b"heaven.af.mil"
        );
        assert_eq!(smtproute(&map("a.b:x\n"), b"c"), None);
        // Last line for a key wins; lines without a colon are ignored.
        let m = map("x.org:one\nnocolon\nX.ORG:[127.0.0.1]:2525\n");
        assert_eq!(
            smtproute(&m, b"x.org"),
            Some(Route {
                relay: b"[127.0.0.1]".to_vec(),
                port: Some(2525),
                auth: None
            })
        );
        assert_eq!(smtproute(&m, b"sub.x.org"), None);
        assert_eq!(
            smtproute(&map(".x.org:r\n"), b"sub.x.org").unwrap().relay,
            b"r"
        );
    }

    #[test]
    fn auth_routes() {
        let m = map("x.org:relay.example:587|joe|se:cr|et\n");
        assert_eq!(
            smtproute(&m, b"x.org"),
            Some(Route {
                relay: b"relay.example".to_vec(),
                port: Some(587),
                auth: Some((b"joe".to_vec(), b"se:cr|et".to_vec()))
            })
        );
        let m = map("@example.org:relay:25|u|p\n");
        assert_eq!(authsender(&m, b"joe@example.org").unwrap().relay, b"relay");
        assert_eq!(authsender(&m, b"joe@other.org"), None);
        assert_eq!(parse_value(b"r:").port, Some(0));
    }
}
