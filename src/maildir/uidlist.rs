//! `dovecot-uidlist`, versions 1 and 3 (`shared/spec/dovecot/maildir.md`
//! §3; Dovecot's `maildir-uidlist.c`). A format module: bytes in, bytes
//! out.
//!
//! ```text
//! file    = header LF *( record LF )
//! header  = "3 V" uidvalidity " N" nextuid " G" guid *( " " key value )
//!         / "1 " uidvalidity " " nextuid              ; read, written as 3
//! record  = uid *( " " ext ) " :" base                 ; version 3
//!         / uid " " filename                           ; version 1
//! ext     = ("A".."Z") *( any byte but SP )            ; S, W, P, O, G, ...
//! ```
//!
//! Unknown header fields and extension keys are kept in order, so a
//! rewrite is byte-identical to what was read. [`parse`] reports lines it
//! dropped (bad syntax, `/` in a name, duplicate base) in
//! [`Parsed::needs_rewrite`], as Dovecot then rewrites the file.

/// A file Dovecot would treat as broken (and recreate).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FormatError {
    /// Empty file or no LF after the header.
    MissingHeader,
    /// Version other than 1 or 3.
    Version(String),
    /// V or N missing, zero or not a number.
    BadHeader(&'static str),
    /// A record's UID is not above the previous one (line number).
    UidOrder(usize),
}

impl std::fmt::Display for FormatError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FormatError::MissingHeader => write!(f, "missing header line"),
            FormatError::Version(v) => write!(f, "unsupported version {v:?}"),
            FormatError::BadHeader(w) => write!(f, "broken header: {w}"),
            FormatError::UidOrder(l) => write!(f, "line {l}: UIDs not ordered"),
        }
    }
}

impl std::error::Error for FormatError {}

/// One `<key><value>` extension field of a record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ext {
    pub key: u8,
    pub value: String,
}

/// One message record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub uid: u32,
    pub ext: Vec<Ext>,
    /// The base file name (up to the first `:`).
    pub base: String,
}

impl Record {
    /// A record without extension fields.
    pub fn new(uid: u32, base: &str) -> Record {
        Record {
            uid,
            ext: Vec::new(),
            base: base.to_string(),
        }
    }

    /// The value of extension `key`.
    pub fn get(&self, key: u8) -> Option<&str> {
        self.ext
            .iter()
            .find(|e| e.key == key)
            .map(|e| e.value.as_str())
    }

    /// Set extension `key` (in place if present, else appended).
    pub fn set(&mut self, key: u8, value: String) {
        match self.ext.iter_mut().find(|e| e.key == key) {
            Some(e) => e.value = value,
            None => self.ext.push(Ext { key, value }),
        }
    }
}

/// The whole file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Uidlist {
    pub uid_validity: u32,
    /// The `N` field as stored (a lower bound; see [`Uidlist::next_uid`]).
    pub next_uid: u32,
    /// 32 lower-case hex digits; `None` for version 1 or a missing `G`.
    pub guid: Option<String>,
    /// Unknown header fields (`P...` and others), verbatim.
    pub header_extra: Vec<String>,
    pub records: Vec<Record>,
}

/// What [`parse`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parsed {
    pub list: Uidlist,
    /// Version 1, a missing GUID, or dropped lines: Dovecot rewrites.
    pub needs_rewrite: bool,
}

impl Uidlist {
    /// A new, empty list.
    pub fn new(uid_validity: u32, guid: String) -> Uidlist {
        Uidlist {
            uid_validity,
            next_uid: 1,
            guid: Some(guid),
            header_extra: Vec::new(),
            records: Vec::new(),
        }
    }

    /// The effective next UID: `max(N, last record + 1)`.
    pub fn next_uid(&self) -> u32 {
        let after_last = self.records.last().map_or(1, |r| r.uid.saturating_add(1));
        self.next_uid.max(after_last)
    }

    /// The record of a base name.
    pub fn find(&self, base: &str) -> Option<&Record> {
        self.records.iter().find(|r| r.base == base)
    }
}

