//! splogger — make entries in syslog.
//!
//! # Invocation
//! `splogger [ tag [ facility ] ]`: each stdin line goes to syslog as
//! `SECONDS.MICROSECONDS LINE`, priority alert/warning/info by the line's
//! prefix; bytes outside 32..=126 become `?`; lines are cut into 799-byte
//! chunks, continuation chunks logged as `STAMP+CHUNK`; empty lines are
//! not logged; an unterminated last line is dropped (as the original's
//! `_exit` at end of input). Tag defaults to `splogger`, facility to mail
//! (a number N means `N << 3`).
//!
//! Messages are written as glibc's `syslog(3)` does:
//! `<PRI>Mmm dd hh:mm:ss TAG: MSG` to the `/dev/log` datagram socket
//! (a stream socket gets each message NUL-terminated), connecting at the
//! first message, reconnecting once when a send fails, dropping the
//! message when no syslog daemon listens. Under `QMAILRS_ROOT` (honoured
//! only when not set-uid) the socket is `$QMAILRS_ROOT/dev/log`.
//!
//! # Security
//! Runs as qmaill (qmail-start's logger). One `unsafe` call,
//! `libc::localtime_r`, to learn the local zone offset for the syslog
//! timestamp, as predate does.
//!
//! # Exit codes
//! 0 at end of input.

#[path = "shared/localtime.rs"]
mod localtime;
use localtime::local_offset;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::{UnixDatagram, UnixStream};
use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use qmail::date::DateTime;
use qmail::send::splogger;

const LOG_MAIL: u32 = 2 << 3;

/// The connection to the syslog daemon, as glibc keeps it.
enum Log {
    None,
    Dgram(UnixDatagram),
    Stream(UnixStream),
}

struct Syslog {
    path: PathBuf,
    log: Log,
}

impl Syslog {
    fn connect(&mut self) {
        self.log = Log::None;
        let Ok(d) = UnixDatagram::unbound() else {
            return;
        };
        match d.connect(&self.path) {
            Ok(()) => self.log = Log::Dgram(d),
            Err(e) if e.raw_os_error() == Some(libc::EPROTOTYPE) => {
                if let Ok(s) = UnixStream::connect(&self.path) {
                    self.log = Log::Stream(s);
                }
            }
            Err(_) => {}
        }
    }

    fn try_send(&mut self, d: &[u8]) -> bool {
        match &mut self.log {
            Log::None => false,
            Log::Dgram(s) => s.send(d).is_ok(),
            Log::Stream(s) => {
                let mut m = d.to_vec();
                m.push(0);
                s.write_all(&m).is_ok()
            }
        }
    }

    fn send(&mut self, d: &[u8]) {
        if matches!(self.log, Log::None) {
            self.connect();
        }
        if !self.try_send(d) {
            self.connect();
            let _ = self.try_send(d);
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let tag = args.first().cloned().unwrap_or_else(|| "splogger".into());
    let facility = args.get(1).map_or(LOG_MAIL, |f| {
        let digits: String = f.chars().take_while(char::is_ascii_digit).collect();
        digits.parse::<u32>().unwrap_or(0) << 3
    });
    let mut log = Syslog {
        path: qmail::root::rooted("/dev/log"),
        log: Log::None,
    };
    let mut input = BufReader::new(std::io::stdin());
    let mut line = Vec::new();
    loop {
        line.clear();
        let n = match input.read_until(b'\n', &mut line) {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        let terminated = line.last() == Some(&b'\n');
        if terminated {
            line.pop();
        }
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let stamp = format!("{}.{:06}", now.as_secs(), now.subsec_micros());
        let pri = facility | u32::from(splogger::priority(&line));
        let mut messages = splogger::messages(&stamp, &line);
        if !terminated {
            messages.truncate(splogger::unterminated_chunks(n));
        }
        for m in messages {
            let t = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs() as i64);
            let local = DateTime::from_unix(t + local_offset(t));
            log.send(&splogger::datagram(pri, &local, &tag, &m));
        }
        if !terminated {
            return;
        }
    }
}
