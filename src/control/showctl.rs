//! qmail-showctl's report (`shared/spec/qmail/control.md` §6), byte for
//! byte, including the original's wording (`Authenicated`, sic).
//!
//! The entries are data: one row per control file, in the original's
//! order, with its reader and its default/prefix/suffix texts.

use std::io;
use std::path::Path;

use super::{first_line, list_lines, parse_uint};

/// How one entry is read and shown.
#[derive(Debug, Clone, Copy)]
enum Entry {
    /// `do_lst(name, default, pre, post)`.
    List(&'static str, &'static str, &'static str, &'static str),
    /// `do_str(name, flagme, default, pre)`.
    Str(&'static str, bool, &'static str, &'static str),
    /// `do_int(name, default, pre, post)`.
    Int(&'static str, &'static str, &'static str, &'static str),
    /// rcpthosts, then morercpthosts worded by rcpthosts' presence, then
    /// the morercpthosts.cdb freshness line.
    RcptHosts,
}

use Entry::{Int, List, Str};

/// The entries in the original's order (fehcom AUTH builds put
/// `authsenders` first).
const ENTRIES: &[Entry] = &[
    List(
        "authsenders",
        "No authenticated SMTP sender.",
        "Authenicated SMTP sender: ",
        "",
    ),
    List(
        "badmailfrom",
        "Any MAIL FROM is allowed.",
        "",
        " not accepted in MAIL FROM.",
    ),
    Str("bouncefrom", false, "MAILER-DAEMON", "Bounce user name is "),
    Str("bouncehost", true, "bouncehost", "Bounce host name is "),
    Int("concurrencylocal", "10", "Local concurrency is ", ""),
    Int("concurrencyremote", "20", "Remote concurrency is ", ""),
    Int("databytes", "0", "SMTP DATA limit is ", " bytes"),
    Str(
        "defaultdomain",
        true,
        "defaultdomain",
        "Default domain name is ",
    ),
    Str("defaulthost", true, "defaulthost", "Default host name is "),
    Str(
        "doublebouncehost",
        true,
        "doublebouncehost",
        "2B recipient host: ",
    ),
    Str("doublebounceto", false, "postmaster", "2B recipient user: "),
    Str(
        "envnoathost",
        true,
        "envnoathost",
        "Presumed domain name is ",
    ),
    Str(
        "helohost",
        true,
        "helohost",
        "SMTP client HELO host name is ",
    ),
    Str("idhost", true, "idhost", "Message-ID host name is "),
    Str(
        "localiphost",
        true,
        "localiphost",
        "Local IP address becomes ",
    ),
    List(
        "locals",
        "Messages for me are delivered locally.",
        "Messages for ",
        " are delivered locally.",
    ),
    Str("me", false, "undefined! Uh-oh", "My name is "),
    List(
        "percenthack",
        "The percent hack is not allowed.",
        "The percent hack is allowed for user%host@",
        ".",
    ),
    Str("plusdomain", true, "plusdomain", "Plus domain name is "),
    List("qmqpservers", "No QMQP servers.", "QMQP server: ", "."),
    Int(
        "queuelifetime",
        "604800",
        "Message lifetime in the queue is ",
        " seconds",
    ),
    Entry::RcptHosts,
    Str("smtpgreeting", true, "smtpgreeting", "SMTP greeting: 220 "),
    List(
        "smtproutes",
        "No artificial SMTP routes.",
        "SMTP route: ",
        "",
    ),
    Int(
        "timeoutconnect",
        "60",
        "SMTP client connection timeout is ",
        " seconds",
    ),
    Int(
        "timeoutremote",
        "1200",
        "SMTP client data timeout is ",
        " seconds",
    ),
    Int(
        "timeoutsmtpd",
        "1200",
        "SMTP server data timeout is ",
        " seconds",
    ),
    List(
        "virtualdomains",
        "No virtual domains.",
        "Virtual domain: ",
        "",
    ),
];

/// Names the report knows; every other directory entry is "no idea".
const KNOWN: &[&str] = &[
    "authsenders",
    "badmailfrom",
    "bouncefrom",
    "bouncehost",
    "concurrencylocal",
    "concurrencyremote",
    "databytes",
    "defaultdomain",
    "defaulthost",
    "doublebouncehost",
    "doublebounceto",
    "envnoathost",
    "helohost",
    "idhost",
    "localiphost",
    "locals",
    "me",
    "morercpthosts",
    "morercpthosts.cdb",
    "percenthack",
    "plusdomain",
    "qmqpservers",
    "queuelifetime",
    "rcpthosts",
    "smtpgreeting",
    "smtproutes",
    "timeoutconnect",
    "timeoutremote",
    "timeoutsmtpd",
    "virtualdomains",
];

/// Why the report stops early; each has the original's text and exit 111.
#[derive(Debug)]
pub enum Fatal {
    /// `Oops! Unable to chdir to control.`
    NoControlDir,
    /// `Oops! Unable to open current directory.`
    OpenDir,
    /// `Oops! Trouble reading control/me.` (no LF)
    Me,
}

impl Fatal {
    /// The exact text the original prints to stdout.
    pub fn text(&self) -> &'static str {
        match self {
            Fatal::NoControlDir => "Oops! Unable to chdir to control.\n",
            Fatal::OpenDir => "Oops! Unable to open current directory.\n",
            Fatal::Me => "Oops! Trouble reading control/me.",
        }
    }
}

