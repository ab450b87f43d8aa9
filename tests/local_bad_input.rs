//! qmail-local on bad input and hostile conditions (issue 4): a real full
//! disk (tmpfs in a private mount namespace) under a Maildir and an mbox,
//! unwritable mailboxes and `.qmail` files, an mbox locked by someone
//! else, `/` and `..` in the extension, hanging programs and every exit
//! code. Each case gets netqmail's exit code and text, and the message is
//! not lost: it is delivered once the condition is gone.
//! See: issue 4. The plain syntax cases are in `tests/local.rs`
//! (`bad_input_messages`) and `src/dotqmail/tests.rs`.

mod tmpfs_support;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use tmpfs_support::{enter, owner_of, run_as, Tmpfs};

const HEAD: &[u8] = b"From: a@b\nSubject: big\n\n";

/// A message of about `n` bytes, with From_ lines to quote.
fn message(n: usize) -> Vec<u8> {
    let mut m = HEAD.to_vec();
    let mut i = 0;
    while m.len() < n {
        m.extend_from_slice(format!("From line {i} of the body\n").as_bytes());
        i += 1;
    }
    m
}

/// A home directory (0755) and a directory for the message file.
struct Home {
    home: PathBuf,
    msgdir: tempfile::TempDir,
}

impl Home {
    fn at(home: &Path) -> Home {
        fs::create_dir_all(home).unwrap();
        fs::set_permissions(home, fs::Permissions::from_mode(0o755)).unwrap();
        Home {
            home: home.to_path_buf(),
            msgdir: tempfile::tempdir().unwrap(),
        }
    }
    fn qmail(&self, name: &str, text: &str) {
        let p = self.home.join(name);
        fs::write(&p, text).unwrap();
        fs::set_permissions(&p, fs::Permissions::from_mode(0o644)).unwrap();
    }
    fn maildir(&self, name: &str) -> PathBuf {
        let d = self.home.join(name);
        for s in ["tmp", "new", "cur"] {
            fs::create_dir_all(d.join(s)).unwrap();
        }
        d
    }
    /// qmail-local for `joe-EXT@example.org` with `msg` on fd 0.
    fn command(&self, ext: &str, msg: &[u8]) -> Command {
        let f = self.msgdir.path().join("msg");
        fs::write(&f, msg).unwrap();
        let mut c = Command::new(env!("CARGO_BIN_EXE_qmail-local"));
        c.arg("--")
            .arg("joe")
            .arg(&self.home)
            .arg(format!("joe-{ext}"))
            .args(["-", ext, "example.org", "s@x", "./Mailbox"])
            .env_remove("QMAILQUEUE")
            .env_remove("DEFAULT")
            .stdin(fs::File::open(&f).unwrap())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        c
    }
    fn run(&self, ext: &str, msg: &[u8]) -> Output {
        self.command(ext, msg).output().unwrap()
    }
}

/// An mbox entry after its From_ line: Return-Path, Delivered-To, the
/// message with `>*From ` lines quoted, one blank line.
fn mbox_entry_body(local: &str, msg: &[u8]) -> Vec<u8> {
    let mut v = format!("Return-Path: <s@x>\nDelivered-To: {local}@example.org\n").into_bytes();
    for line in msg.split_inclusive(|&b| b == b'\n') {
        if line.starts_with(b"From ") {
            v.push(b'>');
        }
        v.extend_from_slice(line);
    }
    v.push(b'\n');
    v
}

