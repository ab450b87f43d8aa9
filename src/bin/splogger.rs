//! splogger — make entries in syslog.
//!
//! # Invocation
//! `splogger [ tag [ facility ] ]`: each stdin line goes to syslog as
//! `SECONDS.MICROSECONDS LINE`, priority alert/warning/info by the line's
//! prefix; tag defaults to `splogger`, facility to mail (a number N means
//! `N << 3`). Messages go straight to the `/dev/log` datagram socket.
//!
//! # Security
//! Runs as qmaill (qmail-start's logger).
//!
//! # Exit codes
//! 0 at end of input.

use std::io::{BufRead, BufReader};
use std::os::unix::net::UnixDatagram;
use std::time::{SystemTime, UNIX_EPOCH};

use qmail::send::splogger;

const LOG_MAIL: u32 = 2 << 3;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let tag = args.first().cloned().unwrap_or_else(|| "splogger".into());
    let facility = args
        .get(1)
        .and_then(|f| f.parse::<u32>().ok())
        .map_or(LOG_MAIL, |n| n << 3);
    let sock = UnixDatagram::unbound().ok();
    let connected = sock.as_ref().is_some_and(|s| s.connect("/dev/log").is_ok());
    let mut input = BufReader::new(std::io::stdin());
    let mut line = Vec::new();
    loop {
        line.clear();
        match input.read_until(b'\n', &mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        if line.last() == Some(&b'\n') {
            line.pop();
        }
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let stamp = format!("{}.{:06}", now.as_secs(), now.subsec_micros());
        let pri = facility | u32::from(splogger::priority(&line));
        for m in splogger::messages(&stamp, &line) {
            let mut d = format!("<{pri}>{tag}: ").into_bytes();
            d.extend_from_slice(&m);
            if let (Some(s), true) = (sock.as_ref(), connected) {
                let _ = s.send(&d);
            }
        }
    }
}
