//! The domain operations shared by the tools and vmailmgrd
//! (`shared/spec/vmailmgr/commands.md` §1.5–§1.9, `config.md` §5):
//! directory naming, validation, set / delete / change attribute,
//! control/virtualdomains and control/locals.

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

use super::config::Config;
use super::passwd::{lower, Table, TableError};
use super::vpwentry::{is_c_space, scan_number, VpwEntry, UNLIMITED};

/// Response code of an operation (vmailmgrd's wire codes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    Ok = 0,
    Bad = 1,
    Err = 2,
}

/// An operation's outcome: code and the original's message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub code: Code,
    pub msg: Vec<u8>,
}

impl Response {
    pub fn ok(m: impl Into<Vec<u8>>) -> Self {
        Response {
            code: Code::Ok,
            msg: m.into(),
        }
    }
    pub fn bad(m: impl Into<Vec<u8>>) -> Self {
        Response {
            code: Code::Bad,
            msg: m.into(),
        }
    }
    pub fn err(m: impl Into<Vec<u8>>) -> Self {
        Response {
            code: Code::Err,
            msg: m.into(),
        }
    }
    pub fn is_ok(&self) -> bool {
        self.code == Code::Ok
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.msg).into_owned()
    }
}

/// The original's messages, kept once.
pub mod msg {
    pub const BAD_NAME: &str = "Virtual user or alias name contains invalid characters";
    pub const BAD_PASS: &str = "Password field contains invalid characters";
    pub const ADDED: &str = "User added successfully";
    pub const CANT_ADD: &str = "Can't add the user to the password file";
    pub const NO_USER: &str = "User does not exist";
    pub const HAS_MAILBOX: &str = "User has a mailbox";
    pub const CANT_DELETE: &str = "Couldn't delete user from the password file";
    pub const CANT_DELETE_DIR: &str = "Couldn't delete user's directory";
    pub const DELETED: &str = "Deleted user.";
    pub const UNKNOWN_VUSER: &str = "Invalid or unknown virtual user";
    pub const CANT_CHANGE: &str = "Error changing the password table";
    pub const BAD_NUMBER: &str = "Invalid number";
    pub const BAD_ATTR: &str = "Invalid attribute type";
}

/// CRC-32 (zlib's).
pub fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xffff_ffffu32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// userdir(name) of commands.md §1.5 (no `./` prefix).
pub fn userdir(cfg: &Config, name: &[u8]) -> Vec<u8> {
    let mut dir = cfg.directory("user-dir");
    let bits = cfg.number("user-dir-bits").min(32);
    let slices = cfg.number("user-dir-slices").min(64);
    let mut h = crc32(name);
    let mask = if bits >= 32 {
        u32::MAX
    } else {
        (1u32 << bits) - 1
    };
    let digits = bits.div_ceil(4) as usize;
    for _ in 0..slices {
        if digits > 0 {
            dir.extend_from_slice(format!("{:0digits$x}", h & mask).as_bytes());
        }
        dir.push(b'/');
        h = if bits >= 32 { 0 } else { h >> bits };
    }
    dir.extend(name.iter().map(|&b| if b == b'.' { b':' } else { b }));
    dir
}

/// A user or alias name the library accepts (§1.6). NUL is refused too
/// (it cannot be stored; only the daemon could send one).
pub fn valid_name(name: &[u8]) -> bool {
    !name.is_empty()
        && !name
            .iter()
            .any(|&b| matches!(b, b'/' | b':' | b' ' | b'\t' | b'\r' | b'\n' | 0))
}

/// The stored password field rule (0.97.1: non-empty, no CR/LF/NUL).
pub fn valid_pass(pass: &[u8]) -> bool {
    !pass.is_empty() && !pass.iter().any(|&b| matches!(b, b'\r' | b'\n' | 0))
}

/// Validate one forwarding address (§1.6).
pub fn validate_forward(table: &Table, addr: &[u8]) -> Result<(), String> {
    let at = addr.iter().filter(|&&b| b == b'@').count();
    let shown = String::from_utf8_lossy(addr);
    match at {
        0 => match table.exists(addr) {
            Ok(true) => Ok(()),
            _ => Err(format!("User '{shown}' does not exist")),
        },
        1 => Ok(()),
        _ => Err(format!(
            "Address '{shown}' is invalid:   Address contains more than one at (@) symbol"
        )),
    }
}

fn path_of(b: &[u8]) -> PathBuf {
    PathBuf::from(OsString::from_vec(b.to_vec()))
}

/// `mkdir -p`: parents 0755, the directory 0700; an existing one is fine.
/// Returns whether the directory itself was created now.
fn make_dir(dir: &Path) -> std::io::Result<bool> {
    if dir.is_dir() {
        return Ok(false);
    }
    if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o755)
            .create(parent)?;
    }
    std::fs::DirBuilder::new().mode(0o700).create(dir)?;
    Ok(true)
}

