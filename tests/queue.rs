//! qmail-queue against the recorded netqmail queue files, bad input,
//! crash safety, and a queue left by netqmail read by our tools.
//! See: issue 3.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use qmail::envelope::Envelope;
use qmail::queue::files::Todo;
use qmail::queue::layout::Layout;
use qmail::queue::scan;

struct Host {
    _dir: tempfile::TempDir,
    root: PathBuf,
}

impl Host {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_path_buf();
        qmail::hier::install(&root.join("var/qmail")).unwrap();
        Host { _dir: dir, root }
    }
    fn home(&self) -> PathBuf {
        self.root.join("var/qmail")
    }
    fn queue(&self) -> Layout {
        Layout::at(self.home().join("queue"))
    }
    fn cmd(&self) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_qmail-queue"));
        c.env("QMAILRS_ROOT", &self.root)
            .env("QMAILRS_SINGLE_USER", "1")
            .env_remove("QMAILRS_QUEUE_CRASH_AT")
            .stderr(Stdio::piped());
        c
    }
    /// Run qmail-queue with `message` on fd 0 and `envelope` on fd 1.
    fn queue_raw(&self, mut cmd: Command, message: &[u8], envelope: &[u8]) -> std::process::Output {
        let envfile = self.root.join(format!("env.{}", rand_suffix()));
        fs::write(&envfile, envelope).unwrap();
        let child = cmd
            .stdin(Stdio::piped())
            .stdout(fs::File::open(&envfile).unwrap())
            .spawn()
            .unwrap();
        let mut child = child;
        let mut stdin = child.stdin.take().unwrap();
        let _ = stdin.write_all(message);
        drop(stdin);
        child.wait_with_output().unwrap()
    }
    /// Every file in the queue's message directories, relative.
    fn files(&self) -> Vec<String> {
        let q = self.home().join("queue");
        let mut out = Vec::new();
        for d in ["pid", "intd", "todo", "bounce"] {
            for e in fs::read_dir(q.join(d)).unwrap() {
                out.push(format!("{d}/{}", e.unwrap().file_name().to_string_lossy()));
            }
        }
        for d in ["mess", "info", "local", "remote"] {
            for i in 0..23 {
                for e in fs::read_dir(q.join(format!("{d}/{i}"))).unwrap() {
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
}

fn rand_suffix() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

fn testdata(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata/queue")
        .join(name)
}

const BODY: &[u8] = b"Received: from unknown (HELO client.example) (127.0.0.1)\n  by oracle.example with SMTP; 25 Nov 2026 11:46:13 -0000\nFrom: sender@remote.example\nTo: testuser@example.org\nSubject: oracle happy path\nMessage-ID: <happy-1@remote.example>\n\nHello from the oracle test.\n.leading dot line (dot-stuffed)\nlast line\n";
const ENVELOPE: &[u8] =
    b"Fsender@remote.example\0Ttestuser@example.org\0Tpostmaster@example.org\0\0";

/// Mask the Received line's pid, who and date.
fn mask_mess(bytes: &[u8]) -> Vec<u8> {
    let nl = bytes.iter().position(|&b| b == b'\n').unwrap();
    let first = String::from_utf8_lossy(&bytes[..nl]);
    assert!(first.starts_with("Received: (qmail "), "{first}");
    let mut out = b"Received: (qmail PID invoked WHO); DATE".to_vec();
    out.extend_from_slice(&bytes[nl..]);
    out
}

fn mask_todo(bytes: &[u8]) -> Vec<u8> {
    let t = Todo::parse(bytes).unwrap();
    let mut out = Vec::new();
    Todo::new(1, 1, t.envelope).write(&mut out).unwrap();
    out
}

#[test]
fn recorded_queue_files_byte_identical() {
    let h = Host::new();
    let out = h.queue_raw(h.cmd(), BODY, ENVELOPE);
    assert!(out.status.success(), "{:?}", out);
    let q = h.queue();
    let ids = scan::todo_ids(&q).unwrap();
    assert_eq!(ids.len(), 1);
    let id = ids[0];
    let mess = q.mess(id);
    let m = fs::metadata(&mess).unwrap();
    assert_eq!(m.ino(), id, "the id is the mess inode");
    assert_eq!(m.mode() & 0o7777, 0o644);
    let got = fs::read(&mess).unwrap();
    let want = fs::read(testdata("recorded-mess")).unwrap();
    assert_eq!(mask_mess(&got), mask_mess(&want));
    let first =
        String::from_utf8_lossy(&got[..got.iter().position(|&b| b == b'\n').unwrap()]).to_string();
    let pid = out_pid(&first);
    let me = nix::unistd::getuid().as_raw();
    assert!(
        first.contains(&format!("invoked by uid {me}"))
            || first.contains("invoked by alias")
            || first.contains("from network")
            || first.contains("for bounce"),
        "{first}"
    );
    assert!(first.ends_with(" -0000"));
    let todo = fs::read(q.todo(id)).unwrap();
    assert_eq!(
        mask_todo(&todo),
        mask_todo(&fs::read(testdata("recorded-todo")).unwrap())
    );
    assert!(todo.starts_with(format!("u{me}\0p{pid}\0").as_bytes()));
    assert_eq!(
        fs::metadata(q.todo(id)).unwrap().nlink(),
        2,
        "todo is a link of intd"
    );
    assert_eq!(fs::metadata(q.todo(id)).unwrap().mode() & 0o7777, 0o644);
    assert_eq!(fs::read(q.intd(id)).unwrap(), todo);
    assert!(fs::read_dir(h.home().join("queue/pid"))
        .unwrap()
        .next()
        .is_none());
}

fn out_pid(received: &str) -> u32 {
    received["Received: (qmail ".len()..]
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

#[test]
fn trigger_gets_a_byte() {
    let h = Host::new();
    let trigger = h.home().join("queue/lock/trigger");
    let f = fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(&trigger)
        .unwrap();
    let out = h.queue_raw(h.cmd(), b"x\n", b"Fa\0\0");
    assert!(out.status.success());
    let mut buf = [9u8; 4];
    let n = nix::unistd::read(std::os::fd::AsRawFd::as_raw_fd(&f), &mut buf).unwrap();
    assert_eq!(&buf[..n], b"\0");
}

/// Run qmail-queue on a small message; its exit code, or a failure if it
/// has not exited after 30 s (it would be blocked on lock/trigger).
fn queue_unblocked(h: &Host) -> i32 {
    let envfile = h.root.join(format!("env.{}", rand_suffix()));
    fs::write(&envfile, b"Fa\0Tb\0\0").unwrap();
    let mut child = h
        .cmd()
        .stdin(Stdio::null())
        .stdout(fs::File::open(&envfile).unwrap())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            return s.code().unwrap_or(-1);
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("qmail-queue blocked on lock/trigger");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// As netqmail's triggerpull: the FIFO is opened for writing without
/// blocking and any failure is ignored, so qmail-queue neither waits
/// nor fails when qmail-send is not reading, the FIFO is full, or it is
/// missing; a regular file in its place gets one NUL at offset 0.
/// See: issue 3.
#[test]
fn trigger_never_blocks_or_fails() {
    let h = Host::new();
    let trigger = h.home().join("queue/lock/trigger");
    let queued = |h: &Host| scan::todo_ids(&h.queue()).unwrap().len();

    // No reader: open(O_WRONLY|O_NONBLOCK) fails with ENXIO.
    assert_eq!(queue_unblocked(&h), 0);
    assert_eq!(queued(&h), 1);

    // A reader that does not read, with the pipe full.
    let full = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(&trigger)
        .unwrap();
    let chunk = [7u8; 4096];
    while (&full).write(&chunk).is_ok() {}
    assert_eq!(queue_unblocked(&h), 0);
    assert_eq!(queued(&h), 2);
    drop(full);

    // Missing.
    fs::remove_file(&trigger).unwrap();
    assert_eq!(queue_unblocked(&h), 0);
    assert_eq!(queued(&h), 3);
    assert!(
        !trigger.exists(),
        "qmail-queue must not create lock/trigger"
    );

    // A regular file: written at offset 0, not truncated or appended to.
    fs::write(&trigger, b"abc").unwrap();
    assert_eq!(queue_unblocked(&h), 0);
    assert_eq!(fs::read(&trigger).unwrap(), b"\0bc");
    assert_eq!(queued(&h), 4);
}
use std::os::unix::fs::OpenOptionsExt;

#[test]
fn bad_input_exit_codes_and_nothing_left() {
    let cases: &[(&[u8], &[u8], i32)] = &[
        (b"x\n", b"Fa@b\0Tc@d\0", 54),    // envelope cut short
        (b"x\n", b"", 54),                // no envelope at all
        (b"x\n", b"Fa@b", 54),            // sender cut short
        (b"x\n", b"Xa@b\0\0", 91),        // not F
        (b"x\n", b"Fa@b\0Uc@d\0\0", 91),  // not T
        (b"x\n", b"Fa\0b@c\0Td\0\0", 91), // NUL inside an address
    ];
    let h = Host::new();
    for (msg, env, code) in cases {
        let out = h.queue_raw(h.cmd(), msg, env);
        assert_eq!(out.status.code(), Some(*code), "{env:?}");
        assert!(String::from_utf8_lossy(&out.stderr).starts_with("qmail-queue: fatal: "));
        assert_eq!(h.files(), Vec::<String>::new(), "{env:?}");
    }
    let long = [b"F".to_vec(), vec![b'a'; 1003], b"\0\0".to_vec()].concat();
    let out = h.queue_raw(h.cmd(), b"x\n", &long);
    assert_eq!(out.status.code(), Some(11));
    let long = [b"Fa\0T".to_vec(), vec![b'a'; 1003], b"\0\0".to_vec()].concat();
    assert_eq!(h.queue_raw(h.cmd(), b"x\n", &long).status.code(), Some(11));
    assert_eq!(h.files(), Vec::<String>::new());
    let ok = [b"F".to_vec(), vec![b'a'; 1002], b"\0\0".to_vec()].concat();
    assert_eq!(h.queue_raw(h.cmd(), b"x\n", &ok).status.code(), Some(0));
}

#[test]
fn no_recipients_and_no_trailing_newline_are_queued_verbatim() {
    let h = Host::new();
    let out = h.queue_raw(h.cmd(), b"Subject: x\n\nno newline", b"F\0\0");
    assert!(out.status.success());
    let q = h.queue();
    let id = scan::todo_ids(&q).unwrap()[0];
    assert!(fs::read(q.mess(id)).unwrap().ends_with(b"\n\nno newline"));
    let t = scan::read_todo(&q, id).unwrap();
    assert_eq!(t.envelope, Envelope::default());
}

#[test]
fn broken_directories_get_their_exit_codes() {
    for (dir, code) in [
        ("queue/pid", 63),
        ("queue/mess/0", 64),
        ("queue/intd", 65),
        ("queue/todo", 66),
    ] {
        let h = Host::new();
        let p = h.home().join(dir);
        fs::remove_dir_all(&p).unwrap();
        fs::write(&p, b"").unwrap(); // a file where a directory belongs
        if dir == "queue/mess/0" {
            // Only the message whose id lands in split 0 fails: break all.
            for i in 1..23 {
                let p = h.home().join(format!("queue/mess/{i}"));
                fs::remove_dir_all(&p).unwrap();
                fs::write(&p, b"").unwrap();
            }
        }
        let out = h.queue_raw(h.cmd(), b"x\n", b"Fa\0Tb\0\0");
        assert_eq!(out.status.code(), Some(code), "{dir}");
        let q = h.queue();
        if dir != "queue/todo" {
            assert!(scan::flat_ids(&q, "todo").unwrap().is_empty());
        }
        if dir != "queue/intd" {
            assert!(scan::flat_ids(&q, "intd").unwrap().is_empty(), "{dir}");
        }
    }
    let h = Host::new();
    fs::remove_dir_all(h.home().join("queue")).unwrap();
    assert_eq!(
        h.queue_raw(h.cmd(), b"x\n", b"Fa\0\0").status.code(),
        Some(62)
    );
    fs::remove_dir_all(h.home()).unwrap();
    assert_eq!(
        h.queue_raw(h.cmd(), b"x\n", b"Fa\0\0").status.code(),
        Some(61)
    );
}

#[test]
fn full_disk_is_53_and_leaves_nothing() {
    let h = Host::new();
    let mut cmd = h.cmd();
    // SAFETY: setrlimit is async-signal-safe; nothing else runs in the child.
    unsafe {
        cmd.pre_exec(|| {
            nix::sys::resource::setrlimit(nix::sys::resource::Resource::RLIMIT_FSIZE, 1000, 1000)
                .map_err(std::io::Error::from)
        });
    }
    let big = vec![b'x'; 5000];
    let out = h.queue_raw(cmd, &big, b"Fa\0Tb\0\0");
    assert_eq!(out.status.code(), Some(53));
    assert_eq!(h.files(), Vec::<String>::new());
}

/// Everything in todo/ is complete; cleanup leaves exactly the committed.
fn check_invariants(h: &Host, body: &[u8]) {
    let q = h.queue();
    for id in scan::todo_ids(&q).unwrap() {
        let t = scan::read_todo(&q, id).expect("todo is complete");
        assert_eq!(t.envelope.recipients, vec![b"b@c".to_vec()]);
        let m = fs::read(q.mess(id)).expect("committed message has its mess file");
        assert!(m.ends_with(body), "mess complete");
    }
    qmail::queue::cleanup(&q, i64::MAX / 2, 0).unwrap();
    let todo = scan::todo_ids(&q).unwrap();
    let mut mess = scan::ids(&q, "mess").unwrap();
    mess.sort();
    let mut t2 = todo.clone();
    t2.sort();
    assert_eq!(mess, t2, "only committed messages remain");
    assert!(fs::read_dir(h.home().join("queue/pid"))
        .unwrap()
        .next()
        .is_none());
    for id in scan::flat_ids(&q, "intd").unwrap() {
        assert!(todo.contains(&id));
    }
}

#[test]
fn kill_9_at_every_step_leaves_only_complete_messages() {
    let h = Host::new();
    let body = b"Subject: crash\n\nbody\n";
    for mode in ["syncfs", "fsync"] {
        for step in qmail::queue::enqueue::Step::ALL {
            let mut cmd = h.cmd();
            cmd.env("QMAILRS_QUEUE_CRASH_AT", step.name())
                .env("QMAILRS_QUEUE_SYNC", mode);
            let out = h.queue_raw(cmd, body, b"Fa\0Tb@c\0\0");
            assert_eq!(out.status.signal(), Some(9), "{mode} {}", step.name());
            check_invariants(&h, body);
        }
    }
    assert_eq!(
        scan::todo_ids(&h.queue()).unwrap().len(),
        4,
        "killed after the todo link"
    );
}

#[test]
fn kill_9_at_random_moments() {
    let h = Host::new();
    let body = vec![b'y'; 200_000];
    for i in 0..12u64 {
        let envfile = h.root.join(format!("renv{i}"));
        fs::write(&envfile, b"Fa\0Tb@c\0\0").unwrap();
        let mut child = h
            .cmd()
            .stdin(Stdio::piped())
            .stdout(fs::File::open(&envfile).unwrap())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        let cut = (i as usize * 17_000) % body.len();
        let _ = stdin.write_all(&body[..cut]);
        if i % 2 == 0 {
            let _ = stdin.write_all(&body[cut..]);
            drop(stdin);
            std::thread::sleep(std::time::Duration::from_micros(i * 300));
        }
        let _ = child.kill();
        let _ = child.wait();
        check_invariants(&h, &body);
    }
}

#[test]
fn library_failure_at_every_step_cleans_up() {
    use qmail::queue::enqueue::{enqueue, Injector, Step, SyncMode};
    let h = Host::new();
    let q = h.queue();
    let inj = Injector {
        pid: 77,
        uid: 0,
        now: 1_795_607_173,
        who: "by uid 0".into(),
        pid_name: None,
    };
    for fail in Step::ALL {
        let mut step = |s: Step| {
            if s == fail {
                Err(std::io::Error::from_raw_os_error(libc::ENOSPC))
            } else {
                Ok(())
            }
        };
        let r = enqueue(
            &q,
            &inj,
            SyncMode::Syncfs,
            &mut &b"m\n"[..],
            &mut &b"Fa\0Tb@c\0\0"[..],
            &mut step,
        );
        assert!(r.is_err());
        check_invariants(&h, b"m\n");
    }
}

#[test]
fn netqmail_queue_is_read_by_our_tools() {
    let h = Host::new();
    let src = testdata("netqmail/queue");
    let dst = h.home().join("queue");
    copy_tree(&src, &dst);
    let birth = 1_795_607_173;
    let info = dst.join("info/5/754957");
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(birth);
    fs::File::options()
        .write(true)
        .open(&info)
        .unwrap()
        .set_modified(t)
        .unwrap();
    let q = h.queue();
    let t = scan::read_todo(&q, 754967).unwrap();
    assert_eq!(t.uid.as_deref(), Some(&b"1002"[..]));
    assert_eq!(t.envelope.sender, b"sender@remote.example");
    let out = Command::new(env!("CARGO_BIN_EXE_qmail-qread"))
        .env("QMAILRS_ROOT", &h.root)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "25 Nov 2026 11:46:13 GMT  #754957  375  <sender@remote.example>  bouncing\n  done\tlocal\ttestuser@example.org\n\tlocal\tpostmaster@example.org\n\tremote\tfriend@far.example\n"
    );
    let out = Command::new(env!("CARGO_BIN_EXE_qmail-qstat"))
        .env("QMAILRS_ROOT", &h.root)
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "messages in queue: 2\nmessages in queue but not yet preprocessed: 1\n"
    );
    // Our cleanup leaves both (one in todo, one preprocessed).
    let r = qmail::queue::cleanup(&q, i64::MAX / 2, 0).unwrap();
    assert!(r.messages.is_empty());
}

fn copy_tree(src: &Path, dst: &Path) {
    for e in fs::read_dir(src).unwrap() {
        let e = e.unwrap();
        let to = dst.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            fs::create_dir_all(&to).unwrap();
            copy_tree(&e.path(), &to);
        } else {
            fs::copy(e.path(), &to).unwrap();
            fs::set_permissions(&to, fs::Permissions::from_mode(0o644)).unwrap();
        }
    }
}

#[test]
fn qmailqueue_variable_is_honoured_by_the_client() {
    let h = Host::new();
    let script = h.home().join("bin/fakeqq");
    fs::write(&script, "#!/bin/sh\ncat >/dev/null\nexit 31\n").unwrap();
    fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).unwrap();
    qmail::hier::link_programs(
        &h.home(),
        Path::new(env!("CARGO_BIN_EXE_qmail-queue"))
            .parent()
            .unwrap(),
    )
    .unwrap();
    let run = |qq: Option<&str>| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_qmail-inject"));
        c.env("QMAILRS_ROOT", &h.root)
            .env("QMAILRS_SINGLE_USER", "1")
            .arg("x@y.example");
        if let Some(v) = qq {
            c.env("QMAILQUEUE", v);
        } else {
            c.env_remove("QMAILQUEUE");
        }
        let mut child = c
            .stdin(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(b"Subject: q\n\nbody\n")
            .unwrap();
        child.wait_with_output().unwrap()
    };
    let out = run(Some("bin/fakeqq"));
    assert_eq!(out.status.code(), Some(100));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "qmail-inject: fatal: mail server permanently rejected message (#5.3.0)\n"
    );
    assert!(scan::todo_ids(&h.queue()).unwrap().is_empty());
    let out = run(None);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(scan::todo_ids(&h.queue()).unwrap().len(), 1);
}

