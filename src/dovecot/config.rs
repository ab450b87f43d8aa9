//! The dovecot.conf subset (`shared/spec/dovecot/config.md`): the syntax
//! of `config-parser.c` (comments, `\` continuation, quotes, `<file`,
//! `$setting`, sections, `!include` / `!include_try` with globs) parsed
//! into a flat list of assignments, each with the section path it sits
//! in; lookups apply `protocol` filters (a `protocol pop3 { }` value
//! overrides the global one).

use std::io;
use std::path::{Path, PathBuf};

/// One `key = value` with the sections around it, outermost first, each
/// as `type` or `type name` (`service pop3-login`, `protocol pop3`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub sections: Vec<String>,
    pub key: String,
    pub value: String,
}

/// A parsed configuration.
#[derive(Debug, Clone, Default)]
pub struct Config {
    pub entries: Vec<Entry>,
}

/// Why the configuration cannot be used.
#[derive(Debug)]
pub enum ConfigError {
    Io(PathBuf, io::Error),
    Syntax(PathBuf, usize, &'static str),
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ConfigError::Io(p, e) => write!(f, "{}: {e}", p.display()),
            ConfigError::Syntax(p, l, w) => write!(
                f,
                "Error in configuration file {} line {l}: {w}",
                p.display()
            ),
        }
    }
}

/// Strip a `#` comment outside quotes.
fn strip_comment(line: &str) -> &str {
    let mut quote = None;
    for (i, c) in line.char_indices() {
        match (quote, c) {
            (None, '"' | '\'') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (None, '#') => return &line[..i],
            _ => {}
        }
    }
    line
}

fn unquote(v: &str) -> Option<String> {
    let q = v.chars().next()?;
    if !(q == '"' || q == '\'') || v.len() < 2 || !v.ends_with(q) {
        return None;
    }
    let mut out = String::new();
    let mut it = v[1..v.len() - 1].chars();
    while let Some(c) = it.next() {
        if c == '\\' {
            match it.next() {
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                Some('r') => out.push('\r'),
                Some(o) => out.push(o),
                None => {}
            }
        } else {
            out.push(c);
        }
    }
    Some(out)
}

