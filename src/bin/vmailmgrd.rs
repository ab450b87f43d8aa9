//! vmailmgrd — the vmailmgr management daemon: one protocol-2 request per
//! process on stdin, its responses on stdout (check, lookup, listdomain,
//! chattr, adduser2, adduser3, deluser, autoresponse, stat).
//!
//! Invocation: `unixserver -v -- /tmp/.vmailmgrd vmailmgrd [-d|-D] [-v|-V]`
//! as root (`umask 0`). `-d` logs only failed requests, `-D` all (default),
//! `-V` also `Accepted connection` (and forces `-D`). Log lines
//! `[pid] Request: ...` / `[pid] Completed: CODE: message` on stderr, with
//! passwords and messages masked.
//!
//! Security: authenticates every request with the domain owner's (or the
//! virtual user's) password, then switches to the owner's uid, gid
//! (supplementary groups = gid) and home before touching passwd.cdb.
//! The request must arrive within 1 second.
//!
//! Configuration: `/etc/vmailmgr/qmail-root` (control/locals,
//! control/virtualdomains), then the owner's chain.
//!
//! Exit codes: 0 after a handled (or aborted) request; 1 usage errors.
//!
//! See: `shared/spec/vmailmgr/vmailmgrd.md`, `qmail::vmailmgr::daemon`.

use qmail::vmailmgr::cli::{flag, Opt, Spec};

const OPTS: &[Opt] = &[
    flag(
        Some(b'd'),
        None,
        "log",
        "failed",
        "Log only requests that fail",
    ),
    flag(Some(b'D'), None, "log", "all", "Log all requests (default)"),
    flag(
        Some(b'v'),
        None,
        "verbose",
        "0",
        "Log non-verbosely (default)",
    ),
    flag(Some(b'V'), None, "verbose", "1", "Log verbosely"),
];
const SPEC: Spec = Spec {
    prog: "vmailmgrd",
    args_usage: "",
    prefix: "vmailmgr support daemon\n",
    suffix: "",
    opts: OPTS,
    min_args: 0,
    max_args: Some(0),
};

fn main() {
    let argv: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let opts = match qmail::vmailmgr::commands::parse(&SPEC, &argv) {
        Ok(o) => o,
        Err(code) => std::process::exit(code),
    };
    let verbose = opts.str("verbose").as_deref() == Some("1");
    let logging = qmail::vmailmgr::daemon::Logging {
        failures_only: !verbose && opts.str("log").as_deref() == Some("failed"),
        verbose,
    };
    // SIGPIPE is already ignored by the Rust runtime: a vanished client
    // makes the write fail instead of killing the process.
    std::process::exit(qmail::vmailmgr::daemon::serve(
        logging,
        &mut std::io::stderr(),
    ));
}
