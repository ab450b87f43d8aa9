//! qmail-smtpd — receive mail via SMTP (netqmail 1.06 with Vermeulen's
//! STARTTLS 20231230, fehcom's SMTP AUTH 0.8.3, force-tls and the
//! validrcptto.cdb check). Specification: `shared/spec/qmail/smtpd.md`.
//!
//! # Invocation
//! `qmail-smtpd [ checkprogram subprogram [ arg ... ] ]`, or the older
//! `qmail-smtpd hostname checkprogram subprogram [ arg ... ]` (told apart
//! by argv[1]: a host name is not an executable path or a program found in
//! PATH, while argv[2] is; the host name then goes into the CRAM-MD5
//! challenge). Started by tcpserver once per connection: the client on
//! fd 0 (read) and fd 1 (write), the log on fd 2.
//!
//! Environment: `TCPREMOTEIP`, `TCPREMOTEHOST`, `TCPREMOTEINFO`,
//! `TCPLOCALHOST`, `TCPLOCALIP`, `RELAYCLIENT`, `DATABYTES`, `SMTPAUTH`,
//! `FORCETLS`, `SMTPS`, `TLSCIPHERS`, `VALIDRCPTTO_CDB`,
//! `VALIDRCPTTO_LIMIT`, `QMAILQUEUE`; `QMAILRS_ROOT` moves /var/qmail.
//!
//! # Security
//! Runs as whatever uid tcpserver gave it (qmaild, group nofiles); needs
//! read access to control/ and, for STARTTLS, to servercert.pem. Starts
//! qmail-queue (set-uid qmailq) and the checkpassword program.
//!
//! # Control files
//! me, smtpgreeting, localiphost, timeoutsmtpd, rcpthosts,
//! morercpthosts.cdb, badmailfrom, databytes, validrcptto.cdb,
//! servercert.pem, tlsserverciphers (see `qmail::smtp::config::CONTROLS`).
//!
//! # Exit codes
//! 0 after QUIT; 1 when the client goes away, times out, or start-up
//! fails (after a `421` reply).
//!
//! # See also
//! qmail-queue(8), tcpserver(1), checkpassword, checkvpw(8).

/// Restore the default SIGCHLD disposition. A parent that ignores
/// SIGCHLD (some test harnesses and `--pipe` clients do) would otherwise
/// make the kernel reap our children, and waiting for qmail-queue or the
/// checkpassword program would fail.
fn default_sigchld() {
    use nix::sys::signal::{signal, SigHandler, Signal};
    // SAFETY: installing SIG_DFL runs no handler code, so none of the
    // async-signal-safety requirements of `signal` apply.
    let _ = unsafe { signal(Signal::SIGCHLD, SigHandler::SigDfl) };
}

fn main() {
    // tcpserver runs this binary's code in-process (no exec) when it
    // finds this marker in the program file: see qmail::tcp::builtin.
    qmail::declare_builtin!("qmail-smtpd");
    default_sigchld();
    std::process::exit(qmail::smtp::program::main(
        std::env::args_os().skip(1).collect(),
    ));
}
