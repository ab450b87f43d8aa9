//! The Maildir++ folder namespace as Dovecot's `LAYOUT=maildir++` shows it
//! (`shared/spec/dovecot/maildir.md` §1, imap.md §4): `INBOX` is the root
//! Maildir, folder `A.B` is the directory `.A.B`, separator `.`, names in
//! modified UTF-7 as on disk. Parents without their own directory are
//! listed as `\Noselect` (`\NonExistent` with LIST-EXTENDED).

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// The special-use mailboxes of Debian's default namespace configuration.
pub const SPECIAL_USE: [(&str, &str); 5] = [
    ("Drafts", "\\Drafts"),
    ("Junk", "\\Junk"),
    ("Trash", "\\Trash"),
    ("Sent", "\\Sent"),
    ("Sent Messages", "\\Sent"),
];

/// The special-use attribute of `name`, if configured.
pub fn special_use(name: &str) -> Option<&'static str> {
    SPECIAL_USE
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, a)| *a)
}

/// `INBOX` in any case is INBOX.
pub fn is_inbox(name: &str) -> bool {
    name.eq_ignore_ascii_case("INBOX")
}

/// The canonical spelling (INBOX upper-cased, a trailing separator
/// dropped).
pub fn canonical(name: &str) -> String {
    let n = name.strip_suffix('.').unwrap_or(name);
    if is_inbox(n) {
        "INBOX".to_string()
    } else {
        n.to_string()
    }
}

/// Whether `name` is valid modified UTF-7 (RFC 3501 §5.1.3): `&` starts a
/// base64 run (`,` for `/`) ended by `-`; `&-` is a literal `&`.
pub fn valid_mutf7(name: &str) -> bool {
    let b = name.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if !(0x20..0x7f).contains(&c) {
            return false;
        }
        if c == b'&' {
            let start = i + 1;
            let mut j = start;
            while j < b.len() && (b[j].is_ascii_alphanumeric() || b[j] == b'+' || b[j] == b',') {
                j += 1;
            }
            if j >= b.len() || b[j] != b'-' {
                return false;
            }
            // A run must encode whole UTF-16 units (not checked deeper).
            if j > start && (j - start) * 6 / 16 == 0 {
                return false;
            }
            i = j;
        }
        i += 1;
    }
    true
}

/// Whether `name` may name a folder on disk: no `/`, no empty or
/// dot-only hierarchy levels, no leading `~`.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && !name.contains('/')
        && !name.starts_with('~')
        && name.split('.').all(|p| !p.is_empty())
}

/// The directory of mailbox `name` under the account root.
pub fn path(root: &Path, name: &str) -> PathBuf {
    if is_inbox(name) {
        root.to_path_buf()
    } else {
        root.join(format!(".{name}"))
    }
}

/// Whether mailbox `name` exists (INBOX always does).
pub fn exists(root: &Path, name: &str) -> bool {
    is_inbox(name) || (valid_name(name) && path(root, name).is_dir())
}

/// One listable name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub name: String,
    /// Has its own directory (selectable).
    pub exists: bool,
    pub children: bool,
}

/// The folder directories (directory order).
fn folder_dirs(root: &Path) -> io::Result<Vec<String>> {
    let mut v = Vec::new();
    for e in fs::read_dir(root)? {
        let e = e?;
        let Ok(n) = e.file_name().into_string() else {
            continue;
        };
        let Some(name) = n.strip_prefix('.') else {
            continue;
        };
        if !valid_name(name) || is_inbox(name) || !e.path().is_dir() {
            continue;
        }
        v.push(name.to_string());
    }
    Ok(v)
}

/// Where a mailbox sorts among its siblings; LIST shows the highest
/// first. Dovecot lists from its list index, whose sibling lists are
/// newest-node-first: a mailbox found in the directory at the first
/// scan, created, or renamed is put in front. We have no list index, so
/// we rebuild that order from what the files keep: UIDVALIDITY grows
/// with each mailbox Dovecot (or we) created or first opened, in the
/// order Dovecot's scan met them; a folder nobody opened yet (no
/// `dovecot-uidlist`) is newer than all of those, reverse-alphabetical
/// standing in for the recording machine's reverse directory order; a
/// CREATE or RENAME in this session puts the mailbox in front of all
/// (for a rename: only for the session that made it, Dovecot keeps that
/// in its list index; a creation's UIDVALIDITY keeps it in front).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Rank {
    /// The UIDVALIDITY in its `dovecot-uidlist`.
    Known(u32),
    /// No uidlist yet.
    Unopened(String),
    /// Created or renamed in this session (higher = later).
    Session(usize),
}

/// The UIDVALIDITY from the header of `dir`'s `dovecot-uidlist`.
pub fn uid_validity(dir: &Path) -> Option<u32> {
    let data = fs::read(dir.join("dovecot-uidlist")).ok()?;
    let head = data.split(|&b| b == b'\n').next()?;
    let head = std::str::from_utf8(head).ok()?;
    let mut words = head.split(' ');
    match words.next()? {
        "3" => words.find_map(|w| w.strip_prefix('V')?.parse().ok()),
        "1" => words.next()?.parse().ok(),
        _ => None,
    }
}

/// What a session remembers that Dovecot's list index would: mailboxes
/// created or renamed (in that order; a rename's children moved with it)
/// and mailboxes deleted while they had children, which Dovecot's index
/// goes on listing until its next refresh.
#[derive(Debug, Clone, Default)]
pub struct ListState {
    /// (name, children included).
    pub added: Vec<(String, bool)>,
    pub ghosts: Vec<(String, Rank)>,
}

