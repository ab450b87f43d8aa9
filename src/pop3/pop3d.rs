//! qmail-pop3d: one POP3 transaction on the Maildir in the current
//! directory (after `chdir maildirname`), as netqmail 1.06.
//!
//! Messages are numbered at start-up (new/ then cur/, oldest first in
//! qmail's heap order, files of this very second left out) and never
//! renumbered. Deletions happen at QUIT only; a session that ends any
//! other way (EOF, timeout, write error) changes nothing.

use std::fs::{self, File};
use std::io::{BufRead, BufReader};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

use super::{err, okay, Command};
use crate::maildir::scan;
use crate::tcp::options::scan_ulong;
use crate::tls::stream::Conn;

/// One message of the listing.
#[derive(Debug, Clone)]
pub struct Message {
    /// `new/NAME` or `cur/NAME[:info]`, relative to the maildir.
    pub path: PathBuf,
    pub size: u64,
    pub deleted: bool,
}

impl Message {
    /// The UIDL: the file name without `new/`/`cur/` and without `:info`.
    pub fn uidl(&self) -> &[u8] {
        let p = self.path.as_os_str().as_bytes();
        let name = p.get(4..).unwrap_or_default();
        let end = name.iter().position(|&b| b == b':').unwrap_or(name.len());
        &name[..end]
    }
}

/// Why the session could not start (`-ERR ...`, then exit 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartError {
    /// `-ERR unable to scan $HOME/Maildir`.
    Scan,
}

/// `getlist`: clean tmp/, then list new/ and cur/ with sizes.
pub fn getlist(now: i64) -> Result<Vec<Message>, StartError> {
    scan::clean(now);
    let found = scan::scan(now, true).map_err(|_| StartError::Scan)?;
    Ok(found
        .into_iter()
        .map(|f| Message {
            size: fs::metadata(&f.path).map(|m| m.len()).unwrap_or(0),
            path: f.path,
            deleted: false,
        })
        .collect())
}

/// The transaction state.
pub struct Session {
    pub messages: Vec<Message>,
    /// Highest message number deleted so far (`LAST`).
    pub last: usize,
}

/// What the caller does after a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    Continue,
    /// QUIT was answered: exit 0.
    Quit,
    /// A message could not be read mid-way: exit 0 at once, unflushed,
    /// as the original's `die()`.
    Die,
}

impl Session {
    pub fn new(messages: Vec<Message>) -> Self {
        Session { messages, last: 0 }
    }

    /// Answer one command line.
    pub fn command(&mut self, conn: &mut Conn, line: &[u8]) -> Next {
        let c = Command::split(line);
        if c.is("quit") {
            self.quit(conn);
            return Next::Quit;
        }
        if c.is("stat") {
            self.stat(conn)
        } else if c.is("list") {
            self.listing(conn, c.arg, false)
        } else if c.is("uidl") {
            self.listing(conn, c.arg, true)
        } else if c.is("dele") {
            self.dele(conn, c.arg)
        } else if c.is("retr") || c.is("top") {
            if !self.top(conn, c.arg) {
                return Next::Die;
            }
        } else if c.is("rset") {
            self.messages.iter_mut().for_each(|m| m.deleted = false);
            self.last = 0;
            okay(conn)
        } else if c.is("last") {
            conn.out(format!("+OK {}\r\n", self.last).as_bytes())
        } else if c.is("noop") {
            okay(conn)
        } else {
            err(conn, "unimplemented")
        }
        Next::Continue
    }

    /// `msgno`: a message number that exists and is not deleted, as an
    /// index; otherwise the error reply has been sent.
    fn msgno(&self, conn: &mut Conn, arg: &[u8]) -> Option<usize> {
        let (u, n) = scan_ulong(arg);
        if n == 0 {
            err(conn, "syntax error");
            return None;
        }
        if u == 0 {
            err(conn, "messages are counted from 1");
            return None;
        }
        let i = u - 1;
        if i >= self.messages.len() as u64 {
            err(conn, "not that many messages");
            return None;
        }
        let i = i as usize;
        if self.messages[i].deleted {
            err(conn, "already deleted");
            return None;
        }
        Some(i)
    }

    /// STAT counts every message (deleted ones too, as the original) and
    /// sums the sizes of the undeleted.
    fn stat(&self, conn: &mut Conn) {
        let total: u64 = self
            .messages
            .iter()
            .filter(|m| !m.deleted)
            .map(|m| m.size)
            .fold(0, u64::wrapping_add);
        conn.out(format!("+OK {} {}\r\n", self.messages.len(), total).as_bytes());
    }

