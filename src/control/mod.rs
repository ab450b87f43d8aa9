//! Control files (`shared/spec/qmail/common.md` §2, `control.md`).
//!
//! The four reading primitives of qmail's `control.c`, over a control
//! directory. Every control file is read with exactly one of them; which
//! one, and its default, is declared once in [`files`]. Lookup maps
//! (`constmap`) are in [`map`]; typed accessors (`databytes`, ...) in
//! `typed.rs`; qmail-showctl's report in [`showctl`].

pub mod files;
pub mod map;
pub mod rcpthosts;
pub mod showctl;
mod typed;

pub use typed::SPAWN_LIMIT;

use std::io;
use std::path::{Path, PathBuf};

/// Strip trailing LF, space and tab, repeatedly (`control.c`).
fn strip_trailing(line: &[u8]) -> &[u8] {
    let end = line
        .iter()
        .rposition(|&b| !matches!(b, b'\n' | b' ' | b'\t'))
        .map_or(0, |i| i + 1);
    &line[..end]
}

/// The first line of a file's bytes, stripped (`control_readline`).
pub fn first_line(bytes: &[u8]) -> &[u8] {
    let line = bytes.split(|&b| b == b'\n').next().unwrap_or_default();
    strip_trailing(line)
}

/// The kept lines of a list file's bytes (`control_readfile`): stripped,
/// without empty lines and lines starting with `#`.
pub fn list_lines(bytes: &[u8]) -> Vec<Vec<u8>> {
    bytes
        .split(|&b| b == b'\n')
        .map(strip_trailing)
        .filter(|l| !l.is_empty() && l[0] != b'#')
        .map(<[u8]>::to_vec)
        .collect()
}

/// `control_readint`'s number: leading decimal digits, else absent.
/// Wraps as the original's C `int` does for values past 2^32.
pub fn parse_uint(line: &[u8]) -> Option<u64> {
    if !line.first().is_some_and(u8::is_ascii_digit) {
        return None;
    }
    Some(
        line.iter()
            .take_while(|b| b.is_ascii_digit())
            .fold(0u32, |n, &b| {
                n.wrapping_mul(10).wrapping_add(u32::from(b - b'0'))
            })
            .into(),
    )
}

/// A control directory (normally `/var/qmail/control`).
#[derive(Debug, Clone)]
pub struct Control {
    dir: PathBuf,
    me: Option<Vec<u8>>,
}

impl Control {
    /// The control directory of the install root in force.
    pub fn system() -> io::Result<Self> {
        Self::at(crate::root::qmail_home().join("control"))
    }

