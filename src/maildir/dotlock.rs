//! Dovecot's dotlocks (`dovecot-uidlist.lock`, `subscriptions.lock`;
//! `shared/spec/dovecot/maildir.md` §3 "Locking"): the lock is a file
//! created with `O_EXCL` holding `<pid>:<host>`; it is stale after
//! [`STALE`] without modification and then overridden. Dropping the guard
//! unlinks it.

use std::fs::OpenOptions;
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

/// A lock older than this (mtime) is overridden.
pub const STALE: Duration = Duration::from_secs(120);
/// Waiters give up after this long.
pub const WAIT: Duration = Duration::from_secs(122);

/// A held lock; unlinked on drop.
#[derive(Debug)]
pub struct DotLock {
    path: PathBuf,
}

fn is_stale(path: &Path, stale: Duration) -> bool {
    let Ok(meta) = std::fs::metadata(path) else {
        return false;
    };
    let age = meta
        .modified()
        .ok()
        .and_then(|m| SystemTime::now().duration_since(m).ok());
    age.is_some_and(|a| a >= stale)
}

impl DotLock {
    /// Create `path` exclusively, waiting up to `wait` for another holder
    /// and overriding a lock untouched for `stale`.
    pub fn acquire(path: &Path, stale: Duration, wait: Duration) -> io::Result<DotLock> {
        let deadline = Instant::now() + wait;
        loop {
            match OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(path)
            {
                Ok(mut f) => {
                    let host = nix::unistd::gethostname()
                        .map(|h| h.to_string_lossy().into_owned())
                        .unwrap_or_default();
                    let _ = write!(f, "{}:{}", std::process::id(), host);
                    return Ok(DotLock {
                        path: path.to_path_buf(),
                    });
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                    if is_stale(path, stale) {
                        let _ = std::fs::remove_file(path);
                        continue;
                    }
                    if Instant::now() >= deadline {
                        return Err(io::Error::new(
                            io::ErrorKind::TimedOut,
                            format!("timeout while waiting for lock {}", path.display()),
                        ));
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// The lock file's path (Dovecot writes new content there and renames
    /// it over the target for `subscriptions`).
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for DotLock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exclusive_and_stale() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("x.lock");
        let a = DotLock::acquire(&p, STALE, WAIT).unwrap();
        let e = DotLock::acquire(&p, STALE, Duration::from_millis(50)).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::TimedOut);
        drop(a);
        assert!(!p.exists());
        std::fs::write(&p, b"1:x").unwrap();
        let old = SystemTime::now() - Duration::from_secs(300);
        std::fs::File::options()
            .write(true)
            .open(&p)
            .unwrap()
            .set_modified(old)
            .unwrap();
        let _b = DotLock::acquire(&p, STALE, Duration::from_millis(50)).unwrap();
    }
}
