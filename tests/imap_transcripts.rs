//! The recorded Dovecot IMAP sessions (`conformance/dovecot/imap/`),
//! post-login part, replayed against our `imap` binary run
//! preauthenticated on a copy of the Maildir snapshot each recording
//! started from (`testdata/dovecot/alice/NN-*`, mtimes from the
//! MANIFEST). Each section's greeting and `L1 LOGIN` exchange become our
//! `* PREAUTH` line; Dovecot's post-login capability list is replaced by
//! ours (we advertise only what we implement: known difference
//! `program:imap`). Every other server line must match byte for byte
//! after the runner's masking.
//!
//! The transcripts in [`PASS`] must pass; 12-idle and its session B,
//! which need outside changes between the lines, are driven by their own
//! tests below; the report of the others is printed (`cargo test --test imap_transcripts -- --nocapture`) and each
//! of them has a `known-differences` line.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, UNIX_EPOCH};

use qmail::conformance::transcript::{self, Event, Step, Transcript};
use qmail::conformance::{replay, report, Options, Target, Verdict};
use qmail::imap::{CAPABILITY, DOVECOT_CAPABILITY};

fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// (transcript, snapshot it started from).
const CASES: [(&str, &str); 10] = [
    ("04-list-namespace", "00-initial"),
    ("05-select-examine", "01-after-login-and-list"),
    ("06-fetch", "02-after-select"),
    ("07-search", "03-after-fetch-search"),
    ("08-store-flags-keywords", "03-after-fetch-search"),
    ("09-copy-move-expunge", "04-after-store"),
    ("10-append", "05-after-copy-move-expunge"),
    ("11-mailbox-management", "06-after-append"),
    // 12-idle: see idle_with_outside_changes.
    // 13 and 14 ran after 12, whose end state has no snapshot: 08 is the
    // state after 14; 13 changed three messages' flags (see pre_13).
    ("13-errors", "08-after-idle-errors-misc"),
    ("14-misc-extensions", "08-after-idle-errors-misc"),
];

/// Transcripts that pass completely.
const PASS: [&str; 7] = [
    "04-list-namespace",
    "06-fetch",
    "07-search",
    "08-store-flags-keywords",
    "09-copy-move-expunge",
    "10-append",
    "13-errors",
];

/// Copy a snapshot into `dst` with the MANIFEST's empty directories and
/// mtimes.
pub fn restore(snapshot: &str, dst: &Path) {
    let base = manifest_dir().join("testdata/dovecot/alice");
    copy_tree(&base.join(snapshot), dst);
    let manifest = fs::read_to_string(base.join(format!("{snapshot}.MANIFEST.txt"))).unwrap();
    for line in manifest.lines().filter(|l| !l.starts_with('#')) {
        let mut f = line.split('\t');
        let path = f.next().unwrap_or("");
        let rest: Vec<&str> = f.collect();
        if let Some(dir) = path.strip_suffix('/') {
            fs::create_dir_all(dst.join(dir)).unwrap();
            continue;
        }
        let p = dst.join(path);
        let Some(mtime) = rest.iter().find_map(|x| x.strip_prefix("mtime=")) else {
            continue;
        };
        if p.is_file() {
            let t = UNIX_EPOCH + Duration::from_secs(mtime.parse().unwrap());
            fs::File::options()
                .append(true)
                .open(&p)
                .unwrap()
                .set_modified(t)
                .unwrap();
        }
    }
}

fn copy_tree(src: &Path, dst: &Path) {
    fs::create_dir_all(dst).unwrap();
    for e in fs::read_dir(src).unwrap() {
        let e = e.unwrap();
        let to = dst.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_tree(&e.path(), &to);
        } else {
            fs::copy(e.path(), &to).unwrap();
        }
    }
}

fn is_login_send(e: &Event) -> bool {
    matches!(e, Event::Send(b) if b.starts_with(b"L1 LOGIN "))
}

