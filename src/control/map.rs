//! Lookup maps built from list files: qmail's `constmap`
//! (`shared/spec/qmail/common.md` §3).
//!
//! * keys compare ASCII case-insensitively (A–Z fold to a–z; bytes ≥ 0x80
//!   compare exactly), by exact length;
//! * `key:value` maps split each line at its **first** `:`; a line without
//!   a colon is ignored; the value may be empty and may hold more colons;
//! * plain maps use the whole line as the key;
//! * a key given several times: the **last** occurrence wins.

use std::collections::HashMap;

/// How a list file's lines become entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// The whole line is the key (`locals`, `rcpthosts`, `badmailfrom`, ...).
    Plain,
    /// `key:value` at the first colon (`virtualdomains`, `smtproutes`, ...).
    KeyValue,
}

/// A constmap: case-insensitive keys, last occurrence wins.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Map {
    entries: HashMap<Vec<u8>, Vec<u8>>,
}

/// ASCII lowercase, as constmap's hash and comparison fold.
fn fold(key: &[u8]) -> Vec<u8> {
    key.to_ascii_lowercase()
}

impl Map {
    /// Build from the kept lines of a list file (`control::list_lines`).
    pub fn from_lines<L: AsRef<[u8]>>(lines: &[L], shape: Shape) -> Self {
        let mut entries = HashMap::new();
        for line in lines {
            let line = line.as_ref();
            let (key, value) = match shape {
                Shape::Plain => (line, &b""[..]),
                Shape::KeyValue => match line.iter().position(|&b| b == b':') {
                    Some(i) => (&line[..i], &line[i + 1..]),
                    None => continue,
                },
            };
            entries.insert(fold(key), value.to_vec());
        }
        Map { entries }
    }

    /// Build from a list file's raw bytes (comments and blank lines dropped).
    pub fn parse(bytes: &[u8], shape: Shape) -> Self {
        Self::from_lines(&super::list_lines(bytes), shape)
    }

    /// The value stored for `key` (case-insensitive); `Some(b"")` is an
    /// empty value, distinct from "not found".
    pub fn get(&self, key: &[u8]) -> Option<&[u8]> {
        self.entries.get(&fold(key)).map(Vec::as_slice)
    }

    /// True when `key` is present.
    pub fn contains(&self, key: &[u8]) -> bool {
        self.entries.contains_key(&fold(key))
    }

    /// Number of distinct keys.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when the map has no key.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_fold_ascii_only() {
        let m = Map::parse(b"Example.ORG\n\xC4x.org\n", Shape::Plain);
        assert!(m.contains(b"example.org"));
        assert!(m.contains(b"EXAMPLE.org"));
        assert!(m.contains(b"\xC4X.ORG"));
        assert!(!m.contains(b"\xE4x.org"), "bytes >= 0x80 compare exactly");
        assert!(!m.contains(b"example.or"), "exact length");
        assert!(!m.contains(b"example.org "), "exact length");
    }

    #[test]
    fn key_value_splits_at_first_colon() {
        let m = Map::parse(
            b"example.com:relay.example:2525\nnocolon\n:default.relay\nexcept.example:\n",
            Shape::KeyValue,
        );
        assert_eq!(m.get(b"EXAMPLE.COM"), Some(&b"relay.example:2525"[..]));
        assert_eq!(m.get(b"nocolon"), None, "a line without colon is ignored");
        assert_eq!(m.get(b""), Some(&b"default.relay"[..]));
        assert_eq!(m.get(b"except.example"), Some(&b""[..]), "empty value");
        assert_eq!(m.get(b"missing.example"), None);
        assert_eq!(m.len(), 3);
    }

    #[test]
    fn last_occurrence_wins() {
        let m = Map::parse(b"a.example:first\nA.EXAMPLE:second\n", Shape::KeyValue);
        assert_eq!(m.get(b"a.example"), Some(&b"second"[..]));
        assert_eq!(m.len(), 1);
    }

    #[test]
    fn comments_blank_lines_and_trailing_blanks_are_list_rules() {
        let m = Map::parse(
            b"# comment:x\n\n   \nlocal.example \t\n #notacomment\n",
            Shape::Plain,
        );
        assert!(m.contains(b"local.example"));
        assert!(m.contains(b" #notacomment"), "leading blanks are kept");
        assert_eq!(m.len(), 2);
    }

    proptest::proptest! {
        #[test]
        fn last_occurrence_wins_against_a_model(
            lines in proptest::collection::vec(("[a-cA-C]{0,3}", "[a-c:]{0,4}"), 0..12)
        ) {
            let text: Vec<u8> = lines
                .iter()
                .flat_map(|(k, v)| format!("{k}:{v}\n").into_bytes())
                .collect();
            let m = Map::parse(&text, Shape::KeyValue);
            for (k, _) in &lines {
                let want = lines
                    .iter()
                    .rev()
                    .find(|(k2, _)| k2.eq_ignore_ascii_case(k))
                    .map(|(_, v)| v.trim_end_matches([' ', '\t']).as_bytes());
                // A `#` first byte or an empty line cannot occur here.
                proptest::prop_assert_eq!(m.get(k.to_uppercase().as_bytes()), want);
            }
        }
    }

    #[test]
    fn plain_map_keeps_colons_in_key() {
        let m = Map::parse(b"user@host:x\n", Shape::Plain);
        assert!(m.contains(b"USER@host:x"));
        assert!(!m.contains(b"user@host"));
    }
}
