//! The line I/O of Dovecot's post-login processes: commands from fd 0
//! with an idle timeout and a maximum line length, replies buffered on
//! fd 1 and flushed before every read (as Dovecot's corked ostream).

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::AsFd;
use std::time::Duration;

use nix::poll::{PollFd, PollFlags, PollTimeout};

/// Why no line came.
#[derive(Debug)]
pub enum ReadError {
    /// Nothing within the idle timeout.
    Timeout,
    /// End of input or a read error.
    Closed,
    /// The line outgrew the input buffer.
    TooLong,
}

/// A client connection as the protocol code sees it: lines in, bytes out
/// (plain fds here, TLS in the login process's adapter).
pub trait Lines {
    /// The next line without its LF (a CR before it is removed too).
    fn read_line(&mut self) -> Result<Vec<u8>, ReadError>;
    /// Queue bytes.
    fn out(&mut self, b: &[u8]);
    /// Send what is queued.
    fn flush(&mut self);
    /// A write failed: the client is gone.
    fn broken(&self) -> bool;
    /// Queue one reply line plus CRLF.
    fn line(&mut self, s: &str) {
        self.out(s.as_bytes());
        self.out(b"\r\n");
    }
}

impl Lines for LineIo {
    fn read_line(&mut self) -> Result<Vec<u8>, ReadError> {
        LineIo::read_line(self)
    }
    fn out(&mut self, b: &[u8]) {
        LineIo::out(self, b)
    }
    fn flush(&mut self) {
        LineIo::flush(self)
    }
    fn broken(&self) -> bool {
        self.broken
    }
}

/// Buffered command input and reply output.
pub struct LineIo {
    rd: File,
    wr: io::BufWriter<File>,
    buf: Vec<u8>,
    idle: Duration,
    max_line: usize,
    /// A write failed: the client is gone.
    pub broken: bool,
}

impl LineIo {
    /// Over `rd`/`wr`; `pending` is input already read by someone else
    /// (Dovecot's `CLIENT_INPUT`).
    pub fn new(rd: File, wr: File, pending: Vec<u8>, idle: Duration, max_line: usize) -> LineIo {
        LineIo {
            rd,
            wr: io::BufWriter::with_capacity(65536, wr),
            buf: pending,
            idle,
            max_line,
            broken: false,
        }
    }

    /// Queue bytes.
    pub fn out(&mut self, b: &[u8]) {
        if !self.broken && self.wr.write_all(b).is_err() {
            self.broken = true;
        }
    }

    /// Queue one reply line plus CRLF.
    pub fn line(&mut self, s: &str) {
        self.out(s.as_bytes());
        self.out(b"\r\n");
    }

    /// Send what is queued.
    pub fn flush(&mut self) {
        if !self.broken && self.wr.flush().is_err() {
            self.broken = true;
        }
    }

    /// Whether a complete line is already buffered.
    pub fn has_line(&self) -> bool {
        self.buf.contains(&b'\n')
    }

    /// The next line without its LF (a CR before it is removed too).
    pub fn read_line(&mut self) -> Result<Vec<u8>, ReadError> {
        loop {
            if let Some(i) = self.buf.iter().position(|&b| b == b'\n') {
                let mut line: Vec<u8> = self.buf.drain(..=i).collect();
                line.pop();
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                return Ok(line);
            }
            if self.buf.len() >= self.max_line {
                return Err(ReadError::TooLong);
            }
            self.flush();
            self.fill()?;
        }
    }

    fn fill(&mut self) -> Result<(), ReadError> {
        let t = PollTimeout::try_from(self.idle).unwrap_or(PollTimeout::MAX);
        loop {
            let mut p = [PollFd::new(self.rd.as_fd(), PollFlags::POLLIN)];
            match nix::poll::poll(&mut p, t) {
                Ok(0) => return Err(ReadError::Timeout),
                Ok(_) => break,
                Err(nix::errno::Errno::EINTR) => continue,
                Err(_) => return Err(ReadError::Closed),
            }
        }
        let mut chunk = [0u8; 4096];
        match self.rd.read(&mut chunk) {
            Ok(0) | Err(_) => Err(ReadError::Closed),
            Ok(n) => {
                self.buf.extend_from_slice(&chunk[..n]);
                Ok(())
            }
        }
    }
}
