//! RFC 822 tokens as qmail's `token822` sees them
//! (`shared/spec/qmail/inject.md` §1.5): tokenizing a header field,
//! walking its address list right to left, and writing it back folded.
//!
//! ```text
//! token    = special / comment / quoted / literal / atom   ; whitespace dropped
//! special  = "." / "," / "@" / "<" / ">" / ":" / ";"
//! comment  = "(" *( ctext / "\" CHAR / comment ) ")"      ; nested parens dropped
//! quoted   = DQUOTE *( qtext / "\" CHAR ) DQUOTE
//! literal  = "[" *( dtext / "\" CHAR ) "]"
//! atom     = 1*( not ( SP HT CR LF "(" "[" DQUOTE "<" ">" ";" ":" "@" "," "." ) )
//! ```
//! An atom holding a control byte, a byte > 126, `)`, `]` or `\` is
//! treated as a quoted string. Pure: no I/O.

/// One token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Token {
    Atom(Vec<u8>),
    Quote(Vec<u8>),
    Literal(Vec<u8>),
    Comment(Vec<u8>),
    Comma,
    At,
    Dot,
    Left,
    Right,
    Semi,
    Colon,
}

impl Token {
    fn is_word(&self) -> bool {
        matches!(
            self,
            Token::Atom(_) | Token::Quote(_) | Token::Literal(_) | Token::Comment(_)
        )
    }
}

fn atomok(ch: u8) -> bool {
    !matches!(
        ch,
        b' ' | b'\t'
            | b'\r'
            | b'\n'
            | b'('
            | b'['
            | b'"'
            | b'<'
            | b'>'
            | b';'
            | b':'
            | b'@'
            | b','
            | b'.'
    )
}

/// The body of a comment, quoted string or literal starting after its
/// opening byte at `i`; returns the content and the index of the closer.
fn delimited(s: &[u8], mut i: usize, close: u8, nest: Option<u8>) -> Option<(Vec<u8>, usize)> {
    let mut level = 1;
    let mut out = Vec::new();
    loop {
        i += 1;
        let ch = *s.get(i)?;
        if Some(ch) == nest {
            level += 1;
        } else if ch == close {
            level -= 1;
            if level == 0 {
                return Some((out, i));
            }
        } else if ch == b'\\' {
            i += 1;
            out.push(*s.get(i)?);
        } else {
            out.push(ch);
        }
    }
}

/// `token822_parse`: `None` when the bytes cannot be tokenized.
pub fn parse(s: &[u8]) -> Option<Vec<Token>> {
    let mut out = Vec::new();
    let n = s.len();
    let mut i = 0;
    while i < n {
        let ch = s[i];
        let tok = match ch {
            b'.' => Token::Dot,
            b',' => Token::Comma,
            b'@' => Token::At,
            b'<' => Token::Left,
            b'>' => Token::Right,
            b':' => Token::Colon,
            b';' => Token::Semi,
            b' ' | b'\t' | b'\r' | b'\n' => {
                i += 1;
                continue;
            }
            b')' | b']' => return None,
            b'(' => {
                let (c, end) = delimited(s, i, b')', Some(b'('))?;
                i = end;
                Token::Comment(c)
            }
            b'"' => {
                let (c, end) = delimited(s, i, b'"', None)?;
                i = end;
                Token::Quote(c)
            }
            b'[' => {
                let (c, end) = delimited(s, i, b']', None)?;
                i = end;
                Token::Literal(c)
            }
            _ => {
                let mut atom = Vec::new();
                loop {
                    if s[i] == b'\\' {
                        i += 1;
                        if i >= n {
                            break;
                        }
                    }
                    atom.push(s[i]);
                    i += 1;
                    if i >= n || !atomok(s[i]) {
                        break;
                    }
                }
                let quote = atom
                    .iter()
                    .any(|&c| !(32..=126).contains(&c) || c == b')' || c == b']' || c == b'\\');
                out.push(if quote {
                    Token::Quote(atom)
                } else {
                    Token::Atom(atom)
                });
                continue;
            }
        };
        out.push(tok);
        i += 1;
    }
    Some(out)
}

fn needspace(last: Option<&Token>, next: &Token) -> bool {
    let Some(last) = last else { return false };
    matches!(last, Token::Colon | Token::Comma)
        || *next == Token::Left
        || (last.is_word() && next.is_word())
}

