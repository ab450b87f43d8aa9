//! Local delivery: qmail-local's set-up, `.qmail` search and instruction
//! loop (`shared/spec/qmail/local.md` §2), plus the pieces qmail-lspawn and
//! qmail-getpw use (§1).
//!
//! [`Delivery::prepare`] computes everything qmail-local derives from its
//! arguments (the Delivered-To/Return-Path/From_ lines and the
//! qmail-command environment); [`Delivery::run`] looks the `.qmail` file up
//! and executes it. Every failure is a [`Failure`] carrying the original's
//! exit code and message text.

pub mod deliver;
pub mod getpw;
pub mod headerbody;
pub mod lspawn;
pub mod tools;

use crate::quote;
use std::ffi::OsStr;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Seek, SeekFrom, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::dotqmail::{self, Instruction};
use crate::errstr;

/// conf-patrn: mode bits that must not be set on a home or `.qmail`.
pub const PATRN: u32 = 0o002;

/// How qmail-local ends when it does not succeed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// Exit 111: try again later.
    Temp(String),
    /// Exit 100: bounce.
    Perm(String),
}

impl Failure {
    pub fn temp(s: impl Into<String>) -> Self {
        Failure::Temp(s.into())
    }
    pub fn perm(s: impl Into<String>) -> Self {
        Failure::Perm(s.into())
    }
    /// The exit code qmail-local uses.
    pub fn exit_code(&self) -> i32 {
        match self {
            Failure::Temp(_) => 111,
            Failure::Perm(_) => 100,
        }
    }
    /// The message printed (without the final LF); may be empty when a
    /// delivery program already said why.
    pub fn text(&self) -> &str {
        match self {
            Failure::Temp(s) | Failure::Perm(s) => s,
        }
    }
}

/// The eight operands of qmail-local.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Args {
    pub user: Vec<u8>,
    pub home: Vec<u8>,
    pub local: Vec<u8>,
    pub dash: Vec<u8>,
    pub ext: Vec<u8>,
    pub host: Vec<u8>,
    pub sender: Vec<u8>,
    pub aliasempty: Vec<u8>,
}

/// The usage line (exit 100).
pub const USAGE: &str =
    "qmail-local: usage: qmail-local [ -nN ] user homedir local dash ext domain sender aliasempty";

/// Everything qmail-local computes before it looks for a `.qmail` file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub args: Args,
    pub dtline: Vec<u8>,
    pub rpline: Vec<u8>,
    pub ufline: Vec<u8>,
    pub safeext: Vec<u8>,
    /// The qmail-command environment, in the order qmail-local sets it.
    pub env: Vec<(&'static str, Vec<u8>)>,
}

/// Text after the first `-` of `s` (empty if none): EXT2..EXT4.
fn after_dash(s: &[u8]) -> &[u8] {
    match s.iter().position(|&b| b == b'-') {
        Some(i) => &s[i + 1..],
        None => &s[s.len()..],
    }
}

/// Text before the last `.` of `s` (all of it if none): HOST2..HOST4.
fn before_dot(s: &[u8]) -> &[u8] {
    match s.iter().rposition(|&b| b == b'.') {
        Some(i) => &s[..i],
        None => s,
    }
}

fn lf_to_underscore(v: &mut [u8]) {
    for b in v.iter_mut().filter(|b| **b == b'\n') {
        *b = b'_';
    }
}

impl Delivery {
    /// Compute the header lines and environment (`local.md` §2.2), with
    /// `now` the Unix time used for the From_ line.
    pub fn prepare(args: Args, now: u64) -> Self {
        let mut recipient = args.local.clone();
        recipient.push(b'@');
        recipient.extend_from_slice(&args.host);
        let mut dtline = b"Delivered-To: ".to_vec();
        dtline.extend_from_slice(&recipient);
        lf_to_underscore(&mut dtline);
        dtline.push(b'\n');
        let mut rpline = b"Return-Path: <".to_vec();
        rpline.extend_from_slice(&quote::quote2(&args.sender));
        lf_to_underscore(&mut rpline);
        rpline.extend_from_slice(b">\n");
        let ufline = crate::mbox::from_line(&args.sender, &crate::mbox::myctime(now));
        let ext2 = after_dash(&args.ext);
        let ext3 = after_dash(ext2);
        let ext4 = after_dash(ext3);
        let host2 = before_dot(&args.host);
        let host3 = before_dot(host2);
        let host4 = before_dot(host3);
        let env = vec![
            ("HOST", args.host.clone()),
            ("HOME", args.home.clone()),
            ("USER", args.user.clone()),
            ("LOCAL", args.local.clone()),
            ("RECIPIENT", recipient),
            ("DTLINE", dtline.clone()),
            ("SENDER", args.sender.clone()),
            ("RPLINE", rpline.clone()),
            ("UFLINE", ufline.clone()),
            ("EXT", args.ext.clone()),
            ("EXT2", ext2.to_vec()),
            ("EXT3", ext3.to_vec()),
            ("EXT4", ext4.to_vec()),
            ("HOST2", host2.to_vec()),
            ("HOST3", host3.to_vec()),
            ("HOST4", host4.to_vec()),
        ];
        Delivery {
            safeext: dotqmail::safe_ext(&args.ext),
            args,
            dtline,
            rpline,
            ufline,
            env,
        }
    }

