//! COPY, MOVE and APPEND: new files in the target's `cur/` under
//! Dovecot-style names (`<secs>.M<usecs>P<pid>.<host>,S=<size>,W=<vsize>:2,<flags>`),
//! keywords mapped by name into the target's `dovecot-keywords`, written
//! to `tmp/` and moved into `cur/` with their UIDs appended to the
//! target's uidlist under its lock, as Dovecot's save commit does (a copy's record keeps
//! the source's base name as `G`, as Dovecot's hard-link copy does), and
//! the UIDPLUS response codes COPYUID / APPENDUID.

use std::fs;
use std::io::{self, Write};

use super::input::Wait;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use super::folders;
use super::mailbox::{first_recent, set_first_recent, Selected, SYSTEM};
use super::parse::{self, Arg};
use super::session::{bad, internal, Reply, Session};
use crate::maildir::filename::{self, Flags};
use crate::maildir::uidlist::Record;

/// `1:3,5` from ascending UIDs.
pub fn uid_set(uids: &[u32]) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut i = 0;
    while i < uids.len() {
        let mut j = i;
        while j + 1 < uids.len() && uids[j + 1] == uids[j].wrapping_add(1) {
            j += 1;
        }
        out.push(if i == j {
            uids[i].to_string()
        } else {
            format!("{}:{}", uids[i], uids[j])
        });
        i = j + 1;
    }
    out.join(",")
}

fn host() -> String {
    nix::unistd::gethostname()
        .ok()
        .and_then(|h| h.into_string().ok())
        .unwrap_or_else(|| "localhost".into())
        .replace('/', "\\057")
        .replace(':', "\\072")
}

/// A fresh unique base name with the size fields.
fn new_base(dir: &Path, size: u64, vsize: u64, seq: &mut u32) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let h = host();
    loop {
        let usecs = now.subsec_micros() + *seq;
        *seq += 1;
        let base = format!(
            "{}.M{}P{}.{h},S={size},W={vsize}",
            now.as_secs(),
            usecs,
            std::process::id()
        );
        let taken = ["cur", "new", "tmp"].iter().any(|d| {
            fs::read_dir(dir.join(d)).is_ok_and(|rd| {
                rd.flatten()
                    .any(|e| e.file_name().to_string_lossy().starts_with(&base))
            })
        });
        if !taken {
            return base;
        }
    }
}

/// One message to store into a target.
struct Incoming<'a> {
    data: &'a [u8],
    /// Source file to hard-link (COPY), if any.
    link_from: Option<std::path::PathBuf>,
    system: Vec<u8>,
    keywords: Vec<String>,
    mtime: Option<i64>,
    guid: Option<String>,
}

/// A message waiting in tmp/ for its move into cur/.
struct Placed {
    base: String,
    tmp: std::path::PathBuf,
    dest: std::path::PathBuf,
    guid: Option<String>,
}

/// Put `m` at `tmp`: a hard link to its source (COPY) or, failing that,
/// its bytes, synced.
fn put_in_tmp(m: &Incoming, tmp: &Path) -> io::Result<()> {
    if m.link_from
        .as_ref()
        .is_some_and(|src| fs::hard_link(src, tmp).is_ok())
    {
        return Ok(());
    }
    let mut file = fs::File::create(tmp)?;
    let written = file.write_all(m.data).and_then(|()| file.sync_data());
    let dated = match m.mtime {
        Some(t) if written.is_ok() => {
            file.set_modified(UNIX_EPOCH + std::time::Duration::from_secs(t.max(0) as u64))
        }
        _ => Ok(()),
    };
    if let Err(e) = written.and(dated) {
        let _ = fs::remove_file(tmp);
        return Err(e);
    }
    Ok(())
}

/// Remove what a failed store left in tmp/.
fn remove_all(files: &[Placed]) {
    for p in files {
        let _ = fs::remove_file(&p.tmp);
    }
}

