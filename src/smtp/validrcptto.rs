//! validrcptto.cdb (jms1 behaviour as observed on the oracle;
//! `shared/spec/qmail/smtpd.md` §13).
//!
//! Keys tried, first hit decides (A = address, ASCII-lowercased):
//! `A`; for every `-` of the local part from the last to the first,
//! `LOCAL-up-to-that-dash` + `default@DOMAIN`; then `@DOMAIN`. A hit whose
//! value starts with `-` rejects.

use crate::cdb;

/// Default number of rejections after which the connection is dropped.
pub const DEFAULT_LIMIT: u64 = 10;

/// The verdict for one recipient.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Valid,
    Invalid,
}

/// A validrcptto table read at connection start.
#[derive(Debug, Clone)]
pub struct ValidRcptTo {
    db: cdb::Reader,
}

/// The cdb could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CdbReadError;

impl ValidRcptTo {
    pub fn new(db: cdb::Reader) -> Self {
        ValidRcptTo { db }
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
        for key in Self::keys(addr) {
            if let Some(v) = self.db.get(&key).map_err(|_| CdbReadError)? {
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
        let v = ValidRcptTo::new(cdb::Reader::new(w.finish().unwrap()).unwrap());
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
}
