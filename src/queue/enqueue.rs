//! Putting a message into the queue: what qmail-queue does
//! (`shared/spec/qmail/queue.md` §4.3), as a library.
//!
//! Order of operations (states of §3; only the `todo` link commits):
//!
//! 1. `pid/PID.TIME.SEQ` created exclusively (SEQ 1..9); its inode is the id.
//! 2. linked to `mess/S/ID`, the pid name unlinked (S2).
//! 3. `Received:` line, then the message from fd 0, written to the mess file.
//! 4. `intd/ID` created exclusively (S3); `u`, `p` records, then the
//!    envelope from fd 1 copied record by record (without its final NUL).
//! 5. **barrier**: the mess and intd bytes are made durable (see
//!    [`SyncMode`]); the `mess/S/ID` name with them.
//! 6. `intd/ID` linked to `todo/ID` (S4, the commit), then the `todo`
//!    directory is made durable before success is reported (one fsync
//!    shared by the messages linked while the previous one ran).
//! 7. one NUL written to `lock/trigger`, non-blocking, errors ignored.
//!
//! Any failure before the commit truncates and unlinks `intd/ID` and
//! `mess/S/ID` (the original skips this for exits 11 and 91; cleaning is
//! allowed and better). A crash leaves S2/S3 leftovers only, which
//! [`super::cleanup`] removes.

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use crate::envelope::{Envelope, EnvelopeError};
use crate::queue::layout::Layout;

/// qmail-queue's exit codes (`queue.md` §4.5), kept once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitCode {
    AddressTooLong = 11,
    NoMem = 51,
    Timeout = 52,
    WriteError = 53,
    ReadError = 54,
    Home = 61,
    QueueDir = 62,
    PidDir = 63,
    MessDir = 64,
    IntdDir = 65,
    TodoDir = 66,
    Bug = 81,
    EnvelopeFormat = 91,
}

/// Why a message was not queued.
#[derive(Debug)]
pub enum QueueError {
    /// Could not create or stat the pid file (63).
    Pid(io::Error),
    /// Could not link into `mess/S` (64) — or unlink the pid name (63).
    Mess(io::Error),
    UnlinkPid(io::Error),
    /// Could not create `intd/ID` (65).
    Intd(io::Error),
    /// Could not link into `todo/` (66).
    Todo(io::Error),
    /// A write, flush or sync failed (53).
    Write(io::Error),
    /// Reading the message or envelope failed, or ended early (54).
    Read(Option<io::Error>),
    /// The envelope is malformed (91) or an address is too long (11).
    Envelope(EnvelopeError),
}

impl QueueError {
    /// The exit code of the original's table.
    pub fn exit_code(&self) -> ExitCode {
        match self {
            QueueError::Pid(_) | QueueError::UnlinkPid(_) => ExitCode::PidDir,
            QueueError::Mess(_) => ExitCode::MessDir,
            QueueError::Intd(_) => ExitCode::IntdDir,
            QueueError::Todo(_) => ExitCode::TodoDir,
            QueueError::Write(_) => ExitCode::WriteError,
            // Only qmail-queued's per-request deadline reads time out:
            // qmail-queue's alarm (52).
            QueueError::Read(Some(e)) if e.kind() == io::ErrorKind::TimedOut => ExitCode::Timeout,
            QueueError::Read(_) => ExitCode::ReadError,
            QueueError::Envelope(EnvelopeError::TooLong) => ExitCode::AddressTooLong,
            QueueError::Envelope(EnvelopeError::Truncated) => ExitCode::ReadError,
            QueueError::Envelope(_) => ExitCode::EnvelopeFormat,
        }
    }
}

