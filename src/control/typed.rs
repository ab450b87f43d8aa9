//! Typed reads of the rows of [`files`](super::files): each accessor applies
//! the row's reader and default, then the caller-side adjustments the
//! original makes (C `int` wrap, caps, `<= 0 → 1`).

use std::io;

use super::files::{self, ControlFile, Fallback, Kind};
use super::map::{Map, Shape};
use super::Control;

/// `auto_spawn`: the hard concurrency cap (`common.md` §1).
pub const SPAWN_LIMIT: u32 = 120;

/// The stored value of a read-int file as the C `int` it lands in.
fn as_c_int(v: u64) -> i32 {
    // parse_uint already wrapped to 32 bits; reinterpret as signed.
    v as u32 as i32
}

impl Control {
    /// A line file with its table default (`Kind::Line` / `LineDefault`).
    pub fn line(&self, f: &ControlFile) -> io::Result<Option<Vec<u8>>> {
        debug_assert!(matches!(f.kind, Kind::Line | Kind::LineDefault));
        match f.default {
            Fallback::Me => self.read_line_default(f.name, true, None),
            Fallback::MeOr(t) => self.read_line_default(f.name, true, Some(t.as_bytes())),
            Fallback::Text(t) => self.read_line_default(f.name, false, Some(t.as_bytes())),
            _ => self.read_line(f.name),
        }
    }

    /// An int file with its table default, as the unsigned value read.
    pub fn int(&self, f: &ControlFile) -> io::Result<u64> {
        debug_assert_eq!(f.kind, Kind::Int);
        let default = match f.default {
            Fallback::Int(n) => n,
            _ => 0,
        };
        self.read_int(f.name, default)
    }

    /// A list file's kept lines; `None` when absent (and no `me` default).
    pub fn list(&self, f: &ControlFile) -> io::Result<Option<Vec<Vec<u8>>>> {
        self.read_list(f.name, f.default == Fallback::MeList)
    }

    /// A constmap file; `None` when absent (and no `me` default).
    pub fn map(&self, f: &ControlFile) -> io::Result<Option<Map>> {
        let shape = match f.kind {
            Kind::Map(s) => s,
            _ => Shape::Plain,
        };
        Ok(self.list(f)?.map(|l| Map::from_lines(&l, shape)))
    }

    /// `databytes` as qmail-smtpd's `unsigned int` (0 = no limit).
    pub fn databytes(&self) -> io::Result<u32> {
        Ok(self.int(&files::DATABYTES)? as u32)
    }

    /// `timeoutsmtpd` in seconds; `<= 0` (after the C `int` wrap) is 1.
    pub fn timeoutsmtpd(&self) -> io::Result<u32> {
        Ok(positive(self.int(&files::TIMEOUTSMTPD)?))
    }

    /// `timeoutconnect` in seconds (qmail-remote's `int`).
    pub fn timeoutconnect(&self) -> io::Result<i32> {
        Ok(as_c_int(self.int(&files::TIMEOUTCONNECT)?))
    }

    /// `timeoutremote` in seconds (qmail-remote's `int`).
    pub fn timeoutremote(&self) -> io::Result<i32> {
        Ok(as_c_int(self.int(&files::TIMEOUTREMOTE)?))
    }

    /// `concurrencylocal`, capped at [`SPAWN_LIMIT`]; negative is 0.
    pub fn concurrencylocal(&self) -> io::Result<u32> {
        Ok(capped(self.int(&files::CONCURRENCYLOCAL)?))
    }

    /// `concurrencyremote`, capped at [`SPAWN_LIMIT`]; negative is 0.
    pub fn concurrencyremote(&self) -> io::Result<u32> {
        Ok(capped(self.int(&files::CONCURRENCYREMOTE)?))
    }

    /// `queuelifetime` in seconds (qmail-send's `int`).
    pub fn queuelifetime(&self) -> io::Result<i32> {
        Ok(as_c_int(self.int(&files::QUEUELIFETIME)?))
    }

    /// `smtpgreeting`, else `me`; `None` means qmail-smtpd must refuse.
    pub fn smtpgreeting(&self) -> io::Result<Option<Vec<u8>>> {
        self.line(&files::SMTPGREETING)
    }

    /// `helohost`, else `me`; `None` means qmail-remote must fail.
    pub fn helohost(&self) -> io::Result<Option<Vec<u8>>> {
        self.line(&files::HELOHOST)
    }

    /// `localiphost`, else `me`, else none.
    pub fn localiphost(&self) -> io::Result<Option<Vec<u8>>> {
        self.line(&files::LOCALIPHOST)
    }

    /// A line file that always has a value (literal default).
    fn line_or_default(&self, f: &ControlFile) -> io::Result<Vec<u8>> {
        Ok(self.line(f)?.unwrap_or_default())
    }

