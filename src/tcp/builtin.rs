//! Programs tcpserver may run inside its connection child instead of
//! exec'ing them: our own qmail-smtpd, when the program file is the
//! qmail-smtpd of this very release.
//!
//! Why: on virtual machines where glibc's start-up is slow (its CPUID
//! probing traps to the hypervisor) an exec costs about 1 ms of CPU per
//! connection, a large part of what one SMTP message costs. The child
//! already is a fresh process (fork), so running the same code without
//! the exec changes nothing the program or its client can observe: the
//! environment is the one exec would have passed, descriptors marked
//! close-on-exec are closed, caught signals are reset (the binary does
//! that, it needs `unsafe`), and the process name reads `qmail-smtpd`.
//! Visible difference: `/proc/PID/cmdline` (and `ps -f`) still shows
//! tcpserver's command line (known-differences `program:tcpserver`).
//!
//! The program file says it is ours with a marker string
//! ([`declare_builtin!`]); tcpserver looks for it once at start, and in
//! every child checks with one `stat` that the file is still the one it
//! examined and one `access` that it is still executable. Any change to
//! the file (an upgrade, a wrapper script put in its place) makes the
//! children exec it again, so nothing runs older code than the file
//! holds, except that the in-process code is the running tcpserver's
//! until it is restarted after an upgrade of the same version.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// A program tcpserver can run in-process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Builtin {
    /// `qmail-smtpd [ checkprogram subprogram [ arg ... ] ]`.
    QmailSmtpd,
}

impl Builtin {
    const ALL: [Builtin; 1] = [Builtin::QmailSmtpd];

    /// The program's name, as in its marker and process name.
    pub fn name(self) -> &'static str {
        match self {
            Builtin::QmailSmtpd => "qmail-smtpd",
        }
    }
}

/// Puts the in-process marker of program `$name` into a binary: call it
/// at the top of that binary's `main` (the call keeps the linker from
/// dropping the string). Only binaries that really are `$name` may use it.
#[macro_export]
macro_rules! declare_builtin {
    ($name:literal) => {{
        static MARKER: &str = concat!(
            "qmail-rs/in-process:",
            $name,
            "/",
            env!("CARGO_PKG_VERSION"),
            ";"
        );
        std::hint::black_box(MARKER);
    }};
}

/// The marker of `b` in this release. Built at run time from an
/// upper-case copy, so that no binary but the program itself (in
/// particular not tcpserver) holds the marker's bytes.
fn marker(b: Builtin) -> Vec<u8> {
    let mut m = b"QMAIL-RS/IN-PROCESS:".to_ascii_lowercase();
    m.extend_from_slice(b.name().as_bytes());
    m.push(b'/');
    m.extend_from_slice(env!("CARGO_PKG_VERSION").as_bytes());
    m.push(b';');
    m
}

/// The identity of the file examined at start.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Stamp {
    dev: u64,
    ino: u64,
    size: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
}

impl Stamp {
    fn of(path: &Path) -> Option<Stamp> {
        let m = std::fs::metadata(path).ok()?;
        Some(Stamp {
            dev: m.dev(),
            ino: m.ino(),
            size: m.size(),
            mtime: (m.mtime(), m.mtime_nsec()),
            ctime: (m.ctime(), m.ctime_nsec()),
        })
    }
}

/// A program file found to be one of ours.
#[derive(Debug, Clone)]
pub struct Found {
    /// Which program.
    pub builtin: Builtin,
    path: PathBuf,
    stamp: Stamp,
}

/// The file `execvp` would run for `program` (a name without `/` is
/// looked up in `$PATH`).
fn resolve(program: &OsStr) -> Option<PathBuf> {
    let p = Path::new(program);
    if program.as_bytes().contains(&b'/') {
        return Some(p.to_path_buf());
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(p))
        .find(|f| executable(f))
}

fn executable(f: &Path) -> bool {
    f.is_file() && may_execute(f)
}

fn may_execute(f: &Path) -> bool {
    nix::unistd::access(f, nix::unistd::AccessFlags::X_OK).is_ok()
}

