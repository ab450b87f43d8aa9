//! The install hierarchy of `/var/qmail`, as one declarative table
//! (qmail's `hier.c`; `shared/spec/qmail/queue.md` §1, `binaries.md`).
//!
//! One list of (path, owner role, group, mode, kind) drives
//! [`install`] (directories, the queue, the lock files), readiness checks
//! and the privilege-map tests. Programs are listed with their modes but
//! not created by [`install`]; [`link_programs`] puts built binaries in
//! place for tests and the demo.

use std::fs;
use std::io;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::Path;

use crate::ids::{self, Role, RoleGroup};
use crate::queue::layout::DEFAULT_SPLIT;

/// What an entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A directory (`d`, `h`).
    Dir,
    /// A regular file of this many NUL bytes (`z`), made only if missing.
    Zeros(usize),
    /// A named pipe (`p`).
    Fifo,
    /// An installed program (`c` into `bin/`); not made by [`install`].
    Program,
}

/// One row of the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Path relative to the qmail home; empty for the home itself.
    pub path: String,
    pub owner: Role,
    pub group: RoleGroup,
    pub mode: u32,
    pub kind: Kind,
}

fn e(path: &str, owner: Role, mode: u32, kind: Kind) -> Entry {
    Entry {
        path: path.to_string(),
        owner,
        group: RoleGroup::Qmail,
        mode,
        kind,
    }
}

/// The programs of `bin/`, with their owner and mode (`hier.c`).
pub const PROGRAMS: &[(&str, Role, u32)] = &[
    ("qmail-queue", Role::Qmailq, 0o4711),
    // A qmail-rs addition: the resident queue writer, run as qmailq.
    ("qmail-queued", Role::Root, 0o755),
    ("qmail-lspawn", Role::Root, 0o700),
    ("qmail-start", Role::Root, 0o700),
    ("qmail-getpw", Role::Root, 0o711),
    ("qmail-local", Role::Root, 0o711),
    ("qmail-remote", Role::Root, 0o711),
    ("qmail-rspawn", Role::Root, 0o711),
    ("qmail-clean", Role::Root, 0o711),
    ("qmail-send", Role::Root, 0o711),
    ("splogger", Role::Root, 0o711),
    ("qmail-newu", Role::Root, 0o700),
    ("qmail-newmrh", Role::Root, 0o700),
    ("qmail-pw2u", Role::Root, 0o711),
    ("qmail-inject", Role::Root, 0o755),
    ("predate", Role::Root, 0o755),
    ("datemail", Role::Root, 0o755),
    ("mailsubj", Role::Root, 0o755),
    ("qmail-showctl", Role::Root, 0o755),
    ("qmail-qread", Role::Root, 0o755),
    ("qmail-qstat", Role::Root, 0o755),
    ("qmail-tcpto", Role::Root, 0o755),
    ("qmail-tcpok", Role::Root, 0o755),
    ("qmail-pop3d", Role::Root, 0o755),
    ("qmail-popup", Role::Root, 0o711),
    ("qmail-qmqpc", Role::Root, 0o755),
    ("qmail-qmqpd", Role::Root, 0o755),
    ("qmail-qmtpd", Role::Root, 0o755),
    ("qmail-smtpd", Role::Root, 0o755),
    ("sendmail", Role::Root, 0o755),
    ("tcp-env", Role::Root, 0o755),
    ("qreceipt", Role::Root, 0o755),
    ("qsmhook", Role::Root, 0o755),
    ("qbiff", Role::Root, 0o755),
    ("forward", Role::Root, 0o755),
    ("preline", Role::Root, 0o755),
    ("condredirect", Role::Root, 0o755),
    ("bouncesaying", Role::Root, 0o755),
    ("except", Role::Root, 0o755),
    ("maildirmake", Role::Root, 0o755),
    ("maildir2mbox", Role::Root, 0o755),
    ("maildirwatch", Role::Root, 0o755),
    ("qail", Role::Root, 0o755),
    ("elq", Role::Root, 0o755),
    ("pinq", Role::Root, 0o755),
    ("update_tmprsadh", Role::Root, 0o755),
];

/// The whole table, in `hier.c`'s order, for a queue split `split`.
pub fn entries(split: u64) -> Vec<Entry> {
    use Kind::*;
    use Role::*;
    let mut v = vec![e("", Root, 0o755, Dir)];
    for d in [
        "control", "users", "bin", "boot", "doc", "man", "man/cat1", "man/cat5", "man/cat7",
        "man/cat8", "man/man1", "man/man5", "man/man7", "man/man8",
    ] {
        v.push(e(d, Root, 0o755, Dir));
    }
    v.push(e("alias", Alias, 0o2755, Dir));
    v.push(e("queue", Qmailq, 0o750, Dir));
    v.push(e("queue/pid", Qmailq, 0o700, Dir));
    v.push(e("queue/intd", Qmailq, 0o700, Dir));
    v.push(e("queue/todo", Qmailq, 0o750, Dir));
    v.push(e("queue/bounce", Qmails, 0o700, Dir));
    for (base, owner, mode) in [
        ("queue/mess", Qmailq, 0o750),
        ("queue/info", Qmails, 0o700),
        ("queue/local", Qmails, 0o700),
        ("queue/remote", Qmails, 0o700),
    ] {
        v.push(e(base, owner, mode, Dir));
        for i in 0..split {
            v.push(e(&format!("{base}/{i}"), owner, mode, Dir));
        }
    }
    v.push(e("queue/lock", Qmailq, 0o750, Dir));
    v.push(e("queue/lock/tcpto", Qmailr, 0o644, Zeros(1024)));
    v.push(e("queue/lock/sendmutex", Qmails, 0o600, Zeros(0)));
    v.push(e("queue/lock/trigger", Qmails, 0o622, Fifo));
    for &(name, owner, mode) in PROGRAMS {
        v.push(e(&format!("bin/{name}"), owner, mode, Program));
    }
    v
}

