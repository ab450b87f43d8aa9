//! A message as IMAP sees it: the file's bytes with every line end made
//! CRLF (Dovecot serves LF files as CRLF), split into header and body,
//! and the MIME tree (multipart children, message/rfc822 contents) as
//! offsets into that buffer, for BODY[section] and BODYSTRUCTURE. A
//! format module: bytes in, no file system.

/// The bytes with LF line ends turned into CRLF.
pub fn crlf(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + data.len() / 32);
    let mut prev = 0u8;
    for &b in data {
        if b == b'\n' && prev != b'\r' {
            out.push(b'\r');
        }
        out.push(b);
        prev = b;
    }
    out
}

/// One MIME entity: `[start, body)` is the header (with its blank line),
/// `[body, end)` the body.
#[derive(Debug, Clone, Default)]
pub struct Part {
    pub start: usize,
    pub body: usize,
    pub end: usize,
    /// Lower-cased type and subtype (default text/plain).
    pub ctype: String,
    pub subtype: String,
    /// Content-Type parameters, names lower-cased.
    pub params: Vec<(String, String)>,
    pub children: Vec<Part>,
    /// The encapsulated message of a message/rfc822 part.
    pub message: Option<Box<Part>>,
}

/// The header end: the offset after the blank line (or the end).
fn header_end(buf: &[u8], start: usize, end: usize) -> usize {
    let s = &buf[start..end];
    if s.starts_with(b"\r\n") {
        return start + 2;
    }
    match s.windows(4).position(|w| w == b"\r\n\r\n") {
        Some(i) => start + i + 4,
        None => end,
    }
}

/// Header fields `(name, raw value with folding)` of `header` bytes.
pub fn fields(header: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = Vec::new();
    for line in header.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            continue;
        }
        if line[0] == b' ' || line[0] == b'\t' {
            if let Some(last) = out.last_mut() {
                last.1.extend_from_slice(b"\r\n");
                last.1.extend_from_slice(line);
            }
            continue;
        }
        if let Some(c) = line.iter().position(|&b| b == b':') {
            let name = String::from_utf8_lossy(&line[..c]).trim().to_string();
            let v = &line[c + 1..];
            let v = v.strip_prefix(b" ").unwrap_or(v);
            out.push((name, v.to_vec()));
        }
    }
    out
}

/// The raw header lines of `header` whose names are (or with `not`, are
/// not) in `names`, each with its continuation lines.
pub fn header_lines(header: &[u8], names: &[String], not: bool) -> Vec<u8> {
    let mut out = Vec::new();
    let mut keep = false;
    for line in header.split_inclusive(|&b| b == b'\n') {
        if line == b"\r\n" || line == b"\n" {
            break;
        }
        if line[0] != b' ' && line[0] != b'\t' {
            let name = line
                .iter()
                .position(|&b| b == b':')
                .map(|c| String::from_utf8_lossy(&line[..c]).trim().to_string());
            keep = match name {
                Some(n) => names.iter().any(|x| x.eq_ignore_ascii_case(&n)) != not,
                None => false,
            };
        }
        if keep {
            out.extend_from_slice(line);
        }
    }
    out.extend_from_slice(b"\r\n");
    out
}

/// The first value of header `name` (unfolded: CRLF removed).
pub fn field(header: &[u8], name: &str) -> Option<Vec<u8>> {
    fields(header)
        .into_iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| {
            let mut u = Vec::with_capacity(v.len());
            for &b in &v {
                if b != b'\r' && b != b'\n' {
                    u.push(b);
                }
            }
            u
        })
}

/// `type/subtype; a=b; c="d"` → lower-cased type, subtype, params.
pub fn content_type(v: &[u8]) -> (String, String, Vec<(String, String)>) {
    let s = String::from_utf8_lossy(v);
    let mut it = split_params(&s).into_iter();
    let t = it.next().unwrap_or_default();
    let (ty, sub) = match t.split_once('/') {
        Some((a, b)) => (a.trim().to_ascii_lowercase(), b.trim().to_ascii_lowercase()),
        None => (String::new(), String::new()),
    };
    let params = it
        .filter_map(|p| {
            let (k, v) = p.split_once('=')?;
            let v = v.trim();
            let v = v
                .strip_prefix('"')
                .and_then(|x| x.strip_suffix('"'))
                .map_or(v.to_string(), |x| {
                    x.replace("\\\"", "\"").replace("\\\\", "\\")
                });
            Some((k.trim().to_ascii_lowercase(), v))
        })
        .collect();
    (ty, sub, params)
}

