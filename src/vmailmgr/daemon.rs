//! vmailmgrd: the management daemon's wire protocol and commands
//! (`shared/spec/vmailmgr/vmailmgrd.md`).
//!
//! ```text
//! request  = %x02 length:u16be body          ; one per connection
//! body     = nargs:u8 string(command) nargs*string(arg)
//! string   = len:u16be bytes
//! response = code:u8 (0 OK / 1 BAD / 2 ERROR) len:u16be bytes
//! ```
//!
//! Fixed defects: the body is read until complete (within the 1-second
//! limit) instead of with one read(); adduser2 with 4 and adduser3 with 5
//! arguments are refused; `stat` counts empty directories and never hangs,
//! and counts `S`-flagged messages as seen.

use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::cdb::{Hash, Reader};
use crate::crypt;

use super::account::{self, Account};
use super::config::Config;
use super::domain::{
    self, is_local, new_entry, now, userdir, virtualdomain_prefix, Attr, Code, Response,
};
use super::passwd::Table;
use super::vpwentry::VpwEntry;

/// A decoded request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub command: Vec<u8>,
    pub args: Vec<Vec<u8>>,
}

/// Why a request was dropped without a response (logged `..., aborting`).
pub type Abort = &'static str;

/// Decode the body (after the 3-byte header).
pub fn parse_body(body: &[u8]) -> Result<Request, Abort> {
    let (&n, mut rest) = body
        .split_first()
        .ok_or("Couldn't decode the command string")?;
    let mut take = |err: Abort| -> Result<Vec<u8>, Abort> {
        if rest.len() < 2 {
            return Err(err);
        }
        let len = usize::from(u16::from_be_bytes([rest[0], rest[1]]));
        if rest.len() < 2 + len {
            return Err(err);
        }
        let s = rest[2..2 + len].to_vec();
        rest = &rest[2 + len..];
        Ok(s)
    };
    let command = take("Couldn't decode the command string")?;
    if command.is_empty() {
        return Err("Empty command string");
    }
    let mut args = Vec::new();
    for _ in 0..n {
        args.push(take("Error decoding a command parameter")?);
    }
    Ok(Request { command, args })
}

/// Encode a request (clients, tests).
pub fn write_request(r: &Request, out: &mut Vec<u8>) {
    let mut body = vec![r.args.len() as u8];
    for s in std::iter::once(&r.command).chain(&r.args) {
        body.extend_from_slice(&(s.len() as u16).to_be_bytes());
        body.extend_from_slice(s);
    }
    out.push(2);
    out.extend_from_slice(&(body.len() as u16).to_be_bytes());
    out.extend_from_slice(&body);
}

/// Encode one response (messages longer than 65535 bytes are cut).
pub fn write_response(r: &Response, out: &mut Vec<u8>) {
    let m = &r.msg[..r.msg.len().min(65535)];
    out.push(r.code as u8);
    out.extend_from_slice(&(m.len() as u16).to_be_bytes());
    out.extend_from_slice(m);
}

fn code_word(c: Code) -> &'static str {
    match c {
        Code::Ok => "OK",
        Code::Bad => "BAD",
        Code::Err => "ERROR",
    }
}

/// (name, minimum, maximum) wire argument counts: the dispatch table.
const COMMANDS: &[(&str, usize, usize)] = &[
    ("check", 3, 3),
    ("lookup", 3, 3),
    ("listdomain", 2, 2),
    ("chattr", 5, 255),
    ("adduser2", 5, 255),
    ("adduser3", 6, 255),
    ("deluser", 3, 3),
    ("autoresponse", 4, 5),
    ("stat", 3, 3),
];

/// Logging options.
#[derive(Debug, Clone, Copy)]
pub struct Logging {
    pub failures_only: bool,
    pub verbose: bool,
}

