//! qmail-send and its helpers (`shared/spec/qmail/send.md`): the spawner
//! protocol, the scheduler, retries, bounces and the log lines.

pub mod bounce;
pub mod clean;
pub mod done;
pub mod engine;
pub mod log;
pub mod rewrite;
pub mod rspawn;
pub mod spawn;
pub mod splogger;
pub mod todo;
pub mod trigger;
