//! `users/assign` and `users/cdb` (`shared/spec/qmail/local.md` §1.1,
//! §1.3): qmail-users(5), as qmail-newu compiles it and qmail-lspawn reads
//! it.
//!
//! ```text
//! assign  = *( line LF ) "." *byte
//! line    = ("=" / "+") local ":" user ":" uid ":" gid ":" home ":" dash ":" ext ":" *byte
//! ```
//! Keys in the cdb: `""` → the wildcard characters; `!` + lc(local) + NUL
//! for `=` lines; `!` + lc(loc) for `+` lines. Data: the six fields joined
//! by NUL. This module is a pure codec plus the lookup algorithm.

pub mod pw2u;

use std::fmt;

use crate::cdb::{self, Reader};

/// A mailbox owner: the six fields of an assign line ("nughde").
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Owner {
    pub user: Vec<u8>,
    pub uid: Vec<u8>,
    pub gid: Vec<u8>,
    pub home: Vec<u8>,
    pub dash: Vec<u8>,
    pub ext: Vec<u8>,
}

impl Owner {
    /// Parse `user NUL uid NUL gid NUL home NUL dash NUL ext [NUL ...]`
    /// (ext ends at the next NUL, as a C string).
    pub fn parse(data: &[u8]) -> Option<Owner> {
        let f: Vec<&[u8]> = data.splitn(6, |&b| b == 0).collect();
        if f.len() != 6 {
            return None;
        }
        let ext = f[5].split(|&b| b == 0).next().unwrap_or_default();
        Some(Owner {
            user: f[0].to_vec(),
            uid: f[1].to_vec(),
            gid: f[2].to_vec(),
            home: f[3].to_vec(),
            dash: f[4].to_vec(),
            ext: ext.to_vec(),
        })
    }

    /// The cdb data form (no trailing NUL).
    pub fn write(&self, out: &mut Vec<u8>) {
        for (i, f) in [
            &self.user, &self.uid, &self.gid, &self.home, &self.dash, &self.ext,
        ]
        .iter()
        .enumerate()
        {
            if i > 0 {
                out.push(0);
            }
            out.extend_from_slice(f);
        }
    }

    /// Decimal uid/gid as numbers (`None` if not decimal).
    pub fn ids(&self) -> Option<(u32, u32)> {
        let n = |v: &[u8]| std::str::from_utf8(v).ok()?.parse::<u32>().ok();
        Some((n(&self.uid)?, n(&self.gid)?))
    }
}

/// Why qmail-newu refuses an assign file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AssignError {
    /// Bad line (no final LF, NUL, no colon, fewer than six colons…).
    Format,
    /// The cdb writer failed (too large).
    Cdb,
}

impl fmt::Display for AssignError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AssignError::Format => "bad format in users/assign",
            AssignError::Cdb => "unable to write users/cdb.tmp",
        })
    }
}

/// One compiled assignment: cdb key and data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub wildcard: bool,
    pub key: Vec<u8>,
    pub data: Vec<u8>,
}

/// `assign`: parse the text into entries (stops at the `.` line).
pub fn parse_assign(input: &[u8]) -> Result<Vec<Entry>, AssignError> {
    let mut out = Vec::new();
    let mut rest = input;
    loop {
        if rest.first() == Some(&b'.') {
            return Ok(out);
        }
        let lf = rest
            .iter()
            .position(|&b| b == b'\n')
            .ok_or(AssignError::Format)?;
        let line = &rest[..lf];
        rest = &rest[lf + 1..];
        if line.contains(&0) {
            return Err(AssignError::Format);
        }
        let colon = match line.iter().position(|&b| b == b':') {
            Some(0) | None => return Err(AssignError::Format),
            Some(c) => c,
        };
        let wildcard = line[0] == b'+';
        let mut key = vec![b'!'];
        key.extend(line[1..colon].iter().map(|b| b.to_ascii_lowercase()));
        if !wildcard {
            key.push(0);
        }
        let after = &line[colon + 1..];
        let sixth = after
            .iter()
            .enumerate()
            .filter(|(_, &b)| b == b':')
            .nth(5)
            .map(|(i, _)| i)
            .ok_or(AssignError::Format)?;
        let data: Vec<u8> = after[..sixth]
            .iter()
            .map(|&b| if b == b':' { 0 } else { b })
            .collect();
        out.push(Entry {
            wildcard,
            key,
            data,
        });
    }
}