/// Read exactly `n` bytes before `deadline`; fewer on EOF or timeout.
/// Unbuffered (the descriptor itself), so that poll() sees what is unread.
fn read_until(fd: std::os::fd::BorrowedFd<'_>, n: usize, deadline: Instant) -> Vec<u8> {
    let mut buf = vec![0u8; n];
    let mut got = 0;
    while got < n {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        let ms = u16::try_from(left.as_millis().max(1)).unwrap_or(u16::MAX);
        let mut fds = [nix::poll::PollFd::new(fd, nix::poll::PollFlags::POLLIN)];
        match nix::poll::poll(&mut fds, nix::poll::PollTimeout::from(ms)) {
            Ok(0) => break,
            Ok(_) => {}
            Err(nix::errno::Errno::EINTR) => continue,
            Err(_) => break,
        }
        match nix::unistd::read(fd.as_raw_fd(), &mut buf[got..]) {
            Ok(0) => break,
            Ok(k) => got += k,
            Err(nix::errno::Errno::EINTR) => {}
            Err(_) => break,
        }
    }
    buf.truncate(got);
    buf
}

/// Serve one connection on stdin/stdout; log lines go to `log`.
pub fn serve(logging: Logging, log: &mut dyn Write) -> i32 {
    let pid = std::process::id();
    let mut lines: Vec<String> = Vec::new();
    if logging.verbose {
        lines.push(format!("[{pid}] Accepted connection"));
    }
    let stdin = io::stdin();
    let fd = stdin.as_fd();
    let deadline = Instant::now() + Duration::from_secs(1);
    let abort = |lines: &mut Vec<String>, log: &mut dyn Write, why: &str| {
        lines.push(format!("[{pid}] Completed: BAD: {why}, aborting"));
        for l in lines.iter() {
            let _ = writeln!(log, "{l}");
        }
        0
    };
    let header = read_until(fd, 3, deadline);
    if header.len() < 3 {
        let why = if Instant::now() >= deadline {
            "Timed out waiting for remote"
        } else {
            "Short read while reading protocol header"
        };
        return abort(&mut lines, log, why);
    }
    if header[0] != 2 {
        return abort(&mut lines, log, "Invalid protocol from client");
    }
    let len = usize::from(u16::from_be_bytes([header[1], header[2]]));
    let body = read_until(fd, len, deadline);
    if body.len() < len {
        return abort(&mut lines, log, "Short read while reading message data");
    }
    let req = match parse_body(&body) {
        Ok(r) => r,
        Err(why) => return abort(&mut lines, log, why),
    };
    let (request_line, responses) = dispatch(&req);
    let last = responses
        .last()
        .cloned()
        .unwrap_or_else(|| Response::ok(""));
    let mut out = Vec::new();
    for r in &responses {
        write_response(r, &mut out);
    }
    let mut o = io::stdout().lock();
    let _ = o.write_all(&out);
    let _ = o.flush();
    let failed = !last.is_ok();
    if !logging.failures_only || failed {
        if let Some(l) = request_line {
            lines.push(format!("[{pid}] Request: {l}"));
        }
        lines.push(format!(
            "[{pid}] Completed: {}: {}",
            code_word(last.code),
            last.text()
        ));
    }
    let mut bytes = Vec::new();
    for l in lines {
        bytes.extend_from_slice(l.as_bytes());
        bytes.push(b'\n');
    }
    let _ = log.write_all(&bytes);
    0
}

fn masked(cmd: &str, args: &[Vec<u8>]) -> String {
    let mut parts = vec![cmd.to_string()];
    let attr1 = cmd == "chattr" && args.get(2).is_some_and(|a| parse_ulong(a) == 1);
    for (i, a) in args.iter().enumerate() {
        let m = match (cmd, i) {
            ("check" | "lookup" | "chattr" | "autoresponse" | "stat", 1) => Some("<password>"),
            ("adduser2" | "adduser3" | "deluser" | "listdomain", 1) => Some("<adminpass>"),
            ("adduser2" | "adduser3", 2) => Some("<newpass>"),
            ("chattr", 3) if attr1 => Some("<newpass>"),
            ("autoresponse", 3) => Some("<message>"),
            _ => None,
        };
        parts.push(m.map_or_else(|| String::from_utf8_lossy(a).into_owned(), str::to_string));
    }
    parts.join(" ")
}

