//! Delivering one message into a Maildir: create `tmp/NAME` exclusively,
//! write, fsync, close, link to `new/NAME` (or `cur/NAME`), unlink the tmp
//! name. Each step's failure is its own [`SaveError`] variant so that each
//! program maps it to its original's message and exit code.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// The step that failed, with the OS error.
#[derive(Debug)]
pub enum SaveError {
    /// `tmp/NAME` could not be created (exists, quota, permissions).
    Create(io::Error),
    /// Writing the content failed; the tmp file has been removed.
    Write(io::Error),
    /// Reading the message source failed; the tmp file has been removed.
    Read(io::Error),
    /// fsync or close failed; the tmp file has been removed.
    Sync(io::Error),
    /// The link into new/ failed; the tmp file has been removed.
    Link(io::Error),
    /// The tmp name could not be unlinked; the message *is* delivered.
    Unlink(io::Error),
}

impl std::fmt::Display for SaveError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SaveError::Create(e) => write!(f, "unable to create file in tmp/: {e}"),
            SaveError::Write(e) => write!(f, "unable to write file in tmp/: {e}"),
            SaveError::Read(e) => write!(f, "unable to read message: {e}"),
            SaveError::Sync(e) => write!(f, "unable to sync file in tmp/: {e}"),
            SaveError::Link(e) => write!(f, "unable to link tmp file into new/: {e}"),
            SaveError::Unlink(e) => write!(f, "unable to unlink tmp file: {e}"),
        }
    }
}

impl std::error::Error for SaveError {}

/// Where the finished file goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    New,
    Cur,
}

/// Deliver into `maildir` under `name` (the same name in tmp/ and in the
/// target); `fill` writes the content. Returns the final path.
pub fn save<F>(maildir: &Path, name: &str, target: Target, fill: F) -> Result<PathBuf, SaveError>
where
    F: FnOnce(&mut File) -> Result<(), FillError>,
{
    let tmp = maildir.join("tmp").join(name);
    let dest = maildir
        .join(match target {
            Target::New => "new",
            Target::Cur => "cur",
        })
        .join(name);
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(SaveError::Create)?;
    let discard = |e| {
        let _ = std::fs::remove_file(&tmp);
        e
    };
    fill(&mut f)
        .map_err(|e| match e {
            FillError::Read(e) => SaveError::Read(e),
            FillError::Write(e) => SaveError::Write(e),
        })
        .map_err(discard)?;
    f.flush().map_err(SaveError::Write).map_err(discard)?;
    f.sync_all().map_err(SaveError::Sync).map_err(discard)?;
    drop(f);
    std::fs::hard_link(&tmp, &dest)
        .map_err(SaveError::Link)
        .map_err(discard)?;
    std::fs::remove_file(&tmp).map_err(SaveError::Unlink)?;
    Ok(dest)
}

/// A failure inside the content writer: reading the source or writing out.
#[derive(Debug)]
pub enum FillError {
    Read(io::Error),
    Write(io::Error),
}

/// Copy `src` into `dst`, telling read failures from write failures.
pub fn copy_from(src: &mut dyn io::Read, dst: &mut File) -> Result<(), FillError> {
    let mut buf = [0u8; 64 * 1024];
    loop {
        let n = match src.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(FillError::Read(e)),
        };
        dst.write_all(&buf[..n]).map_err(FillError::Write)?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn maildir() -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        for sub in ["tmp", "new", "cur"] {
            std::fs::create_dir(d.path().join(sub)).unwrap();
        }
        d
    }

    #[test]
    fn message_lands_in_new_and_tmp_is_empty() {
        let d = maildir();
        let mut src: &[u8] = b"Subject: x\n\nbody\n";
        let p = save(d.path(), "1.2.host", Target::New, |f| {
            f.write_all(b"Delivered-To: a@b\n")
                .map_err(FillError::Write)?;
            copy_from(&mut src, f)
        })
        .unwrap();
        assert_eq!(
            std::fs::read(p).unwrap(),
            b"Delivered-To: a@b\nSubject: x\n\nbody\n"
        );
        assert_eq!(std::fs::read_dir(d.path().join("tmp")).unwrap().count(), 0);
    }

    #[test]
    fn existing_tmp_name_is_refused_and_kept() {
        let d = maildir();
        std::fs::write(d.path().join("tmp/n"), b"other").unwrap();
        let r = save(d.path(), "n", Target::New, |_| Ok(()));
        assert!(matches!(r, Err(SaveError::Create(_))));
        assert_eq!(std::fs::read(d.path().join("tmp/n")).unwrap(), b"other");
    }

    #[test]
    fn read_failure_leaves_nothing() {
        struct Broken;
        impl io::Read for Broken {
            fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
                Err(io::Error::other("boom"))
            }
        }
        let d = maildir();
        let r = save(d.path(), "n", Target::New, |f| copy_from(&mut Broken, f));
        assert!(matches!(r, Err(SaveError::Read(_))));
        assert_eq!(std::fs::read_dir(d.path().join("tmp")).unwrap().count(), 0);
        assert_eq!(std::fs::read_dir(d.path().join("new")).unwrap().count(), 0);
    }
}
