//! mailsubj — send a message with a subject line.
//!
//! # Invocation
//! `mailsubj subject recip ...`: feeds `Subject: SUBJECT`, `To: RECIP ...`
//! (the recipients separated by spaces), an empty line, then stdin, into
//! `/var/qmail/bin/qmail-inject`, which takes the recipients from the
//! header (`shared/spec/qmail/inject.md` §3).
//!
//! The original is a shell script whose behaviour is the shell's (`echo`'s
//! backslash escapes under dash, `shift` failing without arguments, the
//! pipeline's exit status, `not found` messages with line numbers), so
//! this program runs the same text (`src/sh/mailsubj.sh`) with `/bin/sh`
//! (`shared/script.rs`).
//!
//! # Uid and security
//! Runs as the invoking user.
//!
//! # Exit codes
//! qmail-inject's (the pipeline's status); from `/bin/sh` (dash): 2 with
//! `PATH: 4: shift: can't shift that many` without a subject, 127 if
//! qmail-inject is missing. 111 if `/bin/sh` cannot be started.
//!
//! # See also
//! qmail-inject.

#[path = "shared/script.rs"]
mod script;

fn main() {
    script::run("mailsubj", include_bytes!("../sh/mailsubj.sh"));
}
