//! QMTP and the pieces QMTP and QMQP servers share (`binaries.md` §QMTP,
//! §QMQP): a byte reader with the originals' end-of-input rule, the
//! Received line (the rcpthosts check is `control::rcpthosts`).

pub mod received;
pub mod server;

use std::io::{self, Read, Write};

/// How a server session ends; `code()` is the exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Input ended or a write failed (`saferead`/`safewrite` exit 0).
    Eof,
    /// Protocol violation (exit 100).
    BadProto,
    /// Resource trouble, timeout (exit 111).
    Resources,
}

impl Exit {
    pub fn code(self) -> i32 {
        match self {
            Exit::Eof => 0,
            Exit::BadProto => 100,
            Exit::Resources => 111,
        }
    }
}

/// Buffered byte input where end of input or a read error ends the session
/// with exit 0, as the originals' `saferead`.
pub struct ByteReader<R> {
    inner: R,
    buf: Vec<u8>,
    pos: usize,
    len: usize,
}

impl<R: Read> ByteReader<R> {
    pub fn new(inner: R) -> Self {
        ByteReader {
            inner,
            buf: vec![0; 8192],
            pos: 0,
            len: 0,
        }
    }

    /// True when no buffered bytes remain (the next get reads).
    pub fn drained(&self) -> bool {
        self.pos == self.len
    }

    /// One byte.
    pub fn get(&mut self) -> Result<u8, Exit> {
        if self.pos == self.len {
            loop {
                match self.inner.read(&mut self.buf) {
                    Ok(0) => return Err(Exit::Eof),
                    Ok(n) => {
                        self.len = n;
                        self.pos = 0;
                        break;
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(_) => return Err(Exit::Eof),
                }
            }
        }
        let b = self.buf[self.pos];
        self.pos += 1;
        Ok(b)
    }
}

/// `getlen`: decimal digits up to `:`. Over 200,000,000 → resources; a
/// non-digit is a protocol error (the original would compute garbage).
pub fn getlen<R: Read>(
    r: &mut ByteReader<R>,
    mut tick: impl FnMut() -> Result<(), Exit>,
) -> Result<u64, Exit> {
    let mut len: u64 = 0;
    loop {
        tick()?;
        let ch = r.get()?;
        if ch == b':' {
            return Ok(len);
        }
        if len > crate::netstring::MAX_LEN {
            return Err(Exit::Resources);
        }
        if !ch.is_ascii_digit() {
            return Err(Exit::BadProto);
        }
        len = 10 * len + u64::from(ch - b'0');
    }
}

/// Write and flush; failure ends the session (exit 0).
pub fn send(w: &mut dyn Write, bytes: &[u8]) -> Result<(), Exit> {
    w.write_all(bytes)
        .and_then(|()| w.flush())
        .map_err(|_| Exit::Eof)
}

/// Message bytes on their way to the queue, written in chunks.
pub struct Spool {
    pub q: crate::queue::client::Injection,
    buf: Vec<u8>,
}

impl Spool {
    pub fn new(q: crate::queue::client::Injection) -> Self {
        Spool {
            q,
            buf: Vec::with_capacity(65536),
        }
    }

    pub fn put(&mut self, b: &[u8]) {
        self.buf.extend_from_slice(b);
        if self.buf.len() >= 65536 {
            self.q.put(&self.buf);
            self.buf.clear();
        }
    }

    pub fn byte(&mut self, b: u8) {
        self.buf.push(b);
        if self.buf.len() >= 65536 {
            self.q.put(&self.buf);
            self.buf.clear();
        }
    }

    /// Hand over the rest; returns the injection for `close`.
    pub fn finish(mut self) -> crate::queue::client::Injection {
        if !self.buf.is_empty() {
            self.q.put(&self.buf);
        }
        self.q
    }
}
