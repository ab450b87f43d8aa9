//! vdeliver: deliver one message from qmail-local into a virtual user's
//! maildir and/or to its forwards (`shared/spec/vmailmgr/vdeliver.md`).
//!
//! Order as in the original: look-up, expiry, export, predeliver hook,
//! write `tmp/NAME` (fsynced), inject the forwards through qmail-queue,
//! link into `new/`, postdeliver hook. Fixed defects: the maildir name is
//! `time.pid.host` (the original puts digits of the time in the pid
//! field); control/me is checked before anything is started.

use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::fd::AsFd;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};

use crate::envelope::Envelope;
use crate::maildir::save::{save, FillError, SaveError, Target};
use crate::queue::client::{Injection, QQ_EXEC};

use super::cli::{flag, Opt, Spec};
use super::commands::QUIET;
use super::config::Config;
use super::passwd::{Lookup, Table};
use super::vpwentry::{format_number, VpwEntry};

/// Exit codes (vdeliver.md §6).
pub mod exit {
    pub const OK: i32 = 0;
    pub const SKIP: i32 = 99;
    pub const PERM: i32 = 100;
    pub const TEMP: i32 = 111;
    pub const USAGE: i32 = 1;
}

/// Messages, kept once.
pub mod msg {
    pub const NOT_MAILDIR: &str = "Destination directory does not appear to be a maildir.";
    pub const QUOTA: &str = "Delivery failed due to system quota violation";
    pub const WRITE: &str = "Error writing the output file.";
    pub const LINK: &str = "Error linking the temp file to the new file.";
    pub const UNLINK: &str = "Error unlinking the temp file.";
    pub const ME_EMPTY: &str = "control/me is empty!";
    pub const QQ_CRASHED: &str = "qmail-queue crashed!";
    pub const QQ_ERROR: &str = "qmail-queue exited with an error!";
    pub const QQ_EXEC: &str = "Exec of qmail-queue failed.";
    pub const QQ_PIPE: &str = "Error writing to pipe";
    pub const PRE_FAILED: &str = "Execution of vdeliver-predeliver failed";
    pub const POST_FAILED: &str = "Execution of vdeliver-postdeliver failed";
    pub const REWIND: &str = "Could not re-rewind standard input";
    pub const TABLE: &str = "Can't read the virtual password table";
}

const OPTS: &[Opt] = &[
    flag(
        Some(b'D'),
        None,
        "dt",
        "1",
        "Add a \"Delivered-To:\" line (default)",
    ),
    flag(Some(b'F'), None, "uf", "1", "Add a \"From \" mailbox line"),
    flag(
        Some(b'R'),
        None,
        "rp",
        "1",
        "Add a \"Return-Path:\" line (default)",
    ),
    flag(
        Some(b'd'),
        None,
        "dt",
        "0",
        "Do not add the \"Delivered-To:\" line",
    ),
    flag(
        Some(b'f'),
        None,
        "uf",
        "0",
        "Do not add the \"From \" mailbox line (default)",
    ),
    flag(
        None,
        Some("no-predeliver"),
        "no-predeliver",
        "1",
        "Do not run vdeliver-predeliver scripts",
    ),
    flag(
        None,
        Some("no-postdeliver"),
        "no-postdeliver",
        "1",
        "Do not run vdeliver-postdeliver scripts",
    ),
    QUIET,
    flag(
        Some(b'r'),
        None,
        "rp",
        "0",
        "Do not add the \"Return-Path:\" line",
    ),
];
pub const VDELIVER: Spec = Spec {
    prog: "vdeliver",
    args_usage: "",
    prefix: "VMailMgr delivery agent\n",
    suffix: "",
    opts: OPTS,
    min_args: 0,
    max_args: Some(0),
};

struct Out {
    quiet: bool,
}

