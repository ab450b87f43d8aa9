//! qmail-queue on a real full disk (tmpfs in a private mount namespace:
//! out of blocks, out of inodes), qmail-smtpd's reply when the queue is
//! full, and queue directories with wrong permissions. Each gets the exit
//! code of netqmail's table, one `qmail-queue: fatal:` line on stderr,
//! and leaves nothing in the queue (netqmail cleans up after 53 and 54
//! itself and leaves the 63–66 leftovers to qmail-send's cleanup; we
//! remove them at once). See: issue 3. The envelope cases (cut short, no
//! recipients, NUL in an address, no final newline) are in
//! `tests/queue.rs`.

mod smtpd_common;
mod tmpfs_support;

use std::fs;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use qmail::queue::layout::Layout;
use qmail::queue::scan;
use tmpfs_support::{enter, owner_of, run_as, Tmpfs};

/// Every file in the queue's message directories, relative.
fn files(queue: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for d in ["pid", "intd", "todo", "bounce"] {
        for e in fs::read_dir(queue.join(d)).unwrap() {
            out.push(format!("{d}/{}", e.unwrap().file_name().to_string_lossy()));
        }
    }
    for d in ["mess", "info", "local", "remote"] {
        for i in 0..23 {
            for e in fs::read_dir(queue.join(format!("{d}/{i}"))).unwrap() {
                out.push(format!(
                    "{d}/{i}/{}",
                    e.unwrap().file_name().to_string_lossy()
                ));
            }
        }
    }
    out.sort();
    out
}

