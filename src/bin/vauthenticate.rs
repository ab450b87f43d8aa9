//! vauthenticate — authenticate a virtual user and print its account data
//! (for helpers that want the data rather than a sub-program).
//!
//! Invocation: `vauthenticate`, `domain NUL user NUL password` on stdin.
//! Runs as root or as the domain owner (switches to the owner). No hooks,
//! no messages; real-user logins are refused.
//!
//! Output (exit 0): `UID= GID= USER= HOME= MAILDIR= VUSER=` lines.
//! Exit codes: 1 login refused; 2 bad data; 111 temporary.
//!
//! See: `shared/spec/vmailmgr/checkvpw.md` §9.

use std::io::Write;

fn main() {
    let (code, out) = qmail::vmailmgr::checkvpw::vauthenticate();
    let _ = std::io::stdout().write_all(&out);
    std::process::exit(code);
}
