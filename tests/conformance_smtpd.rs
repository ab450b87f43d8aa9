//! Replay every recorded SMTP session (`conformance/qmail/transcripts/`)
//! against our qmail-smtpd, started per connection as a stdin/stdout child
//! the way the oracle's `tcpserver -H -R -l oracle.example` started it:
//! the control files each transcript header names, its env (or VARIANT
//! env), TCPREMOTEIP/TCPLOCALIP 127.0.0.1, TCPLOCALHOST oracle.example.
//!
//! Stubs stand in for the programs around it (`conformance/stubs/`):
//! `QMAILQUEUE` reads the message and envelope and exits 0, and the
//! checkpassword program accepts what the oracle's did
//! (`testuser@example.org` or `testuser` with `secret`; for CRAM-MD5 the
//! recorded digest, since the challenge differs per run). Cases listed in
//! `conformance/known-differences` may fail; every other case must pass.

use std::path::{Path, PathBuf};
use std::time::Duration;

use qmail::conformance::setup::{known_differences, tcp_env, write_controls};
use qmail::conformance::transcript::{self, Transcript};
use qmail::conformance::{self, replay, Options, Target, Verdict};

const SMTPD: &str = env!("CARGO_BIN_EXE_qmail-smtpd");

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The oracle configuration (README.md), as 01-greeting's header gives it;
/// used for transcripts whose header does not repeat it (15).
fn oracle_header() -> transcript::Header {
    let path = repo().join("conformance/qmail/transcripts/01-greeting.txt");
    transcript::parse(&std::fs::read_to_string(path).unwrap())
        .unwrap()
        .header
}

/// A root with the transcript's control files; the target to replay.
fn setup(t: &Transcript, dir: &Path) -> Target {
    let mut t = t.clone();
    if t.header.controls.is_empty() {
        t.header = oracle_header();
    }
    let control = dir.join("var/qmail/control");
    let cert = std::fs::read(repo().join("conformance/fixtures/servercert.pem")).unwrap();
    write_controls(&t.header, &control, &|name| {
        (name == "servercert.pem").then(|| cert.clone())
    })
    .unwrap();
    let queue = repo().join("conformance/stubs/qmail-queue");
    let checkpassword = repo().join("conformance/stubs/checkpassword");
    let mut env: Vec<(String, String)> = vec![
        ("QMAILRS_ROOT".into(), dir.display().to_string()),
        ("QMAILRS_SINGLE_USER".into(), "1".into()),
        ("QMAILQUEUE".into(), queue.display().to_string()),
    ];
    // What `tcpserver -H -R -l oracle.example 127.0.0.1 2525` set.
    env.extend(tcp_env(&t.header));
    assert!(env
        .iter()
        .any(|e| e == &("TCPLOCALHOST".into(), "oracle.example".into())));
    env.extend(t.header.env.iter().cloned());
    Target::Child {
        program: SMTPD.into(),
        args: vec![checkpassword.display().to_string(), "/bin/true".into()],
        env,
        clear_env: true,
    }
}

fn transcripts() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(repo().join("conformance/qmail/transcripts"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "txt"))
        .collect();
    v.sort();
    v
}

#[test]
fn recorded_smtp_sessions_replay_against_qmail_smtpd() {
    let known = known_differences(
        &std::fs::read_to_string(repo().join("conformance/known-differences")).unwrap(),
    )
    .unwrap();
    let opts = Options {
        timeout: Duration::from_secs(15),
        tls_name: "oracle.example".into(),
    };
    // One thread per transcript: AUTH failures sleep 5 s each, as the
    // original does.
    let handles: Vec<_> = transcripts()
        .into_iter()
        .map(|path| {
            let opts = opts.clone();
            std::thread::spawn(move || {
                let text = std::fs::read_to_string(&path).unwrap();
                let t = transcript::parse(&text).unwrap();
                let dir = tempfile::tempdir().unwrap();
                let target = setup(&t, dir.path());
                let v = replay(&t, &target, &opts);
                (conformance::case_name(&path), v)
            })
        })
        .collect();
    let mut failures = String::new();
    let mut ran = 0;
    for h in handles {
        let (case, verdict) = h.join().unwrap();
        ran += 1;
        let listed = known.iter().any(|k| k.case == case);
        match &verdict {
            Verdict::Pass => {}
            _ if listed => {}
            _ => failures.push_str(&conformance::report(&case, &verdict)),
        }
    }
    assert_eq!(ran, 23);
    assert!(failures.is_empty(), "unexpected differences:\n{failures}");
}

#[test]
fn greeting_helo_quit_pass_exactly() {
    // These must never be listed as known differences.
    let opts = Options {
        timeout: Duration::from_secs(10),
        tls_name: "oracle.example".into(),
    };
    for name in [
        "01-greeting",
        "02-helo",
        "03-ehlo",
        "11-rset-noop-vrfy-help-quit",
    ] {
        let path = repo().join(format!("conformance/qmail/transcripts/{name}.txt"));
        let t = transcript::parse(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let v = replay(&t, &setup(&t, dir.path()), &opts);
        assert!(v.passed(), "{}", conformance::report(name, &v));
    }
}