/// qmail-queue under `root` with `message` on fd 0 and `envelope` on fd 1.
fn queue(root: &Path, who: Option<(u32, u32)>, message: &[u8], envelope: &[u8]) -> Output {
    let envfile = tempfile::NamedTempFile::new().unwrap();
    fs::write(envfile.path(), envelope).unwrap();
    let mut c = Command::new(env!("CARGO_BIN_EXE_qmail-queue"));
    c.env("QMAILRS_ROOT", root)
        .env("QMAILRS_SINGLE_USER", "1")
        .env_remove("QMAILRS_QUEUE_CRASH_AT")
        .stdin(Stdio::piped())
        .stdout(fs::File::open(envfile.path()).unwrap())
        .stderr(Stdio::piped());
    run_as(&mut c, who);
    let mut child = c.spawn().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let _ = stdin.write_all(message);
    drop(stdin);
    child.wait_with_output().unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

const ENVELOPE: &[u8] = b"Fa@b\0Tc@d\0\0";
const NOSPACE: &str =
    "qmail-queue: fatal: unable to write the queue: No space left on device (os error 28)\n";

/// Out of blocks: netqmail's die_write (53) after truncating and
/// unlinking what it made, whether the mess or the intd write fails.
#[test]
fn full_disk_is_53_and_leaves_nothing() {
    if !enter("full_disk_is_53_and_leaves_nothing") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let q = root.join("var/qmail/queue");
    let fs_ = Tmpfs::mount(&q, "size=1m,mode=0750");
    qmail::hier::install(&root.join("var/qmail")).unwrap();
    // Four free pages: a 14000-byte message fills them, so the mess write
    // succeeds and the intd write fails; a 10000-byte one leaves the
    // intd its page.
    fs_.fill(16384);
    for size in [200_000, 14_000] {
        let o = queue(root, None, &vec![b'x'; size], ENVELOPE);
        assert_eq!(
            (o.status.code(), stderr(&o).as_str()),
            (Some(53), NOSPACE),
            "{size}"
        );
        assert_eq!(files(&q), Vec::<String>::new(), "{size}");
    }
    let o = queue(root, None, &vec![b'x'; 10_000], ENVELOPE);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let layout = Layout::at(&q);
    let ids = scan::todo_ids(&layout).unwrap();
    assert_eq!(ids.len(), 1);
    let t = scan::read_todo(&layout, ids[0]).unwrap();
    assert_eq!(t.envelope.recipients, vec![b"c@d".to_vec()]);
    assert!(fs::read(layout.mess(ids[0]))
        .unwrap()
        .ends_with(&[b'x'; 10_000]));
}

/// Out of inodes: the pid file cannot be created (63), nothing is made.
#[test]
fn no_inodes_is_63() {
    if !enter("no_inodes_is_63") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let q = root.join("var/qmail/queue");
    let _fs = Tmpfs::mount(&q, "size=1m,nr_inodes=400,mode=0750");
    qmail::hier::install(&root.join("var/qmail")).unwrap();
    fs::create_dir(q.join("lock/fill")).unwrap();
    let mut n = 0;
    while fs::write(q.join(format!("lock/fill/{n}")), b"").is_ok() {
        n += 1;
    }
    let o = queue(root, None, b"x\n", ENVELOPE);
    assert_eq!(o.status.code(), Some(63));
    assert_eq!(
        stderr(&o),
        "qmail-queue: fatal: unable to create a file in queue/pid: No space left on device (os error 28)\n"
    );
    assert_eq!(files(&q), Vec::<String>::new());
    // Room again (tmpfs also counts each hard link against nr_inodes).
    for i in 0..4 {
        fs::remove_file(q.join(format!("lock/fill/{i}"))).unwrap();
    }
    assert_eq!(queue(root, None, b"x\n", ENVELOPE).status.code(), Some(0));
}

/// qmail-smtpd maps qmail-queue's 53 to netqmail's reply text, and the
/// client's retry after the disk has room is queued.
#[test]
fn smtpd_answers_451_on_a_full_queue() {
    if !enter("smtpd_answers_451_on_a_full_queue") {
        return;
    }
    let h = smtpd_common::Host::oracle();
    let q = h.qmail().join("queue");
    let fs_ = Tmpfs::mount(&q, "size=1m,mode=0750");
    qmail::hier::install(&h.qmail()).unwrap();
    fs_.fill(8192);
    let qq = env!("CARGO_BIN_EXE_qmail-queue");
    let line = format!("{}\r\n", "y".repeat(998));
    let body = format!("Subject: big\r\n\r\n{}", line.repeat(15));
    let session = |want: &str| {
        let (mut child, sock) = h.spawn(&[("QMAILQUEUE", qq)]);
        let mut c = smtpd_common::Client::Plain(sock);
        assert_eq!(c.reply(), "220 oracle.example ESMTP\r\n");
        for (cmd, reply) in [
            ("MAIL FROM:<a@remote.example>\r\n", "250 ok\r\n"),
            ("RCPT TO:<testuser@example.org>\r\n", "250 ok\r\n"),
            ("DATA\r\n", "354 go ahead\r\n"),
        ] {
            c.send(cmd.as_bytes());
            assert_eq!(c.reply(), reply);
        }
        c.send(body.as_bytes());
        c.send(b".\r\n");
        let got = c.reply();
        assert!(got.starts_with(want), "{got}");
        c.send(b"QUIT\r\n");
        assert_eq!(c.reply(), "221 oracle.example\r\n");
        child.wait().unwrap();
    };
    session("451 qq write error or disk full (#4.3.0)\r\n");
    assert_eq!(files(&q), Vec::<String>::new());
    fs_.unfill();
    session("250 ok ");
    assert_eq!(scan::todo_ids(&Layout::at(&q)).unwrap().len(), 1);
}

/// A queue the caller (qmail-queue's uid) cannot enter or write: the
/// exit code of netqmail's table for the step that fails, and nothing
/// left behind (netqmail leaves the pid file on 64, the mess file on 65,
/// mess and intd on 66).
#[test]
fn queue_directories_with_wrong_permissions() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_path_buf();
    let home = root.join("var/qmail");
    qmail::hier::install(&home).unwrap();
    let q = home.join("queue");
    let who = owner_of(&root);
    let mess: Vec<PathBuf> = (0..23).map(|i| q.join(format!("mess/{i}"))).collect();
    let cases: Vec<(Vec<PathBuf>, u32, i32, &str)> = vec![
        (vec![home.clone()], 0o000, 61, "unable to chdir to "),
        (vec![q.clone()], 0o600, 62, "unable to chdir to "),
        (
            vec![q.join("pid")],
            0o500,
            63,
            "unable to create a file in queue/pid: ",
        ),
        (mess, 0o500, 64, "unable to link into queue/mess: "),
        (
            vec![q.join("intd")],
            0o500,
            65,
            "unable to create a file in queue/intd: ",
        ),
        (
            vec![q.join("todo")],
            0o500,
            66,
            "unable to link into queue/todo: ",
        ),
    ];
    let set = |paths: &[PathBuf], m: u32| {
        for p in paths {
            fs::set_permissions(p, fs::Permissions::from_mode(m)).unwrap();
        }
    };
    for (paths, mode, code, text) in &cases {
        let old = fs::metadata(&paths[0]).unwrap().permissions().mode() & 0o7777;
        set(paths, *mode);
        let o = queue(&root, who, b"Subject: x\n\nbody\n", ENVELOPE);
        set(paths, old);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(*code), "{err}");
        assert!(
            err.starts_with(&format!("qmail-queue: fatal: {text}"))
                && err.ends_with(": Permission denied (os error 13)\n"),
            "{code}: {err}"
        );
        assert_eq!(files(&q), Vec::<String>::new(), "{code}");
    }
    let o = queue(&root, who, b"Subject: x\n\nbody\n", ENVELOPE);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(scan::todo_ids(&Layout::at(&q)).unwrap().len(), 1);
}

