//! What the Dovecot POP3 tests share: copies of the recorded maildir
//! snapshots, handed to the mail user.

#![allow(dead_code)] // each test file uses its own subset

use std::path::{Path, PathBuf};

/// Copy a snapshot tree; files become 0644 (the fixtures' modes vary with
/// the checkout).
pub fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let t = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_tree(&e.path(), &t);
        } else {
            std::fs::copy(e.path(), &t).unwrap();
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&t, std::fs::Permissions::from_mode(0o644)).unwrap();
        }
    }
}

/// Give a tree to `uid:gid` (a no-op where chown is not permitted, as for
/// an ordinary user giving files to itself).
pub fn chown_tree(p: &Path, uid: u32, gid: u32) {
    let _ = nix::unistd::chown(
        p,
        Some(nix::unistd::Uid::from_raw(uid)),
        Some(nix::unistd::Gid::from_raw(gid)),
    );
    if p.is_dir() {
        for e in std::fs::read_dir(p).unwrap() {
            chown_tree(&e.unwrap().path(), uid, gid);
        }
    }
}

/// A loopback port free at the moment of asking.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The repository (testdata/, conformance/).
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Who owns the mail: nobody as root (Dovecot refuses root), else ourselves.
pub fn mail_ids() -> (u32, u32) {
    if nix::unistd::geteuid().is_root() {
        let u = nix::unistd::User::from_name("nobody")
            .unwrap()
            .expect("user nobody");
        (u.uid.as_raw(), u.gid.as_raw())
    } else {
        (
            nix::unistd::getuid().as_raw(),
            nix::unistd::getgid().as_raw(),
        )
    }
}

/// PEM blocks of the fixture: (certificates, key).
pub fn cert_and_key() -> (String, String) {
    let pem = std::fs::read_to_string(repo().join("conformance/fixtures/servercert.pem")).unwrap();
    let (mut certs, mut key) = (String::new(), String::new());
    let mut cur = String::new();
    for l in pem.lines() {
        cur.push_str(l);
        cur.push('\n');
        if l.starts_with("-----END ") {
            if l.contains("CERTIFICATE") {
                certs.push_str(&cur)
            } else {
                key.push_str(&cur)
            }
            cur.clear();
        }
    }
    (certs, key)
}

/// A login program (`bin`, `-c conf`) on pipes with one of its timeout
/// variables (`QMAILRS_IMAP_LOGIN_TIMEOUT`, `QMAILRS_IMAP_IDLE_TIMEOUT`)
/// at 1 second, `input` already written; the child and its stdin.
#[allow(dead_code)]
pub fn login_with_short_timeout(
    bin: &str,
    conf: &Path,
    timeout_var: &str,
    input: &[u8],
) -> (std::process::Child, std::process::ChildStdin) {
    use std::io::Write;
    use std::process::Stdio;
    let mut child = std::process::Command::new(bin)
        .arg("-c")
        .arg(conf)
        .env_clear()
        .envs([
            ("TCPLOCALIP", "127.0.0.1"),
            ("TCPREMOTEIP", "127.0.0.1"),
            (timeout_var, "1"),
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut w = child.stdin.take().unwrap();
    w.write_all(input).unwrap();
    (child, w)
}

/// Everything `child` writes on stdout until it closes it.
#[allow(dead_code)]
pub fn stdout_to_end(child: &mut std::process::Child) -> String {
    use std::io::Read;
    let mut out = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    out
}