/// The compile-time facts of the header (`common.md` §1).
#[derive(Debug, Clone)]
pub struct Header {
    pub home: String,
    /// alias, qmaild, qmaill, root, qmailp, qmailq, qmailr, qmails.
    pub uids: [u32; 8],
    /// nofiles, qmail.
    pub gids: [u32; 2],
}

/// The first seven lines of the report.
pub fn header(h: &Header, out: &mut Vec<u8>) {
    let join = |v: &[u32]| v.iter().map(u32::to_string).collect::<Vec<_>>().join(", ");
    out.extend_from_slice(
        format!(
            "qmail home directory: {}.\nuser-ext delimiter: -.\n\
             paternalism (in decimal): 2.\nsilent concurrency limit: 120.\n\
             subdirectory split: 23.\nuser ids: {}.\ngroup ids: {}.\n",
            h.home,
            join(&h.uids),
            join(&h.gids)
        )
        .as_bytes(),
    );
}

/// Unprintable bytes (< 32 or > 126) shown as `?` (`safeput`).
fn safeput(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend(
        bytes
            .iter()
            .map(|&b| if (32..=126).contains(&b) { b } else { b'?' }),
    );
}

fn read(dir: &Path, name: &str) -> io::Result<Option<Vec<u8>>> {
    match std::fs::read(dir.join(name)) {
        Ok(b) => Ok(Some(b)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

fn title(out: &mut Vec<u8>, name: &str) {
    out.extend_from_slice(format!("\n{name}: ").as_bytes());
}

const TROUBLE: &[u8] = b"Oops! Trouble reading this file.\n";

/// `do_lst`: returns whether the file existed (`Err` = read trouble).
fn do_list(
    dir: &Path,
    out: &mut Vec<u8>,
    name: &str,
    def: &str,
    pre: &str,
    post: &str,
) -> Result<bool, ()> {
    title(out, name);
    match read(dir, name) {
        Ok(None) => {
            out.extend_from_slice(format!("(Default.) {def}\n").as_bytes());
            Ok(false)
        }
        Ok(Some(bytes)) => {
            out.push(b'\n');
            for line in list_lines(&bytes) {
                out.extend_from_slice(pre.as_bytes());
                safeput(out, &line);
                out.extend_from_slice(post.as_bytes());
                out.push(b'\n');
            }
            Ok(true)
        }
        Err(_) => {
            out.extend_from_slice(TROUBLE);
            Err(())
        }
    }
}

fn do_str(dir: &Path, out: &mut Vec<u8>, me: Option<&[u8]>, e: (&str, bool, &str, &str)) {
    let (name, flagme, def, pre) = e;
    title(out, name);
    let value = match read(dir, name) {
        Ok(Some(bytes)) => first_line(&bytes).to_vec(),
        Ok(None) => {
            out.extend_from_slice(b"(Default.) ");
            match me {
                Some(me) if flagme => me.to_vec(),
                _ => def.as_bytes().to_vec(),
            }
        }
        Err(_) => return out.extend_from_slice(TROUBLE),
    };
    out.extend_from_slice(pre.as_bytes());
    safeput(out, &value);
    out.extend_from_slice(b".\n");
}

fn do_int(dir: &Path, out: &mut Vec<u8>, e: (&str, &str, &str, &str)) {
    let (name, def, pre, post) = e;
    title(out, name);
    match read(dir, name) {
        Ok(bytes) => match bytes.and_then(|b| parse_uint(first_line(&b))) {
            None => out.extend_from_slice(format!("(Default.) {pre}{def}{post}.\n").as_bytes()),
            Some(v) => {
                let shown = (v as u32 as i32).max(0);
                out.extend_from_slice(format!("{pre}{shown}{post}.\n").as_bytes());
            }
        },
        Err(_) => out.extend_from_slice(TROUBLE),
    }
}

fn do_rcpthosts(dir: &Path, out: &mut Vec<u8>) {
    let have = do_list(
        dir,
        out,
        "rcpthosts",
        "SMTP clients may send messages to any recipient.",
        "SMTP clients may send messages to recipients at ",
        ".",
    );
    // The original takes the first branch for "exists" and "error" alike.
    let _ = if have != Ok(false) {
        do_list(
            dir,
            out,
            "morercpthosts",
            "No effect.",
            "SMTP clients may send messages to recipients at ",
            ".",
        )
    } else {
        do_list(
            dir,
            out,
            "morercpthosts",
            "No rcpthosts; morercpthosts is irrelevant.",
            "No rcpthosts; doesn't matter that morercpthosts has ",
            ".",
        )
    };
    let mtime = |n: &str| {
        std::fs::metadata(dir.join(n))
            .ok()
            .map(|m| std::os::unix::fs::MetadataExt::mtime(&m))
    };
    let line = match (mtime("morercpthosts"), mtime("morercpthosts.cdb")) {
        (None, None) => "(Default.) No effect.",
        (None, Some(_)) => "Oops! morercpthosts.cdb exists but morercpthosts doesn't.",
        (Some(_), None) => "Oops! morercpthosts exists but morercpthosts.cdb doesn't.",
        (Some(t), Some(c)) if t > c => "Oops! morercpthosts.cdb is older than morercpthosts.",
        _ => "Modified recently enough; hopefully up to date.",
    };
    out.extend_from_slice(format!("\nmorercpthosts.cdb: {line}\n").as_bytes());
}

/// Everything after the header, for the control directory `dir`.
pub fn report(dir: &Path, out: &mut Vec<u8>) -> Result<(), Fatal> {
    if !dir.is_dir() {
        return Err(Fatal::NoControlDir);
    }
    let entries = std::fs::read_dir(dir).map_err(|_| Fatal::OpenDir)?;
    let me = read(dir, "me")
        .map_err(|_| Fatal::Me)?
        .map(|b| first_line(&b).to_vec());
    for e in ENTRIES {
        match *e {
            List(n, d, pre, post) => {
                let _ = do_list(dir, out, n, d, pre, post);
            }
            Str(n, flagme, d, pre) => do_str(dir, out, me.as_deref(), (n, flagme, d, pre)),
            Int(n, d, pre, post) => do_int(dir, out, (n, d, pre, post)),
            Entry::RcptHosts => do_rcpthosts(dir, out),
        }
    }
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if KNOWN.contains(&name.as_ref()) {
            continue;
        }
        out.extend_from_slice(b"\n");
        out.extend_from_slice(entry.file_name().as_encoded_bytes());
        out.extend_from_slice(b": I have no idea what this file does.\n");
    }
    Ok(())
}