/// netqmail's SIGALRM (the 24-hour alarm) exits 52 "without cleanup" and
/// the crash signals exit 81 the same way: what was made stays in S2,
/// never in todo/, and qmail-send's cleanup (`queue::cleanup`, past 36
/// hours) removes it.
#[test]
fn alarm_and_crash_signals_leave_only_cleanable_files() {
    use nix::sys::signal::{kill, Signal};
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    qmail::hier::install(&root.join("var/qmail")).unwrap();
    let q = root.join("var/qmail/queue");
    for (sig, code) in [
        (Signal::SIGALRM, 52),
        (Signal::SIGSEGV, 81),
        (Signal::SIGBUS, 81),
    ] {
        let envfile = tempfile::NamedTempFile::new().unwrap();
        fs::write(envfile.path(), ENVELOPE).unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_qmail-queue"))
            .env("QMAILRS_ROOT", root)
            .env("QMAILRS_SINGLE_USER", "1")
            .stdin(Stdio::piped())
            .stdout(fs::File::open(envfile.path()).unwrap())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(b"Subject: half\n\n").unwrap();
        // qmail-queue is reading the message once mess/ has its file and
        // the pid/ name is gone (linked first, then unlinked).
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        let reading = || {
            !scan::ids(&Layout::at(&q), "mess").unwrap().is_empty()
                && fs::read_dir(q.join("pid")).unwrap().next().is_none()
        };
        while !reading() {
            assert!(std::time::Instant::now() < deadline, "no mess file");
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        kill(nix::unistd::Pid::from_raw(child.id() as i32), sig).unwrap();
        let o = child.wait_with_output().unwrap();
        drop(stdin);
        assert_eq!(o.status.code(), Some(code), "{sig}");
        assert_eq!(stderr(&o), "", "{sig}: _exit at once");
        let left = files(&q);
        assert_eq!(left.len(), 1, "{sig}: {left:?}");
        assert!(left[0].starts_with("mess/"), "{left:?}");
        qmail::queue::cleanup(
            &Layout::at(&q),
            i64::MAX / 2,
            qmail::queue::cleanup::OSSIFIED,
        )
        .unwrap();
        assert_eq!(files(&q), Vec::<String>::new(), "{sig}");
    }
}
