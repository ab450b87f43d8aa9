//! The selected (or STATUS-opened) mailbox: messages from the Maildir
//! sync ([`crate::maildir::sync`]), keyword names from `dovecot-keywords`,
//! this session's `\Recent` set, and the changes IMAP makes to files:
//! flag renames in `cur/` (Dovecot's `maildir_sync_flags`), expunge by
//! unlink plus uidlist rewrite.

use std::collections::HashSet;
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::maildir::filename::{self, Flags, ANSWERED, DELETED, DRAFT, FLAGGED, SEEN};
use crate::maildir::keywords::{self, Keywords};
use crate::maildir::sync::{self, Dir, Mailbox, Message, Mode};

const KEYWORDS: &str = "dovecot-keywords";
/// Our stand-in for the `first_recent_uid` of Dovecot's index header.
pub const RECENT_FILE: &str = "qmailrs-recent";

/// System flags in Dovecot's output order with their letters.
pub const SYSTEM: [(&str, u8); 5] = [
    ("\\Answered", ANSWERED),
    ("\\Flagged", FLAGGED),
    ("\\Deleted", DELETED),
    ("\\Seen", SEEN),
    ("\\Draft", DRAFT),
];

/// An open mailbox.
#[derive(Debug)]
pub struct Selected {
    pub name: String,
    pub read_only: bool,
    pub mbox: Mailbox,
    pub keywords: Keywords,
    pub recent: HashSet<u32>,
    /// The first UID no read-write session has taken as `\Recent` yet.
    pub first_recent: u32,
    /// UIDs this session stored into itself (APPEND/COPY), `\Recent`
    /// for it from the next sync on.
    pub claimed: Vec<u32>,
}

/// The mailbox's first not yet taken `\Recent` UID (Dovecot's
/// `first_recent_uid`, kept in its index; ours is the file
/// [`RECENT_FILE`]: `<uidvalidity> <uid>`), if recorded for this
/// UIDVALIDITY.
pub fn first_recent(dir: &Path, uid_validity: u32) -> Option<u32> {
    let data = fs::read_to_string(dir.join(RECENT_FILE)).ok()?;
    let (v, u) = data.trim_end().split_once(' ')?;
    (v.parse::<u32>().ok()? == uid_validity).then_some(())?;
    u.parse().ok()
}

/// Record the first not yet taken `\Recent` UID.
pub fn set_first_recent(dir: &Path, uid_validity: u32, uid: u32) -> io::Result<()> {
    write_atomic(
        &dir.join(RECENT_FILE),
        format!("{uid_validity} {uid}\n").as_bytes(),
    )
}

/// Read a mailbox's keyword file (missing = none).
pub fn read_keywords(dir: &Path) -> Keywords {
    fs::read(dir.join(KEYWORDS))
        .map(|d| keywords::parse(&d))
        .unwrap_or_default()
}

fn write_atomic(path: &Path, data: &[u8]) -> io::Result<()> {
    let tmp = path.with_extension("tmp");
    let mut f = fs::File::create(&tmp)?;
    f.write_all(data)?;
    drop(f);
    fs::rename(&tmp, path)
}

impl Selected {
    /// Open `name` at `path` (root = the account's Maildir).
    pub fn open(root: &Path, name: &str, path: &Path, read_only: bool) -> io::Result<Selected> {
        let mode = if read_only {
            Mode::ReadOnly
        } else {
            Mode::ReadWrite
        };
        let mbox = sync::open(path, root, mode)?;
        let validity = mbox.list.uid_validity;
        let next = mbox.list.next_uid();
        let stored = first_recent(path, validity).filter(|&u| u <= next);
        // Without a record: mail still in new/ means no session has
        // taken this mailbox yet (Dovecot without its index: all of it
        // is recent); an empty new/ means one did.
        let first = stored.unwrap_or_else(|| {
            if mbox.messages.iter().any(|m| m.recent) {
                1
            } else {
                next
            }
        });
        let recent = mbox
            .messages
            .iter()
            .filter(|m| m.recent || m.uid >= first)
            .map(|m| m.uid)
            .collect();
        // A read-write open takes them (Dovecot moves first_recent_uid).
        if !read_only && stored != Some(next) {
            set_first_recent(path, validity, next)?;
        }
        Ok(Selected {
            name: name.to_string(),
            read_only,
            keywords: read_keywords(path),
            mbox,
            recent,
            first_recent: first,
            claimed: Vec::new(),
        })
    }

    pub fn path(&self) -> &PathBuf {
        &self.mbox.path
    }

    pub fn count(&self) -> usize {
        self.mbox.messages.len()
    }

    pub fn message(&self, seq: usize) -> Option<&Message> {
        self.mbox.messages.get(seq.wrapping_sub(1))
    }

    /// `(\Answered ... keywords)` of the FLAGS / PERMANENTFLAGS lines.
    pub fn flag_names(&self) -> String {
        let mut v: Vec<String> = SYSTEM.iter().map(|(n, _)| n.to_string()).collect();
        v.extend(self.keywords.iter().map(|(_, n)| n.to_string()));
        v.join(" ")
    }

