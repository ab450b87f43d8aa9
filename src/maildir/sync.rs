//! Opening a Maildir mailbox the way Dovecot syncs it
//! (`shared/spec/dovecot/maildir.md` §8): lock `dovecot-uidlist.lock`,
//! read the uidlist, scan `new/` and `cur/`, move `new/` to `cur/` in a
//! read-write open, give files without a record the next UIDs (in
//! [`uid_order`]), and append to or atomically rewrite the uidlist.
//!
//! A uidlist that is missing or broken gets a fresh UIDVALIDITY from the
//! account's `dovecot-uidvalidity` counter (broken ones are reported on
//! stderr with their path), as Dovecot recreates it.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use super::dotlock::{DotLock, STALE, WAIT};
use super::filename::{self, uid_order, Flags};
use super::uidlist::{self, Record, Uidlist};
use super::uidvalidity;

const UIDLIST: &str = "dovecot-uidlist";
const LOCK: &str = "dovecot-uidlist.lock";

/// Which subdirectory a file is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dir {
    New,
    Cur,
}

impl Dir {
    fn name(self) -> &'static str {
        match self {
            Dir::New => "new",
            Dir::Cur => "cur",
        }
    }
}

/// One message as found by the sync.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub uid: u32,
    pub dir: Dir,
    /// Full file name (base plus info).
    pub name: String,
    /// Was in `new/` when this open moved it (this session's `\Recent`).
    pub recent: bool,
}

impl Message {
    /// The base name (identity).
    pub fn base(&self) -> &str {
        filename::base(&self.name)
    }

    /// The flags in the name.
    pub fn flags(&self) -> Flags {
        Flags::of(&self.name)
    }
}

/// An opened mailbox.
#[derive(Debug, Clone)]
pub struct Mailbox {
    pub path: PathBuf,
    pub list: Uidlist,
    /// In UID order.
    pub messages: Vec<Message>,
}

/// How to open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// EXAMINE / STATUS: nothing moves.
    ReadOnly,
    /// SELECT / POP3 login: `new/` moves to `cur/` and is `\Recent`.
    ReadWrite,
}

fn now_secs() -> u32 {
    let s = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    u32::try_from(s).unwrap_or(u32::MAX)
}

/// 32 lower-case hex digits from the kernel's random source.
pub fn new_guid() -> io::Result<String> {
    let mut b = [0u8; 16];
    let mut f = fs::File::open("/dev/urandom")?;
    io::Read::read_exact(&mut f, &mut b)?;
    Ok(b.iter().map(|x| format!("{x:02x}")).collect())
}

/// Take the mailbox lock.
pub fn lock(mailbox: &Path) -> io::Result<DotLock> {
    DotLock::acquire(&mailbox.join(LOCK), STALE, WAIT)
}

fn list_dir(dir: &Path) -> io::Result<Vec<String>> {
    let mut v = Vec::new();
    let rd = match fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(v),
        Err(e) => return Err(e),
    };
    for e in rd {
        let e = e?;
        let Ok(name) = e.file_name().into_string() else {
            continue;
        };
        if name.starts_with('.') || name.contains(['\r', '\n']) || name.starts_with(':') {
            continue;
        }
        v.push(name);
    }
    Ok(v)
}

