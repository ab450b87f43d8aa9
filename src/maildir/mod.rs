//! Maildir: the store shared by qmail-local, vdeliver and the IMAP/POP3
//! side (`shared/spec/dovecot/maildir.md`, `qmail/local.md` §2.6).
//!
//! Split by concern, as Dovecot does; `save` is the tmp → new delivery
//! primitive every writer uses.

pub mod save;
pub mod scan;

// Dovecot's Maildir++ files (`shared/spec/dovecot/maildir.md`).
pub mod dotlock;
pub mod filename;
pub mod keywords;
pub mod subscriptions;
pub mod sync;
pub mod uidlist;
pub mod uidvalidity;
