//! Replays every recorded qmail-smtpd transcript
//! (`conformance/qmail/transcripts/`, copied from the oracle recordings)
//! against our qmail-smtpd, byte for byte; variable fields (`250 ok TIME
//! qp PID`, the CRAM-MD5 challenge) are masked. Messages the session
//! queued are compared with the recorded queue and Maildir bytes.

mod smtpd_common;

use std::path::{Path, PathBuf};

use qmail::auth::{base64, hmac};
use smtpd_common::{parse_json, Client, Host, Json};

fn conformance() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("conformance/qmail")
}

/// One client write, one expected server line, or a note.
#[derive(Debug, Clone)]
enum Ev {
    C(Vec<u8>),
    S(Vec<u8>),
    Note(String),
}

fn json_events(t: &Json) -> Vec<Ev> {
    let Json::Arr(evs) = t.get("events") else {
        panic!("events")
    };
    evs.iter()
        .filter_map(|e| {
            let d = e.get("data").bytes().to_vec();
            match e.get("dir").bytes() {
                b"C" => Some(Ev::C(d)),
                b"S" => Some(Ev::S(d)),
                b"NOTE" => Some(Ev::Note(String::from_utf8_lossy(&d).into_owned())),
                _ => None,
            }
        })
        .collect()
}

fn unescape(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 1 < b.len() {
            match b[i + 1] {
                b'r' => out.push(b'\r'),
                b'n' => out.push(b'\n'),
                b't' => out.push(b'\t'),
                b'\\' => out.push(b'\\'),
                b'x' => {
                    out.push(u8::from_str_radix(&s[i + 2..i + 4], 16).unwrap());
                    i += 2;
                }
                o => out.push(o),
            }
            i += 2;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    out
}

/// The `.txt` form, for transcripts that are not in transcripts.json.
fn txt_events(text: &str) -> Vec<Ev> {
    let mut evs = Vec::new();
    let mut group: Option<Vec<u8>> = None;
    for line in text.lines() {
        if let Some(c) = line.strip_prefix("C: ") {
            match &mut group {
                Some(g) => g.extend(unescape(c)),
                None => evs.push(Ev::C(unescape(c))),
            }
            continue;
        }
        if let Some(g) = group.take() {
            evs.push(Ev::C(g));
        }
        if let Some(s) = line.strip_prefix("S: ") {
            evs.push(Ev::S(unescape(s)));
        } else if let Some(n) = line.strip_prefix("-- ") {
            if n.starts_with("client write of") {
                group = Some(Vec::new());
            } else {
                evs.push(Ev::Note(n.to_string()));
            }
        }
    }
    if let Some(g) = group.take() {
        evs.push(Ev::C(g));
    }
    evs
}

fn is_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// A decoded CRAM-MD5 challenge `<PID.TIME@oracle.example>`, if `line`
/// is one.
fn challenge(line: &[u8]) -> Option<Vec<u8>> {
    let b64 = line.strip_prefix(b"334 ")?.strip_suffix(b"\r\n")?;
    let c = base64::decode(b64).ok()?;
    let s = std::str::from_utf8(&c).ok()?;
    let inner = s.strip_prefix('<')?.strip_suffix("@oracle.example>")?;
    let (pid, time) = inner.split_once('.')?;
    (is_digits(pid) && is_digits(time)).then_some(c)
}

/// Compare one server line, masking the variable fields.
fn same_line(expected: &[u8], got: &[u8]) -> bool {
    if expected == got {
        return true;
    }
    let e = String::from_utf8_lossy(expected);
    let g = String::from_utf8_lossy(got);
    let accepted = |s: &str| {
        let Some(rest) = s
            .strip_prefix("250 ok ")
            .and_then(|r| r.strip_suffix("\r\n"))
        else {
            return false;
        };
        let parts: Vec<&str> = rest.split(' ').collect();
        parts.len() == 3 && is_digits(parts[0]) && parts[1] == "qp" && is_digits(parts[2])
    };
    if accepted(&e) && accepted(&g) {
        return true;
    }
    challenge(expected).is_some() && challenge(got).is_some()
}

struct Outcome {
    challenge: Option<Vec<u8>>,
}

fn expect(name: &str, client: &mut Client, lines: &mut Vec<Vec<u8>>, o: &mut Outcome) {
    for want in lines.drain(..) {
        let got = client.line();
        assert!(
            same_line(&want, &got),
            "{name}: expected {:?}, got {:?}",
            String::from_utf8_lossy(&want),
            String::from_utf8_lossy(&got)
        );
        if let Some(c) = challenge(&got) {
            o.challenge = Some(c);
        }
    }
}

/// The client's CRAM-MD5 answer, recomputed for our challenge.
fn cram_answer(data: &[u8], chal: &[u8]) -> Option<Vec<u8>> {
    let d = base64::decode(data.strip_suffix(b"\r\n")?).ok()?;
    let s = String::from_utf8(d).ok()?;
    let (user, digest) = s.rsplit_once(' ')?;
    (digest.len() == 32).then(|| {
        let ans = format!("{user} {}", hmac::hex(&hmac::hmac_md5(b"secret", chal)));
        format!("{}\r\n", base64::encode(ans.as_bytes())).into_bytes()
    })
}

/// Replay one session; returns the host (for its queue) and the stderr.
fn replay(name: &str, events: &[Ev], env: &[(&str, &str)]) -> (Host, Vec<u8>) {
    let host = Host::oracle();
    let (child, sock) = host.spawn(env);
    let mut client = Client::Plain(sock);
    let mut pending: Vec<Vec<u8>> = Vec::new();
    let mut o = Outcome { challenge: None };
    let mut closed = false;
    for ev in events {
        match ev {
            Ev::S(l) => pending.push(l.clone()),
            Ev::C(data) => {
                expect(name, &mut client, &mut pending, &mut o);
                if closed {
                    continue;
                }
                let data = match o.challenge.take() {
                    Some(c) => cram_answer(data, &c).unwrap_or_else(|| data.clone()),
                    None => data.clone(),
                };
                client.send(&data);
            }
            Ev::Note(n) if n.starts_with("TLS handshake done") => {
                expect(name, &mut client, &mut pending, &mut o);
                client
                    .start_tls()
                    .unwrap_or_else(|e| panic!("{name}: handshake: {e}"));
            }
            Ev::Note(n) if n.starts_with("(server closed connection)") => {
                expect(name, &mut client, &mut pending, &mut o);
                assert!(client.at_eof(), "{name}: server did not close");
                closed = true;
            }
            Ev::Note(_) => {}
        }
    }
    expect(name, &mut client, &mut pending, &mut o);
    drop(client);
    let out = child.wait_with_output().unwrap();
    (host, out.stderr)
}

/// Environment of the recording: the default instance, or the variant's.
fn instance_env(t: &Json) -> Vec<(String, String)> {
    match t.get("variant_env") {
        Json::Obj(m) => m
            .iter()
            .map(|(k, v)| (k.clone(), String::from_utf8_lossy(v.bytes()).into_owned()))
            .collect(),
        _ => vec![
            ("SMTPAUTH".into(), String::new()),
            ("FORCETLS".into(), "0".into()),
        ],
    }
}

/// A stored message with its varying dates cut, for comparison.
fn mask_dates(msg: &[u8]) -> String {
    String::from_utf8_lossy(msg)
        .lines()
        .map(|l| match l.rfind("; ") {
            Some(i) if l.ends_with(" -0000") => format!("{}; DATE", &l[..i]),
            _ => l.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The message qmail-smtpd handed to qmail-queue, from a delivered file.
fn from_maildir(eml: &str) -> String {
    let kept: Vec<&str> = eml
        .lines()
        .filter(|l| {
            !l.starts_with("Return-Path:")
                && !l.starts_with("Delivered-To:")
                && !l.starts_with("Received: (qmail")
        })
        .collect();
    mask_dates(kept.join("\n").as_bytes())
}

fn check_queue(name: &str, host: &Host) {
    let q = host.queued();
    let eml = match name {
        "13-starttls" => "maildir-received-starttls.eml",
        "14b-auth-login-interactive" => "maildir-received-auth.eml",
        "14e-auth-after-starttls" => "maildir-received-starttls-auth.eml",
        "04-happy-path" => {
            let files =
                std::fs::read_to_string(conformance().join("delivery/queue-files.txt")).unwrap();
            let mess: Vec<&str> = files
                .lines()
                .skip_while(|l| !l.starts_with("# ---- mess/"))
                .skip(2)
                .take_while(|l| !l.starts_with("# ----"))
                .filter(|l| !l.is_empty())
                .map(|l| l.strip_suffix("\\n").unwrap_or(l))
                .collect();
            assert_eq!(q.len(), 1, "{name}: one message queued");
            assert_eq!(mask_dates(&q[0].1), mask_dates(mess.join("\n").as_bytes()));
            assert_eq!(
                q[0].2,
                b"Fsender@remote.example\0Ttestuser@example.org\0Tpostmaster@example.org\0\0"
            );
            return;
        }
        "09-bare-lf-data" | "08-databytes" => {
            assert!(q.is_empty(), "{name}: nothing may be queued");
            return;
        }
        _ => return,
    };
    let text = std::fs::read_to_string(conformance().join("delivery").join(eml)).unwrap();
    assert_eq!(q.len(), 1, "{name}: one message queued");
    assert_eq!(
        mask_dates(&q[0].1),
        from_maildir(&text),
        "{name}: queued bytes"
    );
}

#[test]
fn every_recorded_transcript() {
    let dir = conformance().join("transcripts");
    let json = parse_json(&std::fs::read(dir.join("transcripts.json")).unwrap());
    let Json::Obj(all) = &json else {
        panic!("json")
    };
    let mut names: Vec<String> = all.keys().cloned().collect();
    let mut txt_only = Vec::new();
    for e in std::fs::read_dir(&dir).unwrap() {
        let p = e.unwrap().path();
        let stem = p.file_stem().unwrap().to_string_lossy().into_owned();
        if p.extension().is_some_and(|x| x == "txt") && !all.contains_key(&stem) {
            txt_only.push(stem);
        }
    }
    assert!(names.len() >= 22);
    names.extend(txt_only.iter().cloned());
    // Sessions are independent: run them on a few threads.
    let names = std::sync::Mutex::new(names);
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| loop {
                let Some(name) = names.lock().unwrap().pop() else {
                    return;
                };
                let (events, env) = match all.get(&name) {
                    Some(t) => (json_events(t), instance_env(t)),
                    None => {
                        let text =
                            std::fs::read_to_string(dir.join(format!("{name}.txt"))).unwrap();
                        (
                            txt_events(&text),
                            vec![
                                ("SMTPAUTH".into(), String::new()),
                                ("FORCETLS".into(), "0".into()),
                            ],
                        )
                    }
                };
                let env: Vec<(&str, &str)> =
                    env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
                let (host, stderr) = replay(&name, &events, &env);
                check_queue(&name, &host);
                if name == "06b-validrcptto-limit" {
                    let log = String::from_utf8_lossy(&stderr);
                    assert_eq!(log.lines().count(), 10, "{log}");
                    assert!(log.ends_with(
                        "qmail-smtpd: validrcptto [127.0.0.1] not found: bad10@example.org\n"
                    ));
                }
            });
        }
    });
}
