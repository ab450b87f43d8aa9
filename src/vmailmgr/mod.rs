//! vmailmgr 0.97 (`shared/spec/vmailmgr/`): the passwd.cdb record codec,
//! the table, the configuration chain, and the logic of every program.
//!
//! Formats: [`vpwentry`]. Mechanisms: [`passwd`], [`config`], [`domain`],
//! [`account`], the programs' logic in [`commands`], [`deliver`],
//! [`checkvpw`], [`daemon`].

pub mod vpwentry;

pub mod account;
pub mod authvmailmgr;
pub mod cgi;
pub mod checkvpw;
pub mod cli;
pub mod client;
pub mod commands;
pub mod config;
pub mod daemon;
pub mod deliver;
pub mod domain;
pub mod passwd;
