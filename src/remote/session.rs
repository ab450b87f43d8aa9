//! The SMTP client dialogue of qmail-remote with the TLS and AUTH patches
//! (`remote.md` §3, §4, §9): greeting, EHLO (HELO fallback), STARTTLS,
//! AUTH, MAIL, RCPT, DATA, the message, and the one message report.
//!
//! Every path that ends the dialogue produces a [`Final`] (the message
//! report) and, where the original does, sends `QUIT` without waiting.

use std::io::{self, Read, Write};
use std::time::Duration;

use super::conn::Conn;
use super::report::{quit, Fatal, Output, NO_AUTH_METHOD};
use super::tls::TlsPolicy;

/// Most reply text kept for a report (`HUGESMTPTEXT`).
pub const HUGE_SMTP_TEXT: usize = 5000;
/// Improvement: a reply longer than this (continuation lines forever) is
/// treated as a lost connection.
pub const MAX_REPLY_BYTES: usize = 1 << 20;

/// The message report that ends a session (status letter first, no NUL).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Final(pub Vec<u8>);

impl From<Fatal> for Final {
    fn from(f: Fatal) -> Self {
        Final(f.text())
    }
}

/// What the dialogue needs to know.
pub struct Job<'a> {
    pub helohost: &'a [u8],
    /// Quoted sender (`addrmangle`).
    pub sender: &'a [u8],
    /// Quoted, canonicalised recipients.
    pub recipients: &'a [Vec<u8>],
    /// AUTH patch credentials.
    pub auth: Option<(&'a [u8], &'a [u8])>,
    pub timeout: Duration,
    /// Port 465: TLS before the greeting.
    pub smtps: bool,
    pub tls: TlsPolicy,
}

/// A session in progress.
pub struct Session<'o> {
    pub(crate) conn: Conn,
    inbuf: Vec<u8>,
    inpos: usize,
    /// Text of the last reply (CR removed, at most [`HUGE_SMTP_TEXT`]).
    pub(crate) text: Vec<u8>,
    critical: bool,
    pub(crate) partner: String,
    pub(crate) out: &'o mut Output,
    /// The TLS library's error text for a failure inside TLS.
    pub(crate) tls_err: Option<String>,
    /// False once a TLS handshake has failed: no QUIT then.
    pub(crate) can_quit: bool,
    pub(crate) ehlo_kw: Vec<Vec<u8>>,
    wbuf: Vec<u8>,
}

type Step<T> = Result<T, Final>;

impl<'o> Session<'o> {
    pub fn new(conn: Conn, partner: String, out: &'o mut Output) -> Self {
        Session {
            conn,
            inbuf: Vec::new(),
            inpos: 0,
            text: Vec::new(),
            critical: false,
            partner,
            out,
            tls_err: None,
            can_quit: true,
            ehlo_kw: Vec::new(),
            wbuf: Vec::new(),
        }
    }

    fn note_io_error(&mut self, e: &io::Error) {
        if self.conn.is_tls() {
            self.tls_err = Some(super::tls::error_text(e));
        }
    }

    /// `dropped()`: the connection died.
    pub(crate) fn dropped(&self) -> Final {
        let mut v = format!("ZConnected to {} but connection died. ", self.partner).into_bytes();
        if self.critical {
            v.extend_from_slice(b"Possible duplicate! ");
        }
        if let Some(e) = &self.tls_err {
            v.extend_from_slice(e.as_bytes());
            v.push(b' ');
        }
        v.extend_from_slice(b"(#4.4.2)\n");
        Final(v)
    }

    /// The reply text as `outsmtptext` writes it, consumed.
    fn take_text(&mut self) -> Vec<u8> {
        if self.text.is_empty() {
            return Vec::new();
        }
        let mut v = b"Remote host said: ".to_vec();
        v.extend(self.text.iter().map(|&b| if b == 0 { b'?' } else { b }));
        self.text.clear();
        v
    }

    /// `quit(prepend, append)`: QUIT, then the report.
    pub(crate) fn quit(&mut self, (prepend, append): (&str, &str)) -> Final {
        self.quit_with(prepend.as_bytes().to_vec(), append)
    }

