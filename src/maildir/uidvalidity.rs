//! UIDVALIDITY allocation per account: `dovecot-uidvalidity` and its
//! marker `dovecot-uidvalidity.<hex>` in the root Maildir
//! (`shared/spec/dovecot/maildir.md` §5; `mailbox-uidvalidity.c`).

use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

const FILE: &str = "dovecot-uidvalidity";

fn marker(root: &Path, v: u32) -> std::path::PathBuf {
    root.join(format!("{FILE}.{v:08x}"))
}

fn read_file(root: &Path) -> Option<u32> {
    let s = std::fs::read(root.join(FILE)).ok()?;
    let s = std::str::from_utf8(&s).ok()?;
    if s.len() != 8 {
        return None;
    }
    u32::from_str_radix(s, 16).ok().filter(|&v| v != 0)
}

/// The highest marker value, removing lower duplicates.
fn scan_markers(root: &Path) -> io::Result<Option<u32>> {
    let mut found: Vec<u32> = Vec::new();
    for e in std::fs::read_dir(root)? {
        let e = e?;
        let name = e.file_name();
        let name = name.to_string_lossy();
        if let Some(hex) = name.strip_prefix("dovecot-uidvalidity.") {
            if let Ok(v) = u32::from_str_radix(hex, 16) {
                found.push(v);
            }
        }
    }
    found.sort_unstable();
    let max = found.last().copied();
    for &v in found.iter().rev().skip(1) {
        let _ = std::fs::remove_file(marker(root, v));
    }
    Ok(max)
}

fn write_file(root: &Path, v: u32) -> io::Result<()> {
    let tmp = root.join(format!("{FILE}.tmp{}", std::process::id()));
    std::fs::write(&tmp, format!("{v:08x}"))?;
    std::fs::rename(&tmp, root.join(FILE))
}

fn successor(v: u32) -> u32 {
    match v.wrapping_add(1) {
        0 => 1,
        n => n,
    }
}

/// Hand out the next UIDVALIDITY of the account rooted at `root`; `now`
/// is the current Unix time (the starting value of a new account).
pub fn next(root: &Path, now: u32) -> io::Result<u32> {
    for _ in 0..10 {
        let cur = match read_file(root) {
            Some(v) if marker(root, v).exists() => Some(v),
            _ => scan_markers(root)?,
        };
        let Some(cur) = cur else {
            let start = now.max(1);
            let m = marker(root, start);
            std::fs::write(&m, b"")?;
            std::fs::set_permissions(&m, std::fs::Permissions::from_mode(0o444))?;
            write_file(root, start)?;
            return Ok(start);
        };
        let new = successor(cur);
        match std::fs::rename(marker(root, cur), marker(root, new)) {
            Ok(()) => {
                write_file(root, new)?;
                return Ok(new);
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::other(
        "cannot claim a UIDVALIDITY after 10 tries",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fresh_then_increasing() {
        let d = tempfile::tempdir().unwrap();
        assert_eq!(next(d.path(), 1700000000).unwrap(), 1700000000);
        assert_eq!(next(d.path(), 5).unwrap(), 1700000001);
        assert_eq!(std::fs::read(d.path().join(FILE)).unwrap(), b"6553f101");
        assert!(marker(d.path(), 1700000001).exists());
        std::fs::remove_file(d.path().join(FILE)).unwrap();
        assert_eq!(next(d.path(), 5).unwrap(), 1700000002);
    }
}
