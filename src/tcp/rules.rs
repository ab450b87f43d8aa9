//! tcprules source format and rules.cdb records (ucspi-tcp 0.88 `tcprules.c`,
//! `rules.c`, and the IPv6 variant; `shared/spec/qmail/cdb.md` §6).
//!
//! ```text
//! input        = *line
//! line         = comment / rule / other        ; "other" (no colon) is skipped
//! comment      = "#" *BYTE LF
//! rule         = address ":" action *assignment *(SP / HTAB) LF
//! action       = "allow" / "deny"
//! assignment   = "," name "=" q value q        ; q is any byte, repeated
//! address      = *BYTE   ; "1.2.3.4", "1.2.3.", "1.2.3.40-50", "=host",
//!                        ; "=.domain", "=", "", "info@...", "::1", "fd00:"
//! ```
//!
//! A record's key is the address (a range `a-b` in the last dotted part
//! before the next dot is expanded into one key per number, capped at 255;
//! addresses holding `=` or `@` are never expanded). Its data is `D\0` for
//! deny (nothing for allow), then `+NAME=VALUE\0` for each assignment.
//!
//! The address ends at the first colon followed by `allow` or `deny`, so
//! IPv6 addresses can be written as they are (`::1:allow`), as the IPv6
//! variant does; when no colon is followed by an action the first colon
//! ends it, as in 0.88 (and the line is then refused). A line without any
//! colon is skipped, as 0.88 does (the IPv6 variant loops forever there).

use std::borrow::Cow;
use std::fmt;

use crate::cdb::{CdbError, Lookup};

/// A line tcprules refuses (`unable to parse this line`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadLine(pub Vec<u8>);

impl BadLine {
    /// The line as tcprules prints it: trailing blanks removed, cut at the
    /// first NUL (it is printed as a C string).
    pub fn shown(&self) -> &[u8] {
        let end = self.0.iter().position(|&b| b == 0).unwrap_or(self.0.len());
        &self.0[..end]
    }
}

impl fmt::Display for BadLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unable to parse this line: {}",
            String::from_utf8_lossy(self.shown())
        )
    }
}

impl std::error::Error for BadLine {}

/// What a rule tells tcpserver to do.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Instructions {
    /// `deny`: drop the connection.
    pub deny: bool,
    /// `,NAME="VALUE"` assignments in order.
    pub env: Vec<(Vec<u8>, Vec<u8>)>,
}

impl Instructions {
    /// The record data tcprules writes.
    pub fn encode(&self, out: &mut Vec<u8>) {
        if self.deny {
            out.extend_from_slice(b"D\0");
        }
        for (name, value) in &self.env {
            out.push(b'+');
            out.extend_from_slice(name);
            out.push(b'=');
            out.extend_from_slice(value);
            out.push(0);
        }
    }

    /// Read record data as tcpserver does: NUL-terminated entries, `D`
    /// denies, `+NAME=VALUE` sets a variable (an entry without `=`, and
    /// bytes after the last NUL, are ignored).
    pub fn decode(data: &[u8]) -> Instructions {
        let mut ins = Instructions::default();
        for entry in entries(data) {
            match entry.first() {
                Some(b'D') => ins.deny = true,
                Some(b'+') => {
                    let rest = &entry[1..];
                    if let Some(eq) = rest.iter().position(|&b| b == b'=') {
                        ins.env.push((rest[..eq].to_vec(), rest[eq + 1..].to_vec()));
                    }
                }
                _ => {}
            }
        }
        ins
    }
}

/// The NUL-terminated entries of record data (an unterminated tail is not
/// an entry).
pub fn entries(data: &[u8]) -> impl Iterator<Item = &[u8]> {
    let complete = data.iter().rposition(|&b| b == 0).map_or(0, |p| p + 1);
    data[..complete]
        .split(|&b| b == 0)
        .take(data[..complete].iter().filter(|&&b| b == 0).count())
}

