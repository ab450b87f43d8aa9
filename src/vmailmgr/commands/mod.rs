//! The domain owner's tools (`shared/spec/vmailmgr/commands.md` §2): each
//! a `fn(argv) -> exit code` that its thin bin calls.

use std::ffi::OsString;
use std::io::{BufRead, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

use super::cli::{self, Parsed, Spec};
use super::config::Config;
use super::passwd::Table;

pub mod add;
pub mod change;
pub mod maint;
pub mod show;
pub mod tools;

/// Write to stdout, ignoring a closed stream.
pub fn out(b: impl AsRef<[u8]>) {
    let mut o = std::io::stdout().lock();
    let _ = o.write_all(b.as_ref());
    let _ = o.flush();
}

/// Write to stderr, ignoring a closed stream.
pub fn err(b: impl AsRef<[u8]>) {
    let _ = std::io::stderr().write_all(b.as_ref());
}

/// Bytes shown in a message.
pub fn s(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A running tool: its options, the domain chain and the table.
pub struct Ctx {
    pub prog: &'static str,
    pub opts: Parsed,
    pub quiet: bool,
    pub cfg: Config,
    pub table: Table,
    pub home: PathBuf,
}

impl Ctx {
    /// Parse argv, then `chdir($HOME)` (§1.1). `Err` is the exit code.
    pub fn start(spec: &Spec, argv: &[OsString]) -> Result<Ctx, i32> {
        let opts = parse(spec, argv)?;
        Self::enter(spec.prog, opts)
    }

    /// `chdir($HOME)` with parsed options.
    pub fn enter(prog: &'static str, opts: Parsed) -> Result<Ctx, i32> {
        let home = home(prog)?;
        let cfg = Config::domain(&home);
        let table = cfg.table();
        Ok(Ctx {
            prog,
            quiet: opts.has("quiet"),
            opts,
            cfg,
            table,
            home,
        })
    }

    /// stdout unless --quiet.
    pub fn say(&self, m: impl AsRef<[u8]>) {
        if !self.quiet {
            out(m);
        }
    }

    /// stderr unless --quiet.
    pub fn warn(&self, m: impl AsRef<[u8]>) {
        if !self.quiet {
            err(m);
        }
    }
}

/// Parse options, printing a refusal or the help.
pub fn parse(spec: &Spec, argv: &[OsString]) -> Result<Parsed, i32> {
    cli::parse(spec, argv).map_err(|e| {
        out(&e.stdout);
        err(&e.stderr);
        e.code
    })
}

/// `$HOME`, entered.
pub fn home(prog: &str) -> Result<PathBuf, i32> {
    let Some(h) = std::env::var_os("HOME").filter(|h| !h.is_empty()) else {
        err(format!("{prog}: Can't determine home directory\n"));
        return Err(1);
    };
    let h = PathBuf::from(h);
    if std::env::set_current_dir(&h).is_err() {
        err(format!("{prog}: Can't change to home directory\n"));
        return Err(1);
    }
    Ok(h)
}

/// Read a new password (§1.4); `None` after the message was printed.
pub fn read_password(p: &str) -> Option<Vec<u8>> {
    let pw = if nix::unistd::isatty(0).unwrap_or(false) {
        let a = tty_prompt("Enter the user's new password: ")?;
        let b = tty_prompt("Please type it again for verification: ")?;
        if a != b {
            err(format!("{p}: error: passwords don't match\n"));
            return None;
        }
        a
    } else {
        let mut line = Vec::new();
        let _ = std::io::stdin().lock().read_until(b'\n', &mut line);
        while line.last().is_some_and(|&b| super::vpwentry::is_c_space(b)) {
            line.pop();
        }
        line
    };
    if pw.is_empty() {
        err(format!("{p}: error: password is empty.\n"));
        return None;
    }
    Some(pw)
}

/// `getpass`: prompt on the terminal with echo off.
fn tty_prompt(prompt: &str) -> Option<Vec<u8>> {
    use nix::sys::termios::{tcgetattr, tcsetattr, LocalFlags, SetArg};
    let mut tty = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/tty")
        .ok()?;
    let _ = tty.write_all(prompt.as_bytes());
    let saved = tcgetattr(&tty).ok();
    if let Some(t) = &saved {
        let mut quiet = t.clone();
        quiet.local_flags.remove(LocalFlags::ECHO);
        let _ = tcsetattr(&tty, SetArg::TCSAFLUSH, &quiet);
    }
    let mut line = Vec::new();
    let _ = std::io::BufReader::new(&tty).read_until(b'\n', &mut line);
    if let Some(t) = &saved {
        let _ = tcsetattr(&tty, SetArg::TCSAFLUSH, t);
    }
    let _ = tty.write_all(b"\n");
    if line.last() == Some(&b'\n') {
        line.pop();
    }
    Some(line)
}

/// An argument's bytes.
pub fn arg(a: &OsString) -> &[u8] {
    a.as_bytes()
}

/// Lines of standard input (without LF), for vaddusers / vpasswds.
pub fn stdin_lines() -> Vec<Vec<u8>> {
    let mut all = Vec::new();
    let _ = std::io::Read::read_to_end(&mut std::io::stdin().lock(), &mut all);
    let mut lines: Vec<Vec<u8>> = all.split(|&b| b == b'\n').map(<[u8]>::to_vec).collect();
    if lines.last().is_some_and(Vec::is_empty) {
        lines.pop();
    }
    lines
}

/// White-space separated words.
pub fn words(line: &[u8]) -> Vec<&[u8]> {
    line.split(|&b| super::vpwentry::is_c_space(b))
        .filter(|w| !w.is_empty())
        .collect()
}

/// The common `--quiet` option row.
pub const QUIET: cli::Opt = cli::flag(
    None,
    Some("quiet"),
    "quiet",
    "1",
    "Suppress all status messages",
);

/// The options of the tools that take only `--quiet`.
pub const QUIET_ONLY: &[cli::Opt] = &[QUIET];

/// A tool with only `--quiet` (vsetup, vaddusers, vpasswd, vpasswds,
/// vchforwards, dumpvuser).
pub const fn quiet_tool(
    prog: &'static str,
    args_usage: &'static str,
    prefix: &'static str,
    min_args: usize,
    max_args: Option<usize>,
) -> Spec {
    Spec {
        prog,
        args_usage,
        prefix,
        suffix: "",
        opts: QUIET_ONLY,
        min_args,
        max_args,
    }
}

/// The `user password ...` line loop of vaddusers and vpasswds: a line
/// with fewer than two words is reported and counted; `each` handles the
/// lower-cased user and all words and returns its error count; at the end
/// `<prog>: N errors were encountered.` and exit 1, else exit 0.
pub fn user_lines(ctx: &Ctx, mut each: impl FnMut(&[u8], &[&[u8]]) -> usize) -> i32 {
    let prog = ctx.prog;
    let mut errors = 0;
    for line in stdin_lines() {
        let w = words(&line);
        if w.len() < 2 {
            ctx.warn(format!("{prog}: invalid line, ignoring:\n  {}\n", s(&line)));
            errors += 1;
            continue;
        }
        errors += each(&super::passwd::lower(w[0]), &w);
    }
    if errors > 0 {
        ctx.warn(format!("{prog}: {errors} errors were encountered.\n"));
        return 1;
    }
    0
}
