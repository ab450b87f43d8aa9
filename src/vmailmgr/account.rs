//! Unix accounts: the domain owners (`getpwnam`, `getspnam`).
//!
//! The system databases, or — for tests and the demo, when the install
//! root is overridden (`QMAILRS_ROOT`, never for privileged processes) and
//! `$QMAILRS_ROOT/etc/passwd` exists — that file (and `etc/shadow` beside
//! it), in the same `name:pw:uid:gid:gecos:home:shell` format.

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;
use std::path::PathBuf;

/// A Unix account.
#[derive(Clone, PartialEq, Eq)]
pub struct Account {
    pub name: Vec<u8>,
    pub uid: u32,
    pub gid: u32,
    pub home: PathBuf,
    /// The password hash: the shadow entry's when readable, else passwd's.
    pub hash: Vec<u8>,
}

impl std::fmt::Debug for Account {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Account")
            .field("name", &String::from_utf8_lossy(&self.name))
            .field("uid", &self.uid)
            .field("gid", &self.gid)
            .field("home", &self.home)
            .finish()
    }
}

fn field_lines(bytes: &[u8], name: &[u8]) -> Option<Vec<Vec<u8>>> {
    bytes
        .split(|&b| b == b'\n')
        .map(|l| {
            l.split(|&b| b == b':')
                .map(<[u8]>::to_vec)
                .collect::<Vec<_>>()
        })
        .find(|f| f.first().is_some_and(|n| n == name))
}

fn parse_passwd(bytes: &[u8], name: &[u8]) -> Option<Account> {
    let f = field_lines(bytes, name)?;
    if f.len() < 7 {
        return None;
    }
    let num = |b: &[u8]| std::str::from_utf8(b).ok()?.parse::<u32>().ok();
    Some(Account {
        name: name.to_vec(),
        uid: num(&f[2])?,
        gid: num(&f[3])?,
        home: PathBuf::from(OsString::from_vec(f[5].clone())),
        hash: f[1].clone(),
    })
}

fn shadow_hash(path: &std::path::Path, name: &[u8]) -> Option<Vec<u8>> {
    let bytes = std::fs::read(path).ok()?;
    let f = field_lines(&bytes, name)?;
    f.get(1).cloned()
}

/// The account called `name`, if any. Empty names and names with `:`,
/// `/` or NUL never match.
pub fn by_name(name: &[u8]) -> Option<Account> {
    if name.is_empty() || name.iter().any(|&b| matches!(b, b':' | b'/' | 0 | b'\n')) {
        return None;
    }
    if crate::root::prefix().is_some() {
        let p = crate::root::rooted("/etc/passwd");
        if let Ok(bytes) = std::fs::read(&p) {
            let mut a = parse_passwd(&bytes, name)?;
            if let Some(h) = shadow_hash(&crate::root::rooted("/etc/shadow"), name) {
                a.hash = h;
            }
            return Some(a);
        }
    }
    let s = std::str::from_utf8(name).ok()?;
    let u = nix::unistd::User::from_name(s).ok()??;
    let mut a = Account {
        name: name.to_vec(),
        uid: u.uid.as_raw(),
        gid: u.gid.as_raw(),
        home: u.dir,
        hash: u.passwd.into_bytes(),
    };
    if let Some(h) = shadow_hash(std::path::Path::new("/etc/shadow"), name) {
        a.hash = h;
    }
    Some(a)
}

/// checkvpw.md §3 step 3: the longest `-`-prefix of `name` that is an
/// account, and the rest after that `-` (the virtual name).
pub fn split_base(name: &[u8]) -> Option<(Account, Vec<u8>)> {
    if let Some(a) = by_name(name) {
        return Some((a, Vec::new()));
    }
    let mut end = name.len();
    while let Some(dash) = name[..end].iter().rposition(|&b| b == b'-') {
        if let Some(a) = by_name(&name[..dash]) {
            return Some((a, name[dash + 1..].to_vec()));
        }
        end = dash;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwd_lines() {
        let p = b"root:x:0:0:root:/root:/bin/sh\ndom:x:5003:5003::/home/dom:/bin/sh\n";
        let a = parse_passwd(p, b"dom").unwrap();
        assert_eq!((a.uid, a.gid), (5003, 5003));
        assert_eq!(a.home, PathBuf::from("/home/dom"));
        assert!(parse_passwd(p, b"do").is_none());
    }
}
