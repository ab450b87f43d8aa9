//! tcprules — compile tcpserver rules (ucspi-tcp 0.88 compatible).
//!
//! # Invocation
//! `tcprules rules.cdb rules.tmp < rules.txt`
//!
//! Reads rules (`ADDRESS:allow[,VAR="VALUE"]...`, `ADDRESS:deny`, `#`
//! comments; see `qmail::tcp::rules`) from fd 0, writes the cdb into
//! `rules.tmp`, fsyncs it and renames it over `rules.cdb`, so a running
//! tcpserver always sees a complete file. On bad input `rules.cdb` is left
//! alone. The output is byte-identical to ucspi-tcp's tcprules; IPv6
//! addresses are accepted as the IPv6 variant writes them (`::1:allow`).
//!
//! # Security
//! Runs as the invoking user; no privileges needed beyond write access to
//! the directories of both files (which must be on one file system).
//!
//! # Exit codes and messages (stderr)
//! * 0 — success.
//! * 100 — `tcprules: usage: tcprules rules.cdb rules.tmp`;
//!   `tcprules: fatal: unable to parse this line: LINE`.
//! * 111 — `tcprules: fatal: unable to create TMP: ERR`,
//!   `unable to read input: ERR`, `unable to write to TMP: ERR`,
//!   `unable to move TMP to CDB: ERR`.
//!
//! # See also
//! tcpserver, tcprulescheck, `shared/spec/qmail/cdb.md` §6.

use std::ffi::OsString;
use std::io::{Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::process::ExitCode;

use qmail::cdb::Writer;
use qmail::tcp::errstr::errstr;
use qmail::tcp::rules;

const FATAL: &str = "tcprules: fatal: ";

/// Why tcprules stopped; each maps to one message and exit code.
enum Failure {
    Usage,
    Create(OsString, std::io::Error),
    Read(std::io::Error),
    Parse(rules::BadLine),
    Write(OsString, std::io::Error),
    Move(OsString, OsString, std::io::Error),
}

fn run() -> Result<(), Failure> {
    let mut args = std::env::args_os().skip(1);
    let fn_cdb = args.next().ok_or(Failure::Usage)?;
    let fn_tmp = args.next().ok_or(Failure::Usage)?;
    let mut tmp = std::fs::File::create(&fn_tmp).map_err(|e| Failure::Create(fn_tmp.clone(), e))?;
    let mut input = Vec::new();
    std::io::stdin()
        .lock()
        .read_to_end(&mut input)
        .map_err(Failure::Read)?;
    let records = rules::compile(&input).map_err(Failure::Parse)?;
    let too_large = || {
        Failure::Write(
            fn_tmp.clone(),
            std::io::Error::from_raw_os_error(libc::EFBIG),
        )
    };
    let mut w = Writer::new();
    for (k, v) in &records {
        w.add(k, v).map_err(|_| too_large())?;
    }
    let bytes = w.finish().map_err(|_| too_large())?;
    let write_err = |e| Failure::Write(fn_tmp.clone(), e);
    tmp.write_all(&bytes).map_err(write_err)?;
    tmp.sync_all().map_err(write_err)?;
    drop(tmp);
    std::fs::rename(&fn_tmp, &fn_cdb).map_err(|e| Failure::Move(fn_tmp.clone(), fn_cdb, e))
}

fn main() -> ExitCode {
    let Err(failure) = run() else {
        return ExitCode::SUCCESS;
    };
    let show = |s: &OsString| String::from_utf8_lossy(s.as_bytes()).into_owned();
    let (code, msg): (u8, Vec<u8>) = match failure {
        Failure::Usage => (
            100,
            b"tcprules: usage: tcprules rules.cdb rules.tmp".to_vec(),
        ),
        Failure::Parse(bad) => {
            let mut m = format!("{FATAL}unable to parse this line: ").into_bytes();
            m.extend_from_slice(bad.shown());
            (100, m)
        }
        Failure::Create(f, e) => (
            111,
            format!("{FATAL}unable to create {}: {}", show(&f), errstr(&e)).into_bytes(),
        ),
        Failure::Read(e) => (
            111,
            format!("{FATAL}unable to read input: {}", errstr(&e)).into_bytes(),
        ),
        Failure::Write(f, e) => (
            111,
            format!("{FATAL}unable to write to {}: {}", show(&f), errstr(&e)).into_bytes(),
        ),
        Failure::Move(a, b, e) => (
            111,
            format!(
                "{FATAL}unable to move {} to {}: {}",
                show(&a),
                show(&b),
                errstr(&e)
            )
            .into_bytes(),
        ),
    };
    let mut err = std::io::stderr().lock();
    let _ = err.write_all(&msg);
    let _ = err.write_all(b"\n");
    ExitCode::from(code)
}