    /// `quit` after some text was already written (`TLS_QUIT` forms).
    pub(crate) fn quit_with(&mut self, mut head: Vec<u8>, append: &str) -> Final {
        if self.can_quit {
            self.wbuf.clear();
            let _ = self
                .conn
                .write_all(b"QUIT\r\n")
                .and_then(|()| self.conn.flush());
        }
        head.extend_from_slice(self.partner.as_bytes());
        head.extend_from_slice(append.as_bytes());
        head.extend_from_slice(b".\n");
        let t = self.take_text();
        head.extend_from_slice(&t);
        Final(head)
    }

    pub(crate) fn put(&mut self, b: &[u8]) {
        self.wbuf.extend_from_slice(b);
    }

    pub(crate) fn flush(&mut self) -> Step<()> {
        let buf = std::mem::take(&mut self.wbuf);
        let r = self.conn.write_all(&buf).and_then(|()| self.conn.flush());
        if let Err(e) = r {
            self.note_io_error(&e);
            return Err(self.dropped());
        }
        Ok(())
    }

    /// Write a command line.
    pub(crate) fn command(&mut self, parts: &[&[u8]]) -> Step<()> {
        for p in parts {
            self.put(p);
        }
        self.put(b"\r\n");
        self.flush()
    }

    /// Bytes read but not yet used (must be none at STARTTLS).
    pub(crate) fn discard_input(&mut self) {
        self.inbuf.clear();
        self.inpos = 0;
    }

    fn get(&mut self, budget: &mut usize) -> Step<u8> {
        if self.inpos == self.inbuf.len() {
            let mut buf = [0u8; 128];
            let n = match self.conn.read(&mut buf) {
                Ok(0) => return Err(self.dropped()),
                Ok(n) => n,
                Err(e) => {
                    self.note_io_error(&e);
                    return Err(self.dropped());
                }
            };
            self.inbuf = buf[..n].to_vec();
            self.inpos = 0;
        }
        let ch = self.inbuf[self.inpos];
        self.inpos += 1;
        *budget = budget.checked_sub(1).ok_or_else(|| self.dropped())?;
        if ch != b'\r' && self.text.len() < HUGE_SMTP_TEXT {
            self.text.push(ch);
        }
        Ok(ch)
    }

    /// `smtpcode()`: read one reply; its code is computed from the first
    /// line's three bytes exactly as the original (`ch - '0'` arithmetic,
    /// so non-digits give large codes). Continuation lines are skipped.
    pub fn smtpcode(&mut self) -> Step<u64> {
        self.text.clear();
        let mut budget = MAX_REPLY_BYTES;
        let digit = |c: u8| i64::from(c) - i64::from(b'0');
        let mut code: i64 = digit(self.get(&mut budget)?);
        code = code
            .wrapping_mul(10)
            .wrapping_add(digit(self.get(&mut budget)?));
        code = code
            .wrapping_mul(10)
            .wrapping_add(digit(self.get(&mut budget)?));
        let mut ch;
        loop {
            ch = self.get(&mut budget)?;
            if ch != b'-' {
                break;
            }
            while ch != b'\n' {
                ch = self.get(&mut budget)?;
            }
            for _ in 0..3 {
                self.get(&mut budget)?;
            }
        }
        while ch != b'\n' {
            ch = self.get(&mut budget)?;
        }
        Ok(code as u64)
    }

    /// `ehlo()`: send EHLO, keep the keywords of a 250 reply.
    pub(crate) fn ehlo(&mut self, helohost: &[u8]) -> Step<u64> {
        self.ehlo_kw.clear();
        self.command(&[b"EHLO ", helohost])?;
        let code = self.smtpcode()?;
        if code != 250 {
            return Ok(code);
        }
        self.ehlo_kw = ehlo_keywords(&self.text);
        Ok(250)
    }

