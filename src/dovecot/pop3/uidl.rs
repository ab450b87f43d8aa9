//! `pop3_uidl_format` (`shared/spec/dovecot/pop3.md` §3; Dovecot's
//! `var_expand()` subset): `%[0][width][X]key` or `%{name}` with keys
//! `v` (uidvalidity), `u` (uid), `f` (filename), `g` (guid) and `%%`.
//! `0width` pads with zeros to at least `width`; a width without `0`
//! truncates; `X` prints the number in lower-case hex, as Dovecot's
//! `%llx` does. A format module.

/// One piece of a parsed format.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Text(String),
    Var {
        key: Key,
        zero: bool,
        width: Option<usize>,
        hex: bool,
    },
}

/// The variables a UIDL can use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    UidValidity,
    Uid,
    FileName,
    Guid,
    /// `%m`: MD5 of the header, not supported (refused at start).
    Md5,
}

/// Why a format is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FormatError {
    /// Dovecot: "pop3_uidl_format setting doesn't contain any % variables."
    NoVariables,
    /// A variable this server does not implement.
    Unsupported(String),
}

/// A parsed `pop3_uidl_format`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Format {
    pieces: Vec<Piece>,
}

/// The values of one message.
#[derive(Debug, Clone, Copy)]
pub struct Values<'a> {
    pub uid_validity: u32,
    pub uid: u32,
    /// The base file name.
    pub file_name: &'a str,
    /// The `G` field of the record, else the base name.
    pub guid: &'a str,
}

fn key_of(name: &str) -> Option<Key> {
    Some(match name {
        "v" | "uidvalidity" => Key::UidValidity,
        "u" | "uid" => Key::Uid,
        "f" | "filename" => Key::FileName,
        "g" | "guid" => Key::Guid,
        "m" | "md5" => Key::Md5,
        _ => return None,
    })
}

impl Format {
    /// The default `%08Xu%08Xv`.
    pub fn default_format() -> Format {
        Format::parse("%08Xu%08Xv").unwrap_or(Format { pieces: Vec::new() })
    }

    /// Parse a setting value.
    pub fn parse(s: &str) -> Result<Format, FormatError> {
        let mut pieces = Vec::new();
        let mut text = String::new();
        let mut it = s.chars().peekable();
        while let Some(c) = it.next() {
            if c != '%' {
                text.push(c);
                continue;
            }
            if it.peek() == Some(&'%') {
                it.next();
                text.push('%');
                continue;
            }
            let zero = it.next_if_eq(&'0').is_some();
            let mut width = None;
            while let Some(d) = it.next_if(|c| c.is_ascii_digit()) {
                let v = width.unwrap_or(0usize) * 10 + (d as usize - '0' as usize);
                width = Some(v.min(1 << 20));
            }
            let mut hex = false;
            while it.next_if_eq(&'X').is_some() {
                hex = true;
            }
            let name: String = match it.next() {
                Some('{') => it.by_ref().take_while(|&c| c != '}').collect(),
                Some(k) => k.to_string(),
                None => break,
            };
            let key = key_of(&name).ok_or(FormatError::Unsupported(name.clone()))?;
            if key == Key::Md5 {
                return Err(FormatError::Unsupported(name));
            }
            if !text.is_empty() {
                pieces.push(Piece::Text(std::mem::take(&mut text)));
            }
            pieces.push(Piece::Var {
                key,
                zero,
                width,
                hex,
            });
        }
        if !text.is_empty() {
            pieces.push(Piece::Text(text));
        }
        if !pieces.iter().any(|p| matches!(p, Piece::Var { .. })) {
            return Err(FormatError::NoVariables);
        }
        Ok(Format { pieces })
    }

    /// The UIDL of one message.
    pub fn expand(&self, v: &Values<'_>) -> String {
        let mut out = String::new();
        for p in &self.pieces {
            match p {
                Piece::Text(t) => out.push_str(t),
                Piece::Var {
                    key,
                    zero,
                    width,
                    hex,
                } => {
                    let num = |n: u32| {
                        if *hex {
                            format!("{n:x}")
                        } else {
                            n.to_string()
                        }
                    };
                    let val = match key {
                        Key::UidValidity => num(v.uid_validity),
                        Key::Uid => num(v.uid),
                        Key::FileName => v.file_name.to_string(),
                        Key::Guid | Key::Md5 => v.guid.to_string(),
                    };
                    match width {
                        Some(w) if *zero => {
                            for _ in val.chars().count()..*w {
                                out.push('0');
                            }
                            out.push_str(&val);
                        }
                        Some(w) => out.extend(val.chars().take(*w)),
                        None => out.push_str(&val),
                    }
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vals(uid: u32) -> Values<'static> {
        Values {
            uid_validity: 1699999999,
            uid,
            file_name: "1.2.h",
            guid: "1.2.h",
        }
    }

    #[test]
    fn default_is_lower_hex_padded() {
        let f = Format::default_format();
        assert_eq!(f.expand(&vals(3)), "000000036553f0ff");
        let v = Values {
            uid_validity: 5,
            ..vals(0xabcdef01)
        };
        assert_eq!(f.expand(&v), "abcdef0100000005");
    }

    #[test]
    fn other_forms() {
        assert_eq!(
            Format::parse("%v.%u").unwrap().expand(&vals(7)),
            "1699999999.7"
        );
        assert_eq!(
            Format::parse("%{uid}-%f-%%").unwrap().expand(&vals(7)),
            "7-1.2.h-%"
        );
        assert_eq!(Format::parse("%3v").unwrap().expand(&vals(7)), "169");
        assert_eq!(Format::parse("abc"), Err(FormatError::NoVariables));
        assert!(matches!(
            Format::parse("%m"),
            Err(FormatError::Unsupported(_))
        ));
        assert!(matches!(
            Format::parse("%q"),
            Err(FormatError::Unsupported(_))
        ));
    }
}