    fn set_env(&mut self, name: &'static str, value: Vec<u8>) {
        self.env.retain(|(n, _)| *n != name);
        self.env.push((name, value));
    }

    /// The home directory as a path.
    pub fn home(&self) -> &Path {
        Path::new(OsStr::from_bytes(&self.args.home))
    }

    /// Run qmail-local from its `chdir homedir` on. `msg` is fd 0 (seekable),
    /// `out` receives the `did`/`-n` lines, `warn` warnings.
    pub fn run(
        mut self,
        doit: bool,
        msg: &mut File,
        out: &mut dyn Write,
        warn: &mut dyn Write,
    ) -> Result<(), Failure> {
        if self.args.home.first() != Some(&b'/') {
            return Err(Failure::perm(USAGE));
        }
        std::env::set_current_dir(self.home()).map_err(|e| {
            Failure::temp(format!(
                "Unable to switch to {}: {}. (#4.3.0)",
                String::from_utf8_lossy(&self.args.home),
                errstr::io_text(&e)
            ))
        })?;
        check_home(doit, warn)?;
        if doit {
            loop_check(msg, &self.dtline)?;
        }
        let found = self.search()?;
        let (bytes, mut forward_only) = match found {
            None if !self.args.dash.is_empty() => {
                return Err(Failure::perm(
                    "Sorry, no mailbox here by that name. (#5.1.1)",
                ))
            }
            None => (Vec::new(), false),
            Some((mut f, x)) => {
                let mut v = Vec::new();
                io::Read::read_to_end(&mut f, &mut v)
                    .map_err(|_| Failure::temp("Out of memory. (#4.3.0)"))?;
                (v, x)
            }
        };
        let newsender = self.newsender()?;
        self.set_env("NEWSENDER", newsender.clone());
        let bytes = if bytes.is_empty() {
            forward_only = false;
            self.args.aliasempty.clone()
        } else {
            bytes
        };
        let q = dotqmail::parse(&bytes)
            .map_err(|_| Failure::temp("Uh-oh: first line of .qmail file is blank. (#4.2.1)"))?;
        let mut counts = [0u64; 3];
        let mut recips: Vec<Vec<u8>> = Vec::new();
        let ctx = deliver::Context { delivery: &self };
        for line in &q.lines {
            match &line.instruction {
                Instruction::Blank | Instruction::Comment | Instruction::Unknown => {}
                Instruction::List => forward_only = true,
                Instruction::Mbox(path) | Instruction::Maildir(path) => {
                    counts[0] += 1;
                    if forward_only {
                        return Err(Failure::temp(
                            "Uh-oh: .qmail has file delivery but has x bit set. (#4.7.0)",
                        ));
                    }
                    let maildir = matches!(line.instruction, Instruction::Maildir(_));
                    if !doit {
                        say(out, if maildir { "maildir " } else { "mbox " }, path);
                    } else if maildir {
                        ctx.maildir(msg, path)?;
                    } else {
                        ctx.mbox(msg, path)?;
                    }
                }
                Instruction::Program(cmd) => {
                    counts[2] += 1;
                    if forward_only {
                        return Err(Failure::temp(
                            "Uh-oh: .qmail has prog delivery but has x bit set. (#4.7.0)",
                        ));
                    }
                    if !doit {
                        say(out, "program ", cmd);
                    } else if ctx.program(msg, cmd)? == deliver::Program::Stop {
                        break;
                    }
                }
                Instruction::Forward(addr) => {
                    counts[1] += 1;
                    if doit {
                        recips.push(addr.clone());
                    } else {
                        say(out, "forward ", addr);
                    }
                }
            }
        }
        let qp = if recips.is_empty() {
            None
        } else {
            Some(ctx.forward(msg, &newsender, recips)?)
        };
        let mut did = format!("did {}+{}+{}\n", counts[0], counts[1], counts[2]);
        if let Some(qp) = qp {
            did.push_str(&format!("qp {qp}\n"));
        }
        let _ = out.write_all(did.as_bytes());
        let _ = out.flush();
        Ok(())
    }

    /// §2.3: find the `.qmail` file; sets `DEFAULT` when a default matched.
    fn search(&mut self) -> Result<Option<(File, bool)>, Failure> {
        for c in dotqmail::candidates(&self.args.dash, &self.safeext) {
            if let Some(found) = open_qmail(&c.name)? {
                if let Some(i) = c.default_at {
                    if i <= self.args.ext.len() {
                        let v = self.args.ext[i..].to_vec();
                        self.set_env("DEFAULT", v);
                    }
                }
                return Ok(Some(found));
            }
        }
        Ok(None)
    }

