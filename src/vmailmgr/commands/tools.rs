//! vcheckquota and vpopbull as vmailmgr-tools ships them (the C rewrites
//! of vmailmgr 0.96.9's programs; `shared/spec/vmailmgr/vdeliver.md` §7,
//! `commands.md` §3). Messages go to stderr as `<prog>: <text>`, with
//! `: <strerror>` for system errors, as the bglibs `msg` library prints
//! them.

use std::ffi::{OsStr, OsString};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{err, parse};
use crate::vmailmgr::cli::{value, Kind, Opt, Spec};
use crate::vmailmgr::vpwentry::UNLIMITED;

/// The failure of a step: exit code and message (without the program name).
struct Die(i32, String);

fn sys(e: &io::Error) -> String {
    match e.raw_os_error() {
        Some(n) => nix::errno::Errno::from_raw(n).desc().to_string(),
        None => e.to_string(),
    }
}

fn die_sys(code: i32, what: String, e: &io::Error) -> Die {
    Die(code, format!("{what}: {}", sys(e)))
}

fn report(prog: &str, r: Result<i32, Die>) -> i32 {
    match r {
        Ok(c) => c,
        Err(Die(code, m)) => {
            err(format!("{prog}: {m}\n"));
            code
        }
    }
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Quota messages of vcheckquota (each ends in a newline, so the error
/// library's own newline leaves a blank line).
pub mod msg {
    pub const TOO_BIG: &str =
        "Sorry, this message is larger than the current maximum message size limit.\n";
    pub const TOO_MANY: &str =
        "Sorry, the person you sent this message has too many messages stored in the mailbox\n";
    pub const HARD: &str = "Message would exceed virtual user's disk quota.\n";
    pub const SOFT: &str = "Sorry, your message cannot be delivered.\nUser's disk quota exceeded.\nA small message will be delivered should you wish to inform this person.\n";
    pub const SYMLINK: &str = "Could not create symlink to soft quota warning message";
}

const VCHECKQUOTA_OPTS: &[Opt] = &[
    Opt {
        default: Some("4096"),
        ..value(
            Some(b'a'),
            "soft-maxsize",
            Kind::Uns,
            "The maximum message size after soft quota is reached",
        )
    },
    Opt {
        default: Some("no message"),
        ..value(
            Some(b'm'),
            "soft-message",
            Kind::Str,
            "The path to the soft quota warning message",
        )
    },
];
pub const VCHECKQUOTA: Spec = Spec {
    prog: "vcheckquota",
    args_usage: "",
    prefix: "vmailmgr quota enforcement program\n",
    suffix: "\nWarning: the soft-message is linked into the users maildir once for each\nmessage that is received while the account is over its soft quota.  This may\nresult in multiple warning messages.\n",
    opts: VCHECKQUOTA_OPTS,
    min_args: 0,
    max_args: Some(0),
};

/// The tools' `strtou`: `-` (and any digits after it) is unlimited,
/// else decimal digits wrapping modulo 2^32; the rest must be empty.
pub fn env_number(v: &[u8]) -> Option<u32> {
    if let Some(rest) = v.strip_prefix(b"-") {
        return rest.iter().all(u8::is_ascii_digit).then_some(UNLIMITED);
    }
    let mut n = 0u32;
    for &d in v {
        if !d.is_ascii_digit() {
            return None;
        }
        n = n.wrapping_mul(10).wrapping_add(u32::from(d - b'0'));
    }
    Some(n)
}

/// `st_blocks * 512` of `path` (followed), or 111 `Cannot stat`.
fn stat_size(path: &Path) -> Result<(std::fs::Metadata, u64), Die> {
    let m = std::fs::metadata(path)
        .map_err(|e| die_sys(111, format!("Cannot stat '{}'", path.display()), &e))?;
    let size = m.blocks() * 512;
    Ok((m, size))
}

/// Entries of a directory other than `.` and `..`, as `path/name`.
fn entries(path: &Path) -> Result<Vec<(OsString, PathBuf)>, Die> {
    let open_err = |e: &io::Error| {
        die_sys(
            111,
            format!("Could not open directory '{}'", path.display()),
            e,
        )
    };
    let rd = std::fs::read_dir(path).map_err(|e| open_err(&e))?;
    let mut v = Vec::new();
    for ent in rd {
        let ent = ent.map_err(|e| open_err(&e))?;
        let name = ent.file_name();
        let mut full = path.as_os_str().to_os_string();
        full.push("/");
        full.push(&name);
        v.push((name, PathBuf::from(full)));
    }
    Ok(v)
}

/// Count and size the regular files of `cur/` or `new/`.
fn scan_files(path: &Path, count: &mut u64, size: &mut u64) -> Result<(), Die> {
    for (_, full) in entries(path)? {
        let (m, s) = stat_size(&full)?;
        if m.is_file() {
            *count += 1;
            *size += s;
        }
    }
    Ok(())
}

/// The mailbox usage as the tools version measures it: the directory
/// itself, every top-level entry, the files of `cur/` and `new/`, and
/// each other sub-directory as a maildir (IMAP folder).
fn mailbox_usage(maildir: &Path) -> Result<(u64, u64), Die> {
    let (mut count, mut size) = (0u64, stat_size(maildir)?.1);
    for (name, full) in entries(maildir)? {
        let (m, s) = stat_size(&full)?;
        size += s;
        if !m.is_dir() {
            continue;
        }
        match name.as_bytes() {
            b"cur" | b"new" => scan_files(&full, &mut count, &mut size)?,
            b"tmp" => {}
            _ => {
                for sub in ["cur", "new", "tmp"] {
                    let p = full.join(sub);
                    size += stat_size(&p)?.1;
                    if sub != "tmp" {
                        scan_files(&p, &mut count, &mut size)?;
                    }
                }
            }
        }
    }
    Ok((count, size))
}

fn env_var(name: &str) -> Result<OsString, Die> {
    std::env::var_os(name).ok_or_else(|| Die(111, format!("{name} is not set")))
}

fn env_limit(name: &str) -> Result<u32, Die> {
    env_number(env_var(name)?.as_bytes())
        .ok_or_else(|| Die(111, format!("{name} is not a valid number")))
}

fn link_soft_message(maildir: &Path, message: &OsStr) -> Result<(), Die> {
    let pid = std::process::id();
    loop {
        let mut p = maildir.as_os_str().to_os_string();
        p.push(format!("/new/{}.{pid}.softquota-warning", unix_now()));
        match std::os::unix::fs::symlink(message, &p) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                std::thread::sleep(Duration::from_secs(1))
            }
            Err(_) => return Err(Die(111, msg::SYMLINK.into())),
        }
    }
}

