//! Injecting a message: `qmail_open` / `qmail_close` (`common.md` §7).
//!
//! Runs `$QMAILQUEUE` (any value, even empty) or `bin/qmail-queue` with
//! the message pipe as its fd 0 and the envelope pipe as its fd 1, in the
//! qmail root; writes the message, then the envelope; maps the exit
//! status to the original's "qq" texts.
//!
//! When `QMAILQUEUE` is unset and a qmail-queued ([`super::daemon`])
//! serves this qmail home, the same two pipes go to it instead and no
//! program starts. Its answer is trusted only if it runs as the owner of
//! `queue/` (anyone may bind an abstract socket name); if it does not,
//! or it is not there, or anything fails before it has taken the request
//! (nothing is written before), qmail-queue is run as always.

use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::MetadataExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use crate::envelope::Envelope;
use crate::queue::daemon;

/// The queue's answer when it did not take the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QqError {
    /// `D` (permanent) rather than `Z` (temporary).
    pub permanent: bool,
    /// The text after the `D`/`Z`, e.g. `qq read error (#4.3.0)`.
    pub text: &'static str,
}

impl QqError {
    const fn temp(text: &'static str) -> Self {
        QqError {
            permanent: false,
            text,
        }
    }
    const fn perm(text: &'static str) -> Self {
        QqError {
            permanent: true,
            text,
        }
    }

    /// The original's string form: `Z…` or `D…`.
    pub fn coded(&self) -> String {
        format!("{}{}", if self.permanent { 'D' } else { 'Z' }, self.text)
    }
}

pub const QQ_READ_ERROR: QqError = QqError::temp("qq read error (#4.3.0)");
pub const QQ_EXEC: QqError = QqError::temp("unable to exec qq (#4.3.0)");
pub const QQ_HOME: QqError = QqError::temp("qq trouble in home directory (#4.3.0)");

/// The exit-status table of `common.md` §7; `None` is success.
pub fn result_for_exit(code: i32) -> Option<QqError> {
    Some(match code {
        0 => return None,
        11 | 115 => QqError::perm("envelope address too long for qq (#5.1.3)"),
        31 => QqError::perm("mail server permanently rejected message (#5.3.0)"),
        51 => QqError::temp("qq out of memory (#4.3.0)"),
        52 => QqError::temp("qq timeout (#4.3.0)"),
        53 => QqError::temp("qq write error or disk full (#4.3.0)"),
        54 => QQ_READ_ERROR,
        55 => QqError::temp("qq unable to read configuration (#4.3.0)"),
        56 => QqError::temp("qq trouble making network connection (#4.3.0)"),
        61 => QQ_HOME,
        62..=66 => QqError::temp("qq trouble creating files in queue (#4.3.0)"),
        71 => QqError::temp("mail server temporarily rejected message (#4.3.0)"),
        72 => QqError::temp("connection to mail server timed out (#4.4.1)"),
        73 => QqError::temp("connection to mail server rejected (#4.4.1)"),
        74 => QqError::temp("communication with mail server failed (#4.4.2)"),
        81 | 91 => QqError::temp("qq internal bug (#4.3.0)"),
        120 => QQ_EXEC,
        11..=40 => QqError::perm("qq permanent problem (#5.3.0)"),
        _ => QqError::temp("qq temporary problem (#4.3.0)"),
    })
}

/// Set for the queue program by every client here: our qmail-queue then
/// keeps its `qmail-queue: fatal:` line to itself, as netqmail's prints
/// nothing, so that a delivery report, bounce or log line that includes
/// the caller's stderr reads exactly as the original's. A `$QMAILQUEUE`
/// filter's own stderr still passes through, as it does in netqmail.
pub const QUIET_ENV: &str = "QMAILRS_QUEUE_QUIET";

/// The program to run: `$QMAILQUEUE`, else `bin/qmail-queue`, relative
/// to the qmail root.
pub fn program(qmail_home: &Path) -> PathBuf {
    match std::env::var_os("QMAILQUEUE") {
        Some(q) => qmail_home.join(q),
        None => qmail_home.join("bin/qmail-queue"),
    }
}

/// Who takes the message.
enum Backend {
    /// A queue program run for this message.
    Exec(Child),
    /// qmail-queued, answering on this connection.
    Daemon(UnixStream),
}

/// One injection in progress.
pub struct Injection {
    backend: Backend,
    pid: u32,
    message: Option<BufWriter<File>>,
    envelope: Option<File>,
    broken: bool,
}

impl Injection {
    /// Start the queue program of the install root in force.
    pub fn open() -> Result<Self, QqError> {
        Self::open_at(&crate::root::qmail_home())
    }