/// Minimal glob: `*` and `?` in the last path component.
fn glob(pattern: &Path) -> Vec<PathBuf> {
    let name = pattern
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    if !name.contains(['*', '?']) {
        return if pattern.exists() {
            vec![pattern.to_path_buf()]
        } else {
            Vec::new()
        };
    }
    let dir = pattern.parent().unwrap_or(Path::new("."));
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .filter(|e| wildmatch(&name, &e.file_name().to_string_lossy()))
                .map(|e| e.path())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

fn wildmatch(p: &str, s: &str) -> bool {
    let (p, s) = (p.as_bytes(), s.as_bytes());
    fn go(p: &[u8], s: &[u8]) -> bool {
        match p.first() {
            None => s.is_empty(),
            Some(b'*') => (0..=s.len()).any(|i| go(&p[1..], &s[i..])),
            Some(b'?') => !s.is_empty() && go(&p[1..], &s[1..]),
            Some(c) => s.first() == Some(c) && go(&p[1..], &s[1..]),
        }
    }
    go(p, s)
}

impl Config {
    /// Read `path` and its includes.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let mut c = Config::default();
        let mut stack = Vec::new();
        c.read(path, &mut stack)?;
        Ok(c)
    }

    /// Parse text as if read from `path` (includes relative to it).
    pub fn parse_str(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let mut c = Config::default();
        let mut stack = Vec::new();
        c.parse(text, path, &mut stack)?;
        Ok(c)
    }

    fn read(&mut self, path: &Path, stack: &mut Vec<String>) -> Result<(), ConfigError> {
        let text =
            std::fs::read_to_string(path).map_err(|e| ConfigError::Io(path.to_path_buf(), e))?;
        self.parse(&text, path, stack)
    }

    fn parse(
        &mut self,
        text: &str,
        path: &Path,
        stack: &mut Vec<String>,
    ) -> Result<(), ConfigError> {
        let dir = path.parent().unwrap_or(Path::new("/")).to_path_buf();
        let err = |l, w| ConfigError::Syntax(path.to_path_buf(), l, w);
        let mut pending = String::new();
        let depth = stack.len();
        for (n, raw) in text.lines().enumerate() {
            let lineno = n + 1;
            let line = raw.trim();
            if let Some(head) = line.strip_suffix('\\') {
                pending.push_str(head.trim_end());
                pending.push(' ');
                continue;
            }
            let joined = format!("{pending}{line}");
            pending.clear();
            let line = strip_comment(joined.trim_start()).trim();
            if line.is_empty() {
                continue;
            }
            if let Some(rest) = line.strip_prefix("!include") {
                let (try_, p) = match rest.strip_prefix("_try") {
                    Some(p) => (true, p),
                    None => (false, rest),
                };
                let p = p.trim();
                let p = unquote(p).unwrap_or_else(|| p.to_string());
                let full = if p.starts_with('/') {
                    PathBuf::from(&p)
                } else {
                    dir.join(&p)
                };
                let files = glob(&full);
                if files.is_empty() && !try_ && !p.contains(['*', '?']) {
                    return Err(ConfigError::Io(full, io::ErrorKind::NotFound.into()));
                }
                for f in files {
                    self.read(&f, stack)?;
                }
                continue;
            }
            if line == "}" {
                if stack.len() <= depth {
                    return Err(err(lineno, "Unexpected '}'"));
                }
                stack.pop();
                continue;
            }
            if let Some(head) = line.strip_suffix('{') {
                let mut words = head.split_whitespace();
                let ty = words.next().ok_or(err(lineno, "Expecting section type"))?;
                let name: Vec<&str> = words.collect();
                let name = name.join(" ");
                let name = unquote(&name).unwrap_or(name);
                stack.push(if name.is_empty() {
                    ty.to_string()
                } else {
                    format!("{ty} {name}")
                });
                continue;
            }
            let (key, value) = match line.split_once('=') {
                Some((k, v)) => (k.trim(), v.trim()),
                None => return Err(err(lineno, "Expecting '='")),
            };
            if key.is_empty() || key.contains(char::is_whitespace) {
                return Err(err(lineno, "Expecting '='"));
            }
            let value = if let Some(q) = unquote(value) {
                q
            } else if let Some(file) = value.strip_prefix('<') {
                let file = file.trim_start();
                let full = if file.starts_with('/') {
                    PathBuf::from(file)
                } else {
                    dir.join(file)
                };
                std::fs::read_to_string(&full).map_err(|e| ConfigError::Io(full.clone(), e))?
            } else {
                self.expand(value, stack)
            };
            self.entries.push(Entry {
                sections: stack.clone(),
                key: key.to_string(),
                value,
            });
        }
        if stack.len() != depth && depth == 0 {
            return Err(err(text.lines().count(), "Missing '}'"));
        }
        Ok(())
    }

    /// `$name` / `${name}` from earlier settings of the same scope.
    fn expand(&self, value: &str, stack: &[String]) -> String {
        if !value.contains('$') {
            return value.to_string();
        }
        let mut out = String::new();
        let mut rest = value;
        while let Some(i) = rest.find('$') {
            out.push_str(&rest[..i]);
            let after = &rest[i + 1..];
            let (name, tail) = if let Some(b) = after.strip_prefix('{') {
                match b.split_once('}') {
                    Some((n, t)) => (n, t),
                    None => (b, ""),
                }
            } else {
                let n = after
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .unwrap_or(after.len());
                (&after[..n], &after[n..])
            };
            let v = self
                .entries
                .iter()
                .rev()
                .find(|e| e.key == name && e.sections.as_slice() == stack)
                .or_else(|| {
                    self.entries
                        .iter()
                        .rev()
                        .find(|e| e.key == name && e.sections.is_empty())
                });
            out.push_str(v.map_or("", |e| e.value.as_str()));
            rest = tail;
        }
        out.push_str(rest);
        out.trim().to_string()
    }

    /// A global setting, `protocol <proto> { }` overriding it.
    pub fn get(&self, key: &str, protocol: &str) -> Option<&str> {
        let filter = format!("protocol {protocol}");
        let mut best = None;
        for e in self.entries.iter().filter(|e| e.key == key) {
            match e.sections.as_slice() {
                [] if !matches!(best, Some((true, _))) => {
                    best = Some((false, e.value.as_str()));
                }
                [s] if *s == filter => best = Some((true, e.value.as_str())),
                _ => {}
            }
        }
        best.map(|b| b.1)
    }

    /// A setting inside exactly these sections (e.g.
    /// `["service pop3-login", "inet_listener pop3s"]`).
    pub fn get_in(&self, sections: &[&str], key: &str) -> Option<&str> {
        self.entries
            .iter()
            .rev()
            .find(|e| {
                e.key == key
                    && e.sections
                        .iter()
                        .map(String::as_str)
                        .eq(sections.iter().copied())
            })
            .map(|e| e.value.as_str())
    }

    /// The `passdb { }` / `userdb { }` blocks in order: (driver, args).
    pub fn dbs(&self, kind: &str) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = Vec::new();
        let mut last: Option<usize> = None;
        let mut current: Vec<String> = Vec::new();
        for (i, e) in self.entries.iter().enumerate() {
            let Some(pos) = e
                .sections
                .iter()
                .position(|s| s == kind || s.starts_with(&format!("{kind} ")))
            else {
                continue;
            };
            let here = e.sections[..=pos].to_vec();
            if last.is_none_or(|l| l + 1 != i) || here != current {
                out.push((String::new(), String::new()));
                current = here;
            }
            last = Some(i);
            let slot = out.last_mut().expect("pushed above");
            match e.key.as_str() {
                "driver" => slot.0 = e.value.clone(),
                "args" => slot.1 = e.value.clone(),
                _ => {}
            }
        }
        out
    }
}

