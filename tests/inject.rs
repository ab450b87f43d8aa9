//! qmail-inject, sendmail, predate, datemail and mailsubj end to end,
//! through our qmail-queue into a temporary queue. See: issue 3.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use proptest::prelude::*;
use qmail::queue::layout::Layout;
use qmail::queue::scan;

struct Host {
    _dir: tempfile::TempDir,
    root: PathBuf,
}

fn built() -> PathBuf {
    Path::new(env!("CARGO_BIN_EXE_qmail-inject"))
        .parent()
        .unwrap()
        .to_path_buf()
}

impl Host {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_path_buf();
        let home = root.join("var/qmail");
        qmail::hier::install(&home).unwrap();
        qmail::hier::link_programs(&home, &built()).unwrap();
        for (f, v) in [
            ("me", "oracle.example"),
            ("defaultdomain", "oracle.example"),
            ("plusdomain", "oracle.example"),
        ] {
            fs::write(home.join("control").join(f), format!("{v}\n")).unwrap();
        }
        Host { _dir: dir, root }
    }
    fn home(&self) -> PathBuf {
        self.root.join("var/qmail")
    }
    fn queue(&self) -> Layout {
        Layout::at(self.home().join("queue"))
    }
    fn cmd(&self, prog: &str) -> Command {
        let mut c = Command::new(built().join(prog));
        c.env_clear()
            .env("PATH", "/usr/bin:/bin")
            .env("QMAILRS_ROOT", &self.root)
            .env("QMAILRS_SINGLE_USER", "1");
        c
    }
    fn run(&self, mut c: Command, input: &[u8]) -> Output {
        let mut child = c
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        let _ = stdin.write_all(input);
        drop(stdin);
        child.wait_with_output().unwrap()
    }
    /// The one queued message: its bytes after the Received line, and
    /// its envelope. Removes it from the queue.
    fn take(&self) -> (Vec<u8>, qmail::envelope::Envelope) {
        let q = self.queue();
        let ids = scan::todo_ids(&q).unwrap();
        assert_eq!(ids.len(), 1, "one message queued");
        let id = ids[0];
        let mess = fs::read(q.mess(id)).unwrap();
        let nl = mess.iter().position(|&b| b == b'\n').unwrap();
        assert!(mess.starts_with(b"Received: (qmail "));
        let env = scan::read_todo(&q, id).unwrap().envelope;
        for p in [q.todo(id), q.intd(id), q.mess(id)] {
            fs::remove_file(p).unwrap();
        }
        (mess[nl + 1..].to_vec(), env)
    }
}

