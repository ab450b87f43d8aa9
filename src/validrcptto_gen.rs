//! mkvalidrcptto: build `control/validrcptto.cdb` from everything that is
//! deliverable (`shared/spec/qmail/README.md`, "validrcptto.cdb is rebuilt
//! by a cron job"; the rules of jms1's `mkvalidrcptto`):
//!
//! * domains: `control/rcpthosts` and the keys of `morercpthosts.cdb`;
//! * a domain in `control/locals` (or `control/me` when locals is absent):
//!   every account of uid 500..=65000 (`user@dom`), each `.qmail-EXT` in its
//!   home (`user-EXT@dom`), and each `~alias/.qmail-EXT` (`EXT@dom`);
//! * a virtual domain `dom:prefix`: the owner found as qmail-lspawn finds
//!   it (users/assign `=`/`+` entries, else the passwd account before the
//!   first `-`); each of its `.qmail<dash><pre>EXT` files as `EXT@dom`
//!   (`:` back to `.`; `EXT-default` kept as the validrcptto wildcard), and
//!   every vmailmgr user and alias of its passwd.cdb as `name@dom`; `@dom`
//!   when there is a catch-all (a `.qmail-default` that does not run
//!   vdeliver, or the vmailmgr default user);
//! * a domain in `control/smtproutes`: `@dom`;
//! * a domain handled by none of these is an error (nothing is written).
//!
//! Keys are lower-cased, values empty; the cdb is written to
//! `validrcptto.cdb.tmp`, fsynced and renamed over the old one.

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};

use crate::cdb::{Reader, Writer};
use crate::vmailmgr::config::Config;
use crate::vmailmgr::passwd::{lower, Table};

/// What went wrong; the bin prints it.
#[derive(Debug)]
pub enum GenError {
    Unhandled(Vec<Vec<u8>>),
    Io(PathBuf, std::io::Error),
}

impl std::fmt::Display for GenError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            GenError::Unhandled(ds) => {
                for d in ds {
                    writeln!(
                        f,
                        "ERROR: {} is listed in rcpthosts/morercpthosts.cdb but is not handled by the server.",
                        String::from_utf8_lossy(d)
                    )?;
                }
                write!(f, "Cannot continue.")
            }
            GenError::Io(p, e) => write!(f, "{}: {e}", p.display()),
        }
    }
}

fn lines(path: &Path) -> Option<Vec<Vec<u8>>> {
    let b = std::fs::read(path).ok()?;
    Some(
        b.split(|&c| c == b'\n')
            .map(|l| l.trim_ascii().to_vec())
            .filter(|l| !l.is_empty() && l[0] != b'#')
            .collect(),
    )
}

fn path(b: &[u8]) -> PathBuf {
    PathBuf::from(OsString::from_vec(b.to_vec()))
}

/// The owner of a local part, as qmail-lspawn finds it: home, dash, ext.
pub fn resolve(qmail: &Path, local: &[u8]) -> Option<(PathBuf, Vec<u8>, Vec<u8>)> {
    let local = lower(local);
    if let Some(assign) = lines(&qmail.join("users/assign")) {
        let mut best: Option<(usize, PathBuf, Vec<u8>, Vec<u8>)> = None;
        for l in &assign {
            let f: Vec<&[u8]> = l.split(|&c| c == b':').collect();
            if f.len() < 7 {
                continue;
            }
            let (kind, key) = (f[0].first(), lower(&f[0][1.min(f[0].len())..]));
            if kind == Some(&b'=') && key == local {
                return Some((path(f[4]), f[5].to_vec(), f[6].to_vec()));
            }
            if kind == Some(&b'+')
                && local.starts_with(&key)
                && best.as_ref().is_none_or(|b| b.0 < key.len())
            {
                let ext = [f[6], &local[key.len()..]].concat();
                best = Some((key.len(), path(f[4]), f[5].to_vec(), ext));
            }
        }
        if let Some((_, h, d, e)) = best {
            return Some((h, d, e));
        }
    }
    let (user, dash, ext) = match local.iter().position(|&c| c == b'-') {
        Some(i) => (&local[..i], b"-".to_vec(), local[i + 1..].to_vec()),
        None => (&local[..], Vec::new(), Vec::new()),
    };
    let a = crate::vmailmgr::account::by_name(user)?;
    Some((a.home, dash, ext))
}

