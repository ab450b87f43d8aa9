//! qmail-rs: a drop-in replacement for netqmail 1.06 (+ STARTTLS, SMTP AUTH,
//! validrcptto.cdb), vmailmgr 0.97 and the IMAP/POP3 subset of Dovecot 2.3.
//!
//! Three layers, arrows pointing down only (see `../shared/DESIGN.md`):
//! programs (`src/bin/*`) → mechanisms → formats. A format module knows no
//! process, socket or uid.
#![forbid(unsafe_code)]

// Formats: pure codecs, no file system, sockets, uids or clocks.
pub mod cdb;
pub mod dotqmail;
pub mod mbox;
pub mod quote;

// Mechanisms and environment.
pub mod checkpassword;
pub mod conformance;
pub mod control;
pub mod crypt;
pub mod date;
pub mod dns;
pub mod dovecot;
pub mod envelope;
pub mod errstr;
pub mod fds;
pub mod hier;
pub mod ids;
pub mod imap;
pub mod inject;
pub mod ipme;
pub mod local;
pub mod maildir;
pub mod netstring;
pub mod pop3;
pub mod qmqp;
pub mod qmtp;
pub mod queue;
pub mod remote;
pub mod root;
pub mod send;
pub mod tcp;
pub mod tcpto;
pub mod users;
pub mod validrcptto_gen;
pub mod vmailmgr;

// SMTP server, TLS and SMTP AUTH (qmail-smtpd).
pub mod auth;
pub mod smtp;
pub mod tls;