/// (exit code, stdout, stderr).
fn res(o: &Output) -> (i32, String, String) {
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

fn ok(o: &Output, did: &str) {
    assert_eq!(res(o), (0, format!("{did}\n"), String::new()));
}

fn entries(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<_> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    v.sort();
    v
}

/// netqmail: the maildir child's write fails with ENOSPC, it unlinks
/// tmp/NAME and exits 1: "Temporary error on maildir delivery." (111).
#[test]
fn maildir_on_a_full_disk_defers_and_leaves_nothing() {
    if !enter("maildir_on_a_full_disk_defers_and_leaves_nothing") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let fs_ = Tmpfs::mount(&dir.path().join("home"), "size=512k,mode=0755");
    let h = Home::at(&fs_.path);
    let md = h.maildir("Maildir");
    h.qmail(".qmail-md", "./Maildir/\n");
    let msg = message(200_000);
    fs_.fill(16384);
    let o = h.run("md", &msg);
    assert_eq!(
        res(&o),
        (
            111,
            String::new(),
            "Temporary error on maildir delivery. (#4.3.0)\n".into()
        )
    );
    assert_eq!(entries(&md.join("new")), Vec::<PathBuf>::new());
    assert_eq!(entries(&md.join("tmp")), Vec::<PathBuf>::new());
    // The retry after the disk has room delivers the whole message.
    fs_.unfill();
    let o = h.run("md", &msg);
    ok(&o, "did 1+0+0");
    let new = entries(&md.join("new"));
    assert_eq!(new.len(), 1);
    let mut want = b"Return-Path: <s@x>\nDelivered-To: joe-md@example.org\n".to_vec();
    want.extend_from_slice(&msg);
    assert_eq!(fs::read(&new[0]).unwrap(), want);
    assert_eq!(entries(&md.join("tmp")), Vec::<PathBuf>::new());
}

/// netqmail `mailfile`: a write error prints "Unable to write FN: ERR.",
/// ftruncates the (locked) mbox back to where the entry began, exits 111.
#[test]
fn mbox_on_a_full_disk_is_truncated_back() {
    if !enter("mbox_on_a_full_disk_is_truncated_back") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let fs_ = Tmpfs::mount(&dir.path().join("home"), "size=512k,mode=0755");
    let h = Home::at(&fs_.path);
    h.qmail(".qmail-mb", "./Mailbox\n");
    let old = [
        b"From old@x Thu Jan 01 00:00:00 1970\n".to_vec(),
        vec![b'o'; 5000],
        b"\n\n".to_vec(),
    ]
    .concat();
    fs::write(h.home.join("Mailbox"), &old).unwrap();
    let msg = message(200_000);
    fs_.fill(8192);
    let o = h.run("mb", &msg);
    assert_eq!(
        res(&o),
        (
            111,
            String::new(),
            "Unable to write ./Mailbox: out of disk space. (#4.3.0)\n".into()
        )
    );
    assert_eq!(
        fs::read(h.home.join("Mailbox")).unwrap(),
        old,
        "truncated back"
    );
    fs_.unfill();
    let o = h.run("mb", &msg);
    ok(&o, "did 1+0+0");
    let mbox = fs::read(h.home.join("Mailbox")).unwrap();
    assert!(mbox.starts_with(&old));
    let entry = &mbox[old.len()..];
    let from_end = entry.iter().position(|&b| b == b'\n').unwrap() + 1;
    assert!(entry.starts_with(b"From s@x "));
    assert_eq!(&entry[from_end..], mbox_entry_body("joe-mb", &msg));
}

/// Permissions the mailbox owner cannot get past. netqmail: the maildir
/// child cannot create tmp/NAME (exit 1) or cannot chdir (EACCES is not
/// temporary: exit 2); an mbox or `.qmail` that cannot be opened.
#[test]
fn unwritable_mailboxes_and_unreadable_qmail() {
    let top = tempfile::tempdir().unwrap();
    let h = Home::at(&top.path().join("home"));
    let md = h.maildir("Maildir");
    h.qmail(".qmail-md", "./Maildir/\n");
    h.qmail(".qmail-mb", "./Mailbox\n");
    h.qmail(".qmail-q", "./Maildir/\n");
    fs::write(h.home.join("Mailbox"), b"").unwrap();
    let who = owner_of(top.path());
    let msg = message(1000);
    let run = |ext: &str| {
        let mut c = h.command(ext, &msg);
        run_as(&mut c, who);
        res(&c.output().unwrap())
    };
    let mode = |p: &Path, m: u32| fs::set_permissions(p, fs::Permissions::from_mode(m)).unwrap();
    let fail = |s: &str| (111, String::new(), format!("{s}\n"));

    mode(&md.join("tmp"), 0o500);
    assert_eq!(
        run("md"),
        fail("Temporary error on maildir delivery. (#4.3.0)")
    );
    mode(&md.join("new"), 0o500);
    mode(&md.join("tmp"), 0o700);
    assert_eq!(
        run("md"),
        fail("Temporary error on maildir delivery. (#4.3.0)")
    );
    assert_eq!(
        entries(&md.join("tmp")),
        Vec::<PathBuf>::new(),
        "tmp file removed"
    );
    mode(&md.join("new"), 0o700);
    mode(&md, 0o000);
    assert_eq!(run("md"), fail("Unable to chdir to maildir. (#4.2.1)"));
    mode(&md, 0o700);
    assert_eq!(run("md"), (0, "did 1+0+0\n".into(), String::new()));
    assert_eq!(entries(&md.join("new")).len(), 1);

    mode(&h.home.join("Mailbox"), 0o400);
    assert_eq!(
        run("mb"),
        fail("Unable to open ./Mailbox: access denied. (#4.2.1)")
    );
    mode(&h.home.join("Mailbox"), 0o600);
    assert_eq!(run("mb"), (0, "did 1+0+0\n".into(), String::new()));

    mode(&h.home.join(".qmail-q"), 0o000);
    assert_eq!(
        run("q"),
        fail("Unable to open .qmail-q: access denied. (#4.3.0)")
    );
    mode(&h.home.join(".qmail-q"), 0o644);
    assert_eq!(run("q"), (0, "did 1+0+0\n".into(), String::new()));
    assert_eq!(entries(&md.join("new")).len(), 2);
}

fn alive(c: &mut Child) -> bool {
    c.try_wait().unwrap().is_none()
}

/// netqmail takes `lock_ex` (flock) under a 30-second alarm: delivery
/// waits while someone else holds the lock and appends once it is
/// released. (Past 30 s: "File has been locked for 30 seconds straight.
/// (#4.3.0)", 111; not waited for here.)
#[test]
fn locked_mbox_waits_for_the_lock() {
    use nix::fcntl::{Flock, FlockArg};
    let top = tempfile::tempdir().unwrap();
    let h = Home::at(&top.path().join("home"));
    h.qmail(".qmail-mb", "./Mailbox\n");
    let old = b"From old@x Thu Jan 01 00:00:00 1970\nold\n\n".to_vec();
    fs::write(h.home.join("Mailbox"), &old).unwrap();
    let f = fs::OpenOptions::new()
        .append(true)
        .open(h.home.join("Mailbox"))
        .unwrap();
    let lock = Flock::lock(f, FlockArg::LockExclusive).unwrap();
    let msg = message(3000);
    let mut child = h.command("mb", &msg).spawn().unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    assert!(alive(&mut child), "qmail-local waits for the lock");
    assert_eq!(fs::read(h.home.join("Mailbox")).unwrap(), old);
    drop(lock);
    let o = child.wait_with_output().unwrap();
    ok(&o, "did 1+0+0");
    let mbox = fs::read(h.home.join("Mailbox")).unwrap();
    assert!(mbox.starts_with(&old));
    let entry = &mbox[old.len()..];
    let from_end = entry.iter().position(|&b| b == b'\n').unwrap() + 1;
    assert!(entry.starts_with(b"From s@x "));
    assert_eq!(&entry[from_end..], mbox_entry_body("joe-mb", &msg));
}

/// `/` and `..` in the extension: `.` becomes `:` in the file name and a
/// `/` only reaches into a directory under home, as in netqmail (which
/// opens `.qmail-` + dash + safeext as given). Nothing outside home is
/// touched; a `-default` file gets the raw extension in `$DEFAULT`.
#[test]
fn slash_and_dotdot_in_the_extension() {
    let top = tempfile::tempdir().unwrap();
    let h = Home::at(&top.path().join("home"));
    // A file the traversal would reach if `..` were honoured.
    fs::write(top.path().join(".qmail-x"), "|echo escaped > escaped\n").unwrap();
    let o = h.run("../x", b"m\n");
    assert_eq!(
        res(&o),
        (
            100,
            String::new(),
            "Sorry, no mailbox here by that name. (#5.1.1)\n".into()
        )
    );
    h.qmail(".qmail-default", "|printf %s \"$DEFAULT\" > default.out\n");
    for ext in ["../x", "a/../../x", "..", "/etc/passwd"] {
        let o = h.run(ext, b"m\n");
        ok(&o, "did 0+0+1");
        assert_eq!(fs::read_to_string(h.home.join("default.out")).unwrap(), ext);
    }
    assert!(!top.path().join("escaped").exists());
    assert!(!h.home.join("escaped").exists());
    // A directory under home is entered, as netqmail's open() would.
    fs::create_dir(h.home.join(".qmail-sub")).unwrap();
    h.qmail(".qmail-sub/box", "|echo sub > sub.out\n");
    ok(&h.run("sub/box", b"m\n"), "did 0+0+1");
    assert_eq!(fs::read_to_string(h.home.join("sub.out")).unwrap(), "sub\n");
}

/// netqmail `mailprogram`: 0 continue, 99 stop, 64 65 70 76 77 78 100
/// 112 bounce (100), every other code defers (111); all 256 codes.
#[test]
fn every_program_exit_code() {
    let top = tempfile::tempdir().unwrap();
    let h = Home::at(&top.path().join("home"));
    for code in 0..=255 {
        h.qmail(".qmail-p", &format!("|exit {code}\n"));
        let want = match code {
            0 | 99 => 0,
            64 | 65 | 70 | 76 | 77 | 78 | 100 | 112 => 100,
            _ => 111,
        };
        let o = h.run("p", b"m\n");
        let out = if want == 0 { "did 0+0+1\n" } else { "" };
        assert_eq!(res(&o), (want, out.into(), String::new()), "exit {code}");
    }
}

/// netqmail has no timeout on a delivery program: qmail-local waits as
/// long as it runs (qmail-send keeps the other deliveries going; see
/// `tests/send.rs`, `hanging_delivery_does_not_block_others`).
#[test]
fn hanging_program_is_waited_for() {
    let top = tempfile::tempdir().unwrap();
    let h = Home::at(&top.path().join("home"));
    h.qmail(
        ".qmail-hang",
        "|while [ ! -e release ]; do sleep 0.05; done; echo released\n./Mailbox\n",
    );
    let mut child = h.command("hang", b"Subject: x\n\nbody\n").spawn().unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    assert!(alive(&mut child), "still waiting for the program");
    assert!(!h.home.join("Mailbox").exists(), "later lines wait");
    fs::write(h.home.join("release"), b"").unwrap();
    let o = child.wait_with_output().unwrap();
    assert_eq!(res(&o), (0, "released\ndid 1+0+1\n".into(), String::new()));
}

/// A forward into a full queue (our qmail-queue on a full tmpfs): netqmail
/// prints qmail-queue's 53 text, "Unable to forward message: qq write
/// error or disk full (#4.3.0).", and exits 111; the retry is queued.
#[test]
fn forward_into_a_full_queue_defers() {
    if !enter("forward_into_a_full_queue_defers") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let qmail = dir.path().join("var/qmail");
    let q = qmail.join("queue");
    let fs_ = Tmpfs::mount(&q, "size=512k,mode=0750");
    qmail::hier::install(&qmail).unwrap();
    std::os::unix::fs::symlink(
        env!("CARGO_BIN_EXE_qmail-queue"),
        qmail.join("bin/qmail-queue"),
    )
    .unwrap();
    let h = Home::at(&dir.path().join("home"));
    h.qmail(".qmail-fw", "other@far.example\n");
    let msg = message(100_000);
    fs_.fill(8192);
    let run = || {
        let mut c = h.command("fw", &msg);
        c.env("QMAILRS_ROOT", dir.path());
        c.output().unwrap()
    };
    assert_eq!(
        res(&run()),
        (
            111,
            String::new(),
            "Unable to forward message: qq write error or disk full (#4.3.0).\n".into()
        )
    );
    let layout = qmail::queue::layout::Layout::at(&q);
    assert!(qmail::queue::scan::todo_ids(&layout).unwrap().is_empty());
    assert!(qmail::queue::scan::ids(&layout, "mess").unwrap().is_empty());
    fs_.unfill();
    let (code, out, err) = res(&run());
    assert_eq!((code, err.as_str()), (0, ""));
    assert!(out.starts_with("did 0+1+0\nqp "), "{out}");
    let ids = qmail::queue::scan::todo_ids(&layout).unwrap();
    assert_eq!(ids.len(), 1);
    let mut want = b"Delivered-To: joe-fw@example.org\n".to_vec();
    want.extend_from_slice(&msg);
    assert!(fs::read(layout.mess(ids[0])).unwrap().ends_with(&want));
}