impl std::fmt::Display for QueueError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            QueueError::Pid(e) => write!(f, "unable to create a file in queue/pid: {e}"),
            QueueError::UnlinkPid(e) => write!(f, "unable to unlink a file in queue/pid: {e}"),
            QueueError::Mess(e) => write!(f, "unable to link into queue/mess: {e}"),
            QueueError::Intd(e) => write!(f, "unable to create a file in queue/intd: {e}"),
            QueueError::Todo(e) => write!(f, "unable to link into queue/todo: {e}"),
            QueueError::Write(e) => write!(f, "unable to write the queue: {e}"),
            QueueError::Read(Some(e)) => write!(f, "unable to read the message or envelope: {e}"),
            QueueError::Read(None) => write!(f, "the envelope ended before its final NUL"),
            QueueError::Envelope(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for QueueError {}

/// How the barrier and the commit are made durable. Both modes keep the
/// two rules of `docs/internals.md` ("fsync and link order"): nothing is
/// visible in `todo/` before the mess and intd bytes it names are on
/// disk, and qmail-queue exits 0 only once the `todo/ID` name is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SyncMode {
    /// One `syncfs` on the queue's file system before the commit (mess
    /// and intd data and every directory entry made so far), one `fsync`
    /// of `todo/` after it: two sync calls per message, but it also
    /// flushes every other process's dirty data on that file system, so
    /// it is only fast when the queue has a file system to itself.
    Syncfs,
    /// `fsync` of the mess file and of the intd file (concurrently, so
    /// one journal commit can cover both), then of `todo/` after the
    /// link: three calls, each touching only this message. The
    /// `mess/S/ID` name gets no directory fsync of its own: it was made
    /// (by `link`) before the mess file's `fsync`, and it survives with
    /// it on every file system where netqmail's queue is crash-safe
    /// (synchronous metadata, a journal, btrfs' log tree, ext4 without a
    /// journal through `ext4_sync_parent`); netqmail needs that property
    /// for all its names, we for this one only. The table and reasoning:
    /// `docs/internals.md`, "On which file systems the order is
    /// crash-safe".
    #[default]
    Fsync,
}

impl SyncMode {
    /// The sync calls one message costs in this mode.
    pub const fn calls(self) -> usize {
        match self {
            SyncMode::Syncfs => 2,
            SyncMode::Fsync => 3,
        }
    }
}

/// The points a message passes through, for fault injection in tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    PidCreated,
    MessLinked,
    PidUnlinked,
    MessWritten,
    IntdCreated,
    IntdWritten,
    Synced,
    TodoLinked,
    TodoSynced,
}

impl Step {
    pub const ALL: [Step; 9] = [
        Step::PidCreated,
        Step::MessLinked,
        Step::PidUnlinked,
        Step::MessWritten,
        Step::IntdCreated,
        Step::IntdWritten,
        Step::Synced,
        Step::TodoLinked,
        Step::TodoSynced,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Step::PidCreated => "pid-created",
            Step::MessLinked => "mess-linked",
            Step::PidUnlinked => "pid-unlinked",
            Step::MessWritten => "mess-written",
            Step::IntdCreated => "intd-created",
            Step::IntdWritten => "intd-written",
            Step::Synced => "synced",
            Step::TodoLinked => "todo-linked",
            Step::TodoSynced => "todo-synced",
        }
    }
}

/// Who is queueing: the parts of the Received line and the `u`/`p` records.
#[derive(Debug, Clone)]
pub struct Injector {
    /// qmail-queue's pid.
    pub pid: u32,
    /// The caller's real uid.
    pub uid: u32,
    /// Start time, seconds since the epoch.
    pub now: i64,
    /// `by alias`, `from network`, `for bounce` or `by uid U`.
    pub who: String,
    /// The `pid/` file name before its `.SEQ`; `None` is qmail-queue's
    /// `PID.TIME`. qmail-queued names it after itself and a serial, as
    /// the `pid` it writes is its client's and need not be unique.
    pub pid_name: Option<String>,
}

/// The `WHO` of the Received line (`queue.md` §4.4): the first matching
/// row among alias, qmaild, qmails; else `by uid U`.
pub fn who(uid: u32, alias: Option<u32>, qmaild: Option<u32>, qmails: Option<u32>) -> String {
    if alias == Some(uid) {
        "by alias".into()
    } else if qmaild == Some(uid) {
        "from network".into()
    } else if qmails == Some(uid) {
        "for bounce".into()
    } else {
        format!("by uid {uid}")
    }
}

