//! One IMAP session after login: the command loop, tagged replies with
//! Dovecot's timing suffix, the bad-command limit, and the commands that
//! do not need message contents (CAPABILITY, NOOP, LOGOUT, NAMESPACE, ID,
//! ENABLE, LIST/LSUB, STATUS, SELECT/EXAMINE, CREATE/DELETE/RENAME,
//! (UN)SUBSCRIBE, STORE, EXPUNGE, CLOSE, UNSELECT, CHECK). FETCH and
//! SEARCH live in their modules.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use super::folders;
use super::input::Wait;
use super::io::{read_command, read_line, Input, MAX_LINE};
use super::mailbox::{Selected, SYSTEM};
use super::parse::{self, Arg, Head};
use crate::maildir::filename::Flags;
use crate::maildir::subscriptions;
use crate::maildir::sync;

/// Consecutive BAD replies before `* BYE Too many invalid IMAP commands.`
pub const MAX_BAD: u32 = 20;

/// Dovecot's `CLIENT_IDLE_TIMEOUT_MSECS`: no command for this long ends
/// the session with `* BYE Disconnected for inactivity.` (not while in
/// IDLE, which Dovecot never times out).
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(30 * 60);

/// The environment variable that shortens [`IDLE_TIMEOUT`] for tests
/// (seconds), honoured only when the program does not run set-uid.
pub const IDLE_TIMEOUT_ENV: &str = "QMAILRS_IMAP_IDLE_TIMEOUT";

/// The idle timeout: [`IDLE_TIMEOUT`], or the seconds in
/// [`IDLE_TIMEOUT_ENV`] when the process is not set-uid/set-gid (a test
/// must not wait 30 minutes; a set-uid program must not let its caller
/// choose).
pub fn idle_timeout() -> Duration {
    let setuid = nix::unistd::getuid() != nix::unistd::geteuid()
        || nix::unistd::getgid() != nix::unistd::getegid();
    std::env::var(IDLE_TIMEOUT_ENV)
        .ok()
        .filter(|_| !setuid)
        .and_then(|v| v.parse::<u64>().ok())
        .filter(|&n| n > 0)
        .map_or(IDLE_TIMEOUT, Duration::from_secs)
}

/// Who and where.
#[derive(Debug, Clone)]
pub struct Config {
    pub user: String,
    /// The account's Maildir (INBOX).
    pub root: PathBuf,
    /// Seconds east of UTC of the local zone at a time (INTERNALDATE).
    pub tz: fn(i64) -> i64,
    /// The capability string.
    pub capability: String,
    /// The client's login tag when a login process handed the session
    /// over (`IMAPLOGINTAG`): greet with its tagged OK instead of
    /// PREAUTH.
    pub login_tag: Option<String>,
    /// See [`IDLE_TIMEOUT`].
    pub idle_timeout: Duration,
}

/// A command's outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    Ok(String),
    No(String),
    Bad(String),
    /// Close after the tagged reply (LOGOUT, selected mailbox deleted).
    OkThenBye(String, Option<String>),
}

/// Shorthand for the BAD syntax texts.
pub fn bad(cmd: &str, why: &str) -> Reply {
    Reply::Bad(format!("Error in IMAP command {cmd}: {why}"))
}

/// An I/O error as Dovecot words an internal failure.
pub fn internal(e: &io::Error) -> Reply {
    eprintln!("imap: {e}");
    Reply::No(
        "[SERVERBUG] Internal error occurred. Refer to server log for more information.".into(),
    )
}

/// The session.
pub struct Session<R, W> {
    pub r: R,
    pub w: W,
    pub cfg: Config,
    pub sel: Option<Selected>,
    bad: u32,
    done: bool,
    /// mtimes of the selected mailbox's new/, cur/, uidlist, keywords at
    /// the last sync (IDLE/NOOP look again only when one changed).
    stamp: Vec<Option<SystemTime>>,
    /// What Dovecot's list index would remember (LIST order, ghosts).
    list: folders::ListState,
}

/// ` (0.001 + 0.000 secs).` in place of the text's final dot.
fn timing(text: &str, started: Instant) -> String {
    let ms = started.elapsed().as_millis();
    let base = text.strip_suffix('.').unwrap_or(text);
    format!("{base} ({}.{:03} + 0.000 secs).", ms / 1000, ms % 1000)
}

impl<R: Wait, W: Write> Session<R, W> {
    pub fn new(r: R, w: W, cfg: Config) -> Self {
        Session {
            r,
            w,
            cfg,
            sel: None,
            bad: 0,
            done: false,
            stamp: Vec::new(),
            list: folders::ListState::default(),
        }
    }

    pub fn out(&mut self, line: &str) -> io::Result<()> {
        self.w.write_all(line.as_bytes())?;
        self.w.write_all(b"\r\n")
    }

    /// Greet and serve until LOGOUT or end of input.
    pub fn run(&mut self) -> io::Result<()> {
        let greet = match &self.cfg.login_tag {
            Some(tag) => format!("{tag} OK [CAPABILITY {}] Logged in", self.cfg.capability),
            None => format!(
                "* PREAUTH [CAPABILITY {}] Logged in as {}",
                self.cfg.capability, self.cfg.user
            ),
        };
        self.out(&greet)?;
        self.serve()
    }

    /// Serve commands until LOGOUT or end of input, the greeting already
    /// sent (a login process that words it itself).
    pub fn serve(&mut self) -> io::Result<()> {
        self.w.flush()?;
        while !self.done {
            if !self.await_command()? {
                self.out("* BYE Disconnected for inactivity.")?;
                break;
            }
            let root = self.cfg.root.clone();
            let got = {
                let (r, w) = (&mut self.r, &mut self.w);
                read_command(r, w, &mut |cmd| {
                    let (tag, reply) = super::copy::append_check(&root, cmd)?;
                    let (kind, text) = match &reply {
                        Reply::No(t) => ("NO", t.clone()),
                        Reply::Bad(t) => ("BAD", t.clone()),
                        Reply::Ok(t) | Reply::OkThenBye(t, _) => ("OK", t.clone()),
                    };
                    Some(format!("{tag} {kind} {}\r\n", timing(&text, Instant::now())).into_bytes())
                })?
            };
            let started = Instant::now();
            let line = match got {
                Ok(Input::Command(c)) => c,
                Ok(Input::Eof) => break,
                Ok(Input::TooLong) => {
                    self.out("* BYE Too long argument.")?;
                    break;
                }
                Err(e) => {
                    self.w.write_all(&e)?;
                    self.w.flush()?;
                    continue;
                }
            };
            self.command(&line, started)?;
            self.w.flush()?;
        }
        self.w.flush()
    }

