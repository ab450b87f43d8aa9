//! vmailmgr's configuration: one value per file in `/etc/vmailmgr` and
//! `~/.vmailmgr` (`shared/spec/vmailmgr/config.md`).
//!
//! Values are searched local directory first, then the global one; hooks
//! are run global first. Every setting, its type and its default is one row
//! of [`SETTINGS`], which `showvconfig` prints in order.

use std::ffi::OsString;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::vpwentry::{is_c_space, scan_number, UNLIMITED};

/// The type of a setting (config.md §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Str,
    Dir,
    Number,
    List,
}

/// A setting's default.
#[derive(Debug, Clone, Copy)]
pub enum Default {
    Text(&'static str),
    Number(u32),
    List(&'static [&'static str]),
}

/// Every setting of config.md §3, in showvconfig's order.
pub const SETTINGS: &[(&str, Kind, Default)] = &[
    (
        "autoresponse-dir",
        Kind::Dir,
        Default::Text("autoresponse/"),
    ),
    ("autoresponse-file", Kind::Str, Default::Text("message.txt")),
    ("bulletin-dir", Kind::Dir, Default::Text("bulletins/")),
    ("default-expiry", Kind::Number, Default::Number(UNLIMITED)),
    ("default-maildir", Kind::Dir, Default::Text("Maildir/")),
    ("default-msgcount", Kind::Number, Default::Number(UNLIMITED)),
    ("default-msgsize", Kind::Number, Default::Number(UNLIMITED)),
    (
        "default-hardquota",
        Kind::Number,
        Default::Number(UNLIMITED),
    ),
    (
        "default-softquota",
        Kind::Number,
        Default::Number(UNLIMITED),
    ),
    ("default-username", Kind::Str, Default::Text("+")),
    (
        "error-maildir",
        Kind::Dir,
        Default::Text("/var/lib/vmailmgr/error-maildir/"),
    ),
    (
        "global-bulletin-dir",
        Kind::Dir,
        Default::Text("/var/spool/bulletins/"),
    ),
    ("maildir-arg-str", Kind::Str, Default::Text("maildir")),
    ("password-file", Kind::Str, Default::Text("passwd")),
    (
        "postmaster-aliases",
        Kind::List,
        Default::List(&["mailer-daemon", "postmaster", "root"]),
    ),
    ("postmaster-email", Kind::Str, Default::Text("postmaster@")),
    ("qmail-root", Kind::Dir, Default::Text("/var/qmail/")),
    ("separators", Kind::Str, Default::Text("@:")),
    ("socket-file", Kind::Str, Default::Text("/tmp/.vmailmgrd")),
    ("user-dir", Kind::Dir, Default::Text("users/")),
    ("user-dir-bits", Kind::Number, Default::Number(0)),
    ("user-dir-slices", Kind::Number, Default::Number(0)),
];

/// A configuration chain: directories searched in order.
#[derive(Debug, Clone)]
pub struct Config {
    dirs: Vec<PathBuf>,
}

/// A value as showvconfig prints it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Text(Vec<u8>),
    Number(u32),
    List(Vec<Vec<u8>>),
}

fn strip(line: &[u8]) -> &[u8] {
    let start = line
        .iter()
        .position(|&b| !is_c_space(b))
        .unwrap_or(line.len());
    let end = line
        .iter()
        .rposition(|&b| !is_c_space(b))
        .map_or(start, |i| i + 1);
    &line[start..end.max(start)]
}

fn with_slash(mut v: Vec<u8>) -> Vec<u8> {
    if v.last() != Some(&b'/') {
        v.push(b'/');
    }
    v
}

impl Config {
    /// The global directory only (checkvpw before the switch, vmailmgrd
    /// dispatch, the CGIs).
    pub fn global() -> Self {
        Config {
            dirs: vec![crate::root::vmailmgr_conf()],
        }
    }

    /// The domain chain of the owner whose home is `home`.
    pub fn domain(home: &Path) -> Self {
        Config {
            dirs: vec![home.join(".vmailmgr"), crate::root::vmailmgr_conf()],
        }
    }

    /// An explicit chain (tests).
    pub fn from_dirs(dirs: Vec<PathBuf>) -> Self {
        Config { dirs }
    }