    /// §2.4: NEWSENDER (owner / VERP forms).
    fn newsender(&self) -> Result<Vec<u8>, Failure> {
        let s = &self.args.sender;
        if s.is_empty() || s == b"#@[]" {
            return Ok(s.clone());
        }
        let exists = |suffix: &[u8]| -> Result<bool, Failure> {
            let mut name = b".qmail".to_vec();
            name.extend_from_slice(&self.args.dash);
            name.extend_from_slice(&self.safeext);
            name.extend_from_slice(suffix);
            match std::fs::metadata(OsStr::from_bytes(&name)) {
                Ok(_) => Ok(true),
                Err(e) if errstr::io_is_temp(&e) => Err(open_failure(&name, &e)),
                Err(_) => Ok(false),
            }
        };
        if !exists(b"-owner")? {
            return Ok(s.clone());
        }
        let mut v = self.args.local.clone();
        if exists(b"-owner-default")? {
            v.extend_from_slice(b"-owner-@");
            v.extend_from_slice(&self.args.host);
            v.extend_from_slice(b"-@[]");
        } else {
            v.extend_from_slice(b"-owner@");
            v.extend_from_slice(&self.args.host);
        }
        Ok(v)
    }
}

fn say(out: &mut dyn Write, kind: &str, what: &[u8]) {
    let mut line = kind.as_bytes().to_vec();
    line.extend_from_slice(what);
    line.push(b'\n');
    let _ = out.write_all(&line);
    let _ = out.flush();
}

fn open_failure(name: &[u8], e: &io::Error) -> Failure {
    Failure::temp(format!(
        "Unable to open {}: {}. (#4.3.0)",
        String::from_utf8_lossy(name),
        errstr::io_text(e)
    ))
}

/// `qmeexists`: open a candidate; `Some((file, forward_only))` if it is a
/// usable regular file.
fn open_qmail(name: &[u8]) -> Result<Option<(File, bool)>, Failure> {
    let f = match File::open(OsStr::from_bytes(name)) {
        Ok(f) => f,
        Err(e) => {
            let n = e.raw_os_error().unwrap_or(0);
            if errstr::is_temp(n) || n == libc::EPERM || n == libc::EACCES {
                return Err(open_failure(name, &e));
            }
            return Ok(None);
        }
    };
    let md = f.metadata().map_err(|e| open_failure(name, &e))?;
    if !md.file_type().is_file() {
        return Ok(None);
    }
    if md.mode() & PATRN != 0 {
        return Err(Failure::temp("Uh-oh: .qmail file is writable. (#4.7.0)"));
    }
    Ok(Some((f, md.mode() & 0o100 != 0)))
}

/// `checkhome`: the home directory (now `.`) must not be writable by all
/// nor sticky.
fn check_home(doit: bool, warn: &mut dyn Write) -> Result<(), Failure> {
    let md = std::fs::metadata(".").map_err(|e| {
        Failure::temp(format!(
            "Unable to stat home directory: {}. (#4.3.0)",
            errstr::io_text(&e)
        ))
    })?;
    if md.mode() & PATRN != 0 {
        return Err(Failure::temp("Uh-oh: home directory is writable. (#4.7.0)"));
    }
    if md.mode() & 0o1000 != 0 {
        if doit {
            return Err(Failure::temp(
                "Home directory is sticky: user is editing his .qmail file. (#4.2.1)",
            ));
        }
        let _ = warn.write_all(b"Warning: home directory is sticky.\n");
    }
    Ok(())
}

/// `bouncexf`: refuse a message that already carries our Delivered-To line.
fn loop_check(msg: &mut File, dtline: &[u8]) -> Result<(), Failure> {
    rewind(msg)?;
    let mut r = BufReader::new(&mut *msg);
    let mut line = Vec::new();
    loop {
        line.clear();
        r.read_until(b'\n', &mut line).map_err(|e| {
            Failure::temp(format!(
                "Unable to read message: {}. (#4.3.0)",
                errstr::io_text(&e)
            ))
        })?;
        if line.last() != Some(&b'\n') || line.len() <= 1 {
            return Ok(());
        }
        if line == dtline {
            return Err(Failure::perm(
                "This message is looping: it already has my Delivered-To line. (#5.4.6)",
            ));
        }
    }
}

/// `seek_begin(0)`.
pub fn rewind(msg: &mut File) -> Result<(), Failure> {
    msg.seek(SeekFrom::Start(0))
        .map(|_| ())
        .map_err(|_| Failure::temp("Unable to rewind message. (#4.3.0)"))
}

/// A path from raw bytes.
pub fn bpath(b: &[u8]) -> PathBuf {
    PathBuf::from(OsStr::from_bytes(b))
}