/// C `strtoul(s, 0, 0)`: decimal, `0x` hex, `0` octal; garbage → 0.
pub fn parse_ulong(s: &[u8]) -> u64 {
    let t = std::str::from_utf8(s).unwrap_or("").trim_start();
    let t = t.strip_prefix('+').unwrap_or(t);
    let (digits, radix) = if let Some(h) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        (h, 16)
    } else if t.len() > 1 && t.starts_with('0') {
        (&t[1..], 8)
    } else {
        (t, 10)
    };
    let end = digits
        .find(|c: char| !c.is_digit(radix))
        .unwrap_or(digits.len());
    u64::from_str_radix(&digits[..end], radix).unwrap_or(0)
}

/// Run one request: the Request log line (if any) and the responses.
pub fn dispatch(req: &Request) -> (Option<String>, Vec<Response>) {
    let Some(&(name, min, max)) = COMMANDS
        .iter()
        .find(|c| c.0.as_bytes() == req.command.as_slice())
    else {
        return (None, vec![Response::bad("Invalid operation")]);
    };
    if req.args.len() < min || req.args.len() > max {
        return (
            None,
            vec![Response::bad(format!(
                "Incorrect number of parameters to command {name}"
            ))],
        );
    }
    let global = Config::global();
    let qroot = global.qmail_root();
    if name == "listdomain" {
        return (Some(masked(name, &req.args)), listdomain(&qroot, &req.args));
    }
    let (dom, user) = (&req.args[0], &req.args[1]);
    let full = if is_local(&qroot, dom) {
        user.clone()
    } else {
        match virtualdomain_prefix(&qroot, dom) {
            None => {
                return (
                    None,
                    vec![Response::err(format!(
                        "Invalid or unknown domain name: {}",
                        String::from_utf8_lossy(dom)
                    ))],
                )
            }
            Some(p) if user.is_empty() => p,
            Some(p) => [p.as_slice(), b"-", user].concat(),
        }
    };
    let mut args = vec![full];
    args.extend_from_slice(&req.args[2..]);
    let line = Some(masked(name, &args));
    let r = match name {
        "check" => vec![check(&args)],
        "lookup" => lookup(&args),
        "chattr" => vec![chattr(&args)],
        "adduser2" => vec![adduser(&args, false)],
        "adduser3" => vec![adduser(&args, true)],
        "deluser" => vec![deluser(&args)],
        "autoresponse" => autoresponse(&args),
        _ => vec![stat(&args)],
    };
    (line, r)
}

/// Become the base user (failures ignored, as in the reference); only a
/// configured `setgid-group` that does not exist is refused.
fn switch(a: &Account) -> Result<Config, Response> {
    let gid = Config::global().switch_gid(a.gid).map_err(Response::err)?;
    let (uid, gid) = (
        nix::unistd::Uid::from_raw(a.uid),
        nix::unistd::Gid::from_raw(gid),
    );
    if nix::unistd::geteuid() != uid {
        let _ = crate::ids::drop_to(uid, gid);
    }
    let _ = std::env::set_current_dir(&a.home);
    Ok(Config::domain(&a.home))
}

/// The result of §3.1.
struct Found {
    cfg: Config,
    table: Table,
    vname: Vec<u8>,
    entry: VpwEntry,
}

/// §3.1: account look-up with password.
fn find(full: &[u8], pass: &[u8], must_exist: bool, user_pass: bool) -> Result<Found, Response> {
    let Some((base, vname)) = account::split_base(full) else {
        return Err(Response::err("Invalid or unknown base user or domain"));
    };
    if pass.is_empty() {
        return Err(Response::err("Incorrect password"));
    }
    let owner_ok = crypt::verify(pass, &base.hash);
    if !owner_ok && !user_pass {
        return Err(Response::err("Incorrect password"));
    }
    if vname.is_empty() {
        return Err(Response::err("User name does not refer to a virtual user"));
    }
    let cfg = switch(&base)?;
    let table = cfg.table();
    let entry = if must_exist {
        let Ok(Some(e)) = table.get(&vname) else {
            return Err(Response::err("Invalid or unknown virtual user"));
        };
        if !owner_ok && !crypt::verify(pass, &e.pass) {
            return Err(Response::err("Incorrect password"));
        }
        e
    } else {
        if table.exists(&vname).unwrap_or(false) {
            return Err(Response::err("Virtual user already exists"));
        }
        new_entry(&cfg, b"*", b"", false, now())
    };
    Ok(Found {
        cfg,
        table,
        vname,
        entry,
    })
}

