//! Two ways qmail-queued spends fewer device flushes per message.
//!
//! [`sync_pair`]: `fsync` two files at once, one on the calling thread,
//! the other on a long-lived helper thread, so the file system can commit
//! both in one flush. A thread spawned per message cost more CPU (clone,
//! stack map, guard page, teardown) than the overlap saved, so idle
//! helpers are kept for reuse.
//!
//! [`sync_dir_shared`]: group commit of a directory `fsync`. Messages
//! linked into `todo/` while that directory's fsync runs share the next
//! one, which starts after every one of them linked, so each caller still
//! returns only once its own link is durable.

use std::collections::VecDeque;
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

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

/// One directory's fsyncs, numbered 1, 2, ... in the order they start.
#[derive(Default)]
struct Group {
    state: Mutex<GroupState>,
    ended: Condvar,
}

#[derive(Default)]
struct GroupState {
    /// Number of the last fsync started.
    started: u64,
    /// Number of the last fsync finished (`started`, or one less while
    /// `running`).
    ended: u64,
    running: bool,
    /// The most recent failed fsyncs: number, kind, OS error.
    failed: VecDeque<(u64, io::ErrorKind, Option<i32>)>,
    /// Failures older than this number were dropped from `failed`.
    forgotten: u64,
}

/// Failures remembered for callers that wake late.
const KEPT: usize = 16;

/// Groups by directory; a process syncs one or two directories.
static GROUPS: Mutex<Vec<(PathBuf, Arc<Group>)>> = Mutex::new(Vec::new());

/// A poisoned lock only means another caller panicked; the counters it
/// guards are updated in single statements and stay consistent.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn group(path: &Path) -> Arc<Group> {
    let mut groups = lock(&GROUPS);
    if let Some((_, g)) = groups.iter().find(|(p, _)| p == path) {
        return g.clone();
    }
    let g = Arc::new(Group::default());
    groups.push((path.to_path_buf(), g.clone()));
    g
}

/// `fsync` the directory `path`, sharing the flush with concurrent
/// callers: the fsync that serves a caller always starts after the call,
/// so whatever the caller did to the directory before is covered.
pub fn sync_dir_shared(path: &Path) -> io::Result<()> {
    let g = group(path);
    let mut st = lock(&g.state);
    // The next fsync to start; one running now may have begun before
    // our link.
    let mine = st.started + 1;
    loop {
        if st.ended >= mine {
            return outcome(&st, mine);
        }
        if !st.running {
            // We lead: `started + 1 == mine`, since none runs and none
            // later than ours has ended.
            st.running = true;
            st.started = mine;
            drop(st);
            let r = File::open(path).and_then(|d| d.sync_all());
            let mut st = lock(&g.state);
            st.running = false;
            st.ended = mine;
            if let Err(e) = &r {
                if st.failed.len() == KEPT {
                    if let Some((n, _, _)) = st.failed.pop_front() {
                        st.forgotten = n;
                    }
                }
                st.failed.push_back((mine, e.kind(), e.raw_os_error()));
            }
            drop(st);
            g.ended.notify_all();
            return r;
        }
        st = g.ended.wait(st).unwrap_or_else(|p| p.into_inner());
    }
}

/// What fsync number `n`, which has ended, returned.
fn outcome(st: &GroupState, n: u64) -> io::Result<()> {
    if let Some(&(_, kind, os)) = st.failed.iter().find(|f| f.0 == n) {
        return Err(match os {
            Some(code) => io::Error::from_raw_os_error(code),
            None => io::Error::new(kind, "shared directory fsync failed"),
        });
    }
    if n <= st.forgotten {
        // Too late to tell: say it failed rather than guess.
        return Err(io::Error::other("shared directory fsync: result lost"));
    }
    Ok(())
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

    #[test]
    fn shared_dir_sync_syncs_the_directory() {
        let d = tempfile::tempdir().unwrap();
        for _ in 0..3 {
            sync_dir_shared(d.path()).unwrap();
        }
        let g = group(d.path());
        let st = lock(&g.state);
        assert_eq!((st.started, st.ended, st.running), (3, 3, false));
    }

    /// Pretend fsync 1 of `path` is running, let `n` callers queue
    /// behind it, end it; their results.
    fn behind_a_running_fsync(path: &Path, n: usize) -> Vec<io::Result<()>> {
        let g = group(path);
        {
            let mut st = lock(&g.state);
            st.started = 1;
            st.running = true;
        }
        let callers: Vec<_> = (0..n)
            .map(|_| {
                let p = path.to_path_buf();
                std::thread::spawn(move || sync_dir_shared(&p))
            })
            .collect();
        // Each caller holds the group; give the last one time to wait.
        while Arc::strong_count(&g) < 2 + n {
            std::thread::yield_now();
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
        {
            let mut st = lock(&g.state);
            st.running = false;
            st.ended = 1;
        }
        g.ended.notify_all();
        callers.into_iter().map(|c| c.join().unwrap()).collect()
    }

    #[test]
    fn callers_during_an_fsync_share_the_next() {
        let d = tempfile::tempdir().unwrap();
        for r in behind_a_running_fsync(d.path(), 9) {
            r.unwrap();
        }
        let g = group(d.path());
        let st = lock(&g.state);
        assert_eq!((st.started, st.ended), (2, 2), "one fsync served all nine");
    }

    #[test]
    fn a_shared_fsyncs_error_reaches_every_caller() {
        let d = tempfile::tempdir().unwrap();
        for r in behind_a_running_fsync(&d.path().join("gone"), 4) {
            assert_eq!(r.unwrap_err().kind(), io::ErrorKind::NotFound);
        }
    }

    #[test]
    fn a_forgotten_result_is_a_failure() {
        let mut st = GroupState {
            started: 20,
            ended: 20,
            forgotten: 3,
            ..GroupState::default()
        };
        st.failed.push_back((5, io::ErrorKind::Other, Some(5)));
        assert!(outcome(&st, 2).is_err());
        assert_eq!(outcome(&st, 5).unwrap_err().raw_os_error(), Some(5));
        assert!(outcome(&st, 6).is_ok());
    }
}