/// Store messages into the mailbox at `path`; returns (uidvalidity,
/// new UIDs). They are `\Recent` for the session that has the mailbox
/// selected read-write (`claim`), else for the next one to select it.
fn store_into(
    root: &Path,
    name: &str,
    path: &Path,
    msgs: &[Incoming],
    claim: bool,
) -> io::Result<(u32, Vec<u32>)> {
    let mut target = Selected::open(root, name, path, true)?;
    let validity = target.mbox.list.uid_validity;
    if !claim && first_recent(path, validity).is_none() {
        set_first_recent(path, validity, target.first_recent)?;
    }
    let mut seq = 0;
    let mut files = Vec::new();
    for m in msgs {
        let mut f = Flags::default();
        for &l in &m.system {
            f.set(l, true);
        }
        for k in &m.keywords {
            let mut added = false;
            match target.keyword_index(k, &mut added) {
                Ok(Some(i)) => f.set(b'a' + i as u8, true),
                Ok(None) => {}
                Err(e) => {
                    remove_all(&files);
                    return Err(e);
                }
            }
        }
        let size = m.data.len() as u64;
        let vsize = filename::virtual_size(m.data);
        let base = new_base(path, size, vsize, &mut seq);
        // Into tmp/ first; the move into cur/ waits for the uidlist lock.
        let tmp = path.join("tmp").join(&base);
        if let Err(e) = put_in_tmp(m, &tmp) {
            remove_all(&files);
            return Err(e);
        }
        // Into cur/ with the flags in the info part, as Dovecot saves.
        let dest = path.join("cur").join(f.name_for(&base));
        files.push(Placed {
            base,
            tmp,
            dest,
            guid: m.guid.clone(),
        });
    }
    let mut uids = Vec::new();
    let mut claimed = Ok(());
    let mut moved = Ok(());
    target.mbox.update(|l| {
        // Moved and numbered under the lock, as Dovecot's save commit
        // does: a file in cur/ without its record would be numbered by
        // the next session that syncs, and then again here.
        for p in &files {
            if let Err(e) = fs::rename(&p.tmp, &p.dest) {
                moved = Err(e);
                break;
            }
            let uid = l.next_uid();
            let mut r = Record::new(uid, &p.base);
            if let Some(g) = &p.guid {
                r.set(b'G', g.clone());
            }
            l.records.push(r);
            l.next_uid = uid + 1;
            uids.push(uid);
        }
        if let (true, Some(last)) = (claim, uids.last()) {
            claimed = set_first_recent(path, validity, last + 1);
        }
    })?;
    if let Err(e) = moved {
        remove_all(&files[uids.len()..]);
        return Err(e);
    }
    claimed?;
    Ok((validity, uids))
}

