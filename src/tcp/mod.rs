//! ucspi-tcp 0.88 (and its IPv6 variant): the pieces behind `tcpserver`,
//! `tcprules` and `tcprulescheck`.
//!
//! * [`rules`] — format: the tcprules source language, rules.cdb records,
//!   and the key order tcpserver looks connections up in.
//! * [`options`] — tcpserver's command line.
//! * [`rblsmtpd`] — the DNS blocklist gate in front of an SMTP server.
//! * [`filters`] — addcr, delcr, fixcrio and recordio.
//! * [`client`] — tcpclient: connect, the `TCP*` environment, fds 6 and 7.
//! * [`errstr`] — djb's error texts, which all of ucspi-tcp's messages use.
//! * [`server`] — mechanism: listening socket, privilege drop, the accept
//!   loop with its connection limit and log lines.
//! * [`conn`] — the per-connection child: `TCP*` environment, rules,
//!   log line, exec; [`ident`] looks up TCPREMOTEINFO.

pub mod builtin;
pub mod client;
pub mod conn;
pub mod errstr;
pub mod filters;
pub mod ident;
pub mod options;
pub mod rblsmtpd;
pub mod rules;
pub mod server;
pub mod workers;
