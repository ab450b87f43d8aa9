//! Walking the queue (`queue.md` §2, §8): message ids in the split
//! directories (`readsubdir`: subdirectories 0..split in order, directory
//! order inside, names that are not decimal numbers skipped) and in the
//! flat ones; reading a message's info and channel files; qmail-qread's
//! report.

use std::io;
use std::os::unix::fs::MetadataExt;

use crate::queue::files::{self, ChannelRecipient, Todo};
use crate::queue::layout::Layout;

/// A decimal file name (`scan_ulong` over the whole name).
fn id_of(name: &std::ffi::OsStr) -> Option<u64> {
    let s = name.to_str()?;
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Why a walk stopped: the directory that could not be opened.
#[derive(Debug)]
pub struct OpendirError {
    /// Queue-relative name, e.g. `info/7`.
    pub dir: String,
    pub error: io::Error,
}

/// Ids in `KIND/0` … `KIND/split-1` (`mess`, `info`, `local`, `remote`).
pub fn ids(q: &Layout, kind: &str) -> io::Result<Vec<u64>> {
    split_ids(q, kind)
        .map_err(|e| io::Error::new(e.error.kind(), format!("{}: {}", e.dir, e.error)))
}

/// [`ids`], naming the directory that failed.
pub fn split_ids(q: &Layout, kind: &str) -> Result<Vec<u64>, OpendirError> {
    let mut out = Vec::new();
    for i in 0..q.split {
        let rel = format!("{kind}/{i}");
        let rd = std::fs::read_dir(q.dir.join(&rel)).map_err(|error| OpendirError {
            dir: rel.clone(),
            error,
        })?;
        for entry in rd {
            let entry = entry.map_err(|error| OpendirError {
                dir: rel.clone(),
                error,
            })?;
            if let Some(id) = id_of(&entry.file_name()) {
                out.push(id);
            }
        }
    }
    Ok(out)
}

/// Ids in a flat directory (`todo`, `intd`, `bounce`).
pub fn flat_ids(q: &Layout, kind: &str) -> io::Result<Vec<u64>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(q.dir.join(kind))? {
        if let Some(id) = id_of(&entry?.file_name()) {
            out.push(id);
        }
    }
    Ok(out)
}

/// Ids waiting in `todo/`.
pub fn todo_ids(q: &Layout) -> io::Result<Vec<u64>> {
    flat_ids(q, "todo")
}

fn invalid(e: files::RecordError) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e.to_string())
}

/// Read and parse `todo/ID`.
pub fn read_todo(q: &Layout, id: u64) -> io::Result<Todo> {
    Todo::parse(&std::fs::read(q.todo(id))?).map_err(invalid)
}

/// A preprocessed message as qmail-qread sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Queued {
    pub id: u64,
    /// The info file's mtime: the message's birth.
    pub birth: i64,
    /// Size of the mess file.
    pub size: u64,
    pub sender: Vec<u8>,
    pub bouncing: bool,
    pub local: Vec<ChannelRecipient>,
    pub remote: Vec<ChannelRecipient>,
    /// Why `local/S/ID` or `remote/S/ID` could not be opened (other than
    /// its absence), as `error_str` text.
    pub local_error: Option<&'static str>,
    pub remote_error: Option<&'static str>,
}

/// Channel records up to the last NUL, as qmail-qread's `getln` reads
/// them (types other than `T`/`D` are kept with `done == false` out of
/// the way: qread skips them).
fn channel(bytes: &[u8]) -> Vec<(u8, Vec<u8>)> {
    let mut out = Vec::new();
    let mut rest = bytes;
    while let Some(n) = rest.iter().position(|&b| b == 0) {
        if n > 0 {
            out.push((rest[0], rest[1..n].to_vec()));
        } else {
            out.push((0, Vec::new()));
        }
        rest = &rest[n + 1..];
    }
    out
}