/// COPY / MOVE (and their UID forms).
pub fn copy<R: Wait, W: Write>(
    s: &mut Session<R, W>,
    cmd: &str,
    args: &[Arg],
    uid: bool,
    mv: bool,
) -> io::Result<Reply> {
    let (Some(set), Some(dest)) = (
        args.first().and_then(Arg::atom),
        args.get(1).and_then(Arg::string),
    ) else {
        return Ok(bad(cmd, "Missing arguments"));
    };
    let Some(idxs) = s.resolve(set, uid) else {
        return Ok(bad(cmd, "Invalid messageset"));
    };
    let dest = folders::canonical(&dest);
    let root = s.cfg.root.clone();
    if !folders::exists(&root, &dest) {
        return Ok(Reply::No(format!(
            "[TRYCREATE] Mailbox doesn't exist: {dest}"
        )));
    }
    let Some(sel) = s.sel.as_ref() else {
        return Ok(Reply::Bad("No mailbox selected".into()));
    };
    if mv && sel.read_only {
        return Ok(Reply::No("[CANNOT] Mailbox is read-only".into()));
    }
    let mut datas = Vec::new();
    let mut src_uids = Vec::new();
    for &i in &idxs {
        let m = &sel.mbox.messages[i];
        let data = match sel.read(i) {
            Ok(d) => d,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Ok(internal(&e)),
        };
        let f = m.flags();
        let system: Vec<u8> = SYSTEM
            .iter()
            .map(|(_, l)| *l)
            .filter(|l| f.has(*l))
            .collect();
        let keywords: Vec<String> = f
            .keywords()
            .filter_map(|k| sel.keywords.name(k).map(str::to_string))
            .collect();
        datas.push((
            data,
            sel.mbox.file(m),
            system,
            keywords,
            sel.mtime(i),
            m.base().to_string(),
        ));
        src_uids.push(m.uid);
    }
    if src_uids.is_empty() {
        return Ok(Reply::Ok("No messages found.".into()));
    }
    let incoming: Vec<Incoming> = datas
        .iter()
        .map(|(d, p, sys, kw, t, base)| Incoming {
            data: d,
            link_from: Some(p.clone()),
            system: sys.clone(),
            keywords: kw.clone(),
            mtime: Some(*t),
            guid: Some(base.clone()),
        })
        .collect();
    let dpath = folders::path(&root, &dest);
    let claim = claims(s, &dest);
    let (validity, new) = match store_into(&root, &dest, &dpath, &incoming, claim) {
        Ok(x) => x,
        Err(e) => return Ok(internal(&e)),
    };
    if claim {
        if let Some(sel) = s.sel.as_mut() {
            sel.claimed.extend(&new);
        }
    }
    let code = format!(
        "COPYUID {validity} {} {}",
        uid_set(&src_uids),
        uid_set(&new)
    );
    if !mv {
        return Ok(Reply::Ok(format!("[{code}] Copy completed.")));
    }
    s.out(&format!("* OK [{code}] Moved UIDs."))?;
    let Some(sel) = s.sel.as_mut() else {
        return Ok(Reply::Ok("Move completed.".into()));
    };
    let gone: Vec<usize> = (0..sel.count())
        .filter(|&i| src_uids.contains(&sel.mbox.messages[i].uid))
        .collect();
    let seqs = sel.expunge(&gone)?;
    for q in seqs {
        s.out(&format!("* {q} EXPUNGE"))?;
    }
    Ok(Reply::Ok("Move completed.".into()))
}

/// Parse an APPEND date-time `"19-Nov-2023 10:00:00 +0000"`.
pub fn parse_datetime(s: &str) -> Option<i64> {
    let (date, rest) = s.trim_start().split_once(' ')?;
    let (time, zone) = rest.split_once(' ')?;
    let mut d = date.split('-');
    let day: i64 = d.next()?.trim().parse().ok()?;
    let mon = d.next()?;
    let year: i64 = d.next()?.parse().ok()?;
    let months = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ];
    let month = months.iter().position(|m| m.eq_ignore_ascii_case(mon))? as i64 + 1;
    let mut t = time.split(':');
    let (h, mi, se): (i64, i64, i64) = (
        t.next()?.parse().ok()?,
        t.next()?.parse().ok()?,
        t.next()?.parse().ok()?,
    );
    if !(1..=31).contains(&day) || h > 23 || mi > 59 || se > 60 || zone.len() != 5 {
        return None;
    }
    let sign = match zone.as_bytes()[0] {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let zh: i64 = zone[1..3].parse().ok()?;
    let zm: i64 = zone[3..5].parse().ok()?;
    // days_from_civil
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86400 + h * 3600 + mi * 60 + se - sign * (zh * 3600 + zm * 60))
}

/// The flags of an APPEND flag list, or the BAD text.
fn append_flags(l: &[Arg]) -> Result<(Vec<u8>, Vec<String>), String> {
    let mut sys = Vec::new();
    let mut kw = Vec::new();
    for a in l {
        let f = a.atom().ok_or("Flags list contains non-atoms.")?;
        if let Some(x) = f.strip_prefix('\\') {
            match SYSTEM.iter().find(|(n, _)| n[1..].eq_ignore_ascii_case(x)) {
                Some((_, c)) => sys.push(*c),
                None => return Err(format!("Invalid system flag \\{}", x.to_ascii_uppercase())),
            }
        } else {
            kw.push(f.to_string());
        }
    }
    Ok((sys, kw))
}

