//! The IMAP command syntax of Dovecot's `imap-parser.c`, for the command
//! subset we serve: a tag, a command name, then arguments (atoms, quoted
//! strings, literals `{n}` / `{n+}`, parenthesised lists). Atoms may hold
//! a bracketed part with spaces and parentheses (`BODY[HEADER.FIELDS
//! (SUBJECT)]<0.10>`), as FETCH items need. Works on one assembled
//! command (see [`super::io::read_command`]); never panics on input.

/// One argument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Arg {
    Atom(String),
    Quoted(Vec<u8>),
    Literal(Vec<u8>),
    List(Vec<Arg>),
}

impl Arg {
    /// An atom, quoted string or literal as bytes (IMAP `astring`); NIL
    /// counts as the atom `NIL`.
    pub fn astring(&self) -> Option<&[u8]> {
        match self {
            Arg::Atom(a) => Some(a.as_bytes()),
            Arg::Quoted(b) | Arg::Literal(b) => Some(b),
            Arg::List(_) => None,
        }
    }

    /// `astring` as UTF-8 (lossy: names are mUTF-7 ASCII anyway).
    pub fn string(&self) -> Option<String> {
        self.astring()
            .map(|b| String::from_utf8_lossy(b).into_owned())
    }

    /// The atom text, if this is an atom.
    pub fn atom(&self) -> Option<&str> {
        match self {
            Arg::Atom(a) => Some(a),
            _ => None,
        }
    }

    pub fn list(&self) -> Option<&[Arg]> {
        match self {
            Arg::List(l) => Some(l),
            _ => None,
        }
    }
}

/// A syntax error; the text is Dovecot's (`Missing '"'`, ...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError(pub &'static str);

/// The split command line: tag, name (upper-cased; `UID X` as one name)
/// and the unparsed rest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Head<'a> {
    /// No tag at all (empty line or bad tag).
    BadTag,
    /// A tag but no valid command name.
    BadName(String),
    Command {
        tag: String,
        name: String,
        rest: &'a [u8],
    },
}

fn is_atom_char(b: u8) -> bool {
    b > b' ' && b < 0x7f && !matches!(b, b'(' | b')' | b'{' | b'%' | b'*' | b'"')
}

fn is_tag_char(b: u8) -> bool {
    is_atom_char(b) && b != b'+'
}

fn word(line: &[u8]) -> (&[u8], &[u8]) {
    let end = line.iter().position(|&b| b == b' ').unwrap_or(line.len());
    (&line[..end], &line[end..])
}

/// Split `tag SP name [SP rest]`.
pub fn head(line: &[u8]) -> Head<'_> {
    let (tag, rest) = word(line);
    if tag.is_empty() || !tag.iter().all(|&b| is_tag_char(b)) {
        return Head::BadTag;
    }
    let tag = String::from_utf8_lossy(tag).into_owned();
    let Some(rest) = rest.strip_prefix(b" ") else {
        return Head::BadName(tag);
    };
    let (name, mut rest) = word(rest);
    if name.is_empty() || !name.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'-') {
        return Head::BadName(tag);
    }
    let mut name = String::from_utf8_lossy(name).to_ascii_uppercase();
    if name == "UID" {
        let Some(r) = rest.strip_prefix(b" ") else {
            return Head::BadName(tag);
        };
        let (sub, r) = word(r);
        if sub.is_empty() {
            return Head::BadName(tag);
        }
        name = format!("UID {}", String::from_utf8_lossy(sub).to_ascii_uppercase());
        rest = r;
    }
    let rest = rest.strip_prefix(b" ").unwrap_or(rest);
    Head::Command { tag, name, rest }
}