    fn list_line(&self, conn: &mut Conn, i: usize, uidl: bool) {
        conn.out(format!("{} ", i + 1).as_bytes());
        if uidl {
            conn.out(self.messages[i].uidl());
        } else {
            conn.out(self.messages[i].size.to_string().as_bytes());
        }
        conn.out(b"\r\n");
    }

    fn listing(&self, conn: &mut Conn, arg: &[u8], uidl: bool) {
        if !arg.is_empty() {
            if let Some(i) = self.msgno(conn, arg) {
                conn.out(b"+OK ");
                self.list_line(conn, i, uidl);
            }
            return;
        }
        okay(conn);
        for i in 0..self.messages.len() {
            if !self.messages[i].deleted {
                self.list_line(conn, i, uidl);
            }
        }
        conn.out(b".\r\n");
    }

    fn dele(&mut self, conn: &mut Conn, arg: &[u8]) {
        if let Some(i) = self.msgno(conn, arg) {
            self.messages[i].deleted = true;
            self.last = self.last.max(i + 1);
            okay(conn);
        }
    }

    /// RETR and TOP are one command in the original: `RETR 1 5` is
    /// `TOP 1 5`. The line count follows the message number after spaces.
    fn top(&self, conn: &mut Conn, arg: &[u8]) -> bool {
        let Some(i) = self.msgno(conn, arg) else {
            return true;
        };
        let rest = &arg[scan_ulong(arg).1..];
        let rest = &rest[rest.iter().take_while(|&&b| b == b' ').count()..];
        let (n, digits) = scan_ulong(rest);
        let limit = if digits > 0 { Some(n) } else { None };
        let Ok(f) = File::open(&self.messages[i].path) else {
            err(conn, "unable to open that message");
            return true;
        };
        okay(conn);
        blast(conn, BufReader::new(f), limit)
    }

    /// QUIT: unlink the deleted, move the rest of new/ to cur/ with
    /// `:2,`, then `+OK `. An unlink failure is reported and the rest go on.
    fn quit(&self, conn: &mut Conn) {
        for m in &self.messages {
            if m.deleted {
                if fs::remove_file(&m.path).is_err() {
                    err(conn, "unable to unlink all deleted messages");
                }
            } else if let Ok(name) = m.path.strip_prefix("new") {
                let mut to = PathBuf::from("cur").join(name).into_os_string();
                to.push(":2,");
                // As the original: if the rename fails, the message stays new.
                let _ = fs::rename(&m.path, to);
            }
        }
        okay(conn);
    }
}

/// The whole program after `chdir`: list, greet, answer until QUIT or
/// until the client goes away. Always exit 0, as the original.
pub fn serve(conn: &mut Conn, now: i64) -> i32 {
    let messages = match getlist(now) {
        Ok(m) => m,
        Err(StartError::Scan) => {
            err(conn, "unable to scan $HOME/Maildir");
            let _ = conn.flush();
            return 0;
        }
    };
    let mut session = Session::new(messages);
    okay(conn);
    while let Ok(line) = conn.read_line() {
        match session.command(conn, &line) {
            Next::Continue => {}
            Next::Quit => {
                let _ = conn.flush();
                return 0;
            }
            Next::Die => return 0,
        }
    }
    0
}

/// Send a message: LF → CRLF, a leading `.` doubled, with `limit` only
/// the header and that many body lines; then CRLF `.` CRLF (so a blank
/// line always precedes the terminator, as in the original). A read
/// error ends the session without the terminator, as the original dies.
fn blast(conn: &mut Conn, mut from: impl BufRead, limit: Option<u64>) -> bool {
    // The original counts limit+1 down before each body line.
    let mut left = limit.map(|n| n.wrapping_add(1)).filter(|&n| n != 0);
    let mut in_headers = true;
    let mut line = Vec::new();
    loop {
        line.clear();
        match from.read_until(b'\n', &mut line) {
            Ok(0) => break,
            Ok(_) => {}
            Err(_) => return false,
        }
        let matched = line.last() == Some(&b'\n');
        if matched {
            line.pop();
        }
        if let Some(n) = left.as_mut() {
            if !in_headers {
                *n -= 1;
                if *n == 0 {
                    break;
                }
            }
        }
        if line.is_empty() {
            in_headers = false;
        } else if line[0] == b'.' {
            conn.out(b".");
        }
        conn.out(&line);
        conn.out(b"\r\n");
        if !matched {
            break;
        }
    }
    conn.out(b"\r\n.\r\n");
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uidl_drops_dir_and_info() {
        let m = |p: &str| Message {
            path: PathBuf::from(p),
            size: 0,
            deleted: false,
        };
        assert_eq!(m("new/123.4.host").uidl(), b"123.4.host");
        assert_eq!(m("cur/123.4.host:2,S").uidl(), b"123.4.host");
    }
}