/// Replace the generated Date and Message-ID values.
fn mask(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes)
        .lines()
        .map(|l| {
            if l.starts_with("Date: ") {
                "Date: DATE".to_string()
            } else if let Some(rest) = l.strip_prefix("Message-ID: <") {
                let host = rest.split('@').nth(1).unwrap_or("");
                format!("Message-ID: <STAMP.PID.qmail@{host}")
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn strs(v: &[Vec<u8>]) -> Vec<String> {
    v.iter()
        .map(|r| String::from_utf8_lossy(r).into_owned())
        .collect()
}

#[test]
fn recorded_qmail_inject_delivery() {
    let h = Host::new();
    let mut c = h.cmd("qmail-inject");
    c.arg("-fsender");
    let out = h.run(
        c,
        b"To: testuser@example.org\nSubject: via qmail-inject\n\ninjected body\n",
    );
    assert!(out.status.success(), "{out:?}");
    let (mess, env) = h.take();
    let eml = fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("testdata/queue/maildir-delivered-qmail-inject.eml"),
    )
    .unwrap();
    let pos = eml.windows(6).position(|w| w == b"Date: ").unwrap();
    assert_eq!(mask(&mess), mask(&eml[pos..]));
    assert_eq!(env.sender, b"sender@oracle.example");
    assert_eq!(strs(&env.recipients), ["testuser@example.org"]);
}

#[test]
fn print_mode_and_environment() {
    let h = Host::new();
    let mut c = h.cmd("qmail-inject");
    c.arg("-n")
        .env("QMAILUSER", "joe")
        .env("QMAILNAME", "Joe Q")
        .env("QMAILHOST", "h.example")
        .env("QMAILSUSER", "bounces")
        .env("QMAILIDHOST", "id.example");
    let out = h.run(c, b"To: a\n\nbody");
    assert!(out.status.success(), "{out:?}");
    let text = mask(&out.stdout);
    assert_eq!(
        text,
        "Return-Path: <bounces@h.example>\nDate: DATE\nMessage-ID: <STAMP.PID.qmail@id.example>\nFrom: \"Joe Q\" <joe@h.example>\nTo: a@oracle.example\n\nbody"
    );
    assert!(out.stdout.ends_with(b"body\n"), "LF added to the last line");
    assert!(scan::todo_ids(&h.queue()).unwrap().is_empty());
}

#[test]
fn usage_and_parse_errors() {
    let h = Host::new();
    let mut c = h.cmd("qmail-inject");
    c.arg("-z");
    let out = h.run(c, b"");
    assert_eq!(out.status.code(), Some(100));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "qmail-inject: illegal option -- z\n"
    );
    let out = h.run(h.cmd("qmail-inject"), b"To: (open\n\n");
    assert_eq!(out.status.code(), Some(100));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "qmail-inject: fatal: unable to parse this line:\nTo: (open\n"
    );
    let mut c = h.cmd("qmail-inject");
    c.env("QMAILRS_ROOT", h.root.join("nowhere"));
    let out = h.run(c, b"\n");
    assert_eq!(out.status.code(), Some(111));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "qmail-inject: fatal: internal bug\n"
    );
    assert!(scan::todo_ids(&h.queue()).unwrap().is_empty());
}

#[test]
fn zero_recipients_still_queue() {
    let h = Host::new();
    let out = h.run(h.cmd("qmail-inject"), b"Subject: nobody\n\nx\n");
    assert!(out.status.success());
    let (mess, env) = h.take();
    assert!(env.recipients.is_empty());
    assert!(String::from_utf8_lossy(&mess).contains("Cc: recipient list not shown: ;\n"));
}

