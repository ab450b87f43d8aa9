//! The qmail queue (`shared/spec/qmail/queue.md`): its layout, and
//! injecting into it through qmail-queue (`common.md` §7).

pub mod client;
pub mod layout;

/// Create the whole `/var/qmail` tree, queue included, under
/// `qmail_home` (see [`crate::hier::install`]).
pub fn install(qmail_home: &std::path::Path) -> std::io::Result<()> {
    crate::hier::install(qmail_home)
}
