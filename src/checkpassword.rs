//! The checkpassword interface's data on descriptor 3
//! (`qmail/smtpd.md` §12.4, `vmailmgr/checkvpw.md` §1):
//!
//! ```text
//! data = login NUL password NUL [ timestamp NUL ]
//! ```
//!
//! At most 512 bytes. qmail-smtpd writes it; checkvpw reads it.

/// Most bytes a reader accepts.
pub const MAX_DATA: usize = 512;

/// The decoded fields. `Debug` never shows the password.
#[derive(Clone, PartialEq, Eq)]
pub struct Request {
    pub login: Vec<u8>,
    pub password: Vec<u8>,
    pub timestamp: Vec<u8>,
}

impl std::fmt::Debug for Request {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Request")
            .field("login", &String::from_utf8_lossy(&self.login))
            .field("password", &"<redacted>")
            .field("timestamp", &String::from_utf8_lossy(&self.timestamp))
            .finish()
    }
}

/// Why descriptor-3 data was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataError {
    /// More than [`MAX_DATA`] bytes.
    TooLong,
    /// The login or the password is not NUL-terminated.
    Invalid,
}

impl Request {
    /// Decode: login and password must be NUL-terminated; the timestamp
    /// may be missing or unterminated. Bytes after its NUL are ignored,
    /// as the original ignores them.
    pub fn parse(data: &[u8]) -> Result<Self, DataError> {
        if data.len() > MAX_DATA {
            return Err(DataError::TooLong);
        }
        let mut fields = data.splitn(3, |&b| b == 0);
        let login = fields.next().ok_or(DataError::Invalid)?;
        let password = fields.next().ok_or(DataError::Invalid)?;
        // `splitn` yields a third piece only when the password's NUL exists.
        let rest = fields.next().ok_or(DataError::Invalid)?;
        let timestamp = rest.split(|&b| b == 0).next().unwrap_or_default();
        Ok(Request {
            login: login.to_vec(),
            password: password.to_vec(),
            timestamp: timestamp.to_vec(),
        })
    }

    /// Encode with all three fields NUL-terminated.
    pub fn write(&self, out: &mut Vec<u8>) {
        for f in [&self.login, &self.password, &self.timestamp] {
            out.extend_from_slice(f);
            out.push(0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn forms() {
        let r = Request::parse(b"a@b\0pw\0<1.2@h>\0").unwrap();
        assert_eq!(r.timestamp, b"<1.2@h>");
        assert_eq!(Request::parse(b"a\0pw\0").unwrap().timestamp, b"");
        assert_eq!(Request::parse(b"a\0pw"), Err(DataError::Invalid));
        assert_eq!(Request::parse(&[b'x'; 513]), Err(DataError::TooLong));
        assert!(!format!("{r:?}").contains("pw"));
    }

    proptest! {
        #[test]
        fn round_trip(login in proptest::collection::vec(1u8..=255, 0..100),
                      password in proptest::collection::vec(1u8..=255, 0..100),
                      timestamp in proptest::collection::vec(1u8..=255, 0..100)) {
            let r = Request { login, password, timestamp };
            let mut out = Vec::new();
            r.write(&mut out);
            prop_assert_eq!(Request::parse(&out).unwrap(), r);
        }
    }
}