    /// `bouncefrom` (default `MAILER-DAEMON`).
    pub fn bouncefrom(&self) -> io::Result<Vec<u8>> {
        self.line_or_default(&files::BOUNCEFROM)
    }

    /// `bouncehost` (me, else `bouncehost`).
    pub fn bouncehost(&self) -> io::Result<Vec<u8>> {
        self.line_or_default(&files::BOUNCEHOST)
    }

    /// `doublebouncehost` (me, else `doublebouncehost`).
    pub fn doublebouncehost(&self) -> io::Result<Vec<u8>> {
        self.line_or_default(&files::DOUBLEBOUNCEHOST)
    }

    /// `doublebounceto` (default `postmaster`).
    pub fn doublebounceto(&self) -> io::Result<Vec<u8>> {
        self.line_or_default(&files::DOUBLEBOUNCETO)
    }

    /// `envnoathost` (me, else `envnoathost`).
    pub fn envnoathost(&self) -> io::Result<Vec<u8>> {
        self.line_or_default(&files::ENVNOATHOST)
    }

    /// `defaultdomain` (me, else `defaultdomain`).
    pub fn defaultdomain(&self) -> io::Result<Vec<u8>> {
        self.line_or_default(&files::DEFAULTDOMAIN)
    }

    /// `defaulthost` (me, else `defaulthost`).
    pub fn defaulthost(&self) -> io::Result<Vec<u8>> {
        self.line_or_default(&files::DEFAULTHOST)
    }

    /// `idhost` (me, else `idhost`).
    pub fn idhost(&self) -> io::Result<Vec<u8>> {
        self.line_or_default(&files::IDHOST)
    }

    /// `plusdomain` (me, else `plusdomain`).
    pub fn plusdomain(&self) -> io::Result<Vec<u8>> {
        self.line_or_default(&files::PLUSDOMAIN)
    }

    /// `locals` as a map (absent: `[me]`; `None` if `me` is missing too).
    pub fn locals(&self) -> io::Result<Option<Map>> {
        self.map(&files::LOCALS)
    }

    /// `rcpthosts`; `None` = accept every recipient.
    pub fn rcpthosts(&self) -> io::Result<Option<Map>> {
        self.map(&files::RCPTHOSTS)
    }

    /// `badmailfrom`; `None` = nothing blocked.
    pub fn badmailfrom(&self) -> io::Result<Option<Map>> {
        self.map(&files::BADMAILFROM)
    }

    /// `percenthack`.
    pub fn percenthack(&self) -> io::Result<Option<Map>> {
        self.map(&files::PERCENTHACK)
    }

    /// `virtualdomains` (`key:prepend`).
    pub fn virtualdomains(&self) -> io::Result<Option<Map>> {
        self.map(&files::VIRTUALDOMAINS)
    }

    /// `smtproutes` (`domain:relay[:port]`).
    pub fn smtproutes(&self) -> io::Result<Option<Map>> {
        self.map(&files::SMTPROUTES)
    }

    /// `authsenders` (`sender:relay:port|user|password`).
    pub fn authsenders(&self) -> io::Result<Option<Map>> {
        self.map(&files::AUTHSENDERS)
    }

    /// `tlsclients`.
    pub fn tlsclients(&self) -> io::Result<Option<Map>> {
        self.map(&files::TLSCLIENTS)
    }

    /// `tlsserverciphers`: kept lines joined with `:`, default `DEFAULT`.
    pub fn tlsserverciphers(&self) -> io::Result<Vec<u8>> {
        self.ciphers(&files::TLSSERVERCIPHERS)
    }

    /// `tlsclientciphers`: kept lines joined with `:`, default `DEFAULT`.
    pub fn tlsclientciphers(&self) -> io::Result<Vec<u8>> {
        self.ciphers(&files::TLSCLIENTCIPHERS)
    }

    fn ciphers(&self, f: &ControlFile) -> io::Result<Vec<u8>> {
        Ok(match self.list(f)? {
            Some(lines) => lines.join(&b':'),
            None => b"DEFAULT".to_vec(),
        })
    }
}

fn positive(v: u64) -> u32 {
    let n = as_c_int(v);
    if n <= 0 {
        1
    } else {
        n as u32
    }
}