/// Each section: greeting + LOGIN exchange → our PREAUTH greeting;
/// Dovecot's capability list → ours.
pub fn post_login(mut t: Transcript) -> Transcript {
    let preauth = format!("* PREAUTH [CAPABILITY {CAPABILITY}] Logged in as alice\r\n");
    for s in &mut t.sections {
        let mut steps: Vec<Step> = Vec::new();
        let old = std::mem::take(&mut s.steps);
        let mut it = old.into_iter().peekable();
        let mut greeted = false;
        while let Some(step) = it.next() {
            match &step.event {
                Event::Expect(l) if !greeted && l.starts_with(b"* OK [CAPABILITY") => {
                    greeted = true;
                    steps.push(Step {
                        line: step.line,
                        event: Event::Expect(preauth.clone().into_bytes()),
                    });
                }
                e if is_login_send(e) => {
                    // Drop the LOGIN and its tagged reply.
                    if let Some(Step {
                        event: Event::Expect(_),
                        ..
                    }) = it.peek()
                    {
                        it.next();
                    }
                }
                // No CONDSTORE, so no HIGHESTMODSEQ (known difference).
                Event::Expect(l) if l.starts_with(b"* OK [HIGHESTMODSEQ ") => {}
                Event::Expect(l) => {
                    let text = String::from_utf8_lossy(l).replace(DOVECOT_CAPABILITY, CAPABILITY);
                    steps.push(Step {
                        line: step.line,
                        event: Event::Expect(text.into_bytes()),
                    });
                }
                _ => steps.push(step),
            }
        }
        s.steps = steps;
    }
    t
}

/// The flags before imap/13: UID 2 was \\Seen (13 clears it), UIDs 6 and
/// 7 unseen (13's BODY[1.2.3] fetch sets \\Seen).
fn pre_13(cur: &Path) {
    for (from, to) in [
        (
            "1700000002.2002.mail.example.org:2,",
            "1700000002.2002.mail.example.org:2,S",
        ),
        (
            "1795607948.M923753P16130.mail.example.org,S=178,W=185:2,S",
            "1795607948.M923753P16130.mail.example.org,S=178,W=185:2,",
        ),
        (
            "1795607948.M926424P16130.mail.example.org,S=178,W=185:2,FSd",
            "1795607948.M926424P16130.mail.example.org,S=178,W=185:2,Fd",
        ),
    ] {
        fs::rename(cur.join(from), cur.join(to)).unwrap();
    }
}

/// Each line as compared: masked, and for 10-append the INTERNALDATE of
/// a message APPENDed without a date, which is the time of the run (the
/// recording's `25-Nov-2026 11:59:08 +0000`, ours within the last
/// minutes), as `<now>` (a variable field of the README).
fn normalised(line: &[u8], recording: bool) -> String {
    let text = String::from_utf8_lossy(&qmail::conformance::mask::mask(line)).into_owned();
    let Some(at) = text.find("INTERNALDATE \"") else {
        return text;
    };
    let start = at + "INTERNALDATE \"".len();
    let Some(len) = text[start..].find('"') else {
        return text;
    };
    let date = &text[start..start + len];
    let now = std::time::SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let run_time = if recording {
        date == "25-Nov-2026 11:59:08 +0000"
    } else {
        qmail::imap::copy::parse_datetime(date).is_some_and(|t| (now - t).abs() < 600)
    };
    if run_time {
        format!("{}<now>{}", &text[..start], &text[start + len..])
    } else {
        text
    }
}

/// Replay `t` step by step on one connection per greeting (a `# ---`
/// part without one goes on in the same connection), doing each outside
/// action with `act`; the first difference is the error.
fn drive(t: &Transcript, target: &Target, act: &mut dyn FnMut(&str)) -> Result<(), String> {
    use qmail::conformance::conn::{Conn, Read1};
    let mut conn: Option<Conn> = None;
    for section in &t.sections {
        let greets = matches!(section.steps.first(), Some(Step { event: Event::Expect(l), .. }) if l.starts_with(b"* PREAUTH"));
        if greets || conn.is_none() {
            conn = Some(Conn::open(target, Duration::from_secs(5)).map_err(|e| e.to_string())?);
        }
        let Some(conn) = conn.as_mut() else {
            return Err("no connection".into());
        };
        for step in &section.steps {
            match &step.event {
                Event::Send(bytes) => conn.send(bytes).map_err(|e| e.to_string())?,
                Event::External(note) => act(note),
                Event::Expect(want) => match conn.recv_line() {
                    Read1::Line(got) => {
                        let (g, w) = (normalised(&got, false), normalised(want, true));
                        if g != w {
                            return Err(format!(
                                "line {}:\n  expected {w:?}\n  got      {g:?}",
                                step.line
                            ));
                        }
                    }
                    other => return Err(format!("line {}: {other:?}", step.line)),
                },
                Event::Closed => match conn.recv_line() {
                    Read1::Eof(rest) if rest.is_empty() => {}
                    other => {
                        return Err(format!("line {}: expected the end, {other:?}", step.line))
                    }
                },
                _ => {}
            }
        }
    }
    Ok(())
}

