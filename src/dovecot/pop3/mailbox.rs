//! The POP3 view of INBOX (`shared/spec/dovecot/pop3.md` §2-§4;
//! `src/pop3/pop3-client.c` `read_mailbox()`, `pop3-commands.c`
//! `client_update_mails()`): a read-write sync at login (new/ moves to
//! cur/, new files get UIDs), messages in POP3 order (`O` field first,
//! then UID), virtual sizes from `,W=`, the `W` field or the file (then
//! stored as `W` in the uidlist, as Dovecot caches them), UIDLs from
//! `P` or `pop3_uidl_format`; at QUIT the DELEted files are unlinked and
//! the RETRed ones get `\Seen`.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use super::uidl::{Format, Values};
use crate::maildir::filename::{self, Flags, SEEN};
use crate::maildir::sync::{self, Mailbox, Message, Mode};

/// One message as the session sees it.
#[derive(Debug, Clone)]
pub struct Msg {
    pub uid: u32,
    /// Index into the mailbox's message list.
    idx: usize,
    /// Virtual size (CRLF line ends).
    pub size: u64,
    pub uidl: String,
    /// `\Seen` when the session started.
    pub seen: bool,
}

/// The snapshot taken at login.
#[derive(Debug)]
pub struct Inbox {
    mb: Mailbox,
    pub msgs: Vec<Msg>,
    pub uid_validity: u32,
}

/// A message file that could not be read (the client sees
/// `-ERR Message N expunged.`).
#[derive(Debug)]
pub struct Expunged;

fn pop3_order(mb: &Mailbox) -> Vec<usize> {
    let order = |m: &Message| {
        mb.record(m.uid)
            .and_then(|r| r.get(b'O'))
            .and_then(|o| o.parse::<u32>().ok())
    };
    let mut idx: Vec<usize> = (0..mb.messages.len()).collect();
    // Messages with an O field first (ascending), the rest in UID order.
    idx.sort_by_key(|&i| {
        let m = &mb.messages[i];
        match order(m) {
            Some(o) => (0, o, m.uid),
            None => (1, 0, m.uid),
        }
    });
    idx
}

fn read_message(mb: &mut Mailbox, idx: usize) -> Result<Vec<u8>, Expunged> {
    let mut m = mb.messages[idx].clone();
    match fs::read(mb.file(&m)) {
        Ok(d) => return Ok(d),
        Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(Expunged),
        Err(_) => {}
    }
    // Renamed by another process (flag change): find it by base name.
    if !mb.relocate(&mut m).unwrap_or(false) {
        return Err(Expunged);
    }
    let data = fs::read(mb.file(&m)).map_err(|_| Expunged)?;
    mb.messages[idx] = m;
    Ok(data)
}

impl Inbox {
    /// Sync and snapshot the INBOX at `path` (the root Maildir).
    pub fn open(path: &Path, format: &Format) -> io::Result<Inbox> {
        let mut last_err = None;
        // Dovecot retries when messages vanish while it reads sizes.
        for _ in 0..3 {
            match Inbox::try_open(path, format) {
                Ok(Some(i)) => return Ok(i),
                Ok(None) => {}
                Err(e) => last_err = Some(e),
            }
        }
        Err(last_err.unwrap_or_else(|| io::Error::other("Messages keep getting expunged")))
    }

    fn try_open(path: &Path, format: &Format) -> io::Result<Option<Inbox>> {
        let mut mb = sync::open(path, path, Mode::ReadWrite)?;
        let uid_validity = mb.list.uid_validity;
        let mut msgs = Vec::with_capacity(mb.messages.len());
        let mut computed: Vec<(u32, u64)> = Vec::new();
        for idx in pop3_order(&mb) {
            let m = mb.messages[idx].clone();
            let size = match mb.known_virtual_size(&m) {
                Some(s) => s,
                None => match read_message(&mut mb, idx) {
                    Ok(d) => {
                        let s = filename::virtual_size(&d);
                        computed.push((m.uid, s));
                        s
                    }
                    Err(Expunged) => return Ok(None),
                },
            };
            let rec = mb.record(m.uid);
            let uidl = match rec.and_then(|r| r.get(b'P')).filter(|p| !p.is_empty()) {
                Some(p) => p.to_string(),
                None => format.expand(&Values {
                    uid_validity,
                    uid: m.uid,
                    file_name: m.base(),
                    guid: rec.and_then(|r| r.get(b'G')).unwrap_or(m.base()),
                }),
            };
            msgs.push(Msg {
                uid: m.uid,
                idx,
                size,
                uidl,
                seen: m.flags().has(SEEN),
            });
        }
        if !computed.is_empty() {
            // Dovecot keeps the sizes it computed as W fields.
            mb.update(|l| {
                for r in l.records.iter_mut() {
                    if let Some(&(_, s)) = computed.iter().find(|c| c.0 == r.uid) {
                        if r.get(b'W').is_none() {
                            r.set(b'W', s.to_string());
                        }
                    }
                }
            })?;
        }
        Ok(Some(Inbox {
            mb,
            msgs,
            uid_validity,
        }))
    }

    /// The bytes of message `n` (0-based).
    pub fn read(&mut self, n: usize) -> Result<Vec<u8>, Expunged> {
        let idx = self.msgs[n].idx;
        read_message(&mut self.mb, idx)
    }

    /// The mailbox directory.
    pub fn path(&self) -> &PathBuf {
        &self.mb.path
    }

    /// QUIT's update: unlink `deleted`, add `\Seen` to `seen` (both
    /// 0-based message numbers), then sync again (new mail gets UIDs, the
    /// uidlist may forget the expunged records).
    pub fn commit(&mut self, deleted: &[bool], seen: &[bool]) -> io::Result<()> {
        for n in 0..self.msgs.len() {
            let idx = self.msgs[n].idx;
            let mut m = self.mb.messages[idx].clone();
            let del = deleted.get(n).copied().unwrap_or(false);
            let see = seen.get(n).copied().unwrap_or(false);
            if !del && !see {
                continue;
            }
            if !self.mb.relocate(&mut m)? {
                continue;
            }
            if del {
                match fs::remove_file(self.mb.file(&m)) {
                    Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
                    _ => {}
                }
                continue;
            }
            let mut flags = Flags::of(&m.name);
            if flags.has(SEEN) {
                continue;
            }
            flags.set(SEEN, true);
            let name = flags.name_for(m.base());
            let from = self.mb.file(&m);
            let to = self.mb.path.join("cur").join(&name);
            match fs::rename(&from, &to) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
        }
        // QUIT always syncs (MAILBOX_SYNC_FLAG_FULL_WRITE): mail that came
        // during the session moves to cur/ and gets its UID now.
        sync::open(&self.mb.path, &self.mb.path, Mode::ReadWrite)?;
        Ok(())
    }
}
