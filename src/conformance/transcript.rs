//! The recorded-transcript formats (`conformance/qmail/README.md`,
//! `conformance/dovecot/README.md`).
//!
//! Two dialects share one event model:
//!
//! * **escaped** (qmail): `C: `/`S: ` lines hold exact bytes with the
//!   escapes `\r \n \t \\ \xNN`; `-- ` lines are notes (`-- (server closed
//!   connection)`, `-- TLS handshake done: ...`, `-- client write of N
//!   bytes in one send():`); the `#` header declares `control:`, `instance:
//!   ... ; env K=V ...`, `VARIANT ... with env: {json}` and `variable
//!   fields:`, continued on `#   ` lines.
//! * **plain** (Dovecot): `C: `/`S: ` lines are raw text, each ended by CRLF
//!   on the wire (literals are inline and split at CRLF, so joining lines
//!   with CRLF gives the exact stream); `# --- ...` starts a new connection;
//!   `# (connection closed by server)`, `# (TLS handshake done)`; `# [ext]`
//!   and `# [B]` are actions of other parties the replayer cannot perform.

/// Which dialect a file is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Escaped,
    Plain,
}

/// One step of a session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// Bytes the client sends (consecutive sends form one write).
    Send(Vec<u8>),
    /// One line the server sends, with its line end.
    Expect(Vec<u8>),
    /// The server closes the connection here.
    Closed,
    /// The client runs a TLS handshake here (after STARTTLS/STLS).
    Tls,
    /// An action by another party (outside program, second session).
    External(String),
    /// An annotation without effect.
    Note(String),
}

/// An event with the 1-based line of the file it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub line: usize,
    pub event: Event,
}

/// One connection.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Section {
    /// The `# --- ...` text that opened it (empty for the first).
    pub title: String,
    pub steps: Vec<Step>,
}

/// A control file the header declares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ControlValue {
    /// A line or list file: its lines.
    Lines(Vec<String>),
    /// A cdb: key → value (`key->'value'`; plain keys have empty values).
    Cdb(Vec<(String, String)>),
    /// "present": the file exists (its bytes are not recorded).
    Present,
}

/// The header's declarations.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Header {
    /// Every header line, without the leading `# `.
    pub lines: Vec<String>,
    pub instance: Option<String>,
    pub controls: Vec<(String, ControlValue)>,
    /// The environment the server ran with (VARIANT replaces instance).
    pub env: Vec<(String, String)>,
    pub variable_fields: Option<String>,
}

/// A parsed transcript.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transcript {
    pub dialect: Dialect,
    pub header: Header,
    pub sections: Vec<Section>,
}

/// Why a file is not a transcript.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    pub line: usize,
    pub what: &'static str,
}

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}: {}", self.line, self.what)
    }
}

impl std::error::Error for ParseError {}

/// Undo `\r \n \t \\ \xNN`.
pub fn unescape(s: &str, line: usize) -> Result<Vec<u8>, ParseError> {
    let bad = |what| ParseError { line, what };
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'\\' {
            out.push(b[i]);
            i += 1;
            continue;
        }
        match b.get(i + 1) {
            Some(b'r') => out.push(b'\r'),
            Some(b'n') => out.push(b'\n'),
            Some(b't') => out.push(b'\t'),
            Some(b'\\') => out.push(b'\\'),
            Some(b'x') => {
                let hex = b.get(i + 2..i + 4).ok_or(bad("short \\x escape"))?;
                let hex = std::str::from_utf8(hex).map_err(|_| bad("bad \\x escape"))?;
                out.push(u8::from_str_radix(hex, 16).map_err(|_| bad("bad \\x escape"))?);
                i += 2;
            }
            _ => return Err(bad("unknown escape")),
        }
        i += 2;
    }
    Ok(out)
}

/// The inverse of [`unescape`], for reports.
pub fn escape(bytes: &[u8]) -> String {
    let mut s = String::new();
    for &b in bytes {
        match b {
            b'\r' => s.push_str("\\r"),
            b'\n' => s.push_str("\\n"),
            b'\t' => s.push_str("\\t"),
            b'\\' => s.push_str("\\\\"),
            0x20..=0x7e => s.push(b as char),
            _ => s.push_str(&format!("\\x{b:02x}")),
        }
    }
    s
}

/// Guess the dialect: qmail headers say their lines use escapes.
pub fn detect(text: &str) -> Dialect {
    let escaped = text
        .lines()
        .take_while(|l| l.starts_with('#'))
        .any(|l| l.contains("are escapes"));
    if escaped {
        Dialect::Escaped
    } else {
        Dialect::Plain
    }
}

