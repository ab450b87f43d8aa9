//! qmail-qmqpc — hand a message to a QMQP server (mini-qmail).
//!
//! Invocation: as qmail-queue (`QMAILQUEUE=bin/qmail-qmqpc`, or installed
//! in its place): message on fd 0, envelope on fd 1. Sends it to the
//! first reachable server of `control/qmqpservers` (IPv4 addresses, port
//! 628, 10 s connect and 60 s I/O timeouts).
//!
//! Control files: `qmqpservers` (required), `me`.
//!
//! Exit codes (qmail-queue's): 0 accepted, 71 temporary and 31 permanent
//! refusal, 51 out of memory, 54 read error, 55 control error, 56 socket
//! error, 61 home directory, 72 connect timeout, 73 connection refused,
//! 74 communication error, 91 envelope format error.
//!
//! Test override (not set-uid only): `QMAILRS_QMQP_PORT`.
//!
//! See also: qmail-qmqpd, qmail-queue (`binaries.md` §QMQP).

use std::io::Read;
use std::os::fd::AsFd;

use qmail::control::Control;
use qmail::qmqp::client::{exit, read_envelope, request, send_to, PORT, PORT_ENV};

fn run() -> i32 {
    let home = qmail::root::qmail_home();
    if !home.is_dir() {
        return exit::HOME;
    }
    let Ok(control) = Control::at(home.join("control")) else {
        return exit::CONTROL;
    };
    let servers = match control.read_list("qmqpservers", false) {
        Ok(Some(s)) => s,
        _ => return exit::CONTROL,
    };
    let mut message = Vec::new();
    if std::io::stdin().lock().read_to_end(&mut message).is_err() {
        return exit::READ;
    }
    let Ok(fd1) = std::io::stdout().as_fd().try_clone_to_owned() else {
        return exit::READ;
    };
    let envelope = match read_envelope(&mut std::fs::File::from(fd1)) {
        Ok(e) => e,
        Err(code) => return code,
    };
    let req = match request(&message, &envelope) {
        Ok(r) => r,
        Err(code) => return code,
    };
    let port = if qmail::root::is_privileged_exec() {
        PORT
    } else {
        std::env::var(PORT_ENV)
            .ok()
            .and_then(|p| p.parse().ok())
            .unwrap_or(PORT)
    };
    send_to(&servers, &req, port)
}

fn main() {
    std::process::exit(run());
}
