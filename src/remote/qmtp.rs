//! QMTP delivery for qmail-remote, opt-in through `control/qmtproutes`
//! (netqmail has no QMTP client; the spec is silent; this follows the
//! well-known qmail-qmtpc / qmail-qmtproutes patches, see COMPAT.md).
//!
//! * `control/qmtproutes` has the format of `smtproutes` (`domain:relay`,
//!   `.suffix:relay`, `:relay`, `relay:port`; an empty relay means "no QMTP
//!   route"). It is consulted after the AUTH patch's `authsenders` and
//!   before `smtproutes`. The port defaults to 209.
//! * As with smtproutes, the relay gets an A lookup only and recipients are
//!   not CNAME-canonicalised. If no QMTP connection can be made to any of
//!   the relay's addresses, the delivery falls back to SMTP (port 25) to
//!   the same addresses, as the patches do.
//!
//! The request (one message, `binaries.md` §QMTP):
//! ```text
//! request = netstring( LF message ) netstring( sender )
//!           netstring( 1*netstring( recipient ) )
//! response = 1*netstring( ( "K" / "Z" / "D" ) text )   ; one per recipient
//! ```
//! Reports, in qmail-remote's SMTP wording so that log analysers keep
//! working: `K` → `r`; `D` → `h`, `Z` → `s`, each with
//! `IP does not like recipient.\nRemote host said: TEXT\n`. Then
//! `KIP accepted message.\nRemote host said: TEXT\n` (TEXT of the last
//! accepted recipient) if any recipient was accepted, else
//! `DGiving up on IP.\n`. Bytes of TEXT outside 32–126 become `?`.
//! A response that is not a QMTP netstring →
//! `Zrecipient did not talk proper QMTP (#4.3.0)` (the patches' text); a
//! lost connection or timeout → `ZConnected to IP but connection died.`
//! with `Possible duplicate! ` once the whole request was sent.

use std::io::{self, Read, Write};
use std::net::TcpStream;

use super::report::Output;
use super::session::Final;
use crate::netstring;

/// The QMTP port.
pub const PORT: u16 = 209;
/// Most response text kept per recipient.
const MAX_TEXT: usize = 5000;
/// Longest response netstring accepted (the patches' 200000000).
const MAX_LEN: u64 = 200_000_000;

/// The message report for a server that does not speak QMTP.
pub const PROTO: &str = "Zrecipient did not talk proper QMTP (#4.3.0)\n";

/// `request`: the bytes sent for one message.
pub fn request(message: &[u8], sender: &[u8], recipients: &[Vec<u8>]) -> Vec<u8> {
    let mut body = Vec::with_capacity(message.len() + 1);
    body.push(b'\n');
    body.extend_from_slice(message);
    let mut out = netstring::encode(&body);
    netstring::write(sender, &mut out);
    let mut list = Vec::new();
    for r in recipients {
        netstring::write(r, &mut list);
    }
    netstring::write(&list, &mut out);
    out
}

/// Why reading a response stopped.
enum Failure {
    Died,
    Proto,
}

/// One response netstring: the status byte and the text (sanitised, at
/// most [`MAX_TEXT`] bytes).
fn response(r: &mut impl Read) -> Result<(u8, Vec<u8>), Failure> {
    let mut byte = || -> Result<u8, Failure> {
        let mut b = [0u8; 1];
        match r.read(&mut b) {
            Ok(1) => Ok(b[0]),
            _ => Err(Failure::Died),
        }
    };
    let mut len: u64 = 0;
    let mut digits = 0;
    loop {
        let c = byte()?;
        if c == b':' {
            break;
        }
        if !c.is_ascii_digit() || len > MAX_LEN {
            return Err(Failure::Proto);
        }
        len = len * 10 + u64::from(c - b'0');
        digits += 1;
    }
    if digits == 0 || len == 0 {
        return Err(Failure::Proto);
    }
    let status = byte()?;
    if !matches!(status, b'K' | b'Z' | b'D') {
        return Err(Failure::Proto);
    }
    let mut text = Vec::new();
    for _ in 1..len {
        let c = byte()?;
        if text.len() < MAX_TEXT {
            text.push(if (32..=126).contains(&c) { c } else { b'?' });
        }
    }
    if byte()? != b',' {
        return Err(Failure::Proto);
    }
    Ok((status, text))
}

fn died(partner: &str, critical: bool) -> Final {
    let dup = if critical { "Possible duplicate! " } else { "" };
    Final(format!("ZConnected to {partner} but connection died. {dup}(#4.4.2)\n").into_bytes())
}

/// Send one message over an established QMTP connection; the recipient
/// reports go to `out`, the message report is returned.
pub fn deliver(
    mut sock: TcpStream,
    partner: &str,
    message: &[u8],
    sender: &[u8],
    recipients: &[Vec<u8>],
    out: &mut Output,
) -> Final {
    let req = request(message, sender, recipients);
    if sock.write_all(&req).and_then(|()| sock.flush()).is_err() {
        return died(partner, false);
    }
    let mut r = io::BufReader::new(&sock);
    let mut accepted: Option<Vec<u8>> = None;
    for _ in recipients {
        match response(&mut r) {
            Ok((b'K', text)) => {
                out.record(b"r");
                accepted = Some(text);
            }
            Ok((status, text)) => {
                let letter = if status == b'D' { b'h' } else { b's' };
                let mut rec = vec![letter];
                rec.extend_from_slice(
                    format!("{partner} does not like recipient.\nRemote host said: ").as_bytes(),
                );
                rec.extend_from_slice(&text);
                rec.push(b'\n');
                out.record(&rec);
            }
            Err(Failure::Died) => return died(partner, true),
            Err(Failure::Proto) => return Final(PROTO.as_bytes().to_vec()),
        }
    }
    match accepted {
        Some(text) => {
            let mut v = format!("K{partner} accepted message.\nRemote host said: ").into_bytes();
            v.extend_from_slice(&text);
            v.push(b'\n');
            Final(v)
        }
        None => Final(format!("DGiving up on {partner}.\n").into_bytes()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_bytes() {
        assert_eq!(
            request(b"a\n", b"s@x", &[b"r@y".to_vec(), b"t@z".to_vec()]),
            b"3:\na\n,3:s@x,12:3:r@y,3:t@z,,".to_vec()
        );
        assert_eq!(
            request(b"", b"", &[b"r".to_vec()]),
            b"1:\n,0:,4:1:r,,".to_vec()
        );
    }

    #[test]
    fn responses() {
        let ok = |b: &[u8]| response(&mut &b[..]).ok();
        assert_eq!(ok(b"5:Kok\x01!,"), Some((b'K', b"ok?!".to_vec())));
        assert_eq!(ok(b"1:D,"), Some((b'D', Vec::new())));
        for bad in [&b"0:,"[..], b":K,", b"2:Xy,", b"2:Ky;", b"x:K,"] {
            assert!(
                matches!(response(&mut &bad[..]), Err(Failure::Proto)),
                "{bad:?}"
            );
        }
        for short in [&b""[..], b"3:Ko", b"3"] {
            assert!(
                matches!(response(&mut &short[..]), Err(Failure::Died)),
                "{short:?}"
            );
        }
    }
}
