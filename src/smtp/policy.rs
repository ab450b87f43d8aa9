//! Sender and recipient checks: badmailfrom, rcpthosts with
//! morercpthosts.cdb (`shared/spec/qmail/smtpd.md` §7, §9), and the
//! local-address test behind `localiphost` (`ipme`).

use std::collections::HashSet;

use crate::cdb;

/// A constmap: ASCII case-insensitive exact lookup of list lines.
#[derive(Debug, Clone, Default)]
pub struct ConstMap(HashSet<Vec<u8>>);

impl ConstMap {
    pub fn new(lines: &[Vec<u8>]) -> Self {
        ConstMap(lines.iter().map(|l| l.to_ascii_lowercase()).collect())
    }
    pub fn contains(&self, key: &[u8]) -> bool {
        self.0.contains(&key.to_ascii_lowercase())
    }
}

/// `bmfcheck`: the whole sender, or `@domain` from its last `@`.
pub fn badmailfrom(map: Option<&ConstMap>, sender: &[u8]) -> bool {
    let Some(map) = map else { return false };
    if map.contains(sender) {
        return true;
    }
    match sender.iter().rposition(|&b| b == b'@') {
        Some(at) => map.contains(&sender[at..]),
        None => false,
    }
}

/// rcpthosts plus morercpthosts.cdb, as read at start-up.
#[derive(Debug, Clone)]
pub struct RcptHosts {
    /// `None`: control/rcpthosts does not exist, every domain is allowed.
    map: Option<ConstMap>,
    more: Option<cdb::Reader>,
}

/// A morercpthosts.cdb that cannot be read (`421 unable to read controls`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ControlError;

impl RcptHosts {
    pub fn new(lines: Option<Vec<Vec<u8>>>, more: Option<cdb::Reader>) -> Self {
        match lines {
            Some(l) => RcptHosts {
                map: Some(ConstMap::new(&l)),
                more,
            },
            None => RcptHosts {
                map: None,
                more: None,
            },
        }
    }

    /// `rcpthosts()`: is mail to `addr` accepted?
    pub fn allowed(&self, addr: &[u8]) -> Result<bool, ControlError> {
        let Some(map) = &self.map else {
            return Ok(true);
        };
        let Some(at) = addr.iter().rposition(|&b| b == b'@') else {
            return Ok(true);
        };
        let host = addr[at + 1..].to_ascii_lowercase();
        let candidates = || (0..host.len()).filter(|&j| j == 0 || host[j] == b'.');
        if candidates().any(|j| map.contains(&host[j..])) {
            return Ok(true);
        }
        if let Some(more) = &self.more {
            for j in candidates() {
                if more.get(&host[j..]).map_err(|_| ControlError)?.is_some() {
                    return Ok(true);
                }
            }
        }
        Ok(false)
    }
}

/// The IPv4 addresses of this host's interfaces, plus 0.0.0.0 (`ipme_init`).
pub fn ipme() -> Result<Vec<[u8; 4]>, nix::Error> {
    let mut ips = vec![[0, 0, 0, 0]];
    for ifa in nix::ifaddrs::getifaddrs()? {
        if let Some(sin) = ifa.address.as_ref().and_then(|a| a.as_sockaddr_in()) {
            ips.push(sin.ip().octets());
        }
    }
    Ok(ips)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn l(v: &[&str]) -> Vec<Vec<u8>> {
        v.iter().map(|s| s.as_bytes().to_vec()).collect()
    }

    #[test]
    fn rcpthosts_suffixes() {
        let r = RcptHosts::new(
            Some(l(&["oracle.example", "example.org", ".sub.example"])),
            None,
        );
        assert!(r.allowed(b"a@Example.ORG").unwrap());
        assert!(r.allowed(b"nodomain").unwrap());
        assert!(!r.allowed(b"a@mx.example.org").unwrap());
        assert!(r.allowed(b"a@mx.sub.example").unwrap());
        assert!(!r.allowed(b"a@sub.example").unwrap());
        assert!(!r.allowed(b"victim@example.org.evil.example").unwrap());
        assert!(!r.allowed(b"a@").unwrap());
        let mut w = cdb::Writer::new();
        w.add(b"more.example", b"").unwrap();
        let more = cdb::Reader::new(w.finish().unwrap()).unwrap();
        let r = RcptHosts::new(Some(l(&["x.example"])), Some(more.clone()));
        assert!(r.allowed(b"a@more.example").unwrap());
        assert!(!r.allowed(b"a@less.example").unwrap());
        assert!(RcptHosts::new(None, Some(more))
            .allowed(b"a@any.example")
            .unwrap());
    }

    #[test]
    fn badmailfrom_forms() {
        let m = ConstMap::new(&l(&["spammer@bad.example", "@badmailfrom.example"]));
        assert!(badmailfrom(Some(&m), b"Spammer@bad.example"));
        assert!(badmailfrom(Some(&m), b"anyone@BadMailFrom.example"));
        assert!(!badmailfrom(Some(&m), b""));
        assert!(!badmailfrom(Some(&m), b"x@bad.example"));
        assert!(!badmailfrom(None, b"spammer@bad.example"));
    }
}