fn run_case(name: &str, snapshot: &str) -> Verdict {
    let text =
        fs::read_to_string(manifest_dir().join(format!("conformance/dovecot/imap/{name}.txt")))
            .unwrap();
    let t = post_login(transcript::parse(&text).unwrap());
    let home = tempfile::tempdir().unwrap();
    restore(snapshot, &home.path().join("Maildir"));
    if name == "13-errors" {
        pre_13(&home.path().join("Maildir/cur"));
    }
    let target = Target::Child {
        program: env!("CARGO_BIN_EXE_imap").to_string(),
        args: vec![],
        env: vec![
            ("USER".into(), "alice".into()),
            ("HOME".into(), home.path().display().to_string()),
            ("TZ".into(), "UTC".into()),
        ],
        clear_env: true,
    };
    if name == "10-append" {
        return match drive(&t, &target, &mut |_| {}) {
            Ok(()) => Verdict::Pass,
            Err(e) => Verdict::Unsupported(format!("(driven) {e}")),
        };
    }
    let opts = Options {
        timeout: Duration::from_secs(2),
        ..Options::default()
    };
    replay(&t, &target, &opts)
}

#[test]
fn recorded_sessions() {
    let mut failed = Vec::new();
    for (name, snap) in CASES {
        let v = run_case(name, snap);
        print!("{}", report(&format!("imap/{name}"), &v));
        if PASS.contains(&name) && !v.passed() {
            failed.push(name);
        }
    }
    assert!(failed.is_empty(), "regressed: {failed:?}");
}

/// imap/12-idle-sessionB, session B of 12-idle, byte for byte: the
/// delivery session A took (in cur/, not recent for B) is in place, and
/// the two outside changes of 12-idle happen where they did, between
/// B's commands: the flag rename before b4 (B's silent STORE then reports
/// the flags that changed under it), the unlink before b6 (B's APPEND
/// reports the expunge with its own EXISTS and RECENT).
#[test]
fn session_b_of_idle() {
    use qmail::conformance::conn::{Conn, Read1};
    use qmail::conformance::mask::mask;
    let text =
        fs::read_to_string(manifest_dir().join("conformance/dovecot/imap/12-idle-sessionB.txt"))
            .unwrap();
    let mut text = text.replace("C: b1 LOGIN alice alicepw\n", "C: L1 LOGIN alice alicepw\n");
    text = text.replacen("S: b1 OK [CAPABILITY", "S: L1 OK [CAPABILITY", 1);
    let t = post_login(transcript::parse(&text).unwrap());
    let home = tempfile::tempdir().unwrap();
    let md = home.path().join("Maildir");
    restore("07-after-mailbox-management", &md);
    let delivered = "1795607949.M123456P7001.mail.example.org";
    fs::write(
        md.join("cur").join(format!("{delivered}:2,")),
        "Subject: delivered during IDLE\n\nhi\n",
    )
    .unwrap();
    let target = Target::Child {
        program: env!("CARGO_BIN_EXE_imap").to_string(),
        args: vec![],
        env: vec![
            ("USER".into(), "alice".into()),
            ("HOME".into(), home.path().display().to_string()),
            ("TZ".into(), "UTC".into()),
        ],
        clear_env: true,
    };
    let mut conn = Conn::open(&target, Duration::from_secs(5)).unwrap();
    for step in &t.sections[0].steps {
        match &step.event {
            Event::Send(b) => {
                if b.starts_with(b"b4 ") {
                    fs::rename(
                        md.join("cur/1700000004.2004.mail.example.org:2,S"),
                        md.join("cur/1700000004.2004.mail.example.org:2,FS"),
                    )
                    .unwrap();
                }
                if b.starts_with(b"b6 ") {
                    fs::remove_file(md.join("cur").join(format!("{delivered}:2,"))).unwrap();
                }
                conn.send(b).unwrap();
            }
            Event::Expect(want) => match conn.recv_line() {
                Read1::Line(got) => assert_eq!(
                    String::from_utf8_lossy(&mask(&got)),
                    String::from_utf8_lossy(&mask(want)),
                    "line {}",
                    step.line
                ),
                other => panic!("line {}: {other:?}", step.line),
            },
            _ => {}
        }
    }
}