fn number(s: &str) -> Option<u32> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// `header`.
fn parse_header(line: &str) -> Result<(u8, Uidlist, bool), FormatError> {
    let (version, rest) = line.split_once(' ').unwrap_or((line, ""));
    match version {
        "1" => {
            let mut it = rest.split(' ');
            let v = it.next().and_then(number).filter(|&v| v != 0);
            let n = it.next().and_then(number).filter(|&n| n != 0);
            let (Some(v), Some(n)) = (v, n) else {
                return Err(FormatError::BadHeader("version 1 fields"));
            };
            let mut l = Uidlist::new(v, String::new());
            l.guid = None;
            l.next_uid = n;
            Ok((1, l, true))
        }
        "3" => {
            let (mut v, mut n, mut g) = (None, None, None);
            let mut extra = Vec::new();
            for f in rest.split(' ').filter(|f| !f.is_empty()) {
                match f.as_bytes()[0] {
                    b'V' => v = Some(number(&f[1..]).ok_or(FormatError::BadHeader("V"))?),
                    b'N' => n = Some(number(&f[1..]).ok_or(FormatError::BadHeader("N"))?),
                    b'G' => g = Some(f[1..].to_string()),
                    _ => extra.push(f.to_string()),
                }
            }
            let v = v.filter(|&v| v != 0).ok_or(FormatError::BadHeader("V"))?;
            let n = n.filter(|&n| n != 0).ok_or(FormatError::BadHeader("N"))?;
            let rewrite = g.is_none();
            Ok((
                3,
                Uidlist {
                    uid_validity: v,
                    next_uid: n,
                    guid: g,
                    header_extra: extra,
                    records: Vec::new(),
                },
                rewrite,
            ))
        }
        other => Err(FormatError::Version(other.to_string())),
    }
}

/// `record`; `None` for a line to drop. The flag says a field was dropped.
fn parse_record(version: u8, line: &str) -> Option<(Record, bool)> {
    let mut dropped = false;
    let (uid, rest) = line.split_once(' ')?;
    let uid = number(uid).filter(|&u| u != 0 && u != u32::MAX)?;
    let (ext, base) = if version == 1 {
        (Vec::new(), rest)
    } else {
        let mut ext = Vec::new();
        let mut rest = rest;
        loop {
            if let Some(b) = rest.strip_prefix(':') {
                break (ext, b);
            }
            let (field, more) = rest.split_once(' ')?;
            let key = *field.as_bytes().first()?;
            if key.is_ascii_uppercase() {
                ext.push(Ext {
                    key,
                    value: field[1..].to_string(),
                });
            } else {
                dropped = true;
            }
            rest = more;
        }
    };
    let base = if version == 1 {
        super::filename::base(base)
    } else {
        base
    };
    if base.is_empty() || base.contains(['/', '\r', '\n']) {
        return None;
    }
    let rec = Record {
        uid,
        ext,
        base: base.to_string(),
    };
    Some((rec, dropped))
}

/// Parse a whole file.
pub fn parse(data: &[u8]) -> Result<Parsed, FormatError> {
    let text = String::from_utf8_lossy(data);
    let lossy = matches!(text, std::borrow::Cow::Owned(_));
    let mut lines = text.split('\n');
    let header = lines.next().filter(|h| !h.is_empty());
    let header = header.ok_or(FormatError::MissingHeader)?;
    if !text.contains('\n') {
        return Err(FormatError::MissingHeader);
    }
    let (version, mut list, mut rewrite) = parse_header(header)?;
    rewrite |= lossy;
    let mut last = 0u32;
    for (i, line) in lines.enumerate() {
        if line.is_empty() {
            continue;
        }
        let Some((rec, dropped)) = parse_record(version, line) else {
            rewrite = true;
            continue;
        };
        rewrite |= dropped;
        if rec.uid <= last {
            return Err(FormatError::UidOrder(i + 2));
        }
        last = rec.uid;
        if let Some(pos) = list.records.iter().position(|r| r.base == rec.base) {
            // Duplicate base: the later line wins.
            list.records.remove(pos);
            rewrite = true;
        }
        list.records.push(rec);
    }
    Ok(Parsed {
        list,
        needs_rewrite: rewrite,
    })
}

/// One record line as Dovecot writes it (version 3).
pub fn write_record(r: &Record, out: &mut Vec<u8>) {
    out.extend_from_slice(r.uid.to_string().as_bytes());
    for e in &r.ext {
        out.push(b' ');
        out.push(e.key);
        out.extend_from_slice(e.value.as_bytes());
    }
    out.extend_from_slice(b" :");
    out.extend_from_slice(r.base.as_bytes());
    out.push(b'\n');
}

/// The header line (version 3) with the `N` value as stored.
pub fn write_header(l: &Uidlist, out: &mut Vec<u8>) {
    let guid = l.guid.as_deref().unwrap_or("");
    out.extend_from_slice(format!("3 V{} N{} G{}", l.uid_validity, l.next_uid, guid).as_bytes());
    for f in &l.header_extra {
        out.push(b' ');
        out.extend_from_slice(f.as_bytes());
    }
    out.push(b'\n');
}

