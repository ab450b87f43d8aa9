//! The value of a passwd.cdb record: vmailmgr's `vpwentry`
//! (`shared/spec/vmailmgr/passwd-cdb.md` §2.2–§2.3).
//!
//! ```text
//! value    = version2 / version1
//! version2 = %x02 *(flagnum flagval) %x00 fields
//! version1 = %x01 fields
//! fields   = str(password) str(directory) *str(forward) %x00 str(personal)
//!            num(hardquota) num(softquota) num(msgsize) num(msgcount)
//!            num(ctime) num(expiry)
//! str(x)   = x %x00            ; x holds no NUL
//! num(x)   = *WSP ( "-" *DIGIT / *DIGIT ) %x00   ; "-" = 4294967295
//! ```
//!
//! Flags: 10 = has mailbox, 8 = mailbox enabled; any other flag number
//! makes the record invalid. 0.97 writes `02 0a 0? 08 0? 00`; the 0.96.8
//! layout (`02 08 0? 00`) reads the same way. Pure codec: no I/O.

use std::fmt;

/// "Unlimited" / "never" (printed `-`).
pub const UNLIMITED: u32 = u32::MAX;

const FLAG_HAS_MAILBOX: u8 = 10;
const FLAG_ENABLED: u8 = 8;

/// One account as stored in passwd.cdb (the key, the name, is not part of it).
#[derive(Clone, PartialEq, Eq)]
pub struct VpwEntry {
    pub pass: Vec<u8>,
    pub directory: Vec<u8>,
    pub forwards: Vec<Vec<u8>>,
    pub personal: Vec<u8>,
    pub hardquota: u32,
    pub softquota: u32,
    pub msgsize: u32,
    pub msgcount: u32,
    pub ctime: u32,
    pub expiry: u32,
    pub has_mailbox: bool,
    pub is_enabled: bool,
}

impl fmt::Debug for VpwEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        f.debug_struct("VpwEntry")
            .field("pass", &"<redacted>")
            .field("directory", &s(&self.directory))
            .field(
                "forwards",
                &self.forwards.iter().map(|x| s(x)).collect::<Vec<_>>(),
            )
            .field("personal", &s(&self.personal))
            .field("hardquota", &self.hardquota)
            .field("softquota", &self.softquota)
            .field("msgsize", &self.msgsize)
            .field("msgcount", &self.msgcount)
            .field("ctime", &self.ctime)
            .field("expiry", &self.expiry)
            .field("has_mailbox", &self.has_mailbox)
            .field("is_enabled", &self.is_enabled)
            .finish()
    }
}

/// Why a value is not a valid record ("invalid record" in the original).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FormatError {
    /// Empty value.
    Empty,
    /// First byte is neither 1 nor 2 (e.g. 3, the never-released version).
    Version(u8),
    /// The value does not end in NUL.
    Unterminated,
    /// A flag number other than 8 or 10.
    UnknownFlag(u8),
    /// A field is missing: the value ended early.
    MissingField(&'static str),
    /// A number field has something after the number.
    BadNumber(&'static str),
    /// Bytes after the expiry field.
    TrailingBytes,
}

impl fmt::Display for FormatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FormatError::Empty => write!(f, "empty record"),
            FormatError::Version(v) => write!(f, "unknown record version {v}"),
            FormatError::Unterminated => write!(f, "record does not end in NUL"),
            FormatError::UnknownFlag(n) => write!(f, "unknown flag {n}"),
            FormatError::MissingField(x) => write!(f, "record ends before field {x}"),
            FormatError::BadNumber(x) => write!(f, "field {x} is not a number"),
            FormatError::TrailingBytes => write!(f, "bytes after the last field"),
        }
    }
}

impl std::error::Error for FormatError {}

impl VpwEntry {
    /// A fresh account with the given password and directory; limits
    /// unlimited, enabled, created at `ctime`.
    pub fn new(pass: &[u8], directory: &[u8], has_mailbox: bool, ctime: u32) -> Self {
        VpwEntry {
            pass: pass.to_vec(),
            directory: directory.to_vec(),
            forwards: Vec::new(),
            personal: Vec::new(),
            hardquota: UNLIMITED,
            softquota: UNLIMITED,
            msgsize: UNLIMITED,
            msgcount: UNLIMITED,
            ctime,
            expiry: UNLIMITED,
            has_mailbox,
            is_enabled: true,
        }
    }

