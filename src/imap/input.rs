//! The client input with a way to wait for it with a deadline, which IDLE
//! needs to watch the mailbox while the client is silent: a buffered
//! reader over a file descriptor (stdin in `imap`) plus `poll(2)`; byte
//! slices (tests) are always ready.

use std::io::{self, BufRead, Read};
use std::os::fd::AsFd;
use std::time::Duration;

/// Input that can be waited for.
pub trait Wait: BufRead {
    /// Whether input is ready (buffered or readable) within `timeout`.
    fn wait(&mut self, timeout: Duration) -> io::Result<bool>;
}

impl Wait for &[u8] {
    fn wait(&mut self, _timeout: Duration) -> io::Result<bool> {
        Ok(true)
    }
}

/// A buffered reader over a pollable descriptor.
pub struct PollReader<F> {
    inner: F,
    buf: Vec<u8>,
    pos: usize,
}

impl<F: Read + AsFd> PollReader<F> {
    pub fn new(inner: F) -> Self {
        Self::with_pending(inner, Vec::new())
    }

    /// Start with bytes already received (a login process's
    /// `CLIENT_INPUT`).
    pub fn with_pending(inner: F, pending: Vec<u8>) -> Self {
        PollReader {
            inner,
            buf: pending,
            pos: 0,
        }
    }
}

impl<F: Read + AsFd> Read for PollReader<F> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let avail = self.fill_buf()?;
        let n = avail.len().min(out.len());
        out[..n].copy_from_slice(&avail[..n]);
        self.consume(n);
        Ok(n)
    }
}

impl<F: Read + AsFd> BufRead for PollReader<F> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.pos >= self.buf.len() {
            self.buf.resize(16384, 0);
            let n = self.inner.read(&mut self.buf)?;
            self.buf.truncate(n);
            self.pos = 0;
        }
        Ok(&self.buf[self.pos..])
    }

    fn consume(&mut self, n: usize) {
        self.pos = (self.pos + n).min(self.buf.len());
    }
}

impl<F: Read + AsFd> Wait for PollReader<F> {
    fn wait(&mut self, timeout: Duration) -> io::Result<bool> {
        use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
        if self.pos < self.buf.len() {
            return Ok(true);
        }
        let ms = u16::try_from(timeout.as_millis()).unwrap_or(u16::MAX);
        let mut fds = [PollFd::new(self.inner.as_fd(), PollFlags::POLLIN)];
        match poll(&mut fds, PollTimeout::from(ms)) {
            Ok(n) => Ok(n > 0),
            Err(nix::errno::Errno::EINTR) => Ok(false),
            Err(e) => Err(io::Error::from(e)),
        }
    }
}