/// The whole file (version 3).
pub fn write(l: &Uidlist, out: &mut Vec<u8>) {
    write_header(l, out);
    for r in &l.records {
        write_record(r, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const BOB: &[u8] = include_bytes!("../../testdata/dovecot/bob/00-initial/dovecot-uidlist");
    const BOB1: &[u8] =
        include_bytes!("../../testdata/dovecot/bob/01-after-transaction/dovecot-uidlist");
    const SENT: &[u8] =
        include_bytes!("../../testdata/dovecot/alice/06-after-append/.Sent/dovecot-uidlist");

    #[test]
    fn recorded_files_round_trip() {
        for data in [BOB, BOB1, SENT] {
            let p = parse(data).unwrap();
            assert!(!p.needs_rewrite);
            let mut out = Vec::new();
            write(&p.list, &mut out);
            assert_eq!(out, data);
        }
        let p = parse(BOB).unwrap().list;
        assert_eq!(p.uid_validity, 1699999999);
        assert_eq!(p.next_uid(), 7);
        assert_eq!(p.records[2].get(b'P'), Some("0000000aLEGACYUIDL"));
        assert_eq!(p.records[2].get(b'W'), Some("4058"));
        let s = parse(SENT).unwrap().list;
        assert_eq!(
            s.records[1].get(b'G'),
            Some("1700000002.2002.mail.example.org")
        );
    }

    #[test]
    fn stale_n_and_version_1() {
        let p = parse(b"3 V5 N1 Gab\n1 :a\n4 :b\n").unwrap().list;
        assert_eq!(p.next_uid(), 5);
        let p = parse(b"1 77 9\n3 x:2,S\n").unwrap();
        assert!(p.needs_rewrite);
        assert_eq!(p.list.records[0].base, "x");
        let mut out = Vec::new();
        write(&p.list, &mut out);
        assert_eq!(out, b"3 V77 N9 G\n3 :x\n");
    }

    #[test]
    fn broken_and_dropped() {
        assert_eq!(parse(b""), Err(FormatError::MissingHeader));
        assert_eq!(parse(b"3 V1 N1 G0"), Err(FormatError::MissingHeader));
        assert!(matches!(parse(b"2 V1 N1\n"), Err(FormatError::Version(_))));
        assert!(matches!(
            parse(b"3 V0 N1 G\n"),
            Err(FormatError::BadHeader(_))
        ));
        assert_eq!(
            parse(b"3 V1 N1 G\n2 :a\n2 :b\n"),
            Err(FormatError::UidOrder(3))
        );
        let p = parse(b"3 V1 N1 Gx Pfoo\nxx :a\n2 :a/b\n3 x5 Y6 :c\n4 :c\n").unwrap();
        assert!(p.needs_rewrite);
        assert_eq!(p.list.header_extra, vec!["Pfoo".to_string()]);
        assert_eq!(p.list.records.len(), 1);
        assert_eq!(p.list.records[0].uid, 4);
    }

    #[test]
    fn every_prefix_is_harmless() {
        for end in 0..BOB.len() {
            let _ = parse(&BOB[..end]);
        }
    }

    fn record() -> impl Strategy<Value = (Vec<(u8, String)>, String)> {
        (
            proptest::collection::vec((b'A'..=b'Z', "[!-~]{0,8}"), 0..4),
            "[0-9A-Za-z.,=_-]{1,20}",
        )
    }

    proptest! {
        #[test]
        fn generated_lists_round_trip(
            v in 1u32.., n in 1u32.., guid in "[0-9a-f]{32}",
            recs in proptest::collection::vec(record(), 0..8),
        ) {
            let mut l = Uidlist::new(v, guid);
            l.next_uid = n;
            let mut uid = 0u32;
            for (i, (ext, base)) in recs.into_iter().enumerate() {
                uid += 1 + i as u32;
                if l.find(&base).is_some() { continue; }
                let ext = ext.into_iter().map(|(key, value)| Ext { key, value }).collect();
                l.records.push(Record { uid, ext, base });
            }
            let mut out = Vec::new();
            write(&l, &mut out);
            let p = parse(&out).unwrap();
            prop_assert!(!p.needs_rewrite);
            prop_assert_eq!(p.list, l);
        }

        #[test]
        fn arbitrary_bytes_parse_write_parse(data in proptest::collection::vec(any::<u8>(), 0..200)) {
            if let Ok(p) = parse(&data) {
                let mut out = Vec::new();
                write(&p.list, &mut out);
                let again = parse(&out).unwrap();
                prop_assert_eq!(again.list.records, p.list.records);
            }
        }
    }
}