impl Out {
    fn say(&self, m: &str) {
        if !self.quiet {
            let mut o = io::stdout();
            let _ = writeln!(o, "vdeliver: {m}");
            let _ = o.flush();
        }
    }
    fn bare(&self, m: &str) {
        if !self.quiet {
            let mut o = io::stdout();
            let _ = writeln!(o, "{m}");
            let _ = o.flush();
        }
    }
}

/// The variables of §3 step 6 for an account.
pub fn exports(name: &[u8], e: &VpwEntry) -> Vec<(OsString, OsString)> {
    let n = |v: u32| OsString::from(format_number(v));
    let b = |v: bool| OsString::from(if v { "1" } else { "0" });
    let raw = |v: &[u8]| OsString::from_vec(v.to_vec());
    vec![
        ("VUSER".into(), raw(name)),
        ("MAILDIR".into(), raw(&e.directory)),
        ("VUSER_CTIME".into(), n(e.ctime)),
        ("VUSER_EXPIRY".into(), n(e.expiry)),
        ("VUSER_MSGCOUNT".into(), n(e.msgcount)),
        ("VUSER_MSGSIZE".into(), n(e.msgsize)),
        ("VUSER_PERSONAL".into(), raw(&e.personal)),
        ("VUSER_HARDQUOTA".into(), n(e.hardquota)),
        ("VUSER_SOFTQUOTA".into(), n(e.softquota)),
        ("VUSER_HAS_MAILBOX".into(), b(e.has_mailbox)),
        ("VUSER_MAILBOX_ENABLED".into(), b(e.is_enabled)),
    ]
}

fn hostname() -> String {
    nix::unistd::gethostname()
        .map(|h| h.to_string_lossy().into_owned())
        .unwrap_or_else(|_| "localhost".into())
}

/// The forward recipients with §5's completion; `None` when one needs
/// control/me and it is empty.
pub fn recipients(forwards: &[Vec<u8>], host: &[u8], me: Option<&[u8]>) -> Option<Vec<Vec<u8>>> {
    forwards
        .iter()
        .map(|f| {
            if !f.contains(&b'@') {
                Some([f.as_slice(), b"@", host].concat())
            } else if f.last() == Some(&b'@') {
                me.filter(|m| !m.is_empty())
                    .map(|m| [f.as_slice(), m].concat())
            } else {
                Some(f.clone())
            }
        })
        .collect()
}

fn env(name: &str) -> Option<Vec<u8>> {
    std::env::var_os(name).map(OsString::into_vec)
}

