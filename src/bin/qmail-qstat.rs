//! qmail-qstat — summarize the status of the mail queue.
//!
//! # Invocation
//! `qmail-qstat` (no arguments). Prints
//! ```text
//! messages in queue: M
//! messages in queue but not yet preprocessed: T
//! ```
//! M = files under `queue/mess/*`, T = files in `queue/todo`
//! (`shared/spec/qmail/queue.md` §8). The original is a shell script
//! (`cd`, `find`, `wc`, `expr`); this program runs the same text
//! (`src/sh/qmail-qstat.sh`) with `/bin/sh` (`shared/script.rs`), so an
//! unreadable queue gives `find`'s complaints and the counts it makes,
//! as there.
//!
//! # Uid and security
//! Must run as root or in group qmail.
//!
//! # Exit codes
//! The last `echo`'s: 0; 111 if `/bin/sh` cannot be started.
//!
//! # See also
//! qmail-qread.

#[path = "shared/script.rs"]
mod script;

fn main() {
    script::run("qmail-qstat", include_bytes!("../sh/qmail-qstat.sh"));
}
