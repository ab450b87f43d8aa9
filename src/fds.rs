//! Descriptors that in-process state owns across the connections of a
//! reused tcpserver worker (`tcp::workers`), which otherwise closes what
//! a connection left open, as an exiting process would.

use std::os::fd::RawFd;
use std::sync::Mutex;

static KEPT: Mutex<Vec<RawFd>> = Mutex::new(Vec::new());

/// `fd` stays open until its owner closes it (for the process's life).
pub fn keep(fd: RawFd) {
    if let Ok(mut k) = KEPT.lock() {
        if !k.contains(&fd) {
            k.push(fd);
        }
    }
}

/// Whether `fd` was registered with [`keep`].
pub fn is_kept(fd: RawFd) -> bool {
    KEPT.lock().is_ok_and(|k| k.contains(&fd))
}