/// Parse a transcript, detecting its dialect.
pub fn parse(text: &str) -> Result<Transcript, ParseError> {
    parse_as(text, detect(text))
}

/// Parse a transcript in a given dialect.
pub fn parse_as(text: &str, dialect: Dialect) -> Result<Transcript, ParseError> {
    let mut header_lines = Vec::new();
    let mut sections = vec![Section::default()];
    let mut in_header = true;
    for (i, raw) in text.split('\n').enumerate() {
        let n = i + 1;
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        let is_proto = line.starts_with("C:") || line.starts_with("S:");
        if in_header && !is_proto {
            if let Some(h) = line.strip_prefix('#') {
                header_lines.push(h.strip_prefix(' ').unwrap_or(h).to_string());
                continue;
            }
        }
        if is_proto {
            in_header = false;
        }
        if line.is_empty() {
            continue;
        }
        let steps = &mut sections.last_mut().expect("one section").steps;
        let payload = |p: &str| -> Result<Vec<u8>, ParseError> {
            let body = p.strip_prefix(' ').unwrap_or(p);
            match dialect {
                Dialect::Escaped => unescape(body, n),
                Dialect::Plain => Ok([body.as_bytes(), b"\r\n"].concat()),
            }
        };
        let event = if let Some(p) = line.strip_prefix("C:") {
            Event::Send(payload(p)?)
        } else if let Some(p) = line.strip_prefix("S:") {
            Event::Expect(payload(p)?)
        } else if let Some(note) = line.strip_prefix("--") {
            annotation(note.trim())
        } else if let Some(note) = line.strip_prefix('#') {
            let note = note.trim();
            if dialect == Dialect::Plain && note.starts_with("---") {
                in_header = false;
                sections.push(Section {
                    title: note.trim_start_matches('-').trim().to_string(),
                    steps: Vec::new(),
                });
                continue;
            }
            annotation(note)
        } else {
            return Err(ParseError {
                line: n,
                what: "not a C:, S:, -- or # line",
            });
        };
        if let Event::Note(text) = &event {
            if let Some(times) = repeat_count(text) {
                // `(previous client line repeated N times in total)`.
                let last = steps.iter().rev().find_map(|s| match &s.event {
                    Event::Send(b) => Some(b.clone()),
                    _ => None,
                });
                let last = last.ok_or(ParseError {
                    line: n,
                    what: "repeat note without a client line",
                })?;
                for _ in 1..times {
                    steps.push(Step {
                        line: n,
                        event: Event::Send(last.clone()),
                    });
                }
            }
        }
        steps.push(Step { line: n, event });
    }
    for section in &sections {
        check_write_sizes(&section.steps)?;
    }
    sections.retain(|s| !s.steps.is_empty());
    Ok(Transcript {
        dialect,
        header: header(header_lines),
        sections,
    })
}

/// Classify a note line.
fn annotation(note: &str) -> Event {
    if note.contains("not sent") {
        Event::Note(note.to_string())
    } else if note.contains("connection closed") || note.contains("server closed connection") {
        Event::Closed
    } else if note.contains("TLS handshake done") {
        Event::Tls
    } else if note.starts_with("[ext]") || note.starts_with("[B]") {
        Event::External(note.to_string())
    } else {
        Event::Note(note.to_string())
    }
}

/// N of `previous client line repeated N times in total`.
fn repeat_count(note: &str) -> Option<usize> {
    let rest = note.split_once("previous client line repeated ")?.1;
    rest.split_whitespace().next()?.parse().ok()
}

/// N of `client write of N bytes in one send():`.
fn write_size(note: &str) -> Option<usize> {
    let rest = note.strip_prefix("client write of ")?;
    rest.split_whitespace().next()?.parse().ok()
}

/// A `client write of N bytes` note must match the client lines after it
/// (up to the next server line or other event): this checks the escapes.
fn check_write_sizes(steps: &[Step]) -> Result<(), ParseError> {
    for (i, step) in steps.iter().enumerate() {
        let Event::Note(text) = &step.event else {
            continue;
        };
        let Some(want) = write_size(text) else {
            continue;
        };
        let got: usize = steps[i + 1..]
            .iter()
            .take_while(|s| matches!(s.event, Event::Send(_) | Event::Note(_)))
            .map(|s| match &s.event {
                Event::Send(b) => b.len(),
                _ => 0,
            })
            .sum();
        if got != want {
            return Err(ParseError {
                line: step.line,
                what: "client write size differs from its lines",
            });
        }
    }
    Ok(())
}