    /// Start the queue program under `qmail_home`.
    pub fn open_at(qmail_home: &Path) -> Result<Self, QqError> {
        if !qmail_home.is_dir() {
            return Err(QQ_HOME);
        }
        if std::env::var_os("QMAILQUEUE").is_none() {
            if let Some(q) = Self::via_daemon(qmail_home) {
                return Ok(q);
            }
        }
        let prog = program(qmail_home);
        // Close-on-exec, so the child does not hold the write end open itself.
        let (env_r, env_w) =
            nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|_| QQ_EXEC)?;
        let child = Command::new(&prog)
            .current_dir(qmail_home)
            .env(QUIET_ENV, "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::from(env_r))
            .spawn()
            .map_err(|_| QQ_EXEC)?;
        let mut child = child;
        let message = child
            .stdin
            .take()
            .map(|s| buffered(File::from(OwnedFd::from(s))));
        Ok(Injection {
            pid: child.id(),
            backend: Backend::Exec(child),
            message,
            envelope: Some(File::from(env_w)),
            broken: false,
        })
    }

    /// Hand the pipes to the qmail-queued of `qmail_home`, if one runs
    /// as the queue's owner; `None` to run qmail-queue instead.
    fn via_daemon(qmail_home: &Path) -> Option<Self> {
        let queue = std::fs::metadata(qmail_home.join("queue")).ok()?;
        let owner = queue.uid();
        let stream = daemon::connect(qmail_home).ok()?;
        let server =
            nix::sys::socket::getsockopt(&stream, nix::sys::socket::sockopt::PeerCredentials)
                .ok()?;
        if server.uid() != owner {
            return None;
        }
        let cloexec = nix::fcntl::OFlag::O_CLOEXEC;
        let (msg_r, msg_w) = nix::unistd::pipe2(cloexec).ok()?;
        let (env_r, env_w) = nix::unistd::pipe2(cloexec).ok()?;
        daemon::send_request(&stream, msg_r.as_fd(), env_r.as_fd()).ok()?;
        // Our copies of the read ends close here, so a server that dies
        // makes our writes fail rather than block.
        drop((msg_r, env_r));
        // It must write the queue we see, not one of another mount
        // namespace or one moved aside since it started.
        if daemon::wait_ack(&stream).ok()? != daemon::Ack::of(&queue) {
            return None;
        }
        Some(Injection {
            backend: Backend::Daemon(stream),
            pid: std::process::id(),
            message: Some(buffered(File::from(msg_w))),
            envelope: Some(File::from(env_w)),
            broken: false,
        })
    }

    /// The pid the queue writes into the message (the "qp" of log lines
    /// and replies): qmail-queue's, or ours under qmail-queued.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Append message bytes; failures are remembered for [`Self::close`].
    pub fn put(&mut self, bytes: &[u8]) {
        if self.broken {
            return;
        }
        if let Some(m) = self.message.as_mut() {
            if m.write_all(bytes).is_err() {
                self.broken = true;
            }
        }
    }

    /// Abandon the message (`qmail_fail`): nothing more is written, so the
    /// queue sees a truncated envelope and queues nothing.
    pub fn fail(&mut self) {
        self.broken = true;
    }

    /// Close the message, write the envelope, wait for the verdict.
    pub fn close(mut self, envelope: &Envelope) -> Result<(), QqError> {
        if let Some(m) = self.message.take() {
            // After a failure the rest stays unwritten, as qmail_close
            // skips its flush: the queue sees a truncated message.
            if self.broken {
                drop(m.into_parts());
            } else if m.into_inner().is_err() {
                self.broken = true;
            }
        }
        if !self.broken {
            let mut bytes = Vec::new();
            match envelope.write(&mut bytes) {
                Ok(()) => {
                    if let Some(e) = self.envelope.as_mut() {
                        if e.write_all(&bytes).is_err() {
                            self.broken = true;
                        }
                    }
                }
                Err(_) => self.broken = true,
            }
        }
        drop(self.envelope.take());
        let code = match &mut self.backend {
            Backend::Exec(child) => {
                let status = wait(child)?;
                use std::os::unix::process::ExitStatusExt;
                if status.signal().is_some() {
                    return Err(QQ_CRASHED);
                }
                status.code().ok_or(QQ_CRASHED)?
            }
            // EOF before a whole reply: the server died with the message.
            Backend::Daemon(stream) => reply(stream).ok_or(QQ_CRASHED)?.code.into(),
        };
        match code {
            0 if self.broken => Err(QQ_READ_ERROR),
            code => result_for_exit(code).map_or(Ok(()), Err),
        }
    }
}

