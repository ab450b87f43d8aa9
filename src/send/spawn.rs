//! The spawner protocol shared by qmail-lspawn and qmail-rspawn
//! (`shared/spec/qmail/send.md` §5).
//!
//! ```text
//! command = delnum-byte messid NUL sender NUL recipient NUL
//! report  = delnum-byte status-byte text NUL      ; status K / Z / D
//! ```
//! [`serve`] reads commands, validates them with the original's texts,
//! and runs each delivery on its own thread so that up to [`SPAWN`]
//! deliveries proceed at once; each thread writes its whole report in one
//! piece.

use std::collections::HashSet;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::ExitStatusExt;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};

/// conf-spawn: the hard concurrency limit, also sent as the first byte.
pub const SPAWN: u8 = 120;
/// Longest message id accepted.
pub const MAX_MESSID: usize = 100;

/// One channel's delivery: given the message (stdin of the child), the
/// sender and recipient, produce the report (status byte + text).
pub trait Channel: Send + Sync + 'static {
    fn deliver(&self, mess: File, sender: &[u8], recipient: &[u8]) -> Vec<u8>;
}

/// A validated command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cmd {
    pub delnum: u8,
    pub messid: Vec<u8>,
    pub sender: Vec<u8>,
    pub recipient: Vec<u8>,
}

/// The immediate report for a command that cannot be started, if any.
pub fn validate(cmd: &Cmd, busy: bool) -> Option<&'static str> {
    if cmd.delnum >= SPAWN {
        return Some("ZInternal error: delnum too big. (#4.3.5)\n");
    }
    if busy {
        return Some("ZInternal error: delnum in use. (#4.3.5)\n");
    }
    let m = &cmd.messid;
    if m.iter()
        .enumerate()
        .any(|(i, &b)| !(b.is_ascii_digit() || (b == b'/' && i > 0)))
    {
        return Some("DInternal error: messid has nonnumerics. (#5.3.5)\n");
    }
    if m.len() > MAX_MESSID {
        return Some("DInternal error: messid too long. (#5.3.5)\n");
    }
    if m.is_empty() {
        return Some("DInternal error: messid too short. (#5.3.5)\n");
    }
    if !cmd.recipient.contains(&b'@') {
        return Some("DSorry, address must include host name. (#5.1.3)\n");
    }
    None
}

/// Open the message (relative to `queue/mess`) and check it as the
/// original does; `Err` is the report text.
pub fn open_message(messid: &[u8], owner_uid: u32) -> Result<File, &'static str> {
    let f = File::open(crate::local::bpath(messid))
        .map_err(|_| "Zqmail-spawn unable to open message. (#4.3.0)\n")?;
    let md = f
        .metadata()
        .map_err(|_| "Zqmail-spawn unable to fstat message. (#4.3.0)\n")?;
    if !md.file_type().is_file() {
        return Err("ZSorry, message has wrong type. (#4.3.5)\n");
    }
    if md.uid() != owner_uid {
        return Err("ZSorry, message has wrong owner. (#4.3.5)\n");
    }
    Ok(f)
}

fn read_field(r: &mut dyn BufRead) -> io::Result<Option<Vec<u8>>> {
    let mut v = Vec::new();
    r.read_until(0, &mut v)?;
    if v.last() != Some(&0) {
        return Ok(None);
    }
    v.pop();
    Ok(Some(v))
}

/// Read one command; `None` at EOF.
pub fn read_cmd(r: &mut dyn BufRead) -> io::Result<Option<Cmd>> {
    let mut b = [0u8; 1];
    if r.read(&mut b)? == 0 {
        return Ok(None);
    }
    let (Some(messid), Some(sender), Some(recipient)) =
        (read_field(r)?, read_field(r)?, read_field(r)?)
    else {
        return Ok(None);
    };
    Ok(Some(Cmd {
        delnum: b[0],
        messid,
        sender,
        recipient,
    }))
}

fn send(out: &Mutex<Box<dyn Write + Send>>, delnum: u8, report: &[u8]) {
    let mut buf = vec![delnum];
    buf.extend_from_slice(report);
    buf.push(0);
    if let Ok(mut o) = out.lock() {
        let _ = o.write_all(&buf);
        let _ = o.flush();
    }
}