/// The "set" operation (§1.7): add (or replace) `entry` under `name`,
/// creating its directory and maildir. Fixed defects: an empty directory
/// skips the directory steps; a failed table write removes only what this
/// call created, never existing mail.
pub fn set(table: &Table, name: &[u8], entry: &VpwEntry, add: bool) -> Response {
    if !valid_name(name) {
        return Response::bad(msg::BAD_NAME);
    }
    if !valid_pass(&entry.pass) {
        return Response::bad(msg::BAD_PASS);
    }
    let mut created = false;
    if !entry.directory.is_empty() {
        let dir = path_of(&entry.directory);
        match make_dir(&dir) {
            Ok(c) => created = c,
            Err(_) => {
                return Response::err(format!(
                    "Can't create the user directory '{}'",
                    String::from_utf8_lossy(&entry.directory)
                ))
            }
        }
        if entry.has_mailbox {
            for sub in ["cur", "new", "tmp"] {
                let p = dir.join(sub);
                if !p.is_dir() && std::fs::DirBuilder::new().mode(0o755).create(&p).is_err() {
                    if created {
                        let _ = std::fs::remove_dir_all(&dir);
                    }
                    return Response::err(format!(
                        "Can't create the mail directory '{}'",
                        String::from_utf8_lossy(&entry.directory)
                    ));
                }
            }
        }
    }
    let r = if add {
        table.add(name, entry)
    } else {
        table.replace(name, entry)
    };
    if r.is_err() {
        if created {
            let _ = std::fs::remove_dir_all(path_of(&entry.directory));
        }
        return Response::err(msg::CANT_ADD);
    }
    Response::ok(msg::ADDED)
}

/// The "delete" operation (§1.8).
pub fn delete(table: &Table, name: &[u8], allow_mailbox: bool) -> Response {
    let entry = match table.get(name) {
        Ok(Some(e)) => e,
        _ => return Response::err(msg::NO_USER),
    };
    if !allow_mailbox && entry.has_mailbox {
        return Response::err(msg::HAS_MAILBOX);
    }
    if table.delete(name).is_err() {
        return Response::err(msg::CANT_DELETE);
    }
    if !entry.directory.is_empty() && std::fs::remove_dir_all(path_of(&entry.directory)).is_err() {
        return Response::err(msg::CANT_DELETE_DIR);
    }
    Response::ok(msg::DELETED)
}

/// The number rule of §1.9: whole string consumed.
pub fn parse_value_number(v: &[u8]) -> Option<u32> {
    let (n, used) = scan_number(v);
    (used == v.len()).then_some(n)
}

/// Attribute numbers of §1.9 (vmailmgrd's wire numbers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attr {
    Password = 1,
    Forwards = 2,
    HardQuota = 3,
    SoftQuota = 4,
    MsgSize = 5,
    MsgCount = 6,
    Expiry = 7,
    Enabled = 8,
    Personal = 9,
}

impl Attr {
    pub fn from_number(n: u64) -> Option<Attr> {
        Some(match n {
            1 => Attr::Password,
            2 => Attr::Forwards,
            3 => Attr::HardQuota,
            4 => Attr::SoftQuota,
            5 => Attr::MsgSize,
            6 => Attr::MsgCount,
            7 => Attr::Expiry,
            8 => Attr::Enabled,
            9 => Attr::Personal,
            _ => return None,
        })
    }
}

/// The "change attribute" operation (§1.9).
pub fn chattr(table: &Table, name: &[u8], attr: Option<Attr>, value: &[u8]) -> Response {
    let Ok(Some(mut e)) = table.get(name) else {
        return Response::err(msg::UNKNOWN_VUSER);
    };
    let Some(attr) = attr else {
        return Response::bad(msg::BAD_ATTR);
    };
    let number = || parse_value_number(value);
    let ok = match attr {
        Attr::Password => {
            if !valid_pass(value) {
                return Response::bad(msg::BAD_PASS);
            }
            e.pass = crate::crypt::hash_new(value).into_bytes();
            "Password changed"
        }
        Attr::Forwards => {
            let mut list = Vec::new();
            for f in value.split(|&b| b == 0).filter(|f| !f.is_empty()) {
                if let Err(m) = validate_forward(table, f) {
                    return Response::err(m);
                }
                list.push(f.to_vec());
            }
            e.forwards = list;
            "Forwarding address(es) changed"
        }
        Attr::Personal => {
            e.personal = value.to_vec();
            "Personal information changed."
        }
        num => {
            let Some(n) = number() else {
                return Response::err(msg::BAD_NUMBER);
            };
            match num {
                Attr::HardQuota => e.hardquota = n,
                Attr::SoftQuota => e.softquota = n,
                Attr::MsgSize => e.msgsize = n,
                Attr::MsgCount => e.msgcount = n,
                Attr::Expiry => e.expiry = n,
                _ => e.is_enabled = n != 0,
            }
            "Attribute value changed"
        }
    };
    match table.replace(name, &e) {
        Ok(()) => Response::ok(ok),
        Err(TableError::Missing | TableError::Exists | _) => Response::err(msg::CANT_CHANGE),
    }
}