fn check(args: &[Vec<u8>]) -> Response {
    let Some((base, vname)) = account::split_base(&args[0]) else {
        return Response::err("Invalid or unknown base user or domain");
    };
    let bad = || Response::err("Invalid or incorrect password");
    if vname.is_empty() {
        return if crypt::verify(&args[1], &base.hash) {
            Response::ok("")
        } else {
            bad()
        };
    }
    let cfg = match switch(&base) {
        Ok(c) => c,
        Err(r) => return r,
    };
    match cfg.table().get(&vname) {
        Ok(Some(e)) if crypt::verify(&args[1], &e.pass) => Response::ok(""),
        Ok(Some(_)) => bad(),
        _ => Response::err("Invalid or unknown virtual user"),
    }
}

fn lookup(args: &[Vec<u8>]) -> Vec<Response> {
    match find(&args[0], &args[1], true, true) {
        Err(r) => vec![r],
        Ok(f) => {
            let raw = f
                .table
                .raw(&f.vname)
                .ok()
                .flatten()
                .unwrap_or_else(|| f.entry.to_bytes());
            vec![Response::ok(raw), Response::ok("Wrote virtual user data")]
        }
    }
}

fn listdomain(qroot: &Path, args: &[Vec<u8>]) -> Vec<Response> {
    let Some(prefix) = virtualdomain_prefix(qroot, &args[0]) else {
        return vec![Response::err(format!(
            "Invalid or unknown domain name: {}",
            String::from_utf8_lossy(&args[0])
        ))];
    };
    let Some((base, _)) = account::split_base(&prefix) else {
        return vec![Response::err(format!(
            "Invalid or unknown base user name: {}",
            String::from_utf8_lossy(&prefix)
        ))];
    };
    if !crypt::verify(&args[1], &base.hash) {
        return vec![Response::err("Invalid or incorrect password")];
    }
    let cfg = match switch(&base) {
        Ok(c) => c,
        Err(r) => return vec![r],
    };
    let Ok(bytes) = std::fs::read(cfg.password_table()) else {
        return vec![Response::err("Base user has no virtual password table")];
    };
    let Ok(reader) = Reader::with_hash(&bytes[..], Hash::SignExtend) else {
        return vec![Response::err("Base user has no virtual password table")];
    };
    let mut out = vec![Response::ok("")];
    for rec in reader.iter() {
        let Ok((k, v)) = rec else { break };
        if VpwEntry::parse(v).is_err() {
            break;
        }
        out.push(Response::ok([k, b"\0", v].concat()));
    }
    out.push(Response::ok(""));
    out
}

fn chattr(args: &[Vec<u8>]) -> Response {
    let attr = Attr::from_number(parse_ulong(&args[2]));
    let user_ok = matches!(
        attr,
        Some(Attr::Password | Attr::Forwards | Attr::Enabled | Attr::Personal)
    );
    let f = match find(&args[0], &args[1], true, user_ok) {
        Ok(f) => f,
        Err(r) => return r,
    };
    let mut value = args[3].clone();
    for v in args[4..].iter().filter(|v| !v.is_empty()) {
        value.push(0);
        value.extend_from_slice(v);
    }
    domain::chattr(&f.table, &f.vname, attr, &value)
}

fn adduser(args: &[Vec<u8>], v3: bool) -> Response {
    let mut f = match find(&args[0], &args[1], false, false) {
        Ok(f) => f,
        Err(r) => return r,
    };
    let (newpass, dirname) = (&args[2], &args[3]);
    let fwd_from = if v3 { 5 } else { 4 };
    for a in args[fwd_from..].iter().filter(|a| !a.is_empty()) {
        if let Err(m) = domain::validate_forward(&f.table, a) {
            return Response::err(m);
        }
        f.entry.forwards.push(a.clone());
    }
    f.entry.pass = if newpass.is_empty() {
        b"*".to_vec()
    } else {
        crypt::hash_new(newpass).into_bytes()
    };
    let name = if dirname.is_empty() {
        &f.vname
    } else {
        dirname
    };
    f.entry.directory = [b"./".as_slice(), &userdir(&f.cfg, name)].concat();
    f.entry.has_mailbox = if v3 {
        !args[4].is_empty()
    } else {
        !dirname.is_empty()
    };
    domain::set(&f.table, &f.vname, &f.entry, true)
}

