//! Dovecot's POP3 (`shared/spec/dovecot/pop3.md`): the post-login
//! `pop3` process ([`session`] over [`mailbox`], with [`fetch`] and
//! [`uidl`] as its formats).
//!
//! Not qmail's qmail-popup/qmail-pop3d, which live in `crate::pop3`.

pub mod fetch;
pub mod login;
pub mod mailbox;
pub mod session;
pub mod uidl;
