//! SMTP AUTH as a client: the fehcom patch in qmail-remote (`remote.md` §9).
//!
//! The method is taken from the first EHLO line whose bytes 4..8 are
//! `AUTH`: the word right after `AUTH ` (or `AUTH=`) must start with
//! `CRAM`, `PLAIN` or `LOGIN` (ASCII case-insensitively). That is what the
//! original's `j = str_chr(...) > 0` test amounts to: only the first listed
//! mechanism is considered. A success is followed by
//! `MAIL FROM:<sender> AUTH=xtext(user)`.

use base64::Engine;

use super::addr::xtext;
use super::report::quit;
use super::session::{Final, Session};

/// Failure texts: (after AUTH command, after credentials). `quit()` adds
/// its own `.`, so the report reads `... (plain)..` as the original does.
const PLAIN: (&str, &str) = (
    " but authentication was rejected (AUTH PLAIN).",
    " but authentication was rejected (plain).",
);
const LOGIN_USER: &str = " but authentication was rejected (username).";
const LOGIN: (&str, &str) = (
    " but authentication was rejected (AUTH LOGIN).",
    " but authentication was rejected (password).",
);
const CRAM: (&str, &str) = (
    " but authentication was rejected (AUTH CRAM-MD5).",
    " but authentication was rejected (username+digest).",
);
const CRAM_DECODE: &str = " but unable to base64decode challenge.";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Method {
    Cram,
    Plain,
    Login,
}

fn starts_ci(s: &[u8], p: &[u8]) -> bool {
    s.len() >= p.len() && s[..p.len()].eq_ignore_ascii_case(p)
}

/// The method the original would pick from the EHLO reply text; `Err(())`
/// when an AUTH line exists but offers nothing usable first.
fn pick(text: &[u8]) -> Option<Result<Method, ()>> {
    for line in text.split(|&b| b == b'\n') {
        if line.len() > 8 && &line[4..8] == b"AUTH" {
            let rest = line.get(9..).unwrap_or_default();
            return Some(if starts_ci(rest, b"CRAM") {
                Ok(Method::Cram)
            } else if starts_ci(rest, b"PLAIN") {
                Ok(Method::Plain)
            } else if starts_ci(rest, b"LOGIN") {
                Ok(Method::Login)
            } else {
                Err(())
            });
        }
    }
    None
}

fn b64(b: &[u8]) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD
        .encode(b)
        .into_bytes()
}

/// HMAC-MD5 (RFC 2104), hex.
pub fn hmac_md5_hex(key: &[u8], msg: &[u8]) -> String {
    let mut k = if key.len() > 64 {
        md5::compute(key).0.to_vec()
    } else {
        key.to_vec()
    };
    k.resize(64, 0);
    let ipad: Vec<u8> = k.iter().map(|b| b ^ 0x36).collect();
    let opad: Vec<u8> = k.iter().map(|b| b ^ 0x5c).collect();
    let inner = md5::compute([ipad, msg.to_vec()].concat());
    let outer = md5::compute([opad, inner.0.to_vec()].concat());
    format!("{outer:x}")
}

/// Authenticate and send MAIL; `Ok(false)` when no method is usable (the
/// caller reports that and sends a plain MAIL).
pub fn authenticate(
    s: &mut Session<'_>,
    sender: &[u8],
    user: &[u8],
    pass: &[u8],
) -> Result<bool, Final> {
    let method = match pick(&s.text) {
        Some(Ok(m)) => m,
        _ => return Ok(false),
    };
    let (first, second) = match method {
        Method::Cram => CRAM,
        Method::Plain => PLAIN,
        Method::Login => LOGIN,
    };
    let verb: &[u8] = match method {
        Method::Cram => b"AUTH CRAM-MD5",
        Method::Plain => b"AUTH PLAIN",
        Method::Login => b"AUTH LOGIN",
    };
    s.command(&[verb])?;
    if s.smtpcode()? != 334 {
        return Err(s.quit(("ZConnected to ", first)));
    }
    let response = match method {
        Method::Plain => b64(&[user, b"\0", user, b"\0", pass].concat()),
        Method::Login => {
            s.command(&[&b64(user)])?;
            if s.smtpcode()? != 334 {
                return Err(s.quit(("ZConnected to ", LOGIN_USER)));
            }
            b64(pass)
        }
        Method::Cram => {
            let t = s.text.clone();
            let challenge = t.get(4..t.len().saturating_sub(1)).unwrap_or_default();
            let Ok(chal) = base64::engine::general_purpose::STANDARD.decode(challenge) else {
                return Err(s.quit(("ZConnected to ", CRAM_DECODE)));
            };
            let digest = hmac_md5_hex(pass, &chal);
            b64(&[user, b" ", digest.as_bytes()].concat())
        }
    };
    s.command(&[&response])?;
    match s.smtpcode()? {
        235 => {}
        432 => return Err(s.quit(quit::PASSWORD_EXPIRED)),
        _ => return Err(s.quit(("ZConnected to ", second))),
    }
    s.command(&[b"MAIL FROM:<", sender, b"> AUTH=", &xtext(user)])?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_listed_method_only() {
        assert_eq!(
            pick(b"250-x\n250-AUTH LOGIN PLAIN CRAM-MD5\n250 OK\n"),
            Some(Ok(Method::Login))
        );
        assert_eq!(pick(b"250-x\n250-AUTH=cram-md5\n"), Some(Ok(Method::Cram)));
        assert_eq!(pick(b"250-x\n250 AUTH PLAIN\n"), Some(Ok(Method::Plain)));
        assert_eq!(pick(b"250-x\n250 AUTH XOAUTH2 PLAIN\n"), Some(Err(())));
        assert_eq!(pick(b"250-x\n250 SIZE\n"), None);
    }

    #[test]
    fn hmac_rfc2104_vector() {
        assert_eq!(
            hmac_md5_hex(b"Jefe", b"what do ya want for nothing?"),
            "750c783e6ab0b503eaa86e310a5db738"
        );
    }
}
