//! The SMTP connection: fd 0 for reading, fd 1 for writing, each read and
//! write bounded by `timeoutsmtpd`, upgradable to TLS in the middle of the
//! session (STARTTLS) or at connect (SMTPS).
//!
//! Buffering follows qmail-smtpd's substdio: input is read in chunks of
//! at most 1024 bytes, output is collected in a 512-byte buffer and
//! flushed before every read. On STARTTLS the TLS layer reads the socket
//! directly, and plaintext buffered before the handshake is discarded.

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd};
use std::sync::Arc;
use std::time::Duration;

use nix::poll::{PollFd, PollFlags, PollTimeout};
use rustls::{ServerConfig, ServerConnection};

/// Size of one read, as `ssinbuf`.
const IN_CHUNK: usize = 1024;
/// Output buffer size, as `ssoutbuf`.
const OUT_BUF: usize = 512;

/// Why the connection cannot go on.
#[derive(Debug)]
pub enum ConnError {
    /// No byte within the timeout (`451 timeout (#4.4.2)`).
    Timeout,
    /// End of file, a reset, or a TLS failure: hang up silently.
    Closed,
}

/// The two descriptors with timeouts, as `timeoutread`/`timeoutwrite`.
pub struct Fds {
    rd: File,
    wr: File,
    timeout: Duration,
    /// The sockets' own timeouts (SO_RCVTIMEO, SO_SNDTIMEO) bound each
    /// read and write, so no poll is needed before them.
    kernel: bool,
}

impl Fds {
    /// Put `timeout` on both sockets; false (and poll from now on) if
    /// either is not a blocking socket or the timeout cannot be expressed
    /// (zero means "forever" to the kernel but "at once" to qmail).
    fn set_kernel_timeouts(&self) -> bool {
        use nix::sys::socket::{setsockopt, sockopt};
        use nix::sys::time::TimeVal;
        if self.timeout.is_zero() || !blocking(&self.rd) || !blocking(&self.wr) {
            return false;
        }
        let tv = TimeVal::new(
            self.timeout.as_secs().min(i32::MAX as u64) as _,
            self.timeout.subsec_micros() as _,
        );
        setsockopt(&self.rd, sockopt::ReceiveTimeout, &tv).is_ok()
            && setsockopt(&self.wr, sockopt::SendTimeout, &tv).is_ok()
    }
}

/// True unless O_NONBLOCK is set: on a non-blocking socket EAGAIN would
/// not mean the timeout ran out.
fn blocking(fd: &File) -> bool {
    use nix::fcntl::{fcntl, FcntlArg, OFlag};
    fcntl(fd.as_raw_fd(), FcntlArg::F_GETFL)
        .is_ok_and(|fl| !OFlag::from_bits_truncate(fl).contains(OFlag::O_NONBLOCK))
}

/// A read or write bounded by the socket timeout: EAGAIN is the timeout;
/// a signal restarts it (with a fresh timeout, as after a poll).
fn timed<T>(mut op: impl FnMut() -> io::Result<T>) -> io::Result<T> {
    loop {
        match op() {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                return Err(io::ErrorKind::TimedOut.into())
            }
            r => return r,
        }
    }
}

fn wait(fd: &File, flags: PollFlags, timeout: Duration) -> io::Result<()> {
    let t = PollTimeout::try_from(timeout).unwrap_or(PollTimeout::MAX);
    loop {
        let mut p = [PollFd::new(fd.as_fd(), flags)];
        match nix::poll::poll(&mut p, t) {
            Ok(0) => return Err(io::ErrorKind::TimedOut.into()),
            Ok(_) => return Ok(()),
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(e.into()),
        }
    }
}

impl Read for Fds {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.kernel {
            return timed(|| self.rd.read(buf));
        }
        wait(&self.rd, PollFlags::POLLIN, self.timeout)?;
        self.rd.read(buf)
    }
}

