//! The conformance runner itself: every recorded transcript parses, and a
//! playback server (which answers with the recorded server lines) passes
//! every replayable one over TCP, with TLS where the recording has it; a
//! changed server line fails with a clear, line-exact diff; the child
//! (stdin/stdout) mode and the bin work.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use qmail::conformance::transcript::{self, Dialect, Event, Transcript};
use qmail::conformance::{self, replay, Options, Target, Verdict};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("conformance")
}

fn transcripts() -> Vec<PathBuf> {
    let mut v = Vec::new();
    for dir in ["qmail/transcripts", "dovecot/imap", "dovecot/pop3"] {
        for e in std::fs::read_dir(root().join(dir)).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "txt") {
                v.push(p);
            }
        }
    }
    v.sort();
    v
}

fn load(p: &Path) -> Transcript {
    transcript::parse(&std::fs::read_to_string(p).unwrap())
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn server_tls() -> Arc<rustls::ServerConfig> {
    let pem = std::fs::read(root().join("fixtures/servercert.pem")).unwrap();
    let certs = rustls_pemfile::certs(&mut &pem[..])
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    let key = rustls_pemfile::private_key(&mut &pem[..]).unwrap().unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Arc::new(
        rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .unwrap(),
    )
}

trait Rw: Read + Write + Send {}
impl<T: Read + Write + Send> Rw for T {}

/// Serve each section of `t` on one accepted connection, playing the
/// recorded server side; `edit` may change a server line (section, step
/// index, bytes).
fn playback(t: Transcript, edit: fn(usize, usize, &[u8]) -> Vec<u8>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let tls = server_tls();
    std::thread::spawn(move || {
        for (n, section) in t.sections.iter().enumerate() {
            let Ok((sock, _)) = listener.accept() else {
                return;
            };
            sock.set_read_timeout(Some(Duration::from_secs(10)))
                .unwrap();
            let mut s: Box<dyn Rw> = Box::new(sock);
            let mut out = Vec::new();
            for (i, step) in section.steps.iter().enumerate() {
                if let Event::Expect(line) = &step.event {
                    // Consecutive lines go out in one write.
                    out.extend_from_slice(&edit(n, i, line));
                    continue;
                }
                if !out.is_empty() {
                    if s.write_all(&out).and_then(|()| s.flush()).is_err() {
                        break;
                    }
                    out.clear();
                }
                match &step.event {
                    Event::Send(bytes) => {
                        let mut got = vec![0; bytes.len()];
                        if s.read_exact(&mut got).is_err() {
                            break;
                        }
                    }
                    Event::Closed => break,
                    Event::Tls => {
                        let conn = rustls::ServerConnection::new(tls.clone()).unwrap();
                        let inner = std::mem::replace(&mut s, Box::new(empty::EmptyRw));
                        s = Box::new(rustls::StreamOwned::new(conn, inner));
                    }
                    _ => {}
                }
            }
            if !out.is_empty() {
                let _ = s.write_all(&out).and_then(|()| s.flush());
            }
            drop(s);
        }
    });
    addr
}

/// `Read + Write` placeholder used while swapping streams.
mod empty {
    pub struct EmptyRw;
    impl std::io::Read for EmptyRw {
        fn read(&mut self, _: &mut [u8]) -> std::io::Result<usize> {
            Ok(0)
        }
    }
    impl std::io::Write for EmptyRw {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
}

fn opts() -> Options {
    Options {
        timeout: Duration::from_secs(5),
        tls_name: "oracle.example".into(),
    }
}

fn same(_: usize, _: usize, l: &[u8]) -> Vec<u8> {
    l.to_vec()
}

#[test]
fn every_transcript_parses() {
    let all = transcripts();
    let qmail = all
        .iter()
        .filter(|p| p.to_string_lossy().contains("/qmail/"))
        .count();
    assert_eq!(qmail, 23);
    assert_eq!(all.len() - qmail, 19);
    for p in &all {
        let t = load(p);
        assert!(!t.sections.is_empty(), "{}", p.display());
        let is_qmail = p.to_string_lossy().contains("/qmail/");
        assert_eq!(t.dialect == Dialect::Escaped, is_qmail, "{}", p.display());
        if is_qmail && !p.ends_with("15-bounce-trigger.txt") {
            let names: Vec<_> = t.header.controls.iter().map(|c| c.0.as_str()).collect();
            for want in [
                "me",
                "rcpthosts",
                "locals",
                "badmailfrom",
                "databytes",
                "servercert.pem",
                "validrcptto.cdb",
            ] {
                assert!(names.contains(&want), "{}: {want}", p.display());
            }
            assert!(t.header.variable_fields.is_some());
        }
    }
}

#[test]
fn playback_of_every_recording_passes() {
    let mut unsupported = Vec::new();
    for p in transcripts() {
        let t = load(&p);
        let addr = playback(t.clone(), same);
        match replay(&t, &Target::Tcp(addr), &opts()) {
            Verdict::Pass => {}
            Verdict::Unsupported(why) => unsupported.push(format!("{}: {why}", p.display())),
            Verdict::Fail(_) => panic!(
                "{}",
                conformance::report(
                    &conformance::case_name(&p),
                    &replay(&t, &Target::Tcp(playback(t.clone(), same)), &opts())
                )
            ),
        }
    }
    // Only the IDLE recordings need another party.
    assert_eq!(unsupported.len(), 1, "{unsupported:?}");
    assert!(unsupported[0].contains("12-idle.txt"));
}

#[test]
fn a_changed_line_fails_with_a_line_exact_diff() {
    let p = root().join("qmail/transcripts/02-helo.txt");
    let t = load(&p);
    fn edit(_: usize, i: usize, l: &[u8]) -> Vec<u8> {
        if i == 2 {
            b"250 other.example\r\n".to_vec()
        } else {
            l.to_vec()
        }
    }
    let v = replay(&t, &Target::Tcp(playback(t.clone(), edit)), &opts());
    let Verdict::Fail(diffs) = &v else {
        panic!("{v:?}")
    };
    assert_eq!(diffs.len(), 1, "{diffs:?}");
    assert_eq!(diffs[0].line, 15);
    let r = conformance::report("smtp/02-helo", &v);
    assert!(r.starts_with("FAIL smtp/02-helo\n"), "{r}");
    assert!(r.contains("smtp/02-helo:15 (connection 1):"), "{r}");
    assert!(r.contains("expected S: 250 oracle.example\\r\\n"), "{r}");
    assert!(r.contains("got      S: 250 other.example\\r\\n"), "{r}");
}

#[test]
fn variable_fields_are_masked_but_nothing_else() {
    let p = root().join("qmail/transcripts/04-happy-path.txt");
    let t = load(&p);
    fn qp(_: usize, _: usize, l: &[u8]) -> Vec<u8> {
        if l.starts_with(b"250 ok 1") {
            b"250 ok 1000000000 qp 1\r\n".to_vec()
        } else {
            l.to_vec()
        }
    }
    assert_eq!(
        replay(&t, &Target::Tcp(playback(t.clone(), qp)), &opts()),
        Verdict::Pass
    );
    fn crlf(_: usize, i: usize, l: &[u8]) -> Vec<u8> {
        if i == 0 {
            l.strip_suffix(b"\r\n")
                .map(|b| [b, b"\n"].concat())
                .unwrap()
        } else {
            l.to_vec()
        }
    }
    assert!(!replay(&t, &Target::Tcp(playback(t.clone(), crlf)), &opts()).passed());
}

#[test]
fn missing_close_and_silence_are_reported() {
    let t = transcript::parse("# x: \\r are escapes\nS: 220 x\\r\\n\nC: QUIT\\r\\n\nS: 221 x\\r\\n\n-- (server closed connection)\n").unwrap();
    let quick = Options {
        timeout: Duration::from_millis(300),
        ..opts()
    };
    // A server that answers the greeting and then says nothing, open.
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        let (mut s, _): (TcpStream, _) = l.accept().unwrap();
        s.write_all(b"220 x\r\n").unwrap();
        std::thread::sleep(Duration::from_secs(2));
    });
    let v = replay(&t, &Target::Tcp(addr), &quick);
    let r = conformance::report("t", &v);
    assert!(
        r.contains("expected S: 221 x\\r\\n\n    got      (no reply before timeout)"),
        "{r}"
    );
}

