//! The SMTP server of qmail-smtpd (netqmail 1.06, Vermeulen TLS 20231230,
//! fehcom AUTH 0.8.3, force-tls, validrcptto.cdb), split by concern.
//! The behaviour is specified in `shared/spec/qmail/smtpd.md`.
//!
//! * [`command`]: command lines and the verb table;
//! * [`reply`]: every fixed reply;
//! * [`addr`]: MAIL/RCPT argument parsing;
//! * [`policy`]: badmailfrom, rcpthosts, local addresses;
//! * [`validrcptto`]: the recipient table;
//! * [`data`]: the DATA byte stream;
//! * [`received`]: the Received line;
//! * [`config`]: controls and environment read at start;
//! * [`session`]: the session itself, with AUTH and STARTTLS beside it;
//! * [`program`]: qmail-smtpd's `main`.

pub mod addr;
mod auth_cmd;
pub mod command;
pub mod config;
pub mod data;
pub mod policy;
pub mod program;
pub mod received;
pub mod reply;
pub mod session;
mod tls_cmd;
pub mod validrcptto;
