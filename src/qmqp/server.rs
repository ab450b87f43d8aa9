//! qmail-qmqpd's session. The outer length bounds everything read after
//! it (`bytesleft`); reading past it is a protocol error. No rcpthosts
//! check: QMQP servers serve trusted clients only.

use std::io::{Read, Write};

use crate::envelope::Envelope;
use crate::netstring;
use crate::qmtp::received::{self, Peer};
use crate::qmtp::{getlen, send, ByteReader, Exit, Spool};
use crate::queue::client::Injection;

pub const BAD_ADDRESS: &str = "Dsorry, I can't accept addresses like that (#5.1.3)";

struct Bounded<R> {
    r: ByteReader<R>,
    left: u64,
}

impl<R: Read> Bounded<R> {
    fn byte(&mut self) -> Result<u8, Exit> {
        if self.left == 0 {
            return Err(Exit::BadProto);
        }
        self.left -= 1;
        self.r.get()
    }

    fn len(&mut self) -> Result<u64, Exit> {
        let left = &mut self.left;
        getlen(&mut self.r, || {
            if *left == 0 {
                return Err(Exit::BadProto);
            }
            *left -= 1;
            Ok(())
        })
    }

    fn comma(&mut self) -> Result<(), Exit> {
        if self.byte()? != b',' {
            return Err(Exit::BadProto);
        }
        Ok(())
    }

    /// `getbuf`: an address; `None` when ≥ 1000 bytes or holding NUL.
    fn address(&mut self) -> Result<Option<Vec<u8>>, Exit> {
        let len = self.len()?;
        let mut v = Vec::new();
        for _ in 0..len {
            let b = self.byte()?;
            if len < 1000 {
                v.push(b);
            }
        }
        self.comma()?;
        Ok((len < 1000 && !v.contains(&0)).then_some(v))
    }
}

/// Serve one message; `chdir` is the step that enters the qmail root
/// (after the first two lengths are read, as the original).
pub fn serve<R: Read>(
    input: R,
    output: &mut dyn Write,
    peer: &Peer,
    open: &mut dyn FnMut() -> Option<Injection>,
    now: &dyn Fn() -> i64,
) -> Exit {
    match session(input, output, peer, open, now) {
        Ok(()) => Exit::Eof,
        Err(e) => e,
    }
}

fn session<R: Read>(
    input: R,
    output: &mut dyn Write,
    peer: &Peer,
    open: &mut dyn FnMut() -> Option<Injection>,
    now: &dyn Fn() -> i64,
) -> Result<(), Exit> {
    let mut b = Bounded {
        r: ByteReader::new(input),
        left: 100,
    };
    b.left = b.len()?;
    let mut len = b.len()?;
    let q = open().ok_or(Exit::Resources)?;
    let qp = q.pid();
    let mut q = Spool::new(q);
    q.put(&received::line(peer, "QMQP", now()));
    while len > 0 {
        let ch = b.byte()?;
        len -= 1;
        q.byte(ch);
    }
    b.comma()?;
    let mut ok = true;
    let sender = match b.address()? {
        Some(s) => s,
        None => {
            ok = false;
            Vec::new()
        }
    };
    let mut recipients = Vec::new();
    while b.left > 0 {
        match b.address()? {
            Some(r) => recipients.push(r),
            None => ok = false,
        }
    }
    b.left = 1;
    b.comma()?;
    let mut q = q.finish();
    if !ok {
        q.fail();
    }
    let mut result = match q.close(&Envelope { sender, recipients }) {
        Ok(()) => format!("Kok {} qp {}", now(), qp),
        Err(e) => e.coded(),
    };
    if !ok {
        result = BAD_ADDRESS.into();
    }
    send(output, &netstring::encode(result.as_bytes()))
}
