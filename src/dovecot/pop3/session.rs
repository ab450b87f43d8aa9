//! The TRANSACTION and UPDATE states of Dovecot's `pop3` process
//! (`shared/spec/dovecot/pop3.md` §2-§4; `src/pop3/pop3-commands.c`,
//! `pop3-client.c`): every reply text, the argument errors, 20 bad
//! commands in a row, QUIT's expunge and `\Seen`; a session that ends
//! without QUIT changes nothing.

use super::fetch::{self, Workarounds};
use super::mailbox::{Expunged, Inbox};
use crate::dovecot::io::{Lines, ReadError};

/// Consecutive bad commands before Dovecot hangs up (`CLIENT_MAX_BAD_COMMANDS`).
const MAX_BAD: u32 = 20;

/// The verbs of the post-login state; anything else is unknown.
const VERBS: &[&str] = &[
    "CAPA", "DELE", "LIST", "NOOP", "QUIT", "RETR", "RSET", "STAT", "TOP", "UIDL",
];

/// Post-login `CAPA` (`POP3_CAPABILITY_REPLY`).
pub const CAPABILITY: &str =
    "CAPA\r\nTOP\r\nUIDL\r\nRESP-CODES\r\nPIPELINING\r\nAUTH-RESP-CODE\r\n";

/// Settings of the `pop3` service that change behaviour.
#[derive(Debug, Clone, Copy, Default)]
pub struct Settings {
    pub workarounds: Workarounds,
    /// `pop3_no_flag_updates`: RETR never sets `\Seen`.
    pub no_flag_updates: bool,
}

/// A command's outcome for the bad-command counter.
enum Outcome {
    Ok,
    Bad,
    Quit,
}

/// How the session ended.
#[derive(Debug, PartialEq, Eq)]
pub enum End {
    Quit,
    Disconnected,
    Timeout,
    TooManyBad,
    LineTooLong,
    StorageError,
}

/// One logged-in POP3 session.
pub struct Session {
    inbox: Inbox,
    set: Settings,
    deleted: Vec<bool>,
    seen: Vec<bool>,
    any_deleted: bool,
    deleted_count: usize,
    deleted_size: u64,
    seen_changes: usize,
    highest_expunged_fetch: usize,
    bad: u32,
}

/// Dovecot's text for storage failures it does not explain to clients.
pub const INTERNAL_ERROR: &str =
    "-ERR [SYS/TEMP] Internal error occurred. Refer to server log for more information.";

/// `str_parse_uint`: the digits at the start and the rest; `None` on
/// overflow.
fn parse_num<T: std::str::FromStr>(s: &str) -> (Option<T>, &str) {
    let n = s.bytes().take_while(u8::is_ascii_digit).count();
    (s[..n].parse().ok(), &s[n..])
}

impl Session {
    pub fn new(inbox: Inbox, set: Settings) -> Session {
        let n = inbox.msgs.len();
        Session {
            inbox,
            set,
            deleted: vec![false; n],
            seen: vec![false; n],
            any_deleted: false,
            deleted_count: 0,
            deleted_size: 0,
            seen_changes: 0,
            highest_expunged_fetch: 0,
            bad: 0,
        }
    }

    /// Serve commands until QUIT, disconnect or an error.
    pub fn run(&mut self, io: &mut dyn Lines) -> End {
        loop {
            let line = match io.read_line() {
                Ok(l) => l,
                Err(e) => {
                    if matches!(e, ReadError::Timeout) {
                        io.line("-ERR Disconnected for inactivity.");
                    } else if matches!(e, ReadError::TooLong) {
                        io.line("-ERR Input line too long.");
                    }
                    io.flush();
                    self.disconnect();
                    return match e {
                        ReadError::Timeout => End::Timeout,
                        ReadError::Closed => End::Disconnected,
                        ReadError::TooLong => End::LineTooLong,
                    };
                }
            };
            let line = String::from_utf8_lossy(&line).into_owned();
            let (name, args) = line.split_once(' ').unwrap_or((&line, ""));
            match self.command(io, &name.to_ascii_uppercase(), args.trim_start_matches(' ')) {
                Outcome::Ok => self.bad = 0,
                Outcome::Bad => {
                    self.bad += 1;
                    if self.bad > MAX_BAD {
                        io.line("-ERR Too many bad commands.");
                        io.flush();
                        self.disconnect();
                        return End::TooManyBad;
                    }
                }
                Outcome::Quit => {
                    io.flush();
                    return if io.broken() {
                        End::StorageError
                    } else {
                        End::Quit
                    };
                }
            }
            if io.broken() {
                self.disconnect();
                return End::Disconnected;
            }
        }
    }

