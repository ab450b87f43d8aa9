//! `rcpthosts.c`: may mail to this recipient be accepted without
//! RELAYCLIENT? One check for qmail-smtpd and qmail-qmtpd
//! (`shared/spec/qmail/control.md`: `rcpthosts`, `morercpthosts.cdb`;
//! `smtpd.md` §7).
//!
//! No `rcpthosts` file → every recipient (morercpthosts.cdb is then not
//! read). An address without `@` is accepted. Otherwise the lowercased
//! domain and each of its suffixes starting at a `.` are looked up in
//! rcpthosts (constmap: ASCII case-insensitive), then in
//! morercpthosts.cdb. A cdb that cannot be opened fails at start-up; one
//! that opens but is not a cdb fails only the lookups that reach it, as
//! `rcpthosts_init` only opens the file and `cdb_seek` finds the damage:
//! either is the caller's temporary failure (smtpd `421 unable to read
//! controls`, qmtpd exit 111), as `rcpthosts()` returning -1 is. Domains
//! in rcpthosts itself keep working meanwhile.

use std::io;

use crate::cdb;
use crate::control::map::{Map, Shape};
use crate::control::Control;

/// rcpthosts plus morercpthosts.cdb, as opened at start-up
/// (`rcpthosts_init`); the cdb is read at each lookup that reaches it.
#[derive(Debug, Default)]
pub struct RcptHosts {
    /// `None`: control/rcpthosts does not exist, every domain is allowed.
    hosts: Option<Map>,
    /// The cdb, or what its first lookup will report.
    more: Option<Result<cdb::FileReader, cdb::CdbError>>,
}

impl RcptHosts {
    /// From rcpthosts' lines (`None`: no file) and morercpthosts.cdb.
    pub fn new(lines: Option<Vec<Vec<u8>>>, more: Option<cdb::FileReader>) -> Self {
        match lines {
            Some(l) => RcptHosts {
                hosts: Some(Map::from_lines(&l, Shape::Plain)),
                more: more.map(Ok),
            },
            None => RcptHosts::default(),
        }
    }

    /// `rcpthosts_init`: read `rcpthosts` and, if it exists,
    /// `morercpthosts.cdb` (absent is fine, unreadable is an error; a
    /// file that is not a cdb is reported by the lookups that need it).
    pub fn load(control: &Control) -> io::Result<Self> {
        let Some(lines) = control.read_list("rcpthosts", false)? else {
            return Ok(RcptHosts::default());
        };
        let more = match cdb::FileReader::open(&control.dir().join("morercpthosts.cdb")) {
            Ok(db) => Some(db),
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => return Err(e),
        };
        Ok(RcptHosts {
            hosts: Some(Map::from_lines(&lines, Shape::Plain)),
            more,
        })
    }

    /// `rcpthosts(addr)`: is mail to `addr` accepted?
    pub fn allowed(&self, addr: &[u8]) -> Result<bool, cdb::CdbError> {
        let Some(hosts) = &self.hosts else {
            return Ok(true);
        };
        let Some(at) = addr.iter().rposition(|&b| b == b'@') else {
            return Ok(true);
        };
        let host = addr[at + 1..].to_ascii_lowercase();
        let suffixes = || {
            (0..host.len())
                .filter(|&j| j == 0 || host[j] == b'.')
                .map(|j| &host[j..])
        };
        if suffixes().any(|s| hosts.get(s).is_some()) {
            return Ok(true);
        }
        if let Some(more) = &self.more {
            let more = more.as_ref().map_err(Clone::clone)?;
            for s in suffixes() {
                if more.contains(s)? {
                    return Ok(true);
                }
            }
        }
        Ok(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn l(v: &[&str]) -> Vec<Vec<u8>> {
        v.iter().map(|s| s.as_bytes().to_vec()).collect()
    }

    #[test]
    fn suffixes_and_more() {
        let r = RcptHosts::new(
            Some(l(&["oracle.example", "Example.org", ".sub.example"])),
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
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("morercpthosts.cdb");
        std::fs::write(&path, w.finish().unwrap()).unwrap();
        let more = || cdb::FileReader::open(&path).unwrap().unwrap();
        let r = RcptHosts::new(Some(l(&["x.example"])), Some(more()));
        assert!(r.allowed(b"a@more.example").unwrap());
        assert!(r.allowed(b"a@MORE.example").unwrap());
        assert!(!r.allowed(b"a@less.example").unwrap());
        assert!(RcptHosts::new(None, Some(more()))
            .allowed(b"a@any.example")
            .unwrap());
    }

    #[test]
    fn load_reads_more_only_with_rcpthosts() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("morercpthosts.cdb"), b"not a cdb").unwrap();
        let c = Control::at(d.path()).unwrap();
        assert!(RcptHosts::load(&c)
            .unwrap()
            .allowed(b"a@x.example")
            .unwrap());
        std::fs::write(d.path().join("rcpthosts"), b"y.example\n").unwrap();
        // Not a cdb: rcpthosts' own domains still pass, lookups that
        // reach the cdb fail (netqmail: cdb_seek's -1 at RCPT time).
        let r = RcptHosts::load(&c).unwrap();
        assert!(r.allowed(b"a@Y.example").unwrap());
        assert!(r.allowed(b"nodomain").unwrap());
        assert!(matches!(
            r.allowed(b"a@x.example"),
            Err(cdb::CdbError::TruncatedHeader(9))
        ));
        std::fs::remove_file(d.path().join("morercpthosts.cdb")).unwrap();
        let r = RcptHosts::load(&c).unwrap();
        assert!(r.allowed(b"a@Y.example").unwrap());
        assert!(!r.allowed(b"a@x.example").unwrap());
    }
}
