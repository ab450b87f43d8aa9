//! ucspi-tcp 0.88 (and its IPv6 variant): the pieces behind `tcpserver`,
//! `tcprules` and `tcprulescheck`.
//!
//! * [`rules`] — format: the tcprules source language, rules.cdb records,
//!   and the key order tcpserver looks connections up in.
//! * [`errstr`] — djb's error texts, which all of ucspi-tcp's messages use.
//! * [`server`] — mechanism: options, listening socket, the accept loop
//!   with its connection limit and log lines, and the per-connection child
//!   that sets the `TCP*` environment and runs the program.

pub mod errstr;
pub mod rules;
