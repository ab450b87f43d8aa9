//! qmail-remote — send one message to one remote host by SMTP.
//!
//! Invocation: `qmail-remote host sender recip [ recip ... ]` (run by
//! qmail-rspawn, uid qmailr, fd 0 = the message, fd 1/2 = the report
//! pipe). No options.
//!
//! Output: NUL-terminated records on fd 1 — one per recipient (`r`, `h…`,
//! `s…`), then one message report (`K…`, `Z…`, `D…`); see
//! `shared/spec/qmail/remote.md` §5.
//!
//! Security: runs as qmailr, needs nothing but the network, `control/` and
//! `queue/lock/tcpto`. The test overrides `QMAILRS_ROOT`,
//! `QMAILRS_RESOLVER` and `QMAILRS_REMOTE_PORT` are ignored when set-uid.
//!
//! Control files: `timeoutremote`, `timeoutconnect`, `helohost` (default
//! `me`), `smtproutes`, `authsenders`, `clientcert.pem`, `tlshosts/`,
//! `notlshosts/`; opt-in `qmtproutes` (QMTP delivery as the qmail-qmtpc
//! patches, port 209, SMTP fallback; `qmail::remote::qmtp`).
//!
//! Exit code: always 0 once started (everything is in the output).
//!
//! See also: qmail-rspawn, qmail-tcpto, qmail-tcpok.

use std::io::Write;
use std::os::unix::ffi::OsStringExt;

use qmail::dns::Resolver;
use qmail::remote::{deliver, Env};

fn main() {
    let args: Vec<Vec<u8>> = std::env::args_os()
        .skip(1)
        .map(OsStringExt::into_vec)
        .collect();
    let home = qmail::root::qmail_home();
    let mut resolver = Resolver::system();
    let mut stdin = std::io::stdin().lock();
    let out = deliver(&home, &args, &mut stdin, &mut resolver, &Env::system());
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(out.bytes());
    let _ = stdout.flush();
    std::process::exit(0);
}