/// True when ownership is to be set: running as root, not single-user.
fn chown_wanted() -> bool {
    !ids::single_user()
}

fn ids_err(e: ids::IdError) -> io::Error {
    io::Error::other(e.to_string())
}

/// Create one entry under `home` (existing ones get their mode and owner
/// fixed; existing files keep their contents).
fn make(home: &Path, entry: &Entry) -> io::Result<()> {
    let path = if entry.path.is_empty() {
        home.to_path_buf()
    } else {
        home.join(&entry.path)
    };
    match entry.kind {
        Kind::Program => return Ok(()),
        Kind::Dir => match fs::create_dir(&path) {
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists && path.is_dir() => {}
            r => r?,
        },
        Kind::Zeros(n) => {
            match fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path)
            {
                Ok(f) => {
                    io::Write::write_all(&mut &f, &vec![0u8; n])?;
                    f.sync_all()?;
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(e),
            }
        }
        Kind::Fifo => {
            let mode = nix::sys::stat::Mode::from_bits_truncate(0o600);
            match nix::unistd::mkfifo(&path, mode) {
                Ok(()) | Err(nix::errno::Errno::EEXIST) => {}
                Err(e) => return Err(io::Error::from(e)),
            }
        }
    }
    if chown_wanted() {
        let uid = ids::uid(entry.owner).map_err(ids_err)?;
        let gid = ids::gid(entry.group).map_err(ids_err)?;
        nix::unistd::chown(&path, Some(uid), Some(gid)).map_err(io::Error::from)?;
    }
    // After chown: chown clears the set-id bits.
    fs::set_permissions(&path, fs::Permissions::from_mode(entry.mode))
}

/// Create the whole tree (stock split) under `qmail_home`, like
/// `qmail-install` without the programs and documents. Idempotent.
pub fn install(qmail_home: &Path) -> io::Result<()> {
    install_split(qmail_home, DEFAULT_SPLIT)
}

/// [`install`] with another conf-split.
pub fn install_split(qmail_home: &Path, split: u64) -> io::Result<()> {
    if let Some(parent) = qmail_home.parent() {
        fs::create_dir_all(parent)?;
    }
    for entry in entries(split) {
        make(qmail_home, &entry).map_err(|e| {
            io::Error::new(
                e.kind(),
                format!(
                    "unable to install {}/{}: {e}",
                    qmail_home.display(),
                    entry.path
                ),
            )
        })?;
    }
    Ok(())
}

/// Symlink each program of [`PROGRAMS`] found in `built` (e.g. cargo's
/// target directory) into `qmail_home/bin`; for tests and the demo, where
/// modes and set-uid bits of the real install do not apply.
pub fn link_programs(qmail_home: &Path, built: &Path) -> io::Result<()> {
    for &(name, _, _) in PROGRAMS {
        let src = built.join(name);
        if !src.is_file() {
            continue;
        }
        let dst = qmail_home.join("bin").join(name);
        match fs::remove_file(&dst) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
        symlink(&src, &dst)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{FileTypeExt, MetadataExt};

    #[test]
    fn table_matches_queue_md() {
        let t = entries(23);
        let find = |p: &str| t.iter().find(|e| e.path == p).unwrap().clone();
        assert_eq!(find("queue/mess/22").mode, 0o750);
        assert_eq!(find("queue/info/0").owner, Role::Qmails);
        assert_eq!(find("queue/lock/trigger").mode, 0o622);
        assert_eq!(find("queue/lock/tcpto").kind, Kind::Zeros(1024));
        assert_eq!(find("bin/qmail-queue").mode, 0o4711);
        assert_eq!(find("alias").mode, 0o2755);
        assert!(!t.iter().any(|e| e.path == "queue/mess/23"));
    }

    #[test]
    fn install_makes_a_queue_and_is_idempotent() {
        let d = tempfile::tempdir().unwrap();
        let home = d.path().join("var/qmail");
        install(&home).unwrap();
        std::fs::write(home.join("queue/lock/tcpto"), b"x").unwrap();
        install(&home).unwrap();
        assert_eq!(std::fs::read(home.join("queue/lock/tcpto")).unwrap(), b"x");
        let m = std::fs::metadata(home.join("queue/lock/trigger")).unwrap();
        assert!(m.file_type().is_fifo());
        assert_eq!(m.mode() & 0o7777, 0o622);
        let m = std::fs::metadata(home.join("queue/mess/7")).unwrap();
        assert_eq!(m.mode() & 0o7777, 0o750);
    }
}