/// Is `program` one of ours? Reads the file once; `None` (exec it) for
/// anything else, including tcpserver itself and unreadable files.
pub fn detect(program: &OsStr) -> Option<Found> {
    let path = resolve(program)?;
    let stamp = Stamp::of(&path)?;
    if let Some(me) = std::env::current_exe().ok().and_then(|p| Stamp::of(&p)) {
        if (me.dev, me.ino) == (stamp.dev, stamp.ino) {
            return None;
        }
    }
    let bytes = std::fs::read(&path).ok()?;
    let builtin = Builtin::ALL
        .into_iter()
        .find(|&b| memchr::memmem::find(&bytes, &marker(b)).is_some())?;
    // The file must not have changed while it was read.
    (Stamp::of(&path)? == stamp).then_some(Found {
        builtin,
        path,
        stamp,
    })
}

impl Found {
    /// Is the file still the one examined, and still executable by us?
    /// Checked in each connection child before running it in-process.
    pub fn still_valid(&self) -> bool {
        // The stamp already says it is the same regular file: one stat and
        // one access per connection, not a second stat.
        Stamp::of(&self.path).as_ref() == Some(&self.stamp) && may_execute(&self.path)
    }
}

/// The descriptors above 2 this process has open.
pub fn open_fds() -> Vec<i32> {
    // The listing's own descriptor is among the names and closed by now:
    // kept by mistake, its number would keep open whatever reuses it.
    listed_fds()
        .into_iter()
        .filter(|&fd| nix::fcntl::fcntl(fd, nix::fcntl::FcntlArg::F_GETFD).is_ok())
        .collect()
}

/// The names in /proc/self/fd above 2, the listing's own among them.
fn listed_fds() -> Vec<i32> {
    let Ok(dir) = std::fs::read_dir("/proc/self/fd") else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .filter(|&fd| fd > 2)
        .collect()
}

/// Close every descriptor above 2 marked close-on-exec, as an exec
/// would, except `keep`. Called in the connection child just before the
/// program runs (after its caught signals are reset: a handler may
/// write to one of them).
pub fn close_cloexec_fds_except(keep: &[i32]) {
    use nix::fcntl::{fcntl, FcntlArg, FdFlag};
    for fd in listed_fds() {
        // A stale number (read_dir's own descriptor, closed by now)
        // just fails.
        let Ok(flags) = fcntl(fd, FcntlArg::F_GETFD) else {
            continue;
        };
        if FdFlag::from_bits_truncate(flags).contains(FdFlag::FD_CLOEXEC) && !keep.contains(&fd) {
            let _ = nix::unistd::close(fd);
        }
    }
}

/// [`close_cloexec_fds_except`] with nothing kept.
pub fn close_cloexec_fds() {
    close_cloexec_fds_except(&[]);
}

/// Close every descriptor above 2 but `keep` and those in-process state
/// keeps ([`crate::fds`]): what a program run in a reused worker left open.
pub fn close_fds_except(keep: &[i32]) {
    // A stale number (the listing's own descriptor) just fails to close.
    for fd in listed_fds() {
        if !keep.contains(&fd) && !crate::fds::is_kept(fd) {
            let _ = nix::unistd::close(fd);
        }
    }
}

/// Name the process as exec'ing `b` would (`/proc/PID/comm`, what `ps
/// -C`, `pgrep` and `killall` match).
pub fn set_process_name(b: Builtin) {
    if let Ok(name) = std::ffi::CString::new(b.name()) {
        let _ = nix::sys::prctl::set_name(&name);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marker_text() {
        assert_eq!(
            marker(Builtin::QmailSmtpd),
            format!(
                "qmail-rs/in-process:qmail-smtpd/{};",
                env!("CARGO_PKG_VERSION")
            )
            .as_bytes()
        );
    }

    #[test]
    fn detects_only_marked_files() {
        let dir = std::env::temp_dir().join(format!("builtin-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let marked = dir.join("marked");
        let mut body = b"\x7fELF junk ".to_vec();
        body.extend(marker(Builtin::QmailSmtpd));
        std::fs::write(&marked, &body).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&marked, std::fs::Permissions::from_mode(0o755)).unwrap();
        let plain = dir.join("plain");
        std::fs::write(&plain, b"#!/bin/sh\nexit 0\n").unwrap();
        let found = detect(marked.as_os_str()).expect("marked file found");
        assert_eq!(found.builtin, Builtin::QmailSmtpd);
        assert!(found.still_valid());
        assert!(detect(plain.as_os_str()).is_none());
        assert!(detect(dir.join("missing").as_os_str()).is_none());
        // Any change to the file, or its loss, ends in-process runs.
        std::fs::write(&marked, [&body[..], b"x"].concat()).unwrap();
        assert!(!found.still_valid());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
