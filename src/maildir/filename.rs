//! Maildir file names as Dovecot 2.3 reads and writes them
//! (`shared/spec/dovecot/maildir.md` §2; `maildir-filename.c`,
//! `maildir-filename-flags.c`).
//!
//! ```text
//! name  = base [ ":" info ]
//! base  = unique *( "," key "=" value )      ; ",S=<n>", ",W=<n>"
//! info  = "2," *flag [ "," extra ]           ; only version 2 is understood
//! flag  = "D" / "F" / "R" / "S" / "T" / "a".."z" / any other byte (kept)
//! ```
//!
//! The base name (up to the first `:`) is a message's identity; flags are
//! written sorted by byte value. A format module: no file system access.

/// The base name: everything before the first `:`.
pub fn base(name: &str) -> &str {
    name.split_once(':').map_or(name, |(b, _)| b)
}

/// The info part after the first `:`, if any.
pub fn info(name: &str) -> Option<&str> {
    name.split_once(':').map(|(_, i)| i)
}

/// The value of `,S=` (`key` = `b'S'`) or `,W=` in the base name: digits
/// that end at `,`, `:` or the end of the name; anything else is ignored.
pub fn size_field(name: &str, key: u8) -> Option<u64> {
    let b = base(name).as_bytes();
    let mut i = 0;
    while i + 3 <= b.len() {
        if b[i] == b',' && b[i + 1] == key && b[i + 2] == b'=' {
            let digits = &b[i + 3..];
            let n = digits.iter().take_while(|c| c.is_ascii_digit()).count();
            let ends = matches!(digits.get(n), None | Some(b',') | Some(b':'));
            if n > 0 && ends {
                if let Ok(v) = std::str::from_utf8(&digits[..n]).unwrap_or("").parse() {
                    return Some(v);
                }
            }
        }
        i += 1;
    }
    None
}

/// The flags of a name: the letters of a `2,` info part (sorted, unique),
/// plus any text after a second `,` (kept verbatim).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Flags {
    letters: Vec<u8>,
    extra: Option<String>,
    /// The info part was not version 2 (kept as is, no flags known).
    foreign: Option<String>,
}

/// System flag letters.
pub const DRAFT: u8 = b'D';
pub const FLAGGED: u8 = b'F';
pub const ANSWERED: u8 = b'R';
pub const SEEN: u8 = b'S';
pub const DELETED: u8 = b'T';

impl Flags {
    /// `flags` of `name` (none when there is no info part).
    pub fn of(name: &str) -> Flags {
        let Some(info) = info(name) else {
            return Flags::default();
        };
        let Some(rest) = info.strip_prefix("2,") else {
            return Flags {
                foreign: Some(info.to_string()),
                ..Flags::default()
            };
        };
        let (letters, extra) = match rest.split_once(',') {
            Some((l, e)) => (l, Some(e.to_string())),
            None => (rest, None),
        };
        let mut f = Flags {
            letters: Vec::new(),
            extra,
            foreign: None,
        };
        for &c in letters.as_bytes() {
            f.set(c, true);
        }
        f
    }

    /// Whether the flag letter is set.
    pub fn has(&self, letter: u8) -> bool {
        self.letters.contains(&letter)
    }

    /// Set or clear a flag letter (kept sorted).
    pub fn set(&mut self, letter: u8, on: bool) {
        match (self.letters.binary_search(&letter), on) {
            (Err(i), true) => self.letters.insert(i, letter),
            (Ok(i), false) => {
                self.letters.remove(i);
            }
            _ => {}
        }
    }

    /// The sorted letters.
    pub fn letters(&self) -> &[u8] {
        &self.letters
    }

    /// Keyword indexes (0..26) set by `a`..`z`.
    pub fn keywords(&self) -> impl Iterator<Item = usize> + '_ {
        self.letters
            .iter()
            .filter(|c| c.is_ascii_lowercase())
            .map(|c| usize::from(c - b'a'))
    }

    /// `base` with these flags as it goes into `cur/`: `base:2,LETTERS`.
    /// A foreign info part is kept unchanged.
    pub fn name_for(&self, base: &str) -> String {
        if let Some(f) = &self.foreign {
            return format!("{base}:{f}");
        }
        let mut s = String::with_capacity(base.len() + 4 + self.letters.len());
        s.push_str(base);
        s.push_str(":2,");
        s.extend(self.letters.iter().map(|&c| char::from(c)));
        if let Some(e) = &self.extra {
            s.push(',');
            s.push_str(e);
        }
        s
    }
}

