//! QMQP (`binaries.md` §QMQP; QMQP by D. J. Bernstein): one message per
//! connection, for mini-qmail nodes that hand everything to a central
//! queue.
//!
//! ```text
//! request  = netstring( netstring(message) netstring(sender) *netstring(recipient) )
//! response = netstring( ( "K" / "Z" / "D" ) text )
//! ```
//! [`server`] is qmail-qmqpd's session, [`client`] qmail-qmqpc's.

pub mod client;
pub mod server;