/// One outside action of imap/12-idle: a `# [ext]` change of the Maildir
/// or a `# [B]` step of session B (a second `imap`).
fn act(note: &str, md: &Path, b: &mut Option<qmail::conformance::conn::Conn>, target: &Target) {
    use qmail::conformance::conn::{Conn, Read1};
    let delivered = "1795607949.M123456P7001.mail.example.org";
    let until = |c: &mut Conn, tag: &str| loop {
        match c.recv_line() {
            Read1::Line(l) if l.starts_with(tag.as_bytes()) => return,
            Read1::Line(_) => {}
            other => panic!("session B: {other:?}"),
        }
    };
    if note.contains("qmail-style delivery") {
        let tmp = md.join("tmp").join(delivered);
        fs::write(&tmp, "Subject: delivered during IDLE\n\nhi\n").unwrap();
        fs::rename(&tmp, md.join("new").join(delivered)).unwrap();
    } else if note.contains("renamed cur/1700000004") {
        fs::rename(
            md.join("cur/1700000004.2004.mail.example.org:2,S"),
            md.join("cur/1700000004.2004.mail.example.org:2,FS"),
        )
        .unwrap();
    } else if note.contains("deleted cur/") {
        fs::remove_file(md.join("cur").join(format!("{delivered}:2,"))).unwrap();
    } else if note.contains("b1 LOGIN") {
        let mut c = Conn::open(target, Duration::from_secs(5)).unwrap();
        until(&mut c, "* PREAUTH");
        c.send(b"b2 SELECT INBOX\r\n").unwrap();
        until(&mut c, "b2 ");
        *b = Some(c);
    } else {
        let c = b.as_mut().expect("session B");
        if note.contains("b3 STORE") {
            c.send(b"b3 STORE 1 +FLAGS (\\Flagged)\r\n").unwrap();
            until(c, "b3 ");
        } else if note.contains("b4 STORE") {
            c.send(b"b4 STORE 2 +FLAGS.SILENT (\\Deleted)\r\nb5 EXPUNGE\r\n")
                .unwrap();
            until(c, "b5 ");
        } else if note.contains("b6 APPEND") {
            c.send(b"b6 APPEND INBOX (\\Seen) {33}\r\n").unwrap();
            until(c, "+ OK");
            c.send(b"Subject: appended by B\r\n\r\nhello\r\n\r\n")
                .unwrap();
            until(c, "b6 ");
        } else {
            panic!("unknown action {note}");
        }
    }
}

/// imap/12-idle byte for byte: session A's IDLE pushes what the
/// delivery, session B's STORE/EXPUNGE/APPEND and the outside rename and
/// unlink change, each done where the recording has it.
#[test]
fn idle_with_outside_changes() {
    let text =
        fs::read_to_string(manifest_dir().join("conformance/dovecot/imap/12-idle.txt")).unwrap();
    let t = post_login(transcript::parse(&text).unwrap());
    let home = tempfile::tempdir().unwrap();
    let md = home.path().join("Maildir");
    restore("07-after-mailbox-management", &md);
    let target = Target::Child {
        program: env!("CARGO_BIN_EXE_imap").to_string(),
        args: vec![],
        env: vec![
            ("USER".into(), "alice".into()),
            ("HOME".into(), home.path().display().to_string()),
            ("TZ".into(), "UTC".into()),
        ],
        clear_env: true,
    };
    let mut b = None;
    let res = drive(&t, &target, &mut |note| act(note, &md, &mut b, &target));
    if let Err(e) = res {
        panic!("{e}");
    }
}