/// The program: returns the exit code.
pub fn run(argv: &[OsString]) -> i32 {
    let opts = match super::commands::parse(&VDELIVER, argv) {
        Ok(o) => o,
        Err(code) => return code,
    };
    let out = Out {
        quiet: opts.has("quiet"),
    };
    let on = |var: &str, default: bool| opts.str(var).map_or(default, |v| v == "1");
    let (uf_on, rp_on, dt_on) = (on("uf", false), on("rp", true), on("dt", true));
    let home = match super::commands::home("vdeliver") {
        Ok(h) => h,
        Err(code) => return code,
    };
    let mut vars = Vec::new();
    for name in [
        "USER", "EXT", "HOST", "SENDER", "UFLINE", "RPLINE", "DTLINE",
    ] {
        match env(name) {
            Some(v) => vars.push(v),
            None => {
                out.say(&format!("{name} is not set"));
                return exit::PERM;
            }
        }
    }
    let (ext, host, sender) = (vars[1].clone(), vars[2].clone(), vars[3].clone());
    let (ufline, rpline, dtline) = (&vars[4], &vars[5], &vars[6]);
    let cfg = Config::domain(&home);
    let table = Table::new(cfg.password_table());
    let lookup = |name: &[u8]| match table.lookup(name) {
        Ok(Lookup::Found(e)) => Ok(Some(e)),
        Ok(_) => Ok(None),
        Err(super::passwd::TableError::Io(e)) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    };
    let mut name = ext.clone();
    let mut found = if ext.is_empty() {
        Ok(None)
    } else {
        lookup(&ext)
    };
    if matches!(found, Ok(None)) {
        name = cfg.string("default-username");
        found = lookup(&name);
    }
    let entry = match found {
        Ok(Some(e)) => e,
        Ok(None) => {
            out.say(&format!(
                "Invalid or unknown virtual user '{}'",
                String::from_utf8_lossy(&ext)
            ));
            return exit::PERM;
        }
        Err(e) => {
            // Unreadable (e.g. another uid's 0600 file) or corrupt: defer,
            // where the original bounces as an unknown user.
            let why = match e {
                super::passwd::TableError::Io(io) => io.to_string(),
                other => other.to_string(),
            };
            out.say(&format!("{}: {why}", msg::TABLE));
            return exit::TEMP;
        }
    };
    if entry.expired(super::domain::now()) {
        out.say(&format!(
            "Virtual user '{}' has expired",
            String::from_utf8_lossy(&ext)
        ));
        return exit::PERM;
    }
    for (k, v) in exports(&name, &entry) {
        std::env::set_var(k, v);
    }
    let to_mailbox = entry.has_mailbox && entry.is_enabled && !entry.directory.is_empty();
    let qmail_root = cfg.qmail_root();
    let me = std::fs::read(qmail_root.join("control/me"))
        .ok()
        .map(|b| crate::control::first_line(&b).to_vec());
    let Some(rcpts) = recipients(&entry.forwards, &host, me.as_deref()) else {
        out.say(msg::ME_EMPTY);
        return exit::TEMP;
    };
    if !opts.has("no-predeliver") {
        match cfg.run_hook("vdeliver-predeliver", &[]) {
            0 => {}
            99 => return exit::SKIP,
            r => {
                out.say(msg::PRE_FAILED);
                return r & 0xff;
            }
        }
    }
    let Ok(stdin) = io::stdin().as_fd().try_clone_to_owned() else {
        out.say(msg::WRITE);
        return exit::TEMP;
    };
    let mut message = File::from(stdin);
    let forward = |message: &mut File| -> Result<(), &'static str> {
        if rcpts.is_empty() {
            return Ok(());
        }
        if let Some(at) = sender.iter().position(|&b| b == b'@').filter(|&i| i > 0) {
            std::env::set_var("QMAILUSER", OsStr::from_bytes(&sender[..at]));
            std::env::set_var("QMAILHOST", OsStr::from_bytes(&sender[at + 1..]));
        }
        message.seek(SeekFrom::Start(0)).map_err(|_| msg::QQ_PIPE)?;
        let mut q = Injection::open_at(&qmail_root).map_err(|e| {
            if e == QQ_EXEC {
                msg::QQ_EXEC
            } else {
                msg::QQ_ERROR
            }
        })?;
        if dt_on {
            q.put(dtline);
        }
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            match message.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => q.put(&buf[..n]),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => {
                    q.fail();
                    break;
                }
            }
        }
        let env = Envelope {
            sender: sender.clone(),
            recipients: rcpts.clone(),
        };
        q.close(&env).map_err(|e| {
            if e.text.contains("crashed") {
                msg::QQ_CRASHED
            } else {
                msg::QQ_ERROR
            }
        })
    };
    if to_mailbox {
        let dir = PathBuf::from(OsString::from_vec(entry.directory.clone()));
        let code = to_maildir(
            &dir,
            &out,
            &mut message,
            |f, m| {
                if uf_on {
                    f.write_all(ufline)?;
                }
                if rp_on {
                    f.write_all(rpline)?;
                }
                if dt_on {
                    f.write_all(dtline)?;
                }
                m.seek(SeekFrom::Start(0))?;
                io::copy(m, f)?;
                f.sync_all()
            },
            forward,
        );
        if code != exit::OK {
            return code;
        }
    } else if let Err(m) = forward(&mut message) {
        report_forward(&out, m);
        return exit::TEMP;
    }
    if message.seek(SeekFrom::Start(0)).is_err() {
        out.bare(msg::REWIND);
        return exit::OK;
    }
    if !opts.has("no-postdeliver") {
        match cfg.run_hook("vdeliver-postdeliver", &[]) {
            r @ (0 | 99) => return r,
            r => {
                out.bare(msg::POST_FAILED);
                return r & 0xff;
            }
        }
    }
    exit::OK
}

