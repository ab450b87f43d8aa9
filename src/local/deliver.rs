//! The four delivery instructions of qmail-local (`local.md` §2.6): mbox,
//! maildir, program and forward. Each rewinds the message (fd 0) first.

use std::ffi::OsStr;
use std::fs::{File, OpenOptions};
use std::io::{self, BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use nix::fcntl::{Flock, FlockArg};

use super::{bpath, rewind, Delivery, Failure};
use crate::envelope::Envelope;
use crate::errstr;
use crate::maildir::save::{self, FillError, SaveError, Target};
use crate::queue::client::Injection;

/// How long qmail-local waits for an mbox lock.
pub const LOCK_WAIT: Duration = Duration::from_secs(30);

/// What a program's exit status means for the rest of the `.qmail`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Program {
    Continue,
    /// Exit 99: ignore the following lines.
    Stop,
}

/// Exit codes of a delivery program that mean "bounce".
pub const PERMANENT_EXITS: [i32; 8] = [100, 64, 65, 70, 76, 77, 78, 112];

/// The delivery being executed.
pub struct Context<'a> {
    pub delivery: &'a Delivery,
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// `gethostname`, at most 64 bytes, as the original's buffer.
pub fn hostname() -> Vec<u8> {
    let mut h = nix::unistd::gethostname()
        .map(|h| h.as_bytes().to_vec())
        .unwrap_or_default();
    h.truncate(64);
    h
}

/// Map a program's exit status the way qmail-local does.
pub fn program_status(status: std::process::ExitStatus) -> Result<Program, Failure> {
    if status.signal().is_some() {
        return Err(Failure::temp("Aack, child crashed. (#4.3.0)"));
    }
    match status.code() {
        Some(0) => Ok(Program::Continue),
        Some(99) => Ok(Program::Stop),
        Some(c) if PERMANENT_EXITS.contains(&c) => Err(Failure::perm("")),
        _ => Err(Failure::temp("")),
    }
}

