//! SMTP command lines and the verb table (qmail's `commands.c`,
//! `shared/spec/qmail/smtpd.md` §3).
//!
//! ```text
//! line    = *( any byte but LF ) [ CR ] LF     ; one CR before LF is dropped
//! command = verb *( SP ) argument              ; verb ends at SP or NUL
//! ```
//!
//! A NUL ends the line for parsing (`NOOP\0garbage` is `NOOP`). The verb
//! is matched ASCII case-insensitively; anything else, including an empty
//! verb, is [`Verb::Unknown`].

/// The known verbs, in the original's table order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verb {
    Rcpt,
    Mail,
    Data,
    Auth,
    Quit,
    Helo,
    Ehlo,
    Rset,
    Help,
    StartTls,
    Noop,
    Vrfy,
    Unknown,
}

/// What happens to buffered replies after the command (the table's
/// third column).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum After {
    /// Replies stay buffered (pipelining): MAIL, RCPT, RSET.
    Keep,
    /// Flush the replies.
    Flush,
    /// Discard buffered input, then flush (STARTTLS).
    DiscardInput,
}

/// The dispatch table: (name, verb, after).
pub const COMMANDS: &[(&str, Verb, After)] = &[
    ("rcpt", Verb::Rcpt, After::Keep),
    ("mail", Verb::Mail, After::Keep),
    ("data", Verb::Data, After::Flush),
    ("auth", Verb::Auth, After::Flush),
    ("quit", Verb::Quit, After::Flush),
    ("helo", Verb::Helo, After::Flush),
    ("ehlo", Verb::Ehlo, After::Flush),
    ("rset", Verb::Rset, After::Keep),
    ("help", Verb::Help, After::Flush),
    ("starttls", Verb::StartTls, After::DiscardInput),
    ("noop", Verb::Noop, After::Flush),
    ("vrfy", Verb::Vrfy, After::Flush),
];

impl Verb {
    /// How replies are handled after this verb.
    pub fn after(self) -> After {
        COMMANDS
            .iter()
            .find(|(_, v, _)| *v == self)
            .map_or(After::Flush, |(_, _, a)| *a)
    }
}

/// One parsed command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command<'a> {
    pub verb: Verb,
    pub arg: &'a [u8],
}

/// `line` without its LF: drop one trailing CR (`commands.c`).
pub fn strip_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// `command = verb *( SP ) argument`, from a line without its LF.
pub fn parse(line: &[u8]) -> Command<'_> {
    let line = strip_cr(line);
    let line = match line.iter().position(|&b| b == 0) {
        Some(n) => &line[..n],
        None => line,
    };
    let end = line.iter().position(|&b| b == b' ').unwrap_or(line.len());
    let (verb, mut arg) = line.split_at(end);
    while let [b' ', rest @ ..] = arg {
        arg = rest;
    }
    let verb = COMMANDS
        .iter()
        .find(|(name, _, _)| verb.eq_ignore_ascii_case(name.as_bytes()))
        .map_or(Verb::Unknown, |(_, v, _)| *v);
    Command { verb, arg }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn verbs_and_arguments() {
        assert_eq!(parse(b"HELO   spaced.example  \r").arg, b"spaced.example  ");
        assert_eq!(parse(b"noop").verb, Verb::Noop);
        assert_eq!(parse(b"NOOP\0garbage\r").verb, Verb::Noop);
        assert_eq!(parse(b" NOOP").verb, Verb::Unknown);
        assert_eq!(parse(b"").verb, Verb::Unknown);
        assert_eq!(parse(b"StartTLS x").verb, Verb::StartTls);
        assert_eq!(parse(b"MAIL FROM:<a@b>\r\r").arg, b"FROM:<a@b>\r");
        assert_eq!(Verb::Rcpt.after(), After::Keep);
        assert_eq!(Verb::Unknown.after(), After::Flush);
    }

    proptest! {
        #[test]
        fn any_line_parses(line in proptest::collection::vec(any::<u8>(), 0..300)) {
            let c = parse(&line);
            prop_assert!(!c.arg.contains(&0));
            prop_assert!(c.arg.len() <= line.len());
        }
    }
}
