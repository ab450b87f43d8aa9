//! A client connection to the program under test: a TCP socket or a child
//! process's stdin/stdout, read by a helper thread so that every read has
//! a deadline, optionally wrapped in TLS after STARTTLS.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

/// Where the program under test is.
#[derive(Debug, Clone)]
pub enum Target {
    /// `host:port`; a fresh connection per transcript section.
    Tcp(String),
    /// A program run once per section with the client on fds 0/1.
    Child {
        program: String,
        args: Vec<String>,
        env: Vec<(String, String)>,
        /// Clear the environment first (like `env -`), keeping `PATH`.
        clear_env: bool,
    },
}

/// What a read produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Read1 {
    Line(Vec<u8>),
    /// The server closed; any bytes after the last LF.
    Eof(Vec<u8>),
    /// Nothing complete within the deadline; the partial bytes.
    Timeout(Vec<u8>),
}

/// One open connection.
pub struct Conn {
    writer: Box<dyn Write + Send>,
    rx: Receiver<Vec<u8>>,
    /// Bytes received but not yet returned (plaintext).
    buf: Vec<u8>,
    eof: bool,
    tls: Option<rustls::ClientConnection>,
    child: Option<Child>,
    timeout: Duration,
}

fn spawn_reader(mut r: impl Read + Send + 'static) -> Receiver<Vec<u8>> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut chunk = vec![0u8; 16384];
        loop {
            match r.read(&mut chunk) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if tx.send(chunk[..n].to_vec()).is_err() {
                        break;
                    }
                }
            }
        }
    });
    rx
}

impl Conn {
    /// Connect to (or start) the target.
    pub fn open(target: &Target, timeout: Duration) -> io::Result<Conn> {
        let (writer, rx, child): (Box<dyn Write + Send>, _, _) = match target {
            Target::Tcp(addr) => {
                let s = TcpStream::connect(addr)?;
                s.set_nodelay(true)?;
                let r = s.try_clone()?;
                (Box::new(s), spawn_reader(r), None)
            }
            Target::Child {
                program,
                args,
                env,
                clear_env,
            } => {
                let mut cmd = Command::new(program);
                cmd.args(args)
                    .stdin(Stdio::piped())
                    .stdout(Stdio::piped())
                    .stderr(Stdio::null());
                if *clear_env {
                    cmd.env_clear();
                    if let Some(p) = std::env::var_os("PATH") {
                        cmd.env("PATH", p);
                    }
                }
                cmd.envs(env.iter().map(|(k, v)| (k, v)));
                let mut child = cmd.spawn()?;
                let stdin = child.stdin.take().ok_or(io::ErrorKind::BrokenPipe)?;
                let stdout = child.stdout.take().ok_or(io::ErrorKind::BrokenPipe)?;
                (Box::new(stdin), spawn_reader(stdout), Some(child))
            }
        };
        Ok(Conn {
            writer,
            rx,
            buf: Vec::new(),
            eof: false,
            tls: None,
            child,
            timeout,
        })
    }

    /// Send bytes (through TLS once it is up).
    pub fn send(&mut self, bytes: &[u8]) -> io::Result<()> {
        match &mut self.tls {
            None => self.writer.write_all(bytes)?,
            Some(tls) => {
                tls.writer().write_all(bytes)?;
                while tls.wants_write() {
                    tls.write_tls(&mut self.writer)?;
                }
            }
        }
        self.writer.flush()
    }

    /// Wait for raw bytes until `deadline`; false on timeout or EOF.
    fn pull(&mut self, deadline: Instant) -> bool {
        if self.eof {
            return false;
        }
        let left = deadline.saturating_duration_since(Instant::now());
        match self.rx.recv_timeout(left) {
            Ok(raw) => {
                match &mut self.tls {
                    None => self.buf.extend_from_slice(&raw),
                    Some(tls) => {
                        let mut rd = &raw[..];
                        while !rd.is_empty() {
                            if tls.read_tls(&mut rd).is_err() || tls.process_new_packets().is_err()
                            {
                                self.eof = true;
                                return false;
                            }
                        }
                        let mut plain = Vec::new();
                        // WouldBlock just means no complete record yet.
                        let _ = tls.reader().read_to_end(&mut plain);
                        self.buf.extend_from_slice(&plain);
                        while tls.wants_write() {
                            if tls.write_tls(&mut self.writer).is_err() {
                                break;
                            }
                        }
                    }
                }
                true
            }
            Err(RecvTimeoutError::Timeout) => false,
            Err(RecvTimeoutError::Disconnected) => {
                self.eof = true;
                false
            }
        }
    }

    /// The next line (through LF), or why there is none.
    pub fn recv_line(&mut self) -> Read1 {
        let deadline = Instant::now() + self.timeout;
        loop {
            if let Some(i) = self.buf.iter().position(|&b| b == b'\n') {
                return Read1::Line(self.buf.drain(..=i).collect());
            }
            if !self.pull(deadline) {
                let rest = std::mem::take(&mut self.buf);
                return if self.eof {
                    Read1::Eof(rest)
                } else {
                    Read1::Timeout(rest)
                };
            }
        }
    }

    /// Run a TLS handshake as client, accepting any certificate.
    pub fn start_tls(&mut self, server_name: &str) -> io::Result<()> {
        let name = rustls::pki_types::ServerName::try_from(server_name.to_string())
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        let mut tls = rustls::ClientConnection::new(super::tls::any_cert_config()?, name)
            .map_err(io::Error::other)?;
        let deadline = Instant::now() + self.timeout;
        let leftover = std::mem::take(&mut self.buf);
        let mut rd = &leftover[..];
        while !rd.is_empty() {
            tls.read_tls(&mut rd)?;
        }
        while tls.is_handshaking() {
            while tls.wants_write() {
                tls.write_tls(&mut self.writer)?;
            }
            self.writer.flush()?;
            if !tls.is_handshaking() {
                break;
            }
            let raw = match self
                .rx
                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            {
                Ok(raw) => raw,
                Err(_) => {
                    return Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "TLS handshake: no answer",
                    ))
                }
            };
            let mut rd = &raw[..];
            while !rd.is_empty() {
                tls.read_tls(&mut rd)?;
                tls.process_new_packets().map_err(io::Error::other)?;
            }
        }
        while tls.wants_write() {
            tls.write_tls(&mut self.writer)?;
        }
        self.writer.flush()?;
        let mut plain = Vec::new();
        let _ = tls.reader().read_to_end(&mut plain);
        self.buf = plain;
        self.tls = Some(tls);
        Ok(())
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            // The child is ours: end it if it is still running, then reap.
            if matches!(c.try_wait(), Ok(None)) {
                let _ = c.kill();
            }
            let _ = c.wait();
        }
    }
}