fn check_quota(soft_max: u64, soft_message: Option<OsString>) -> Result<i32, Die> {
    let maildir = env_var("MAILDIR")?;
    if maildir.is_empty() {
        return Err(Die(111, "MAILDIR is empty".into()));
    }
    let maxsize = env_limit("VUSER_MSGSIZE")?;
    let maxcount = env_limit("VUSER_MSGCOUNT")?;
    let mut hard = env_limit("VUSER_HARDQUOTA")?;
    let soft = env_limit("VUSER_SOFTQUOTA")?;
    let st = nix::sys::stat::fstat(0).map_err(|_| Die(111, "Failed to stat message".into()))?;
    let msgsize = u64::try_from(st.st_blocks).unwrap_or(0) * 512;
    if maxsize != UNLIMITED && msgsize > u64::from(maxsize) {
        return Err(Die(100, msg::TOO_BIG.into()));
    }
    if soft == UNLIMITED && hard == UNLIMITED && maxcount == UNLIMITED {
        return Ok(0);
    }
    let maildir = PathBuf::from(maildir);
    let (count, size) = mailbox_usage(&maildir)?;
    let (count, size) = (count + 1, size + msgsize);
    if maxcount != UNLIMITED && count > u64::from(maxcount) {
        return Err(Die(100, msg::TOO_MANY.into()));
    }
    if hard == UNLIMITED {
        if soft == UNLIMITED {
            return Ok(0);
        }
        hard = soft;
    }
    if size > u64::from(hard) {
        return Err(Die(100, msg::HARD.into()));
    }
    if size > u64::from(soft) {
        if let Some(m) = &soft_message {
            link_soft_message(&maildir, m)?;
        }
        if msgsize > soft_max {
            return Err(Die(100, msg::SOFT.into()));
        }
    }
    Ok(0)
}

/// vcheckquota: exit 0 accept, 100 refuse, 111 temporary trouble.
pub fn vcheckquota(argv: &[OsString]) -> i32 {
    let opts = match parse(&VCHECKQUOTA, argv) {
        Ok(o) => o,
        Err(code) => return code,
    };
    let soft_max = opts
        .get("soft-maxsize")
        .and_then(|v| v.to_str()?.trim().parse::<u64>().ok())
        .map_or(4096, |n| n & u64::from(u32::MAX));
    let r = check_quota(soft_max, opts.get("soft-message").cloned());
    report("vcheckquota", r)
}

const VPOPBULL_OPTS: &[Opt] = &[super::QUIET];
pub const VPOPBULL: Spec = Spec {
    prog: "vpopbull",
    args_usage: "bulletin-dir [bulletin-dir2 ...] [-- command]",
    prefix: "Delivers pop bulletins to virtual users\n",
    suffix: "",
    opts: VPOPBULL_OPTS,
    min_args: 1,
    max_args: None,
};

/// mtime of `path` (followed); 0 when it cannot be read.
fn mtime(path: &Path) -> i64 {
    std::fs::metadata(path).map_or(0, |m| m.mtime())
}

