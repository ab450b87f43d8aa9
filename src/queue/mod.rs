//! The qmail queue (`shared/spec/qmail/queue.md`): its layout and record
//! files, putting messages in (qmail-queue), injecting through
//! qmail-queue (`common.md` §7) or the resident qmail-queued, walking it,
//! and cleaning up after crashed injections.

pub mod cleanup;
pub mod client;
pub mod daemon;
pub mod enqueue;
pub mod files;
pub mod layout;
pub mod scan;
pub mod syncer;

pub use cleanup::cleanup;

/// Create the whole `/var/qmail` tree, queue included, under
/// `qmail_home` (see [`crate::hier::install`]).
pub fn install(qmail_home: &std::path::Path) -> std::io::Result<()> {
    crate::hier::install(qmail_home)
}
