//! Queue paths (`queue.md` §1–§2): a message's id is the inode number of
//! its `mess` file; split directories are `id % split`.

use std::path::{Path, PathBuf};

/// conf-split's stock value.
pub const DEFAULT_SPLIT: u64 = 23;

/// A queue directory (normally `/var/qmail/queue`).
#[derive(Debug, Clone)]
pub struct Layout {
    pub dir: PathBuf,
    pub split: u64,
}

impl Layout {
    /// The queue of the install root in force.
    pub fn system() -> Self {
        Self::at(crate::root::qmail_home().join("queue"))
    }

    /// A queue at `dir` with the stock split.
    pub fn at(dir: impl Into<PathBuf>) -> Self {
        Layout {
            dir: dir.into(),
            split: DEFAULT_SPLIT,
        }
    }

    fn split_path(&self, kind: &str, id: u64) -> PathBuf {
        self.dir
            .join(kind)
            .join((id % self.split).to_string())
            .join(id.to_string())
    }

    fn flat_path(&self, kind: &str, id: u64) -> PathBuf {
        self.dir.join(kind).join(id.to_string())
    }

    pub fn mess(&self, id: u64) -> PathBuf {
        self.split_path("mess", id)
    }
    pub fn info(&self, id: u64) -> PathBuf {
        self.split_path("info", id)
    }
    pub fn local(&self, id: u64) -> PathBuf {
        self.split_path("local", id)
    }
    pub fn remote(&self, id: u64) -> PathBuf {
        self.split_path("remote", id)
    }
    pub fn intd(&self, id: u64) -> PathBuf {
        self.flat_path("intd", id)
    }
    pub fn todo(&self, id: u64) -> PathBuf {
        self.flat_path("todo", id)
    }
    pub fn bounce(&self, id: u64) -> PathBuf {
        self.flat_path("bounce", id)
    }
    /// `pid/PID`, qmail-queue's first name for a new message.
    pub fn pid_file(&self, pid: u32) -> PathBuf {
        self.dir.join("pid").join(pid.to_string())
    }
    pub fn lock(&self, name: &str) -> PathBuf {
        self.dir.join("lock").join(name)
    }
    pub fn root(&self) -> &Path {
        &self.dir
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_and_flat_names() {
        let q = Layout::at("/var/qmail/queue");
        assert_eq!(q.mess(100), PathBuf::from("/var/qmail/queue/mess/8/100"));
        assert_eq!(q.todo(100), PathBuf::from("/var/qmail/queue/todo/100"));
        assert_eq!(q.bounce(5), PathBuf::from("/var/qmail/queue/bounce/5"));
    }
}