    /// A message's flags as IMAP shows them.
    pub fn flags_of(&self, m: &Message) -> String {
        let f = m.flags();
        let mut v: Vec<&str> = SYSTEM
            .iter()
            .filter(|(_, l)| f.has(*l))
            .map(|(n, _)| *n)
            .collect();
        if self.recent.contains(&m.uid) {
            v.push("\\Recent");
        }
        let mut kw: Vec<usize> = f.keywords().collect();
        kw.sort_unstable();
        v.extend(kw.iter().filter_map(|&i| self.keywords.name(i)));
        format!("({})", v.join(" "))
    }

    pub fn first_unseen(&self) -> Option<usize> {
        self.mbox
            .messages
            .iter()
            .position(|m| !m.flags().has(SEEN))
            .map(|i| i + 1)
    }

    pub fn unseen(&self) -> usize {
        self.mbox
            .messages
            .iter()
            .filter(|m| !m.flags().has(SEEN))
            .count()
    }

    /// The keyword index of `name`, adding it to `dovecot-keywords` when
    /// new; `Ok(None)` when all 26 letters are taken.
    pub fn keyword_index(&mut self, name: &str, added: &mut bool) -> io::Result<Option<usize>> {
        if let Some(i) = self.keywords.index(name) {
            return Ok(Some(i));
        }
        let _lock = sync::lock(&self.mbox.path)?;
        self.keywords = read_keywords(&self.mbox.path);
        if let Some(i) = self.keywords.index(name) {
            return Ok(Some(i));
        }
        let Some(i) = self.keywords.add(name) else {
            return Ok(None);
        };
        let mut out = Vec::new();
        keywords::write(&self.keywords, &mut out);
        write_atomic(&self.mbox.path.join(KEYWORDS), &out)?;
        *added = true;
        Ok(Some(i))
    }

    /// Give message `idx` the flags `f` by renaming its file.
    pub fn set_flags(&mut self, idx: usize, f: &Flags) -> io::Result<()> {
        let Some(m) = self.mbox.messages.get(idx).cloned() else {
            return Ok(());
        };
        let mut m = m;
        let new_name = f.name_for(m.base());
        if new_name == m.name && m.dir == Dir::Cur {
            return Ok(());
        }
        for _ in 0..3 {
            let from = self.mbox.file(&m);
            let to = self.mbox.path.join("cur").join(&new_name);
            match fs::rename(&from, &to) {
                Ok(()) => {
                    m.dir = Dir::Cur;
                    m.name = new_name;
                    self.mbox.messages[idx] = m;
                    return Ok(());
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    if !self.mbox.relocate(&mut m)? {
                        return Ok(());
                    }
                }
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Remove the messages at these indexes (ascending); returns the
    /// sequence numbers to report, in order, as they shift.
    pub fn expunge(&mut self, idxs: &[usize]) -> io::Result<Vec<usize>> {
        let mut gone = Vec::new();
        for &i in idxs {
            let mut m = self.mbox.messages[i].clone();
            match fs::remove_file(self.mbox.file(&m)) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    if self.mbox.relocate(&mut m)? {
                        let _ = fs::remove_file(self.mbox.file(&m));
                    }
                }
                Err(e) => return Err(e),
            }
            gone.push(m.uid);
        }
        let set: HashSet<u32> = gone.iter().copied().collect();
        self.mbox
            .update(|l| l.records.retain(|r| !set.contains(&r.uid)))?;
        let mut seqs = Vec::new();
        for (k, &i) in idxs.iter().enumerate() {
            seqs.push(i + 1 - k);
        }
        self.mbox.messages.retain(|m| !set.contains(&m.uid));
        for u in &gone {
            self.recent.remove(u);
        }
        Ok(seqs)
    }

    /// The message file's bytes.
    pub fn read(&self, idx: usize) -> io::Result<Vec<u8>> {
        let mut m = self.mbox.messages[idx].clone();
        match fs::read(self.mbox.file(&m)) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                if self.mbox.relocate(&mut m)? {
                    fs::read(self.mbox.file(&m))
                } else {
                    Err(e)
                }
            }
            r => r,
        }
    }

    /// The file's mtime (INTERNALDATE).
    pub fn mtime(&self, idx: usize) -> i64 {
        use std::os::unix::fs::MetadataExt;
        let m = &self.mbox.messages[idx];
        fs::metadata(self.mbox.file(m)).map_or(0, |md| md.mtime())
    }

    /// Virtual (CRLF) size: from the name or record, else by reading.
    pub fn virtual_size(&self, idx: usize) -> io::Result<u64> {
        let m = &self.mbox.messages[idx];
        if let Some(s) = self.mbox.known_virtual_size(m) {
            return Ok(s);
        }
        Ok(filename::virtual_size(&self.read(idx)?))
    }
}
