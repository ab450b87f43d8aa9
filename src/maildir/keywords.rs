//! `dovecot-keywords`: keyword names for the file-name letters `a`..`z`
//! (`shared/spec/dovecot/maildir.md` §4; `maildir-keywords.c`).
//!
//! ```text
//! file = *( index SP name LF )     ; index 0..25 = letter 'a' + index
//! ```
//!
//! Lines without a space, with an index of 26 or more, an empty name or a
//! name already seen are ignored. Names compare case-insensitively; the
//! spelling stored is the first one used. A format module.

/// Letters available in a file name.
pub const MAX: usize = 26;

/// The map of one mailbox.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Keywords {
    names: Vec<Option<String>>,
}

impl Keywords {
    /// The name of keyword `index`.
    pub fn name(&self, index: usize) -> Option<&str> {
        self.names.get(index)?.as_deref()
    }

    /// The index of `name` (case-insensitive).
    pub fn index(&self, name: &str) -> Option<usize> {
        self.names
            .iter()
            .position(|n| n.as_deref().is_some_and(|n| n.eq_ignore_ascii_case(name)))
    }

    /// The index of `name`, adding it at the lowest free index; `None`
    /// when all 26 letters are taken.
    pub fn add(&mut self, name: &str) -> Option<usize> {
        if let Some(i) = self.index(name) {
            return Some(i);
        }
        let free = match self.names.iter().position(Option::is_none) {
            Some(i) => i,
            None if self.names.len() < MAX => {
                self.names.push(None);
                self.names.len() - 1
            }
            None => return None,
        };
        self.names[free] = Some(name.to_string());
        Some(free)
    }

    /// A name for a letter whose index has none: `unknown-<index>`, with
    /// `?` appended until unique, as Dovecot invents it.
    pub fn name_unknown(&mut self, index: usize) -> Option<&str> {
        if index >= MAX {
            return None;
        }
        if self.name(index).is_none() {
            let mut name = format!("unknown-{index}");
            while self.index(&name).is_some() {
                name.push('?');
            }
            if self.names.len() <= index {
                self.names.resize(index + 1, None);
            }
            self.names[index] = Some(name);
        }
        self.name(index)
    }

    /// Names in index order (for FLAGS / PERMANENTFLAGS).
    pub fn iter(&self) -> impl Iterator<Item = (usize, &str)> {
        self.names
            .iter()
            .enumerate()
            .filter_map(|(i, n)| Some((i, n.as_deref()?)))
    }
}

/// Parse the file; never fails (bad lines are ignored).
pub fn parse(data: &[u8]) -> Keywords {
    let text = String::from_utf8_lossy(data);
    let mut k = Keywords::default();
    for line in text.split('\n') {
        let Some((idx, name)) = line.split_once(' ') else {
            continue;
        };
        let Ok(idx) = idx.parse::<usize>() else {
            continue;
        };
        if idx >= MAX || name.is_empty() || k.index(name).is_some() {
            continue;
        }
        if k.names.len() <= idx {
            k.names.resize(idx + 1, None);
        }
        if k.names[idx].is_none() {
            k.names[idx] = Some(name.to_string());
        }
    }
    k
}

/// Write the file.
pub fn write(k: &Keywords, out: &mut Vec<u8>) {
    for (i, name) in k.iter() {
        out.extend_from_slice(format!("{i} {name}\n").as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const ALICE: &[u8] =
        include_bytes!("../../testdata/dovecot/alice/08-after-idle-errors-misc/dovecot-keywords");

    #[test]
    fn recorded_file() {
        let k = parse(ALICE);
        assert_eq!(k.name(3), Some("$Label1"));
        assert_eq!(k.index("important"), Some(1));
        let mut out = Vec::new();
        write(&k, &mut out);
        assert_eq!(out, ALICE);
    }

    #[test]
    fn adding_and_ignoring() {
        let mut k = parse(b"junk\n1 B\n30 x\n2 b\n0 \n");
        assert_eq!(k.name(1), Some("B"));
        assert_eq!(k.name(2), None);
        assert_eq!(k.add("A"), Some(0));
        assert_eq!(k.add("c"), Some(2));
        assert_eq!(k.add("C"), Some(2));
        assert_eq!(k.name_unknown(5), Some("unknown-5"));
        for i in 0..30 {
            k.add(&format!("k{i}"));
        }
        assert_eq!(k.add("more"), None);
    }

    proptest! {
        #[test]
        fn round_trip(names in proptest::collection::vec("[!-~]{1,10}", 0..30)) {
            let mut k = Keywords::default();
            for n in &names { k.add(n); }
            let mut out = Vec::new();
            write(&k, &mut out);
            prop_assert_eq!(parse(&out), k);
        }

        #[test]
        fn any_bytes(data in proptest::collection::vec(any::<u8>(), 0..200)) {
            let k = parse(&data);
            let mut out = Vec::new();
            write(&k, &mut out);
            let again = parse(&out);
            prop_assert_eq!(again.iter().collect::<Vec<_>>(), k.iter().collect::<Vec<_>>());
        }
    }
}
