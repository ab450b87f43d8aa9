//! Replay a transcript against a program and report line-exact
//! differences (after [`mask`](super::mask::mask)).
//!
//! Per section (connection): consecutive `C:` steps are sent in one write;
//! each `S:` step reads one line and compares it; a close step expects EOF;
//! a TLS step runs a client handshake. Steps that need another party
//! (`# [ext]`, `# [B]`) make the transcript *unsupported*, reported as
//! such, never passed silently.

use std::fmt::Write as _;
use std::time::Duration;

use super::conn::{Conn, Read1, Target};
use super::mask::mask;
use super::transcript::{escape, Event, Transcript};

/// Most differences listed per transcript before giving up.
const MAX_DIFFS: usize = 10;

/// How to replay.
#[derive(Debug, Clone)]
pub struct Options {
    /// Deadline for each server line (and for the handshake).
    pub timeout: Duration,
    /// SNI name for TLS handshakes.
    pub tls_name: String,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            timeout: Duration::from_secs(10),
            tls_name: "localhost".to_string(),
        }
    }
}

/// One mismatch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diff {
    /// Connection number (0-based) and transcript line.
    pub section: usize,
    pub line: usize,
    /// What the recording has (masked), or a description.
    pub expected: String,
    /// What the program did (masked), or a description.
    pub got: String,
}

/// The result of one transcript.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Pass,
    Fail(Vec<Diff>),
    /// The transcript needs something the replayer cannot do.
    Unsupported(String),
}

impl Verdict {
    pub fn passed(&self) -> bool {
        *self == Verdict::Pass
    }
}

fn show(bytes: &[u8]) -> String {
    format!("S: {}", escape(&mask(bytes)))
}

fn read_outcome(r: &Read1) -> String {
    match r {
        Read1::Line(l) => show(l),
        Read1::Eof(rest) if rest.is_empty() => "(connection closed)".into(),
        Read1::Eof(rest) => format!("(connection closed after partial line {})", show(rest)),
        Read1::Timeout(rest) if rest.is_empty() => "(no reply before timeout)".into(),
        Read1::Timeout(rest) => format!("(timeout after partial line {})", show(rest)),
    }
}

/// Replay every section of `t` against `target`.
pub fn replay(t: &Transcript, target: &Target, opts: &Options) -> Verdict {
    if let Some(step) = t
        .sections
        .iter()
        .flat_map(|s| &s.steps)
        .find(|s| matches!(s.event, Event::External(_)))
    {
        return Verdict::Unsupported(format!(
            "line {}: needs an action by another party",
            step.line
        ));
    }
    let mut diffs = Vec::new();
    for (n, section) in t.sections.iter().enumerate() {
        replay_section(n, &section.steps, target, opts, &mut diffs);
        if diffs.len() >= MAX_DIFFS {
            break;
        }
    }
    if diffs.is_empty() {
        Verdict::Pass
    } else {
        Verdict::Fail(diffs)
    }
}

fn replay_section(
    n: usize,
    steps: &[super::transcript::Step],
    target: &Target,
    opts: &Options,
    diffs: &mut Vec<Diff>,
) {
    let first = steps.first().map_or(0, |s| s.line);
    let diff = |line, expected: String, got: String| Diff {
        section: n,
        line,
        expected,
        got,
    };
    let mut conn = match Conn::open(target, opts.timeout) {
        Ok(c) => c,
        Err(e) => {
            diffs.push(diff(
                first,
                "a connection".into(),
                format!("cannot connect: {e}"),
            ));
            return;
        }
    };
    let mut pending: Vec<u8> = Vec::new();
    for step in steps {
        if let Event::Send(bytes) = &step.event {
            pending.extend_from_slice(bytes);
            continue;
        }
        if !pending.is_empty() {
            if let Err(e) = conn.send(&pending) {
                diffs.push(diff(
                    step.line,
                    "to send".into(),
                    format!("send failed: {e}"),
                ));
                return;
            }
            pending.clear();
        }
        match &step.event {
            Event::Expect(want) => {
                let got = conn.recv_line();
                let ok = matches!(&got, Read1::Line(l) if mask(l) == mask(want));
                if !ok {
                    diffs.push(diff(step.line, show(want), read_outcome(&got)));
                    if !matches!(got, Read1::Line(_)) || diffs.len() >= MAX_DIFFS {
                        return;
                    }
                }
            }
            Event::Closed => match conn.recv_line() {
                Read1::Eof(rest) if rest.is_empty() => {}
                other => {
                    diffs.push(diff(
                        step.line,
                        "(connection closed)".into(),
                        read_outcome(&other),
                    ));
                    return;
                }
            },
            Event::Tls => {
                if let Err(e) = conn.start_tls(&opts.tls_name) {
                    diffs.push(diff(
                        step.line,
                        "(TLS handshake)".into(),
                        format!("TLS failed: {e}"),
                    ));
                    return;
                }
            }
            Event::Send(_) | Event::Note(_) | Event::External(_) => {}
        }
    }
    if !pending.is_empty() {
        // Trailing client bytes with nothing expected after them.
        let _ = conn.send(&pending);
    }
}

/// A human report: `PASS name`, `FAIL name` with one block per diff, or
/// `UNSUPPORTED name: why`.
pub fn report(name: &str, verdict: &Verdict) -> String {
    let mut s = String::new();
    match verdict {
        Verdict::Pass => {
            let _ = writeln!(s, "PASS {name}");
        }
        Verdict::Unsupported(why) => {
            let _ = writeln!(s, "UNSUPPORTED {name}: {why}");
        }
        Verdict::Fail(diffs) => {
            let _ = writeln!(s, "FAIL {name}");
            for d in diffs {
                let _ = writeln!(
                    s,
                    "  {name}:{} (connection {}):\n    expected {}\n    got      {}",
                    d.line,
                    d.section + 1,
                    d.expected,
                    d.got
                );
            }
        }
    }
    s
}