/// The `.qmail` files of `home` starting with `.qmail` + `stem`: the rest,
/// `:` turned back into `.`, lower-cased; with each file's content.
fn dot_qmail(home: &Path, stem: &[u8]) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut out = Vec::new();
    let Ok(rd) = std::fs::read_dir(home) else {
        return out;
    };
    let pre = [b".qmail".as_slice(), stem].concat();
    for ent in rd.flatten() {
        let name = ent.file_name();
        let n = name.as_bytes();
        if let Some(rest) = n.strip_prefix(pre.as_slice()).filter(|r| !r.is_empty()) {
            let ext: Vec<u8> = rest
                .iter()
                .map(|&c| if c == b':' { b'.' } else { c })
                .collect();
            let content = std::fs::read(ent.path()).unwrap_or_default();
            out.push((lower(&ext), content));
        }
    }
    out
}

fn passwd_accounts() -> Vec<(Vec<u8>, PathBuf)> {
    let p = if crate::root::prefix().is_some() && crate::root::rooted("/etc/passwd").exists() {
        crate::root::rooted("/etc/passwd")
    } else {
        PathBuf::from("/etc/passwd")
    };
    let Ok(b) = std::fs::read(p) else {
        return Vec::new();
    };
    b.split(|&c| c == b'\n')
        .filter_map(|l| {
            let f: Vec<&[u8]> = l.split(|&c| c == b':').collect();
            let uid: u32 = std::str::from_utf8(f.get(2)?).ok()?.parse().ok()?;
            let home = path(f.get(5)?);
            ((500..=65000).contains(&uid)).then(|| (f[0].to_vec(), home))
        })
        .collect()
}

/// All keys for the qmail tree at `qmail`.
pub fn collect(qmail: &Path) -> Result<BTreeSet<Vec<u8>>, GenError> {
    let control = qmail.join("control");
    let mut domains: BTreeSet<Vec<u8>> = lines(&control.join("rcpthosts"))
        .unwrap_or_default()
        .into_iter()
        .map(|d| lower(&d))
        .collect();
    if let Ok(b) = std::fs::read(control.join("morercpthosts.cdb")) {
        if let Ok(r) = Reader::new(&b[..]) {
            domains.extend(r.iter().flatten().map(|(k, _)| lower(k)));
        }
    }
    let locals: BTreeSet<Vec<u8>> = lines(&control.join("locals"))
        .or_else(|| lines(&control.join("me")).map(|m| m.into_iter().take(1).collect()))
        .unwrap_or_default()
        .into_iter()
        .map(|d| lower(&d))
        .collect();
    let mut virtuals = Vec::new();
    for l in lines(&control.join("virtualdomains")).unwrap_or_default() {
        if let Some(c) = l.iter().position(|&b| b == b':') {
            virtuals.push((lower(l[..c].trim_ascii()), l[c + 1..].trim_ascii().to_vec()));
        }
    }
    let routes: BTreeSet<Vec<u8>> = lines(&control.join("smtproutes"))
        .unwrap_or_default()
        .into_iter()
        .filter_map(|l| {
            let d = l.split(|&b| b == b':').next()?.to_vec();
            (!d.is_empty()).then(|| lower(&d))
        })
        .collect();
    let mut keys = BTreeSet::new();
    let mut unhandled = Vec::new();
    let users = passwd_accounts();
    for d in &domains {
        let at = |local: &[u8]| [local, b"@", d].concat();
        if locals.contains(d) {
            for (u, home) in &users {
                keys.insert(at(u));
                for (ext, _) in dot_qmail(home, b"-") {
                    keys.insert(at(&[u.as_slice(), b"-", &ext].concat()));
                }
            }
            for (ext, _) in dot_qmail(&qmail.join("alias"), b"-") {
                if ext != b"default" {
                    keys.insert(at(&ext));
                }
            }
        } else if let Some((_, prefix)) = virtuals.iter().find(|(k, _)| k == d) {
            virtual_domain(qmail, d, prefix, &mut keys);
        } else if routes.contains(d) {
            keys.insert([b"@".as_slice(), d].concat());
        } else {
            unhandled.push(d.clone());
        }
    }
    if !unhandled.is_empty() {
        return Err(GenError::Unhandled(unhandled));
    }
    Ok(keys)
}