    /// Wait for the next command's first bytes; false after
    /// [`Config::idle_timeout`] without any (the wait goes in steps, as
    /// a reader may cap one wait).
    fn await_command(&mut self) -> io::Result<bool> {
        let deadline = Instant::now() + self.cfg.idle_timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(false);
            }
            if self.r.wait(left)? {
                return Ok(true);
            }
        }
    }

    fn tagged(&mut self, tag: &str, reply: Reply, started: Instant) -> io::Result<()> {
        let (kind, text) = match &reply {
            Reply::Ok(t) | Reply::OkThenBye(t, _) => ("OK", t),
            Reply::No(t) => ("NO", t),
            Reply::Bad(t) => ("BAD", t),
        };
        if kind == "BAD" {
            self.bad += 1;
            if self.bad > MAX_BAD {
                self.done = true;
                return self.out("* BYE Too many invalid IMAP commands.");
            }
        } else {
            self.bad = 0;
        }
        let line = format!("{tag} {kind} {}", timing(text, started));
        self.out(&line)?;
        if let Reply::OkThenBye(_, bye) = reply {
            if let Some(b) = bye {
                self.out(&b)?;
            }
            self.done = true;
        }
        Ok(())
    }

    fn command(&mut self, line: &[u8], started: Instant) -> io::Result<()> {
        let (tag, name, rest) = match parse::head(line) {
            Head::BadTag => {
                return self.tagged(
                    "*",
                    Reply::Bad("Error in IMAP tag: Invalid tag".into()),
                    started,
                )
            }
            Head::BadName(tag) => {
                return self.tagged(
                    &tag,
                    Reply::Bad("Error in IMAP command: Invalid command name".into()),
                    started,
                )
            }
            Head::Command { tag, name, rest } => (tag, name, rest),
        };
        let reply = match parse::args(rest) {
            Err(e) => {
                if is_known(&name) {
                    bad(&name, e.0)
                } else {
                    bad(&name, "Unknown command")
                }
            }
            Ok(args) => self.dispatch(&tag, &name, &args)?,
        };
        // Changes by others go out before the tagged reply, as Dovecot's
        // sync after each command; FETCH, STORE and SEARCH must not shift
        // sequence numbers, so they wait for the next command.
        let base = name.strip_prefix("UID ").unwrap_or(&name);
        let quiet = matches!(
            base,
            "FETCH"
                | "STORE"
                | "SEARCH"
                | "NOOP"
                | "CHECK"
                | "IDLE"
                | "SELECT"
                | "EXAMINE"
                | "LOGOUT"
        );
        if !quiet && !matches!(reply, Reply::Bad(_)) && !self.done {
            self.sync_changes()?;
        }
        self.tagged(&tag, reply, started)
    }

    fn needs_selected(&self) -> Option<Reply> {
        self.sel
            .is_none()
            .then(|| Reply::Bad("No mailbox selected".into()))
    }

    fn dispatch(&mut self, tag: &str, name: &str, args: &[Arg]) -> io::Result<Reply> {
        let uid = name.starts_with("UID ");
        let base = name.strip_prefix("UID ").unwrap_or(name);
        if uid
            && !matches!(
                base,
                "FETCH" | "STORE" | "SEARCH" | "COPY" | "MOVE" | "EXPUNGE"
            )
        {
            return Ok(bad(name, "Unknown command"));
        }
        if matches!(
            base,
            "FETCH"
                | "STORE"
                | "SEARCH"
                | "COPY"
                | "MOVE"
                | "EXPUNGE"
                | "CLOSE"
                | "UNSELECT"
                | "CHECK"
        ) {
            if let Some(r) = self.needs_selected() {
                return Ok(r);
            }
        }
        Ok(match base {
            "CAPABILITY" => {
                let l = format!("* CAPABILITY {}", self.cfg.capability);
                self.out(&l)?;
                Reply::Ok("Capability completed.".into())
            }
            "NOOP" => {
                self.sync_changes()?;
                Reply::Ok("NOOP completed.".into())
            }
            "CHECK" => {
                self.sync_changes()?;
                Reply::Ok("Check completed.".into())
            }
            "LOGOUT" => {
                self.out("* BYE Logging out")?;
                Reply::OkThenBye("Logout completed.".into(), None)
            }
            "NAMESPACE" => {
                self.out("* NAMESPACE ((\"\" \".\")) NIL NIL")?;
                Reply::Ok("Namespace completed.".into())
            }
            "ID" => {
                self.out("* ID (\"name\" \"Dovecot\")")?;
                Reply::Ok("ID completed.".into())
            }
            "ENABLE" => self.enable(args)?,
            "LIST" => self.list(args, false)?,
            "LSUB" => self.list(args, true)?,
            "STATUS" => self.status(args)?,
            "SELECT" => self.select(name, args, false)?,
            "EXAMINE" => self.select(name, args, true)?,
            "CREATE" => self.create(args)?,
            "DELETE" => self.delete(args)?,
            "RENAME" => self.rename(args)?,
            "SUBSCRIBE" => self.subscribe(args, true)?,
            "UNSUBSCRIBE" => self.subscribe(args, false)?,
            "UNSELECT" => {
                self.sel = None;
                Reply::Ok("Unselect completed.".into())
            }
            "CLOSE" => self.close()?,
            "EXPUNGE" => self.expunge(name, args, uid)?,
            "STORE" => self.store(name, args, uid)?,
            "FETCH" => super::fetch::fetch(self, name, args, uid)?,
            "SEARCH" => super::search::search(self, tag, name, args, uid)?,
            "COPY" | "MOVE" => super::copy::copy(self, name, args, uid, base == "MOVE")?,
            "APPEND" => super::copy::append(self, args)?,
            "IDLE" => self.idle(tag)?,
            _ => bad(name, "Unknown command"),
        })
    }

    fn enable(&mut self, args: &[Arg]) -> io::Result<Reply> {
        if args.is_empty() {
            return Ok(bad("ENABLE", "Missing arguments"));
        }
        // CONDSTORE/QRESYNC are not implemented, so nothing is enabled.
        Ok(Reply::Ok("Enabled.".into()))
    }

    fn root(&self) -> &Path {
        &self.cfg.root
    }

    // ---- LIST / LSUB ----

    fn list(&mut self, args: &[Arg], lsub: bool) -> io::Result<Reply> {
        let cmd = if lsub { "LSUB" } else { "LIST" };
        let mut i = 0;
        let mut sel_opts: Vec<String> = Vec::new();
        let mut extended = false;
        if let Some(Arg::List(l)) = args.first() {
            if lsub {
                return Ok(bad(cmd, "Invalid reference"));
            }
            extended = true;
            sel_opts = l
                .iter()
                .filter_map(|a| a.atom())
                .map(str::to_ascii_uppercase)
                .collect();
            i = 1;
        }
        let Some(reference) = args.get(i).and_then(Arg::string) else {
            return Ok(bad(cmd, "Invalid reference"));
        };
        let patterns: Vec<String> = match args.get(i + 1) {
            // A pattern list makes it an extended LIST (RFC 5258).
            Some(Arg::List(l)) if !lsub => {
                extended = true;
                l.iter().filter_map(Arg::string).collect()
            }
            Some(a) => match a.string() {
                Some(p) => vec![p],
                None => return Ok(bad(cmd, "Invalid pattern")),
            },
            None => return Ok(bad(cmd, "Missing arguments")),
        };
        let mut ret: Vec<String> = Vec::new();
        let mut status_items: Vec<String> = Vec::new();
        if let Some(Arg::Atom(r)) = args.get(i + 2) {
            if !r.eq_ignore_ascii_case("RETURN") || lsub {
                return Ok(bad(cmd, "Extra arguments"));
            }
            let Some(Arg::List(l)) = args.get(i + 3) else {
                return Ok(bad(cmd, "Invalid return options"));
            };
            extended = true;
            let mut k = 0;
            while k < l.len() {
                let o = l[k].atom().unwrap_or("").to_ascii_uppercase();
                if o == "STATUS" {
                    if let Some(Arg::List(s)) = l.get(k + 1) {
                        status_items = s
                            .iter()
                            .filter_map(Arg::string)
                            .map(|x| x.to_ascii_uppercase())
                            .collect();
                        k += 1;
                    }
                }
                ret.push(o);
                k += 1;
            }
        }
        // `LIST "" ""`: the hierarchy delimiter.
        if !lsub && patterns.len() == 1 && patterns[0].is_empty() {
            self.out("* LIST (\\Noselect) \".\" \"\"")?;
            return Ok(Reply::Ok("List completed.".into()));
        }
        let subs = self.read_subscriptions();
        let subscribed_sel = sel_opts.iter().any(|o| o == "SUBSCRIBED");
        let special_sel = sel_opts.iter().any(|o| o == "SPECIAL-USE");
        let recursive = subscribed_sel && sel_opts.iter().any(|o| o == "RECURSIVEMATCH");
        let want = |n: &str| {
            patterns
                .iter()
                .any(|p| folders::matches(&format!("{reference}{p}"), n))
        };
        if lsub {
            for n in &subs.names {
                if want(n) {
                    let su = folders::special_use(n).unwrap_or("");
                    let l = format!("* LSUB ({su}) \".\" {}", folders::quote(n));
                    self.out(&l)?;
                }
            }
            return Ok(Reply::Ok("Lsub completed.".into()));
        }
        let mut entries = match folders::all(self.root(), &self.list) {
            Ok(e) => e,
            Err(e) => return Ok(internal(&e)),
        };
        if subscribed_sel {
            // Dovecot walks the subscriptions (file order) for this one;
            // with RECURSIVEMATCH a subscribed name the pattern hides
            // brings its highest ancestor the pattern shows.
            let mut names: Vec<String> = Vec::new();
            for n in &subs.names {
                let mut pick = n.clone();
                if recursive && !want(n) {
                    let parts: Vec<&str> = n.split('.').collect();
                    if let Some(a) = (1..parts.len())
                        .map(|k| parts[..k].join("."))
                        .find(|a| want(a))
                    {
                        pick = a;
                    }
                }
                if !names.contains(&pick) {
                    names.push(pick);
                }
            }
            entries = names
                .iter()
                .map(|n| {
                    entries
                        .iter()
                        .find(|e| &e.name == n)
                        .cloned()
                        .unwrap_or(folders::Entry {
                            name: n.clone(),
                            exists: false,
                            children: false,
                        })
                })
                .collect();
        }
        if !status_items.is_empty() {
            self.first_open(&entries);
        }
        for e in &entries {
            if !want(&e.name) {
                continue;
            }
            let is_sub = subs.names.iter().any(|s| s == &e.name);
            let su = folders::special_use(&e.name);
            // RECURSIVEMATCH: a subscribed child the pattern does not show.
            let childinfo = recursive
                && subs.names.iter().any(|c| {
                    c.strip_prefix(e.name.as_str())
                        .is_some_and(|r| r.starts_with('.'))
                        && !want(c)
                });
            if (subscribed_sel && !is_sub && !childinfo) || (special_sel && su.is_none()) {
                continue;
            }
            let mut attrs: Vec<&str> = Vec::new();
            if !extended {
                if !e.exists {
                    attrs.push("\\Noselect");
                }
                attrs.push(if e.children {
                    "\\HasChildren"
                } else {
                    "\\HasNoChildren"
                });
                attrs.extend(su);
            } else {
                if is_sub && (subscribed_sel || ret.iter().any(|r| r == "SUBSCRIBED")) {
                    attrs.push("\\Subscribed");
                }
                if !e.exists {
                    attrs.push("\\NonExistent");
                }
                if ret.iter().any(|r| r == "CHILDREN") {
                    attrs.push(if e.children {
                        "\\HasChildren"
                    } else {
                        "\\HasNoChildren"
                    });
                }
                if special_sel || ret.iter().any(|r| r == "SPECIAL-USE") {
                    attrs.extend(su);
                }
            }
            let l = format!(
                "* LIST ({}) \".\" {}{}",
                attrs.join(" "),
                folders::quote(&e.name),
                if childinfo {
                    " (CHILDINFO (\"SUBSCRIBED\"))"
                } else {
                    ""
                }
            );
            self.out(&l)?;
            if !status_items.is_empty() && e.exists {
                if let Ok(line) = self.status_line(&e.name, &status_items) {
                    self.out(&line)?;
                }
            }
        }
        Ok(Reply::Ok("List completed.".into()))
    }

    /// LIST-STATUS opens mailboxes nobody opened yet in Dovecot's scan
    /// order (the reverse of its list order, INBOX after the folders),
    /// which hands out their UIDVALIDITYs in the order later LISTs rank
    /// them by.
    fn first_open(&self, entries: &[folders::Entry]) {
        let root = self.root();
        let mut todo: Vec<&str> = entries
            .iter()
            .rev()
            .filter(|e| e.exists && !folders::is_inbox(&e.name))
            .map(|e| e.name.as_str())
            .collect();
        todo.push("INBOX");
        for n in todo {
            let p = folders::path(root, n);
            if p.is_dir() && folders::uid_validity(&p).is_none() {
                let _ = sync::open(&p, root, sync::Mode::ReadOnly);
            }
        }
    }

    fn read_subscriptions(&self) -> subscriptions::Subscriptions {
        fs::read(self.root().join("subscriptions"))
            .map(|d| subscriptions::parse(&d))
            .unwrap_or_default()
    }

    fn subscribe(&mut self, args: &[Arg], on: bool) -> io::Result<Reply> {
        let cmd = if on { "SUBSCRIBE" } else { "UNSUBSCRIBE" };
        let Some(name) = args.first().and_then(Arg::string) else {
            return Ok(bad(cmd, "Missing arguments"));
        };
        let name = folders::canonical(&name);
        if on && !folders::exists(self.root(), &name) {
            return Ok(Reply::No(format!("Mailbox doesn't exist: {name}")));
        }
        let lock_path = self.root().join("subscriptions.lock");
        let _lock = crate::maildir::dotlock::DotLock::acquire(
            &lock_path,
            crate::maildir::dotlock::STALE,
            crate::maildir::dotlock::WAIT,
        )?;
        let mut s = self.read_subscriptions();
        let before = s.names.clone();
        if on {
            s.subscribe(&name);
        } else {
            s.unsubscribe(&name);
        }
        if s.names != before {
            let mut out = Vec::new();
            subscriptions::write(&s, &mut out);
            let tmp = self.root().join("subscriptions.tmp");
            fs::write(&tmp, &out)?;
            fs::rename(&tmp, self.root().join("subscriptions"))?;
        }
        Ok(Reply::Ok(format!(
            "{}.",
            if on {
                "Subscribe completed"
            } else {
                "Unsubscribe completed"
            }
        )))
    }

    // ---- STATUS / SELECT ----

    fn status_line(&mut self, name: &str, items: &[String]) -> io::Result<String> {
        let path = folders::path(self.root(), name);
        let owned;
        let s: &Selected = match &self.sel {
            Some(s) if s.name == name => s,
            _ => {
                owned = Selected::open(self.root(), name, &path, true)?;
                &owned
            }
        };
        let mut parts = Vec::new();
        for it in items {
            let v: u64 = match it.as_str() {
                "MESSAGES" => s.count() as u64,
                "RECENT" => s.recent.len() as u64,
                "UIDNEXT" => u64::from(s.mbox.list.next_uid()),
                "UIDVALIDITY" => u64::from(s.mbox.list.uid_validity),
                "UNSEEN" => s.unseen() as u64,
                "SIZE" => {
                    let mut t = 0;
                    for i in 0..s.count() {
                        t += s.virtual_size(i).unwrap_or(0);
                    }
                    t
                }
                _ => continue,
            };
            parts.push(format!("{it} {v}"));
        }
        Ok(format!(
            "* STATUS {} ({})",
            folders::quote(name),
            parts.join(" ")
        ))
    }

    fn status(&mut self, args: &[Arg]) -> io::Result<Reply> {
        let (Some(name), Some(items)) = (args.first().and_then(Arg::string), args.get(1)) else {
            return Ok(bad("STATUS", "Missing arguments"));
        };
        let Some(items) = items.list() else {
            return Ok(bad("STATUS", "Status items must be list"));
        };
        let mut v = Vec::new();
        for it in items {
            let s = it.string().unwrap_or_default().to_ascii_uppercase();
            if !matches!(
                s.as_str(),
                "MESSAGES" | "RECENT" | "UIDNEXT" | "UIDVALIDITY" | "UNSEEN" | "SIZE"
            ) {
                return Ok(bad("STATUS", &format!("Invalid status item {s}")));
            }
            v.push(s);
        }
        let name = folders::canonical(&name);
        if !folders::exists(self.root(), &name) {
            return Ok(Reply::No(format!("Mailbox doesn't exist: {name}")));
        }
        let selected = self.sel.as_ref().is_some_and(|s| s.name == name);
        match self.status_line(&name, &v) {
            Ok(l) => self.out(&l)?,
            Err(e) => return Ok(internal(&e)),
        }
        Ok(Reply::Ok(if selected {
            "[CLIENTBUG] Status on selected mailbox completed.".into()
        } else {
            "Status completed.".into()
        }))
    }

    fn select(&mut self, cmd: &str, args: &[Arg], read_only: bool) -> io::Result<Reply> {
        if self.sel.take().is_some() {
            self.out("* OK [CLOSED] Previous mailbox closed.")?;
        }
        let Some(name) = args.first().and_then(Arg::string) else {
            return Ok(bad(cmd, "Invalid arguments"));
        };
        if let Some(a) = args.get(1) {
            let ok = a.list().is_some_and(|l| {
                l.iter().all(|x| {
                    x.atom()
                        .is_some_and(|s| s.eq_ignore_ascii_case("CONDSTORE"))
                })
            });
            if !ok {
                return Ok(bad(cmd, "Unknown FETCH modifier"));
            }
        }
        let name = folders::canonical(&name);
        if !folders::exists(self.root(), &name) {
            return Ok(Reply::No(format!("Mailbox doesn't exist: {name}")));
        }
        let path = folders::path(self.root(), &name);
        let s = match Selected::open(self.root(), &name, &path, read_only) {
            Ok(s) => s,
            Err(e) => return Ok(internal(&e)),
        };
        let flags = s.flag_names();
        self.out(&format!("* FLAGS ({flags})"))?;
        if read_only {
            self.out("* OK [PERMANENTFLAGS ()] Read-only mailbox.")?;
        } else {
            self.out(&format!(
                "* OK [PERMANENTFLAGS ({flags} \\*)] Flags permitted."
            ))?;
        }
        self.out(&format!("* {} EXISTS", s.count()))?;
        self.out(&format!("* {} RECENT", s.recent.len()))?;
        if let Some(u) = s.first_unseen() {
            self.out(&format!("* OK [UNSEEN {u}] First unseen."))?;
        }
        self.out(&format!(
            "* OK [UIDVALIDITY {}] UIDs valid",
            s.mbox.list.uid_validity
        ))?;
        self.out(&format!(
            "* OK [UIDNEXT {}] Predicted next UID",
            s.mbox.list.next_uid()
        ))?;
        self.stamp = Self::mtimes(s.path());
        self.sel = Some(s);
        Ok(Reply::Ok(if read_only {
            "[READ-ONLY] Examine completed.".into()
        } else {
            "[READ-WRITE] Select completed.".into()
        }))
    }

    // ---- CREATE / DELETE / RENAME ----

    fn create(&mut self, args: &[Arg]) -> io::Result<Reply> {
        let Some(name) = args.first().and_then(Arg::string) else {
            return Ok(bad("CREATE", "Missing arguments"));
        };
        let name = folders::canonical(&name);
        if folders::exists(self.root(), &name) {
            return Ok(Reply::No("[ALREADYEXISTS] Mailbox already exists".into()));
        }
        if !folders::valid_mutf7(&name) {
            return Ok(Reply::No("Mailbox name is not valid mUTF-7".into()));
        }
        if !folders::valid_name(&name) {
            return Ok(Reply::No("[CANNOT] Invalid mailbox name".into()));
        }
        let p = folders::path(self.root(), &name);
        fs::create_dir(&p)?;
        for d in ["cur", "new", "tmp"] {
            fs::create_dir(p.join(d))?;
        }
        fs::write(p.join("maildirfolder"), b"")?;
        // Dovecot writes the uidlist (and so the UIDVALIDITY) at once.
        sync::open(&p, self.root(), sync::Mode::ReadOnly)?;
        self.list.ghosts.clear();
        self.list.created(&name);
        Ok(Reply::Ok("Create completed.".into()))
    }

    fn delete(&mut self, args: &[Arg]) -> io::Result<Reply> {
        let Some(name) = args.first().and_then(Arg::string) else {
            return Ok(bad("DELETE", "Missing arguments"));
        };
        let name = folders::canonical(&name);
        if folders::is_inbox(&name) {
            return Ok(Reply::No("INBOX can't be deleted".into()));
        }
        if !folders::exists(self.root(), &name) {
            return Ok(Reply::No(format!(
                "[NONEXISTENT] Mailbox doesn't exist: {name}"
            )));
        }
        let p = folders::path(self.root(), &name);
        let rank = self.list.rank(self.root(), &name);
        let has_children = fs::read_dir(self.root())?.flatten().any(|e| {
            e.file_name()
                .to_str()
                .is_some_and(|n| n.starts_with(&format!(".{name}.")))
        });
        if let Err(e) = fs::remove_dir_all(&p) {
            return Ok(internal(&e));
        }
        // Dovecot's list index goes on listing a deleted parent as
        // selectable until its next refresh (the next change).
        self.list.ghosts.clear();
        if has_children {
            self.list.ghosts.push((name.clone(), rank));
        }
        if self.sel.as_ref().is_some_and(|s| s.name == name) {
            self.sel = None;
            return Ok(Reply::OkThenBye(
                "Delete completed.".into(),
                Some("* BYE Selected mailbox was deleted, have to disconnect.".into()),
            ));
        }
        Ok(Reply::Ok("Delete completed.".into()))
    }

    fn rename(&mut self, args: &[Arg]) -> io::Result<Reply> {
        let (Some(from), Some(to)) = (
            args.first().and_then(Arg::string),
            args.get(1).and_then(Arg::string),
        ) else {
            return Ok(bad("RENAME", "Missing arguments"));
        };
        let (from, to) = (folders::canonical(&from), folders::canonical(&to));
        if folders::is_inbox(&from) {
            return Ok(Reply::No("[CANNOT] Renaming INBOX isn't supported".into()));
        }
        // A parent without its own directory renames its children.
        let prefix = format!(".{from}.");
        let has_children = fs::read_dir(self.root())?.flatten().any(|e| {
            e.file_name()
                .to_str()
                .is_some_and(|n| n.starts_with(&prefix))
        });
        let own = folders::exists(self.root(), &from);
        if !own && !has_children {
            return Ok(Reply::No(format!(
                "[NONEXISTENT] Mailbox doesn't exist: {from}"
            )));
        }
        if folders::exists(self.root(), &to) {
            return Ok(Reply::No(
                "[ALREADYEXISTS] Target mailbox already exists".into(),
            ));
        }
        if !folders::valid_mutf7(&to) {
            return Ok(Reply::No("Mailbox name is not valid mUTF-7".into()));
        }
        if !folders::valid_name(&to) {
            return Ok(Reply::No("[CANNOT] Invalid mailbox name".into()));
        }
        // The folder and every child directory.
        let mut moves = Vec::new();
        if own {
            moves.push((format!(".{from}"), format!(".{to}")));
        }
        for e in fs::read_dir(self.root())?.flatten() {
            if let Ok(n) = e.file_name().into_string() {
                if let Some(rest) = n.strip_prefix(&prefix) {
                    moves.push((n.clone(), format!(".{to}.{rest}")));
                }
            }
        }
        for (a, b) in moves {
            fs::rename(self.root().join(a), self.root().join(b))?;
        }
        self.list.ghosts.clear();
        self.list.renamed(&to);
        Ok(Reply::Ok("Rename completed.".into()))
    }

    // ---- STORE / EXPUNGE / CLOSE ----

    /// Resolve a sequence set to message indexes (ascending, unique);
    /// `None` = Dovecot's "Invalid messageset".
    pub fn resolve(&self, set: &str, uid: bool) -> Option<Vec<usize>> {
        let s = self.sel.as_ref()?;
        let ranges = parse::sequence_set(set)?;
        let n = s.count();
        let mut out = Vec::new();
        if uid {
            let max = s.mbox.messages.last().map_or(0, |m| m.uid);
            for (i, m) in s.mbox.messages.iter().enumerate() {
                let hit = ranges.iter().any(|&(a, b)| {
                    let a = if a == u32::MAX { max } else { a };
                    let b = if b == u32::MAX { max } else { b };
                    let (a, b) = (a.min(b), a.max(b));
                    m.uid >= a && m.uid <= b
                });
                if hit {
                    out.push(i);
                }
            }
            return Some(out);
        }
        for (a, b) in ranges {
            let a = if a == u32::MAX { n } else { a as usize };
            let b = if b == u32::MAX { n } else { b as usize };
            let (a, b) = (a.min(b), a.max(b));
            if a == 0 || b > n {
                return None;
            }
            out.extend((a - 1)..b);
        }
        out.sort_unstable();
        out.dedup();
        Some(out)
    }

    fn store(&mut self, cmd: &str, args: &[Arg], uid: bool) -> io::Result<Reply> {
        let (Some(set), Some(op)) = (
            args.first().and_then(Arg::atom),
            args.get(1).and_then(Arg::atom),
        ) else {
            return Ok(bad(cmd, "Invalid arguments"));
        };
        let op = op.to_ascii_uppercase();
        let (mode, silent) = match op.as_str() {
            "FLAGS" => (0, false),
            "FLAGS.SILENT" => (0, true),
            "+FLAGS" => (1, false),
            "+FLAGS.SILENT" => (1, true),
            "-FLAGS" => (2, false),
            "-FLAGS.SILENT" => (2, true),
            _ => return Ok(bad(cmd, "Invalid arguments")),
        };
        let flag_args: Vec<&Arg> = match args.get(2) {
            Some(Arg::List(l)) => l.iter().collect(),
            _ => args[2..].iter().collect(),
        };
        let mut system: Vec<u8> = Vec::new();
        let mut kw: Vec<String> = Vec::new();
        for a in flag_args {
            let Some(f) = a.atom() else {
                return Ok(bad(cmd, "Flags list contains non-atoms."));
            };
            if let Some(sys) = f.strip_prefix('\\') {
                match SYSTEM
                    .iter()
                    .find(|(n, _)| n[1..].eq_ignore_ascii_case(sys))
                {
                    Some((_, l)) => system.push(*l),
                    None => {
                        return Ok(bad(
                            cmd,
                            &format!("Invalid system flag \\{}", sys.to_ascii_uppercase()),
                        ))
                    }
                }
            } else {
                if f.is_empty()
                    || f.bytes().any(|b| {
                        matches!(
                            b,
                            b']' | b'[' | b'%' | b'*' | b'(' | b')' | b'{' | b'"' | b'\\'
                        ) || b <= b' '
                            || b >= 0x7f
                    })
                {
                    return Ok(Reply::No("[CANNOT] Invalid characters in keyword".into()));
                }
                kw.push(f.to_string());
            }
        }
        let Some(idxs) = self.resolve(set, uid) else {
            return Ok(bad(cmd, "Invalid messageset"));
        };
        let Some(s) = self.sel.as_mut() else {
            return Ok(Reply::Bad("No mailbox selected".into()));
        };
        if s.read_only {
            return Ok(Reply::Ok("Store ignored with read-only mailbox.".into()));
        }
        let mut added = false;
        let mut letters: Vec<u8> = system;
        for k in &kw {
            match s.keyword_index(k, &mut added)? {
                Some(i) => letters.push(b'a' + i as u8),
                None => return Ok(Reply::No("[CANNOT] Too many keywords".into())),
            }
        }
        let mut lines = Vec::new();
        if added {
            let flags = s.flag_names();
            lines.push(format!("* FLAGS ({flags})"));
            lines.push(format!(
                "* OK [PERMANENTFLAGS ({flags} \\*)] Flags permitted."
            ));
        }
        for &i in &idxs {
            // Start from the flags on disk: another program may have
            // renamed the file, and that change is kept and reported even
            // with .SILENT, as Dovecot's sync does.
            let mut m = s.mbox.messages[i].clone();
            let cached = m.flags();
            s.mbox.relocate(&mut m)?;
            let external = m.flags() != cached;
            if external {
                s.mbox.messages[i] = m.clone();
            }
            let old = m.flags();
            let mut f: Flags = old.clone();
            match mode {
                0 => {
                    for &(_, l) in &SYSTEM {
                        f.set(l, letters.contains(&l));
                    }
                    for c in b'a'..=b'z' {
                        f.set(c, letters.contains(&c));
                    }
                }
                1 => letters.iter().for_each(|&l| f.set(l, true)),
                _ => letters.iter().for_each(|&l| f.set(l, false)),
            }
            if f == old && !external {
                continue;
            }
            let uid_n = m.uid;
            s.set_flags(i, &f)?;
            if !silent || external {
                let fl = s.flags_of(&s.mbox.messages[i]);
                lines.push(if uid {
                    format!("* {} FETCH (UID {uid_n} FLAGS {fl})", i + 1)
                } else {
                    format!("* {} FETCH (FLAGS {fl})", i + 1)
                });
            }
        }
        for l in lines {
            self.out(&l)?;
        }
        Ok(Reply::Ok("Store completed.".into()))
    }

    /// Expunge `\Deleted` messages (only those in `only` when given).
    fn do_expunge(&mut self, only: Option<&[usize]>, report: bool) -> io::Result<()> {
        let Some(s) = self.sel.as_mut() else {
            return Ok(());
        };
        if s.read_only {
            return Ok(());
        }
        let idxs: Vec<usize> = (0..s.count())
            .filter(|i| only.is_none_or(|o| o.contains(i)))
            .filter(|&i| {
                s.mbox.messages[i]
                    .flags()
                    .has(crate::maildir::filename::DELETED)
            })
            .collect();
        if idxs.is_empty() {
            return Ok(());
        }
        let recent_before = s.recent.len();
        let seqs = s.expunge(&idxs)?;
        let recent_after = s.recent.len();
        if report {
            for q in seqs {
                self.out(&format!("* {q} EXPUNGE"))?;
            }
            if recent_after != recent_before {
                self.out(&format!("* {recent_after} RECENT"))?;
            }
        }
        Ok(())
    }

    fn expunge(&mut self, cmd: &str, args: &[Arg], uid: bool) -> io::Result<Reply> {
        if uid {
            let Some(set) = args.first().and_then(Arg::atom) else {
                return Ok(bad(cmd, "Missing arguments"));
            };
            let Some(idxs) = self.resolve(set, true) else {
                return Ok(bad(cmd, "Invalid messageset"));
            };
            self.do_expunge(Some(&idxs), true)?;
        } else {
            self.do_expunge(None, true)?;
        }
        Ok(Reply::Ok("Expunge completed.".into()))
    }

    fn close(&mut self) -> io::Result<Reply> {
        self.do_expunge(None, false)?;
        self.sel = None;
        Ok(Reply::Ok("Close completed.".into()))
    }

    // ---- IDLE and change notification ----

    /// Whether the selected mailbox changed within the last 200 ms.
    fn just_changed(&self) -> bool {
        let Some(s) = self.sel.as_ref() else {
            return false;
        };
        Self::mtimes(s.path()).iter().flatten().any(|t| {
            SystemTime::now()
                .duration_since(*t)
                .is_ok_and(|d| d < Duration::from_millis(200))
        })
    }

    fn mtimes(path: &Path) -> Vec<Option<SystemTime>> {
        ["new", "cur", "dovecot-uidlist", "dovecot-keywords"]
            .iter()
            .map(|n| fs::metadata(path.join(n)).and_then(|m| m.modified()).ok())
            .collect()
    }

    /// Look for changes made by others (deliveries, flag renames,
    /// expunges, appends) and report them as Dovecot does: EXPUNGE lines,
    /// FETCH (FLAGS) of changed messages, EXISTS and RECENT. Returns
    /// whether anything was sent.
    pub fn sync_changes(&mut self) -> io::Result<bool> {
        let root = self.cfg.root.clone();
        let Some(s) = self.sel.as_mut() else {
            return Ok(false);
        };
        let path = s.path().clone();
        let stamp = Self::mtimes(&path);
        // A change within the last second may be followed by another in
        // the same mtime tick, so such stamps are not trusted.
        let settled = stamp.iter().flatten().all(|t| {
            SystemTime::now()
                .duration_since(*t)
                .is_ok_and(|d| d > Duration::from_secs(1))
        });
        if settled && stamp == self.stamp {
            return Ok(false);
        }
        self.stamp = stamp;
        let mode = if s.read_only {
            sync::Mode::ReadOnly
        } else {
            sync::Mode::ReadWrite
        };
        let fresh = match sync::open(&path, &root, mode) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(e),
        };
        let mut lines = Vec::new();
        let kw = super::mailbox::read_keywords(&path);
        if kw != s.keywords {
            s.keywords = kw;
            let f = s.flag_names();
            lines.push(format!("* FLAGS ({f})"));
            lines.push(format!("* OK [PERMANENTFLAGS ({f} \\*)] Flags permitted."));
        }
        let recent_before = s.recent.len();
        // New mail is this session's \Recent unless another session
        // took it first (its record moved past it); a read-write session
        // takes it.
        let known_max = s.mbox.messages.last().map_or(0, |m| m.uid);
        let validity = fresh.list.uid_validity;
        let first = super::mailbox::first_recent(&path, validity).unwrap_or(s.first_recent);
        let claimed: Vec<u32> = std::mem::take(&mut s.claimed);
        let mut took = false;
        for m in &fresh.messages {
            let new = m.uid > known_max && m.uid >= first;
            if m.recent || new || claimed.contains(&m.uid) {
                s.recent.insert(m.uid);
                took |= new;
            }
        }
        let next = fresh.list.next_uid();
        if took && !s.read_only {
            super::mailbox::set_first_recent(&path, validity, next)?;
            s.first_recent = next;
        }
        let by_uid: std::collections::HashMap<u32, &sync::Message> =
            fresh.messages.iter().map(|m| (m.uid, m)).collect();
        let mut kept = Vec::new();
        for m in &s.mbox.messages {
            if by_uid.contains_key(&m.uid) {
                kept.push(m.clone());
            } else {
                lines.push(format!("* {} EXPUNGE", kept.len() + 1));
                s.recent.remove(&m.uid);
            }
        }
        let max = kept.last().map_or(0, |m| m.uid);
        let mut changed = Vec::new();
        for (i, m) in kept.iter_mut().enumerate() {
            if let Some(f) = by_uid.get(&m.uid) {
                let flags_differ = f.flags() != m.flags();
                m.dir = f.dir;
                m.name = f.name.clone();
                if flags_differ {
                    changed.push(i);
                }
            }
        }
        let count_before = kept.len();
        kept.extend(fresh.messages.iter().filter(|m| m.uid > max).cloned());
        s.mbox.messages = kept;
        s.mbox.list = fresh.list;
        for i in changed {
            let fl = s.flags_of(&s.mbox.messages[i]);
            lines.push(format!("* {} FETCH (FLAGS {fl})", i + 1));
        }
        if s.mbox.messages.len() != count_before {
            lines.push(format!("* {} EXISTS", s.mbox.messages.len()));
        }
        if s.recent.len() != recent_before {
            lines.push(format!("* {} RECENT", s.recent.len()));
        }
        for l in &lines {
            self.out(l)?;
        }
        Ok(!lines.is_empty())
    }

    /// `+ idling`, then push changes until the client sends DONE.
    fn idle(&mut self, _tag: &str) -> io::Result<Reply> {
        self.out("+ idling")?;
        self.w.flush()?;
        let mut quiet_since = Instant::now();
        loop {
            if self.r.wait(Duration::from_millis(500))? {
                let Some(mut line) = read_line(&mut self.r, MAX_LINE)? else {
                    self.done = true;
                    return Ok(Reply::Ok("Idle completed.".into()));
                };
                while matches!(line.last(), Some(b'\n' | b'\r')) {
                    line.pop();
                }
                return Ok(if line.eq_ignore_ascii_case(b"DONE") {
                    Reply::Ok("Idle completed.".into())
                } else {
                    Reply::Bad("Expected DONE.".into())
                });
            }
            if self.just_changed() {
                // Let a burst of changes (a STORE and EXPUNGE by another
                // session) settle and go out together, as Dovecot's
                // notification delay batches them.
                continue;
            }
            if self.sync_changes()? {
                self.w.flush()?;
                quiet_since = Instant::now();
            } else if quiet_since.elapsed() >= Duration::from_secs(120) {
                self.out("* OK Still here")?;
                self.w.flush()?;
                quiet_since = Instant::now();
            }
        }
    }
}

