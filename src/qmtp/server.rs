//! qmail-qmtpd's session (`binaries.md` §QMTP; QMTP by D. J. Bernstein):
//!
//! ```text
//! message  = netstring( ( LF / CR ) body ) netstring(sender)
//!            netstring( *netstring(recipient) )
//! response = 1*netstring( ( "K" / "Z" / "D" ) text )   ; one per recipient
//! ```
//! A CR first byte means CRLF line ends, turned into LF. Several messages
//! per connection; end of input ends the session with exit 0.

use std::io::{Read, Write};

use crate::control::rcpthosts::RcptHosts;
use crate::envelope::Envelope;
use crate::netstring;
use crate::queue::client::Injection;

use super::received::{self, Peer};
use super::{getlen, send, ByteReader, Exit, Spool};

pub const UNACCEPTABLE_SENDER: &str = "Dunacceptable sender (#5.1.7)";
pub const DATABYTES: &str = "Dsorry, that message size exceeds my databytes limit (#5.3.4)";
pub const NOT_RCPTHOSTS: &str =
    "Dsorry, that domain isn't in my list of allowed rcpthosts (#5.7.1)";
pub const CANT_HANDLE: &str = "Dsorry, I can't handle that recipient (#5.1.3)";

/// What the session needs.
pub struct Config {
    /// 0 = no limit.
    pub databytes: u64,
    pub relayclient: Option<Vec<u8>>,
    pub rcpthosts: RcptHosts,
    pub peer: Peer,
}

/// Per-recipient verdict.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Verdict {
    Ok,
    Domain,
    Bad,
}

/// `if (bytestooverflow) if (!--bytestooverflow) qmail_fail(&qq);`
fn count(failed: &mut bool, overflow: &mut u64) {
    if *overflow > 0 {
        *overflow -= 1;
        if *overflow == 0 {
            *failed = true;
        }
    }
}

fn nothing() -> Result<(), Exit> {
    Ok(())
}

fn comma<R: Read>(r: &mut ByteReader<R>) -> Result<(), Exit> {
    if r.get()? != b',' {
        return Err(Exit::BadProto);
    }
    Ok(())
}

/// Serve messages until the input ends. `open` starts a queue injection.
pub fn serve<R: Read>(
    input: R,
    output: &mut dyn Write,
    cfg: &Config,
    open: &mut dyn FnMut() -> Option<Injection>,
    now: &dyn Fn() -> i64,
) -> Exit {
    let mut r = ByteReader::new(input);
    loop {
        if let Err(e) = one(&mut r, output, cfg, open, now) {
            return e;
        }
    }
}

fn one<R: Read>(
    r: &mut ByteReader<R>,
    output: &mut dyn Write,
    cfg: &Config,
    open: &mut dyn FnMut() -> Option<Injection>,
    now: &dyn Fn() -> i64,
) -> Result<(), Exit> {
    let mut len = getlen(r, nothing)?;
    if len == 0 {
        return Err(Exit::BadProto);
    }
    let databytes = cfg.databytes;
    let mut overflow: u64 = if databytes > 0 { databytes + 1 } else { 0 };
    let q = open().ok_or(Exit::Resources)?;
    let qp = q.pid();
    let mut q = Spool::new(q);
    let first = r.get()?;
    len -= 1;
    let dos = match first {
        b'\n' => false,
        b'\r' => true,
        _ => return Err(Exit::BadProto),
    };
    q.put(&received::line(&cfg.peer, "QMTP", now()));
    let mut failed = false;
    if dos {
        while len > 0 {
            let mut ch = r.get()?;
            len -= 1;
            while ch == b'\r' && len > 0 {
                ch = r.get()?;
                len -= 1;
                if ch == b'\n' {
                    break;
                }
                count(&mut failed, &mut overflow);
                if !failed {
                    q.byte(b'\r');
                }
            }
            count(&mut failed, &mut overflow);
            if !failed {
                q.byte(ch);
            }
        }
    } else {
        if databytes > 0 && len > databytes {
            overflow = 0;
            failed = true;
        }
        while len > 0 {
            let ch = r.get()?;
            len -= 1;
            if !failed {
                q.byte(ch);
            }
        }
    }
    comma(r)?;

    let slen = getlen(r, nothing)?;
    let mut sender = Vec::new();
    let mut sender_ok = true;
    for _ in 0..slen {
        let ch = r.get()?;
        if slen < 1000 {
            sender.push(ch);
        }
    }
    if slen >= 1000 || sender.contains(&0) {
        sender_ok = false;
        sender.clear();
    }
    comma(r)?;
    if !sender_ok {
        failed = true;
    }

    let mut verdicts = Vec::new();
    let mut recipients = Vec::new();
    let relay_len = cfg.relayclient.as_ref().map_or(0, Vec::len) as u64;
    let mut biglen = getlen(r, nothing)?;
    while biglen > 0 {
        let mut rlen: u64 = 0;
        loop {
            if biglen == 0 {
                return Err(Exit::BadProto);
            }
            let ch = r.get()?;
            biglen -= 1;
            if ch == b':' {
                break;
            }
            if rlen > netstring::MAX_LEN {
                return Err(Exit::Resources);
            }
            if !ch.is_ascii_digit() {
                return Err(Exit::BadProto);
            }
            rlen = 10 * rlen + u64::from(ch - b'0');
        }
        if rlen >= biglen {
            return Err(Exit::BadProto);
        }
        let mut verdict = Verdict::Ok;
        let mut addr = Vec::new();
        for _ in 0..rlen {
            let ch = r.get()?;
            if rlen + relay_len < 1000 {
                addr.push(ch);
            }
        }
        if rlen + relay_len >= 1000 || addr.contains(&0) {
            verdict = Verdict::Bad;
        } else if let Some(rc) = &cfg.relayclient {
            addr.extend_from_slice(rc);
        } else {
            // rcpthosts() == -1: resources().
            match cfg.rcpthosts.allowed(&addr) {
                Ok(true) => {}
                Ok(false) => verdict = Verdict::Domain,
                Err(_) => return Err(Exit::Resources),
            }
        }
        if verdict == Verdict::Ok {
            recipients.push(addr);
        }
        verdicts.push(verdict);
        comma(r)?;
        biglen -= rlen + 1;
    }
    comma(r)?;

    let mut q = q.finish();
    if recipients.is_empty() || failed {
        q.fail();
    }
    let env = Envelope { sender, recipients };
    let mut result = match q.close(&env) {
        Ok(()) => format!("Kok {} qp {}", now(), qp),
        Err(e) => e.coded(),
    };
    if !sender_ok {
        result = UNACCEPTABLE_SENDER.into();
    }
    if databytes > 0 && overflow == 0 {
        result = DATABYTES.into();
    }
    let mut out = Vec::new();
    for v in verdicts {
        match v {
            Verdict::Ok => netstring::write(result.as_bytes(), &mut out),
            Verdict::Domain => netstring::write(NOT_RCPTHOSTS.as_bytes(), &mut out),
            Verdict::Bad => netstring::write(CANT_HANDLE.as_bytes(), &mut out),
        }
    }
    send(output, &out)
}
