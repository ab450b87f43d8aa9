//! ucspi-tcp 0.88's small filters: `addcr`, `delcr` (stdin to stdout),
//! and the two that sit between a client and a program, `fixcrio` and
//! `recordio` (the relay below; the binaries fork it off and exec the
//! program on its pipes, so the program keeps the pid tcpserver logged).

use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};

/// `addcr`: a CR before every LF.
#[derive(Debug, Default)]
pub struct AddCr;

impl AddCr {
    pub fn feed(&mut self, chunk: &[u8], out: &mut Vec<u8>) {
        for &b in chunk {
            if b == b'\n' {
                out.push(b'\r');
            }
            out.push(b);
        }
    }
}

/// `delcr`: the CR of every CR LF dropped; other CRs kept, one held back
/// until the next byte shows it is not before an LF.
#[derive(Debug, Default)]
pub struct DelCr {
    cr: bool,
}

impl DelCr {
    pub fn feed(&mut self, chunk: &[u8], out: &mut Vec<u8>) {
        for &b in chunk {
            if !self.cr {
                if b == b'\r' {
                    self.cr = true;
                } else {
                    out.push(b);
                }
                continue;
            }
            if b != b'\n' {
                out.push(b'\r');
                if b == b'\r' {
                    continue;
                }
            }
            self.cr = false;
            out.push(b);
        }
    }

    /// At end of input: the CR held back, if any.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        if std::mem::take(&mut self.cr) {
            out.push(b'\r');
        }
    }
}

/// `fixcrio`'s conversion, one per direction: a CR before every LF that
/// has none.
#[derive(Debug, Default)]
pub struct FixCr {
    cr: bool,
}

impl FixCr {
    pub fn feed(&mut self, chunk: &[u8], out: &mut Vec<u8>) {
        for &b in chunk {
            if b == b'\n' && !self.cr {
                out.push(b'\r');
            }
            out.push(b);
            self.cr = b == b'\r';
        }
    }
}

/// Run a stdin-to-stdout filter (`addcr`, `delcr`): 111 on a read or
/// write error, else 0. Output is flushed before each read, as djb's
/// `buffer_0` does.
pub fn run_filter(
    input: &mut dyn Read,
    output: &mut dyn Write,
    mut feed: impl FnMut(&[u8], &mut Vec<u8>),
    finish: impl FnOnce(&mut Vec<u8>),
) -> u8 {
    let mut buf = [0u8; 8192];
    let mut out = Vec::with_capacity(2 * buf.len());
    loop {
        if output
            .write_all(&out)
            .and_then(|()| output.flush())
            .is_err()
        {
            return 111;
        }
        out.clear();
        match input.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => feed(&buf[..n], &mut out),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return 111,
        }
    }
    finish(&mut out);
    if output
        .write_all(&out)
        .and_then(|()| output.flush())
        .is_err()
    {
        return 111;
    }
    0
}

/// What a relay does with the bytes of each direction.
pub trait Relay {
    /// Bytes from the client (fd 0), on their way to the program.
    fn client_bytes(&mut self, chunk: &[u8]) -> Vec<u8>;
    /// Bytes from the program, on their way to the client (fd 1).
    fn program_bytes(&mut self, chunk: &[u8]) -> Vec<u8>;
    /// The client's end of input (the program's input is closed).
    fn client_eof(&mut self) {}
    /// The program's end of output (the relay ends).
    fn program_eof(&mut self) {}
}

/// `fixcrio`: both directions through [`FixCr`].
#[derive(Debug, Default)]
pub struct FixCrIo {
    left: FixCr,
    right: FixCr,
}

impl Relay for FixCrIo {
    fn client_bytes(&mut self, chunk: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(2 * chunk.len());
        self.left.feed(chunk, &mut out);
        out
    }
    fn program_bytes(&mut self, chunk: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(2 * chunk.len());
        self.right.feed(chunk, &mut out);
        out
    }
}

/// `recordio`: both directions unchanged, each chunk logged on `log` as
/// `PID < line` (client) or `PID > line` (program), one log line per
/// line of the chunk, `+` instead of the final space when the chunk ends
/// without a newline; `PID < [EOF]`, `PID > [EOF]` at the ends.
pub struct RecordIo<W: Write> {
    pub pid: u32,
    pub log: W,
}

impl<W: Write> RecordIo<W> {
    fn record(&mut self, mut chunk: &[u8], direction: &str) {
        while !chunk.is_empty() {
            let mut l = format!("{}{direction}", self.pid).into_bytes();
            match chunk.iter().position(|&b| b == b'\n') {
                None => {
                    l.extend_from_slice(chunk);
                    l.extend_from_slice(b"+\n");
                    chunk = &[];
                }
                Some(i) => {
                    l.extend_from_slice(&chunk[..i]);
                    l.extend_from_slice(b" \n");
                    chunk = &chunk[i + 1..];
                }
            }
            let _ = self.log.write_all(&l);
            let _ = self.log.flush();
        }
    }

    fn eof(&mut self, direction: &str) {
        let _ = writeln!(self.log, "{}{direction}[EOF]", self.pid);
        let _ = self.log.flush();
    }
}

impl<W: Write> Relay for RecordIo<W> {
    fn client_bytes(&mut self, chunk: &[u8]) -> Vec<u8> {
        self.record(chunk, " < ");
        chunk.to_vec()
    }
    fn program_bytes(&mut self, chunk: &[u8]) -> Vec<u8> {
        self.record(chunk, " > ");
        chunk.to_vec()
    }
    fn client_eof(&mut self) {
        self.eof(" < ");
    }
    fn program_eof(&mut self) {
        self.eof(" > ");
    }
}