/// The sort key Dovecot uses to number new files: leading seconds, then
/// the microseconds after `M` in the second dot-field (only when both
/// names have them), then the bytes of the base name.
pub fn uid_order(a: &str, b: &str) -> std::cmp::Ordering {
    fn secs(s: &str) -> u64 {
        let n = s.bytes().take_while(u8::is_ascii_digit).count();
        s[..n].parse().unwrap_or(0)
    }
    fn usecs(s: &str) -> Option<u64> {
        let field = s.split('.').nth(1)?;
        let rest = field.strip_prefix('M')?;
        let n = rest.bytes().take_while(u8::is_ascii_digit).count();
        rest[..n].parse().ok()
    }
    secs(a)
        .cmp(&secs(b))
        .then_with(|| match (usecs(a), usecs(b)) {
            (Some(x), Some(y)) => x.cmp(&y),
            _ => std::cmp::Ordering::Equal,
        })
        .then_with(|| a.as_bytes().cmp(b.as_bytes()))
}

/// The virtual size of message bytes: every line end counted as CRLF.
pub fn virtual_size(data: &[u8]) -> u64 {
    let mut n = data.len() as u64;
    let mut prev = 0u8;
    for &c in data {
        if c == b'\n' && prev != b'\r' {
            n += 1;
        }
        prev = c;
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn sizes_and_flags() {
        let n = "1700000005.M500005P2005.mail.example.org,S=3989,W=4058:2,F";
        assert_eq!(
            base(n),
            "1700000005.M500005P2005.mail.example.org,S=3989,W=4058"
        );
        assert_eq!(size_field(n, b'S'), Some(3989));
        assert_eq!(size_field(n, b'W'), Some(4058));
        assert_eq!(size_field("x,S=12a:2,", b'S'), None);
        assert_eq!(size_field("1.2.host", b'S'), None);
        let f = Flags::of(n);
        assert!(f.has(FLAGGED) && !f.has(SEEN));
        let mut f = Flags::of("b:2,dSa");
        assert_eq!(f.letters(), b"Sad");
        f.set(SEEN, false);
        f.set(b'F', true);
        assert_eq!(f.name_for("b"), "b:2,Fad");
        assert_eq!(f.keywords().collect::<Vec<_>>(), vec![0, 3]);
        assert_eq!(Flags::of("b").name_for("b"), "b:2,");
        assert_eq!(Flags::of("b:2,S,xyz").name_for("b"), "b:2,S,xyz");
        assert_eq!(Flags::of("b:1,foo").name_for("b"), "b:1,foo");
    }

    #[test]
    fn ordering() {
        let mut v = vec![
            "1700000004.2004.mail.example.org",
            "1700000003.M300003P2003.mail.example.org",
            "1700000003.M30P2003.mail.example.org",
            "999.1.x",
        ];
        v.sort_by(|a, b| uid_order(a, b));
        assert_eq!(
            v,
            [
                "999.1.x",
                "1700000003.M30P2003.mail.example.org",
                "1700000003.M300003P2003.mail.example.org",
                "1700000004.2004.mail.example.org"
            ]
        );
    }

    #[test]
    fn virtual_sizes() {
        assert_eq!(virtual_size(b"a\nb\r\nc"), 7);
        assert_eq!(virtual_size(b""), 0);
    }

    proptest! {
        #[test]
        fn flags_round_trip(base in "[0-9a-zA-Z.,=]{1,20}", letters in "[A-Za-z]{0,10}") {
            let name = format!("{base}:2,{letters}");
            let f = Flags::of(&name);
            let again = f.name_for(&base);
            prop_assert_eq!(Flags::of(&again), f.clone());
            prop_assert_eq!(Flags::of(&again).name_for(&base), again);
        }

        #[test]
        fn any_name_is_harmless(name in "\\PC{0,40}") {
            let _ = size_field(&name, b'S');
            let f = Flags::of(&name);
            let _ = f.name_for(base(&name));
        }
    }
}
