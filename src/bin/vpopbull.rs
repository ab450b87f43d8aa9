//! vpopbull — POP bulletins (vmailmgr-tools): link every bulletin file
//! newer than `$MAILDIR/.timestamp` into the mailbox's `new/`, then touch
//! the timestamp; optionally exec a command (run from `checkvpw-postsetuid`
//! or in front of the POP server).
//!
//! Invocation: `vpopbull [-l|--link] [-s|--symlink] [--quiet] DIR...
//! [-- COMMAND ARGS...]`, with `HOME` (entered) and `MAILDIR` set, as the
//! domain owner. Links are named `<time>.<pid>.<hostname>`; relative DIRs
//! are linked through the right number of `../`.
//!
//! Exit codes: 0 done (or the command's, through exec); 1 `HOME`/`MAILDIR`
//! unset; 111 file system errors.
//!
//! See: `shared/spec/vmailmgr/commands.md` §3.

use std::ffi::OsString;
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::CommandExt;
use std::path::{Component, Path, PathBuf};

fn die(code: i32, m: &str) -> ! {
    let _ = writeln!(std::io::stderr(), "vpopbull: {m}");
    std::process::exit(code);
}

fn main() {
    let argv: Vec<OsString> = std::env::args_os().skip(1).collect();
    let mut hard = false;
    let mut dirs = Vec::new();
    let mut command: Vec<OsString> = Vec::new();
    let mut it = argv.into_iter();
    while let Some(a) = it.next() {
        match a.as_bytes() {
            b"-l" | b"--link" => hard = true,
            b"-s" | b"--symlink" => hard = false,
            b"--quiet" => {}
            b"--" => {
                command = it.collect();
                break;
            }
            _ => dirs.push(PathBuf::from(a)),
        }
    }
    let Some(home) = std::env::var_os("HOME") else {
        die(1, "$HOME is not set")
    };
    if std::env::set_current_dir(&home).is_err() {
        die(111, "Could not change to $HOME");
    }
    let Some(maildir) = std::env::var_os("MAILDIR") else {
        die(1, "$MAILDIR is not set")
    };
    let maildir = PathBuf::from(maildir);
    let stamp = maildir.join(".timestamp");
    let since = std::fs::metadata(&stamp).and_then(|m| m.modified()).ok();
    let host = nix::unistd::gethostname()
        .map(|h| h.to_string_lossy().into_owned())
        .unwrap_or_default();
    // Depth of MAILDIR/new below the home, for relative symlinks.
    let depth = maildir
        .join("new")
        .components()
        .filter(|c| matches!(c, Component::Normal(_)))
        .count();
    for dir in &dirs {
        let Ok(rd) = std::fs::read_dir(dir) else {
            die(111, &format!("Could not read {}", dir.display()))
        };
        let mut files: Vec<_> = rd.flatten().collect();
        files.sort_by_key(|e| e.file_name());
        for ent in files {
            let name = ent.file_name();
            if name.as_bytes().first() == Some(&b'.') {
                continue;
            }
            let Ok(m) = ent.metadata() else { continue };
            if !m.is_file() || since.is_some_and(|s| m.modified().is_ok_and(|t| t <= s)) {
                continue;
            }
            let target = if dir.is_absolute() || hard {
                ent.path()
            } else {
                let mut p = PathBuf::new();
                for _ in 0..depth {
                    p.push("..");
                }
                p.join(dir).join(&name)
            };
            loop {
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_secs())
                    .unwrap_or(0);
                let dest = maildir
                    .join("new")
                    .join(format!("{now}.{}.{host}", std::process::id()));
                if dest.symlink_metadata().is_ok() {
                    std::thread::sleep(std::time::Duration::from_secs(2));
                    continue;
                }
                let r = if hard {
                    std::fs::hard_link(&target, &dest)
                } else {
                    std::os::unix::fs::symlink(&target, &dest)
                };
                match r {
                    Ok(()) => break,
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                        std::thread::sleep(std::time::Duration::from_secs(2))
                    }
                    Err(_) => die(
                        111,
                        &format!("Could not link {}", Path::new(&target).display()),
                    ),
                }
            }
        }
    }
    let touched = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(&stamp);
    if touched.is_err() {
        die(111, "Could not update the timestamp file");
    }
    use std::os::unix::fs::PermissionsExt;
    let _ = std::fs::set_permissions(&stamp, std::fs::Permissions::from_mode(0o600));
    if let Some((prog, rest)) = command.split_first() {
        let e = std::process::Command::new(prog).args(rest).exec();
        die(
            111,
            &format!("Could not execute {}: {e}", Path::new(prog).display()),
        );
    }
}