/// Split at `;` outside quotes.
pub fn split_params(s: &str) -> Vec<String> {
    let mut out = vec![String::new()];
    let mut q = false;
    let mut esc = false;
    for c in s.chars() {
        if esc {
            esc = false;
        } else if c == '\\' && q {
            esc = true;
        } else if c == '"' {
            q = !q;
        } else if c == ';' && !q {
            out.push(String::new());
            continue;
        }
        if let Some(l) = out.last_mut() {
            l.push(c);
        }
    }
    out.into_iter().map(|p| p.trim().to_string()).collect()
}

/// Parse the entity at `[start, end)`; `digest` says the default type is
/// message/rfc822 (inside multipart/digest).
pub fn parse(buf: &[u8], start: usize, end: usize, digest: bool, depth: usize) -> Part {
    let body = header_end(buf, start, end);
    let (mut ctype, mut subtype, mut params) = match field(&buf[start..body], "Content-Type") {
        Some(v) => content_type(&v),
        None => (String::new(), String::new(), Vec::new()),
    };
    if ctype.is_empty() || subtype.is_empty() {
        if digest {
            ctype = "message".into();
            subtype = "rfc822".into();
        } else {
            ctype = "text".into();
            subtype = "plain".into();
            if !params.iter().any(|(k, _)| k == "charset") {
                params.push(("charset".into(), "us-ascii".into()));
            }
        }
    }
    let mut p = Part {
        start,
        body,
        end,
        ctype,
        subtype,
        params,
        children: Vec::new(),
        message: None,
    };
    if depth > 50 {
        return p;
    }
    if p.ctype == "multipart" {
        if let Some((_, b)) = p.params.iter().find(|(k, _)| k == "boundary") {
            let b = b.clone();
            let dig = p.subtype == "digest";
            p.children = split_multipart(buf, body, end, b.as_bytes())
                .into_iter()
                .map(|(s, e)| parse(buf, s, e, dig, depth + 1))
                .collect();
        }
    } else if p.ctype == "message" && p.subtype == "rfc822" {
        p.message = Some(Box::new(parse(buf, body, end, false, depth + 1)));
    }
    p
}

/// The parts `[start, end)` between `--boundary` lines; a part ends
/// before the CRLF that precedes the next boundary.
fn split_multipart(buf: &[u8], start: usize, end: usize, boundary: &[u8]) -> Vec<(usize, usize)> {
    let mut delim = b"--".to_vec();
    delim.extend_from_slice(boundary);
    let mut out = Vec::new();
    let mut cur: Option<usize> = None;
    let mut i = start;
    while i < end {
        let line_end = buf[i..end]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(end, |p| i + p + 1);
        let line = &buf[i..line_end];
        if line.starts_with(&delim) {
            let rest = &line[delim.len()..];
            let closing = rest.starts_with(b"--");
            if let Some(s) = cur.take() {
                let e = if i >= 2 && buf[i - 2] == b'\r' {
                    i - 2
                } else {
                    i.saturating_sub(1)
                };
                out.push((s, e.max(s)));
            }
            if closing {
                return out;
            }
            cur = Some(line_end);
        }
        i = line_end;
    }
    if let Some(s) = cur {
        out.push((s, end));
    }
    out
}

impl Part {
    /// Part `n.m...` (1-based) below this entity: a multipart's child, a
    /// message/rfc822's contents' parts; part 1 of a non-multipart is its
    /// body.
    pub fn find(&self, path: &[usize]) -> Option<&Part> {
        let Some((&first, rest)) = path.split_first() else {
            return Some(self);
        };
        let holder = match &self.message {
            Some(m) => m,
            None => self,
        };
        let child = if holder.ctype == "multipart" {
            holder.children.get(first.checked_sub(1)?)?
        } else if first == 1 {
            holder
        } else {
            return None;
        };
        child.find(rest)
    }

    pub fn lines(&self, buf: &[u8]) -> usize {
        buf[self.body..self.end]
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
            + usize::from(self.end > self.body && buf[self.end - 1] != b'\n')
    }
}