/// `Received: (qmail PID invoked WHO); DATE` + LF.
pub fn received_line(inj: &Injector) -> String {
    format!(
        "Received: (qmail {} invoked {}); {}",
        inj.pid,
        inj.who,
        crate::date::date822(inj.now)
    )
}

/// Files made so far, removed again if the message does not commit.
struct Made {
    mess: Option<(PathBuf, File)>,
    intd: Option<(PathBuf, File)>,
    committed: bool,
}

impl Drop for Made {
    fn drop(&mut self) {
        if self.committed {
            return;
        }
        for (path, file) in [self.intd.take(), self.mess.take()].into_iter().flatten() {
            // Truncate first, as the original does, so a hard link held
            // elsewhere cannot carry a partial message.
            let _ = file.set_len(0);
            if std::fs::remove_file(&path).is_err() {
                return;
            }
        }
    }
}

fn create_excl(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o644)
        .open(path)
}

fn sync_fs(f: &File) -> io::Result<()> {
    nix::unistd::syncfs(f.as_raw_fd()).map_err(io::Error::from)
}

/// Read the envelope from `input` until its final NUL (not to EOF),
/// failing as early as the original does.
pub fn read_envelope(input: &mut dyn Read) -> Result<Envelope, QueueError> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        match Envelope::parse_prefix(&buf) {
            Ok((env, _)) => return Ok(env),
            Err(EnvelopeError::Truncated) => {}
            Err(e) => return Err(QueueError::Envelope(e)),
        }
        let n = loop {
            match input.read(&mut chunk) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                r => break r.map_err(|e| QueueError::Read(Some(e)))?,
            }
        };
        if n == 0 {
            return Err(QueueError::Read(None));
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

fn copy_message(message: &mut dyn Read, out: &mut BufWriter<&File>) -> Result<(), QueueError> {
    let mut chunk = vec![0u8; 65536];
    loop {
        let n = match message.read(&mut chunk) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(QueueError::Read(Some(e))),
        };
        out.write_all(&chunk[..n]).map_err(QueueError::Write)?;
    }
}

