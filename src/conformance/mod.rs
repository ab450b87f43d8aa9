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

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::mask::mask;
    use super::transcript::{escape, parse, unescape};

    proptest! {
        #[test]
        fn escape_round_trips(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            prop_assert_eq!(unescape(&escape(&bytes), 1).unwrap(), bytes);
        }

        #[test]
        fn mask_is_idempotent(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let once = mask(&bytes);
            prop_assert_eq!(mask(&once), once);
        }

        #[test]
        fn parse_never_panics(text in "(C: |S: |-- |# )?[ -~\\\\]{0,40}(\n(C: |S: |-- |# )?[ -~\\\\]{0,40}){0,8}") {
            let _ = parse(&text);
        }
    }

    #[test]
    fn every_prefix_of_a_recording_parses_or_errors() {
        let text = include_str!("../../conformance/qmail/transcripts/12-pipelining.txt");
        for end in (0..text.len()).filter(|&i| text.is_char_boundary(i)) {
            let _ = parse(&text[..end]);
        }
    }
}