fn escaped(content: &[u8], out: &mut Vec<u8>) {
    for &ch in content {
        if matches!(ch, b'"' | b'[' | b']' | b'(' | b')' | b'\\' | b'\r' | b'\n') {
            out.push(b'\\');
        }
        out.push(ch);
    }
}

/// Line state of `token822_unparse`'s folding.
struct Fold {
    lineb: usize,
    linee: Option<usize>,
    linelen: usize,
}

impl Fold {
    /// `NSUW`: a tentative "\n " after a comma; the previous one is
    /// taken back when the line still fits.
    fn break_here(&mut self, out: &mut Vec<u8>) {
        let s = out.len();
        match self.linee {
            Some(le) if self.linelen == 0 || s - self.lineb <= self.linelen => {
                out.drain(le..le + 2);
                out.extend_from_slice(b"\n ");
                self.linee = Some(out.len() - 2);
            }
            prev => {
                if let Some(le) = prev {
                    self.lineb = le + 1;
                }
                self.linee = Some(out.len());
                out.extend_from_slice(b"\n ");
            }
        }
    }
}

/// `token822_unparse`: write tokens back, folded after commas so lines
/// stay within `linelen` (0: never fold); ends with LF.
pub fn unparse(tokens: &[Token], linelen: usize) -> Vec<u8> {
    let mut out = Vec::new();
    let mut fold = Fold {
        lineb: 0,
        linee: None,
        linelen,
    };
    let mut last: Option<&Token> = None;
    for t in tokens {
        if needspace(last, t) {
            out.push(b' ');
        }
        last = Some(t);
        match t {
            Token::Comma => {
                out.push(b',');
                fold.break_here(&mut out);
            }
            Token::At => out.push(b'@'),
            Token::Dot => out.push(b'.'),
            Token::Left => out.push(b'<'),
            Token::Right => out.push(b'>'),
            Token::Semi => out.push(b';'),
            Token::Colon => out.push(b':'),
            Token::Atom(a) => escaped(a, &mut out),
            Token::Quote(q) => {
                out.push(b'"');
                escaped(q, &mut out);
                out.push(b'"');
            }
            Token::Literal(l) => {
                out.push(b'[');
                escaped(l, &mut out);
                out.push(b']');
            }
            Token::Comment(c) => {
                out.push(b'(');
                escaped(c, &mut out);
                out.push(b')');
            }
        }
    }
    fold.break_here(&mut out);
    out.pop();
    out
}

/// `token822_unquote`: the address as plain bytes (comments dropped,
/// quotes removed, literals keep their brackets).
pub fn unquote(tokens: &[Token]) -> Vec<u8> {
    let mut out = Vec::new();
    for t in tokens {
        match t {
            Token::Comma => out.push(b','),
            Token::At => out.push(b'@'),
            Token::Dot => out.push(b'.'),
            Token::Left => out.push(b'<'),
            Token::Right => out.push(b'>'),
            Token::Semi => out.push(b';'),
            Token::Colon => out.push(b':'),
            Token::Atom(a) | Token::Quote(a) => out.extend_from_slice(a),
            Token::Literal(l) => {
                out.push(b'[');
                out.extend_from_slice(l);
                out.push(b']');
            }
            Token::Comment(_) => {}
        }
    }
    out
}