/// Serve commands from `input` until EOF, then wait for every delivery.
/// `owner_uid` is qmailq's uid (the required owner of message files).
pub fn serve(
    channel: Arc<dyn Channel>,
    input: impl Read,
    output: Box<dyn Write + Send>,
    owner_uid: u32,
) -> io::Result<()> {
    let out = Arc::new(Mutex::new(output));
    if let Ok(mut o) = out.lock() {
        o.write_all(&[SPAWN])?;
        o.flush()?;
    }
    let busy: Arc<Mutex<HashSet<u8>>> = Arc::default();
    let mut threads = Vec::new();
    let mut r = BufReader::new(input);
    while let Some(cmd) = read_cmd(&mut r)? {
        let is_busy = busy
            .lock()
            .map(|b| b.contains(&cmd.delnum))
            .unwrap_or(false);
        if let Some(err) = validate(&cmd, is_busy) {
            send(&out, cmd.delnum, err.as_bytes());
            continue;
        }
        let mess = match open_message(&cmd.messid, owner_uid) {
            Ok(f) => f,
            Err(e) => {
                send(&out, cmd.delnum, e.as_bytes());
                continue;
            }
        };
        if let Ok(mut b) = busy.lock() {
            b.insert(cmd.delnum);
        }
        let (ch, out2, busy2) = (channel.clone(), out.clone(), busy.clone());
        let t = std::thread::Builder::new().spawn(move || {
            let report = ch.deliver(mess, &cmd.sender, &cmd.recipient);
            if let Ok(mut b) = busy2.lock() {
                b.remove(&cmd.delnum);
            }
            send(&out2, cmd.delnum, &report);
        });
        match t {
            Ok(t) => threads.push(t),
            Err(_) => {
                if let Ok(mut b) = busy.lock() {
                    b.remove(&cmd.delnum);
                }
                send(&out, cmd.delnum, b"Zqmail-spawn unable to fork. (#4.3.0)\n");
            }
        }
        threads.retain(|t| !t.is_finished());
    }
    for t in threads {
        let _ = t.join();
    }
    Ok(())
}

/// How a child ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Code(i32),
    Crashed,
}

impl From<ExitStatus> for Exit {
    fn from(s: ExitStatus) -> Self {
        match (s.signal(), s.code()) {
            (None, Some(c)) => Exit::Code(c),
            _ => Exit::Crashed,
        }
    }
}

/// Run `cmd` with `stdin`, stdout and stderr on one pipe; return its exit
/// and everything it wrote.
pub fn run_collect(mut cmd: Command, stdin: Stdio) -> io::Result<(Exit, Vec<u8>)> {
    let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)?;
    let w2 = w.try_clone()?;
    cmd.stdin(stdin)
        .stdout(Stdio::from(w))
        .stderr(Stdio::from(w2));
    let mut child: Child = cmd.spawn()?;
    // Drop our copies of the write end (held by `cmd`).
    drop(cmd);
    let mut output = Vec::new();
    let _ = File::from(r).read_to_end(&mut output);
    let status = loop {
        match child.wait() {
            Ok(s) => break s,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    };
    Ok((Exit::from(status), output))
}

/// qmail-lspawn's report truncation (`send.md` §5).
pub fn truncate_report(output: &mut Vec<u8>, limit: usize) {
    const MESS: &[u8] = b"\nError report too long, sorry.\n";
    if output.len() > limit {
        output.truncate(limit - MESS.len() - 3);
        output.extend_from_slice(MESS);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmd(delnum: u8, messid: &str, rcpt: &str) -> Cmd {
        Cmd {
            delnum,
            messid: messid.into(),
            sender: b"s".to_vec(),
            recipient: rcpt.into(),
        }
    }

    #[test]
    fn validation_texts() {
        assert_eq!(validate(&cmd(0, "15/754967", "a@b"), false), None);
        assert_eq!(
            validate(&cmd(120, "1/2", "a@b"), false),
            Some("ZInternal error: delnum too big. (#4.3.5)\n")
        );
        assert_eq!(
            validate(&cmd(1, "1/2", "a@b"), true),
            Some("ZInternal error: delnum in use. (#4.3.5)\n")
        );
        assert_eq!(
            validate(&cmd(1, "/12", "a@b"), false),
            Some("DInternal error: messid has nonnumerics. (#5.3.5)\n")
        );
        assert_eq!(
            validate(&cmd(1, "1x", "a@b"), false),
            Some("DInternal error: messid has nonnumerics. (#5.3.5)\n")
        );
        assert_eq!(
            validate(&cmd(1, "", "a@b"), false),
            Some("DInternal error: messid too short. (#5.3.5)\n")
        );
        assert_eq!(
            validate(&cmd(1, &"1".repeat(101), "a@b"), false),
            Some("DInternal error: messid too long. (#5.3.5)\n")
        );
        assert_eq!(
            validate(&cmd(1, "1/2", "ab"), false),
            Some("DSorry, address must include host name. (#5.1.3)\n")
        );
    }

    #[test]
    fn truncation() {
        let mut v = vec![b'x'; 3001];
        truncate_report(&mut v, 3000);
        assert_eq!(v.len(), 2966 + 31);
        assert!(v.ends_with(b"\nError report too long, sorry.\n"));
        let mut v = vec![b'x'; 3000];
        truncate_report(&mut v, 3000);
        assert_eq!(v.len(), 3000);
    }

    #[test]
    fn command_reader() {
        let mut r: &[u8] = b"\x051/2\0s@x\0r@y\0\x06";
        let c = read_cmd(&mut r).unwrap().unwrap();
        assert_eq!(
            c,
            Cmd {
                delnum: 5,
                messid: b"1/2".to_vec(),
                sender: b"s@x".to_vec(),
                recipient: b"r@y".to_vec()
            }
        );
        assert_eq!(read_cmd(&mut r).unwrap(), None);
    }
}
