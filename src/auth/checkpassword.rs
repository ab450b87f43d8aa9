//! Running a checkpassword program (`authenticate()`;
//! `shared/spec/qmail/smtpd.md` §12.4).
//!
//! The child keeps fds 0/1/2 and gets the read end of a pipe as fd 3;
//! the parent writes `user NUL password NUL [challenge NUL]`, closes the
//! pipe and waits. Exit 0 is success, any other exit a refusal.
//!
//! Descriptor 3 is set by `dup2` in the parent just around the spawn, so
//! the caller must not keep a descriptor of its own at number 3 (the
//! qmail-smtpd binary makes sure of that at start-up).

use std::ffi::OsString;
use std::io::Write;
use std::os::fd::AsRawFd;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::checkpassword::Request;

/// How a check ended, short of a verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckError {
    /// `454 oops, unable to open pipe and I can't auth (#4.3.0)`.
    Pipe,
    /// `454 oops, child won't start and I can't auth (#4.3.0)`.
    Fork,
    /// `454 oops, unable to write pipe and I can't auth (#4.3.0)`.
    Write,
    /// `454 oops, problem with child and I can't auth (#4.3.0)`: killed by
    /// a signal, or (our addition) still running after the time limit.
    Child,
}

/// The verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Accepted,
    Refused,
}

/// The fd-3 bytes: the challenge field only when CRAM is enabled.
pub fn request_bytes(req: &Request, with_challenge: bool) -> Vec<u8> {
    let mut out = Vec::new();
    if with_challenge {
        req.write(&mut out);
    } else {
        for f in [&req.login, &req.password] {
            out.extend_from_slice(f);
            out.push(0);
        }
    }
    out
}

/// Run `args[0]` with `args[1..]`, send `data` on its fd 3, wait up to
/// `limit`.
pub fn check(args: &[OsString], data: &[u8], limit: Duration) -> Result<Verdict, CheckError> {
    let mut child = match spawn(args, data)? {
        Spawned::Running(c) => c,
        Spawned::NotStarted => return Ok(Verdict::Refused),
    };
    let deadline = Instant::now() + limit;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => {
                return match status.code() {
                    Some(0) => Ok(Verdict::Accepted),
                    Some(_) => Ok(Verdict::Refused),
                    None => Err(CheckError::Child),
                }
            }
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(CheckError::Child);
            }
            Err(_) => return Err(CheckError::Child),
        }
    }
}

/// A started checkpassword program, or one that could not be executed
/// (the original's child then exits 1: a refusal).
pub enum Spawned {
    Running(Child),
    NotStarted,
}

/// Start `args[0]` with `args[1..]` and fds 0/1/2 inherited, and hand it
/// `data` on fd 3 (written whole, then closed). The caller waits.
pub fn spawn(args: &[OsString], data: &[u8]) -> Result<Spawned, CheckError> {
    let Some((prog, rest)) = args.split_first() else {
        return Err(CheckError::Fork);
    };
    let (rd, wr) =
        nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|_| CheckError::Pipe)?;
    // The write end must not sit at fd 3, which the read end takes.
    let wr = if wr.as_raw_fd() == 3 {
        wr.try_clone().map_err(|_| CheckError::Pipe)?
    } else {
        wr
    };
    // The read end at fd 3 without close-on-exec, so the child inherits it.
    let rd = if rd.as_raw_fd() == 3 {
        nix::fcntl::fcntl(
            3,
            nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::empty()),
        )
        .map_err(|_| CheckError::Pipe)?;
        Some(rd)
    } else {
        nix::unistd::dup2(rd.as_raw_fd(), 3).map_err(|_| CheckError::Pipe)?;
        drop(rd);
        None
    };
    let spawned = Command::new(prog)
        .args(rest)
        .stdin(Stdio::inherit())
        .stdout(Stdio::inherit())
        .stderr(Stdio::inherit())
        .spawn();
    match rd {
        Some(rd) => drop(rd),
        None => {
            let _ = nix::unistd::close(3);
        }
    }
    let mut child = match spawned {
        Ok(c) => c,
        Err(e)
            if e.kind() == std::io::ErrorKind::NotFound
                || e.kind() == std::io::ErrorKind::PermissionDenied =>
        {
            return Ok(Spawned::NotStarted)
        }
        Err(_) => return Err(CheckError::Fork),
    };
    let mut wr = std::fs::File::from(wr);
    let written = wr.write_all(data);
    drop(wr);
    if written.is_err() {
        // The child may have exited without reading: still wait for it.
        let _ = child.kill();
        let _ = child.wait();
        return Err(CheckError::Write);
    }
    Ok(Spawned::Running(child))
}