    /// `value = version2 / version1`.
    pub fn parse(value: &[u8]) -> Result<Self, FormatError> {
        let (&version, rest) = value.split_first().ok_or(FormatError::Empty)?;
        if version != 1 && version != 2 {
            return Err(FormatError::Version(version));
        }
        if value.last() != Some(&0) {
            return Err(FormatError::Unterminated);
        }
        let mut has_mailbox = true;
        let mut is_enabled = true;
        let mut cur = Cursor { rest };
        if version == 2 {
            loop {
                let n = cur.byte("flags")?;
                if n == 0 {
                    break;
                }
                let v = cur.byte("flag value")?;
                match n {
                    FLAG_HAS_MAILBOX => has_mailbox = v != 0,
                    FLAG_ENABLED => is_enabled = v != 0,
                    other => return Err(FormatError::UnknownFlag(other)),
                }
            }
        }
        let pass = cur.string("password")?;
        let directory = cur.string("directory")?;
        if version == 1 || directory.is_empty() {
            has_mailbox = !directory.is_empty();
        }
        let mut forwards = Vec::new();
        loop {
            let f = cur.string("forwards")?;
            if f.is_empty() {
                break;
            }
            forwards.push(f.to_vec());
        }
        let personal = cur.string("personal")?;
        let hardquota = cur.number("hardquota")?;
        let softquota = cur.number("softquota")?;
        let msgsize = cur.number("msgsize")?;
        let msgcount = cur.number("msgcount")?;
        let ctime = cur.number("ctime")?;
        let expiry = cur.number("expiry")?;
        if !cur.rest.is_empty() {
            return Err(FormatError::TrailingBytes);
        }
        Ok(VpwEntry {
            pass: pass.to_vec(),
            directory: directory.to_vec(),
            forwards,
            personal: personal.to_vec(),
            hardquota,
            softquota,
            msgsize,
            msgcount,
            ctime,
            expiry,
            has_mailbox,
            is_enabled,
        })
    }

    /// Encode as 0.97 does (version 2, flags 10 then 8).
    pub fn write(&self, out: &mut Vec<u8>) {
        out.push(2);
        out.push(FLAG_HAS_MAILBOX);
        out.push(u8::from(self.has_mailbox && !self.directory.is_empty()));
        out.push(FLAG_ENABLED);
        out.push(u8::from(self.is_enabled));
        out.push(0);
        for s in [&self.pass, &self.directory] {
            out.extend_from_slice(s);
            out.push(0);
        }
        for f in &self.forwards {
            out.extend_from_slice(f);
            out.push(0);
        }
        out.push(0);
        out.extend_from_slice(&self.personal);
        out.push(0);
        for n in [
            self.hardquota,
            self.softquota,
            self.msgsize,
            self.msgcount,
            self.ctime,
            self.expiry,
        ] {
            out.extend_from_slice(format_number(n).as_bytes());
            out.push(0);
        }
    }

    /// The encoded value.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.write(&mut out);
        out
    }

    /// True when `now` is past the expiry time.
    pub fn expired(&self, now: u32) -> bool {
        self.expiry != UNLIMITED && self.expiry < now
    }
}

/// `0`, `-` for unlimited, else decimal.
pub fn format_number(n: u32) -> String {
    if n == UNLIMITED {
        "-".to_string()
    } else {
        n.to_string()
    }
}

/// The number rule of record fields and config values: leading white
/// space, `-` (and digits) = unlimited, else decimal digits wrapping mod
/// 2^32. Returns the value and the bytes consumed.
pub fn scan_number(s: &[u8]) -> (u32, usize) {
    let mut i = s.iter().take_while(|b| is_c_space(**b)).count();
    if s.get(i) == Some(&b'-') {
        i += 1;
        i += s[i..].iter().take_while(|b| b.is_ascii_digit()).count();
        return (UNLIMITED, i);
    }
    let mut n = 0u32;
    while let Some(d) = s.get(i).filter(|b| b.is_ascii_digit()) {
        n = n.wrapping_mul(10).wrapping_add(u32::from(d - b'0'));
        i += 1;
    }
    (n, i)
}

/// C `isspace` in the C locale.
pub fn is_c_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

struct Cursor<'a> {
    rest: &'a [u8],
}

impl<'a> Cursor<'a> {
    fn byte(&mut self, field: &'static str) -> Result<u8, FormatError> {
        let (&b, rest) = self
            .rest
            .split_first()
            .ok_or(FormatError::MissingField(field))?;
        self.rest = rest;
        Ok(b)
    }

