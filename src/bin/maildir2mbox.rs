//! maildir2mbox — move mail from a Maildir into an mbox.
//!
//! # Invocation
//! `maildir2mbox`, with `MAILDIR` (the maildir), `MAIL` (the mbox) and
//! `MAILTMP` (a temporary file on the same file system); relative `MAIL`
//! and `MAILTMP` are taken inside `$MAILDIR`, as after the original's
//! chdir. Cleans tmp/, takes the messages of new/ and cur/ oldest first,
//! locks `MAIL` (append-open + flock, waiting), copies it to `MAILTMP`,
//! appends each message with a `From ` line (`From ` + the Return-Path
//! address, `MAILER-DAEMON` for `<>`, `XXX` if the first line is no
//! Return-Path; then the file's mtime as `myctime`), `>From` quoting and a
//! blank line, fsyncs, renames `MAILTMP` over `MAIL` and only then
//! unlinks the messages — a crash at any point loses nothing (at worst a
//! message is moved twice). As the original, a last line without LF is
//! left out.
//!
//! # Security
//! Run by the mailbox owner; umask 077.
//!
//! # Exit codes
//! 0 done (also when there was nothing new); 111 with
//! `maildir2mbox: fatal: ...`. An unlink failure after the rename is a
//! warning (`maildir2mbox: warning: $MAILDIR/FILE will be delivered
//! twice; unable to unlink: ERR`).

use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, BufWriter, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::time::{SystemTime, UNIX_EPOCH};

use qmail::errstr::io_text;
use qmail::maildir::scan;
use qmail::mbox;

const FATAL: &str = "maildir2mbox: fatal: ";

fn die(msg: &str) -> ! {
    let _ = writeln!(io::stderr(), "{FATAL}{msg}");
    std::process::exit(111)
}

fn die_sys(msg: &str, e: &io::Error) -> ! {
    die(&format!("{msg}{}", io_text(e)))
}

/// The `From ` line for a message whose first line is `first` (with its LF).
fn from_line(first: &[u8], mtime: i64) -> Vec<u8> {
    let mut uf = b"From XXX ".to_vec();
    if let Some(rest) = first.strip_prefix(b"Return-Path: <") {
        if rest.first() == Some(&b'>') {
            uf = b"From MAILER-DAEMON ".to_vec();
        } else {
            uf = b"From ".to_vec();
            let end = first.len().saturating_sub(2).max(14);
            uf.extend(first[14..end].iter().map(|&b| match b {
                b' ' | b'\t' => b'-',
                b => b,
            }));
            uf.push(b' ');
        }
    }
    uf.extend_from_slice(mbox::myctime(mtime.max(0) as u64).as_bytes());
    uf
}

/// Append one message file as an mbox entry.
fn append(out: &mut dyn Write, path: &std::path::Path, mtime: i64, tmp: &str) {
    let name = path.display().to_string();
    let rerr = |e: &io::Error| -> ! { die_sys(&format!("unable to read $MAILDIR/{name}: "), e) };
    let werr = |e: &io::Error| -> ! { die_sys(&format!("unable to write to {tmp}: "), e) };
    let f = File::open(path).unwrap_or_else(|e| rerr(&e));
    let mut r = BufReader::new(f);
    let mut line = Vec::new();
    r.read_until(b'\n', &mut line).unwrap_or_else(|e| rerr(&e));
    let first_ok = line.last() == Some(&b'\n');
    let uf = if first_ok {
        from_line(&line, mtime)
    } else {
        from_line(b"", mtime)
    };
    out.write_all(&uf).unwrap_or_else(|e| werr(&e));
    // getln's loop: only LF-terminated lines are copied.
    while line.last() == Some(&b'\n') {
        if mbox::needs_quote(&line) {
            out.write_all(b">").unwrap_or_else(|e| werr(&e));
        }
        out.write_all(&line).unwrap_or_else(|e| werr(&e));
        line.clear();
        r.read_until(b'\n', &mut line).unwrap_or_else(|e| rerr(&e));
    }
    out.write_all(b"\n").unwrap_or_else(|e| werr(&e));
}

fn main() {
    nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o077));
    let Some(mail) = std::env::var_os("MAIL") else {
        die("MAIL not set")
    };
    let Some(mailtmp) = std::env::var_os("MAILTMP") else {
        die("MAILTMP not set")
    };
    let Some(maildir) = std::env::var_os("MAILDIR") else {
        die("MAILDIR not set")
    };
    let (mail_s, tmp_s) = (
        mail.to_string_lossy().into_owned(),
        mailtmp.to_string_lossy().into_owned(),
    );
    if let Err(e) = std::env::set_current_dir(&maildir) {
        die_sys(
            &format!("unable to chdir to {}: ", maildir.to_string_lossy()),
            &e,
        );
    }
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    scan::clean(now);
    let found = match scan::scan(now, true) {
        Ok(f) => f,
        Err(e) => die_sys(&e.text, &e.error),
    };
    if found.is_empty() {
        return;
    }

    let lock = OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o600)
        .open(&mail)
        .unwrap_or_else(|e| die_sys(&format!("unable to lock {mail_s}: "), &e));
    let lock = nix::fcntl::Flock::lock(lock, nix::fcntl::FlockArg::LockExclusive)
        .unwrap_or_else(|(_, e)| die_sys(&format!("unable to lock {mail_s}: "), &e.into()));
    let mut old =
        File::open(&mail).unwrap_or_else(|e| die_sys(&format!("unable to read {mail_s}: "), &e));
    let new = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o644)
        .open(&mailtmp)
        .unwrap_or_else(|e| die_sys(&format!("unable to create {tmp_s}: "), &e));
    let mut out = BufWriter::new(&new);
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match io::Read::read(&mut old, &mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => die_sys(&format!("unable to read {mail_s}: "), &e),
        };
        out.write_all(&buf[..n])
            .unwrap_or_else(|e| die_sys(&format!("unable to write to {tmp_s}: "), &e));
    }
    for f in &found {
        append(&mut out, &f.path, f.mtime, &tmp_s);
    }
    let werr = |e: &io::Error| -> ! { die_sys(&format!("unable to write to {tmp_s}: "), e) };
    out.flush().unwrap_or_else(|e| werr(&e));
    drop(out);
    new.sync_all().unwrap_or_else(|e| werr(&e));
    drop(new);
    if let Err(e) = std::fs::rename(&mailtmp, &mail) {
        die(&format!(
            "unable to move {tmp_s} to {mail_s}: {}",
            io_text(&e)
        ));
    }
    for f in &found {
        if let Err(e) = std::fs::remove_file(&f.path) {
            let _ = writeln!(
                io::stderr(),
                "maildir2mbox: warning: $MAILDIR/{} will be delivered twice; unable to unlink: {}",
                f.path.display(),
                io_text(&e)
            );
        }
    }
    drop(lock);
}