fn read_optional(path: &std::path::Path) -> io::Result<Option<Vec<u8>>> {
    match std::fs::read(path) {
        Ok(b) => Ok(Some(b)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// Everything qmail-qread shows for message `id`.
pub fn read_queued(q: &Layout, id: u64) -> io::Result<Queued> {
    let size = std::fs::metadata(q.mess(id))?.len();
    let bouncing = std::fs::metadata(q.bounce(id)).is_ok();
    let info = std::fs::read(q.info(id))?;
    let birth = std::fs::metadata(q.info(id))?.mtime();
    // `getln` up to the first NUL; the sender follows the `F`.
    let first = info.split(|&b| b == 0).next().unwrap_or_default();
    let sender = first.get(1..).unwrap_or_default().to_vec();
    let mut chans = [Vec::new(), Vec::new()];
    let mut errors = [None, None];
    for (i, path) in [q.local(id), q.remote(id)].iter().enumerate() {
        let bytes = match read_optional(path) {
            Ok(b) => b,
            Err(e) => {
                errors[i] = Some(crate::errstr::io_text(&e));
                None
            }
        };
        if let Some(bytes) = bytes {
            chans[i] = channel(&bytes)
                .into_iter()
                .filter(|(k, _)| *k == b'T' || *k == b'D')
                .map(|(k, a)| ChannelRecipient {
                    address: a,
                    done: k == b'D',
                    offset: 0,
                })
                .collect();
        }
    }
    let [local, remote] = chans;
    let [local_error, remote_error] = errors;
    Ok(Queued {
        local_error,
        remote_error,
        id,
        birth,
        size,
        sender,
        bouncing,
        local,
        remote,
    })
}

/// qmail-qread's `out`: bytes < 32 or > 126 become `_`.
fn printable(bytes: &[u8], out: &mut Vec<u8>) {
    out.extend(
        bytes
            .iter()
            .map(|&b| if (32..=126).contains(&b) { b } else { b'_' }),
    );
}

/// qmail-qread's lines for one message.
pub fn qread_lines(m: &Queued, out: &mut Vec<u8>) {
    let mut stats =
        format!("{}  #{}  {}  <", crate::date::qread(m.birth), m.id, m.size).into_bytes();
    stats.extend_from_slice(&m.sender);
    stats.extend_from_slice(b"> ");
    if m.bouncing {
        stats.extend_from_slice(b" bouncing");
    }
    printable(&stats, out);
    out.push(b'\n');
    for (chan, list, err) in [
        ("local", &m.local, m.local_error),
        ("remote", &m.remote, m.remote_error),
    ] {
        if let Some(e) = err {
            out.extend_from_slice(format!("warning: trouble with #{}: {e}\n", m.id).as_bytes());
        }
        for r in list {
            if r.done {
                out.extend_from_slice(b"  done");
            }
            out.extend_from_slice(format!("\t{chan}\t").as_bytes());
            printable(&r.address, out);
            out.push(b'\n');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qread_line_shapes() {
        let m = Queued {
            id: 754967,
            birth: 1_795_607_173,
            size: 375,
            sender: b"sender@remote.example".to_vec(),
            bouncing: false,
            local: vec![ChannelRecipient {
                address: b"testuser@example.org".to_vec(),
                done: true,
                offset: 0,
            }],
            remote: vec![ChannelRecipient {
                address: b"x\ny@z".to_vec(),
                done: false,
                offset: 0,
            }],
            local_error: None,
            remote_error: None,
        };
        let mut out = Vec::new();
        qread_lines(&m, &mut out);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "25 Nov 2026 11:46:13 GMT  #754967  375  <sender@remote.example> \n  done\tlocal\ttestuser@example.org\n\tremote\tx_y@z\n"
        );
        let mut out = Vec::new();
        qread_lines(
            &Queued {
                bouncing: true,
                local: vec![],
                remote: vec![],
                ..m
            },
            &mut out,
        );
        assert!(out.ends_with(b">  bouncing\n"));
    }
}
