//! qmail-newu + qmail-lspawn + qmail-local together: the spawn protocol
//! on the pipes (`shared/spec/qmail/send.md` §5, `local.md` §1).

use std::fs;
use std::io::{Read, Write};
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::Path;
use std::process::{Command, Stdio};

fn setup(root: &Path) -> std::path::PathBuf {
    let q = root.join("var/qmail");
    for d in [
        "bin",
        "queue/mess/5",
        "queue/lock",
        "users",
        "home/joe/Maildir/tmp",
        "home/joe/Maildir/new",
        "home/joe/Maildir/cur",
    ] {
        fs::create_dir_all(q.join(d)).unwrap();
    }
    for b in ["qmail-local", "qmail-getpw"] {
        let exe = match b {
            "qmail-local" => env!("CARGO_BIN_EXE_qmail-local"),
            _ => env!("CARGO_BIN_EXE_qmail-getpw"),
        };
        symlink(exe, q.join("bin").join(b)).unwrap();
    }
    let home = q.join("home/joe");
    fs::set_permissions(&home, fs::Permissions::from_mode(0o755)).unwrap();
    fs::write(home.join(".qmail-bad"), "|echo oops; exit 100\n").unwrap();
    fs::write(home.join(".qmail-later"), "|echo not now; exit 111\n").unwrap();
    let uid = nix::unistd::geteuid().as_raw();
    let gid = nix::unistd::getegid().as_raw();
    let h = home.display();
    fs::write(
        q.join("users/assign"),
        format!("=joe:joe:{uid}:{gid}:{h}:::\n+joe-:joe:{uid}:{gid}:{h}:-::\n.\n"),
    )
    .unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_qmail-newu"))
        .env("QMAILRS_ROOT", root)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    fs::write(q.join("queue/mess/5/5"), b"Subject: t\n\nbody\n").unwrap();
    home
}

#[test]
fn lspawn_delivers_and_reports() {
    let root = tempfile::tempdir().unwrap();
    let home = setup(root.path());
    let mut child = Command::new(env!("CARGO_BIN_EXE_qmail-lspawn"))
        .arg("./Maildir/")
        .env("QMAILRS_ROOT", root.path())
        .env("QMAILRS_SINGLE_USER", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut cmds = Vec::new();
    for (n, rcpt) in [
        (0u8, "joe@example.org"),
        (1, "Joe-bad@example.org"),
        (2, "joe-later@example.org"),
        (3, "@example.org"),
        (4, "noat"),
        (5, "joe-nothere@example.org"),
    ] {
        cmds.push(n);
        cmds.extend_from_slice(b"5/5\0s@x\0");
        cmds.extend_from_slice(rcpt.as_bytes());
        cmds.push(0);
    }
    cmds.extend_from_slice(b"\x061/x\0s\0a@b\0");
    cmds.extend_from_slice(b"\x075/99\0s\0a@b\0");
    child.stdin.take().unwrap().write_all(&cmds).unwrap();
    let mut out = Vec::new();
    child.stdout.take().unwrap().read_to_end(&mut out).unwrap();
    assert!(child.wait().unwrap().success());
    assert_eq!(out[0], 120);
    let mut reports: Vec<(u8, String)> = Vec::new();
    let mut rest = &out[1..];
    while !rest.is_empty() {
        let end = 1 + rest[1..].iter().position(|&b| b == 0).unwrap();
        reports.push((rest[0], String::from_utf8_lossy(&rest[1..end]).into_owned()));
        rest = &rest[end + 1..];
    }
    reports.sort();
    assert_eq!(
        reports,
        vec![
            (0, "Kdid 1+0+0\n".to_string()),
            (1, "Doops\n".to_string()),
            (2, "Znot now\n".to_string()),
            (3, "K".to_string()),
            (
                4,
                "DSorry, address must include host name. (#5.1.3)\n".to_string()
            ),
            (
                5,
                "DSorry, no mailbox here by that name. (#5.1.1)\n".to_string()
            ),
            (
                6,
                "DInternal error: messid has nonnumerics. (#5.3.5)\n".to_string()
            ),
            (
                7,
                "Zqmail-spawn unable to open message. (#4.3.0)\n".to_string()
            ),
        ]
    );
    let new: Vec<_> = fs::read_dir(home.join("Maildir/new")).unwrap().collect();
    assert_eq!(new.len(), 1);
}

#[test]
fn newu_format_error() {
    let root = tempfile::tempdir().unwrap();
    fs::create_dir_all(root.path().join("var/qmail/users")).unwrap();
    fs::write(root.path().join("var/qmail/users/assign"), "=joe:joe\n.\n").unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_qmail-newu"))
        .env("QMAILRS_ROOT", root.path())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(111));
    assert_eq!(o.stderr, b"qmail-newu: fatal: bad format in users/assign\n");
    assert!(!root.path().join("var/qmail/users/cdb").exists());
}