impl Write for Fds {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.kernel {
            return timed(|| self.wr.write(buf));
        }
        wait(&self.wr, PollFlags::POLLOUT, self.timeout)?;
        self.wr.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn closed_or_timeout(e: &io::Error) -> ConnError {
    if e.kind() == io::ErrorKind::TimedOut {
        ConnError::Timeout
    } else {
        ConnError::Closed
    }
}

/// A buffered, possibly encrypted, SMTP connection.
pub struct Conn {
    fds: Fds,
    tls: Option<Box<ServerConnection>>,
    inbuf: Vec<u8>,
    inpos: usize,
    out: Vec<u8>,
    /// A write already failed; the next flush reports it.
    broken: bool,
    /// Most bytes taken from the descriptor per read.
    chunk: usize,
}

impl Conn {
    /// Wrap a reading and a writing descriptor (normally fd 0 and fd 1).
    pub fn new(rd: File, wr: File, timeout: Duration) -> Self {
        Conn {
            fds: Fds {
                rd,
                wr,
                timeout,
                kernel: false,
            },
            tls: None,
            inbuf: Vec::new(),
            inpos: 0,
            out: Vec::with_capacity(OUT_BUF),
            broken: false,
            chunk: IN_CHUNK,
        }
    }

    /// Wrap duplicates of fd 0 and fd 1. The duplicates stay off fd 3,
    /// which a checkpassword child gets: the low free numbers are held by
    /// /dev/null while duplicating.
    pub fn stdio(timeout: Duration) -> io::Result<Self> {
        let mut placeholders = Vec::new();
        while let Ok(f) = File::open("/dev/null") {
            let fd = f.as_raw_fd();
            placeholders.push(f);
            if fd >= 3 {
                break;
            }
        }
        let rd = File::from(io::stdin().as_fd().try_clone_to_owned()?);
        let wr = File::from(io::stdout().as_fd().try_clone_to_owned()?);
        drop(placeholders);
        Ok(Conn::new(rd, wr, timeout))
    }

    /// Change the per-read/-write timeout.
    pub fn set_timeout(&mut self, timeout: Duration) {
        if timeout == self.fds.timeout {
            return;
        }
        self.fds.timeout = timeout;
        if self.fds.kernel {
            self.fds.kernel = self.fds.set_kernel_timeouts();
        }
    }

    /// Bound reads and writes by the socket's own timeouts: one system
    /// call per read or write instead of a poll and the call. Only for a
    /// program that keeps the socket to itself, since the timeouts stay
    /// on the socket for any program it is handed to (qmail-popup's
    /// child, an IMAP post-login process). Without sockets (pipes, in
    /// tests) it polls as before.
    pub fn use_socket_timeouts(&mut self) {
        self.fds.kernel = self.fds.set_kernel_timeouts();
    }

    /// True if [`Conn::use_socket_timeouts`] took effect.
    pub fn socket_timeouts(&self) -> bool {
        self.fds.kernel
    }

    /// Read at most `n` bytes at a time (at least 1). A program that hands
    /// the descriptor to a child mid-session reads byte by byte, so that
    /// no command the client sent ahead is left in its buffer.
    pub fn set_read_chunk(&mut self, n: usize) {
        self.chunk = n.clamp(1, IN_CHUNK);
    }

    /// Queue reply bytes; they leave when the buffer fills or on flush.
    pub fn out(&mut self, s: &[u8]) {
        if self.out.len() + s.len() > OUT_BUF {
            // A full buffer goes out at once, as substdio does.
            if self.flush().is_err() {
                self.broken = true;
            }
        }
        self.out.extend_from_slice(s);
    }

    /// Send queued replies.
    pub fn flush(&mut self) -> Result<(), ConnError> {
        if self.broken {
            return Err(ConnError::Closed);
        }
        if self.out.is_empty() {
            return Ok(());
        }
        let data = std::mem::take(&mut self.out);
        let r = self.write_raw(&data);
        self.out = data;
        self.out.clear();
        r
    }