fn virtual_domain(qmail: &Path, d: &[u8], prefix: &[u8], keys: &mut BTreeSet<Vec<u8>>) {
    let at = |local: &[u8]| [local, b"@", d].concat();
    let Some((home, dash, pre)) = resolve(qmail, &[prefix, b"-"].concat()) else {
        return;
    };
    let stem = [dash.as_slice(), &pre].concat();
    for (ext, content) in dot_qmail(&home, &stem) {
        if ext == b"default" {
            if !content.windows(8).any(|w| w == b"vdeliver") {
                keys.insert(at(b""));
            }
        } else {
            keys.insert(at(&ext));
        }
    }
    let cfg = Config::domain(&home);
    let table = home.join(cfg.password_table());
    let default_user = lower(&cfg.string("default-username"));
    if let Ok(Some(all)) = Table::new(table).list() {
        for (k, _) in all {
            let Some(name) = k.strip_prefix(pre.as_slice()) else {
                continue;
            };
            if name == default_user.as_slice() {
                keys.insert(at(b""));
            } else if !name.is_empty() {
                keys.insert(at(name));
            }
        }
    }
}

/// Build and install `control/validrcptto.cdb`; returns the key count.
pub fn rebuild(qmail: &Path) -> Result<usize, GenError> {
    let keys = collect(qmail)?;
    install(qmail, &keys)?;
    Ok(keys.len())
}

/// Write `keys` as `control/validrcptto.cdb` (tmp, fsync, rename).
fn install(qmail: &Path, keys: &BTreeSet<Vec<u8>>) -> Result<(), GenError> {
    let mut w = Writer::new();
    for k in keys {
        w.add(k, b"")
            .map_err(|e| GenError::Io(qmail.into(), std::io::Error::other(e.to_string())))?;
    }
    let bytes = w
        .finish()
        .map_err(|e| GenError::Io(qmail.into(), std::io::Error::other(e.to_string())))?;
    let dest = qmail.join("control/validrcptto.cdb");
    let tmp = qmail.join("control/validrcptto.cdb.tmp");
    crate::cdb::write_atomic(&dest, &tmp, &bytes).map_err(|e| GenError::Io(dest, e))
}

/// The opt-in instant mode (`mkvalidrcptto -w`): re-collect every
/// `interval` and install the cdb whenever the address set changed, so a
/// new vmailmgr user, alias or `.qmail` file is accepted within the
/// interval. Runs until an error it cannot recover from (an unhandled
/// domain is reported once and retried).
pub fn watch(qmail: &Path, interval: std::time::Duration) -> GenError {
    let mut last: Option<BTreeSet<Vec<u8>>> = None;
    let mut reported = false;
    loop {
        match collect(qmail) {
            Ok(keys) => {
                reported = false;
                if last.as_ref() != Some(&keys) {
                    if let Err(e) = install(qmail, &keys) {
                        return e;
                    }
                    last = Some(keys);
                }
            }
            Err(e @ GenError::Unhandled(_)) => {
                if !reported {
                    eprintln!("mkvalidrcptto: {e}");
                    reported = true;
                }
            }
            Err(e) => return e,
        }
        std::thread::sleep(interval);
    }
}

/// Opt-in rebuild after a change by vadduser/vdeluser/vaddalias: runs the
/// global hook `validrcptto-rebuild` (e.g. a script running
/// `sudo /usr/bin/mkvalidrcptto`), if installed. Its result is ignored:
/// the cron job remains the safety net.
pub fn after_change() {
    let _ = Config::global().run_hook("validrcptto-rebuild", &[]);
}
