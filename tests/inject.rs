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

/// What one mailsubj run did: exit code, stdout, stderr (with `dir`
/// replaced by `DIR`), and the queued message (masked) with its
/// recipients, if one was queued.
type Run = (Option<i32>, String, String, Option<(String, Vec<String>)>);

/// Environment, arguments and stdin of one mailsubj run.
type Case<'a> = (&'a [(&'a str, &'a str)], &'a [&'a str], &'a [u8]);

impl Host {
    /// Runs `prog` (a path, or a bare name looked up in `path`) and
    /// collects what it did; the queue is emptied again.
    fn observe(&self, prog: &Path, path: &Path, case: &Case, collect: bool) -> Run {
        let (env, args, input) = *case;
        let mut c = Command::new(prog);
        c.env_clear()
            .env("PATH", format!("{}:/usr/bin:/bin", path.display()))
            .env("QMAILRS_ROOT", &self.root)
            .env("QMAILRS_SINGLE_USER", "1")
            .envs(env.iter().copied())
            .args(args);
        let out = self.run(c, input);
        let dir = path.to_str().unwrap();
        let queued = (collect && !scan::todo_ids(&self.queue()).unwrap().is_empty()).then(|| {
            let (mess, env) = self.take();
            (mask(&mess), strs(&env.recipients))
        });
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).replace(dir, "DIR"),
            String::from_utf8_lossy(&out.stderr).replace(dir, "DIR"),
            queued,
        )
    }

    /// netqmail's installed script `name` (`src/sh/NAME.sh`, QMAIL = the
    /// qmail home) as `orig/NAME`, ours as `ours/NAME`; the two
    /// directories and the script's lines after warn-auto.sh's two.
    fn scripted(&self, name: &str) -> ([PathBuf; 2], Vec<String>) {
        let dirs = [self.root.join("orig"), self.root.join("ours")];
        for d in &dirs {
            fs::create_dir_all(d).unwrap();
        }
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("src/sh/{name}.sh"));
        let text = fs::read_to_string(src)
            .unwrap()
            .replace("QMAIL", self.home().to_str().unwrap());
        let script = dirs[0].join(name);
        fs::write(&script, &text).unwrap();
        fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        std::os::unix::fs::symlink(built().join(name), dirs[1].join(name)).unwrap();
        (dirs, text.lines().skip(2).map(String::from).collect())
    }

    /// Runs `name` from both directories, by path and by bare name (PATH
    /// lookup); each pair of runs must be the same. Ours, by path.
    fn same_as_script(&self, dirs: &[PathBuf; 2], name: &str, case: &Case, collect: bool) -> Run {
        for bare in [false, true] {
            let prog = |d: &Path| {
                if bare {
                    PathBuf::from(name)
                } else {
                    d.join(name)
                }
            };
            let want = self.observe(&prog(&dirs[0]), &dirs[0], case, collect);
            let got = self.observe(&prog(&dirs[1]), &dirs[1], case, collect);
            assert_eq!(got, want, "{name} {case:?} bare={bare}");
        }
        self.observe(&dirs[1].join(name), &dirs[1], case, collect)
    }
}

