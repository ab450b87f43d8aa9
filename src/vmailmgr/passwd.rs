//! The per-domain table `~/passwd.cdb` (`shared/spec/vmailmgr/passwd-cdb.md`
//! §2–§3): look-ups, listing, and the copy-and-rename rewrite that every
//! change goes through.
//!
//! Keys are lower-cased (ASCII only). Written with the sign-extending hash;
//! look-ups of keys with bytes >= 0x80 try that hash, then the standard one.
//! A change writes `passwd.cdb.tmp` (O_EXCL, 0600), fsyncs it and renames
//! it over the table; a stale tmp file makes the change fail, as in the
//! original.

use std::fs::OpenOptions;
use std::io::{self, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::cdb::{CdbError, Hash, Reader, Writer};

use super::vpwentry::{FormatError, VpwEntry};

/// ASCII lower-casing of a name (C locale `tolower`).
pub fn lower(name: &[u8]) -> Vec<u8> {
    name.to_ascii_lowercase()
}

/// Why the table could not be read or changed.
#[derive(Debug)]
pub enum TableError {
    /// The file could not be opened or read.
    Io(io::Error),
    /// The file is not a cdb (truncated, corrupt pointers).
    Corrupt(CdbError),
    /// add: the key is already there.
    Exists,
    /// replace/delete: the key is not there.
    Missing,
    /// `passwd.cdb.tmp` exists or cannot be written.
    Write(io::Error),
}

impl std::fmt::Display for TableError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TableError::Io(e) => write!(f, "cannot read the password table: {e}"),
            TableError::Corrupt(e) => write!(f, "corrupt password table: {e}"),
            TableError::Exists => write!(f, "user exists"),
            TableError::Missing => write!(f, "user does not exist"),
            TableError::Write(e) => write!(f, "cannot write the password table: {e}"),
        }
    }
}

impl std::error::Error for TableError {}

/// One look-up result.
#[derive(Debug)]
pub enum Lookup {
    /// No such key.
    Absent,
    /// Key present, value undecodable ("exists" but unusable).
    Invalid(FormatError),
    Found(VpwEntry),
}

/// A key and its decoded record.
pub type Record = (Vec<u8>, VpwEntry);

/// A passwd.cdb at a path.
#[derive(Debug, Clone)]
pub struct Table {
    path: PathBuf,
    mode: u32,
}

/// The edit applied while copying the records.
enum Edit<'a> {
    Add(&'a [u8], &'a [u8]),
    Replace(&'a [u8], &'a [u8]),
    Delete(&'a [u8]),
}

