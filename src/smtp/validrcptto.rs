//! validrcptto.cdb (jms1 behaviour as observed on the oracle;
//! `shared/spec/qmail/smtpd.md` §13).
//!
//! Keys tried, first hit decides (A = address, ASCII-lowercased):
//! `A`; for every `-` of the local part from the last to the first,
//! `LOCAL-up-to-that-dash` + `default@DOMAIN`; then `@DOMAIN`. A hit whose
//! value starts with `-` rejects.

use std::io;
use std::path::Path;

use crate::cdb;

/// Default number of rejections after which the connection is dropped.
pub const DEFAULT_LIMIT: u64 = 10;

/// The verdict for one recipient.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Valid,
    Invalid,
}

/// A validrcptto table opened at connection start and read at each
/// lookup, through that one descriptor for the whole connection.
#[derive(Debug)]
pub struct ValidRcptTo {
    /// The cdb, or what is wrong with it: reported by the lookups, as
    /// the open succeeded.
    db: Result<cdb::FileReader, cdb::CdbError>,
}

/// The cdb could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CdbReadError;

impl ValidRcptTo {
    /// Open the table at `path`: `None` if there is none (the check is
    /// off); an error if it cannot be opened.
    pub fn open(path: &Path) -> io::Result<Option<Self>> {
        match cdb::FileReader::open(path) {
            Ok(db) => Ok(Some(ValidRcptTo { db })),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The keys looked up for `addr`, in order.
    pub fn keys(addr: &[u8]) -> Vec<Vec<u8>> {
        let a = addr.to_ascii_lowercase();
        let mut keys = vec![a.clone()];
        if let Some(at) = a.iter().rposition(|&b| b == b'@') {
            let (local, domain) = a.split_at(at);
            for dash in (0..local.len()).rev().filter(|&i| local[i] == b'-') {
                keys.push([&local[..=dash], b"default", domain].concat());
            }
            keys.push(domain.to_vec());
        }
        keys
    }

    /// Look `addr` up.
    pub fn check(&self, addr: &[u8]) -> Result<Verdict, CdbReadError> {
        let db = self.db.as_ref().map_err(|_| CdbReadError)?;
        for key in Self::keys(addr) {
            if let Some(v) = db.get(&key).map_err(|_| CdbReadError)? {
                return Ok(if v.first() == Some(&b'-') {
                    Verdict::Invalid
                } else {
                    Verdict::Valid
                });
            }
        }
        Ok(Verdict::Invalid)
    }
}

/// The stderr line for one rejection.
pub fn log_line(remoteip: &[u8], addr: &[u8]) -> Vec<u8> {
    [
        b"qmail-smtpd: validrcptto [".as_slice(),
        remoteip,
        b"] not found: ",
        addr,
        b"\n",
    ]
    .concat()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oracle_table() {
        let mut w = cdb::Writer::new();
        for (k, v) in [
            ("testuser@example.org", ""),
            ("list-default@example.org", ""),
            ("blocked@example.org", "-"),
            ("@oracle.example", ""),
        ] {
            w.add(k.as_bytes(), v.as_bytes()).unwrap();
        }
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("validrcptto.cdb");
        assert!(ValidRcptTo::open(&path).unwrap().is_none());
        std::fs::write(&path, w.finish().unwrap()).unwrap();
        let v = ValidRcptTo::open(&path).unwrap().unwrap();
        // Rebuilt by rename: this connection keeps its table.
        std::fs::write(d.path().join("tmp"), b"").unwrap();
        std::fs::rename(d.path().join("tmp"), &path).unwrap();
        let c = |a: &str| v.check(a.as_bytes()).unwrap();
        assert_eq!(c("TestUser@Example.org"), Verdict::Valid);
        assert_eq!(c("list-anything@example.org"), Verdict::Valid);
        assert_eq!(c("list-a-b@example.org"), Verdict::Valid);
        assert_eq!(c("blocked@example.org"), Verdict::Invalid);
        assert_eq!(c("whoever@oracle.example"), Verdict::Valid);
        assert_eq!(c("nosuchuser@example.org"), Verdict::Invalid);
        assert_eq!(c("testuser"), Verdict::Invalid);
        assert_eq!(c(""), Verdict::Invalid);
        assert_eq!(
            ValidRcptTo::keys(b"a-b-c@d"),
            vec![
                b"a-b-c@d".to_vec(),
                b"a-b-default@d".to_vec(),
                b"a-default@d".to_vec(),
                b"@d".to_vec()
            ]
        );
    }

    #[test]
    fn a_damaged_table_fails_its_lookups() {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("validrcptto.cdb");
        std::fs::write(&path, b"not a cdb").unwrap();
        let v = ValidRcptTo::open(&path).unwrap().unwrap();
        assert_eq!(v.check(b"a@b"), Err(CdbReadError));
    }
}
