//! Preprocessing `todo/ID` entries (`shared/spec/qmail/send.md` §3):
//! write `info/S/ID` and the channel files, then let qmail-clean remove
//! the todo entry.
//!
//! The original fsyncs info and each channel file, one message at a
//! time (2 or 3 calls per message) and never their directories. We
//! preprocess a batch, then make it durable with one [`barrier`]
//! (`syncfs`: data and directory entries alike), and only then ask
//! qmail-clean to remove the batch's todo entries: a todo entry is gone
//! only once everything it was turned into is on disk.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::OpenOptionsExt;

use super::log;
use super::rewrite::{rewrite, Rules};
use crate::queue::layout::Layout;

/// A queue-relative split path like `local/15/754967`.
pub fn split_name(kind: &str, id: u64, split: u64) -> String {
    format!("{kind}/{}/{id}", id % split)
}

/// What preprocessing produced.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Log lines, in order.
    pub log: Vec<Vec<u8>>,
    /// Which channels got recipients (None: the attempt failed, retry later).
    pub channels: Option<[bool; 2]>,
}

fn excl(path: &std::path::Path) -> io::Result<File> {
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o644)
        .open(path)
}

/// Steps 1–7 of §3 for message `id`, without the fsyncs: the caller
/// runs [`barrier`] before asking qmail-clean to remove the todo entry.
pub fn preprocess(q: &Layout, rules: &Rules, id: u64) -> Outcome {
    let mut out = Outcome::default();
    let name = |k: &str| split_name(k, id, q.split);
    let mut todo = Vec::new();
    match File::open(q.todo(id)).and_then(|mut f| f.read_to_end(&mut todo)) {
        Ok(_) => {}
        Err(_) => {
            out.log
                .push(log::warning(&format!("unable to open todo/{id}")));
            return out;
        }
    }
    let size = match std::fs::metadata(q.mess(id)) {
        Ok(m) => m.len(),
        Err(_) => {
            out.log
                .push(log::warning(&format!("unable to stat {}", name("mess"))));
            return out;
        }
    };
    let paths = [
        (q.local(id), "local"),
        (q.remote(id), "remote"),
        (q.info(id), "info"),
    ];
    for (p, k) in &paths {
        if let Err(e) = std::fs::remove_file(p) {
            if e.kind() != io::ErrorKind::NotFound {
                out.log
                    .push(log::warning(&format!("unable to unlink {}", name(k))));
                return out;
            }
        }
    }
    let mut info = match excl(&q.info(id)) {
        Ok(f) => f,
        Err(_) => {
            out.log
                .push(log::warning(&format!("unable to create {}", name("info"))));
            return out;
        }
    };
    out.log.push(log::new_msg(id));
    let mut chan: [Option<File>; 2] = [None, None];
    let (mut uid, mut pid) = (Vec::new(), Vec::new());
    let mut rest = &todo[..];
    let fail = |out: &mut Outcome, what: &str| {
        out.log.push(log::warning(what));
    };
    while let Some(end) = rest.iter().position(|&b| b == 0) {
        let rec = &rest[..end];
        rest = &rest[end + 1..];
        match rec.first() {
            Some(b'u') => uid = rec[1..].to_vec(),
            Some(b'p') => pid = rec[1..].to_vec(),
            Some(b'F') => {
                let mut r = rec.to_vec();
                r.push(0);
                if info.write_all(&r).is_err() {
                    fail(&mut out, &format!("trouble writing to {}", name("info")));
                    return out;
                }
                out.log.push(log::info_msg(id, size, &rec[1..], &pid, &uid));
            }
            Some(b'T') => {
                let (c, addr) = rewrite(rules, &rec[1..]);
                if chan[c].is_none() {
                    let p = if c == 0 { q.local(id) } else { q.remote(id) };
                    match excl(&p) {
                        Ok(f) => chan[c] = Some(f),
                        Err(_) => {
                            fail(
                                &mut out,
                                &format!("unable to create {}", name(log::CHANNEL[c])),
                            );
                            return out;
                        }
                    }
                }
                let mut r = b"T".to_vec();
                r.extend_from_slice(&addr);
                r.push(0);
                if let Some(f) = chan[c].as_mut() {
                    if f.write_all(&r).is_err() {
                        fail(
                            &mut out,
                            &format!("trouble writing to {}", name(log::CHANNEL[c])),
                        );
                        return out;
                    }
                }
            }
            _ => {
                fail(&mut out, &format!("unknown record type in todo/{id}"));
                return out;
            }
        }
    }
    out.channels = Some([chan[0].is_some(), chan[1].is_some()]);
    out
}

/// Make every file preprocessing wrote durable, names included: one
/// `syncfs` per file system holding `info/`, `local/` and `remote/`
/// (normally one).
pub fn barrier(q: &Layout) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    use std::os::unix::fs::MetadataExt;
    let mut done = Vec::new();
    for d in ["info", "local", "remote"] {
        let dir = File::open(q.dir.join(d))?;
        let dev = dir.metadata()?.dev();
        if !done.contains(&dev) {
            nix::unistd::syncfs(dir.as_raw_fd()).map_err(io::Error::from)?;
            done.push(dev);
        }
    }
    Ok(())
}