/// One message of an APPEND: flags, date, data (or an error reply).
type Parsed<'a> = (Vec<u8>, Vec<String>, Option<i64>, Option<&'a [u8]>);

/// Split APPEND arguments after the mailbox; the last message's data may
/// be missing (the continuation check runs before the literal arrives).
fn append_messages(args: &[Arg]) -> Result<Vec<Parsed<'_>>, Reply> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let mut flags = (Vec::new(), Vec::new());
        if let Arg::List(l) = &args[i] {
            flags = append_flags(l).map_err(|e| bad("APPEND", &e))?;
            i += 1;
        }
        let mut date = None;
        if let Some(Arg::Quoted(q)) = args.get(i) {
            let s = String::from_utf8_lossy(q);
            date = Some(parse_datetime(&s).ok_or_else(|| bad("APPEND", "Invalid internal date"))?);
            i += 1;
        }
        match args.get(i) {
            Some(Arg::Literal(d)) => {
                out.push((flags.0, flags.1, date, Some(&d[..])));
                i += 1;
            }
            None => out.push((flags.0, flags.1, date, None)),
            Some(_) => return Err(bad("APPEND", "Invalid arguments")),
        }
    }
    Ok(out)
}

/// Check an APPEND before accepting a synchronising literal: `cmd` is
/// the command so far, ending in `{n}`. Returns the reply to send
/// instead of `+ OK`.
pub fn append_check(root: &Path, cmd: &[u8]) -> Option<(String, Reply)> {
    let parse::Head::Command { tag, name, rest } = parse::head(cmd) else {
        return None;
    };
    if name != "APPEND" {
        return None;
    }
    let (size, _) = parse::literal_at_end(rest)?;
    let open = rest.iter().rposition(|&b| b == b'{')?;
    let args = parse::args(&rest[..open]).ok()?;
    let mbox = folders::canonical(&args.first()?.string()?);
    if !folders::exists(root, &mbox) {
        return Some((
            tag,
            Reply::No(format!("[TRYCREATE] Mailbox doesn't exist: {mbox}")),
        ));
    }
    if let Err(r) = append_messages(&args[1..]) {
        return Some((tag, r));
    }
    if size == 0 {
        return Some((tag, Reply::No("Can't save a zero byte message".into())));
    }
    None
}

/// APPEND (with MULTIAPPEND's several messages).
pub fn append<R: Wait, W: Write>(s: &mut Session<R, W>, args: &[Arg]) -> io::Result<Reply> {
    let Some(mbox) = args.first().and_then(Arg::string) else {
        return Ok(bad("APPEND", "Missing arguments"));
    };
    let msgs = match append_messages(&args[1..]) {
        Ok(m) => m,
        Err(r) => return Ok(r),
    };
    if msgs.is_empty() || msgs.iter().any(|m| m.3.is_none()) {
        return Ok(bad("APPEND", "Missing arguments"));
    }
    let mbox = folders::canonical(&mbox);
    let root = s.cfg.root.clone();
    if !folders::exists(&root, &mbox) {
        return Ok(Reply::No(format!(
            "[TRYCREATE] Mailbox doesn't exist: {mbox}"
        )));
    }
    if msgs.iter().any(|m| m.3.is_some_and(<[u8]>::is_empty)) {
        return Ok(Reply::No("Can't save a zero byte message".into()));
    }
    // Stored with LF line ends, as Dovecot's maildir save does.
    let lf: Vec<Vec<u8>> = msgs
        .iter()
        .map(|m| {
            let d = m.3.unwrap_or_default();
            let mut v = Vec::with_capacity(d.len());
            for (k, &b) in d.iter().enumerate() {
                if b == b'\r' && d.get(k + 1) == Some(&b'\n') {
                    continue;
                }
                v.push(b);
            }
            v
        })
        .collect();
    let incoming: Vec<Incoming> = msgs
        .iter()
        .zip(&lf)
        .map(|(m, d)| Incoming {
            data: d,
            link_from: None,
            system: m.0.clone(),
            keywords: m.1.clone(),
            mtime: m.2,
            guid: None,
        })
        .collect();
    let path = folders::path(&root, &mbox);
    let claim = claims(s, &mbox);
    match store_into(&root, &mbox, &path, &incoming, claim) {
        Ok((v, uids)) => {
            if claim {
                if let Some(sel) = s.sel.as_mut() {
                    sel.claimed.extend(&uids);
                }
            }
            Ok(Reply::Ok(format!(
                "[APPENDUID {v} {}] Append completed.",
                uid_set(&uids)
            )))
        }
        Err(e) => Ok(internal(&e)),
    }
}

