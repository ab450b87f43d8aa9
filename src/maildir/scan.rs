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
/// is before `now`, oldest first. Messages of the same second come in the
/// order qmail's `prioq` heap gives them, which is not the directory
/// order: qmail-pop3d numbers messages this way, and a script that says
/// `DELE 1` must hit the same file as under the original.
pub fn scan(now: i64, cur: bool) -> Result<Vec<Found>, ScanError> {
    let mut found = Vec::new();
    append(&mut found, "new", now)?;
    if cur {
        append(&mut found, "cur", now)?;
    }
    Ok(prioq_order(found))
}

/// Push every entry into a binary heap keyed by mtime and pop them all,
/// exactly as `prioq_insert` / `prioq_delmin` do (ties are not stable).
fn prioq_order(items: Vec<Found>) -> Vec<Found> {
    let mut heap: Vec<Found> = Vec::with_capacity(items.len());
    for pe in items {
        // prioq_insert: sift up while the parent is strictly later.
        let mut j = heap.len();
        heap.push(pe.clone());
        while j > 0 {
            let i = (j - 1) / 2;
            if heap[i].mtime <= pe.mtime {
                break;
            }
            heap[j] = heap[i].clone();
            j = i;
        }
        heap[j] = pe;
    }
    let mut out = Vec::with_capacity(heap.len());
    while !heap.is_empty() {
        out.push(heap[0].clone());
        // prioq_delmin: move the last element down from the root.
        let n = heap.len() - 1;
        let mut i = 0;
        loop {
            let mut j = i + i + 2;
            if j > n {
                break;
            }
            if heap[j - 1].mtime <= heap[j].mtime {
                j -= 1;
            }
            if heap[n].mtime <= heap[j].mtime {
                break;
            }
            heap[i] = heap[j].clone();
            i = j;
        }
        heap[i] = heap[n].clone();
        heap.truncate(n);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn f(name: &str, mtime: i64) -> Found {
        Found {
            path: PathBuf::from(name),
            mtime,
        }
    }

    #[test]
    fn ties_come_in_heap_order() {
        // Worked by hand through prioq.c: four files of one second come
        // out a, d, c, b, not in directory order.
        let got = prioq_order(vec![f("a", 5), f("b", 5), f("c", 5), f("d", 5)]);
        let names: Vec<_> = got.iter().map(|x| x.path.to_str().unwrap()).collect();
        assert_eq!(names, ["a", "d", "c", "b"]);
    }

    proptest! {
        #[test]
        fn sorted_by_mtime_and_complete(ts in proptest::collection::vec(0i64..5, 0..40)) {
            let items: Vec<_> = ts.iter().enumerate().map(|(i, &t)| f(&i.to_string(), t)).collect();
            let got = prioq_order(items.clone());
            prop_assert_eq!(got.len(), items.len());
            prop_assert!(got.windows(2).all(|w| w[0].mtime <= w[1].mtime));
            let mut a: Vec<_> = got.iter().map(|x| x.path.clone()).collect();
            let mut b: Vec<_> = items.iter().map(|x| x.path.clone()).collect();
            a.sort();
            b.sort();
            prop_assert_eq!(a, b);
        }
    }
}