/// If `line` (without its line end) ends in a literal announcement
/// `{n}` or `{n+}`, its size and whether it is non-synchronising.
pub fn literal_at_end(line: &[u8]) -> Option<(usize, bool)> {
    let body = line.strip_suffix(b"}")?;
    let open = body.iter().rposition(|&b| b == b'{')?;
    let mut digits = &body[open + 1..];
    let plus = digits.last() == Some(&b'+');
    if plus {
        digits = &digits[..digits.len() - 1];
    }
    if digits.is_empty() || digits.len() > 10 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let n = std::str::from_utf8(digits).ok()?.parse().ok()?;
    Some((n, plus))
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl<'a> Parser<'a> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn atom(&mut self) -> Result<Arg, SyntaxError> {
        let start = self.i;
        let mut depth = 0usize;
        while let Some(b) = self.peek() {
            if b == b'[' {
                depth += 1;
            } else if b == b']' && depth > 0 {
                depth -= 1;
            } else if (depth == 0 && !is_atom_char(b) && b != b'%' && b != b'*')
                || (depth > 0 && (b == b'\r' || b == b'\n'))
            {
                break;
            }
            self.i += 1;
        }
        if depth > 0 {
            return Err(SyntaxError("Missing ']'"));
        }
        Ok(Arg::Atom(
            String::from_utf8_lossy(&self.s[start..self.i]).into_owned(),
        ))
    }

    fn quoted(&mut self) -> Result<Arg, SyntaxError> {
        self.i += 1;
        let mut out = Vec::new();
        loop {
            match self.peek() {
                None | Some(b'\r') | Some(b'\n') => return Err(SyntaxError("Missing '\"'")),
                Some(b'"') => {
                    self.i += 1;
                    return Ok(Arg::Quoted(out));
                }
                Some(b'\\') => {
                    self.i += 1;
                    match self.peek() {
                        Some(c) if c != b'\r' && c != b'\n' => {
                            out.push(c);
                            self.i += 1;
                        }
                        _ => return Err(SyntaxError("Missing '\"'")),
                    }
                }
                Some(c) => {
                    out.push(c);
                    self.i += 1;
                }
            }
        }
    }

    fn literal(&mut self) -> Result<Arg, SyntaxError> {
        let rest = &self.s[self.i..];
        let close = rest
            .iter()
            .position(|&b| b == b'}')
            .ok_or(SyntaxError("Invalid literal size"))?;
        let (n, _) = literal_at_end(&rest[..=close]).ok_or(SyntaxError("Invalid literal size"))?;
        let mut j = self.i + close + 1;
        if self.s.get(j) == Some(&b'\r') {
            j += 1;
        }
        if self.s.get(j) != Some(&b'\n') {
            return Err(SyntaxError("Missing LF after literal size"));
        }
        j += 1;
        let data = self
            .s
            .get(j..j.saturating_add(n))
            .ok_or(SyntaxError("Missing literal data"))?;
        self.i = j + n;
        Ok(Arg::Literal(data.to_vec()))
    }

    /// Arguments until `)` (in a list) or the end.
    fn args(&mut self, in_list: bool) -> Result<Vec<Arg>, SyntaxError> {
        let mut out = Vec::new();
        loop {
            while self.peek() == Some(b' ') {
                self.i += 1;
            }
            match self.peek() {
                None | Some(b'\r') | Some(b'\n') => {
                    return if in_list {
                        Err(SyntaxError("Missing ')'"))
                    } else {
                        Ok(out)
                    };
                }
                Some(b')') => {
                    if in_list {
                        self.i += 1;
                        return Ok(out);
                    }
                    return Err(SyntaxError("Unexpected ')'"));
                }
                Some(b'(') => {
                    self.i += 1;
                    out.push(Arg::List(self.args(true)?));
                }
                Some(b'"') => out.push(self.quoted()?),
                Some(b'{') => out.push(self.literal()?),
                Some(b) if is_atom_char(b) || b == b'%' || b == b'*' || b == b'[' => {
                    out.push(self.atom()?)
                }
                Some(b) if b >= 0x80 => return Err(SyntaxError("8bit data in atom")),
                Some(_) => return Err(SyntaxError("Invalid characters in atom")),
            }
        }
    }
}

/// Parse the arguments after the command name.
pub fn args(rest: &[u8]) -> Result<Vec<Arg>, SyntaxError> {
    Parser { s: rest, i: 0 }.args(false)
}

/// A sequence set: `1`, `2:4`, `*`, `5:*`, comma-separated; `*` is
/// `u32::MAX` here and resolved by the caller.
pub fn sequence_set(s: &str) -> Option<Vec<(u32, u32)>> {
    if s.is_empty() {
        return None;
    }
    let num = |p: &str| -> Option<u32> {
        if p == "*" {
            return Some(u32::MAX);
        }
        if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        p.parse().ok().filter(|&n| n > 0)
    };
    s.split(',')
        .map(|r| match r.split_once(':') {
            Some((a, b)) => {
                let (a, b) = (num(a)?, num(b)?);
                Some((a.min(b), a.max(b)))
            }
            None => num(r).map(|n| (n, n)),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn heads() {
        assert_eq!(head(b""), Head::BadTag);
        assert_eq!(head(b"a33  NOOP"), Head::BadName("a33".into()));
        assert_eq!(head(b"FETCH"), Head::BadName("FETCH".into()));
        assert_eq!(head(b"a19 UID"), Head::BadName("a19".into()));
        assert_eq!(
            head(b"a1 uid fetch 1 FLAGS"),
            Head::Command {
                tag: "a1".into(),
                name: "UID FETCH".into(),
                rest: b"1 FLAGS"
            }
        );
    }

    #[test]
    fn arguments() {
        let a = args(
            b"1 (FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT FROM)]<0.10>) \"a\\\"b\" {3}\r\nxyz NIL",
        )
        .unwrap();
        assert_eq!(
            a,
            vec![
                Arg::Atom("1".into()),
                Arg::List(vec![
                    Arg::Atom("FLAGS".into()),
                    Arg::Atom("BODY.PEEK[HEADER.FIELDS (SUBJECT FROM)]<0.10>".into())
                ]),
                Arg::Quoted(b"a\"b".to_vec()),
                Arg::Literal(b"xyz".to_vec()),
                Arg::Atom("NIL".into()),
            ]
        );
        assert_eq!(args(b"\"abc"), Err(SyntaxError("Missing '\"'")));
        assert_eq!(args(b"1 (FLAGS"), Err(SyntaxError("Missing ')'")));
        assert_eq!(literal_at_end(b"APPEND x {12+}"), Some((12, true)));
        assert_eq!(literal_at_end(b"x {}"), None);
    }

    #[test]
    fn sequence_sets() {
        assert_eq!(
            sequence_set("1:3,5,7:*"),
            Some(vec![(1, 3), (5, 5), (7, u32::MAX)])
        );
        assert_eq!(sequence_set("0"), None);
        assert_eq!(sequence_set("x"), None);
        assert_eq!(sequence_set("1,"), None);
    }

    proptest! {
        #[test]
        fn never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = head(&bytes);
            let _ = args(&bytes);
            let _ = literal_at_end(&bytes);
            let _ = sequence_set(&String::from_utf8_lossy(&bytes));
        }

        #[test]
        fn imapish_never_panics(s in "[a-zA-Z0-9 ()\\[\\]{}<>.\"\\\\*%+:,\r\n]{0,80}") {
            let _ = head(s.as_bytes());
            let _ = args(s.as_bytes());
        }
    }
}