/// One rules.cdb record: key and data.
pub type Record = (Vec<u8>, Vec<u8>);

/// The rule a lookup found: its key and its data.
pub type Found<'a> = (Vec<u8>, Cow<'a, [u8]>);

/// One source rule before range expansion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// The address text, as written.
    pub address: Vec<u8>,
    /// allow/deny and assignments.
    pub instructions: Instructions,
}

fn starts_action(rest: &[u8]) -> bool {
    rest.starts_with(b"deny") || rest.starts_with(b"allow")
}

/// `line`: parse one input line (without its LF). `Ok(None)` for lines
/// tcprules skips: comments, empty lines, lines without a colon.
pub fn parse_line(raw: &[u8]) -> Result<Option<Rule>, BadLine> {
    if raw.is_empty() || raw[0] == b'#' || raw[0] == b'\n' {
        return Ok(None);
    }
    let mut len = raw.len();
    while len > 0 && matches!(raw[len - 1], b'\n' | b' ' | b'\t') {
        len -= 1;
    }
    let line = &raw[..len];
    let bad = || BadLine(line.to_vec());
    let colon = match line
        .iter()
        .enumerate()
        .position(|(i, &b)| b == b':' && starts_action(&line[i + 1..]))
        .or_else(|| line.iter().position(|&b| b == b':'))
    {
        Some(c) => c,
        None => return Ok(None),
    };
    let address = line[..colon].to_vec();
    let mut x = &line[colon + 1..];
    let mut ins = Instructions::default();
    if let Some(rest) = x.strip_prefix(b"deny") {
        ins.deny = true;
        x = rest;
    } else if let Some(rest) = x.strip_prefix(b"allow") {
        x = rest;
    } else {
        return Err(bad());
    }
    // assignment = "," name "=" q value q
    while !x.is_empty() {
        if x[0] != b',' {
            return Err(bad());
        }
        let eq = x.iter().position(|&b| b == b'=').ok_or_else(bad)?;
        let name = x[1..eq].to_vec();
        x = &x[eq + 1..];
        let (&quote, rest) = x.split_first().ok_or_else(bad)?;
        let end = rest.iter().position(|&b| b == quote).ok_or_else(bad)?;
        ins.env.push((name, rest[..end].to_vec()));
        x = &rest[end + 1..];
    }
    Ok(Some(Rule {
        address,
        instructions: ins,
    }))
}

/// `scan_ulong` on the whole field: digits only (empty is 0), wrapping.
fn number(field: &[u8], line: &[u8]) -> Result<u64, BadLine> {
    if !field.iter().all(u8::is_ascii_digit) {
        return Err(BadLine(line.to_vec()));
    }
    Ok(field.iter().fold(0u64, |n, &d| {
        n.wrapping_mul(10).wrapping_add(u64::from(d - b'0'))
    }))
}

/// The keys an address stands for (`doaddressdata`): a range `bot-top`
/// between the dots around the first `-` is expanded; addresses with `=`
/// or `@` are taken literally.
pub fn expand_address(address: &[u8], line: &[u8]) -> Result<Vec<Vec<u8>>, BadLine> {
    let literal = || Ok(vec![address.to_vec()]);
    if address.contains(&b'=') || address.contains(&b'@') {
        return literal();
    }
    let Some(dash) = address.iter().position(|&b| b == b'-') else {
        return literal();
    };
    let left = address[..dash]
        .iter()
        .rposition(|&b| b == b'.')
        .map_or(0, |p| p + 1);
    let right = address[dash + 1..]
        .iter()
        .position(|&b| b == b'.')
        .map_or(address.len(), |p| dash + 1 + p);
    let bot = number(&address[left..dash], line)?;
    let top = number(&address[dash + 1..right], line)?.min(255);
    Ok((bot..=top)
        .map(|n| {
            let mut key = address[..left].to_vec();
            key.extend_from_slice(n.to_string().as_bytes());
            key.extend_from_slice(&address[right..]);
            key
        })
        .collect())
}

