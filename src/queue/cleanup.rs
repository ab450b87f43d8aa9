//! Removing what crashed injections left behind (`queue.md` §3, §7;
//! `send.md` §9): messages in state S2 or S3 (a `mess` file with neither
//! `todo/ID` nor `info/S/ID`), `intd` files with no `todo` twin and no
//! mess, and stale `pid/` files.
//!
//! qmail-send calls [`cleanup`] with [`OSSIFIED`] (36 hours, beyond
//! qmail-queue's 24-hour alarm, so no live qmail-queue still owns what is
//! removed). Tests pass a zero age after killing every injector.

use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use crate::queue::layout::Layout;
use crate::queue::scan;

/// Age past which a half-made message is abandoned: 129600 s.
pub const OSSIFIED: i64 = 129_600;

/// What one pass removed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Report {
    /// Ids of uncommitted messages removed (their intd and mess files).
    pub messages: Vec<u64>,
    /// Orphan `intd/ID` files removed.
    pub intd: Vec<u64>,
    /// Stale `pid/` entries removed.
    pub pid: usize,
}

fn older(path: &Path, now: i64, age: i64) -> io::Result<Option<bool>> {
    match std::fs::symlink_metadata(path) {
        Ok(m) => Ok(Some(m.atime() + age <= now)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

fn exists(path: &Path) -> io::Result<bool> {
    match std::fs::symlink_metadata(path) {
        Ok(_) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}

fn unlink(path: &Path) -> io::Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// One cleanup pass at time `now` (seconds): files whose atime is at
/// least `age` seconds old are removed. Removal order is qmail-clean's
/// `foop/ID`: `intd/ID`, then `mess/S/ID`.
pub fn cleanup(q: &Layout, now: i64, age: i64) -> io::Result<Report> {
    let mut report = Report::default();
    for id in scan::ids(q, "mess")? {
        let mess = q.mess(id);
        if exists(&q.todo(id))? || exists(&q.info(id))? {
            continue;
        }
        if older(&mess, now, age)? != Some(true) {
            continue;
        }
        unlink(&q.intd(id))?;
        unlink(&mess)?;
        report.messages.push(id);
    }
    for id in scan::flat_ids(q, "intd")? {
        let intd = q.intd(id);
        if exists(&q.todo(id))? || exists(&q.mess(id))? {
            continue;
        }
        if older(&intd, now, age)? == Some(true) {
            unlink(&intd)?;
            report.intd.push(id);
        }
    }
    let pid_dir = q.dir.join("pid");
    for entry in std::fs::read_dir(&pid_dir)? {
        let path = entry?.path();
        if older(&path, now, age)? == Some(true) {
            unlink(&path)?;
            report.pid += 1;
        }
    }
    Ok(report)
}
