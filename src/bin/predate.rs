//! predate — run a program with a Date field in front of its input.
//!
//! # Invocation
//! `predate child [ arg ... ]`: runs `child` (found through `PATH`) with
//! its stdin a pipe into which predate writes
//! `Date: D Mon YYYY HH:MM:SS +HHMM` (local time, zone offset rounded to
//! minutes, `-HHMM` west of UTC) and LF, then copies its own stdin
//! (`shared/spec/qmail/inject.md` §4).
//!
//! # Uid and security
//! Runs as the invoking user.
//!
//! # Exit codes
//! The child's exit code; 100 `predate: usage: predate child`; 111
//! `predate: fatal: child crashed`, or when the child cannot be started.
//!
//! # Unsafe
//! One call to `libc::localtime_r` to learn the local zone offset, which
//! neither std nor nix exposes.
//!
//! # See also
//! datemail, sendmail.

#[path = "shared/localtime.rs"]
mod localtime;
use localtime::local_offset;
use std::io::{self, Write};
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Stdio};

fn fatal(msg: &str) -> ! {
    eprintln!("predate: fatal: {msg}");
    std::process::exit(111)
}

fn main() {
    let args: Vec<_> = std::env::args_os().skip(1).collect();
    let Some(prog) = args.first() else {
        eprintln!("predate: usage: predate child");
        std::process::exit(100);
    };
    let mut child = Command::new(prog)
        .args(&args[1..])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| fatal(&format!("unable to run {}: {e}", prog.to_string_lossy())));
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    if let Some(pipe) = child.stdin.take() {
        let mut pipe = io::BufWriter::new(pipe);
        let date = format!(
            "Date: {}\n",
            qmail::date::with_offset(now, local_offset(now))
        );
        // Errors (the child stopped reading) are ignored, as in the original.
        let _ = pipe
            .write_all(date.as_bytes())
            .and_then(|()| io::copy(&mut io::stdin().lock(), &mut pipe).map(drop))
            .and_then(|()| pipe.flush());
    }
    match child.wait() {
        Ok(s) if s.signal().is_some() => fatal("child crashed"),
        Ok(s) => std::process::exit(s.code().unwrap_or(111)),
        Err(e) => fatal(&format!("wait failed: {e}")),
    }
}