/// Join `#   ` continuation lines to their `key:` line, then read keys.
fn header(lines: Vec<String>) -> Header {
    let mut joined: Vec<String> = Vec::new();
    for l in &lines {
        match joined.last_mut() {
            Some(last) if l.starts_with("  ") => {
                last.push(' ');
                last.push_str(l.trim());
            }
            _ => joined.push(l.trim().to_string()),
        }
    }
    let mut h = Header {
        lines,
        ..Header::default()
    };
    let mut variant = None;
    for l in &joined {
        if let Some(v) = l.strip_prefix("instance:") {
            h.instance = Some(v.trim().to_string());
            if let Some((_, env)) = v.split_once("; env ") {
                h.env = env_words(env);
            }
        } else if let Some(v) = l.strip_prefix("control:") {
            h.controls = controls(v);
        } else if let Some(v) = l.strip_prefix("variable fields:") {
            h.variable_fields = Some(v.trim().to_string());
        } else if l.starts_with("VARIANT") {
            if let Some((_, json)) = l.split_once("with env:") {
                variant = Some(json_env(json));
            }
        }
    }
    if let Some(env) = variant {
        h.env = env;
    }
    h
}

/// `K="" K2=0` words.
fn env_words(s: &str) -> Vec<(String, String)> {
    s.split_whitespace()
        .filter_map(|w| w.split_once('='))
        .map(|(k, v)| (k.to_string(), v.trim_matches('"').to_string()))
        .collect()
}

/// A flat JSON object of strings: `{"A": "", "B": "0"}` (rest ignored).
fn json_env(s: &str) -> Vec<(String, String)> {
    let Some(body) = s.split_once('{').and_then(|(_, r)| r.split_once('}')) else {
        return Vec::new();
    };
    let strings: Vec<&str> = body.0.split('"').skip(1).step_by(2).collect();
    strings
        .chunks_exact(2)
        .map(|kv| (kv[0].to_string(), kv[1].to_string()))
        .collect()
}

