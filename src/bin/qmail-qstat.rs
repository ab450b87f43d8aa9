//! qmail-qstat — summarize the status of the mail queue.
//!
//! # Invocation
//! `qmail-qstat` (no arguments; the original is a shell script). Prints
//! ```text
//! messages in queue: M
//! messages in queue but not yet preprocessed: T
//! ```
//! M = files under `queue/mess/*`, T = files in `queue/todo`
//! (`shared/spec/qmail/queue.md` §8).
//!
//! # Uid and security
//! Must run as root or in group qmail.
//!
//! # Exit codes
//! 0; 111 with `qmail-qstat: fatal: ...` on stderr if the queue cannot be
//! read (the script's `find` would complain and print a count of 0).
//!
//! # See also
//! qmail-qread.

use qmail::queue::layout::Layout;

fn main() {
    let q = Layout::at(qmail::root::qmail_home().join("queue"));
    match qmail::queue::scan::qstat(&q) {
        Ok((messages, todo)) => {
            println!("messages in queue: {messages}");
            println!("messages in queue but not yet preprocessed: {todo}");
        }
        Err(e) => {
            eprintln!(
                "qmail-qstat: fatal: unable to read {}: {e}",
                q.dir.display()
            );
            std::process::exit(111);
        }
    }
}
