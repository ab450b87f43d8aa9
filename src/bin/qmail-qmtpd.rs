//! qmail-qmtpd — receive mail by QMTP.
//!
//! Invocation: `tcpserver … 209 qmail-qmtpd` (uid qmaild). Reads QMTP
//! requests on fd 0, answers on fd 1; several messages per connection.
//!
//! Environment: `RELAYCLIENT` (appended to every recipient, skips the
//! rcpthosts check), `DATABYTES` (overrides control/databytes),
//! `TCPREMOTEHOST`, `TCPREMOTEINFO`, `TCPREMOTEIP`, `TCPLOCALHOST`,
//! `TCPLOCALIP` (Received line), `QMAILQUEUE`.
//!
//! Control files: `rcpthosts`, `morercpthosts.cdb`, `databytes`, `me`.
//!
//! Exit codes: 0 at end of input; 100 protocol error; 111 resource
//! problem (no home, unreadable controls, no queue) or the 3600 s alarm.
//!
//! See also: qmail-queue, qmail-qmqpd (`binaries.md` §QMTP).

use std::os::unix::ffi::OsStringExt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use qmail::control::rcpthosts::RcptHosts;
use qmail::control::{parse_uint, Control};
use qmail::qmtp::received::Peer;
use qmail::qmtp::server::{serve, Config};
use qmail::qmtp::Exit;
use qmail::queue::client::Injection;

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

fn setup() -> Result<Config, Exit> {
    let home = qmail::root::qmail_home();
    if !home.is_dir() {
        return Err(Exit::Resources);
    }
    let control = Control::at(home.join("control")).map_err(|_| Exit::Resources)?;
    let rcpthosts = RcptHosts::load(&control).map_err(|_| Exit::Resources)?;
    let mut databytes = control
        .read_int("databytes", 0)
        .map_err(|_| Exit::Resources)?;
    if let Some(d) = std::env::var_os("DATABYTES") {
        databytes = parse_uint(&d.into_vec()).unwrap_or(0);
    }
    Ok(Config {
        databytes: databytes & 0xffff_ffff,
        relayclient: std::env::var_os("RELAYCLIENT").map(OsStringExt::into_vec),
        rcpthosts,
        peer: Peer::system(),
    })
}

fn main() {
    std::thread::spawn(|| {
        std::thread::sleep(Duration::from_secs(3600));
        std::process::exit(Exit::Resources.code());
    });
    let cfg = match setup() {
        Ok(c) => c,
        Err(e) => std::process::exit(e.code()),
    };
    let mut out = std::io::stdout().lock();
    let code = serve(
        std::io::stdin().lock(),
        &mut out,
        &cfg,
        &mut || Injection::open().ok(),
        &now,
    );
    std::process::exit(code.code());
}