/// Bytes read per chunk, as both originals read.
const CHUNK: usize = 256;

/// One direction's pending bytes.
#[derive(Default)]
struct Pending {
    buf: Vec<u8>,
    pos: usize,
}

/// Copy `client_in` to `to_program` and `from_program` to `client_out`
/// through `relay`, until the program's output ends or a write fails.
/// A direction holds one chunk at a time: nothing more is read from a
/// side until its last chunk is written, as the originals do.
pub fn relay(
    client_in: &OwnedFd,
    to_program: OwnedFd,
    from_program: &OwnedFd,
    client_out: &OwnedFd,
    relay: &mut dyn Relay,
) {
    let mut to_program = Some(std::fs::File::from(to_program));
    let mut left = Pending::default();
    let mut right = Pending::default();
    let mut buf = [0u8; CHUNK];
    loop {
        let left_reading = to_program.is_some() && left.pos == left.buf.len();
        let right_reading = right.pos == right.buf.len();
        let mut fds = Vec::with_capacity(2);
        let mut roles = Vec::with_capacity(2);
        if let Some(p) = &to_program {
            if left_reading {
                fds.push(PollFd::new(client_in.as_fd(), PollFlags::POLLIN));
                roles.push(0);
            } else {
                fds.push(PollFd::new(p.as_fd(), PollFlags::POLLOUT));
                roles.push(1);
            }
        }
        if right_reading {
            fds.push(PollFd::new(from_program.as_fd(), PollFlags::POLLIN));
            roles.push(2);
        } else {
            fds.push(PollFd::new(client_out.as_fd(), PollFlags::POLLOUT));
            roles.push(3);
        }
        // The originals wake hourly to wait again: no deadline.
        match poll(&mut fds, PollTimeout::NONE) {
            Err(nix::errno::Errno::EINTR) | Ok(0) => continue,
            Err(_) => return,
            Ok(_) => {}
        }
        let ready: Vec<usize> = fds
            .iter()
            .zip(&roles)
            .filter(|(f, _)| f.revents().is_some_and(|r| !r.is_empty()))
            .map(|(_, &r)| r)
            .collect();
        for role in ready {
            match role {
                0 => match nix::unistd::read(client_in.as_raw_fd(), &mut buf) {
                    Ok(n) if n > 0 => {
                        left.buf = relay.client_bytes(&buf[..n]);
                        left.pos = 0;
                    }
                    _ => {
                        to_program = None;
                        relay.client_eof();
                    }
                },
                1 => {
                    let Some(p) = to_program.as_mut() else {
                        continue;
                    };
                    match p.write(&left.buf[left.pos..]) {
                        Ok(n) => left.pos += n,
                        Err(_) => return,
                    }
                }
                2 => match nix::unistd::read(from_program.as_raw_fd(), &mut buf) {
                    Ok(n) if n > 0 => {
                        right.buf = relay.program_bytes(&buf[..n]);
                        right.pos = 0;
                    }
                    _ => {
                        relay.program_eof();
                        return;
                    }
                },
                _ => match nix::unistd::write(client_out.as_fd(), &right.buf[right.pos..]) {
                    Ok(n) => right.pos += n,
                    Err(_) => return,
                },
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn all(f: &mut dyn FnMut(&[u8], &mut Vec<u8>), chunks: &[&[u8]]) -> Vec<u8> {
        let mut out = Vec::new();
        for c in chunks {
            f(c, &mut out);
        }
        out
    }

    #[test]
    fn addcr_and_delcr() {
        let mut a = AddCr;
        assert_eq!(
            all(&mut |c, o| a.feed(c, o), &[b"a\nb\r\n"]),
            b"a\r\nb\r\r\n"
        );
        let mut d = DelCr::default();
        let mut out = all(&mut |c, o| d.feed(c, o), &[b"a\r", b"\nb\r\rc\r"]);
        d.finish(&mut out);
        assert_eq!(out, b"a\nb\r\rc\r");
    }

    #[test]
    fn fixcr_across_chunks() {
        let mut f = FixCr::default();
        assert_eq!(
            all(&mut |c, o| f.feed(c, o), &[b"a\n", b"b\r", b"\nc\n"]),
            b"a\r\nb\r\nc\r\n"
        );
    }

    #[test]
    fn recordio_lines() {
        let mut r = RecordIo {
            pid: 42,
            log: Vec::new(),
        };
        assert_eq!(r.client_bytes(b"HELO x\r\nMAIL"), b"HELO x\r\nMAIL");
        r.program_bytes(b"250 ok\r\n");
        r.client_eof();
        r.program_eof();
        assert_eq!(
            String::from_utf8(r.log).unwrap(),
            "42 < HELO x\r \n42 < MAIL+\n42 > 250 ok\r \n42 < [EOF]\n42 > [EOF]\n"
        );
    }

    proptest! {
        #[test]
        fn delcr_undoes_addcr(data in proptest::collection::vec(any::<u8>(), 0..200), cut in 0usize..200) {
            // Only where the input has no CR of its own before an LF.
            let data: Vec<u8> = data.into_iter().filter(|&b| b != b'\r').collect();
            let mut a = AddCr;
            let mut with = Vec::new();
            a.feed(&data, &mut with);
            let cut = cut.min(with.len());
            let mut d = DelCr::default();
            let mut back = Vec::new();
            d.feed(&with[..cut], &mut back);
            d.feed(&with[cut..], &mut back);
            d.finish(&mut back);
            prop_assert_eq!(back, data);
        }
    }
}
