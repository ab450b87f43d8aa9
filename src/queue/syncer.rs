//! `fsync` two files at once: one on the calling thread, the other on a
//! long-lived helper thread, so the file system can commit both in one
//! flush. qmail-queued queues many messages per process; a thread
//! spawned per message cost more CPU (clone, stack map, guard page,
//! teardown) than the overlap saved, so idle helpers are kept for reuse.

use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::sync::mpsc::{channel, sync_channel, Sender, SyncSender};
use std::sync::Mutex;

/// One request: the descriptor to sync and where the result goes.
type Job = (RawFd, SyncSender<io::Result<()>>);

/// Helpers waiting for work. Grows to the number of concurrent callers.
static IDLE: Mutex<Vec<Sender<Job>>> = Mutex::new(Vec::new());

fn take_helper() -> Option<Sender<Job>> {
    if let Some(h) = IDLE.lock().ok().and_then(|mut v| v.pop()) {
        return Some(h);
    }
    let (tx, rx) = channel::<Job>();
    std::thread::Builder::new()
        .name("fsync".into())
        .stack_size(64 * 1024)
        .spawn(move || {
            for (fd, reply) in rx {
                let r = nix::unistd::fsync(fd).map_err(io::Error::from);
                let _ = reply.send(r);
            }
        })
        .ok()?;
    Some(tx)
}

fn give_back(h: Sender<Job>) {
    if let Ok(mut v) = IDLE.lock() {
        v.push(h);
    }
}

/// `fsync` `a` and `b` concurrently; the results in that order. Without
/// a helper (no thread could be made) they are synced one after another.
pub fn sync_pair(a: &File, b: &File) -> (io::Result<()>, io::Result<()>) {
    let Some(helper) = take_helper() else {
        return (a.sync_all(), b.sync_all());
    };
    let (tx, rx) = sync_channel(1);
    // The descriptor stays open: `a` is borrowed until the reply is in,
    // and a helper only drops the reply sender after its fsync returned.
    if helper.send((a.as_raw_fd(), tx)).is_err() {
        return (a.sync_all(), b.sync_all());
    }
    let rb = b.sync_all();
    let ra = rx
        .recv()
        .unwrap_or_else(|_| Err(io::Error::other("fsync helper failed")));
    give_back(helper);
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