    /// The client left without QUIT: nothing changes, neither DELE nor
    /// RETR's `\Seen` (Dovecot 2.3.19 keeps the latter in its index only,
    /// never in the file name).
    fn disconnect(&mut self) {
        self.seen_changes = 0;
    }

    fn command(&mut self, io: &mut dyn Lines, name: &str, args: &str) -> Outcome {
        if !VERBS.contains(&name) {
            io.line(&format!("-ERR Unknown command: {name}"));
            return Outcome::Bad;
        }
        match name {
            "CAPA" => {
                io.out(b"+OK\r\n");
                io.out(CAPABILITY.as_bytes());
                io.line(".");
                Outcome::Ok
            }
            "DELE" => self.dele(io, args),
            "LIST" => self.list(io, args),
            "NOOP" => {
                io.line("+OK");
                Outcome::Ok
            }
            "QUIT" => self.quit(io),
            "RETR" => self.retr(io, args),
            "RSET" => self.rset(io),
            "STAT" => {
                let count = self.inbox.msgs.len() - self.deleted_count;
                let total: u64 = self.inbox.msgs.iter().map(|m| m.size).sum();
                io.line(&format!("+OK {count} {}", total - self.deleted_size));
                Outcome::Ok
            }
            "TOP" => self.top(io, args),
            _ => self.uidl(io, args),
        }
    }