/// Read the uidlist; `Ok(None)` when missing or broken.
fn read_uidlist(mailbox: &Path) -> io::Result<Option<uidlist::Parsed>> {
    let path = mailbox.join(UIDLIST);
    match fs::read(&path) {
        Ok(data) => match uidlist::parse(&data) {
            Ok(p) => Ok(Some(p)),
            Err(e) => {
                eprintln!("warning: {}: broken, recreating: {e}", path.display());
                Ok(None)
            }
        },
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// Write the whole uidlist atomically (`dovecot-uidlist.tmp` + rename);
/// the caller holds the lock.
pub fn rewrite_uidlist(mailbox: &Path, list: &Uidlist) -> io::Result<()> {
    let mut l = list.clone();
    l.next_uid = l.next_uid();
    let mut out = Vec::new();
    uidlist::write(&l, &mut out);
    let tmp = mailbox.join("dovecot-uidlist.tmp");
    let mut f = fs::File::create(&tmp)?;
    f.write_all(&out)?;
    f.sync_data()?;
    drop(f);
    fs::rename(&tmp, mailbox.join(UIDLIST))
}

fn append_uidlist(mailbox: &Path, records: &[Record]) -> io::Result<()> {
    let mut out = Vec::new();
    for r in records {
        uidlist::write_record(r, &mut out);
    }
    let mut f = fs::OpenOptions::new()
        .append(true)
        .open(mailbox.join(UIDLIST))?;
    f.write_all(&out)?;
    f.sync_data()
}

/// Dovecot's `maildir_uidlist_want_compress()`: rewrite when at most 75 %
/// of the records read plus the new ones remain.
fn want_compress(read: usize, new: usize, remaining: usize) -> bool {
    (read + new) * 75 / 100 >= remaining
}

/// Open (sync) the mailbox at `path`; `account` is the root Maildir that
/// holds `dovecot-uidvalidity`.
pub fn open(path: &Path, account: &Path, mode: Mode) -> io::Result<Mailbox> {
    let _lock = lock(path)?;
    let (mut list, mut rewrite, fresh) = match read_uidlist(path)? {
        Some(p) => (p.list, p.needs_rewrite, false),
        None => {
            let v = uidvalidity::next(account, now_secs())?;
            (Uidlist::new(v, new_guid()?), true, true)
        }
    };
    if list.guid.is_none() {
        list.guid = Some(new_guid()?);
    }
    // base -> (dir, full name, recent)
    let mut found: Vec<(Dir, String, bool)> = Vec::new();
    let cur = list_dir(&path.join("cur"))?;
    let cur_bases: std::collections::HashSet<String> =
        cur.iter().map(|n| filename::base(n).to_string()).collect();
    for name in list_dir(&path.join("new"))? {
        if cur_bases.contains(filename::base(&name)) {
            continue;
        }
        if mode == Mode::ReadWrite {
            let target = if filename::info(&name).is_some() {
                name.clone()
            } else {
                format!("{name}:2,")
            };
            match fs::rename(path.join("new").join(&name), path.join("cur").join(&target)) {
                Ok(()) => found.push((Dir::Cur, target, true)),
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        } else {
            found.push((Dir::New, name, true));
        }
    }
    found.extend(cur.into_iter().map(|n| (Dir::Cur, n, false)));
    let mut by_base: std::collections::HashMap<String, (Dir, String, bool)> =
        std::collections::HashMap::new();
    for (d, n, r) in found {
        by_base
            .entry(filename::base(&n).to_string())
            .or_insert((d, n, r));
    }
    // Records without files are expunged; the file is rewritten without
    // them only when Dovecot would compress it (see [`want_compress`]).
    let read = if fresh { 0 } else { list.records.len() };
    list.records.retain(|r| by_base.contains_key(&r.base));
    let dropped = list.records.len() != read && !fresh;
    let mut messages = Vec::new();
    for r in &list.records {
        if let Some((d, n, rec)) = by_base.remove(&r.base) {
            messages.push(Message {
                uid: r.uid,
                dir: d,
                name: n,
                recent: rec,
            });
        }
    }
    let mut new: Vec<(Dir, String, bool)> = by_base.into_values().collect();
    new.sort_by(|a, b| uid_order(filename::base(&a.1), filename::base(&b.1)));
    let mut uid = list.next_uid();
    let mut added = Vec::new();
    for (d, n, r) in new {
        let rec = Record::new(uid, filename::base(&n));
        messages.push(Message {
            uid,
            dir: d,
            name: n,
            recent: r,
        });
        added.push(rec);
        uid = uid.saturating_add(1);
    }
    list.records.extend(added.iter().cloned());
    rewrite |= dropped && want_compress(read, added.len(), list.records.len());
    if rewrite || fresh {
        rewrite_uidlist(path, &list)?;
    } else if !added.is_empty() {
        append_uidlist(path, &added)?;
    }
    Ok(Mailbox {
        path: path.to_path_buf(),
        list,
        messages,
    })
}

impl Mailbox {
    /// The current path of a message's file.
    pub fn file(&self, m: &Message) -> PathBuf {
        self.path.join(m.dir.name()).join(&m.name)
    }

    /// Find a message's file again by base name when it was renamed by
    /// another process; updates `m`.
    pub fn relocate(&self, m: &mut Message) -> io::Result<bool> {
        if self.file(m).exists() {
            return Ok(true);
        }
        let base = m.base().to_string();
        for d in [Dir::Cur, Dir::New] {
            for n in list_dir(&self.path.join(d.name()))? {
                if filename::base(&n) == base {
                    m.dir = d;
                    m.name = n;
                    return Ok(true);
                }
            }
        }
        Ok(false)
    }

    /// The record of UID `uid`.
    pub fn record(&self, uid: u32) -> Option<&Record> {
        self.list.records.iter().find(|r| r.uid == uid)
    }

    /// Physical size: `,S=` in the name, the `S` record field, or stat.
    pub fn physical_size(&self, m: &Message) -> io::Result<u64> {
        if let Some(s) = filename::size_field(&m.name, b'S') {
            return Ok(s);
        }
        if let Some(s) = self.record(m.uid).and_then(|r| r.get(b'S')?.parse().ok()) {
            return Ok(s);
        }
        Ok(fs::metadata(self.file(m))?.len())
    }

    /// Virtual size from the name or the `W` field, if known without
    /// reading the file.
    pub fn known_virtual_size(&self, m: &Message) -> Option<u64> {
        filename::size_field(&m.name, b'W')
            .or_else(|| self.record(m.uid).and_then(|r| r.get(b'W')?.parse().ok()))
    }

    /// Under the lock, re-read the uidlist, let `f` change it (records of
    /// other writers kept), and rewrite it. Records of messages this sync
    /// found expunged are left out, as Dovecot's rewrite leaves them out.
    pub fn update(&mut self, f: impl FnOnce(&mut Uidlist)) -> io::Result<()> {
        let _lock = lock(&self.path)?;
        if let Some(p) = read_uidlist(&self.path)? {
            if p.list.uid_validity == self.list.uid_validity {
                let top = self.messages.iter().map(|m| m.uid).max().unwrap_or(0);
                let known: std::collections::HashSet<u32> =
                    self.messages.iter().map(|m| m.uid).collect();
                self.list = p.list;
                self.list
                    .records
                    .retain(|r| r.uid > top || known.contains(&r.uid));
            }
        }
        f(&mut self.list);
        rewrite_uidlist(&self.path, &self.list)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn maildir() -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        for s in ["cur", "new", "tmp"] {
            fs::create_dir(d.path().join(s)).unwrap();
        }
        d
    }

    #[test]
    fn fresh_mailbox_gets_uids_in_name_order() {
        let d = maildir();
        let p = d.path();
        fs::write(p.join("new/1700000004.2004.h"), b"x\n").unwrap();
        fs::write(p.join("new/1700000003.M3P1.h"), b"x\n").unwrap();
        fs::write(p.join("cur/1700000001.M1P1.h,S=2:2,S"), b"x\n").unwrap();
        let m = open(p, p, Mode::ReadOnly).unwrap();
        let names: Vec<_> = m.messages.iter().map(|m| (m.uid, m.base())).collect();
        assert_eq!(
            names,
            [
                (1, "1700000001.M1P1.h,S=2"),
                (2, "1700000003.M3P1.h"),
                (3, "1700000004.2004.h")
            ]
        );
        assert!(p.join("new/1700000004.2004.h").exists());
        let v = m.list.uid_validity;
        let m = open(p, p, Mode::ReadWrite).unwrap();
        assert_eq!(m.list.uid_validity, v);
        assert!(p.join("cur/1700000004.2004.h:2,").exists());
        assert!(m.messages[2].recent);
        fs::write(p.join("new/1800000000.1.h"), b"y\n").unwrap();
        fs::remove_file(p.join("cur/1700000001.M1P1.h,S=2:2,S")).unwrap();
        let m = open(p, p, Mode::ReadWrite).unwrap();
        assert_eq!(
            m.messages.iter().map(|m| m.uid).collect::<Vec<_>>(),
            [2, 3, 4]
        );
        let text = fs::read_to_string(p.join(UIDLIST)).unwrap();
        assert!(text.starts_with(&format!("3 V{v} N5 G")), "{text}");
        assert!(!p.join(LOCK).exists());
    }
}
