//! `scripts/demo --check` lays down its unprivileged root, starts whatever
//! is built (probing the SMTP greeting when qmail-smtpd exists, and with
//! qmail-queue and qmail-send, delivering one message into the demo
//! Maildir and finding it again over POP3), stops and cleans up.

use std::path::{Path, PathBuf};
use std::process::Command;

fn run_check(extra: &[&str]) -> (bool, String) {
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let bins = Path::new(env!("CARGO_BIN_EXE_qmail-showctl"))
        .parent()
        .unwrap();
    let out = Command::new("timeout")
        .arg("120")
        .arg(repo.join("scripts/demo"))
        .arg("--check")
        .args(extra)
        .env("QMAILRS_BIN_DIR", bins)
        .output()
        .expect("run scripts/demo");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

fn root_of(text: &str) -> PathBuf {
    let line = text
        .lines()
        .find_map(|l| l.strip_prefix("demo: root "))
        .unwrap_or_else(|| panic!("no root line in:\n{text}"));
    PathBuf::from(line.split_whitespace().next().unwrap())
}

#[test]
fn check_mode_starts_and_cleans_up() {
    let (ok, text) = run_check(&[]);
    assert!(ok, "{text}");
    assert!(text.contains("demo: check ok"), "{text}");
    let root = root_of(&text);
    assert!(root.starts_with("/tmp"), "{text}");
    assert!(!root.exists(), "root {} left behind", root.display());
    let bins = Path::new(env!("CARGO_BIN_EXE_qmail-showctl"))
        .parent()
        .unwrap();
    if bins.join("qmail-smtpd").exists() {
        assert!(text.contains("demo: greeting: 220 "), "{text}");
        // With the queue and qmail-send, one message goes all the way.
        if bins.join("qmail-queue").exists() && bins.join("qmail-send").exists() {
            assert!(text.contains("demo: delivered: Maildir/new/"), "{text}");
            // ... and is found again over POP3 (qmail-popup + qmail-pop3d).
            if bins.join("qmail-popup").exists() {
                assert!(text.contains("demo: pop3: 1 message"), "{text}");
            }
        }
    } else {
        assert!(text.contains("qmail-smtpd not built yet"), "{text}");
    }
}

#[test]
fn check_mode_lays_down_the_root() {
    let (ok, text) = run_check(&["--keep"]);
    let root = root_of(&text);
    let q = root.join("var/qmail");
    let result = std::panic::catch_unwind(|| {
        assert!(ok, "{text}");
        assert_eq!(std::fs::read(q.join("control/me")).unwrap(), b"localhost\n");
        assert_eq!(
            std::fs::read(q.join("control/rcpthosts")).unwrap(),
            b"localhost\n"
        );
        use std::os::unix::fs::FileTypeExt;
        let trigger = std::fs::metadata(q.join("queue/lock/trigger")).unwrap();
        assert!(trigger.file_type().is_fifo());
        assert_eq!(
            std::fs::metadata(q.join("queue/lock/tcpto")).unwrap().len(),
            1024
        );
        for d in [
            "mess/22",
            "info/0",
            "local/11",
            "remote/22",
            "intd",
            "todo",
            "bounce",
            "pid",
        ] {
            assert!(q.join("queue").join(d).is_dir(), "queue/{d}");
        }
        assert!(q.join("bin/qmail-showctl").exists());
        assert!(root.join("home/demo/Maildir/new").is_dir());
        // The laid-down root is usable: showctl reads it.
        let out = Command::new(q.join("bin/qmail-showctl"))
            .env("QMAILRS_ROOT", &root)
            .env("QMAILRS_SINGLE_USER", "1")
            .output()
            .unwrap();
        assert!(String::from_utf8_lossy(&out.stdout).contains("\nme: My name is localhost.\n"));
    });
    std::fs::remove_dir_all(&root).ok();
    if let Err(e) = result {
        std::panic::resume_unwind(e);
    }
}
