//! qmail-tcpto and qmail-tcpok on a temporary root (`binaries.md`,
//! `remote.md` §6).

use std::process::Command;

fn run(bin: &str, root: &std::path::Path) -> (i32, String, String) {
    let out = Command::new(bin)
        .env("QMAILRS_ROOT", root)
        .env("QMAILRS_SINGLE_USER", "1")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn list_then_clear() {
    let d = tempfile::tempdir().unwrap();
    let lock = d.path().join("var/qmail/queue/lock");
    std::fs::create_dir_all(&lock).unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as u32;
    let mut t = vec![0u8; 1024];
    t[16..20].copy_from_slice(&[10, 0, 0, 7]);
    t[20] = 3;
    t[24..28].copy_from_slice(&(now - 5000).to_le_bytes());
    std::fs::write(lock.join("tcpto"), &t).unwrap();
    let (code, out, _) = run(env!("CARGO_BIN_EXE_qmail-tcpto"), d.path());
    assert_eq!(code, 0);
    let secs: u64 = out
        .strip_prefix("10.0.0.7 timed out ")
        .and_then(|r| r.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{out}"));
    assert!((5000..5010).contains(&secs), "{out}");
    assert!(
        out.ends_with(" seconds ago; # recent timeouts: 3\n"),
        "{out}"
    );
    assert_eq!(out.lines().count(), 1);

    let (code, _, err) = run(env!("CARGO_BIN_EXE_qmail-tcpok"), d.path());
    assert_eq!((code, err.as_str()), (0, ""));
    assert_eq!(std::fs::read(lock.join("tcpto")).unwrap(), vec![0u8; 1024]);
    let (code, out, _) = run(env!("CARGO_BIN_EXE_qmail-tcpto"), d.path());
    assert_eq!((code, out.as_str()), (0, ""));
}

#[test]
fn errors() {
    let d = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(d.path().join("var/qmail/queue/lock")).unwrap();
    let (code, out, _) = run(env!("CARGO_BIN_EXE_qmail-tcpto"), d.path());
    assert_eq!(
        (code, out.as_str()),
        (111, "fatal: unable to open tcpto: file does not exist\n")
    );
    let (code, _, err) = run(env!("CARGO_BIN_EXE_qmail-tcpok"), d.path());
    assert_eq!(code, 111);
    assert!(
        err.starts_with("qmail-tcpok: fatal: unable to write "),
        "{err}"
    );
    assert!(
        err.ends_with("/queue/lock/tcpto: file does not exist\n"),
        "{err}"
    );
    std::fs::remove_dir_all(d.path().join("var/qmail/queue")).unwrap();
    let (code, _, err) = run(env!("CARGO_BIN_EXE_qmail-tcpok"), d.path());
    assert_eq!(code, 111);
    assert!(err.ends_with("/queue/lock: file does not exist\n"), "{err}");
    let (code, out, _) = run(env!("CARGO_BIN_EXE_qmail-tcpto"), d.path());
    assert_eq!(
        (code, out.as_str()),
        (111, "fatal: unable to chdir: file does not exist\n")
    );
}