/// Message bytes reach the queue in pieces of this size: one write for
/// most messages, where each network read used to be one write (and one
/// wake-up of the queue) of its own. netqmail's substdio buffer is 1024;
/// the size is not visible to either side.
const MESSAGE_BUFFER: usize = 16 * 1024;

fn buffered(f: File) -> BufWriter<File> {
    BufWriter::with_capacity(MESSAGE_BUFFER, f)
}

const QQ_CRASHED: QqError = QqError::temp("qq crashed (#4.3.0)");

fn reply(stream: &mut UnixStream) -> Option<daemon::Reply> {
    let mut b = [0u8; daemon::Reply::LEN];
    stream.read_exact(&mut b).ok()?;
    Some(daemon::Reply::decode(&b))
}

fn wait(child: &mut Child) -> Result<std::process::ExitStatus, QqError> {
    loop {
        match child.wait() {
            Ok(s) => return Ok(s),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => return Err(QqError::temp("qq waitpid surprise (#4.3.0)")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_table() {
        assert_eq!(result_for_exit(0), None);
        assert_eq!(
            result_for_exit(54).unwrap().coded(),
            "Zqq read error (#4.3.0)"
        );
        assert_eq!(
            result_for_exit(11).unwrap().coded(),
            "Denvelope address too long for qq (#5.1.3)"
        );
        assert_eq!(
            result_for_exit(20).unwrap().coded(),
            "Dqq permanent problem (#5.3.0)"
        );
        assert_eq!(
            result_for_exit(99).unwrap().coded(),
            "Zqq temporary problem (#4.3.0)"
        );
        assert_eq!(
            result_for_exit(64).unwrap().text,
            "qq trouble creating files in queue (#4.3.0)"
        );
    }

    /// A home whose bin/qmail-queue saves its fd 0 and fd 1 to got.msg
    /// and got.env.
    fn recording_queue() -> (tempfile::TempDir, PathBuf) {
        let home = tempfile::tempdir().unwrap();
        let out = home.path().join("got");
        let script = home.path().join("qq");
        std::fs::write(
            &script,
            format!(
                "#!/bin/sh\ncat > {0}.msg\ncat <&1 > {0}.env\nexit 0\n",
                out.display()
            ),
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        // Call the program directly rather than through the environment so
        // parallel tests do not race on QMAILQUEUE.
        std::fs::create_dir(home.path().join("bin")).unwrap();
        std::fs::rename(&script, home.path().join("bin/qmail-queue")).unwrap();
        (home, out)
    }

    /// `Injection::open_at`, again while the script is "text file busy":
    /// a test elsewhere in this process may fork while the script is
    /// still open for writing, and its child holds that descriptor until
    /// it execs.
    fn open_recording(home: &Path) -> Injection {
        for _ in 0..100 {
            match Injection::open_at(home) {
                Err(e) if e.text.starts_with("unable to exec qq") => {
                    std::thread::sleep(std::time::Duration::from_millis(10));
                }
                r => return r.unwrap(),
            }
        }
        panic!("qmail-queue stays busy");
    }

    fn a_to_c() -> Envelope {
        Envelope {
            sender: b"a@b".to_vec(),
            recipients: vec![b"c@d".to_vec()],
        }
    }

    #[test]
    fn queue_program_gets_message_then_envelope() {
        let (home, out) = recording_queue();
        let mut q = open_recording(home.path());
        q.put(b"Subject: hi\n\nbody\n");
        let env = a_to_c();
        q.close(&env).unwrap();
        assert_eq!(
            std::fs::read(out.with_extension("msg")).unwrap(),
            b"Subject: hi\n\nbody\n"
        );
        assert_eq!(
            std::fs::read(out.with_extension("env")).unwrap(),
            b"Fa@b\0Tc@d\0\0"
        );
    }

    #[test]
    fn failed_injection_writes_nothing_more() {
        // qmail_fail: what is still buffered never reaches the queue, and
        // neither does the envelope, so nothing is queued.
        let (home, out) = recording_queue();
        let mut q = open_recording(home.path());
        q.put(b"Subject: hi\n\n");
        q.fail();
        q.put(b"body\n");
        let env = a_to_c();
        assert!(q.close(&env).is_err());
        assert_eq!(std::fs::read(out.with_extension("msg")).unwrap(), b"");
        assert_eq!(std::fs::read(out.with_extension("env")).unwrap(), b"");
    }

    #[test]
    fn large_message_arrives_whole() {
        let (home, out) = recording_queue();
        let mut q = open_recording(home.path());
        let line = b"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde\n";
        for _ in 0..2000 {
            q.put(line);
        }
        let env = a_to_c();
        q.close(&env).unwrap();
        assert_eq!(
            std::fs::read(out.with_extension("msg")).unwrap(),
            line.repeat(2000)
        );
    }
}