/// mailsubj behaves as netqmail's installed script (warn-auto.sh +
/// mailsubj.sh, QMAIL = the qmail home) run by /bin/sh: the same exit
/// code, stderr and queued bytes, for no subject, no recipients, several
/// recipients, echo's escapes, a body without a final newline,
/// qmail-inject's failures and a missing qmail-inject. See: issue 3.
#[test]
fn mailsubj_is_the_original_script() {
    let h = Host::new();
    let (dirs, lines) = h.scripted("mailsubj");
    // The recorded shape of netqmail's script, so an edit of ours shows.
    assert_eq!(
        lines,
        [
            "subject=\"$1\"",
            "shift",
            "( echo Subject: \"$subject\"",
            "  echo To: ${1+\"$@\"}",
            "  echo ''",
            "  cat",
            &format!(") | {}/bin/qmail-inject", h.home().display()),
        ]
    );
    let fail = h.root.join("fail-queue");
    fs::write(&fail, "#!/bin/sh\nexit 71\n").unwrap();
    fs::set_permissions(&fail, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let fail = fail.to_str().unwrap().to_string();

    let cases: &[Case] = &[
        (
            &[],
            &["hello there", "a@x.example", "b", "c d@e.example"],
            b"body\n",
        ),
        (&[], &["no recipients"], b"body\n"),
        (&[], &[], b"body\n"),
        (&[], &["", "a@x.example"], b""),
        (&[], &["tab\\there \\c", "a@x.example"], b"body\n"),
        (&[], &["-n", "-e", "a@x.example"], b"no final newline"),
        (
            &[],
            &["s", "a@x.example, b@y.example"],
            b"Cc: c@z.example\n\nbody\n",
        ),
        (&[("QMAILQUEUE", &fail)], &["s", "a@x.example"], b"body\n"),
        (&[("QMAILINJECT", "f")], &["s", "a@x.example"], b"body\n"),
    ];
    let both = |case: &Case| h.same_as_script(&dirs, "mailsubj", case, true);
    let runs: Vec<Run> = cases.iter().map(both).collect();
    // What the shell gives, checked once by hand as well.
    let several = &runs[0];
    assert_eq!(several.0, Some(0));
    let (mess, rcpts) = several.3.as_ref().unwrap();
    assert!(
        mess.contains("Subject: hello there\nTo: a@x.example, b@oracle.example, c@oracle.example, d@e.example\n"),
        "{mess}"
    );
    assert_eq!(rcpts.len(), 4, "{rcpts:?}");
    assert_eq!(runs[2].0, Some(2), "{:?}", runs[2]);
    assert_eq!(runs[2].2, "DIR/mailsubj: 4: shift: can't shift that many\n");
    assert!(runs[2].3.is_none());
    assert_ne!(runs[7].0, Some(0), "{:?}", runs[7]);
    // dash's echo (Debian's /bin/sh) expands \t and stops at \c.
    let escaped = &runs[4].3.as_ref().unwrap().0;
    if fs::read_link("/bin/sh").is_ok_and(|l| l.ends_with("dash")) {
        assert!(
            escaped.contains("Subject: tab\there To: a@x.example\n"),
            "{escaped}"
        );
    } else {
        assert!(escaped.contains("Subject: tab\\there \\c\n"), "{escaped}");
    }
    fs::remove_file(h.home().join("bin/qmail-inject")).unwrap();
    let missing = both(&(&[], &["s", "a@x.example"], b"body\n"));
    assert_eq!(missing.0, Some(127), "{missing:?}");
    assert!(
        missing.2.ends_with("/bin/qmail-inject: not found\n"),
        "{missing:?}"
    );
}

/// datemail and qmail-qstat behave as netqmail's installed scripts run by
/// /bin/sh: datemail execs predate sendmail (a missing predate is the
/// shell's `not found`, 127); qmail-qstat counts with find/wc/expr,
/// complaints and all when the queue is damaged. See: issue 3.
#[test]
fn datemail_and_qmail_qstat_are_the_original_scripts() {
    let h = Host::new();
    let (dirs, lines) = h.scripted("datemail");
    let bin = h.home().join("bin");
    assert_eq!(
        lines,
        [format!(
            "exec {0}/predate {0}/sendmail ${{1+\"$@\"}}",
            bin.display()
        )]
    );
    let cases: &[Case] = &[
        (&[], &["d@x.example"], b"Subject: dated\n\nb\n"),
        (&[], &["-t"], b"To: t@x.example\nSubject: t\n\nb\n"),
        (&[], &["-f", "s@x.example", "-i", "d@x.example"], b"b\n"),
        (&[], &["-bz"], b""),
    ];
    let runs: Vec<Run> = cases
        .iter()
        .map(|c| h.same_as_script(&dirs, "datemail", c, true))
        .collect();
    assert_eq!(runs[0].0, Some(0), "{:?}", runs[0]);
    let (mess, rcpts) = runs[0].3.as_ref().unwrap();
    assert_eq!(mess.matches("Date: DATE\n").count(), 1, "{mess}");
    assert_eq!(rcpts, &["d@x.example"]);
    fs::remove_file(bin.join("predate")).unwrap();
    let missing = h.same_as_script(&dirs, "datemail", &(&[], &["d@x.example"], b"b\n"), true);
    assert_eq!(missing.0, Some(127), "{missing:?}");
    assert!(missing.2.contains("predate: not found"), "{missing:?}");
    fs::remove_dir_all(&dirs[0]).unwrap();
    fs::remove_dir_all(&dirs[1]).unwrap();

    let (dirs, _) = h.scripted("qmail-qstat");
    let q = h.queue();
    fs::write(q.dir.join("mess/3/26"), b"x").unwrap();
    fs::write(q.dir.join("mess/4/27"), b"x").unwrap();
    fs::write(q.dir.join("todo/27"), b"x").unwrap();
    let qstat = |h: &Host| h.same_as_script(&dirs, "qmail-qstat", &(&[], &[], b""), false);
    let r = qstat(&h);
    assert_eq!(
        (r.0, r.1.as_str(), r.2.as_str()),
        (
            Some(0),
            "messages in queue: 2\nmessages in queue but not yet preprocessed: 1\n",
            ""
        )
    );
    fs::remove_dir_all(q.dir.join("todo")).unwrap();
    let r = qstat(&h);
    assert!(r.2.contains("find: "), "{r:?}");
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
