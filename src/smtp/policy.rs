//! Sender checks: badmailfrom (`shared/spec/qmail/smtpd.md` §9; rcpthosts
//! is `control::rcpthosts`, shared with qmail-qmtpd).

use std::collections::HashSet;

/// A constmap: ASCII case-insensitive exact lookup of list lines.
#[derive(Debug, Clone, Default)]
pub struct ConstMap(HashSet<Vec<u8>>);

impl ConstMap {
    pub fn new(lines: &[Vec<u8>]) -> Self {
        ConstMap(lines.iter().map(|l| l.to_ascii_lowercase()).collect())
    }
    pub fn contains(&self, key: &[u8]) -> bool {
        self.0.contains(&key.to_ascii_lowercase())
    }
}

/// `bmfcheck`: the whole sender, or `@domain` from its last `@`.
pub fn badmailfrom(map: Option<&ConstMap>, sender: &[u8]) -> bool {
    let Some(map) = map else { return false };
    if map.contains(sender) {
        return true;
    }
    match sender.iter().rposition(|&b| b == b'@') {
        Some(at) => map.contains(&sender[at..]),
        None => false,
    }
}

/// A control file (or morercpthosts.cdb) that cannot be read (`421 unable to read controls`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ControlError;

#[cfg(test)]
mod tests {
    use super::*;

    fn l(v: &[&str]) -> Vec<Vec<u8>> {
        v.iter().map(|s| s.as_bytes().to_vec()).collect()
    }

    #[test]
    fn badmailfrom_forms() {
        let m = ConstMap::new(&l(&["spammer@bad.example", "@badmailfrom.example"]));
        assert!(badmailfrom(Some(&m), b"Spammer@bad.example"));
        assert!(badmailfrom(Some(&m), b"anyone@BadMailFrom.example"));
        assert!(!badmailfrom(Some(&m), b""));
        assert!(!badmailfrom(Some(&m), b"x@bad.example"));
        assert!(!badmailfrom(None, b"spammer@bad.example"));
    }
}