    fn write_raw(&mut self, data: &[u8]) -> Result<(), ConnError> {
        match self.tls.as_deref_mut() {
            None => self.fds.write_all(data).map_err(|e| closed_or_timeout(&e)),
            Some(tls) => {
                tls.writer()
                    .write_all(data)
                    .map_err(|_| ConnError::Closed)?;
                while tls.wants_write() {
                    tls.write_tls(&mut self.fds)
                        .map_err(|e| closed_or_timeout(&e))?;
                }
                Ok(())
            }
        }
    }

    fn read_chunk(&mut self) -> Result<(), ConnError> {
        self.flush()?;
        let mut buf = [0u8; IN_CHUNK];
        let n = match self.tls.as_deref_mut() {
            None => self
                .fds
                .read(&mut buf[..self.chunk])
                .map_err(|e| closed_or_timeout(&e))?,
            Some(tls) => loop {
                match tls.reader().read(&mut buf) {
                    Ok(n) => break n,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        while tls.wants_write() {
                            tls.write_tls(&mut self.fds)
                                .map_err(|e| closed_or_timeout(&e))?;
                        }
                        let got = tls
                            .read_tls(&mut self.fds)
                            .map_err(|e| closed_or_timeout(&e))?;
                        if got == 0 {
                            return Err(ConnError::Closed);
                        }
                        if tls.process_new_packets().is_err() {
                            // Send the alert, then hang up.
                            let _ = tls.write_tls(&mut self.fds);
                            return Err(ConnError::Closed);
                        }
                    }
                    Err(_) => return Err(ConnError::Closed),
                }
            },
        };
        if n == 0 {
            return Err(ConnError::Closed);
        }
        self.inbuf.clear();
        self.inbuf.extend_from_slice(&buf[..n]);
        self.inpos = 0;
        Ok(())
    }

    /// The unread input, reading more when none is buffered.
    pub fn buffered(&mut self) -> Result<&[u8], ConnError> {
        if self.inpos >= self.inbuf.len() {
            self.read_chunk()?;
        }
        Ok(&self.inbuf[self.inpos..])
    }

    /// Mark `n` buffered bytes as used.
    pub fn consume(&mut self, n: usize) {
        self.inpos = (self.inpos + n).min(self.inbuf.len());
    }

    /// One line up to LF, without the LF (CR handling is the caller's).
    /// There is no length limit, as in the original.
    pub fn read_line(&mut self) -> Result<Vec<u8>, ConnError> {
        let mut line = Vec::new();
        loop {
            let buf = self.buffered()?;
            match buf.iter().position(|&b| b == b'\n') {
                Some(i) => {
                    line.extend_from_slice(&buf[..i]);
                    self.consume(i + 1);
                    return Ok(line);
                }
                None => {
                    line.extend_from_slice(buf);
                    let n = buf.len();
                    self.consume(n);
                }
            }
        }
    }

    /// Forget buffered plaintext input (after STARTTLS).
    pub fn discard_input(&mut self) {
        self.inbuf.clear();
        self.inpos = 0;
    }

    /// True once TLS is active.
    pub fn is_tls(&self) -> bool {
        self.tls.is_some()
    }