    fn first_line(&self, name: &str) -> impl Iterator<Item = Vec<u8>> + '_ {
        let name = name.to_string();
        self.dirs.iter().filter_map(move |d| {
            let bytes = std::fs::read(d.join(&name)).ok()?;
            let line = bytes.split(|&b| b == b'\n').next().unwrap_or_default();
            let s = strip(line);
            (!s.is_empty()).then(|| s.to_vec())
        })
    }

    /// A string setting.
    pub fn string(&self, name: &str) -> Vec<u8> {
        match self.first_line(name).next() {
            Some(v) => v,
            None => default_text(name).as_bytes().to_vec(),
        }
    }

    /// A directory setting (always ends in `/`).
    pub fn directory(&self, name: &str) -> Vec<u8> {
        with_slash(self.string(name))
    }

    /// A number setting.
    pub fn number(&self, name: &str) -> u32 {
        for line in self.first_line(name) {
            if matches!(line.first(), Some(b'-' | b'0'..=b'9')) {
                return scan_number(&line).0;
            }
        }
        match lookup(name) {
            Some((_, Default::Number(n))) => n,
            _ => 0,
        }
    }

    /// A list setting.
    pub fn list(&self, name: &str) -> Vec<Vec<u8>> {
        for d in &self.dirs {
            if let Ok(bytes) = std::fs::read(d.join(name)) {
                return bytes
                    .split(|&b| b == b'\n')
                    .map(strip)
                    .filter(|l| !l.is_empty() && l[0] != b'#')
                    .map(<[u8]>::to_vec)
                    .collect();
            }
        }
        match lookup(name) {
            Some((_, Default::List(l))) => l.iter().map(|s| s.as_bytes().to_vec()).collect(),
            _ => Vec::new(),
        }
    }

    /// Any setting of [`SETTINGS`] by its type.
    pub fn value(&self, name: &str) -> Value {
        match lookup(name).map(|s| s.0) {
            Some(Kind::Number) => Value::Number(self.number(name)),
            Some(Kind::List) => Value::List(self.list(name)),
            Some(Kind::Dir) => Value::Text(self.directory(name)),
            _ => Value::Text(self.string(name)),
        }
    }

    /// `password-file` + `.cdb`, relative to the current directory unless absolute.
    pub fn password_table(&self) -> PathBuf {
        let mut p = self.string("password-file");
        p.extend_from_slice(b".cdb");
        PathBuf::from(OsString::from_vec(p))
    }

    /// The hoster variant's switches (Hetzner's Debian package, README.md
    /// "0.96.8 and the hoster variant"): not vmailmgr settings, so
    /// showvconfig does not print them; unset = upstream behaviour.
    ///
    /// `setgid-group` (global directory only): checkvpw and vmailmgrd take
    /// this group (e.g. `mail`) instead of the owner's.
    pub fn setgid_group(&self) -> Option<Vec<u8>> {
        Config::global().first_line("setgid-group").next()
    }

    /// `passwd-mode`: octal permissions of a written passwd.cdb (e.g.
    /// `0640`); default and unparsable values: 0600.
    pub fn passwd_mode(&self) -> u32 {
        self.first_line("passwd-mode")
            .next()
            .and_then(|v| u32::from_str_radix(std::str::from_utf8(&v).ok()?, 8).ok())
            .filter(|m| *m <= 0o777)
            .unwrap_or(0o600)
    }

    /// The domain's table, with the configured mode.
    pub fn table(&self) -> super::passwd::Table {
        super::passwd::Table::new(self.password_table()).with_mode(self.passwd_mode())
    }

    /// The gid a switch to `owner_gid`'s account takes: `setgid-group`'s
    /// when configured; `Err(message)` when that group does not exist.
    pub fn switch_gid(&self, owner_gid: u32) -> Result<u32, String> {
        let Some(g) = self.setgid_group() else {
            return Ok(owner_gid);
        };
        let name = String::from_utf8_lossy(&g).into_owned();
        match nix::unistd::Group::from_name(&name) {
            Ok(Some(gr)) => Ok(gr.gid.as_raw()),
            _ => Err(format!("Bad group {name}")),
        }
    }

    /// `qmail-root` as a path (honouring `QMAILRS_ROOT` for the default).
    pub fn qmail_root(&self) -> PathBuf {
        match self.first_line("qmail-root").next() {
            Some(v) => PathBuf::from(OsString::from_vec(with_slash(v))),
            None => crate::root::qmail_home(),
        }
    }

    /// Run hook `name` (config.md §4): every executable `<dir>/name`, global
    /// directory first, each directory once; stops at the first non-zero
    /// result and returns it (-1 for a signal, 127 when it cannot start).
    pub fn run_hook(&self, name: &str, env: &[(OsString, OsString)]) -> i32 {
        let mut seen: Vec<&PathBuf> = Vec::new();
        for d in self.dirs.iter().rev() {
            if seen.contains(&d) {
                continue;
            }
            seen.push(d);
            let mut path = d.as_os_str().as_bytes().to_vec();
            if path.last() != Some(&b'/') {
                path.push(b'/');
            }
            path.extend_from_slice(name.as_bytes());
            let path = PathBuf::from(OsString::from_vec(path));
            let Ok(meta) = std::fs::metadata(&path) else {
                continue;
            };
            if meta.permissions().mode() & 0o111 == 0 {
                continue;
            }
            let r = match Command::new(&path).envs(env.iter().cloned()).status() {
                Ok(st) => match (st.code(), st.signal()) {
                    (Some(c), _) => c,
                    _ => -1,
                },
                Err(_) => 127,
            };
            if r != 0 {
                return r;
            }
        }
        0
    }
}

