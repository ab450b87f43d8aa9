//! The `.qmail` file format (`shared/spec/qmail/local.md` §2.3–§2.5),
//! as netqmail 1.06's qmail-local reads it.
//!
//! ```text
//! file        = *line            ; a final LF is added if missing
//! line        = *byte LF          ; trailing SP/TAB are not significant
//! comment     = "#" *byte
//! file-dlv    = ("." / "/") *byte ; maildir if it ends with "/", else mbox
//! program     = "|" *byte         ; handed to /bin/sh -c
//! plus        = "+" *byte         ; "+list" switches on forward-only
//! forward     = "&" *byte / other *byte
//! ```
//!
//! A blank **first** line is an error; blank lines elsewhere are ignored.
//! Each parsed line keeps its raw bytes, so [`write`] reproduces the file
//! byte for byte (unknown `+` lines and comments included).
//!
//! The file-name search order (§2.3) is here too: it is a pure function of
//! DASH and the safe extension.

use std::fmt;

/// What one `.qmail` line asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Instruction {
    /// An empty line (after trailing-space removal) that is not the first.
    Blank,
    /// `#...`
    Comment,
    /// `./path` or `/path` not ending in `/`.
    Mbox(Vec<u8>),
    /// `./path/` or `/path/`.
    Maildir(Vec<u8>),
    /// `|command` (the command without the bar).
    Program(Vec<u8>),
    /// `&addr` or a bare address.
    Forward(Vec<u8>),
    /// `+list`: the following lines are forward-only.
    List,
    /// Any other `+` line: ignored by qmail-local, kept verbatim.
    Unknown,
}

/// One line: its raw bytes (without LF) and its meaning.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub raw: Vec<u8>,
    pub instruction: Instruction,
}

/// A parsed `.qmail` file.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DotQmail {
    pub lines: Vec<Line>,
    /// Whether the last line had its LF (qmail-local adds one if not).
    pub final_lf: bool,
}

/// Why a `.qmail` file is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FormatError {
    /// The first line is empty after trailing-space removal.
    FirstLineBlank,
}

impl fmt::Display for FormatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FormatError::FirstLineBlank => f.write_str("first line of .qmail file is blank"),
        }
    }
}

/// The bytes qmail-local keeps of a line: up to the first NUL (C strings),
/// with trailing spaces and tabs removed.
fn significant(raw: &[u8]) -> &[u8] {
    let raw = raw.split(|&b| b == 0).next().unwrap_or(raw);
    let mut end = raw.len();
    while end > 0 && (raw[end - 1] == b' ' || raw[end - 1] == b'\t') {
        end -= 1;
    }
    &raw[..end]
}

/// `line`: classify one line (without its LF).
pub fn classify(raw: &[u8]) -> Instruction {
    // Trailing blanks go first, then the C string ends at a NUL.
    let mut end = raw.len();
    while end > 0 && (raw[end - 1] == b' ' || raw[end - 1] == b'\t') {
        end -= 1;
    }
    let trimmed = &raw[..end];
    let s = significant(trimmed);
    match trimmed.first() {
        None | Some(0) => Instruction::Blank,
        Some(b'#') => Instruction::Comment,
        // The maildir test looks at the last byte before trailing blanks,
        // even past a NUL.
        Some(b'.') | Some(b'/') if trimmed.last() == Some(&b'/') => {
            Instruction::Maildir(s.to_vec())
        }
        Some(b'.') | Some(b'/') => Instruction::Mbox(s.to_vec()),
        Some(b'|') => Instruction::Program(s[1..].to_vec()),
        Some(b'+') if s == b"+list" => Instruction::List,
        Some(b'+') => Instruction::Unknown,
        Some(b'&') => Instruction::Forward(s[1..].to_vec()),
        Some(_) => Instruction::Forward(s.to_vec()),
    }
}

/// `file`: parse a whole `.qmail` file. An empty input is an empty list
/// (the caller then uses the default delivery).
pub fn parse(input: &[u8]) -> Result<DotQmail, FormatError> {
    let mut out = DotQmail {
        lines: Vec::new(),
        final_lf: input.last() == Some(&b'\n'),
    };
    if input.is_empty() {
        out.final_lf = true;
        return Ok(out);
    }
    let body = if out.final_lf {
        &input[..input.len() - 1]
    } else {
        input
    };
    for (n, raw) in body.split(|&b| b == b'\n').enumerate() {
        let instruction = classify(raw);
        if n == 0 && instruction == Instruction::Blank {
            return Err(FormatError::FirstLineBlank);
        }
        out.lines.push(Line {
            raw: raw.to_vec(),
            instruction,
        });
    }
    Ok(out)
}

/// Write the file back, byte for byte as parsed.
pub fn write(q: &DotQmail, out: &mut Vec<u8>) {
    for (i, l) in q.lines.iter().enumerate() {
        out.extend_from_slice(&l.raw);
        if i + 1 < q.lines.len() || q.final_lf {
            out.push(b'\n');
        }
    }
}

/// SAFEEXT: the extension lowercased with `.` turned into `:`.
pub fn safe_ext(ext: &[u8]) -> Vec<u8> {
    ext.iter()
        .map(|&b| match b {
            b'.' => b':',
            b => b.to_ascii_lowercase(),
        })
        .collect()
}

/// A candidate file name and, if it is a `default` name, the offset in the
/// extension where `$DEFAULT` starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub name: Vec<u8>,
    pub default_at: Option<usize>,
}

/// The names qmail-local tries, in order (`local.md` §2.3).
pub fn candidates(dash: &[u8], safeext: &[u8]) -> Vec<Candidate> {
    let mut out = Vec::new();
    let mut exact = b".qmail".to_vec();
    exact.extend_from_slice(dash);
    exact.extend_from_slice(safeext);
    let default_at =
        (safeext.len() >= 7 && safeext.ends_with(b"default")).then(|| safeext.len() - 7);
    out.push(Candidate {
        name: exact,
        default_at,
    });
    for i in (0..=safeext.len()).rev() {
        if i == 0 || safeext[i - 1] == b'-' {
            let mut name = b".qmail".to_vec();
            name.extend_from_slice(dash);
            name.extend_from_slice(&safeext[..i]);
            name.extend_from_slice(b"default");
            out.push(Candidate {
                name,
                default_at: Some(i),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests;