/// qmail-newu: the users/cdb bytes for an assign file.
pub fn compile(input: &[u8]) -> Result<Vec<u8>, AssignError> {
    let entries = parse_assign(input)?;
    let mut wild = Vec::new();
    for e in &entries {
        if e.wildcard && e.key.len() > 1 {
            let c = e.key[e.key.len() - 1];
            if !wild.contains(&c) {
                wild.push(c);
            }
        }
    }
    let mut w = cdb::Writer::new();
    w.add(b"", &wild).map_err(|_| AssignError::Cdb)?;
    for e in &entries {
        w.add(&e.key, &e.data).map_err(|_| AssignError::Cdb)?;
    }
    w.finish().map_err(|_| AssignError::Cdb)
}

/// Why a users/cdb lookup could not decide (qmail-lspawn exit 117).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CdbTrouble;

/// §1.1: look `local` up; `Ok(None)` means "ask qmail-getpw".
/// The result is the owner record's bytes (six NUL-separated fields, the
/// wildcard remainder appended to ext); [`Owner::parse`] reads it.
pub fn lookup<D: AsRef<[u8]>>(db: &Reader<D>, local: &[u8]) -> Result<Option<Vec<u8>>, CdbTrouble> {
    let wild = db.get(b"").map_err(|_| CdbTrouble)?.ok_or(CdbTrouble)?;
    let mut key = vec![b'!'];
    key.extend(local.iter().map(|b| b.to_ascii_lowercase()));
    let mut exact = key.clone();
    exact.push(0);
    if let Some(d) = db.get(&exact).map_err(|_| CdbTrouble)? {
        return Ok(Some(d.to_vec()));
    }
    for i in (1..=key.len()).rev() {
        if i != 1 && !wild.contains(&key[i - 1]) {
            continue;
        }
        if let Some(d) = db.get(&key[..i]).map_err(|_| CdbTrouble)? {
            let mut o = d.to_vec();
            o.extend_from_slice(&local[i - 1..]);
            return Ok(Some(o));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ASSIGN: &[u8] = b"=joe:joe:1001:1001:/home/joe:::\n+joe-:joe:1001:1001:/home/joe:-::\n+:alias:7790:2108:/var/qmail/alias:-::\n=Fred:fred:1002:1002:/home/fred:-:x:extra:\n.\n";

    fn lookup(db: &Reader, local: &[u8]) -> Result<Option<Owner>, CdbTrouble> {
        Ok(super::lookup(db, local)?.map(|d| Owner::parse(&d).unwrap()))
    }

    #[test]
    fn compile_and_look_up() {
        let db = Reader::new(compile(ASSIGN).unwrap()).unwrap();
        assert_eq!(db.get(b"").unwrap(), Some(&b"-"[..]));
        let o = lookup(&db, b"JOE").unwrap().unwrap();
        assert_eq!(
            (o.user.as_slice(), o.dash.as_slice(), o.ext.as_slice()),
            (&b"joe"[..], &b""[..], &b""[..])
        );
        let o = lookup(&db, b"joe-Foo").unwrap().unwrap();
        assert_eq!(
            (o.dash.as_slice(), o.ext.as_slice()),
            (&b"-"[..], &b"Foo"[..])
        );
        let o = lookup(&db, b"nobody").unwrap().unwrap();
        assert_eq!(
            (o.user.as_slice(), o.ext.as_slice()),
            (&b"alias"[..], &b"nobody"[..])
        );
        let o = lookup(&db, b"fred").unwrap().unwrap();
        assert_eq!(
            (o.home.as_slice(), o.ext.as_slice()),
            (&b"/home/fred"[..], &b"x"[..])
        );
        assert_eq!(o.ids(), Some((1002, 1002)));
    }

    #[test]
    fn no_catch_all_means_getpw() {
        let db = Reader::new(compile(b"=a:a:1:1:/a:::\n.\n").unwrap()).unwrap();
        assert_eq!(lookup(&db, b"b").unwrap(), None);
    }

    #[test]
    fn format_errors() {
        assert_eq!(compile(b"=a:a:1:1:/a:::\n"), Err(AssignError::Format));
        assert_eq!(compile(b"=a:a:1:1:/a::\n.\n"), Err(AssignError::Format));
        assert_eq!(compile(b":a:a:1:1:/a:::\n.\n"), Err(AssignError::Format));
        assert_eq!(compile(b"=a\0:a:1:1:/a:::\n.\n"), Err(AssignError::Format));
        assert!(compile(b".\n").is_ok());
        assert!(compile(b".").is_ok());
    }

    #[test]
    fn every_prefix_is_safe() {
        for i in 0..=ASSIGN.len() {
            let _ = compile(&ASSIGN[..i]);
        }
    }
}
