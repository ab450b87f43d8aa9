//! qmail-send and its helpers (`shared/spec/qmail/send.md`): the spawner
//! protocol, the scheduler, retries, bounces and the log lines.

pub mod rspawn;
pub mod spawn;
