//! Every fixed reply qmail-smtpd sends, verbatim with its CRLF
//! (`shared/spec/qmail/smtpd.md` §14). Kept once: the session, the tests
//! and the conformance replay all use these.

pub const TIMEOUT: &str = "451 timeout (#4.4.2)\r\n";
pub const NOMEM: &str = "421 out of memory (#4.3.0)\r\n";
pub const CONTROL: &str = "421 unable to read controls (#4.3.0)\r\n";
pub const IPME: &str = "421 unable to figure out my IP addresses (#4.3.0)\r\n";
pub const STRAY_NEWLINE: &str = "451 See http://pobox.com/~djb/docs/smtplf.html.\r\n";

pub const SIZE: &str = "552 sorry, that message size exceeds my databytes limit (#5.3.4)\r\n";
pub const BMF: &str = "553 sorry, your envelope sender is in my badmailfrom list (#5.7.1)\r\n";
/// The rcpthosts refusal, without its ` (#5.7.1)` tail (TLS may add text).
pub const NOGATEWAY_HEAD: &str = "553 sorry, that domain isn't in my list of allowed rcpthosts";
pub const NOGATEWAY_TAIL: &str = " (#5.7.1)\r\n";
pub const NOGATEWAY_TLS: &str = "; no valid cert for gatewaying";
pub const UNIMPL: &str = "502 unimplemented (#5.5.1)\r\n";
pub const SYNTAX: &str = "555 syntax error (#5.5.4)\r\n";
pub const WANT_MAIL: &str = "503 MAIL first (#5.5.1)\r\n";
pub const WANT_RCPT: &str = "503 RCPT first (#5.5.1)\r\n";
pub const OK: &str = "250 ok\r\n";
pub const VRFY: &str = "252 send some mail, i'll try my best\r\n";
pub const QQT: &str = "451 qqt failure (#4.3.0)\r\n";
pub const HELP: &str = "214 netqmail home page: http://qmail.org/netqmail\r\n";
pub const FLUSHED: &str = "250 flushed\r\n";
pub const GO_AHEAD: &str = "354 go ahead\r\n";
pub const HOPS: &str = "554 too many hops, this message is looping (#5.4.6)\r\n";

pub const VALIDRCPTTO: &str =
    "553 sorry, this recipient is not in my validrcptto list (#5.7.1)\r\n";
pub const VALIDRCPTTO_LIMIT: &str = "421 too many invalid addresses, goodbye (#4.3.0)\r\n";

pub const TLS_READY: &str = "220 ready for tls\r\n";
pub const TLS_PARAMS: &str = "501 Syntax error (no parameters allowed) (#5.5.4)\r\n";

pub const AUTH_CHILD: &str = "454 oops, problem with child and I can't auth (#4.3.0)\r\n";
pub const AUTH_FORK: &str = "454 oops, child won't start and I can't auth (#4.3.0)\r\n";
pub const AUTH_PIPE: &str = "454 oops, unable to open pipe and I can't auth (#4.3.0)\r\n";
pub const AUTH_WRITE: &str = "454 oops, unable to write pipe and I can't auth (#4.3.0)\r\n";
pub const AUTH_ALREADY: &str = "503 you're already authenticated (#5.5.0)\r\n";
pub const AUTH_IN_MAIL: &str = "503 no auth during mail transaction (#5.5.0)\r\n";
pub const AUTH_TYPE: &str = "504 auth type invalid (#5.5.1)\r\n";
pub const AUTH_CANCELED: &str = "501 auth exchange canceled (#5.0.0)\r\n";
pub const AUTH_INPUT: &str = "501 malformed auth input (#5.5.4)\r\n";
pub const AUTH_FAILED: &str = "535 authentication failed (#5.7.1)\r\n";
/// Note the space before CRLF: it is in the original.
pub const AUTH_REQUIRED: &str = "530 Authorization required (#5.7.1) \r\n";
pub const AUTH_UNAVAILABLE: &str = "503 auth not available (#5.3.3)\r\n";
pub const AUTH_NEEDS_TLS: &str = "538 auth not available without TLS (#5.3.3)\r\n";
pub const AUTH_OK: &str = "235 ok, go ahead (#2.0.0)\r\n";
pub const AUTH_USERNAME: &str = "334 VXNlcm5hbWU6\r\n";
pub const AUTH_PASSWORD: &str = "334 UGFzc3dvcmQ6\r\n";
pub const AUTH_PLAIN_PROMPT: &str = "334 \r\n";

/// `454 TLS WHAT[: ERR] (#4.3.0)`.
pub fn tls(what: &str, err: Option<&str>) -> String {
    match err {
        Some(e) => format!("454 TLS {what}: {e} (#4.3.0)\r\n"),
        None => format!("454 TLS {what} (#4.3.0)\r\n"),
    }
}

/// `250 ok TIME qp PID` after an accepted message.
pub fn accepted(when: u64, qp: u32) -> String {
    format!("250 ok {when} qp {qp}\r\n")
}