/// A fresh account with the configured defaults (passwd-cdb.md §2.4).
pub fn new_entry(
    cfg: &Config,
    pass: &[u8],
    directory: &[u8],
    has_mailbox: bool,
    now: u32,
) -> VpwEntry {
    let mut e = VpwEntry::new(pass, directory, has_mailbox, now);
    e.hardquota = cfg.number("default-hardquota");
    e.softquota = cfg.number("default-softquota");
    e.msgsize = cfg.number("default-msgsize");
    e.msgcount = cfg.number("default-msgcount");
    e.expiry = relative_expiry(cfg.number("default-expiry"), now);
    e
}

/// now + `secs`, unlimited stays unlimited (and on overflow).
pub fn relative_expiry(secs: u32, now: u32) -> u32 {
    if secs == UNLIMITED {
        UNLIMITED
    } else {
        now.checked_add(secs).unwrap_or(UNLIMITED)
    }
}

/// The current Unix time as the 32-bit field stores it.
pub fn now() -> u32 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as u32)
        .unwrap_or(0)
}

fn strip_trailing(l: &[u8]) -> &[u8] {
    let end = l.iter().rposition(|&b| !is_c_space(b)).map_or(0, |i| i + 1);
    &l[..end]
}

/// control/virtualdomains as vmailmgr reads it: `domain` → prefix.
pub fn virtualdomain_prefix(qmail_root: &Path, domain: &[u8]) -> Option<Vec<u8>> {
    let bytes = std::fs::read(qmail_root.join("control/virtualdomains")).ok()?;
    let mut map: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
    for line in bytes.split(|&b| b == b'\n') {
        let line = strip_trailing(line);
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        if colon == 0 {
            continue;
        }
        let key = lower(&line[..colon]);
        let val = line[colon + 1..].to_vec();
        match map.iter_mut().find(|(k, _)| *k == key) {
            Some(slot) => slot.1 = val,
            None => map.push((key, val)),
        }
    }
    let d = lower(domain);
    let mut candidates = vec![d.clone()];
    for (i, &b) in d.iter().enumerate() {
        if b == b'.' {
            candidates.push(d[i..].to_vec());
        }
    }
    for c in candidates {
        if let Some((_, v)) = map.iter().find(|(k, _)| *k == c) {
            return (!v.is_empty()).then(|| v.clone());
        }
    }
    None
}

/// control/locals: exact (not lower-cased) match.
pub fn is_local(qmail_root: &Path, domain: &[u8]) -> bool {
    std::fs::read(qmail_root.join("control/locals"))
        .map(|b| {
            b.split(|&c| c == b'\n')
                .map(strip_trailing)
                .any(|l| l == domain)
        })
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn userdirs() {
        let t = tempfile::tempdir().unwrap();
        let c = Config::from_dirs(vec![t.path().to_path_buf()]);
        assert_eq!(userdir(&c, b"john.doe"), b"users/john:doe");
        assert_eq!(crc32(b"c"), 0x06b9df6f);
        std::fs::write(t.path().join("user-dir-bits"), "6").unwrap();
        std::fs::write(t.path().join("user-dir-slices"), "1").unwrap();
        assert_eq!(userdir(&c, b"c"), b"users/2f/c");
        std::fs::write(t.path().join("user-dir-bits"), "4").unwrap();
        assert_eq!(userdir(&c, b"old2"), b"users/e/old2");
        std::fs::write(t.path().join("user-dir-bits"), "0").unwrap();
        assert_eq!(userdir(&c, b"c"), b"users//c");
    }

    #[test]
    fn virtualdomains() {
        let t = tempfile::tempdir().unwrap();
        std::fs::create_dir(t.path().join("control")).unwrap();
        std::fs::write(
            t.path().join("control/virtualdomains"),
            "Example.COM:vmtest \n.example.net:vmtest\n:x\nnocolon\n",
        )
        .unwrap();
        std::fs::write(t.path().join("control/locals"), "localhost\n").unwrap();
        assert_eq!(
            virtualdomain_prefix(t.path(), b"example.com").unwrap(),
            b"vmtest"
        );
        assert_eq!(
            virtualdomain_prefix(t.path(), b"a.example.net").unwrap(),
            b"vmtest"
        );
        assert!(virtualdomain_prefix(t.path(), b"other").is_none());
        assert!(is_local(t.path(), b"localhost"));
        assert!(!is_local(t.path(), b"LOCALHOST"));
    }
}