impl Table {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Table {
            path: path.into(),
            mode: 0o600,
        }
    }

    /// The permissions new tables get (0600; the hoster variant's 0640).
    pub fn with_mode(mut self, mode: u32) -> Self {
        self.mode = mode;
        self
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn tmp_path(&self) -> PathBuf {
        let mut p = self.path.clone().into_os_string();
        p.push(".tmp");
        PathBuf::from(p)
    }

    /// The file's bytes; `None` when it does not exist.
    pub fn bytes(&self) -> Result<Option<Vec<u8>>, TableError> {
        match std::fs::read(&self.path) {
            Ok(b) => {
                Reader::new(&b[..]).map_err(TableError::Corrupt)?;
                Ok(Some(b))
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(TableError::Io(e)),
        }
    }

    /// The raw value of `name` (lower-cased here).
    pub fn raw(&self, name: &[u8]) -> Result<Option<Vec<u8>>, TableError> {
        let Some(bytes) = self.bytes()? else {
            return Ok(None);
        };
        raw_in(&bytes, &lower(name))
    }

    /// Look `name` up.
    pub fn lookup(&self, name: &[u8]) -> Result<Lookup, TableError> {
        Ok(match self.raw(name)? {
            None => Lookup::Absent,
            Some(v) => match VpwEntry::parse(&v) {
                Ok(e) => Lookup::Found(e),
                Err(e) => Lookup::Invalid(e),
            },
        })
    }

    /// A usable record, or `None` (absent or invalid).
    pub fn get(&self, name: &[u8]) -> Result<Option<VpwEntry>, TableError> {
        Ok(match self.lookup(name)? {
            Lookup::Found(e) => Some(e),
            _ => None,
        })
    }

    /// Key presence ("exists" checks see invalid records as existing).
    pub fn exists(&self, name: &[u8]) -> Result<bool, TableError> {
        Ok(self.raw(name)?.is_some())
    }

    /// Every record in file order, up to the first undecodable one; `None`
    /// when the file does not exist.
    pub fn list(&self) -> Result<Option<Vec<Record>>, TableError> {
        let Some(bytes) = self.bytes()? else {
            return Ok(None);
        };
        let reader = Reader::new(&bytes[..]).map_err(TableError::Corrupt)?;
        let mut out = Vec::new();
        for rec in reader.iter() {
            let (k, v) = rec.map_err(TableError::Corrupt)?;
            match VpwEntry::parse(v) {
                Ok(e) => out.push((k.to_vec(), e)),
                Err(_) => break,
            }
        }
        Ok(Some(out))
    }

    /// Add a new record (fails if the key exists).
    pub fn add(&self, name: &[u8], entry: &VpwEntry) -> Result<(), TableError> {
        let key = lower(name);
        self.rewrite(Edit::Add(&key, &entry.to_bytes()))
    }

    /// Replace a record in place (fails if the key is absent).
    pub fn replace(&self, name: &[u8], entry: &VpwEntry) -> Result<(), TableError> {
        let key = lower(name);
        self.rewrite(Edit::Replace(&key, &entry.to_bytes()))
    }

    /// Remove every record of `name`.
    pub fn delete(&self, name: &[u8]) -> Result<(), TableError> {
        let key = lower(name);
        self.rewrite(Edit::Delete(&key))
    }

    /// Write a whole table from records (vupgrade, vrehash).
    pub fn write_all(&self, records: &[(Vec<u8>, Vec<u8>)]) -> Result<(), TableError> {
        let mut w = Writer::with_hash(Hash::SignExtend);
        for (k, v) in records {
            w.add(k, v).map_err(TableError::Corrupt)?;
        }
        self.install(w)
    }

    fn rewrite(&self, edit: Edit<'_>) -> Result<(), TableError> {
        let old = self.bytes()?;
        let mut w = Writer::with_hash(Hash::SignExtend);
        let mut hit = false;
        if let Some(bytes) = &old {
            let reader = Reader::new(&bytes[..]).map_err(TableError::Corrupt)?;
            for rec in reader.iter() {
                let (k, v) = rec.map_err(TableError::Corrupt)?;
                let v = match edit {
                    Edit::Add(key, _) if k == key => return Err(TableError::Exists),
                    Edit::Replace(key, new) if k == key => {
                        hit = true;
                        new
                    }
                    Edit::Delete(key) if k == key => {
                        hit = true;
                        continue;
                    }
                    _ => v,
                };
                w.add(k, v).map_err(TableError::Corrupt)?;
            }
        }
        match edit {
            Edit::Add(key, new) => w.add(key, new).map_err(TableError::Corrupt)?,
            _ if !hit => return Err(TableError::Missing),
            _ => {}
        }
        self.install(w)
    }

    fn install(&self, w: Writer) -> Result<(), TableError> {
        let bytes = w.finish().map_err(TableError::Corrupt)?;
        let tmp = self.tmp_path();
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(TableError::Write)?;
        let r = f
            .set_permissions(std::fs::Permissions::from_mode(self.mode))
            .and_then(|()| f.write_all(&bytes))
            .and_then(|()| f.sync_all())
            .and_then(|()| std::fs::rename(&tmp, &self.path));
        if let Err(e) = r {
            let _ = std::fs::remove_file(&tmp);
            return Err(TableError::Write(e));
        }
        Ok(())
    }
}

/// The value of `key` (already lower-cased) in table bytes.
pub fn raw_in(bytes: &[u8], key: &[u8]) -> Result<Option<Vec<u8>>, TableError> {
    let r = Reader::with_hash(bytes, Hash::SignExtend).map_err(TableError::Corrupt)?;
    if let Some(v) = r.get(key).map_err(TableError::Corrupt)? {
        return Ok(Some(v.to_vec()));
    }
    if key.iter().any(|&b| b >= 0x80) {
        let r = Reader::new(bytes).map_err(TableError::Corrupt)?;
        if let Some(v) = r.get(key).map_err(TableError::Corrupt)? {
            return Ok(Some(v.to_vec()));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn add_replace_delete_keep_order() {
        let t = tempfile::tempdir().unwrap();
        let table = Table::new(t.path().join("passwd.cdb"));
        let e = VpwEntry::new(b"*", b"./users/a", true, 1);
        table.add(b"Alice", &e).unwrap();
        table.add(b"bob", &e).unwrap();
        assert!(matches!(table.add(b"ALICE", &e), Err(TableError::Exists)));
        let mut e2 = e.clone();
        e2.personal = b"A".to_vec();
        table.replace(b"alice", &e2).unwrap();
        let l = table.list().unwrap().unwrap();
        assert_eq!(l[0].0, b"alice");
        assert_eq!(l[0].1.personal, b"A");
        assert_eq!(l[1].0, b"bob");
        table.delete(b"alice").unwrap();
        assert!(matches!(table.delete(b"alice"), Err(TableError::Missing)));
        assert!(table.get(b"alice").unwrap().is_none());
        table.add("jörg".as_bytes(), &e).unwrap();
        assert!(table.get("JÖrg".as_bytes()).unwrap().is_none());
        assert!(table.get("Jörg".as_bytes()).unwrap().is_some());
        std::fs::write(t.path().join("passwd.cdb.tmp"), b"").unwrap();
        assert!(matches!(table.add(b"x", &e), Err(TableError::Write(_))));
    }

    #[test]
    fn corrupt_table_is_an_error() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("passwd.cdb");
        std::fs::write(&p, [0u8; 100]).unwrap();
        assert!(matches!(
            Table::new(&p).get(b"a"),
            Err(TableError::Corrupt(_))
        ));
    }
}
