//! qmail-clean's protocol (`shared/spec/qmail/queue.md` §7): `foop/ID` or
//! `todo/ID` NUL in, one of `+` `!` `x` out.

use std::io;
use std::os::unix::fs::MetadataExt;

use crate::queue::layout::Layout;

/// A parsed command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    /// Remove intd/ID and mess/S/ID.
    Foop(u64),
    /// Remove intd/ID and todo/ID.
    Todo(u64),
}

/// Parse one command (with its final NUL); `None` is malformed (`x`).
pub fn parse(cmd: &[u8]) -> Option<Command> {
    if cmd.len() < 7 || cmd.len() > 100 || cmd.last() != Some(&0) {
        return None;
    }
    let body = &cmd[..cmd.len() - 1];
    let digits = &body[5..];
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let id = std::str::from_utf8(digits).ok()?.parse().ok()?;
    match &body[..5] {
        b"foop/" => Some(Command::Foop(id)),
        b"todo/" => Some(Command::Todo(id)),
        _ => None,
    }
}

fn unlink(p: &std::path::Path) -> bool {
    match std::fs::remove_file(p) {
        Ok(()) => true,
        Err(e) => e.kind() == io::ErrorKind::NotFound,
    }
}

/// Execute a command; the answer byte.
pub fn execute(q: &Layout, cmd: Option<Command>) -> u8 {
    let ok = match cmd {
        None => return b'x',
        Some(Command::Foop(id)) => unlink(&q.intd(id)) && unlink(&q.mess(id)),
        Some(Command::Todo(id)) => unlink(&q.intd(id)) && unlink(&q.todo(id)),
    };
    if ok {
        b'+'
    } else {
        b'!'
    }
}

/// Remove `pid/` entries whose atime is more than 36 hours old.
pub fn clean_pids(q: &Layout, now: i64) {
    let Ok(rd) = std::fs::read_dir(q.dir.join("pid")) else {
        return;
    };
    for e in rd.flatten() {
        if let Ok(md) = e.metadata() {
            if now > md.atime() + 129_600 {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands() {
        assert_eq!(parse(b"foop/754967\0"), Some(Command::Foop(754967)));
        assert_eq!(parse(b"todo/1\0"), Some(Command::Todo(1)));
        assert_eq!(parse(b"todo/\0"), None);
        assert_eq!(parse(b"todo/1x\0"), None);
        assert_eq!(parse(b"mess/12\0"), None);
        assert_eq!(parse(b"todo/12"), None);
    }
}