/// `token822_addrlist`: walk a field's tokens (after `Name` `:`) right to
/// left; each address is handed to `rewrite` **reversed** (last token
/// first), as the original does, and put back in place. `None` when the
/// structure is not an address list.
pub fn addrlist(ta: &[Token], rewrite: &mut dyn FnMut(&mut Vec<Token>)) -> Option<Vec<Token>> {
    let beg: isize = 2;
    let mut t: isize = ta.len() as isize - 1;
    let mut out: Vec<Token> = Vec::new();
    let mut addr: Vec<Token> = Vec::new();
    let mut ingroup = false;
    let mut wordok = true;
    let at = |t: isize| &ta[t as usize];

    let mut got = |addr: &mut Vec<Token>, out: &mut Vec<Token>| {
        rewrite(addr);
        out.append(addr);
    };
    macro_rules! flush {
        () => {
            if !addr.is_empty() {
                got(&mut addr, &mut out);
            }
        };
    }
    macro_rules! flushcomma {
        () => {
            if !addr.is_empty() {
                got(&mut addr, &mut out);
                out.push(Token::Comma);
            }
        };
    }
    macro_rules! outleft {
        () => {{
            out.push(at(t).clone());
            t -= 1;
        }};
    }
    macro_rules! addrleft {
        () => {{
            addr.push(at(t).clone());
            t -= 1;
        }};
    }

    while t >= beg {
        match at(t) {
            Token::Semi => {
                flushcomma!();
                if ingroup {
                    return None;
                }
                ingroup = true;
                wordok = true;
            }
            Token::Colon => {
                flush!();
                if !ingroup {
                    return None;
                }
                ingroup = false;
                while t >= beg && *at(t) != Token::Comma {
                    outleft!();
                }
                if t >= beg {
                    outleft!();
                }
                wordok = true;
                continue;
            }
            Token::Right => {
                flushcomma!();
                outleft!();
                while t >= beg && *at(t) != Token::Left {
                    addrleft!();
                }
                // The address is used even when empty: <>.
                got(&mut addr, &mut out);
                if t < beg {
                    return None;
                }
                outleft!();
                while t >= beg
                    && matches!(
                        at(t),
                        Token::Comment(_)
                            | Token::Atom(_)
                            | Token::Quote(_)
                            | Token::At
                            | Token::Dot
                    )
                {
                    outleft!();
                }
                wordok = false;
                continue;
            }
            Token::Atom(_) | Token::Quote(_) | Token::Literal(_) => {
                if !wordok {
                    flushcomma!();
                }
                wordok = false;
                addrleft!();
                continue;
            }
            Token::Comment(_) => {}
            Token::Comma => {
                flush!();
                wordok = true;
            }
            Token::At | Token::Dot | Token::Left => {
                wordok = true;
                addrleft!();
                continue;
            }
        }
        outleft!();
    }
    flush!();
    let mut t = t + 1;
    while t > 0 {
        t -= 1;
        out.push(at(t).clone());
    }
    out.reverse();
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use Token::*;

    fn a(s: &str) -> Token {
        Atom(s.as_bytes().to_vec())
    }

    #[test]
    fn tokenize() {
        assert_eq!(
            parse(b"To: \"A B\" <x@y> (c (d) e)\n").unwrap(),
            vec![
                a("To"),
                Colon,
                Quote(b"A B".to_vec()),
                Left,
                a("x"),
                At,
                a("y"),
                Right,
                Comment(b"c d e".to_vec())
            ]
        );
        assert_eq!(parse(b")x"), None);
        assert_eq!(parse(b"\"open"), None);
        assert_eq!(parse(b"(open"), None);
        assert_eq!(parse(b"a\\)b").unwrap(), vec![Quote(b"a)b".to_vec())]);
        assert_eq!(
            parse(b"[1.2.3.4]").unwrap(),
            vec![Literal(b"1.2.3.4".to_vec())]
        );
    }

    #[test]
    fn unparse_spacing_and_folding() {
        let t = parse(b"To: a@x.example,b@y.example , c@z.example\n").unwrap();
        assert_eq!(
            unparse(&t, 80),
            b"To: a@x.example, b@y.example, c@z.example\n"
        );
        let long: Vec<String> = (0..12)
            .map(|i| format!("user{i}@host{i}.example"))
            .collect();
        let field = format!("To: {}\n", long.join(", "));
        let out = unparse(&parse(field.as_bytes()).unwrap(), 80);
        let s = String::from_utf8(out).unwrap();
        for line in s.lines() {
            assert!(line.len() <= 78, "{line}");
        }
        assert!(s.contains(",\n  user"));
        assert_eq!(s.replace(",\n  ", ", "), field);
    }

    #[test]
    fn addrlist_inserts_commas_and_keeps_groups() {
        let t = parse(b"To: djb fred, list: a, b;, Joe <j@x>\n").unwrap();
        let mut seen = Vec::new();
        let out = addrlist(&t, &mut |addr| {
            let mut f = addr.clone();
            f.reverse();
            seen.push(String::from_utf8(unquote(&f)).unwrap());
        })
        .unwrap();
        assert_eq!(seen, ["j@x", "b", "a", "fred", "djb"]);
        assert_eq!(
            String::from_utf8(unparse(&out, 0)).unwrap(),
            "To: djb, fred, list: a, b;, Joe <j@x>\n"
        );
        assert!(addrlist(&parse(b"To: a;b;\n").unwrap(), &mut |_| {}).is_none());
        assert!(addrlist(&parse(b"To: a>\n").unwrap(), &mut |_| {}).is_none());
    }
}
