//! qmail's POP3 pair (`shared/spec/qmail/binaries.md` §POP3):
//! [`popup`] reads the name and password and hands them to a
//! checkpassword program; [`pop3d`] is what checkpassword runs as the
//! user, and serves one Maildir.
//!
//! Both read commands as qmail's `commands.c` does and answer with
//! `+OK ` (trailing space) or `-ERR text`, CRLF.

pub mod pop3d;
pub mod popup;

use std::time::Duration;

use crate::tls::stream::Conn;

/// Both programs give up on a client silent (or not reading) this long.
pub const TIMEOUT: Duration = Duration::from_secs(1200);

/// One command line split as `commands()` splits it: the CR before the
/// LF dropped, the line cut at its first NUL (the original works on C
/// strings), the verb up to the first space, the argument after every
/// space that follows it. Verbs compare case-insensitively.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Command<'a> {
    pub verb: &'a [u8],
    pub arg: &'a [u8],
}

impl<'a> Command<'a> {
    pub fn split(line: &'a [u8]) -> Self {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let line = match line.iter().position(|&b| b == 0) {
            Some(n) => &line[..n],
            None => line,
        };
        let i = line.iter().position(|&b| b == b' ').unwrap_or(line.len());
        let (verb, rest) = line.split_at(i);
        let skip = rest.iter().take_while(|&&b| b == b' ').count();
        Command {
            verb,
            arg: &rest[skip..],
        }
    }

    /// True when the verb is `name` in any case.
    pub fn is(&self, name: &str) -> bool {
        self.verb.eq_ignore_ascii_case(name.as_bytes())
    }
}

/// `+OK ` CRLF, sent at once.
fn okay(conn: &mut Conn) {
    conn.out(b"+OK \r\n");
}

/// `-ERR text` CRLF.
fn err(conn: &mut Conn, text: &str) {
    conn.out(b"-ERR ");
    conn.out(text.as_bytes());
    conn.out(b"\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn splitting() {
        let c = Command::split(b"RETR   12 3\r");
        assert_eq!((c.verb, c.arg), (&b"RETR"[..], &b"12 3"[..]));
        assert!(c.is("retr"));
        let c = Command::split(b"user a\0b c");
        assert_eq!((c.verb, c.arg), (&b"user"[..], &b"a"[..]));
        let c = Command::split(b"no\0op");
        assert_eq!((c.verb, c.arg), (&b"no"[..], &b""[..]));
        let c = Command::split(b"\tSTAT");
        assert!(!c.is("stat"));
        assert_eq!(Command::split(b"").verb, b"");
    }

    proptest! {
        #[test]
        fn split_never_panics_and_keeps_bytes(line in proptest::collection::vec(any::<u8>(), 0..200)) {
            let c = Command::split(&line);
            prop_assert!(!c.verb.contains(&b' ') && !c.verb.contains(&0));
            prop_assert!(c.arg.first() != Some(&b' '));
            prop_assert!(line.starts_with(c.verb));
        }
    }
}