mod props {
    use super::*;
    use proptest::prelude::*;
    use qmail::queue::enqueue::{enqueue, Injector, SyncMode};

    fn addr() -> impl Strategy<Value = Vec<u8>> {
        proptest::collection::vec(1u8..=255, 0..40)
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

        /// Any envelope goes through the writer (enqueue) and comes back
        /// from the reader (scan::read_todo) unchanged, with the message.
        #[test]
        fn envelope_round_trips_through_the_queue(
            sender in addr(),
            recipients in proptest::collection::vec(addr(), 0..6),
            body in proptest::collection::vec(any::<u8>(), 0..300),
        ) {
            let h = Host::new();
            let q = h.queue();
            let env = Envelope { sender, recipients };
            let mut bytes = Vec::new();
            env.write(&mut bytes).unwrap();
            let inj = Injector { pid: 9, uid: 1, now: 0, who: "by uid 1".into(), pid_name: None };
            let id = enqueue(&q, &inj, SyncMode::Fsync, &mut &body[..], &mut &bytes[..], &mut |_| Ok(())).unwrap();
            let t = scan::read_todo(&q, id).unwrap();
            prop_assert_eq!(t.envelope, env);
            let mess = fs::read(q.mess(id)).unwrap();
            prop_assert!(mess.ends_with(&body));
        }
    }
}
