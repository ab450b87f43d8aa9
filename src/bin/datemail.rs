//! datemail — sendmail with a local-time Date field.
//!
//! # Invocation
//! `datemail [ sendmail options and arguments ]`: execs
//! `/var/qmail/bin/predate /var/qmail/bin/sendmail ARGS...`
//! (`shared/spec/qmail/inject.md` §4). The original is a one-line shell
//! script; this program runs the same text (`src/sh/datemail.sh`) with
//! `/bin/sh` (`shared/script.rs`), so a missing predate is the shell's
//! `not found` and 127, as there.
//!
//! # Uid and security
//! Runs as the invoking user.
//!
//! # Exit codes
//! Those of predate and sendmail; 127 (from `/bin/sh`) if predate
//! cannot be run; 111 if `/bin/sh` cannot be started.
//!
//! # See also
//! predate, sendmail.

#[path = "shared/script.rs"]
mod script;

fn main() {
    script::run("datemail", include_bytes!("../sh/datemail.sh"));
}