/// `yes`/`no` (`y`/`n`), case-insensitive.
pub fn boolean(v: &str) -> Option<bool> {
    match v.to_ascii_lowercase().as_str() {
        "yes" | "y" => Some(true),
        "no" | "n" => Some(false),
        _ => None,
    }
}

/// A time setting: `N`, `N secs`, `N mins`, `N hours`, `N days`, `N ms`.
pub fn duration(v: &str) -> Option<std::time::Duration> {
    let v = v.trim();
    let n = v.bytes().take_while(u8::is_ascii_digit).count();
    let num: u64 = v[..n].parse().ok()?;
    let unit = v[n..].trim().to_ascii_lowercase();
    let secs = match unit.as_str() {
        "" | "s" | "sec" | "secs" | "second" | "seconds" => num,
        "m" | "min" | "mins" | "minute" | "minutes" => num * 60,
        "h" | "hour" | "hours" => num * 3600,
        "d" | "day" | "days" => num * 86400,
        "ms" | "msec" | "msecs" => return Some(std::time::Duration::from_millis(num)),
        _ => return None,
    };
    Some(std::time::Duration::from_secs(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syntax() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir(d.path().join("conf.d")).unwrap();
        std::fs::write(
            d.path().join("conf.d/10-a.conf"),
            "protocols = $protocols pop3\nauth_mechanisms = plain login\n",
        )
        .unwrap();
        std::fs::write(d.path().join("conf.d/20-b.conf"), "passdb {\n  driver = checkpassword\n  args = /usr/bin/checkvpw x maildir\n}\nuserdb {\n driver = prefetch\n}\n").unwrap();
        std::fs::write(d.path().join("cert.pem"), "PEM\n").unwrap();
        let main = d.path().join("dovecot.conf");
        std::fs::write(
            &main,
            "# c\nprotocols = imap\n!include conf.d/*.conf\n!include_try local.conf\nlogin_greeting = \"Hi # there\" # comment\n\
             ssl_cert = <cert.pem\nlisten = 127.0.0.1, \\\n  ::1\nprotocol pop3 {\n  mail_plugins = quota\n}\n\
             service pop3-login {\n  inet_listener pop3s {\n    port = 10995\n    ssl = yes\n  }\n}\n",
        )
        .unwrap();
        let c = Config::load(&main).unwrap();
        assert_eq!(c.get("protocols", "pop3"), Some("imap pop3"));
        assert_eq!(c.get("login_greeting", "pop3"), Some("Hi # there"));
        assert_eq!(c.get("ssl_cert", "pop3"), Some("PEM\n"));
        assert_eq!(c.get("listen", "pop3"), Some("127.0.0.1, ::1"));
        assert_eq!(c.get("mail_plugins", "pop3"), Some("quota"));
        assert_eq!(c.get("mail_plugins", "imap"), None);
        assert_eq!(
            c.get_in(&["service pop3-login", "inet_listener pop3s"], "port"),
            Some("10995")
        );
        assert_eq!(
            c.dbs("passdb"),
            vec![("checkpassword".into(), "/usr/bin/checkvpw x maildir".into())]
        );
        assert_eq!(c.dbs("userdb"), vec![("prefetch".into(), String::new())]);
        assert!(Config::parse_str("a b\n", &main).is_err());
        assert!(Config::parse_str("}\n", &main).is_err());
        assert!(Config::parse_str("x {\n", &main).is_err());
        assert!(Config::parse_str("!include nothere.conf\n", &main).is_err());
    }

    #[test]
    fn values() {
        assert_eq!(boolean("Yes"), Some(true));
        assert_eq!(duration("2 secs"), Some(std::time::Duration::from_secs(2)));
        assert_eq!(
            duration("10 mins"),
            Some(std::time::Duration::from_secs(600))
        );
        assert_eq!(duration("0"), Some(std::time::Duration::ZERO));
    }
}
