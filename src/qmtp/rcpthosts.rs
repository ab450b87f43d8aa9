//! `rcpthosts.c`: may this recipient be accepted without RELAYCLIENT?
//! (`control.md`: `rcpthosts`, `morercpthosts.cdb`).
//!
//! No `rcpthosts` file → every recipient. An address without `@` is
//! accepted. Otherwise the domain and each suffix starting at a `.` are
//! looked up in rcpthosts (ASCII case-insensitive), then in
//! morercpthosts.cdb (lowercased keys).

use std::path::Path;

use crate::cdb;
use crate::control::Control;

/// The loaded controls.
#[derive(Debug, Default)]
pub struct Rcpthosts {
    hosts: Option<Vec<Vec<u8>>>,
    more: Option<cdb::Reader<Vec<u8>>>,
}

impl Rcpthosts {
    /// Read `rcpthosts` and `morercpthosts.cdb` from a control directory.
    pub fn load(control: &Control) -> std::io::Result<Self> {
        let hosts = control
            .read_list("rcpthosts", false)?
            .map(|l| l.into_iter().map(|h| h.to_ascii_lowercase()).collect());
        let more = if hosts.is_some() {
            match std::fs::read(Path::new(control.dir()).join("morercpthosts.cdb")) {
                Ok(b) => cdb::Reader::new(b).ok(),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
                Err(e) => return Err(e),
            }
        } else {
            None
        };
        Ok(Rcpthosts { hosts, more })
    }

    /// From explicit lines (tests).
    pub fn from_lines(lines: Option<Vec<Vec<u8>>>) -> Self {
        Rcpthosts {
            hosts: lines.map(|l| l.into_iter().map(|h| h.to_ascii_lowercase()).collect()),
            more: None,
        }
    }

    /// `rcpthosts(addr)`.
    pub fn allows(&self, addr: &[u8]) -> bool {
        let Some(hosts) = &self.hosts else {
            return true;
        };
        let Some(at) = addr.iter().rposition(|&b| b == b'@') else {
            return true;
        };
        let domain = addr[at + 1..].to_ascii_lowercase();
        let suffixes = || {
            (0..domain.len())
                .filter(|&j| j == 0 || domain[j] == b'.')
                .map(|j| &domain[j..])
        };
        if suffixes().any(|s| hosts.iter().any(|h| h.as_slice() == s)) {
            return true;
        }
        if let Some(m) = &self.more {
            return suffixes().any(|s| m.contains(s).unwrap_or(false));
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookups() {
        let r = Rcpthosts::from_lines(Some(vec![b"Example.org".to_vec(), b".sub.net".to_vec()]));
        assert!(r.allows(b"a@example.ORG"));
        assert!(!r.allows(b"a@x.example.org"));
        assert!(r.allows(b"a@x.sub.net"));
        assert!(!r.allows(b"a@sub.net"));
        assert!(r.allows(b"postmaster"));
        assert!(Rcpthosts::from_lines(None).allows(b"a@anything"));
    }
}