fn sh_stub(script: &str) -> Target {
    Target::Child {
        program: "/bin/sh".into(),
        args: vec!["-c".into(), script.into()],
        env: vec![("GREETING".into(), "oracle.example".into())],
        clear_env: true,
    }
}

#[test]
fn child_mode_passes_and_fails() {
    let t = load(&root().join("qmail/transcripts/01-greeting.txt"));
    let good = sh_stub(
        r#"printf '220 %s ESMTP\r\n' "$GREETING"; read l; printf '221 %s\r\n' "$GREETING""#,
    );
    assert_eq!(replay(&t, &good, &opts()), Verdict::Pass);
    let bad = sh_stub(r#"printf '220 %s ESMTP\r\n' "$GREETING"; read l; printf '221 bye\r\n'"#);
    let v = replay(&t, &bad, &opts());
    assert!(conformance::report("x", &v).contains("got      S: 221 bye\\r\\n"));
    let missing = Target::Child {
        program: "/nonexistent/program".into(),
        args: vec![],
        env: vec![],
        clear_env: false,
    };
    assert!(conformance::report("x", &replay(&t, &missing, &opts())).contains("cannot connect"));
}

#[test]
fn bin_exit_codes_and_known_differences() {
    let bin = env!("CARGO_BIN_EXE_qmailrs-conformance");
    let file = root().join("qmail/transcripts/01-greeting.txt");
    let run = |script: &str, extra: &[&str]| {
        let out = Command::new(bin)
            .args(extra)
            .args(["--timeout", "5", "--exec", "/bin/sh", "-c", script, "--"])
            .arg(&file)
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    let good = r"printf '220 oracle.example ESMTP\r\n'; read l; printf '221 oracle.example\r\n'";
    let bad = r"printf '220 oracle.example ESMTP\r\n'; read l; printf '221 nope\r\n'";
    assert_eq!(run(good, &[]), (Some(0), "PASS smtp/01-greeting\n".into()));
    let (code, out) = run(bad, &[]);
    assert_eq!(code, Some(1));
    assert!(out.starts_with("FAIL smtp/01-greeting\n"), "{out}");
    let dir = tempfile::tempdir().unwrap();
    let known = dir.path().join("known");
    std::fs::write(&known, "smtp/01-greeting  the stub says nope\n").unwrap();
    let (code, out) = run(bad, &["--known", known.to_str().unwrap()]);
    assert_eq!(
        (code, out.as_str()),
        (Some(0), "XFAIL smtp/01-greeting: the stub says nope\n")
    );
    // --write-control lays down the header's files.
    let ctl = dir.path().join("control");
    let st = Command::new(bin)
        .arg("--write-control")
        .arg(&ctl)
        .arg(&file)
        .status()
        .unwrap();
    assert!(st.success());
    assert_eq!(std::fs::read(ctl.join("me")).unwrap(), b"oracle.example\n");
    assert_eq!(std::fs::read(ctl.join("databytes")).unwrap(), b"20000\n");
    assert!(ctl.join("validrcptto.cdb").exists());
}
