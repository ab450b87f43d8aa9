//! The post-login IMAP server, as Dovecot 2.3's `imap` process
//! (`shared/spec/dovecot/imap.md`): started preauthenticated for one user
//! with the Maildir++ account at `~/Maildir`, it greets with `* PREAUTH`,
//! reads commands from the client and answers with Dovecot's texts
//! (tagged replies carry Dovecot's timing suffix).
//!
//! * [`parse`] / [`io`]: command syntax and reading (literals, LITERAL+);
//! * [`folders`]: the Maildir++ namespace (LIST, names, paths);
//! * [`session`]: state and the command dispatcher;
//! * [`mailbox`]: the selected mailbox (flags, keywords, expunge);
//! * [`message`]: message parsing for FETCH and SEARCH;
//! * [`fetch`], [`search`], [`copy`] (COPY, MOVE, APPEND): those commands;
//! * [`input`]: client input that IDLE can wait on.

pub mod copy;
pub mod fetch;
pub mod folders;
pub mod input;
pub mod io;
pub mod mailbox;
pub mod message;
pub mod parse;
pub mod search;
pub mod session;

pub use session::{idle_timeout, Config, Session, IDLE_TIMEOUT};

/// The capabilities we advertise after login, in Dovecot's order (its
/// list minus what we do not implement: SORT, THREAD, CONDSTORE,
/// QRESYNC, CATENATE, NOTIFY, ...).
pub const CAPABILITY: &str = "IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE UNSELECT CHILDREN NAMESPACE UIDPLUS LIST-EXTENDED ESEARCH LIST-STATUS MOVE LITERAL+ SPECIAL-USE";

/// Dovecot 2.3.19's own post-login list (the recordings have it).
pub const DOVECOT_CAPABILITY: &str = "IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE SORT SORT=DISPLAY THREAD=REFERENCES THREAD=REFS THREAD=ORDEREDSUBJECT MULTIAPPEND URL-PARTIAL CATENATE UNSELECT CHILDREN NAMESPACE UIDPLUS LIST-EXTENDED I18NLEVEL=1 CONDSTORE QRESYNC ESEARCH ESORT SEARCHRES WITHIN CONTEXT=SEARCH LIST-STATUS BINARY MOVE SNIPPET=FUZZY PREVIEW=FUZZY PREVIEW STATUS=SIZE SAVEDATE LITERAL+ NOTIFY SPECIAL-USE";
