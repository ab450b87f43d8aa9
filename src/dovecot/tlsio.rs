//! [`Lines`] over the login process's connection
//! ([`crate::tls::stream::Conn`]): plaintext or TLS after STLS/STARTTLS
//! or on an implicit-TLS port, with a maximum line length.

use super::io::{Lines, ReadError};
use crate::tls::stream::{Conn, ConnError};

/// The client connection of a login process and the session after it.
pub struct TlsLines {
    pub conn: Conn,
    pub max_line: usize,
    broken: bool,
}

impl TlsLines {
    pub fn new(conn: Conn, max_line: usize) -> TlsLines {
        TlsLines {
            conn,
            max_line,
            broken: false,
        }
    }
}

impl Lines for TlsLines {
    fn read_line(&mut self) -> Result<Vec<u8>, ReadError> {
        let mut line = Vec::new();
        loop {
            if let Err(e) = self.conn.flush() {
                self.broken = true;
                return Err(match e {
                    ConnError::Timeout => ReadError::Timeout,
                    ConnError::Closed => ReadError::Closed,
                });
            }
            let buf = match self.conn.buffered() {
                Ok(b) => b,
                Err(ConnError::Timeout) => return Err(ReadError::Timeout),
                Err(ConnError::Closed) => return Err(ReadError::Closed),
            };
            match buf.iter().position(|&b| b == b'\n') {
                Some(i) => {
                    line.extend_from_slice(&buf[..i]);
                    self.conn.consume(i + 1);
                    if line.last() == Some(&b'\r') {
                        line.pop();
                    }
                    return Ok(line);
                }
                None => {
                    line.extend_from_slice(buf);
                    let n = buf.len();
                    self.conn.consume(n);
                    if line.len() >= self.max_line {
                        return Err(ReadError::TooLong);
                    }
                }
            }
        }
    }

    fn out(&mut self, b: &[u8]) {
        self.conn.out(b);
    }

    fn flush(&mut self) {
        if self.conn.flush().is_err() {
            self.broken = true;
        }
    }

    fn broken(&self) -> bool {
        self.broken
    }
}