fn deluser(args: &[Vec<u8>]) -> Response {
    match find(&args[0], &args[1], true, false) {
        Ok(f) => domain::delete(&f.table, &f.vname, true),
        Err(r) => r,
    }
}

fn pb(b: &[u8]) -> PathBuf {
    PathBuf::from(std::ffi::OsStr::from_bytes(b))
}

fn autoresponse(args: &[Vec<u8>]) -> Vec<Response> {
    let f = match find(&args[0], &args[1], true, true) {
        Ok(f) => f,
        Err(r) => return vec![r],
    };
    let mut d = f.entry.directory.clone();
    d.push(b'/');
    d.extend_from_slice(&f.cfg.directory("autoresponse-dir"));
    let mut file = d.clone();
    file.push(b'/');
    file.extend_from_slice(&f.cfg.string("autoresponse-file"));
    let (dir, file) = (pb(&d), pb(&file));
    let disabled = PathBuf::from(format!("{}.disabled", file.display()));
    let lock = PathBuf::from(format!("{}.lock", file.display()));
    let msg = args.get(3).cloned().unwrap_or_default();
    let one = |r: Response| vec![r];
    match args[2].as_slice() {
        b"status" => one(Response::ok(if file.exists() {
            "enabled"
        } else if disabled.exists() {
            "disabled"
        } else if dir.is_dir() {
            "missing message file"
        } else {
            "nonexistant"
        })),
        b"write" => {
            if msg.is_empty() {
                return one(Response::bad("Missing autoresponse message argument"));
            }
            if !dir.is_dir() && std::fs::DirBuilder::new().mode(0o755).create(&dir).is_err() {
                return one(Response::err("Could not create autoresponse directory"));
            }
            if lock.exists() {
                return one(Response::err("Temporary autoresponse file already exists"));
            }
            if disabled.exists() {
                return one(Response::err(
                    "Autoresponse is disabled, reenable it before writing a new message",
                ));
            }
            let Ok(mut w) = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o644)
                .open(&lock)
            else {
                return one(Response::err(
                    "Unable to open temporary autoresponse file for writing",
                ));
            };
            if w.write_all(&msg).is_err() {
                let _ = std::fs::remove_file(&lock);
                return one(Response::err("Unable to write message to file"));
            }
            if std::fs::rename(&lock, &file).is_err() {
                return one(Response::err(
                    "Unable to rename temporary autoresponse file",
                ));
            }
            one(Response::ok(
                "Message successfully written to autoresponse file",
            ))
        }
        b"read" => {
            let src = if file.exists() {
                file
            } else if disabled.exists() {
                disabled
            } else {
                return one(Response::err("Autoresponder file does not exist"));
            };
            let mut data = Vec::new();
            match std::fs::File::open(&src).and_then(|f| f.take(65536).read_to_end(&mut data)) {
                Ok(_) => vec![
                    Response::ok(data),
                    Response::ok("Retrieved autoresponse file"),
                ],
                Err(_) => one(Response::err("Unable to read data from autoresponse file")),
            }
        }
        b"disable" => one(if !file.exists() {
            Response::ok("Autoresponse file did not exist")
        } else if disabled.exists() {
            Response::err("Disabled autoresponse file already exists")
        } else if std::fs::rename(&file, &disabled).is_err() {
            Response::err("Unable to rename autoresponse file")
        } else {
            Response::ok("Autoresponse file sucessfully disabled")
        }),
        b"enable" => one(if file.exists() {
            Response::ok("Autoresponse is already enabled")
        } else if !disabled.exists() {
            Response::err("Disabled autoresponse file did not exist")
        } else if std::fs::rename(&disabled, &file).is_err() {
            Response::err("Unable to rename previously disabled autoresponse file")
        } else {
            Response::ok("Autoresponse file sucessfully restored")
        }),
        b"delete" => one(if !dir.is_dir() {
            Response::err("Autoresponse directory does not exist.")
        } else if std::fs::remove_dir_all(&dir).is_err() {
            Response::err("Could not delete autoresponse directory.")
        } else {
            Response::ok("Autoresponse directory deleted.")
        }),
        _ => one(Response::err("Unrecognized command")),
    }
}