    /// Send the message (`blast`): LF lines as CRLF, leading dots doubled.
    fn blast(&mut self, message: &mut dyn Read) -> Step<()> {
        let mut buf = vec![0u8; 8192];
        let mut at_line_start = true;
        loop {
            let n = match message.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => return Err(Fatal::Read.into()),
            };
            for &ch in &buf[..n] {
                if at_line_start && ch == b'.' {
                    self.wbuf.push(b'.');
                }
                if ch == b'\n' {
                    self.wbuf.extend_from_slice(b"\r\n");
                    at_line_start = true;
                } else {
                    self.wbuf.push(ch);
                    at_line_start = false;
                }
            }
            if self.wbuf.len() >= 8192 {
                self.flush()?;
            }
        }
        if !at_line_start {
            return Err(Fatal::PartialLine.into());
        }
        self.critical = true;
        self.put(b".\r\n");
        self.flush()
    }

    /// The whole dialogue after connecting; never returns normally.
    pub fn run(&mut self, job: &Job<'_>, message: &mut dyn Read) -> Final {
        match self.dialogue(job, message) {
            Ok(never) => match never {},
            Err(f) => f,
        }
    }

    fn dialogue(
        &mut self,
        job: &Job<'_>,
        message: &mut dyn Read,
    ) -> Step<std::convert::Infallible> {
        let mut code = 0;
        if !job.smtps || !job.tls.wants_tls() {
            code = self.smtpcode()?;
            if code >= 500 {
                return Err(self.quit(quit::GREETING_D));
            }
            if code != 220 {
                return Err(self.quit(quit::GREETING_Z));
            }
            code = self.ehlo(job.helohost)?;
        }
        if super::tls::negotiate(self, job)? {
            code = self.ehlo(job.helohost)?;
        }
        if code != 250 {
            self.command(&[b"HELO ", job.helohost])?;
            let c = self.smtpcode()?;
            if c >= 500 {
                return Err(self.quit(quit::HELO_D));
            }
            if c != 250 {
                return Err(self.quit(quit::HELO_Z));
            }
        }
        match job.auth {
            Some((user, pass)) if !user.is_empty() && !pass.is_empty() => {
                if !super::auth::authenticate(self, job.sender, user, pass)? {
                    self.out.record(NO_AUTH_METHOD.as_bytes());
                    self.command(&[b"MAIL FROM:<", job.sender, b">"])?;
                }
            }
            _ => self.command(&[b"MAIL FROM:<", job.sender, b">"])?,
        }
        code = self.smtpcode()?;
        if code >= 500 {
            return Err(self.quit(quit::SENDER_D));
        }
        if code >= 400 {
            return Err(self.quit(quit::SENDER_Z));
        }
        let mut bother = false;
        for r in job.recipients {
            self.command(&[b"RCPT TO:<", r, b">"])?;
            code = self.smtpcode()?;
            if code >= 400 {
                let letter = if code >= 500 { 'h' } else { 's' };
                let mut rec =
                    format!("{letter}{} does not like recipient.\n", self.partner).into_bytes();
                let t = self.take_text();
                rec.extend_from_slice(&t);
                self.out.record(&rec);
            } else {
                self.out.record(b"r");
                bother = true;
            }
        }
        if !bother {
            return Err(self.quit(quit::GIVING_UP));
        }
        self.command(&[b"DATA"])?;
        code = self.smtpcode()?;
        if code >= 500 {
            return Err(self.quit(quit::DATA_D));
        }
        if code >= 400 {
            return Err(self.quit(quit::DATA_Z));
        }
        self.blast(message)?;
        code = self.smtpcode()?;
        self.critical = false;
        if code >= 500 {
            return Err(self.quit(quit::AFTER_D));
        }
        if code >= 400 {
            return Err(self.quit(quit::AFTER_Z));
        }
        Err(self.quit(quit::ACCEPTED))
    }
}

/// EHLO keywords: the first word of each reply line after the first, cut
/// at `=` (broken `AUTH=` servers).
pub fn ehlo_keywords(text: &[u8]) -> Vec<Vec<u8>> {
    text.split(|&b| b == b'\n')
        .skip(1)
        .filter(|l| l.len() > 4)
        .map(|l| {
            let w = &l[4..];
            let end = w
                .iter()
                .position(|&b| b == b' ' || b == b'\t')
                .unwrap_or(w.len());
            let w = &w[..end];
            let end = w.iter().position(|&b| b == b'=').unwrap_or(w.len());
            w[..end].to_vec()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keywords() {
        let t = b"250-mx.example hi\n250-PIPELINING\n250-AUTH=LOGIN PLAIN\n250 STARTTLS\n";
        assert_eq!(
            ehlo_keywords(t),
            vec![
                b"PIPELINING".to_vec(),
                b"AUTH".to_vec(),
                b"STARTTLS".to_vec()
            ]
        );
        assert!(ehlo_keywords(b"250 single\n").is_empty());
    }
}