/// `me=x rcpthosts={a,b} name present validrcptto.cdb={k,k->'-'}`.
fn controls(s: &str) -> Vec<(String, ControlValue)> {
    let words: Vec<&str> = s.split_whitespace().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < words.len() {
        let w = words[i];
        i += 1;
        if let Some((name, value)) = w.split_once('=') {
            let items: Vec<&str> = match value.strip_prefix('{').and_then(|v| v.strip_suffix('}')) {
                Some(list) => list.split(',').filter(|x| !x.is_empty()).collect(),
                None => vec![value],
            };
            let v = if name.ends_with(".cdb") {
                ControlValue::Cdb(
                    items
                        .iter()
                        .map(|it| match it.split_once("->") {
                            Some((k, v)) => (k.to_string(), v.trim_matches('\'').to_string()),
                            None => (it.to_string(), String::new()),
                        })
                        .collect(),
                )
            } else {
                ControlValue::Lines(items.iter().map(|x| x.to_string()).collect())
            };
            out.push((name.to_string(), v));
        } else if words.get(i) == Some(&"present") {
            out.push((w.to_string(), ControlValue::Present));
            i += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const QMAIL: &str = "# scenario: x\n\
# instance: tcpserver -H -R 127.0.0.1 2525 qmail-smtpd cp /bin/true ; env SMTPAUTH=\"\" FORCETLS=0\n\
# control: me=oracle.example rcpthosts={oracle.example,example.org}\n\
#   databytes=20000 servercert.pem present\n\
#   validrcptto.cdb={a@example.org,blocked@example.org->'-'}\n\
# variable fields: '250 ok <unix-time> qp <pid>'\n\
# format: 'C: ' client bytes; \\r \\n \\t \\\\ \\xNN are escapes; '-- ' lines are annotations.\n\
\n\
S: 220 oracle.example ESMTP\\r\\n\n\
-- client write of 13 bytes in one send():\n\
C: NOOP\\x00x\\r\\n\n\
C: noop\\n\n\
S: 250 ok\\r\\n\n\
-- TLS handshake done: TLSv1.3\n\
-- (server closed connection)\n";

    #[test]
    fn escaped_dialect() {
        let t = parse(QMAIL).unwrap();
        assert_eq!(t.dialect, Dialect::Escaped);
        assert_eq!(t.sections.len(), 1);
        let ev: Vec<_> = t.sections[0].steps.iter().map(|s| &s.event).collect();
        assert_eq!(
            ev[0],
            &Event::Expect(b"220 oracle.example ESMTP\r\n".to_vec())
        );
        assert!(matches!(ev[1], Event::Note(_)));
        assert_eq!(ev[2], &Event::Send(b"NOOP\0x\r\n".to_vec()));
        assert_eq!(ev[3], &Event::Send(b"noop\n".to_vec()));
        assert_eq!(ev[5], &Event::Tls);
        assert_eq!(ev[6], &Event::Closed);
        assert_eq!(t.sections[0].steps[0].line, 9);
        let h = &t.header;
        assert_eq!(
            h.env,
            vec![
                ("SMTPAUTH".into(), "".into()),
                ("FORCETLS".into(), "0".into())
            ]
        );
        assert_eq!(
            h.controls,
            vec![
                (
                    "me".into(),
                    ControlValue::Lines(vec!["oracle.example".into()])
                ),
                (
                    "rcpthosts".into(),
                    ControlValue::Lines(vec!["oracle.example".into(), "example.org".into()])
                ),
                (
                    "databytes".into(),
                    ControlValue::Lines(vec!["20000".into()])
                ),
                ("servercert.pem".into(), ControlValue::Present),
                (
                    "validrcptto.cdb".into(),
                    ControlValue::Cdb(vec![
                        ("a@example.org".into(), "".into()),
                        ("blocked@example.org".into(), "-".into())
                    ])
                ),
            ]
        );
        assert!(h.variable_fields.as_deref().unwrap().contains("qp <pid>"));
    }

    #[test]
    fn variant_env_replaces_instance_env() {
        let text = QMAIL.replace(
            "# format:",
            "# VARIANT instance on 127.0.0.1:2527 with env: {\"SMTPAUTH\": \"+cram\"} (others as default)\n# format:",
        );
        let t = parse(&text).unwrap();
        assert_eq!(t.header.env, vec![("SMTPAUTH".into(), "+cram".into())]);
    }

    #[test]
    fn plain_dialect_sections_and_literals() {
        let text = "# header\n#\nS: * OK ready.\nC: a1 LOGIN \"a\" {2}\nS: + OK\nC: pw\nS: + \n\
# (connection closed by server)\n# --- second\nS: +OK\nC: \n# [ext] mv x y\n";
        let t = parse(text).unwrap();
        assert_eq!(t.dialect, Dialect::Plain);
        assert_eq!(t.sections.len(), 2);
        assert_eq!(t.sections[1].title, "second");
        let s0: Vec<_> = t.sections[0]
            .steps
            .iter()
            .map(|s| s.event.clone())
            .collect();
        assert_eq!(
            s0,
            vec![
                Event::Expect(b"* OK ready.\r\n".to_vec()),
                Event::Send(b"a1 LOGIN \"a\" {2}\r\n".to_vec()),
                Event::Expect(b"+ OK\r\n".to_vec()),
                Event::Send(b"pw\r\n".to_vec()),
                Event::Expect(b"+ \r\n".to_vec()),
                Event::Closed,
            ]
        );
        assert_eq!(t.sections[1].steps[1].event, Event::Send(b"\r\n".to_vec()));
        assert!(matches!(t.sections[1].steps[2].event, Event::External(_)));
        assert_eq!(t.header.lines, vec!["header".to_string(), String::new()]);
    }

    #[test]
    fn repeated_lines_and_write_sizes() {
        let h = "# f: \\r are escapes\n";
        let ok = format!("{h}-- client write of 15 bytes in one send():\nC: ab\\r\\n\n-- (previous client line repeated 3 times in total; x)\nC: .\\r\\n\nS: 250\\r\\n\n");
        let t = parse(&ok).unwrap();
        let sends = t.sections[0]
            .steps
            .iter()
            .filter(|s| s.event == Event::Send(b"ab\r\n".to_vec()))
            .count();
        assert_eq!(sends, 3);
        let bad = ok.replace("15 bytes", "16 bytes");
        assert_eq!(
            parse(&bad).unwrap_err().what,
            "client write size differs from its lines"
        );
        let not_sent = format!("{h}S: 421 bye\\r\\n\n-- (not sent: connection closed)\n");
        assert!(matches!(
            parse(&not_sent).unwrap().sections[0].steps[1].event,
            Event::Note(_)
        ));
    }

    #[test]
    fn escapes_round_trip_and_errors() {
        let bytes: Vec<u8> = (0u8..=255).collect();
        assert_eq!(unescape(&escape(&bytes), 1).unwrap(), bytes);
        assert!(unescape("\\q", 3).is_err());
        assert!(unescape("\\x4", 3).is_err());
        assert!(unescape("\\xzz", 3).is_err());
        assert_eq!(parse("junk line\n").unwrap_err().line, 1);
    }
}