fn capped(v: u64) -> u32 {
    (as_c_int(v).max(0) as u32).min(SPAWN_LIMIT)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(files: &[(&str, &str)]) -> (tempfile::TempDir, Control) {
        let d = tempfile::tempdir().unwrap();
        for (n, v) in files {
            std::fs::write(d.path().join(n), v).unwrap();
        }
        let c = Control::at(d.path()).unwrap();
        (d, c)
    }

    #[test]
    fn int_defaults_and_adjustments() {
        let (_d, c) = dir(&[]);
        assert_eq!(c.databytes().unwrap(), 0);
        assert_eq!(c.timeoutsmtpd().unwrap(), 1200);
        assert_eq!(c.timeoutconnect().unwrap(), 60);
        assert_eq!(c.timeoutremote().unwrap(), 1200);
        assert_eq!(c.concurrencylocal().unwrap(), 10);
        assert_eq!(c.concurrencyremote().unwrap(), 20);
        assert_eq!(c.queuelifetime().unwrap(), 604800);

        let (_d, c) = dir(&[
            ("databytes", "20000 bytes\n"),
            ("timeoutsmtpd", "0\n"),
            ("concurrencylocal", "500\n"),
            ("concurrencyremote", "-3\n"),
            ("timeoutconnect", "4294967297\n"),
            ("queuelifetime", "2147483648\n"),
        ]);
        assert_eq!(c.databytes().unwrap(), 20000, "trailing garbage ignored");
        assert_eq!(c.timeoutsmtpd().unwrap(), 1, "<= 0 becomes 1");
        assert_eq!(c.concurrencylocal().unwrap(), 120, "capped at auto_spawn");
        assert_eq!(c.concurrencyremote().unwrap(), 20, "-3 is not a number");
        assert_eq!(c.timeoutconnect().unwrap(), 1, "wraps past 2^32");
        assert_eq!(c.queuelifetime().unwrap(), i32::MIN, "wraps into int");
    }

    #[test]
    fn timeoutsmtpd_negative_after_wrap_is_one() {
        let (_d, c) = dir(&[("timeoutsmtpd", "3000000000\n")]);
        assert_eq!(c.timeoutsmtpd().unwrap(), 1);
    }

    #[test]
    fn line_defaults_me_then_literal() {
        let (_d, c) = dir(&[]);
        assert_eq!(c.bouncefrom().unwrap(), b"MAILER-DAEMON");
        assert_eq!(c.bouncehost().unwrap(), b"bouncehost");
        assert_eq!(c.doublebounceto().unwrap(), b"postmaster");
        assert_eq!(c.envnoathost().unwrap(), b"envnoathost");
        assert_eq!(c.idhost().unwrap(), b"idhost");
        assert_eq!(c.smtpgreeting().unwrap(), None);
        assert_eq!(c.helohost().unwrap(), None);
        assert_eq!(c.localiphost().unwrap(), None);
        assert_eq!(c.locals().unwrap(), None);

        let (_d, c) = dir(&[("me", "mx.example\n"), ("bouncefrom", "bounces \t\n")]);
        assert_eq!(c.bouncefrom().unwrap(), b"bounces");
        assert_eq!(c.bouncehost().unwrap(), b"mx.example");
        assert_eq!(c.doublebouncehost().unwrap(), b"mx.example");
        assert_eq!(c.doublebounceto().unwrap(), b"postmaster", "no me default");
        assert_eq!(c.defaultdomain().unwrap(), b"mx.example");
        assert_eq!(c.defaulthost().unwrap(), b"mx.example");
        assert_eq!(c.plusdomain().unwrap(), b"mx.example");
        assert_eq!(c.smtpgreeting().unwrap().unwrap(), b"mx.example");
        assert_eq!(c.helohost().unwrap().unwrap(), b"mx.example");
        assert!(c.locals().unwrap().unwrap().contains(b"MX.example"));
    }

    #[test]
    fn empty_file_is_an_empty_value_not_a_default() {
        let (_d, c) = dir(&[("me", "mx.example\n"), ("smtpgreeting", "")]);
        assert_eq!(c.smtpgreeting().unwrap().unwrap(), b"");
        let (_d, c) = dir(&[("databytes", "")]);
        assert_eq!(c.databytes().unwrap(), 0);
    }

    #[test]
    fn maps_and_ciphers() {
        let (_d, c) = dir(&[
            ("rcpthosts", "Example.org\n.sub.example\n"),
            ("smtproutes", ":smart.example\nex.example:\n"),
            ("tlsserverciphers", "ECDHE\n# x\nHIGH \n"),
        ]);
        let r = c.rcpthosts().unwrap().unwrap();
        assert!(r.contains(b"example.ORG") && r.contains(b".SUB.example"));
        let s = c.smtproutes().unwrap().unwrap();
        assert_eq!(s.get(b""), Some(&b"smart.example"[..]));
        assert_eq!(s.get(b"EX.example"), Some(&b""[..]));
        assert_eq!(c.tlsserverciphers().unwrap(), b"ECDHE:HIGH");
        assert_eq!(c.tlsclientciphers().unwrap(), b"DEFAULT");
        assert_eq!(c.badmailfrom().unwrap(), None);
    }

    #[test]
    fn unreadable_me_is_an_error() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir(d.path().join("me")).unwrap();
        assert!(Control::at(d.path()).is_err());
    }
}
