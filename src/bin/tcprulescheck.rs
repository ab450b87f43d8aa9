//! tcprulescheck — show which rule tcpserver would follow (ucspi-tcp 0.88).
//!
//! # Invocation
//! `tcprulescheck rules.cdb [IP [HOST [INFO]]]`
//!
//! Looks the connection described by `$TCPREMOTEIP` (default `0.0.0.0`),
//! `$TCPREMOTEHOST` and `$TCPREMOTEINFO` up in `rules.cdb` in tcpserver's
//! order and prints, on fd 1, `rule KEY:` followed by one line per
//! instruction (`set environment variable VAR=VALUE`, then
//! `deny connection` or `allow connection`), or `default:` and
//! `allow connection` when no rule applies. The optional IP, HOST and INFO
//! arguments are an extension: when given they replace the variables.
//!
//! # Exit codes
//! * 0 — a report was printed.
//! * 100 — `tcprulescheck: usage: tcprulescheck rules.cdb`.
//! * 111 — `tcprulescheck: fatal: unable to read RULES: ERR` (missing or
//!   corrupt file; corruption reads as `protocol error`).

use std::ffi::OsString;
use std::io::Write;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::process::ExitCode;

use std::path::Path;

use qmail::cdb::FileReader;
use qmail::tcp::errstr::{errno_str, errstr};
use qmail::tcp::rules;

fn main() -> ExitCode {
    let mut args = std::env::args_os().skip(1);
    let Some(fn_rules) = args.next() else {
        eprintln!("tcprulescheck: usage: tcprulescheck rules.cdb");
        return ExitCode::from(100);
    };
    let var = |name: &str, arg: Option<OsString>| {
        arg.or_else(|| std::env::var_os(name))
            .map(OsString::into_vec)
    };
    let ip = var("TCPREMOTEIP", args.next()).unwrap_or_else(|| b"0.0.0.0".to_vec());
    let host = var("TCPREMOTEHOST", args.next());
    let info = var("TCPREMOTEINFO", args.next());

    let fail = |why: &str| {
        eprintln!(
            "tcprulescheck: fatal: unable to read {}: {why}",
            String::from_utf8_lossy(fn_rules.as_bytes())
        );
        ExitCode::from(111)
    };
    let protocol = errno_str(libc::EPROTO);
    let db = match FileReader::open(Path::new(&fn_rules)) {
        Ok(Ok(db)) => db,
        Ok(Err(_)) => return fail(protocol),
        Err(e) => return fail(errstr(&e)),
    };
    let found = match rules::lookup(&db, &ip, host.as_deref(), info.as_deref()) {
        Ok(f) => f,
        Err(_) => return fail(protocol),
    };
    let report = rules::check_report(found.as_ref().map(|(k, d)| (&k[..], &d[..])));
    let mut out = std::io::stdout().lock();
    if out.write_all(&report).and_then(|()| out.flush()).is_err() {
        return ExitCode::from(111);
    }
    ExitCode::SUCCESS
}
