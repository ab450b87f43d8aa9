//! The DATA byte stream (`blast()`; `shared/spec/qmail/smtpd.md` §10.1).
//!
//! ```text
//! data     = *line "." CR LF
//! line     = [ "." ] *( byte but LF / CR not before LF ) CR LF
//! ```
//!
//! CR LF is stored as LF; a leading dot is removed; a bare LF anywhere
//! is refused (`451 See http://pobox.com/~djb/docs/smtplf.html.`), which
//! closes the smuggling paths (`\n.\n`, `\n.\r\n`, `\r\n.\n`). Hops
//! (`received`/`delivered` lines in the header) are counted on the way.

/// Most hops before a message is refused as looping.
pub const MAX_HOPS: u32 = 100;

/// How a chunk of input ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// The terminating `.` CR LF was read.
    Done,
    /// A bare LF: the session must refuse and hang up.
    StrayNewline,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Inside a line.
    Text,
    /// At the start of a line (after CR LF).
    LineStart,
    /// After CR LF ".".
    Dot,
    /// After CR LF "." CR.
    DotCr,
    /// After a CR.
    Cr,
}

/// The decoder; [`Self::feed`] it the bytes after `354`.
#[derive(Debug, Clone)]
pub struct DataDecoder {
    state: State,
    in_header: bool,
    pos: usize,
    maybe_received: bool,
    maybe_crlf: bool,
    maybe_delivered: bool,
    /// Hop lines seen in the header.
    pub hops: u32,
}

impl Default for DataDecoder {
    fn default() -> Self {
        DataDecoder {
            state: State::LineStart,
            in_header: true,
            pos: 0,
            maybe_received: true,
            maybe_crlf: true,
            maybe_delivered: true,
            hops: 0,
        }
    }
}

impl DataDecoder {
    fn count_hops(&mut self, ch: u8) {
        if !self.in_header {
            return;
        }
        let p = self.pos;
        if p < 9 {
            if !ch.eq_ignore_ascii_case(&b"delivered"[p]) {
                self.maybe_delivered = false;
            }
            if self.maybe_delivered && p == 8 {
                self.hops += 1;
            }
            if p < 8 {
                if !ch.eq_ignore_ascii_case(&b"received"[p]) {
                    self.maybe_received = false;
                }
                if self.maybe_received && p == 7 {
                    self.hops += 1;
                }
            }
            if p < 2 {
                if ch != b"\r\n"[p] {
                    self.maybe_crlf = false;
                }
                if self.maybe_crlf && p == 1 {
                    self.in_header = false;
                }
            }
            self.pos += 1;
        }
        if ch == b'\n' {
            self.pos = 0;
            self.maybe_received = true;
            self.maybe_crlf = true;
            self.maybe_delivered = true;
        }
    }

    /// Decode `input`, appending message bytes to `out`. Returns how many
    /// input bytes were used and, if the data ended, how.
    pub fn feed(&mut self, input: &[u8], out: &mut Vec<u8>) -> (usize, Option<End>) {
        for (i, &ch) in input.iter().enumerate() {
            self.count_hops(ch);
            let put = match self.state {
                State::Text => match ch {
                    b'\n' => return (i + 1, Some(End::StrayNewline)),
                    b'\r' => {
                        self.state = State::Cr;
                        false
                    }
                    _ => true,
                },
                State::LineStart => match ch {
                    b'\n' => return (i + 1, Some(End::StrayNewline)),
                    b'.' => {
                        self.state = State::Dot;
                        false
                    }
                    b'\r' => {
                        self.state = State::Cr;
                        false
                    }
                    _ => {
                        self.state = State::Text;
                        true
                    }
                },
                State::Dot => match ch {
                    b'\n' => return (i + 1, Some(End::StrayNewline)),
                    b'\r' => {
                        self.state = State::DotCr;
                        false
                    }
                    _ => {
                        self.state = State::Text;
                        true
                    }
                },
                State::DotCr => {
                    if ch == b'\n' {
                        return (i + 1, Some(End::Done));
                    }
                    out.extend_from_slice(b".\r");
                    if ch == b'\r' {
                        self.state = State::Cr;
                        false
                    } else {
                        self.state = State::Text;
                        true
                    }
                }
                State::Cr => {
                    if ch == b'\n' {
                        self.state = State::LineStart;
                        true
                    } else if ch != b'\r' {
                        out.push(b'\r');
                        self.state = State::Text;
                        true
                    } else {
                        // CR CR: the first CR is kept, the second waits.
                        out.push(b'\r');
                        false
                    }
                }
            };
            if put {
                out.push(ch);
            }
        }
        (input.len(), None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn run(input: &[u8]) -> (Vec<u8>, Option<End>, u32) {
        let mut d = DataDecoder::default();
        let mut out = Vec::new();
        let (_, end) = d.feed(input, &mut out);
        (out, end, d.hops)
    }

    #[test]
    fn decoding() {
        let (o, e, _) = run(b"Subject: x\r\n\r\n..dot\r\nline\rwith bare CR\r\n.\r\n");
        assert_eq!(o, b"Subject: x\n\n.dot\nline\rwith bare CR\n");
        assert_eq!(e, Some(End::Done));
        assert_eq!(run(b"a\nb\r\n.\r\n").1, Some(End::StrayNewline));
        assert_eq!(run(b"a\r\n.\n").1, Some(End::StrayNewline));
        assert_eq!(run(b"a\r\n\n").1, Some(End::StrayNewline));
        assert_eq!(run(b".\r\n").0, b"");
        assert_eq!(run(b".x\r\n.\r\n").0, b"x\n");
        assert_eq!(run(b".\rx\r\n.\r\n").0, b".\rx\n");
        assert_eq!(run(b"a\r\r\n.\r\n").0, b"a\r\n");
        assert_eq!(run(b"a\r\r\r\n.\r\n").0, b"a\r\r\n");
        assert_eq!(run(b"a\r\n.\r\r\n.\r\n").0, b"a\n.\r\n");
        assert_eq!(run(b"a\r\n.").1, None);
    }

    #[test]
    fn hops_in_header_only() {
        let (_, _, h) =
            run(b"Received: x\r\nDELIVERED-to: y\r\nreceivedx\r\n\r\nReceived: body\r\n.\r\n");
        assert_eq!(h, 3);
    }

    proptest! {
        #[test]
        fn chunking_does_not_matter(input in proptest::collection::vec(prop_oneof![Just(b'\r'), Just(b'\n'), Just(b'.'), Just(b'a')], 0..60), cut in 0usize..60) {
            let whole = run(&input);
            let cut = cut.min(input.len());
            let mut d = DataDecoder::default();
            let mut out = Vec::new();
            let (used, mut end) = d.feed(&input[..cut], &mut out);
            if end.is_none() {
                assert_eq!(used, cut);
                end = d.feed(&input[cut..], &mut out).1;
            }
            prop_assert_eq!((out, end, d.hops), whole);
        }
    }
}
