//! `fsync` two files at once: one on the calling thread, the other on a
//! long-lived helper thread, so the file system can commit both in one
//! flush. qmail-queued queues many messages per process; a thread
//! spawned per message cost more CPU (clone, stack map, guard page,
//! teardown) than the overlap saved, so idle helpers are kept for reuse.

use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::Mutex;

/// A helper thread: descriptors go in, fsync results come out, one for one.
struct Helper {
    jobs: Sender<RawFd>,
    done: Receiver<io::Result<()>>,
}

/// Helpers waiting for work. Grows to the number of concurrent callers.
static IDLE: Mutex<Vec<Helper>> = Mutex::new(Vec::new());

fn take_helper() -> Option<Helper> {
    if let Some(h) = IDLE.lock().ok().and_then(|mut v| v.pop()) {
        return Some(h);
    }
    let (jobs, rx) = channel::<RawFd>();
    let (tx, done) = channel();
    std::thread::Builder::new()
        .name("fsync".into())
        .stack_size(64 * 1024)
        .spawn(move || {
            for fd in rx {
                let r = nix::unistd::fsync(fd).map_err(io::Error::from);
                if tx.send(r).is_err() {
                    return;
                }
            }
        })
        .ok()?;
    Some(Helper { jobs, done })
}

/// `fsync` `a` and `b` concurrently; the results in that order. Without
/// a helper (no thread could be made) they are synced one after another.
pub fn sync_pair(a: &File, b: &File) -> (io::Result<()>, io::Result<()>) {
    let Some(helper) = take_helper() else {
        return (a.sync_all(), b.sync_all());
    };
    // The descriptor stays open: `a` is borrowed until the result is in.
    if helper.jobs.send(a.as_raw_fd()).is_err() {
        return (a.sync_all(), b.sync_all());
    }
    let rb = b.sync_all();
    let ra = match helper.done.recv() {
        Ok(r) => {
            if let Ok(mut v) = IDLE.lock() {
                v.push(helper);
            }
            r
        }
        // The helper is gone (and not put back).
        Err(_) => Err(io::Error::other("fsync helper failed")),
    };
    (ra, rb)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syncs_both_and_reuses_the_helper() {
        let d = tempfile::tempdir().unwrap();
        let a = File::create(d.path().join("a")).unwrap();
        let b = File::create(d.path().join("b")).unwrap();
        for _ in 0..3 {
            let (ra, rb) = sync_pair(&a, &b);
            assert!(ra.is_ok() && rb.is_ok());
        }
        assert!(!IDLE.lock().unwrap().is_empty());
    }

    #[test]
    fn reports_the_helpers_error() {
        let d = tempfile::tempdir().unwrap();
        let b = File::create(d.path().join("b")).unwrap();
        // A pipe cannot be fsynced: EINVAL comes back from the helper.
        let (r, _w) = nix::unistd::pipe().unwrap();
        let a = File::from(r);
        let (ra, rb) = sync_pair(&a, &b);
        assert!(ra.is_err());
        assert!(rb.is_ok());
    }
}