/// The whole of tcprules: source text to rules.cdb records, in order.
pub fn compile(input: &[u8]) -> Result<Vec<Record>, BadLine> {
    let mut out = Vec::new();
    for raw in lines(input) {
        let Some(rule) = parse_line(raw)? else {
            continue;
        };
        let mut data = Vec::new();
        rule.instructions.encode(&mut data);
        let stripped = strip(raw);
        for key in expand_address(&rule.address, stripped)? {
            out.push((key, data.clone()));
        }
    }
    Ok(out)
}

fn strip(raw: &[u8]) -> &[u8] {
    let mut len = raw.len();
    while len > 0 && matches!(raw[len - 1], b'\n' | b' ' | b'\t') {
        len -= 1;
    }
    &raw[..len]
}

/// Lines as `getln` returns them: LF-terminated, plus a final partial one.
fn lines(input: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = input;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let end = rest
            .iter()
            .position(|&b| b == b'\n')
            .map_or(rest.len(), |p| p + 1);
        let (line, tail) = rest.split_at(end);
        rest = tail;
        Some(line)
    })
}

/// The keys tcpserver tries for a connection, in order (`rules.c`):
/// `INFO@IP`, `INFO@=HOST`, `IP`, `=HOST`, the prefixes of IP ending in `.`
/// or `:` (longest first), `=` + each suffix of HOST starting with `.`
/// (longest first), `=`, and the empty key. The `INFO@` forms need INFO,
/// the `=` forms need HOST.
pub fn candidates(ip: &[u8], host: Option<&[u8]>, info: Option<&[u8]>) -> Vec<Vec<u8>> {
    let cat = |parts: &[&[u8]]| parts.concat();
    let mut keys = Vec::new();
    if let Some(info) = info {
        keys.push(cat(&[info, b"@", ip]));
        if let Some(host) = host {
            keys.push(cat(&[info, b"@=", host]));
        }
    }
    keys.push(ip.to_vec());
    if let Some(host) = host {
        keys.push(cat(&[b"=", host]));
    }
    for len in (1..=ip.len()).rev() {
        if matches!(ip[len - 1], b'.' | b':') {
            keys.push(ip[..len].to_vec());
        }
    }
    if let Some(host) = host {
        for (i, &b) in host.iter().enumerate() {
            if b == b'.' {
                keys.push(cat(&[b"=", &host[i..]]));
            }
        }
        keys.push(b"=".to_vec());
    }
    keys.push(Vec::new());
    keys
}

/// The first rule that applies: its key and data, or `None` (allow).
pub fn lookup<'a, L: Lookup>(
    db: &'a L,
    ip: &[u8],
    host: Option<&[u8]>,
    info: Option<&[u8]>,
) -> Result<Option<Found<'a>>, CdbError> {
    for key in candidates(ip, host, info) {
        if let Some(data) = db.lookup(&key)? {
            return Ok(Some((key, data)));
        }
    }
    Ok(None)
}

/// tcprulescheck's report for a lookup result.
pub fn check_report(found: Option<(&[u8], &[u8])>) -> Vec<u8> {
    let mut out = Vec::new();
    let Some((key, data)) = found else {
        out.extend_from_slice(b"default:\nallow connection\n");
        return out;
    };
    out.extend_from_slice(b"rule ");
    out.extend_from_slice(key);
    out.extend_from_slice(b":\n");
    for entry in entries(data) {
        match entry.first() {
            Some(b'D') => {
                out.extend_from_slice(b"deny connection\n");
                return out;
            }
            Some(b'+') => {
                out.extend_from_slice(b"set environment variable ");
                out.extend_from_slice(&entry[1..]);
                out.push(b'\n');
            }
            _ => {}
        }
    }
    out.extend_from_slice(b"allow connection\n");
    out
}

#[cfg(test)]
mod tests;