impl Context<'_> {
    /// `mailfile`: append to an mbox under an exclusive flock.
    pub fn mbox(&self, msg: &mut File, path: &[u8]) -> Result<(), Failure> {
        rewind(msg)?;
        let name = String::from_utf8_lossy(path).into_owned();
        let f = OpenOptions::new()
            .append(true)
            .create(true)
            .mode(0o600)
            .custom_flags(libc::O_NONBLOCK)
            .open(bpath(path))
            .map_err(|e| {
                Failure::temp(format!(
                    "Unable to open {name}: {}. (#4.2.1)",
                    errstr::io_text(&e)
                ))
            })?;
        let mut mbox = lock(f, LOCK_WAIT)?;
        let locked = matches!(mbox, Mbox::Locked(_));
        let f = mbox.file();
        // Unknown if the seek fails: then nothing is truncated (netqmail's
        // seek_trunc to -1 fails), rather than cutting the mbox to 0.
        let pos = f.seek(SeekFrom::End(0)).ok();
        let d = self.delivery;
        let mut head = d.ufline.clone();
        head.extend_from_slice(&d.rpline);
        head.extend_from_slice(&d.dtline);
        let result = {
            let mut w = BufWriter::new(&mut *f);
            let mut r = BufReader::new(&mut *msg);
            crate::mbox::write_entry(&head, &mut r, &mut w)
                .and_then(|()| w.flush().map_err(crate::mbox::CopyError::Write))
        };
        let result = result.and_then(|()| f.sync_all().map_err(crate::mbox::CopyError::Write));
        let fail = match result {
            Ok(()) => return Ok(()),
            Err(crate::mbox::CopyError::Read(e)) => {
                format!("Unable to read message: {}. (#4.3.0)", errstr::io_text(&e))
            }
            Err(crate::mbox::CopyError::Write(e)) => {
                format!("Unable to write {name}: {}. (#4.3.0)", errstr::io_text(&e))
            }
        };
        if let (true, Some(pos)) = (locked, pos) {
            let _ = f.set_len(pos);
        }
        Err(Failure::temp(fail))
    }

    /// `maildir`: tmp/TIME.PID.HOST, fsync, link into new/.
    pub fn maildir(&self, msg: &mut File, dir: &[u8]) -> Result<(), Failure> {
        rewind(msg)?;
        let code = self.maildir_code(msg, dir);
        // qmail-local's child chdirs into the maildir; we came back.
        let _ = std::env::set_current_dir(self.delivery.home());
        match code {
            0 => Ok(()),
            2 => Err(Failure::temp("Unable to chdir to maildir. (#4.2.1)")),
            3 => Err(Failure::temp("Timeout on maildir delivery. (#4.3.0)")),
            4 => Err(Failure::temp("Unable to read message. (#4.3.0)")),
            _ => Err(Failure::temp(
                "Temporary error on maildir delivery. (#4.3.0)",
            )),
        }
    }

    /// The original's maildir child, returning its exit code.
    fn maildir_code(&self, msg: &mut File, dir: &[u8]) -> i32 {
        if let Err(e) = std::env::set_current_dir(bpath(dir)) {
            return if errstr::io_is_temp(&e) { 1 } else { 2 };
        }
        let pid = std::process::id();
        let host = hostname();
        let mut name = Vec::new();
        for attempt in 0.. {
            name = format!("{}.{}.", now(), pid).into_bytes();
            name.extend_from_slice(&host);
            let mut tmp = b"tmp/".to_vec();
            tmp.extend_from_slice(&name);
            match std::fs::symlink_metadata(bpath(&tmp)) {
                Err(e) if e.kind() == io::ErrorKind::NotFound => break,
                _ if attempt == 2 => return 1,
                _ => std::thread::sleep(Duration::from_secs(2)),
            }
        }
        let d = self.delivery;
        let name = String::from_utf8_lossy(&name).into_owned();
        let saved = save::save(std::path::Path::new("."), &name, Target::New, |f| {
            let mut w = BufWriter::new(&mut *f);
            w.write_all(&d.rpline).map_err(FillError::Write)?;
            w.write_all(&d.dtline).map_err(FillError::Write)?;
            let r = &mut *msg;
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                let n = match r.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(FillError::Read(e)),
                };
                w.write_all(&buf[..n]).map_err(FillError::Write)?;
            }
            w.flush().map_err(FillError::Write)
        });
        match saved {
            Ok(_) => 0,
            Err(SaveError::Read(_)) => 4,
            Err(_) => 1,
        }
    }

    /// `mailprogram`: `/bin/sh -c COMMAND` with the message on stdin.
    pub fn program(&self, msg: &mut File, cmd: &[u8]) -> Result<Program, Failure> {
        rewind(msg)?;
        let stdin = msg.try_clone().map_err(|e| {
            Failure::temp(format!("Unable to fork: {}. (#4.3.0)", errstr::io_text(&e)))
        })?;
        let mut c = Command::new("/bin/sh");
        c.arg("-c")
            .arg(OsStr::from_bytes(cmd))
            .stdin(Stdio::from(stdin));
        for (k, v) in &self.delivery.env {
            c.env(k, OsStr::from_bytes(v));
        }
        let mut child = c.spawn().map_err(|e| {
            Failure::temp(format!(
                "Unable to run /bin/sh: {}. (#4.3.0)",
                errstr::io_text(&e)
            ))
        })?;
        let status = loop {
            match child.wait() {
                Ok(s) => break s,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => return Err(Failure::temp("Aack, child crashed. (#4.3.0)")),
            }
        };
        program_status(status)
    }

    /// `mailforward`: one injection of DTLINE + message from NEWSENDER.
    pub fn forward(
        &self,
        msg: &mut File,
        newsender: &[u8],
        recipients: Vec<Vec<u8>>,
    ) -> Result<u32, Failure> {
        rewind(msg)?;
        let qq_fail = |text: &str, permanent: bool| {
            let s = format!("Unable to forward message: {text}.");
            if permanent {
                Failure::Perm(s)
            } else {
                Failure::Temp(s)
            }
        };
        let mut qq = Injection::open().map_err(|e| qq_fail(e.text, e.permanent))?;
        let qp = qq.pid();
        qq.put(&self.delivery.dtline);
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            match msg.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => qq.put(&buf[..n]),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => {
                    qq.fail();
                    break;
                }
            }
        }
        let env = Envelope {
            sender: newsender.to_vec(),
            recipients,
        };
        qq.close(&env).map_err(|e| qq_fail(e.text, e.permanent))?;
        Ok(qp)
    }
}

/// An mbox descriptor, locked or (when flock failed otherwise) not.
enum Mbox {
    Locked(Flock<File>),
    Unlocked(File),
}

impl Mbox {
    fn file(&mut self) -> &mut File {
        match self {
            Mbox::Locked(g) => g,
            Mbox::Unlocked(f) => f,
        }
    }
}

/// `lock_ex` with the 30-second alarm (`wait`: [`LOCK_WAIT`]).
fn lock(f: File, wait: Duration) -> Result<Mbox, Failure> {
    let start = Instant::now();
    let mut f = f;
    loop {
        match Flock::lock(f, FlockArg::LockExclusiveNonblock) {
            Ok(guard) => return Ok(Mbox::Locked(guard)),
            Err((back, e)) => {
                if e != nix::errno::Errno::EWOULDBLOCK && e != nix::errno::Errno::EINTR {
                    return Ok(Mbox::Unlocked(back));
                }
                if start.elapsed() >= wait {
                    return Err(Failure::temp(
                        "File has been locked for 30 seconds straight. (#4.3.0)",
                    ));
                }
                f = back;
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_held_past_the_wait_is_the_slowlock_deferral() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("mbox");
        std::fs::write(&p, b"").unwrap();
        let holder = Flock::lock(File::open(&p).unwrap(), FlockArg::LockExclusive).unwrap();
        let r = lock(File::open(&p).unwrap(), Duration::from_millis(300));
        assert_eq!(
            r.err(),
            Some(Failure::temp(
                "File has been locked for 30 seconds straight. (#4.3.0)"
            ))
        );
        drop(holder);
        assert!(matches!(
            lock(File::open(&p).unwrap(), Duration::from_millis(300)),
            Ok(Mbox::Locked(_))
        ));
    }
}