/// Whether the session has `name` selected read-write (what it stores
/// there is `\Recent` for it).
fn claims<R: Wait, W: Write>(s: &Session<R, W>, name: &str) -> bool {
    s.sel
        .as_ref()
        .is_some_and(|sel| sel.name == name && !sel.read_only)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sets_and_dates() {
        assert_eq!(uid_set(&[1, 2, 3, 5, 7, 8]), "1:3,5,7:8");
        assert_eq!(
            parse_datetime("19-Nov-2023 10:00:00 +0000"),
            Some(1_700_388_000)
        );
        assert_eq!(parse_datetime(" 1-Jan-1970 01:00:00 +0100"), Some(0));
        assert_eq!(parse_datetime("31-Foo-2023 10:00:00 +0000"), None);
    }

    /// A stored file shows in cur/ only under the uidlist lock, so that no
    /// other session's sync can number it before its own record is
    /// written: a watcher that sees a new file while the lock is free must
    /// find its record already there.
    #[test]
    fn stored_files_appear_only_with_their_records() {
        use crate::maildir::sync::{self, Mode};
        use std::collections::HashSet;
        use std::sync::atomic::{AtomicBool, Ordering};
        use std::sync::Arc;
        let d = tempfile::tempdir().unwrap();
        let root = d.path().to_path_buf();
        for sub in ["cur", "new", "tmp"] {
            fs::create_dir(root.join(sub)).unwrap();
        }
        sync::open(&root, &root, Mode::ReadWrite).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let watcher = {
            let (root, stop) = (root.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut seen = HashSet::new();
                let mut unrecorded = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    for e in fs::read_dir(root.join("cur")).unwrap().flatten() {
                        let name = e.file_name().to_string_lossy().into_owned();
                        let base = name.split(':').next().unwrap_or("").to_string();
                        if !seen.insert(base.clone()) {
                            continue;
                        }
                        let locked = root.join("dovecot-uidlist.lock").exists();
                        let list = fs::read_to_string(root.join("dovecot-uidlist")).unwrap();
                        if !locked && !list.contains(&base) {
                            unrecorded.push(base);
                        }
                    }
                }
                (seen.len(), unrecorded)
            })
        };
        let mut all = Vec::new();
        for batch in 0..8 {
            let data: Vec<Vec<u8>> = (0..6)
                .map(|i| format!("Subject: {batch}.{i}\n\nbody\n").into_bytes())
                .collect();
            let msgs: Vec<Incoming> = data
                .iter()
                .map(|d| Incoming {
                    data: d,
                    link_from: None,
                    system: Vec::new(),
                    keywords: Vec::new(),
                    mtime: None,
                    guid: None,
                })
                .collect();
            let (_, uids) = store_into(&root, "INBOX", &root, &msgs, false).unwrap();
            all.extend(uids);
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
        stop.store(true, Ordering::Relaxed);
        let (seen, unrecorded) = watcher.join().unwrap();
        assert_eq!(seen, 48);
        assert!(
            unrecorded.is_empty(),
            "in cur/ unlocked without a record: {unrecorded:?}"
        );
        let m = sync::open(&root, &root, Mode::ReadOnly).unwrap();
        let mut uids: Vec<u32> = m.messages.iter().map(|m| m.uid).collect();
        uids.sort_unstable();
        assert_eq!(uids, all, "the UIDs APPEND reported are the files' UIDs");
        assert_eq!(fs::read_dir(root.join("tmp")).unwrap().count(), 0);
    }
}
