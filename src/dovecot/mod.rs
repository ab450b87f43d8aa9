//! Dovecot 2.3's IMAP/POP3 subset (`shared/spec/dovecot/`): the parts
//! both protocols share, as Dovecot's `login-common` and `lib-storage`
//! are shared.
//!
//! * [`location`]: `mail_location` / `MAIL` for the Maildir++ layout;
//! * [`io`]: line I/O of the post-login processes;
//! * [`pop3`]: the `pop3` process (TRANSACTION/UPDATE) and `pop3-login`;
//! * [`imap_login`]: `imap-login`'s non-authenticated state.

pub mod config;
pub mod imap_login;
pub mod io;
pub mod location;
pub mod login;
pub mod passdb;
pub mod pop3;
pub mod reply;
pub mod sasl;
pub mod tlsio;
