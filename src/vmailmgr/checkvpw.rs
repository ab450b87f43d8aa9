//! checkvpw and vauthenticate: checkpassword for virtual and real users
//! (`shared/spec/vmailmgr/checkvpw.md`).
//!
//! login → user and domain (`separators`, else `$TCPLOCALHOST`) → locals /
//! virtualdomains → base Unix user + virtual name → switch to the base
//! user → passwd.cdb record → password, expiry → environment → maildir
//! argument → run the sub-program. Fixed defects: the fd-3 data must hold
//! NUL-terminated login and password (the timestamp may be missing), and
//! the supplementary groups become just the base user's gid.

use std::ffi::{OsStr, OsString};
use std::io::Read;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::checkpassword::{Request, MAX_DATA};
use crate::crypt;

use super::account::{self, Account};
use super::config::Config;
use super::deliver::exports;
use super::domain::{is_local, now, virtualdomain_prefix};
use super::passwd::{Lookup, Table};

/// A refusal, with its class (exit code and hook).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// Exit 1, hook `checkvpw-loginfail`.
    Login(&'static str),
    /// Exit 2, hook `checkvpw-error`.
    Data(&'static str),
    /// Exit 111, hook `checkvpw-error`.
    Temp(&'static str),
}

impl Failure {
    pub fn exit_code(self) -> i32 {
        match self {
            Failure::Login(_) => 1,
            Failure::Data(_) => 2,
            Failure::Temp(_) => 111,
        }
    }
    pub fn message(self) -> &'static str {
        match self {
            Failure::Login(m) | Failure::Data(m) | Failure::Temp(m) => m,
        }
    }
}

/// The original's messages, kept once.
pub mod msg {
    pub const NO_SUBPROGRAM: &str = "No subprogram given to execute";
    pub const READ_ERROR: &str = "Read error";
    pub const TOO_LONG: &str = "Read buffer too long";
    pub const INVALID: &str = "Invalid data";
    pub const NO_HOSTNAME: &str = "Error determining local host name";
    pub const EMPTY_USER: &str = "Empty user name";
    pub const EMPTY_DOMAIN: &str = "Empty domain name";
    pub const NO_BASE: &str = "Invalid or unknown base user or domain";
    pub const NO_VUSER: &str = "Invalid or unknown virtual user";
    pub const BAD_PASS: &str = "Invalid or incorrect password";
    pub const EXPIRED: &str = "Account has expired";
    pub const PRESETUID: &str = "Execution of presetuid failed";
    pub const BAD_USER: &str = "Bad user data in password file";
    pub const EXEC: &str = "Execution of command line arguments failed";
}

/// Where the program is: which configuration chain is active.
pub struct Session {
    pub cfg: Config,
    pub switched: bool,
}

fn set(k: &str, v: impl AsRef<OsStr>) {
    std::env::set_var(k, v);
}

/// Read the checkpassword data (at most 512 bytes).
pub fn read_data(fd3: Option<std::fs::File>) -> Result<Request, Failure> {
    let Some(mut f) = fd3 else {
        return Err(Failure::Data(msg::READ_ERROR));
    };
    let mut buf = Vec::new();
    match (&mut f).take(MAX_DATA as u64 + 1).read_to_end(&mut buf) {
        Ok(_) if buf.len() > MAX_DATA => Err(Failure::Data(msg::TOO_LONG)),
        Ok(_) => Request::parse(&buf).map_err(|_| Failure::Data(msg::INVALID)),
        Err(_) => Err(Failure::Data(msg::READ_ERROR)),
    }
}

/// Split a login into user and domain (§2).
pub fn split_login(login: &[u8], separators: &[u8]) -> Result<(Vec<u8>, Vec<u8>), Failure> {
    let (user, domain) = match login.iter().position(|b| separators.contains(b)) {
        Some(i) => (login[..i].to_vec(), login[i + 1..].to_vec()),
        None => {
            let d = std::env::var_os("TCPLOCALHOST")
                .filter(|v| !v.is_empty())
                .map(OsString::into_vec);
            let d = match d {
                Some(d) => d,
                None => nix::unistd::gethostname()
                    .map_err(|_| Failure::Temp(msg::NO_HOSTNAME))?
                    .into_vec(),
            };
            (login.to_vec(), d)
        }
    };
    if user.is_empty() {
        return Err(Failure::Login(msg::EMPTY_USER));
    }
    if domain.is_empty() {
        return Err(Failure::Login(msg::EMPTY_DOMAIN));
    }
    Ok((user, domain))
}

/// The full name for user@domain (§3 steps 1–2).
pub fn full_name(qmail_root: &Path, user: &[u8], domain: &[u8]) -> Vec<u8> {
    if is_local(qmail_root, domain) {
        return user.to_vec();
    }
    match virtualdomain_prefix(qmail_root, domain) {
        Some(p) => [p.as_slice(), b"-", user].concat(),
        None => user.to_vec(),
    }
}

/// Become the base user (§4 "Switching").
pub fn switch(sess: &mut Session, a: &Account, hook: &str) -> Result<(), Failure> {
    set("USER", OsStr::from_bytes(&a.name));
    set("HOME", &a.home);
    if !hook.is_empty() && sess.cfg.run_hook(hook, &[]) != 0 {
        return Err(Failure::Temp(msg::PRESETUID));
    }
    // `Bad group <name>`: a one-shot process ends right after, so the
    // message may live as long as it does.
    let gid = sess
        .cfg
        .switch_gid(a.gid)
        .map_err(|m| Failure::Temp(Box::leak(m.into_boxed_str())))?;
    let (uid, gid) = (
        nix::unistd::Uid::from_raw(a.uid),
        nix::unistd::Gid::from_raw(gid),
    );
    let same = nix::unistd::geteuid() == uid;
    if !same && crate::ids::drop_to(uid, gid).is_err() {
        return Err(Failure::Temp(msg::BAD_USER));
    }
    if std::env::set_current_dir(&a.home).is_err() {
        return Err(Failure::Temp(msg::BAD_USER));
    }
    sess.cfg = Config::domain(&a.home);
    sess.switched = true;
    Ok(())
}

/// The argument to rewrite (§5 step 1).
pub fn maildir_arg(args: &[OsString], marker: &[u8]) -> usize {
    let marker = marker.to_ascii_lowercase();
    args.iter()
        .position(|a| {
            let l = a.as_bytes().to_ascii_lowercase();
            marker.is_empty() || l.windows(marker.len()).any(|w| w == marker.as_slice())
        })
        .unwrap_or(args.len().saturating_sub(1))
}

/// The authentication steps up to the environment; returns the maildir
/// (record directory, or `None` for a real user).
fn authenticate(sess: &mut Session, req: &Request) -> Result<Option<Vec<u8>>, Failure> {
    let login = req.login.to_ascii_lowercase();
    let (user, domain) = split_login(&login, &sess.cfg.string("separators"))?;
    let name = full_name(&sess.cfg.qmail_root(), &user, &domain);
    let Some((base, vname)) = account::split_base(&name) else {
        return Err(Failure::Login(msg::NO_BASE));
    };
    set("VUSER", OsStr::from_bytes(&vname));
    if vname.is_empty() {
        if !crypt::verify(&req.password, &base.hash) {
            return Err(Failure::Login(msg::BAD_PASS));
        }
        switch(sess, &base, "checkvpw-presetuid")?;
        return Ok(None);
    }
    virtual_login(sess, &base, &vname, &req.password, "checkvpw-presetuid").map(Some)
}

/// A virtual user's login (§3 steps 4–6): switch to the base user (running
/// `presetuid`), find a mailbox record, check password and expiry, export
/// the record; returns the record's directory.
pub fn virtual_login(
    sess: &mut Session,
    base: &Account,
    vname: &[u8],
    password: &[u8],
    presetuid: &str,
) -> Result<Vec<u8>, Failure> {
    switch(sess, base, presetuid)?;
    let table = sess.cfg.table();
    let e = match table.lookup(vname) {
        Ok(Lookup::Found(e)) if e.has_mailbox => e,
        _ => return Err(Failure::Login(msg::NO_VUSER)),
    };
    if !crypt::verify(password, &e.pass) {
        return Err(Failure::Login(msg::BAD_PASS));
    }
    if e.expired(now()) {
        return Err(Failure::Login(msg::EXPIRED));
    }
    for (k, v) in exports(vname, &e) {
        std::env::set_var(k, v);
    }
    Ok(e.directory)
}

fn run_sub(
    sess: &Session,
    mut args: Vec<OsString>,
    maildir: Option<Vec<u8>>,
) -> Result<(), Failure> {
    let idx = maildir_arg(&args, &sess.cfg.string("maildir-arg-str"));
    let mut md = maildir.unwrap_or_else(|| args[idx].as_bytes().to_vec());
    if !PathBuf::from(OsStr::from_bytes(&md)).is_dir() {
        md = sess.cfg.directory("error-maildir");
    }
    set("MAILDIR", OsStr::from_bytes(&md));
    // Dovecot's checkpassword passdb runs `checkvpw checkpassword-reply`
    // with no argument to rewrite; the rule would replace the reply
    // program itself, which can never work, so it is left alone.
    let reply = Path::new(&args[0]).file_name() == Some(OsStr::new("checkpassword-reply"));
    if !(reply && idx == 0) {
        args[idx] = OsString::from_vec(md);
    }
    let status = Command::new(&args[0]).args(&args[1..]).status();
    match status {
        Ok(s) if s.code() == Some(0) && s.signal().is_none() => {
            let _ = sess.cfg.run_hook("checkvpw-postexec", &[]);
            Ok(())
        }
        _ => Err(Failure::Temp(msg::EXEC)),
    }
}

/// checkvpw: `args` are SUBPROGRAM and its arguments; `fd3` the data.
pub fn checkvpw(args: Vec<OsString>, fd3: impl FnOnce() -> Option<std::fs::File>) -> i32 {
    let mut sess = Session {
        cfg: Config::global(),
        switched: false,
    };
    let r = (|| {
        if args.is_empty() {
            return Err(Failure::Data(msg::NO_SUBPROGRAM));
        }
        let req = read_data(fd3())?;
        let maildir = authenticate(&mut sess, &req)?;
        if sess.cfg.run_hook("checkvpw-postsetuid", &[]) != 0 {
            return Err(Failure::Temp(msg::PRESETUID));
        }
        run_sub(&sess, args, maildir)
    })();
    match r {
        Ok(()) => 0,
        Err(f) => {
            set("CHECKVPW_ERROR", f.message());
            let hook = match f {
                Failure::Login(_) => "checkvpw-loginfail",
                _ => "checkvpw-error",
            };
            let _ = sess.cfg.run_hook(hook, &[]);
            f.exit_code()
        }
    }
}

/// vauthenticate: `domain NUL user NUL password` on stdin; prints the
/// account on success (§9).
pub fn vauthenticate() -> (i32, Vec<u8>) {
    let mut buf = Vec::new();
    if std::io::stdin()
        .lock()
        .take(512)
        .read_to_end(&mut buf)
        .is_err()
        || buf.len() >= 512
    {
        return (2, Vec::new());
    }
    let mut parts = buf.splitn(3, |&b| b == 0);
    let (Some(domain), Some(user), Some(pass)) = (parts.next(), parts.next(), parts.next()) else {
        return (2, Vec::new());
    };
    let pass = pass.split(|&b| b == 0).next().unwrap_or_default();
    let mut sess = Session {
        cfg: Config::global(),
        switched: false,
    };
    let name = full_name(&sess.cfg.qmail_root(), user, &domain.to_ascii_lowercase());
    let Some((base, vname)) = account::split_base(&name) else {
        return (1, Vec::new());
    };
    if vname.is_empty() {
        return (1, Vec::new());
    }
    if let Err(f) = switch(&mut sess, &base, "") {
        return (f.exit_code(), Vec::new());
    }
    let e = match Table::new(sess.cfg.password_table()).lookup(&vname) {
        Ok(Lookup::Found(e)) if e.has_mailbox => e,
        _ => return (1, Vec::new()),
    };
    if !crypt::verify(pass, &e.pass) || e.expired(now()) {
        return (1, Vec::new());
    }
    let mut out = format!(
        "UID={}\nGID={}\nUSER={}\nHOME={}\nMAILDIR=",
        base.uid,
        base.gid,
        String::from_utf8_lossy(&base.name),
        base.home.display()
    )
    .into_bytes();
    out.extend_from_slice(&e.directory);
    out.extend_from_slice(b"\nVUSER=");
    out.extend_from_slice(&vname);
    out.push(b'\n');
    (0, out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(v: &[&str]) -> Vec<OsString> {
        v.iter().map(OsString::from).collect()
    }

    #[test]
    fn maildir_argument_rule() {
        assert_eq!(maildir_arg(&a(&["qmail-pop3d", "Maildir"]), b"maildir"), 1);
        assert_eq!(
            maildir_arg(&a(&["prog", "one", "two", "three"]), b"maildir"),
            3
        );
        assert_eq!(
            maildir_arg(&a(&["prog", "--MAILDIR=x", "last"]), b"maildir"),
            1
        );
        assert_eq!(maildir_arg(&a(&["/bin/true"]), b"maildir"), 0);
    }

    #[test]
    fn login_forms() {
        assert_eq!(
            split_login(b"a:b@c", b"@:").unwrap(),
            (b"a".to_vec(), b"b@c".to_vec())
        );
        assert_eq!(
            split_login(b"@x", b"@:"),
            Err(Failure::Login(msg::EMPTY_USER))
        );
        assert_eq!(
            split_login(b"x@", b"@:"),
            Err(Failure::Login(msg::EMPTY_DOMAIN))
        );
    }
}