    /// `get_msgnum()`: the 0-based number and the rest after blanks.
    fn msgnum<'a>(
        &self,
        io: &mut dyn Lines,
        args: &'a str,
        then_space: bool,
    ) -> Option<(usize, &'a str)> {
        if !args.starts_with(|c: char| c.is_ascii_digit()) {
            io.line(&format!("-ERR Invalid message number: {args}"));
            return None;
        }
        let (num, rest) = parse_num::<u32>(args);
        let Some(num) = num else {
            io.line(&format!("-ERR Message number too large: {rest}"));
            return None;
        };
        let ok_end = if then_space {
            rest.starts_with(' ')
        } else {
            rest.is_empty()
        };
        if !ok_end {
            io.line(&format!("-ERR Noise after message number: {rest}"));
            return None;
        }
        if num == 0 || num as usize > self.inbox.msgs.len() {
            io.line(&format!("-ERR There's no message {num}."));
            return None;
        }
        let n = num as usize - 1;
        if self.deleted[n] {
            io.line("-ERR Message is deleted.");
            return None;
        }
        Some((n, rest.trim_start_matches(' ')))
    }

    fn dele(&mut self, io: &mut dyn Lines, args: &str) -> Outcome {
        let Some((n, _)) = self.msgnum(io, args, false) else {
            return Outcome::Bad;
        };
        self.deleted[n] = true;
        self.any_deleted = true;
        self.deleted_count += 1;
        self.deleted_size += self.inbox.msgs[n].size;
        io.line("+OK Marked to be deleted.");
        Outcome::Ok
    }

    fn list(&mut self, io: &mut dyn Lines, args: &str) -> Outcome {
        if args.is_empty() {
            io.line(&format!(
                "+OK {} messages:",
                self.inbox.msgs.len() - self.deleted_count
            ));
            for (i, m) in self.inbox.msgs.iter().enumerate() {
                if !self.deleted[i] {
                    io.line(&format!("{} {}", i + 1, m.size));
                }
            }
            io.line(".");
            return Outcome::Ok;
        }
        let Some((n, _)) = self.msgnum(io, args, false) else {
            return Outcome::Bad;
        };
        io.line(&format!("+OK {} {}", n + 1, self.inbox.msgs[n].size));
        Outcome::Ok
    }

    fn uidl(&mut self, io: &mut dyn Lines, args: &str) -> Outcome {
        if args.is_empty() {
            io.line("+OK");
            for (i, m) in self.inbox.msgs.iter().enumerate() {
                if !self.deleted[i] {
                    io.line(&format!("{} {}", i + 1, m.uidl));
                }
            }
            io.line(".");
            return Outcome::Ok;
        }
        let Some((n, _)) = self.msgnum(io, args, false) else {
            return Outcome::Bad;
        };
        io.line(&format!("+OK {} {}", n + 1, self.inbox.msgs[n].uidl));
        Outcome::Ok
    }

    fn retr(&mut self, io: &mut dyn Lines, args: &str) -> Outcome {
        let Some((n, _)) = self.msgnum(io, args, false) else {
            return Outcome::Bad;
        };
        self.fetch(io, n, None)
    }

    fn top(&mut self, io: &mut dyn Lines, args: &str) -> Outcome {
        let Some((n, rest)) = self.msgnum(io, args, true) else {
            return Outcome::Bad;
        };
        if !rest.starts_with(|c: char| c.is_ascii_digit()) {
            io.line(&format!("-ERR Invalid size: {rest}"));
            return Outcome::Bad;
        }
        let (lines, after) = parse_num::<u64>(rest);
        let Some(lines) = lines else {
            io.line(&format!("-ERR Size too large: {rest}"));
            return Outcome::Bad;
        };
        if !after.is_empty() {
            io.line(&format!("-ERR Noise after size: {after}"));
            return Outcome::Bad;
        }
        self.fetch(io, n, Some(lines))
    }

    fn fetch(&mut self, io: &mut dyn Lines, n: usize, top: Option<u64>) -> Outcome {
        let data = match self.inbox.read(n) {
            Ok(d) => d,
            Err(Expunged) => {
                io.line(&format!("-ERR Message {} expunged.", n + 1));
                // Fetching an expunged message again counts as an error.
                if n <= self.highest_expunged_fetch {
                    return Outcome::Bad;
                }
                self.highest_expunged_fetch = n;
                return Outcome::Ok;
            }
        };
        match top {
            None => {
                if !self.set.no_flag_updates && !self.inbox.msgs[n].seen && !self.seen[n] {
                    self.seen[n] = true;
                    self.seen_changes += 1;
                }
                io.line(&format!("+OK {} octets", self.inbox.msgs[n].size));
            }
            Some(_) => io.line("+OK"),
        }
        let mut out = Vec::with_capacity(data.len() + data.len() / 32 + 8);
        fetch::write(&data, top, self.set.workarounds, &mut out);
        io.out(&out);
        Outcome::Ok
    }

    fn rset(&mut self, io: &mut dyn Lines) -> Outcome {
        if self.any_deleted {
            self.any_deleted = false;
            self.deleted.iter_mut().for_each(|d| *d = false);
            self.deleted_count = 0;
            self.deleted_size = 0;
        }
        if self.seen_changes > 0 {
            self.seen.iter_mut().for_each(|s| *s = false);
            self.seen_changes = 0;
        }
        io.line("+OK");
        Outcome::Ok
    }

    fn quit(&mut self, io: &mut dyn Lines) -> Outcome {
        // Deleted messages do not also get \Seen.
        let seen: Vec<bool> = self
            .seen
            .iter()
            .zip(&self.deleted)
            .map(|(s, d)| *s && !d)
            .collect();
        if let Err(e) = self.inbox.commit(&self.deleted, &seen) {
            eprintln!("pop3: {}: {e}", self.inbox.path().display());
            io.line(INTERNAL_ERROR);
            return Outcome::Quit;
        }
        self.seen_changes = 0;
        if self.any_deleted {
            io.line("+OK Logging out, messages deleted.");
        } else {
            io.line("+OK Logging out.");
        }
        Outcome::Quit
    }
}
