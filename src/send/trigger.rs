//! qmail-send's wake-up sources: `lock/trigger` and the signals.

use std::fs::{File, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::OpenOptionsExt;

/// Signals qmail-send reacts to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    Term,
    Alrm,
    Hup,
}

/// `lock/trigger`, opened for reading and writing (non-blocking) so that
/// poll never sees a hang-up; plus the signal descriptor to wait on.
pub struct Trigger {
    pub read: File,
    pub write: Option<File>,
    pub signal_fd: Option<std::os::fd::OwnedFd>,
}

impl Trigger {
    pub fn open(path: &std::path::Path) -> io::Result<Self> {
        let read = OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(path)?;
        let write = OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(path)
            .ok();
        Ok(Trigger {
            read,
            write,
            signal_fd: None,
        })
    }

    pub(super) fn drain(&mut self) {
        let mut b = [0u8; 256];
        while let Ok(n) = self.read.read(&mut b) {
            if n == 0 {
                break;
            }
        }
    }
}