    /// Open a control directory, reading `me` as `control_init` does: a
    /// missing `me` is fine, an unreadable one is an error.
    pub fn at(dir: impl Into<PathBuf>) -> io::Result<Self> {
        let mut c = Control {
            dir: dir.into(),
            me: None,
        };
        c.me = c.read_line("me")?;
        Ok(c)
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The value of `control/me`, if it exists.
    pub fn me(&self) -> Option<&[u8]> {
        self.me.as_deref()
    }

    fn read(&self, name: &str) -> io::Result<Option<Vec<u8>>> {
        match std::fs::read(self.dir.join(name)) {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// read-line: the first line, or `None` when the file does not exist.
    pub fn read_line(&self, name: &str) -> io::Result<Option<Vec<u8>>> {
        Ok(self.read(name)?.map(|b| first_line(&b).to_vec()))
    }

    /// rldef: the file's first line; else `me` when `default_me`; else
    /// `default`.
    pub fn read_line_default(
        &self,
        name: &str,
        default_me: bool,
        default: Option<&[u8]>,
    ) -> io::Result<Option<Vec<u8>>> {
        if let Some(v) = self.read_line(name)? {
            return Ok(Some(v));
        }
        if default_me {
            if let Some(me) = &self.me {
                return Ok(Some(me.clone()));
            }
        }
        Ok(default.map(<[u8]>::to_vec))
    }

    /// read-int: the number, or `default` when missing or not a number.
    pub fn read_int(&self, name: &str, default: u64) -> io::Result<u64> {
        Ok(self
            .read_line(name)?
            .and_then(|l| parse_uint(&l))
            .unwrap_or(default))
    }

    /// read-file: the kept lines; a missing file is `[me]` when
    /// `default_me` and `me` is known, else `None`.
    pub fn read_list(&self, name: &str, default_me: bool) -> io::Result<Option<Vec<Vec<u8>>>> {
        match self.read(name)? {
            Some(b) => Ok(Some(list_lines(&b))),
            None if default_me => Ok(self.me.clone().map(|m| vec![m])),
            None => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_line_strips_trailing_blanks_only() {
        assert_eq!(
            first_line(b"  host.example \t\n\nsecond"),
            b"  host.example"
        );
        assert_eq!(first_line(b""), b"");
        assert_eq!(first_line(b"x"), b"x");
    }

    #[test]
    fn list_drops_comments_and_blank_lines() {
        assert_eq!(
            list_lines(b"a\n#c\n   \n b \nlast"),
            vec![b"a".to_vec(), b" b".to_vec(), b"last".to_vec()]
        );
    }

    #[test]
    fn ints_as_control_readint() {
        assert_eq!(parse_uint(b"1200abc"), Some(1200));
        assert_eq!(parse_uint(b" 5"), None);
        assert_eq!(parse_uint(b"-5"), None);
        assert_eq!(parse_uint(b""), None);
    }

    #[test]
    fn read_line_rules() {
        // Only the first line; CR is not stripped; leading blanks kept.
        assert_eq!(first_line(b"a \r\nb"), b"a \r");
        assert_eq!(first_line(b"\t lead \n"), b"\t lead");
        assert_eq!(first_line(b"\nsecond"), b"");
        assert_eq!(first_line(b" \t \n"), b"");
    }

    #[test]
    fn read_file_rules() {
        // A final unterminated line counts; spaces-only lines are dropped;
        // '#' only at the first byte starts a comment.
        assert_eq!(
            list_lines(b"one\n \t\n#c\n #kept\nlast"),
            vec![b"one".to_vec(), b" #kept".to_vec(), b"last".to_vec()]
        );
        assert!(list_lines(b"").is_empty());
        assert!(list_lines(b"\n\n#\n").is_empty());
    }

    #[test]
    fn read_int_wraps_as_c() {
        assert_eq!(parse_uint(b"4294967296"), Some(0));
        assert_eq!(parse_uint(b"4294967297x"), Some(1));
        assert_eq!(parse_uint(b"abc"), None);
        assert_eq!(parse_uint(b"007"), Some(7));
    }

    #[test]
    fn missing_empty_and_present() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("empty"), "").unwrap();
        std::fs::write(d.path().join("num"), " 5\n").unwrap();
        let c = Control::at(d.path()).unwrap();
        assert_eq!(c.me(), None);
        assert_eq!(c.read_line("missing").unwrap(), None);
        assert_eq!(c.read_line("empty").unwrap().unwrap(), b"");
        assert_eq!(c.read_int("num", 42).unwrap(), 42, "leading space: absent");
        assert_eq!(c.read_int("empty", 42).unwrap(), 42);
        assert_eq!(c.read_list("missing", true).unwrap(), None, "no me known");
        assert_eq!(
            c.read_line_default("missing", true, Some(b"lit"))
                .unwrap()
                .unwrap(),
            b"lit"
        );
        assert_eq!(c.read_line_default("missing", true, None).unwrap(), None);
    }

    #[test]
    fn defaults_to_me() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("me"), "mx.example.org\n").unwrap();
        let c = Control::at(d.path()).unwrap();
        assert_eq!(
            c.read_line_default("defaultdomain", true, None)
                .unwrap()
                .unwrap(),
            b"mx.example.org"
        );
        assert_eq!(
            c.read_list("locals", true).unwrap().unwrap(),
            vec![b"mx.example.org".to_vec()]
        );
        assert_eq!(c.read_int("databytes", 0).unwrap(), 0);
    }
}
