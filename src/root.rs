//! Install roots: where `/var/qmail`, `/etc/vmailmgr` and `/etc/dovecot` are.
//!
//! The original compiles `/var/qmail` in (`conf-qmail`). We keep that
//! default, and let a *non-setuid* process be pointed at another tree with
//! one environment variable, `QMAILRS_ROOT`: a prefix put in front of every
//! default path (`$QMAILRS_ROOT/var/qmail`, `$QMAILRS_ROOT/etc/vmailmgr`, ...).
//! Tests and the demo run whole hosts in temporary trees this way.
//!
//! A process started set-uid or set-gid (the kernel's `AT_SECURE`, or real
//! and effective ids that differ) never honours the override: qmail-queue is
//! set-uid qmailq and must not be talked into writing another tree.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// The one documented override variable.
pub const ROOT_ENV: &str = "QMAILRS_ROOT";

/// Stock locations, as the originals compile them in.
pub const QMAIL_HOME: &str = "/var/qmail";
pub const VMAILMGR_CONF: &str = "/etc/vmailmgr";
pub const DOVECOT_CONF: &str = "/etc/dovecot";

/// True when this process runs with privileges its invoker lacks.
pub fn is_privileged_exec() -> bool {
    let secure = nix::unistd::getuid() != nix::unistd::geteuid()
        || nix::unistd::getgid() != nix::unistd::getegid();
    secure || at_secure()
}

fn at_secure() -> bool {
    // Fixed at exec (a fork inherits it), so read once: every path lookup
    // of a long-lived worker asks.
    static SECURE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *SECURE.get_or_init(read_at_secure)
}

fn read_at_secure() -> bool {
    // /proc/self/auxv holds (key, value) pairs of native words.
    const AT_SECURE: u64 = 23;
    let Ok(raw) = std::fs::read("/proc/self/auxv") else {
        return false;
    };
    raw.chunks_exact(16).any(|pair| {
        let key = u64::from_ne_bytes(pair[..8].try_into().unwrap_or([0; 8]));
        let val = u64::from_ne_bytes(pair[8..].try_into().unwrap_or([0; 8]));
        key == AT_SECURE && val != 0
    })
}

/// The prefix in force: `QMAILRS_ROOT` for ordinary processes, none for
/// privileged ones.
pub fn prefix() -> Option<PathBuf> {
    if is_privileged_exec() {
        return None;
    }
    prefix_from(std::env::var_os(ROOT_ENV))
}

fn prefix_from(var: Option<OsString>) -> Option<PathBuf> {
    var.filter(|v| !v.is_empty()).map(PathBuf::from)
}

fn under(prefix: Option<&Path>, stock: &str) -> PathBuf {
    match prefix {
        Some(p) => p.join(stock.trim_start_matches('/')),
        None => PathBuf::from(stock),
    }
}

/// The qmail install root (`auto_qmail`).
pub fn qmail_home() -> PathBuf {
    under(prefix().as_deref(), QMAIL_HOME)
}

/// The vmailmgr configuration directory.
pub fn vmailmgr_conf() -> PathBuf {
    under(prefix().as_deref(), VMAILMGR_CONF)
}

/// The Dovecot configuration directory.
pub fn dovecot_conf() -> PathBuf {
    under(prefix().as_deref(), DOVECOT_CONF)
}

/// Any other stock absolute path (e.g. `/etc/tcp.smtp.cdb`) under the prefix.
pub fn rooted(stock: &str) -> PathBuf {
    under(prefix().as_deref(), stock)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stock_paths_without_prefix() {
        assert_eq!(under(None, QMAIL_HOME), PathBuf::from("/var/qmail"));
    }

    #[test]
    fn prefix_is_prepended() {
        let p = prefix_from(Some("/tmp/t".into()));
        assert_eq!(
            under(p.as_deref(), QMAIL_HOME),
            PathBuf::from("/tmp/t/var/qmail")
        );
        assert_eq!(prefix_from(Some("".into())), None);
    }

    #[test]
    fn tests_do_not_run_privileged() {
        assert!(!is_privileged_exec());
    }
}