/// Commands we know (syntax errors in them are reported with the reason;
/// unknown ones get "Unknown command").
fn is_known(name: &str) -> bool {
    matches!(
        name.strip_prefix("UID ").unwrap_or(name),
        "CAPABILITY"
            | "NOOP"
            | "CHECK"
            | "LOGOUT"
            | "NAMESPACE"
            | "ID"
            | "ENABLE"
            | "LIST"
            | "LSUB"
            | "STATUS"
            | "SELECT"
            | "EXAMINE"
            | "CREATE"
            | "DELETE"
            | "RENAME"
            | "SUBSCRIBE"
            | "UNSUBSCRIBE"
            | "UNSELECT"
            | "CLOSE"
            | "EXPUNGE"
            | "STORE"
            | "FETCH"
            | "SEARCH"
            | "COPY"
            | "MOVE"
            | "APPEND"
            | "IDLE"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn maildir() -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        for s in ["cur", "new", "tmp", ".Sent/cur", ".Sent/new", ".Sent/tmp"] {
            fs::create_dir_all(d.path().join(s)).unwrap();
        }
        fs::write(
            d.path().join("cur/1700000001.M1P1.h:2,S"),
            b"From: a@b\nSubject: x\nContent-Type: multipart/mixed; boundary=b\n\n--b\n\nx\n--b--\n",
        )
        .unwrap();
        fs::write(d.path().join("new/1700000002.2.h"), b"Subject: y\n\nbody\n").unwrap();
        d
    }

    fn run(input: &[u8]) -> Vec<u8> {
        let d = maildir();
        let cfg = Config {
            user: "u".into(),
            root: d.path().to_path_buf(),
            tz: |_| 0,
            capability: crate::imap::CAPABILITY.into(),
            login_tag: None,
            idle_timeout: IDLE_TIMEOUT,
        };
        let mut out = Vec::new();
        let mut s = Session::new(input, &mut out, cfg);
        let _ = s.run();
        out
    }

    #[test]
    fn a_session() {
        let out = run(b"a SELECT INBOX\r\nb FETCH 1:* (FLAGS BODY[1])\r\nc LOGOUT\r\n");
        let text = String::from_utf8_lossy(&out);
        assert!(text.contains("* 2 EXISTS\r\n"), "{text}");
        assert!(text.contains("c OK Logout completed ("), "{text}");
    }

    /// Dovecot's answers (its oracle, tests/imap_swap.rs style): a
    /// pattern list is an extended LIST; RECURSIVEMATCH reports a
    /// subscribed child the pattern hides; a parent without a directory
    /// renames its children.
    #[test]
    fn list_extended_and_virtual_rename() {
        let out = run(
            b"a CREATE P.Kid\r\nb SUBSCRIBE Sent\r\nc SUBSCRIBE P.Kid\r\n\
            d LIST \"\" (\"INBOX\" \"Sent\")\r\n\
            e LIST (SUBSCRIBED RECURSIVEMATCH) \"\" \"%\"\r\n\
            f RENAME P Q\r\ng LIST \"\" \"Q*\"\r\nh LOGOUT\r\n",
        );
        let text = String::from_utf8_lossy(&out);
        for want in [
            "* LIST () \".\" Sent\r\n* LIST () \".\" INBOX\r\n",
            "* LIST (\\Subscribed) \".\" Sent\r\n* LIST (\\NonExistent) \".\" P (CHILDINFO (\"SUBSCRIBED\"))\r\n",
            "f OK Rename completed",
            "* LIST (\\Noselect \\HasChildren) \".\" Q\r\n* LIST (\\HasNoChildren) \".\" Q.Kid\r\n",
        ] {
            assert!(text.contains(want), "{want:?} in {text}");
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        /// Random commands after a SELECT never panic.
        #[test]
        fn commands_never_panic(cmds in proptest::collection::vec(
            "(FETCH|UID FETCH|STORE|SEARCH|COPY|MOVE|APPEND|LIST|STATUS|EXPUNGE|UID EXPUNGE|CREATE|RENAME|SELECT|IDLE) [ -~]{0,40}",
            1..6,
        )) {
            let mut input = b"s SELECT INBOX\r\n".to_vec();
            for (i, c) in cmds.iter().enumerate() {
                input.extend_from_slice(format!("t{i} {c}\r\n").as_bytes());
            }
            let _ = run(&input);
        }
    }
}
