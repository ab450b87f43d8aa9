//! The `cdbmake` text format (`cdb.md` §5.1), also what `cdbdump` prints:
//!
//! ```text
//! input  = *record LF
//! record = "+" klen "," dlen ":" key "->" data LF   ; klen, dlen decimal
//! ```
//!
//! Key and data are raw bytes and may hold anything, LF included.

use std::fmt;

/// Why a cdbmake input was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MakeError {
    /// The input ended before the closing empty line.
    Truncated,
    /// A byte other than the grammar's at this offset.
    Syntax(usize, &'static str),
    /// A length that does not fit.
    Overflow(usize),
}

impl fmt::Display for MakeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MakeError::Truncated => write!(f, "unexpected end of input"),
            MakeError::Syntax(at, what) => write!(f, "bad input at byte {at}: expected {what}"),
            MakeError::Overflow(at) => write!(f, "bad input at byte {at}: length too large"),
        }
    }
}

impl std::error::Error for MakeError {}

/// One record of cdbmake input.
pub type Record = (Vec<u8>, Vec<u8>);

struct Cursor<'a> {
    input: &'a [u8],
    pos: usize,
}

impl Cursor<'_> {
    fn byte(&mut self, want: u8, what: &'static str) -> Result<(), MakeError> {
        match self.input.get(self.pos) {
            None => Err(MakeError::Truncated),
            Some(&b) if b == want => {
                self.pos += 1;
                Ok(())
            }
            Some(_) => Err(MakeError::Syntax(self.pos, what)),
        }
    }

    /// `number = 1*DIGIT`
    fn number(&mut self) -> Result<usize, MakeError> {
        let start = self.pos;
        let mut n: usize = 0;
        while let Some(&b) = self.input.get(self.pos) {
            if !b.is_ascii_digit() {
                break;
            }
            n = n
                .checked_mul(10)
                .and_then(|n| n.checked_add(usize::from(b - b'0')))
                .filter(|&n| n <= u32::MAX as usize)
                .ok_or(MakeError::Overflow(start))?;
            self.pos += 1;
        }
        if self.pos == start {
            return match self.input.get(self.pos) {
                None => Err(MakeError::Truncated),
                Some(_) => Err(MakeError::Syntax(self.pos, "a decimal length")),
            };
        }
        Ok(n)
    }

    fn take(&mut self, n: usize) -> Result<Vec<u8>, MakeError> {
        let end = self.pos.checked_add(n).ok_or(MakeError::Truncated)?;
        let s = self.input.get(self.pos..end).ok_or(MakeError::Truncated)?;
        self.pos = end;
        Ok(s.to_vec())
    }
}

/// Parse cdbmake input: records up to the closing empty line. Bytes after
/// it are rejected.
pub fn parse(input: &[u8]) -> Result<Vec<Record>, MakeError> {
    let mut c = Cursor { input, pos: 0 };
    let mut out = Vec::new();
    loop {
        match input.get(c.pos) {
            None => return Err(MakeError::Truncated),
            Some(b'\n') => {
                c.pos += 1;
                break;
            }
            Some(_) => {}
        }
        c.byte(b'+', "'+' or the closing empty line")?;
        let klen = c.number()?;
        c.byte(b',', "','")?;
        let dlen = c.number()?;
        c.byte(b':', "':'")?;
        let key = c.take(klen)?;
        c.byte(b'-', "'->'")?;
        c.byte(b'>', "'->'")?;
        let data = c.take(dlen)?;
        c.byte(b'\n', "a newline after the data")?;
        out.push((key, data));
    }
    if c.pos != input.len() {
        return Err(MakeError::Syntax(
            c.pos,
            "end of input after the empty line",
        ));
    }
    Ok(out)
}

/// Write records in cdbmake/cdbdump form, closing empty line included.
pub fn write(records: &[Record], out: &mut Vec<u8>) {
    for (k, d) in records {
        out.extend_from_slice(format!("+{},{}:", k.len(), d.len()).as_bytes());
        out.extend_from_slice(k);
        out.extend_from_slice(b"->");
        out.extend_from_slice(d);
        out.push(b'\n');
    }
    out.push(b'\n');
}

/// `cdbmake-12` input (`cdb.md` §5.2): `KEY DATA` per line, `#` comments.
pub fn parse_12(input: &[u8]) -> Vec<Record> {
    input
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty() && l[0] != b'#')
        .filter_map(|line| {
            let mut fields = line
                .split(|b| *b == b' ' || *b == b'\t')
                .filter(|f| !f.is_empty());
            let key = fields.next()?.to_vec();
            let data = fields.next().unwrap_or_default().to_vec();
            Some((key, data))
        })
        .collect()
}