fn lookup(name: &str) -> Option<(Kind, Default)> {
    SETTINGS
        .iter()
        .find(|s| s.0 == name)
        .map(|&(_, k, d)| (k, d))
}

fn default_text(name: &str) -> &'static str {
    match lookup(name) {
        Some((_, Default::Text(t))) => t,
        _ => "",
    }
}

/// showvconfig's output for a chain (config.md §6).
pub fn show(cfg: &Config) -> Vec<u8> {
    let mut out = Vec::new();
    for &(name, _, _) in SETTINGS {
        match cfg.value(name) {
            Value::Text(t) => {
                out.extend_from_slice(format!("{name}: ").as_bytes());
                out.extend_from_slice(&t);
                out.push(b'\n');
            }
            Value::Number(n) => {
                let n = if n == UNLIMITED {
                    "-1".to_string()
                } else {
                    n.to_string()
                };
                out.extend_from_slice(format!("{name}: {n}\n").as_bytes());
            }
            Value::List(l) if l.is_empty() => {
                out.extend_from_slice(format!("{name} is empty.\n").as_bytes());
            }
            Value::List(l) => {
                for item in l {
                    out.extend_from_slice(format!("{name}: ").as_bytes());
                    out.extend_from_slice(&item);
                    out.push(b'\n');
                }
            }
        }
        out.push(b'\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_overrides() {
        let t = tempfile::tempdir().unwrap();
        let local = t.path().join("local");
        let global = t.path().join("global");
        std::fs::create_dir_all(&local).unwrap();
        std::fs::create_dir_all(&global).unwrap();
        let c = Config::from_dirs(vec![local.clone(), global.clone()]);
        assert_eq!(c.string("default-username"), b"+");
        assert_eq!(c.directory("user-dir"), b"users/");
        assert_eq!(c.number("default-expiry"), UNLIMITED);
        assert_eq!(c.list("postmaster-aliases").len(), 3);
        std::fs::write(global.join("user-dir"), "  vusers \nignored\n").unwrap();
        std::fs::write(local.join("user-dir-bits"), "garbage\n").unwrap();
        std::fs::write(global.join("user-dir-bits"), " 6x\n").unwrap();
        std::fs::write(local.join("postmaster-aliases"), "# none\n\n").unwrap();
        assert_eq!(c.directory("user-dir"), b"vusers/");
        assert_eq!(c.number("user-dir-bits"), 6);
        assert!(c.list("postmaster-aliases").is_empty());
        let shown = String::from_utf8(show(&c)).unwrap();
        assert!(shown.contains("postmaster-aliases is empty.\n\n"));
        assert!(shown.contains("default-expiry: -1\n\n"));
    }
}
