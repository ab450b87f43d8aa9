//! qmail-qmqpd — receive one message by QMQP.
//!
//! Invocation: `tcpserver … 628 qmail-qmqpd` (uid qmaild), for trusted
//! clients only (no rcpthosts check). One request on fd 0, one response
//! netstring on fd 1.
//!
//! Environment: `TCPREMOTEHOST`, `TCPREMOTEINFO`, `TCPREMOTEIP`,
//! `TCPLOCALHOST`, `TCPLOCALIP` (Received line, protocol `QMQP`),
//! `QMAILQUEUE`.
//!
//! Exit codes: 0 after answering or at end of input; 100 protocol error;
//! 111 resource problem or the 3600 s alarm.
//!
//! See also: qmail-qmqpc, qmail-queue (`binaries.md` §QMQP).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use qmail::qmqp::server::serve;
use qmail::qmtp::received::Peer;
use qmail::qmtp::Exit;
use qmail::queue::client::Injection;

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

fn main() {
    std::thread::spawn(|| {
        std::thread::sleep(Duration::from_secs(3600));
        std::process::exit(Exit::Resources.code());
    });
    let peer = Peer::system();
    let mut out = std::io::stdout().lock();
    let mut open = || {
        if !qmail::root::qmail_home().is_dir() {
            return None;
        }
        Injection::open().ok()
    };
    let code = serve(std::io::stdin().lock(), &mut out, &peer, &mut open, &now);
    std::process::exit(code.code());
}
