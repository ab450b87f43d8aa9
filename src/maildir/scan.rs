//! qmail's `maildir.c`: the tmp/ clean-up and the new/ + cur/ scan used
//! by maildir2mbox and maildirwatch (`shared/spec/qmail/binaries.md`,
//! Mailbox tools). Paths are relative to the maildir (the caller has
//! chdir'ed into `$MAILDIR`, as `maildir_chdir` does).

use std::fs;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;

/// Files in tmp/ last accessed this long ago are removed (36 hours).
pub const TMP_AGE: i64 = 129_600;

/// `maildir_clean`: unlink tmp/ files (not dot files) whose atime is more
/// than 36 hours before `now`. Errors are ignored, as in the original.
pub fn clean(now: i64) {
    let Ok(dir) = fs::read_dir("tmp") else { return };
    for e in dir.flatten() {
        if e.file_name().as_encoded_bytes().first() == Some(&b'.') {
            continue;
        }
        let p = PathBuf::from("tmp").join(e.file_name());
        if let Ok(m) = fs::metadata(&p) {
            if now > m.atime() + TMP_AGE {
                let _ = fs::remove_file(&p);
            }
        }
    }
}

/// A scan failure: `unable to scan $MAILDIR/SUB: ` or `unable to read
/// $MAILDIR/SUB: ` + the error.
#[derive(Debug)]
pub struct ScanError {
    pub text: String,
    pub error: io::Error,
}

/// One message found: its path (`new/NAME` or `cur/NAME`) and mtime.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub path: PathBuf,
    pub mtime: i64,
}

fn append(out: &mut Vec<Found>, sub: &str, now: i64) -> Result<(), ScanError> {
    let dir = fs::read_dir(sub).map_err(|error| ScanError {
        text: format!("unable to scan $MAILDIR/{sub}: "),
        error,
    })?;
    for e in dir {
        let e = e.map_err(|error| ScanError {
            text: format!("unable to read $MAILDIR/{sub}: "),
            error,
        })?;
        if e.file_name().as_encoded_bytes().first() == Some(&b'.') {
            continue;
        }
        let path = PathBuf::from(sub).join(e.file_name());
        if let Ok(m) = fs::metadata(&path) {
            // Files touched this very second are left for the next run.
            if m.mtime() < now {
                out.push(Found {
                    path,
                    mtime: m.mtime(),
                });
            }
        }
    }
    Ok(())
}

/// `maildir_scan`: the messages of new/ (and cur/ with `cur`) whose mtime
/// is before `now`, oldest first.
pub fn scan(now: i64, cur: bool) -> Result<Vec<Found>, ScanError> {
    let mut out = Vec::new();
    append(&mut out, "new", now)?;
    if cur {
        append(&mut out, "cur", now)?;
    }
    out.sort_by_key(|f| f.mtime);
    Ok(out)
}