impl ListState {
    /// The rank of an existing folder directory.
    pub fn rank(&self, root: &Path, name: &str) -> Rank {
        let under = |(r, tree): &(String, bool)| {
            name == r
                || (*tree
                    && name
                        .strip_prefix(r.as_str())
                        .is_some_and(|x| x.starts_with('.')))
        };
        if let Some(k) = self.added.iter().rposition(under) {
            return Rank::Session(k);
        }
        match uid_validity(&path(root, name)) {
            Some(v) => Rank::Known(v),
            None => Rank::Unopened(name.to_string()),
        }
    }

    /// A rename to `to` happened.
    pub fn renamed(&mut self, to: &str) {
        self.added.push((to.to_string(), true));
    }

    /// `name` was created.
    pub fn created(&mut self, name: &str) {
        self.added.push((name.to_string(), false));
    }
}

/// Every mailbox and implied parent in Dovecot's order (see [`Rank`]):
/// each node before its children, siblings highest rank first, a node
/// ranked by the oldest of itself and its descendants (Dovecot adds a
/// parent node with its first child), INBOX last.
pub fn all(root: &Path, state: &ListState) -> io::Result<Vec<Entry>> {
    let dirs = folder_dirs(root)?;
    let mut ranks: Vec<(String, Rank)> = dirs
        .iter()
        .map(|d| (d.clone(), state.rank(root, d)))
        .collect();
    for (g, r) in &state.ghosts {
        if !ranks.iter().any(|(n, _)| n == g) {
            ranks.push((g.clone(), r.clone()));
        }
    }
    let mut names: Vec<String> = Vec::new();
    for (d, _) in &ranks {
        let parts: Vec<&str> = d.split('.').collect();
        for k in 1..=parts.len() {
            let n = parts[..k].join(".");
            if !names.contains(&n) {
                names.push(n);
            }
        }
    }
    let is_under = |c: &str, n: &str| c.strip_prefix(n).is_some_and(|r| r.starts_with('.'));
    let node_rank = |n: &str| {
        ranks
            .iter()
            .filter(|(d, _)| d == n || is_under(d, n))
            .map(|(_, r)| r)
            .min()
            .cloned()
    };
    fn place(
        parent: Option<&str>,
        names: &[String],
        rank: &dyn Fn(&str) -> Option<Rank>,
        out: &mut Vec<String>,
    ) {
        let mut kids: Vec<&String> = names
            .iter()
            .filter(|c| match parent {
                None => !c.contains('.'),
                Some(p) => c
                    .strip_prefix(p)
                    .and_then(|r| r.strip_prefix('.'))
                    .is_some_and(|r| !r.contains('.')),
            })
            .collect();
        kids.sort_by_key(|k| std::cmp::Reverse(rank(k)));
        for k in kids {
            out.push(k.clone());
            place(Some(k), names, rank, out);
        }
    }
    let mut ordered: Vec<String> = Vec::new();
    place(None, &names, &node_rank, &mut ordered);
    let mut out: Vec<Entry> = ordered
        .iter()
        .map(|n| Entry {
            name: n.clone(),
            exists: ranks.iter().any(|(d, _)| d == n),
            children: names.iter().any(|c| is_under(c, n)),
        })
        .collect();
    out.push(Entry {
        name: "INBOX".into(),
        exists: true,
        children: false,
    });
    Ok(out)
}

/// IMAP LIST wildcard match: `*` anything, `%` anything but `.`; INBOX
/// case-insensitively.
pub fn matches(pattern: &str, name: &str) -> bool {
    if is_inbox(name) {
        let p = pattern.as_bytes();
        if p.len() >= 5 && p[..5].eq_ignore_ascii_case(b"INBOX") {
            return wild(&p[5..], &name.as_bytes()[5..]);
        }
    }
    wild(pattern.as_bytes(), name.as_bytes())
}

fn wild(p: &[u8], n: &[u8]) -> bool {
    match p.first() {
        None => n.is_empty(),
        Some(b'*') => (0..=n.len()).any(|i| wild(&p[1..], &n[i..])),
        Some(b'%') => {
            let stop = n.iter().position(|&c| c == b'.').unwrap_or(n.len());
            (0..=stop).any(|i| wild(&p[1..], &n[i..]))
        }
        Some(&c) => n.first() == Some(&c) && wild(&p[1..], &n[1..]),
    }
}

/// A name as an IMAP astring: an atom when possible, else quoted.
pub fn quote(name: &str) -> String {
    let atom = !name.is_empty()
        && name.bytes().all(|b| {
            b > b' ' && b < 0x7f && !matches!(b, b'(' | b')' | b'{' | b'"' | b'\\' | b'%' | b'*')
        });
    if atom {
        name.to_string()
    } else {
        let mut s = String::from("\"");
        for c in name.chars() {
            if c == '"' || c == '\\' {
                s.push('\\');
            }
            s.push(c);
        }
        s.push('"');
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns() {
        assert!(matches("*", "Archive.2023"));
        assert!(!matches("%", "Archive.2023"));
        assert!(matches("Archive.%", "Archive.2023"));
        assert!(matches("*2023", "Archive.2023"));
        assert!(matches("inbox", "INBOX"));
        assert!(!matches("NoSuch*", "INBOX"));
    }

    #[test]
    fn mutf7() {
        assert!(valid_mutf7("Entw&APw-rfe"));
        assert!(!valid_mutf7("Bad&Name"));
        assert!(valid_mutf7("A&-B"));
    }
}
