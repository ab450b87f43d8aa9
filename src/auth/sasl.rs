//! The AUTH modes and the mechanisms' decoded forms
//! (`shared/spec/qmail/smtpd.md` §12.1, §12.3).
//!
//! ```text
//! plain = [authzid] NUL user NUL password      ; authzid ignored
//! cram  = user SP *SP hexdigest                ; split at the LAST space
//! ```

/// `SMTPAUTH` modes, with the original's numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    #[default]
    Off = 0,
    LoginPlain = 1,
    Cram = 2,
    All = 3,
    LoginPlainRequired = 11,
    CramRequired = 12,
    AllRequired = 13,
}

impl Mode {
    /// From the `SMTPAUTH` variable (lower-cased before testing).
    pub fn from_env(v: Option<&[u8]>) -> Mode {
        let Some(v) = v else { return Mode::Off };
        let v = v.to_ascii_lowercase();
        // The original tests in this order; later tests win.
        let mut m = Mode::LoginPlain;
        if v == b"-" {
            m = Mode::Off;
        }
        if v == b"!" {
            m = Mode::LoginPlainRequired;
        }
        if v.starts_with(b"cram") {
            m = Mode::Cram;
        }
        if v.starts_with(b"+cram") {
            m = Mode::All;
        }
        if v.starts_with(b"!cram") {
            m = Mode::CramRequired;
        }
        if v.starts_with(b"!+cram") {
            m = Mode::AllRequired;
        }
        m
    }

    /// AUTH is required before MAIL.
    pub fn required(self) -> bool {
        (self as u8) > 10
    }

    /// The EHLO line, if any.
    pub fn ehlo_line(self) -> Option<&'static str> {
        match self {
            Mode::Off => None,
            Mode::LoginPlain | Mode::LoginPlainRequired => Some("250-AUTH LOGIN PLAIN\r\n"),
            Mode::Cram | Mode::CramRequired => Some("250-AUTH CRAM-MD5\r\n"),
            Mode::All | Mode::AllRequired => Some("250-AUTH LOGIN PLAIN CRAM-MD5\r\n"),
        }
    }

    /// CRAM-MD5 is enabled: the challenge goes to the checkpassword too.
    pub fn sends_challenge(self) -> bool {
        matches!(
            self,
            Mode::Cram | Mode::All | Mode::CramRequired | Mode::AllRequired
        )
    }
}

/// A mechanism named in `AUTH mech`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mechanism {
    Login,
    Plain,
    CramMd5,
}

impl Mechanism {
    /// Case-insensitive; all three are accepted whatever is advertised.
    pub fn parse(name: &[u8]) -> Option<Self> {
        [
            (&b"login"[..], Mechanism::Login),
            (b"plain", Mechanism::Plain),
            (b"cram-md5", Mechanism::CramMd5),
        ]
        .into_iter()
        .find(|(n, _)| name.eq_ignore_ascii_case(n))
        .map(|(_, m)| m)
    }

    /// The name the original keeps for logging.
    pub fn name(self) -> &'static str {
        match self {
            Mechanism::Login => "login",
            Mechanism::Plain => "plain",
            Mechanism::CramMd5 => "cram-md5",
        }
    }
}

/// Split `AUTH` arguments: mechanism, then the rest after spaces.
pub fn split_arg(arg: &[u8]) -> (&[u8], &[u8]) {
    let i = arg.iter().position(|&b| b == b' ').unwrap_or(arg.len());
    let (m, mut rest) = arg.split_at(i);
    while let [b' ', r @ ..] = rest {
        rest = r;
    }
    (m, rest)
}

/// C-string view: up to the first NUL.
fn cstr(s: &[u8]) -> &[u8] {
    s.iter().position(|&b| b == 0).map_or(s, |n| &s[..n])
}

/// `auth_plain`'s split of the decoded response into user and password
/// (either may come out empty: `501`).
pub fn plain(decoded: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let id = decoded
        .iter()
        .position(|&b| b == 0)
        .unwrap_or(decoded.len());
    let rest = decoded.get(id + 1..).unwrap_or_default();
    let user = cstr(rest);
    let pass = rest.get(user.len() + 1..).map(cstr).unwrap_or_default();
    (user.to_vec(), pass.to_vec())
}

/// `auth_cram`'s split: user before the last space, digest after it
/// (leading spaces skipped).
pub fn cram(decoded: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let s = cstr(decoded);
    match s.iter().rposition(|&b| b == b' ') {
        Some(i) => {
            let mut d = &s[i..];
            while let [b' ', r @ ..] = d {
                d = r;
            }
            (s[..i].to_vec(), d.to_vec())
        }
        None => (s.to_vec(), Vec::new()),
    }
}

/// The CRAM-MD5 challenge `<PID.TIME@HOST>`.
pub fn challenge(pid: u32, when: u64, host: &[u8]) -> Vec<u8> {
    [format!("<{pid}.{when}@").as_bytes(), host, b">"].concat()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes() {
        assert_eq!(Mode::from_env(None), Mode::Off);
        assert_eq!(Mode::from_env(Some(b"")), Mode::LoginPlain);
        assert_eq!(Mode::from_env(Some(b"-")), Mode::Off);
        assert_eq!(Mode::from_env(Some(b"!")), Mode::LoginPlainRequired);
        assert_eq!(Mode::from_env(Some(b"CRAM")), Mode::Cram);
        assert_eq!(Mode::from_env(Some(b"+cram")), Mode::All);
        assert_eq!(Mode::from_env(Some(b"!cramx")), Mode::CramRequired);
        assert_eq!(Mode::from_env(Some(b"!+cram")), Mode::AllRequired);
        assert_eq!(Mode::from_env(Some(b"whatever")), Mode::LoginPlain);
        assert!(Mode::AllRequired.required() && !Mode::All.required());
    }

    #[test]
    fn splits() {
        assert_eq!(plain(b"\0u\0p"), (b"u".to_vec(), b"p".to_vec()));
        assert_eq!(plain(b"z\0u\0p\0x"), (b"u".to_vec(), b"p".to_vec()));
        assert_eq!(plain(b"up"), (vec![], vec![]));
        assert_eq!(plain(b"\0u"), (b"u".to_vec(), vec![]));
        assert_eq!(
            cram(b"testuser 48af"),
            (b"testuser".to_vec(), b"48af".to_vec())
        );
        assert_eq!(cram(b"a b  c"), (b"a b ".to_vec(), b"c".to_vec()));
        assert_eq!(cram(b"nospace"), (b"nospace".to_vec(), vec![]));
        assert_eq!(
            split_arg(b"LOGIN   dGVzdA=="),
            (&b"LOGIN"[..], &b"dGVzdA=="[..])
        );
        assert_eq!(
            challenge(822, 1795607167, b"oracle.example"),
            b"<822.1795607167@oracle.example>"
        );
    }
}