/// Maildir counts: (new n, size), (unseen n, size), (seen n, size).
pub fn count_maildir(dir: &Path) -> io::Result<[(u64, u64); 3]> {
    let mut c = [(0u64, 0u64); 3];
    for (sub, is_cur) in [("new", false), ("cur", true)] {
        for ent in std::fs::read_dir(dir.join(sub))? {
            let ent = ent?;
            let name = ent.file_name();
            let n = name.as_bytes();
            if n.first() == Some(&b'.') {
                continue;
            }
            let m = ent.metadata()?;
            if !m.is_file() {
                continue;
            }
            let size = m.blocks() * 512;
            let slot = if !is_cur {
                0
            } else {
                let flags = n.windows(3).position(|w| w == b":2,").map(|i| &n[i + 3..]);
                if flags.is_some_and(|f| f.contains(&b'S')) {
                    2
                } else {
                    1
                }
            };
            c[slot].0 += 1;
            c[slot].1 += size;
        }
    }
    Ok(c)
}

fn stat(args: &[Vec<u8>]) -> Response {
    let f = match find(&args[0], &args[1], true, false) {
        Ok(f) => f,
        Err(r) => return r,
    };
    if !f.entry.has_mailbox {
        return Response::err("User is alias");
    }
    match count_maildir(&pb(&f.entry.directory)) {
        Err(_) => Response::err("Failed to stat maildir"),
        Ok(c) => {
            let mut m = Vec::new();
            for (n, s) in c {
                m.extend_from_slice(format!("\0{n}\0{s}").as_bytes());
            }
            m.push(0);
            Response::ok(m)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documented_example_decodes() {
        let mut b = vec![0x02, 0x00, 0x0a];
        b.extend_from_slice(b"listdomain\0\x15mailtest.somesuch.dom\0\x08mailtest");
        let req = parse_body(&b).unwrap();
        assert_eq!(req.command, b"listdomain");
        assert_eq!(
            req.args,
            vec![b"mailtest.somesuch.dom".to_vec(), b"mailtest".to_vec()]
        );
        let mut out = Vec::new();
        write_request(&req, &mut out);
        assert_eq!(&out[3..], &b[..]);
        assert_eq!(out[..3], [2, 0, 0x2e]);
    }

    #[test]
    fn bad_bodies() {
        assert_eq!(parse_body(&[0, 0, 0, 0]), Err("Empty command string"));
        assert_eq!(
            parse_body(&[1, 0, 1, b'x', 0, 5]),
            Err("Error decoding a command parameter")
        );
        assert_eq!(parse_body(&[]), Err("Couldn't decode the command string"));
        for n in 0..20u8 {
            let _ = parse_body(&[n; 7]);
        }
    }

    #[test]
    fn strtoul_forms() {
        assert_eq!(parse_ulong(b"3"), 3);
        assert_eq!(parse_ulong(b"03"), 3);
        assert_eq!(parse_ulong(b"0x3"), 3);
        assert_eq!(parse_ulong(b"x"), 0);
    }

    #[test]
    fn arity_and_masking() {
        let r = Request {
            command: b"adduser2".to_vec(),
            args: vec![b"d".to_vec(); 4],
        };
        assert_eq!(
            dispatch(&r).1[0].text(),
            "Incorrect number of parameters to command adduser2"
        );
        assert_eq!(
            masked(
                "adduser2",
                &[
                    b"vmtest-n".to_vec(),
                    b"a".to_vec(),
                    b"b".to_vec(),
                    b"".to_vec(),
                    b"alice".to_vec()
                ]
            ),
            "adduser2 vmtest-n <adminpass> <newpass>  alice"
        );
    }
}
