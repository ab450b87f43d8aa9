//! The conformance runner: replay the recorded sessions of the originals
//! (`conformance/qmail/transcripts/*.txt`, `conformance/dovecot/{imap,pop3}`)
//! against our programs, over TCP or as a stdin/stdout child, and report
//! line-exact differences after masking the fields that vary by run.
//!
//! * [`transcript`]: the two recording dialects, parsed into sessions;
//! * [`mask`]: the variable fields;
//! * [`conn`] / [`replay`]: driving the program and comparing;
//! * [`setup`]: control files and env a header declares; the
//!   `known-differences` list.
//!
//! The bin `qmailrs-conformance` and the script `conformance/run` expose
//! it to hosters; `tests/conformance_*.rs` use it in CI.

pub mod conn;
pub mod mask;
pub mod replay;
pub mod setup;
mod tls;
pub mod transcript;

pub use conn::Target;
pub use replay::{replay, report, Options, Verdict};

/// The case name of a transcript path, as `known-differences` spells it:
/// `smtp/01-greeting` (qmail `transcripts/`), `imap/06-fetch`,
/// `pop3/02-transaction`.
pub fn case_name(path: &std::path::Path) -> String {
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let dir = path
        .parent()
        .and_then(|p| p.file_name())
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let group = if dir == "transcripts" { "smtp" } else { &dir };
    format!("{group}/{stem}")
}