fn make_link(target: &OsStr, destdir: &[u8]) -> Result<(), Die> {
    let host = nix::unistd::gethostname()
        .map(|h| h.as_bytes().to_vec())
        .unwrap_or_default();
    let pid = std::process::id();
    let dest = loop {
        let mut d = destdir.to_vec();
        d.extend_from_slice(format!("/{}.{pid}.", unix_now()).as_bytes());
        d.extend_from_slice(&host);
        let d = PathBuf::from(OsStr::from_bytes(&d));
        if let Err(e) = std::fs::metadata(&d) {
            if e.kind() == io::ErrorKind::NotFound {
                break d;
            }
        }
        std::thread::sleep(Duration::from_secs(2));
    };
    std::os::unix::fs::symlink(target, &dest).map_err(|e| {
        die_sys(
            111,
            format!(
                "Could not make symbolic link from '{}' to '{}'",
                Path::new(target).display(),
                dest.display()
            ),
            &e,
        )
    })
}

/// Link every bulletin of `bulldir` newer than `since` into `destdir`.
fn scan_bulletins(destdir: &[u8], bulldir: &[u8], since: i64) -> Result<(), Die> {
    let dir = Path::new(OsStr::from_bytes(bulldir));
    let rd = std::fs::read_dir(dir).map_err(|e| {
        die_sys(
            111,
            format!("Can't open bulletin directory '{}'", dir.display()),
            &e,
        )
    })?;
    for ent in rd.flatten() {
        let name = ent.file_name();
        if name.as_bytes().first() == Some(&b'.') {
            continue;
        }
        let full = [bulldir, b"/", name.as_bytes()].concat();
        let full_p = Path::new(OsStr::from_bytes(&full));
        let t = mtime(full_p);
        if t == 0 {
            let e = std::fs::metadata(full_p)
                .err()
                .unwrap_or_else(|| io::Error::from_raw_os_error(0));
            return Err(die_sys(
                111,
                format!("Can't stat bulletin '{}'", full_p.display()),
                &e,
            ));
        }
        if since < t {
            // A relative bulletin directory is reached from MAILDIR/new
            // through one `../` per `/` in that path.
            let mut src = Vec::new();
            if bulldir.first() != Some(&b'/') {
                for _ in destdir.iter().filter(|&&b| b == b'/') {
                    src.extend_from_slice(b"../");
                }
            }
            src.extend_from_slice(&full);
            make_link(OsStr::from_bytes(&src), destdir)?;
        }
    }
    Ok(())
}

/// What vpopbull does after linking: exit or exec a command.
pub enum PopbullEnd {
    Exit(i32),
    Exec(Vec<OsString>),
}

fn popbull(args: &[OsString]) -> Result<Option<Vec<OsString>>, Die> {
    let home = std::env::var_os("HOME").ok_or_else(|| Die(1, "$HOME is not set".into()))?;
    std::env::set_current_dir(&home)
        .map_err(|e| die_sys(1, "Can't change to home directory".into(), &e))?;
    let maildir =
        std::env::var_os("MAILDIR").ok_or_else(|| Die(1, "$MAILDIR is not set".into()))?;
    let stamp = PathBuf::from(OsStr::from_bytes(
        &[maildir.as_bytes(), b"/.timestamp"].concat(),
    ));
    let since = mtime(&stamp);
    let destdir = [maildir.as_bytes(), b"/new"].concat();
    let mut i = 0;
    while i < args.len() {
        if args[i] == "--" {
            i += 1;
            break;
        }
        scan_bulletins(&destdir, args[i].as_bytes(), since)?;
        i += 1;
    }
    let _ = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&stamp);
    let _ = nix::sys::stat::utimensat(
        None,
        &stamp,
        &nix::sys::time::TimeSpec::UTIME_NOW,
        &nix::sys::time::TimeSpec::UTIME_NOW,
        nix::sys::stat::UtimensatFlags::FollowSymlink,
    );
    Ok((i < args.len()).then(|| args[i..].to_vec()))
}

/// vpopbull: link new bulletins, touch `.timestamp`, then maybe exec.
pub fn vpopbull(argv: &[OsString]) -> PopbullEnd {
    let opts = match parse(&VPOPBULL, argv) {
        Ok(o) => o,
        Err(code) => return PopbullEnd::Exit(code),
    };
    match popbull(&opts.args) {
        Ok(Some(cmd)) => PopbullEnd::Exec(cmd),
        Ok(None) => PopbullEnd::Exit(0),
        Err(d) => PopbullEnd::Exit(report("vpopbull", Err(d))),
    }
}

/// The message after a failed exec of vpopbull's command.
pub fn exec_failed(cmd: &OsStr, e: &io::Error) -> i32 {
    report(
        "vpopbull",
        Err(die_sys(
            111,
            format!("Execution of '{}' failed", Path::new(cmd).display()),
            e,
        )),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tools_strtou() {
        assert_eq!(env_number(b"-"), Some(UNLIMITED));
        assert_eq!(env_number(b"-12"), Some(UNLIMITED));
        assert_eq!(env_number(b""), Some(0));
        assert_eq!(env_number(b"4294967296"), Some(0));
        assert_eq!(env_number(b"12x"), None);
        assert_eq!(env_number(b" 1"), None);
        assert_eq!(env_number(b"-x"), None);
    }
}