    /// The negotiated suite in OpenSSL naming (for the Received line).
    pub fn cipher(&self) -> Option<&'static str> {
        let suite = self.tls.as_ref()?.negotiated_cipher_suite()?;
        Some(super::ciphers::openssl_name(suite.suite()))
    }

    /// The client's certificate chain, if it sent one.
    pub fn peer_certificates(&self) -> Option<Vec<Vec<u8>>> {
        let tls = self.tls.as_ref()?;
        tls.peer_certificates()
            .map(|c| c.iter().map(|d| d.as_ref().to_vec()).collect())
    }

    /// Run the server handshake on the raw descriptors. Pending replies
    /// must have been flushed. On failure the error text is returned and
    /// the connection stays in plaintext (the caller hangs up).
    pub fn start_tls(&mut self, config: Arc<ServerConfig>) -> Result<(), String> {
        let mut tls = ServerConnection::new(config).map_err(|e| e.to_string())?;
        // By hand rather than `complete_io`, which would answer garbage
        // with an alert before our 454 line.
        while tls.is_handshaking() {
            while tls.wants_write() {
                tls.write_tls(&mut self.fds).map_err(|e| e.to_string())?;
            }
            if !tls.is_handshaking() {
                break;
            }
            match tls.read_tls(&mut self.fds) {
                Ok(0) => return Err("unexpected eof".into()),
                Ok(_) => {}
                Err(e) => return Err(e.to_string()),
            }
            tls.process_new_packets().map_err(|e| e.to_string())?;
        }
        while tls.wants_write() {
            tls.write_tls(&mut self.fds).map_err(|e| e.to_string())?;
        }
        self.discard_input();
        self.tls = Some(Box::new(tls));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::net::UnixStream;
    use std::time::Instant;

    fn socket_conn(timeout: Duration) -> (Conn, UnixStream) {
        let (ours, peer) = UnixStream::pair().unwrap();
        let rd = File::from(std::os::fd::OwnedFd::from(ours.try_clone().unwrap()));
        let wr = File::from(std::os::fd::OwnedFd::from(ours));
        (Conn::new(rd, wr, timeout), peer)
    }

    #[test]
    fn socket_timeouts_bound_a_read() {
        let (mut c, _peer) = socket_conn(Duration::from_millis(100));
        c.use_socket_timeouts();
        assert!(c.socket_timeouts());
        let t = Instant::now();
        assert!(matches!(c.read_line(), Err(ConnError::Timeout)));
        assert!(t.elapsed() >= Duration::from_millis(90));
    }

    #[test]
    fn socket_timeouts_read_lines_and_write_replies() {
        let (mut c, mut peer) = socket_conn(Duration::from_secs(5));
        c.use_socket_timeouts();
        peer.write_all(b"HELO x\r\n").unwrap();
        assert_eq!(c.read_line().unwrap(), b"HELO x\r");
        c.out(b"250 ok\r\n");
        c.flush().unwrap();
        let mut got = [0u8; 8];
        peer.read_exact(&mut got).unwrap();
        assert_eq!(&got, b"250 ok\r\n");
        drop(peer);
        assert!(matches!(c.read_line(), Err(ConnError::Closed)));
    }

    #[test]
    fn a_changed_timeout_reaches_the_socket() {
        let (mut c, _peer) = socket_conn(Duration::from_secs(60));
        c.use_socket_timeouts();
        c.set_timeout(Duration::from_millis(50));
        assert!(c.socket_timeouts());
        let t = Instant::now();
        assert!(matches!(c.read_line(), Err(ConnError::Timeout)));
        assert!(t.elapsed() < Duration::from_secs(30));
        // Zero is "at once" to qmail but "never" to the kernel: poll.
        c.set_timeout(Duration::ZERO);
        assert!(!c.socket_timeouts());
        assert!(matches!(c.read_line(), Err(ConnError::Timeout)));
    }

    #[test]
    fn pipes_keep_polling() {
        let (r, _w) = nix::unistd::pipe().unwrap();
        let (_r2, w2) = nix::unistd::pipe().unwrap();
        let mut c = Conn::new(File::from(r), File::from(w2), Duration::from_millis(50));
        c.use_socket_timeouts();
        assert!(!c.socket_timeouts());
        assert!(matches!(c.read_line(), Err(ConnError::Timeout)));
    }

    #[test]
    fn a_nonblocking_socket_keeps_polling() {
        let (ours, _peer) = UnixStream::pair().unwrap();
        ours.set_nonblocking(true).unwrap();
        let rd = File::from(std::os::fd::OwnedFd::from(ours.try_clone().unwrap()));
        let wr = File::from(std::os::fd::OwnedFd::from(ours));
        let mut c = Conn::new(rd, wr, Duration::from_millis(50));
        c.use_socket_timeouts();
        assert!(!c.socket_timeouts());
    }
}