    fn string(&mut self, field: &'static str) -> Result<&'a [u8], FormatError> {
        let end = self
            .rest
            .iter()
            .position(|&b| b == 0)
            .ok_or(FormatError::MissingField(field))?;
        let s = &self.rest[..end];
        self.rest = &self.rest[end + 1..];
        Ok(s)
    }

    fn number(&mut self, field: &'static str) -> Result<u32, FormatError> {
        let s = self.string(field)?;
        let (n, used) = scan_number(s);
        if used != s.len() {
            return Err(FormatError::BadNumber(field));
        }
        Ok(n)
    }
}

#[cfg(test)]
#[allow(clippy::octal_escapes)] // `\0` then a digit: NUL, then the digit.
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn bob() -> Vec<u8> {
        let mut v = vec![2, 10, 1, 8, 1, 0];
        v.extend_from_slice(b"absPtxANClx/c\0./users/bob\0\0Bob B\0-\01000\0-\0-\01795608235\0-\0");
        v
    }

    #[test]
    fn worked_example() {
        let e = VpwEntry::parse(&bob()).unwrap();
        assert_eq!(e.pass, b"absPtxANClx/c");
        assert_eq!(e.directory, b"./users/bob");
        assert!(e.forwards.is_empty());
        assert_eq!(e.personal, b"Bob B");
        assert_eq!((e.hardquota, e.softquota), (UNLIMITED, 1000));
        assert_eq!(e.ctime, 1795608235);
        assert!(e.has_mailbox && e.is_enabled);
        assert_eq!(e.to_bytes(), bob());
        assert!(!format!("{e:?}").contains("absPtx"));
    }

    #[test]
    fn old_layout_and_numbers() {
        let v = b"\x02\x08\x01\0*\0\0a@b\0\0\0 -5\0\0-\0-\00\0-\0";
        let e = VpwEntry::parse(v).unwrap();
        assert!(!e.has_mailbox);
        assert_eq!(e.forwards, vec![b"a@b".to_vec()]);
        assert_eq!(e.hardquota, UNLIMITED);
        assert_eq!(e.softquota, 0);
        let v1 = b"\x01pw\0./d\0\0\00\00\00\00\00\0-\0";
        assert!(VpwEntry::parse(v1).unwrap().has_mailbox);
    }

    #[test]
    fn invalid() {
        assert_eq!(VpwEntry::parse(b""), Err(FormatError::Empty));
        assert_eq!(VpwEntry::parse(b"\x03\0"), Err(FormatError::Version(3)));
        assert_eq!(
            VpwEntry::parse(b"\x02\x07\x01\0"),
            Err(FormatError::UnknownFlag(7))
        );
        let mut bad = bob();
        bad.extend_from_slice(b"x\0");
        assert_eq!(VpwEntry::parse(&bad), Err(FormatError::TrailingBytes));
        let bad = b"\x02\0p\0d\0\0\01x\00\00\00\00\00\0";
        assert_eq!(
            VpwEntry::parse(bad),
            Err(FormatError::BadNumber("hardquota"))
        );
    }

    #[test]
    fn every_prefix_is_refused() {
        let v = bob();
        for n in 0..v.len() {
            assert!(VpwEntry::parse(&v[..n]).is_err(), "prefix {n}");
        }
    }

    fn text() -> impl Strategy<Value = Vec<u8>> {
        proptest::collection::vec(1u8..=255, 0..20)
    }

    proptest! {
        #[test]
        fn round_trip(pass in text(), dir in text(),
                      fwd in proptest::collection::vec(proptest::collection::vec(1u8..=255, 1..10), 0..4),
                      personal in text(), nums in proptest::array::uniform6(any::<u32>()),
                      mb in any::<bool>(), en in any::<bool>()) {
            let e = VpwEntry {
                pass, directory: dir.clone(), forwards: fwd, personal,
                hardquota: nums[0], softquota: nums[1], msgsize: nums[2], msgcount: nums[3],
                ctime: nums[4], expiry: nums[5],
                has_mailbox: mb && !dir.is_empty(), is_enabled: en,
            };
            let bytes = e.to_bytes();
            let back = VpwEntry::parse(&bytes).unwrap();
            prop_assert_eq!(&back, &e);
            prop_assert_eq!(back.to_bytes(), bytes);
        }

        #[test]
        fn arbitrary_bytes_never_panic(v in proptest::collection::vec(any::<u8>(), 0..80)) {
            if let Ok(e) = VpwEntry::parse(&v) {
                let again = VpwEntry::parse(&e.to_bytes()).unwrap();
                prop_assert_eq!(again, e);
            }
        }
    }
}
