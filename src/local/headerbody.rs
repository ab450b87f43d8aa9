//! qmail's `headerbody`: split a message read line by line into header
//! fields (continuation lines joined, a leading `From ` line turned into
//! `MBOX-Line: ...`) and body lines, as qbiff, qreceipt and maildirwatch
//! read their input (netqmail `headerbody.c`).
//!
//! The header ends at an empty line (handed to the body) or at the first
//! line that is not a valid field (the body then starts with an LF, then
//! that line). An unterminated last line gets an LF.

use std::io::{self, BufRead};

use crate::inject::header::{self, Lines};

/// What a reader does with the parts of a message.
pub trait Parts {
    /// One header field, with its LF and continuation lines.
    fn field(&mut self, h: &[u8]);
    /// The end of the header.
    fn done(&mut self);
    /// One body line, with its LF.
    fn body(&mut self, line: &[u8]);
}

/// Run `parts` over `input`.
pub fn headerbody(input: &mut dyn BufRead, parts: &mut dyn Parts) -> io::Result<()> {
    let mut lines = Lines::new(input);
    let mut line: Option<Vec<u8>> = None;
    loop {
        let Some(next) = lines.next_line()? else {
            if let Some(l) = line.take() {
                parts.field(&l);
            }
            parts.done();
            return Ok(());
        };
        if let Some(mut l) = line.take() {
            if next[0] == b' ' || next[0] == b'\t' {
                l.extend_from_slice(&next);
                line = Some(l);
                continue;
            }
            parts.field(&l);
        }
        if next == b"\n" {
            parts.done();
            parts.body(&next);
            break;
        }
        if next.starts_with(b"From ") {
            line = Some([&b"MBOX-Line: "[..], &next].concat());
        } else if header::valid(&next) {
            line = Some(next);
        } else {
            parts.done();
            parts.body(b"\n");
            parts.body(&next);
            break;
        }
    }
    while let Some(next) = lines.next_line()? {
        parts.body(&next);
    }
    Ok(())
}

/// `hfield_skipname`: the offset of a field's value (past the colon and
/// any blanks, CR or LF).
pub fn skipname(h: &[u8]) -> usize {
    let mut i = h.iter().position(|&b| b == b':').map_or(h.len(), |i| i + 1);
    while i < h.len() && matches!(h[i], b'\t' | b'\n' | b'\r' | b' ') {
        i += 1;
    }
    i
}

/// Replace bytes outside 32..=126 with `with`.
pub fn printable(s: &mut [u8], with: u8) {
    for b in s {
        if !(32..=126).contains(b) {
            *b = with;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Default)]
    struct Rec(Vec<String>);
    impl Parts for Rec {
        fn field(&mut self, h: &[u8]) {
            self.0.push(format!("F{}", String::from_utf8_lossy(h)));
        }
        fn done(&mut self) {
            self.0.push("D".into());
        }
        fn body(&mut self, l: &[u8]) {
            self.0.push(format!("B{}", String::from_utf8_lossy(l)));
        }
    }

    fn run(s: &str) -> Vec<String> {
        let mut r = Rec::default();
        headerbody(&mut s.as_bytes(), &mut r).unwrap();
        r.0
    }

    #[test]
    fn splits() {
        assert_eq!(
            run("From x\nA: 1\n 2\nB: 3\n\nbody\nend"),
            [
                "FMBOX-Line: From x\n",
                "FA: 1\n 2\n",
                "FB: 3\n",
                "D",
                "B\n",
                "Bbody\n",
                "Bend\n"
            ]
        );
        assert_eq!(
            run("A: 1\nnot a field\nx\n"),
            ["FA: 1\n", "D", "B\n", "Bnot a field\n", "Bx\n"]
        );
        assert_eq!(run("A: 1"), ["FA: 1\n", "D"]);
        assert_eq!(run(""), ["D"]);
        assert_eq!(skipname(b"Subject: \t hi\n"), 11);
        assert_eq!(skipname(b"Subject:\n"), 9);
    }
}
