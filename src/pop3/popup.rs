//! qmail-popup: the POP3 authorization state, as netqmail 1.06.
//!
//! Greets with an APOP timestamp `<PID.TIME@HOSTNAME>`, takes USER/PASS
//! or APOP, then runs the checkpassword program with
//! `user NUL password NUL <PID.TIME@HOSTNAME> NUL` on fd 3 and its
//! stderr on the client's connection. The child serves the rest of the
//! session; qmail-popup only reports a refusal or a crash, then exits 1.

use std::ffi::OsString;

use super::{err, okay, Command};
use crate::auth::checkpassword::{spawn, CheckError, Spawned};
use crate::tls::stream::Conn;

/// The authorization state between commands.
pub struct Popup {
    /// The greeting's `PID.TIME@` part; the host follows it.
    pub unique: String,
    pub hostname: Vec<u8>,
    /// The checkpassword program and its arguments.
    pub child: Vec<OsString>,
    user: Option<Vec<u8>>,
}

/// What the caller does after a command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    Continue,
    /// Exit 1 (QUIT, or after the checkpassword child).
    Exit,
    /// Run the checkpassword child with these descriptor-3 bytes.
    Authenticate(Vec<u8>),
}

impl Popup {
    pub fn new(pid: u32, now: u64, hostname: Vec<u8>, child: Vec<OsString>) -> Self {
        Popup {
            unique: format!("{pid}.{now}@"),
            hostname,
            child,
            user: None,
        }
    }

    /// `+OK <PID.TIME@HOSTNAME>`.
    pub fn greet(&self, conn: &mut Conn) {
        conn.out(b"+OK <");
        conn.out(self.unique.as_bytes());
        conn.out(&self.hostname);
        conn.out(b">\r\n");
    }

    /// The fd-3 data for a name and password.
    fn data(&self, user: &[u8], pass: &[u8]) -> Vec<u8> {
        let mut d = Vec::with_capacity(user.len() + pass.len() + 64);
        d.extend_from_slice(user);
        d.push(0);
        d.extend_from_slice(pass);
        d.push(0);
        d.push(b'<');
        d.extend_from_slice(self.unique.as_bytes());
        d.extend_from_slice(&self.hostname);
        d.extend_from_slice(b">\0");
        d
    }

    /// Answer one command line.
    pub fn command(&mut self, conn: &mut Conn, line: &[u8]) -> Next {
        let c = Command::split(line);
        if c.is("user") {
            if c.arg.is_empty() {
                err(conn, "syntax error");
            } else {
                okay(conn);
                self.user = Some(c.arg.to_vec());
            }
        } else if c.is("pass") {
            match &self.user {
                None => err(conn, "USER first"),
                Some(_) if c.arg.is_empty() => err(conn, "syntax error"),
                Some(u) => return Next::Authenticate(self.data(u, c.arg)),
            }
        } else if c.is("apop") {
            // The digest stands in for the password; everything after the
            // first space is it, further spaces included.
            match c.arg.iter().position(|&b| b == b' ') {
                None => err(conn, "syntax error"),
                Some(i) => return Next::Authenticate(self.data(&c.arg[..i], &c.arg[i + 1..])),
            }
        } else if c.is("quit") {
            okay(conn);
            return Next::Exit;
        } else if c.is("noop") {
            okay(conn);
        } else {
            err(conn, "authorization first");
        }
        Next::Continue
    }

    /// Run the child and wait for it: exit 0 means it served the
    /// session; otherwise the refusal (or crash) is reported.
    pub fn authenticate(&self, conn: &mut Conn, data: &[u8]) {
        if conn.flush().is_err() {
            return;
        }
        let mut child = match spawn(&self.child, data) {
            Ok(Spawned::Running(c)) => c,
            // The original's child exits 1 when exec fails.
            Ok(Spawned::NotStarted) => return err(conn, "authorization failed"),
            Err(CheckError::Pipe) => return err(conn, "unable to open pipe"),
            Err(CheckError::Write) => return err(conn, "unable to write pipe"),
            Err(CheckError::Fork | CheckError::Child) => return err(conn, "unable to fork"),
        };
        match child.wait() {
            Err(_) => {}
            Ok(s) => match s.code() {
                Some(0) => {}
                Some(_) => err(conn, "authorization failed"),
                None => err(conn, "aack, child crashed"),
            },
        }
    }
}

/// The whole program after the argument check: greet, answer until a
/// login is tried, QUIT, or the client goes away. Always exit 1.
pub fn run(conn: &mut Conn, popup: &mut Popup) -> i32 {
    // Byte by byte: whatever the client sends after PASS is the child's.
    conn.set_read_chunk(1);
    popup.greet(conn);
    while let Ok(line) = conn.read_line() {
        match popup.command(conn, &line) {
            Next::Continue => {}
            Next::Exit => break,
            Next::Authenticate(data) => {
                popup.authenticate(conn, &data);
                break;
            }
        }
    }
    let _ = conn.flush();
    1
}
