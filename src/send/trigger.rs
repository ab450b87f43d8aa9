//! qmail-send's wake-up sources: `lock/trigger` and the signals.

use std::fs::{File, OpenOptions};
use std::io::Read;
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// Signals qmail-send reacts to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    Term,
    Alrm,
    Hup,
}

/// `lock/trigger` (netqmail's `trigger.c`), opened for reading and
/// writing (non-blocking) so that poll never sees a hang-up; plus the
/// signal descriptor to wait on. A FIFO that cannot be opened is no
/// error: qmail-send then finds new mail by its periodic todo scans only,
/// and tries again before each scan, as the original does.
pub struct Trigger {
    path: PathBuf,
    read: Option<File>,
    write: Option<File>,
    pub signal_fd: Option<std::os::fd::OwnedFd>,
}

impl Trigger {
    /// `trigger_set` for `path` (`queue/lock/trigger`).
    pub fn open(path: &Path) -> Self {
        let mut t = Trigger {
            path: path.to_path_buf(),
            read: None,
            write: None,
            signal_fd: None,
        };
        t.reset();
        t
    }

    /// `trigger_set`: close and reopen the FIFO, before each todo scan.
    pub fn reset(&mut self) {
        let open = |read: bool| {
            OpenOptions::new()
                .read(read)
                .write(!read)
                .custom_flags(libc::O_NONBLOCK)
                .open(&self.path)
        };
        self.read = None;
        self.write = None;
        self.read = open(true).ok();
        self.write = self.read.as_ref().and_then(|_| open(false).ok());
    }

    /// The descriptor to poll, if the FIFO is open.
    pub fn fd(&self) -> Option<BorrowedFd<'_>> {
        self.read.as_ref().map(|f| f.as_fd())
    }

    pub(super) fn drain(&mut self) {
        let Some(r) = self.read.as_mut() else { return };
        let mut b = [0u8; 256];
        while let Ok(n) = r.read(&mut b) {
            if n == 0 {
                break;
            }
        }
    }
}