/// Queue one message; returns its id. `step` is called after each step
/// (tests inject failures there; production passes `|_| Ok(())`).
pub fn enqueue(
    q: &Layout,
    inj: &Injector,
    mode: SyncMode,
    message: &mut dyn Read,
    envelope: &mut dyn Read,
    step: &mut dyn FnMut(Step) -> io::Result<()>,
) -> Result<u64, QueueError> {
    let received = received_line(inj);

    // 1. pid/PID.TIME.SEQ
    let mut pid_path = None;
    let mut pid_file = None;
    let stem = inj
        .pid_name
        .clone()
        .unwrap_or_else(|| format!("{}.{}", inj.pid, inj.now));
    for seq in 1..10 {
        let p = q.dir.join("pid").join(format!("{stem}.{seq}"));
        match create_excl(&p) {
            Ok(f) => {
                pid_path = Some(p);
                pid_file = Some(f);
                break;
            }
            Err(e) if seq == 9 => return Err(QueueError::Pid(e)),
            Err(_) => {}
        }
    }
    let (Some(pid_path), Some(file)) = (pid_path, pid_file) else {
        return Err(QueueError::Pid(io::Error::other("no pid file name")));
    };
    let id = match step(Step::PidCreated).and_then(|()| file.metadata()) {
        Ok(m) => m.ino(),
        Err(e) => {
            let _ = std::fs::remove_file(&pid_path);
            return Err(QueueError::Pid(e));
        }
    };

    // 2. mess/S/ID
    let mess_path = q.mess(id);
    if let Err(e) = std::fs::hard_link(&pid_path, &mess_path) {
        let _ = std::fs::remove_file(&pid_path);
        return Err(QueueError::Mess(e));
    }
    let mut made = Made {
        mess: Some((mess_path.clone(), file)),
        intd: None,
        committed: false,
    };
    step(Step::MessLinked).map_err(QueueError::Mess)?;
    std::fs::remove_file(&pid_path).map_err(QueueError::UnlinkPid)?;
    step(Step::PidUnlinked).map_err(QueueError::UnlinkPid)?;

    // 3. Received line and message.
    {
        let (_, mess) = made.mess.as_ref().ok_or(QueueError::Read(None))?;
        let mut out = BufWriter::with_capacity(65536, mess);
        out.write_all(received.as_bytes())
            .map_err(QueueError::Write)?;
        copy_message(message, &mut out)?;
        out.flush().map_err(QueueError::Write)?;
    }
    step(Step::MessWritten).map_err(QueueError::Write)?;

    // 4. intd/ID
    let intd_path = q.intd(id);
    let intd = create_excl(&intd_path).map_err(QueueError::Intd)?;
    made.intd = Some((intd_path.clone(), intd));
    step(Step::IntdCreated).map_err(QueueError::Intd)?;
    let env = read_envelope(envelope)?;
    let mut bytes = Vec::with_capacity(64);
    crate::queue::files::Todo::new(inj.uid, inj.pid, env)
        .write(&mut bytes)
        .map_err(QueueError::Envelope)?;
    {
        let (_, intd) = made.intd.as_ref().ok_or(QueueError::Read(None))?;
        (&*intd).write_all(&bytes).map_err(QueueError::Write)?;
    }
    step(Step::IntdWritten).map_err(QueueError::Write)?;

    // 5. The barrier.
    {
        let (_, intd) = made.intd.as_ref().ok_or(QueueError::Read(None))?;
        let (_, mess) = made.mess.as_ref().ok_or(QueueError::Read(None))?;
        match mode {
            SyncMode::Syncfs => {
                sync_fs(intd).map_err(QueueError::Write)?;
                let same = intd.metadata().map_err(QueueError::Write)?.dev()
                    == mess.metadata().map_err(QueueError::Write)?.dev();
                if !same {
                    sync_fs(mess).map_err(QueueError::Write)?;
                }
            }
            SyncMode::Fsync => {
                // Concurrent, so the file system can commit both in one
                // journal transaction.
                let (a, b) = super::syncer::sync_pair(mess, intd);
                a.map_err(QueueError::Write)?;
                b.map_err(QueueError::Write)?;
            }
        }
    }
    step(Step::Synced).map_err(QueueError::Write)?;

    // 6. The commit.
    std::fs::hard_link(&intd_path, q.todo(id)).map_err(QueueError::Todo)?;
    made.committed = true;
    step(Step::TodoLinked).map_err(QueueError::Write)?;
    // Shared with messages linked meanwhile (group commit).
    super::syncer::sync_dir_shared(&q.dir.join("todo")).map_err(QueueError::Write)?;
    step(Step::TodoSynced).map_err(QueueError::Write)?;

    // 7. The trigger.
    pull_trigger(q);
    Ok(id)
}

/// Write one NUL to `lock/trigger` if a reader has it open.
pub fn pull_trigger(q: &Layout) {
    if let Ok(mut f) = OpenOptions::new()
        .write(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(q.lock("trigger"))
    {
        let _ = f.write(&[0]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn who_table() {
        assert_eq!(who(5, Some(5), Some(5), Some(5)), "by alias");
        assert_eq!(who(6, Some(5), Some(6), Some(6)), "from network");
        assert_eq!(who(7, None, None, Some(7)), "for bounce");
        assert_eq!(who(0, Some(5), None, None), "by uid 0");
    }

    #[test]
    fn received_matches_recording() {
        let inj = Injector {
            pid: 1296,
            uid: 1002,
            now: 1_795_607_173,
            who: "from network".into(),
            pid_name: None,
        };
        assert_eq!(
            received_line(&inj),
            "Received: (qmail 1296 invoked from network); 25 Nov 2026 11:46:13 -0000\n"
        );
    }

    #[test]
    fn exit_codes() {
        let c = |e: QueueError| e.exit_code() as i32;
        assert_eq!(c(QueueError::Envelope(EnvelopeError::TooLong)), 11);
        assert_eq!(c(QueueError::Envelope(EnvelopeError::Format(0))), 91);
        assert_eq!(c(QueueError::Read(None)), 54);
        assert_eq!(c(QueueError::Todo(io::Error::other("x"))), 66);
    }
}
