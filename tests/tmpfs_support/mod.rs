//! Real full disks for the bad-input tests: a test re-executes itself
//! (this test binary, `--exact NAME`) in a private mount namespace, where
//! it may mount small tmpfs file systems over its own directories and
//! fill them. As root that is `unshare -m`; as an ordinary user an
//! unprivileged user+mount namespace, `unshare -rm` (the kernel must allow
//! unprivileged user namespaces, else the test fails: it is never
//! skipped). Mounts vanish with the namespace.
//!
//! Also: running a program as a mailbox owner who is not root, since
//! root ignores directory permissions.
#![allow(dead_code)]

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

const INNER: &str = "QMAILRS_TMPFS_INNER";

/// True inside the namespace: run the test body. Outside, run this test
/// in a new namespace, assert that it ran and passed, and return false.
pub fn enter(test: &str) -> bool {
    if std::env::var(INNER).as_deref() == Ok(test) {
        return true;
    }
    let exe = std::env::current_exe().unwrap();
    let root = nix::unistd::geteuid().is_root();
    let out = Command::new("unshare")
        .arg(if root { "-m" } else { "-rm" })
        .arg(&exe)
        .args(["--exact", test, "--nocapture", "--test-threads=1"])
        .env(INNER, test)
        .env("QMAILRS_SINGLE_USER", "1")
        .output()
        .expect("unshare (Debian package util-linux) must be installed");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "{test} in a private mount namespace (unshare {}) failed: {}\n{stdout}\n{stderr}\n\
         (as an ordinary user this needs unprivileged user namespaces)",
        if root { "-m" } else { "-rm" },
        out.status
    );
    false
}

/// A tmpfs mounted over a directory (created if missing), unmounted again
/// when dropped so the directory can be removed.
pub struct Tmpfs {
    pub path: PathBuf,
}

impl Tmpfs {
    /// `mount -t tmpfs -o OPTS` (e.g. `size=64k,mode=0755`) over `path`.
    pub fn mount(path: &Path, opts: &str) -> Tmpfs {
        fs::create_dir_all(path).unwrap();
        let st = Command::new("mount")
            .args(["-t", "tmpfs", "-o", opts, "tmpfs"])
            .arg(path)
            .status()
            .expect("mount (util-linux) must be installed");
        assert!(st.success(), "mount tmpfs on {}", path.display());
        Tmpfs {
            path: path.to_path_buf(),
        }
    }

    /// Fill the file system until `leave` bytes (whole 4 KiB pages) are
    /// free, with a file named `.fill`.
    pub fn fill(&self, leave: usize) {
        let slack = self.path.join(".slack");
        if leave > 0 {
            fs::write(&slack, vec![0u8; leave]).expect("room for the slack file");
        }
        let mut f = fs::File::create(self.path.join(".fill")).unwrap();
        let chunk = vec![0u8; 4096];
        loop {
            match f.write(&chunk) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) if e.raw_os_error() == Some(libc::ENOSPC) => break,
                Err(e) => panic!("filling {}: {e}", self.path.display()),
            }
        }
        drop(f);
        if leave > 0 {
            fs::remove_file(&slack).unwrap();
        }
    }

    /// Remove the filler again.
    pub fn unfill(&self) {
        let _ = fs::remove_file(self.path.join(".fill"));
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.path).status();
    }
}

/// Who runs a program that must meet directory permissions. As root:
/// `nobody`, after `path` (recursively) is given to nobody, so that
/// nobody is the owner whose own `chmod 0500` stops it, as it stops an
/// ordinary user. As an ordinary user: that user, nothing changed.
pub fn owner_of(path: &Path) -> Option<(u32, u32)> {
    if !nix::unistd::geteuid().is_root() {
        return None;
    }
    let nobody = nix::unistd::User::from_name("nobody")
        .unwrap()
        .expect("a nobody user");
    let (uid, gid) = (nobody.uid.as_raw(), nobody.gid.as_raw());
    let st = Command::new("chown")
        .arg("-R")
        .arg(format!("{uid}:{gid}"))
        .arg(path)
        .status()
        .unwrap();
    assert!(st.success(), "chown -R nobody {}", path.display());
    Some((uid, gid))
}

/// Put the command under the owner chosen by [`owner_of`].
pub fn run_as(cmd: &mut Command, who: Option<(u32, u32)>) {
    use std::os::unix::process::CommandExt;
    if let Some((uid, gid)) = who {
        cmd.uid(uid).gid(gid);
    }
}
