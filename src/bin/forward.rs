//! forward — forward new mail to one or more addresses.
//!
//! # Invocation
//! `forward address ...` from a `.qmail` program line. Queues `$DTLINE` +
//! stdin (from its current position) from `$NEWSENDER` to the addresses.
//!
//! # Exit codes
//! 0 queued (`forward: qp N` on stderr); 100 usage, missing environment
//! or a permanent queue error; 111 a temporary error.

use std::io::Write;
use std::os::unix::ffi::OsStringExt;

use qmail::local::tools;

fn die(code: i32, msg: &str) -> ! {
    let _ = writeln!(std::io::stderr(), "forward: {msg}");
    std::process::exit(code);
}

fn main() {
    let addrs: Vec<Vec<u8>> = std::env::args_os().skip(1).map(|a| a.into_vec()).collect();
    if addrs.is_empty() {
        die(100, "usage: forward address [ address ... ]");
    }
    let Some(sender) = std::env::var_os("NEWSENDER") else {
        die(100, "fatal: NEWSENDER not set");
    };
    let Some(dtline) = std::env::var_os("DTLINE") else {
        die(100, "fatal: DTLINE not set");
    };
    match tools::requeue(
        &dtline.into_vec(),
        &mut std::io::stdin(),
        &sender.into_vec(),
        addrs,
    ) {
        Ok(qp) => die(0, &format!("qp {qp}")),
        Err(f) => die(f.code, &format!("fatal: {}", f.text)),
    }
}
