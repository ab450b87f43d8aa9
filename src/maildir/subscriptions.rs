//! `subscriptions` of a Maildir++ account (`shared/spec/dovecot/maildir.md`
//! §6; `subscription-file.c`). A format module.
//!
//! ```text
//! v2   = "V" TAB "2" LF LF *( name LF )   ; hierarchy separator = TAB,
//!                                          ; 0x01 TAB CR LF escaped as
//!                                          ; 0x01 then "1" "t" "r" "n"
//! v1   = *( name LF )                      ; separator "." kept
//! ```
//!
//! Names are held in IMAP form (separator `.`, modified UTF-7); `INBOX`
//! in any case is written upper-case; a trailing separator is stripped.

/// The file's version, kept on rewrite.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    V1,
    V2,
}

/// The subscribed names, in subscription order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscriptions {
    pub version: Version,
    pub names: Vec<String>,
}

impl Default for Subscriptions {
    fn default() -> Self {
        Subscriptions {
            version: Version::V2,
            names: Vec::new(),
        }
    }
}

const HEADER: &[u8] = b"V\t2\n\n";

fn normalise(name: &str) -> Option<String> {
    let name = name.strip_suffix('.').unwrap_or(name);
    if name.is_empty() {
        return None;
    }
    if name.eq_ignore_ascii_case("INBOX") {
        return Some("INBOX".into());
    }
    Some(name.to_string())
}

fn unescape(component: &str) -> String {
    let mut out = String::with_capacity(component.len());
    let mut it = component.chars();
    while let Some(c) = it.next() {
        if c != '\u{1}' {
            out.push(c);
            continue;
        }
        match it.next() {
            Some('1') => out.push('\u{1}'),
            Some('t') => out.push('\t'),
            Some('r') => out.push('\r'),
            Some('n') => out.push('\n'),
            Some(o) => out.push(o),
            None => {}
        }
    }
    out
}

fn escape(component: &str, out: &mut String) {
    for c in component.chars() {
        match c {
            '\u{1}' => out.push_str("\u{1}1"),
            '\t' => out.push_str("\u{1}t"),
            '\r' => out.push_str("\u{1}r"),
            '\n' => out.push_str("\u{1}n"),
            c => out.push(c),
        }
    }
}

impl Subscriptions {
    /// Add `name` at the end (no duplicate).
    pub fn subscribe(&mut self, name: &str) {
        if let Some(n) = normalise(name) {
            if !self.names.contains(&n) {
                self.names.push(n);
            }
        }
    }

    /// Remove `name`; unknown names are fine.
    pub fn unsubscribe(&mut self, name: &str) {
        if let Some(n) = normalise(name) {
            self.names.retain(|x| *x != n);
        }
    }
}

/// Parse the file; bad lines are dropped.
pub fn parse(data: &[u8]) -> Subscriptions {
    let (version, body) = match data.strip_prefix(HEADER) {
        Some(rest) => (Version::V2, rest),
        None => (Version::V1, data),
    };
    let text = String::from_utf8_lossy(body);
    let mut s = Subscriptions {
        version,
        names: Vec::new(),
    };
    for line in text.split('\n').filter(|l| !l.is_empty()) {
        let name = match version {
            Version::V1 => line.to_string(),
            Version::V2 => line.split('\t').map(unescape).collect::<Vec<_>>().join("."),
        };
        s.subscribe(&name);
    }
    s
}

/// Write the file in its version.
pub fn write(s: &Subscriptions, out: &mut Vec<u8>) {
    if s.version == Version::V2 {
        out.extend_from_slice(HEADER);
    }
    for name in &s.names {
        let mut line = String::new();
        match s.version {
            Version::V1 => line.push_str(name),
            Version::V2 => {
                for (i, c) in name.split('.').enumerate() {
                    if i > 0 {
                        line.push('\t');
                    }
                    escape(c, &mut line);
                }
            }
        }
        out.extend_from_slice(line.as_bytes());
        out.push(b'\n');
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const ALICE: &[u8] =
        include_bytes!("../../testdata/dovecot/alice/07-after-mailbox-management/subscriptions");

    #[test]
    fn recorded_file() {
        let s = parse(ALICE);
        assert_eq!(
            s.names,
            ["Projects", "Projects.2024", "Sent", "Entw&APw-rfe", "INBOX"]
        );
        let mut out = Vec::new();
        write(&s, &mut out);
        assert_eq!(out, ALICE);
    }

    #[test]
    fn version_1_and_edits() {
        let mut s = parse(b"inbox\nA.B.\n\n");
        assert_eq!(s.version, Version::V1);
        assert_eq!(s.names, ["INBOX", "A.B"]);
        s.subscribe("C");
        s.unsubscribe("A.B");
        s.unsubscribe("nothing");
        let mut out = Vec::new();
        write(&s, &mut out);
        assert_eq!(out, b"INBOX\nC\n");
    }

    proptest! {
        #[test]
        fn round_trip(names in proptest::collection::vec("[a-zA-Z0-9&\\-\u{1}\t]{1,6}(\\.[a-zA-Z0-9]{1,5}){0,2}", 0..6)) {
            let mut s = Subscriptions::default();
            for n in &names { s.subscribe(n); }
            let mut out = Vec::new();
            write(&s, &mut out);
            prop_assert_eq!(parse(&out), s);
        }

        #[test]
        fn any_bytes(data in proptest::collection::vec(any::<u8>(), 0..100)) {
            let _ = parse(&data);
        }
    }
}