#[test]
fn sendmail_options() {
    let h = Host::new();
    // -t: header recipients and arguments; -f sets the sender and the From.
    let mut c = h.cmd("sendmail");
    c.args([
        "-t",
        "-i",
        "-oem",
        "-v",
        "-F",
        "Lost Name",
        "-f",
        "me@my.example",
        "extra",
    ]);
    let out = h.run(c, b"To: t@x.example\nBcc: b\n\nhi\n");
    assert!(out.status.success(), "{out:?}");
    let (mess, env) = h.take();
    assert_eq!(env.sender, b"me@my.example");
    assert_eq!(
        strs(&env.recipients),
        ["extra@oracle.example", "t@x.example", "b@oracle.example"]
    );
    let text = String::from_utf8_lossy(&mess);
    assert!(text.contains("From: me@my.example\n"), "{text}");
    assert!(!text.contains("Bcc"));
    // Without -t only the arguments; -F names the sender.
    let mut c = h.cmd("sendmail");
    c.args(["-F", "Ann", "r@x.example"]).env("USER", "ann");
    assert!(h.run(c, b"To: ignored@x.example\n\nhi\n").status.success());
    let (mess, env) = h.take();
    assert_eq!(strs(&env.recipients), ["r@x.example"]);
    assert!(String::from_utf8_lossy(&mess).contains("From: \"Ann\" <ann@oracle.example>\n"));
    // Unknown options and -b letters.
    for bad in [&["-q"][..], &["-bz"][..]] {
        let mut c = h.cmd("sendmail");
        c.args(bad);
        let out = h.run(c, b"");
        assert_eq!(out.status.code(), Some(100), "{bad:?}");
        assert!(String::from_utf8_lossy(&out.stderr).ends_with(
            "sendmail: usage: sendmail [ -t ] [ -fsender ] [ -Fname ] [ -bp ] [ -bs ] [ arg ... ]\n"
        ));
    }
    // -bp runs qmail-qread.
    let mut c = h.cmd("sendmail");
    c.arg("-bp");
    let out = h.run(c, b"");
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    // Named newaliases it refuses.
    let link = h.root.join("newaliases");
    std::os::unix::fs::symlink(built().join("sendmail"), &link).unwrap();
    let mut c = Command::new(&link);
    c.env("QMAILRS_ROOT", &h.root);
    let out = h.run(c, b"");
    assert_eq!(out.status.code(), Some(100));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "sendmail: fatal: please use fastforward/newaliases instead\n"
    );
}
#[test]
fn predate_datemail_mailsubj() {
    let h = Host::new();
    let mut c = h.cmd("predate");
    c.args(["cat"]).env("TZ", "EST5");
    let out = h.run(c, b"rest\n");
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let (first, rest) = text.split_once('\n').unwrap();
    assert_eq!(rest, "rest\n");
    assert!(
        first.starts_with("Date: ") && first.ends_with(" -0500"),
        "{first}"
    );
    let parts: Vec<&str> = first.split(' ').collect();
    assert_eq!(parts.len(), 6);
    assert!(!parts[1].starts_with('0') && parts[4].len() == 8);
    let mut c = h.cmd("predate");
    c.args(["sh", "-c", "exit 7"]);
    assert_eq!(h.run(c, b"").status.code(), Some(7));
    let out = h.run(h.cmd("predate"), b"");
    assert_eq!(out.status.code(), Some(100));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "predate: usage: predate child\n"
    );

    let mut c = h.cmd("datemail");
    c.arg("d@x.example").env("TZ", "UTC");
    let out = h.run(c, b"Subject: dated\n\nb\n");
    assert!(out.status.success(), "{out:?}");
    let (mess, env) = h.take();
    assert_eq!(strs(&env.recipients), ["d@x.example"]);
    let text = String::from_utf8_lossy(&mess);
    let dates: Vec<&str> = text.lines().filter(|l| l.starts_with("Date: ")).collect();
    assert_eq!(dates.len(), 1, "{text}");
    assert!(dates[0].ends_with(" +0000"), "{text}");

    let mut c = h.cmd("mailsubj");
    c.args(["hello there", "a@x.example", "b"]);
    let out = h.run(c, b"body\n");
    assert!(out.status.success(), "{out:?}");
    let (mess, env) = h.take();
    assert_eq!(strs(&env.recipients), ["b@oracle.example", "a@x.example"]);
    let text = String::from_utf8_lossy(&mess);
    assert!(
        text.contains("Subject: hello there\nTo: a@x.example, b@oracle.example\n\nbody\n"),
        "{text}"
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    /// A message whose header is already complete comes back byte for
    /// byte after the Received line.
    #[test]
    fn inject_then_read_returns_the_message(
        subject in "[ -~]{0,60}",
        body in proptest::collection::vec(proptest::collection::vec(any::<u8>().prop_filter("no LF", |b| *b != b'\n'), 0..80), 0..20),
    ) {
        let h = Host::new();
        let mut msg = format!(
            "Date: 1 Jan 2020 00:00:00 -0000\nMessage-ID: <x@y>\nFrom: a@b.example\nTo: c@d.example\nSubject: {subject}\n\n"
        ).into_bytes();
        for line in &body {
            msg.extend_from_slice(line);
            msg.push(b'\n');
        }
        let out = h.run(h.cmd("qmail-inject"), &msg);
        prop_assert!(out.status.success());
        let (mess, env) = h.take();
        prop_assert_eq!(mess, msg);
        prop_assert_eq!(strs(&env.recipients), ["c@d.example"]);
    }
}
