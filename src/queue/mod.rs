//! The qmail queue (`shared/spec/qmail/queue.md`): its layout, and
//! injecting into it through qmail-queue (`common.md` §7).

pub mod client;
pub mod layout;