/// A forwarding failure; an exec failure is reported as the original's
/// child and parent report it.
fn report_forward(out: &Out, m: &str) {
    out.say(m);
    if m == msg::QQ_EXEC {
        out.say(msg::QQ_ERROR);
    }
}

/// §4: write tmp/NAME, run `forward`, link into new/.
fn to_maildir<W, G>(dir: &Path, out: &Out, message: &mut File, write: W, forward: G) -> i32
where
    W: Fn(&mut File, &mut File) -> io::Result<()>,
    G: FnOnce(&mut File) -> Result<(), &'static str>,
{
    if !dir.join("tmp").is_dir() || !dir.join("new").is_dir() {
        out.say(msg::NOT_MAILDIR);
        return exit::TEMP;
    }
    let host = hostname();
    let mut forward = Some(forward);
    let mut attempts = 0;
    loop {
        let name = format!("{}.{}.{host}", super::domain::now(), std::process::id());
        let mut fwd_err: Option<&'static str> = None;
        let mut write_err: Option<io::Error> = None;
        let r = save(dir, &name, Target::New, |f| {
            if let Err(e) = write(f, message) {
                let code = io::Error::new(e.kind(), e.to_string());
                write_err = Some(e);
                return Err(FillError::Write(code));
            }
            if let Some(g) = forward.take() {
                if let Err(m) = g(message) {
                    fwd_err = Some(m);
                    return Err(FillError::Write(io::Error::other(m)));
                }
            }
            Ok(())
        });
        match r {
            Ok(_) => return exit::OK,
            Err(SaveError::Create(e)) if e.raw_os_error() == Some(libc::EDQUOT) => {
                out.say(msg::QUOTA);
                return exit::PERM;
            }
            Err(SaveError::Create(_)) if attempts < 5 => {
                attempts += 1;
                std::thread::sleep(std::time::Duration::from_secs(2));
            }
            Err(SaveError::Create(_)) => {
                out.say(msg::WRITE);
                return exit::TEMP;
            }
            Err(_) if fwd_err.is_some() => {
                report_forward(out, fwd_err.unwrap_or(msg::QQ_ERROR));
                return exit::TEMP;
            }
            Err(SaveError::Write(_) | SaveError::Read(_) | SaveError::Sync(_)) => {
                if write_err.is_some_and(|e| e.raw_os_error() == Some(libc::EDQUOT)) {
                    out.say(msg::QUOTA);
                    return exit::PERM;
                }
                out.say(msg::WRITE);
                return exit::TEMP;
            }
            Err(SaveError::Link(_)) => {
                out.say(msg::LINK);
                return exit::TEMP;
            }
            Err(SaveError::Unlink(_)) => {
                out.say(msg::UNLINK);
                return exit::TEMP;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forward_completion() {
        let f = vec![
            b"bob".to_vec(),
            b"postmaster@".to_vec(),
            b"a@b.example".to_vec(),
        ];
        let r = recipients(&f, b"example.com", Some(b"mail.example.org")).unwrap();
        assert_eq!(r[0], b"bob@example.com");
        assert_eq!(r[1], b"postmaster@mail.example.org");
        assert_eq!(r[2], b"a@b.example");
        assert!(recipients(&f, b"h", Some(b"")).is_none());
        assert!(recipients(&f[..1], b"h", None).is_some());
    }
}
