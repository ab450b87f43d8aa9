//! qmail-queued, the resident queue writer (issue 5): qmail-inject and
//! qmail-smtpd queue through it without starting qmail-queue (their
//! `bin/qmail-queue` is a stub that fails and leaves a mark), with the
//! client's pid and uid in the Received line and the intd `u`/`p`
//! records; without it they fall back to qmail-queue; a squatter on its
//! socket name under another uid is refused; 50 parallel injections land
//! once each; a daemon killed mid-message is `qq crashed` with nothing in
//! todo/; SIGTERM finishes the message in flight; qmail-send's bounces go
//! through it too; a full disk is
//! qmail-queue's 53; it refuses to run as root or as a stranger to the
//! queue.
//!
//! Two set-ups: single-user mode (everything the current uid; as root
//! too), and, as root, real users (scripts/create-users): the daemon as
//! qmailq, qmail-inject as nobody, qmail-smtpd as qmaild. Not root, the
//! real-user cases run in single-user mode (said on stderr).

mod tmpfs_support;

use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Output, Stdio};
use std::time::{Duration, Instant};

use qmail::queue::layout::Layout;
use qmail::queue::scan;

const SQUAT_ENV: &str = "QMAILRS_TEST_SQUAT";

fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

fn me() -> (u32, u32) {
    (
        nix::unistd::geteuid().as_raw(),
        nix::unistd::getegid().as_raw(),
    )
}

fn user(name: &str) -> (u32, u32) {
    let u = nix::unistd::User::from_name(name)
        .unwrap()
        .unwrap_or_else(|| panic!("no user {name}: run scripts/create-users"));
    (u.uid.as_raw(), u.gid.as_raw())
}

fn bin(name: &str) -> PathBuf {
    Path::new(env!("CARGO_BIN_EXE_qmail-queued"))
        .parent()
        .unwrap()
        .join(name)
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Mode {
    Single,
    /// Root with the qmail users.
    Users,
}

fn modes() -> Vec<Mode> {
    if is_root() {
        vec![Mode::Single, Mode::Users]
    } else {
        eprintln!("not root: the real-user cases run in single-user mode only");
        vec![Mode::Single]
    }
}

/// One installed qmail home in a temporary directory.
struct Host {
    mode: Mode,
    dir: tempfile::TempDir,
    root: PathBuf,
    home: PathBuf,
}

impl Host {
    fn new(mode: Mode) -> Host {
        let dir = tempfile::Builder::new()
            .prefix("queued.")
            .tempdir_in("/tmp")
            .unwrap();
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
        let root = dir.path().join("root");
        let home = root.join("var/qmail");
        qmail::hier::install(&home).unwrap_or_else(|e| {
            panic!("{e} (as root the qmail users are needed: scripts/create-users)")
        });
        qmail::hier::link_programs(&home, &bin("")).unwrap();
        fs::write(home.join("control/me"), "example.org\n").unwrap();
        fs::write(home.join("control/rcpthosts"), "example.org\n").unwrap();
        if mode == Mode::Single && is_root() {
            // Installed for real users (this process is not single-user):
            // give the tree to the one user.
            let st = Command::new("chown")
                .args(["-R", "0:0"])
                .arg(&root)
                .status()
                .unwrap();
            assert!(st.success());
        }
        let h = Host {
            mode,
            dir,
            root,
            home,
        };
        h.stub_queue(81);
        h
    }

    fn queue(&self) -> Layout {
        Layout::at(self.home.join("queue"))
    }

    fn mark(&self) -> PathBuf {
        self.dir.path().join("qmail-queue-ran")
    }

    /// `bin/qmail-queue` becomes a stub that leaves a mark and exits
    /// `code` (81: "qq internal bug").
    fn stub_queue(&self, code: i32) {
        let qq = self.home.join("bin/qmail-queue");
        let _ = fs::remove_file(&qq);
        fs::write(
            &qq,
            format!(
                "#!/bin/sh\ncat > /dev/null\necho ran >> {}\nexit {code}\n",
                self.mark().display()
            ),
        )
        .unwrap();
        fs::set_permissions(&qq, fs::Permissions::from_mode(0o755)).unwrap();
        // The stub writes its mark as whoever calls it.
        fs::set_permissions(self.dir.path(), fs::Permissions::from_mode(0o1777)).unwrap();
    }

    fn real_queue(&self) {
        let qq = self.home.join("bin/qmail-queue");
        fs::remove_file(&qq).unwrap();
        std::os::unix::fs::symlink(bin("qmail-queue"), &qq).unwrap();
    }

    fn queue_ran(&self) -> bool {
        self.mark().exists()
    }

    /// A program of ours under this root, as `who` (real users) or as
    /// the current user in single-user mode.
    fn cmd(&self, prog: &str, who: &str) -> Command {
        let mut c = Command::new(bin(prog));
        c.env("QMAILRS_ROOT", &self.root)
            .env_remove("QMAILQUEUE")
            .env_remove("QMAILRS_QUEUE_CRASH_AT")
            .current_dir("/");
        match self.mode {
            Mode::Single => {
                c.env("QMAILRS_SINGLE_USER", "1");
            }
            Mode::Users => {
                let (uid, gid) = user(who);
                c.env_remove("QMAILRS_SINGLE_USER").uid(uid).gid(gid);
            }
        }
        c
    }

    /// The uid `who` runs as here.
    fn uid(&self, who: &str) -> u32 {
        match self.mode {
            Mode::Single => me().0,
            Mode::Users => user(who).0,
        }
    }

    fn start(&self) -> Daemon {
        let mut child = self
            .cmd("qmail-queued", "qmailq")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let addr = qmail::queue::daemon::address(&self.home).unwrap();
        let t0 = Instant::now();
        while std::os::unix::net::UnixStream::connect_addr(&addr).is_err() {
            if let Ok(Some(st)) = child.try_wait() {
                let mut e = String::new();
                child.stderr.take().unwrap().read_to_string(&mut e).unwrap();
                panic!("qmail-queued exited {st}: {e}");
            }
            assert!(
                t0.elapsed() < Duration::from_secs(10),
                "qmail-queued never listened"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        Daemon { child }
    }

    /// qmail-inject as `who` with `msg`; its output and pid.
    fn inject(&self, who: &str, msg: &str) -> (Output, u32) {
        let mut child = self
            .cmd("qmail-inject", who)
            .args(["-f", "a@example.org", "b@example.org"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let pid = child.id();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(msg.as_bytes())
            .unwrap();
        (child.wait_with_output().unwrap(), pid)
    }

    /// qmail-smtpd on pipes, as `who`.
    fn smtpd(&self, who: &str) -> Smtp {
        let mut child = self
            .cmd("qmail-smtpd", who)
            .env("TCPREMOTEIP", "127.0.0.1")
            .env("TCPLOCALIP", "127.0.0.1")
            .env("TCPLOCALHOST", "example.org")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let input = child.stdin.take().unwrap();
        let output = BufReader::new(child.stdout.take().unwrap());
        let mut s = Smtp {
            child,
            input,
            output,
        };
        assert!(s.reply().starts_with("220 "));
        s
    }

    fn todo(&self) -> Vec<u64> {
        scan::todo_ids(&self.queue()).unwrap()
    }

    /// The one queued message: its mess bytes and intd `u`, `p`.
    fn only(&self) -> (String, String, String) {
        let ids = self.todo();
        assert_eq!(ids.len(), 1, "{ids:?}");
        let q = self.queue();
        let t = scan::read_todo(&q, ids[0]).unwrap();
        let mess = String::from_utf8(fs::read(q.mess(ids[0])).unwrap()).unwrap();
        let s = |v: Option<Vec<u8>>| String::from_utf8(v.unwrap()).unwrap();
        (mess, s(t.uid), s(t.pid))
    }

    /// Every file in pid/, intd/, todo/ and mess/.
    fn files(&self) -> Vec<PathBuf> {
        let q = self.home.join("queue");
        let mut out = Vec::new();
        let mut dirs: Vec<PathBuf> = ["pid", "intd", "todo"].iter().map(|d| q.join(d)).collect();
        dirs.extend((0..23).map(|i| q.join(format!("mess/{i}"))));
        for d in dirs {
            for e in fs::read_dir(d).unwrap() {
                out.push(e.unwrap().path());
            }
        }
        out
    }
}

struct Daemon {
    child: Child,
}

impl Daemon {
    fn signal(&self, s: nix::sys::signal::Signal) {
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(self.child.id() as i32), s).unwrap();
    }

    /// SIGTERM; its exit status and stderr.
    fn stop(mut self) -> (Option<i32>, String) {
        self.signal(nix::sys::signal::Signal::SIGTERM);
        let st = self.child.wait().unwrap();
        let mut e = String::new();
        self.child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut e)
            .unwrap();
        (st.code(), e)
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct Smtp {
    child: Child,
    input: ChildStdin,
    output: BufReader<ChildStdout>,
}

impl Smtp {
    fn send(&mut self, s: &str) {
        self.input.write_all(s.as_bytes()).unwrap();
        self.input.flush().unwrap();
    }

    fn reply(&mut self) -> String {
        let mut all = String::new();
        loop {
            let mut l = String::new();
            self.output.read_line(&mut l).unwrap();
            all.push_str(&l);
            if l.len() < 4 || l.as_bytes()[3] != b'-' {
                return all;
            }
        }
    }

    fn cmd(&mut self, s: &str) -> String {
        self.send(s);
        self.reply()
    }

    /// Up to DATA's 354.
    fn start_data(&mut self) {
        assert!(self.cmd("HELO client.example\r\n").starts_with("250 "));
        assert!(self
            .cmd("MAIL FROM:<a@example.net>\r\n")
            .starts_with("250 "));
        assert!(self.cmd("RCPT TO:<b@example.org>\r\n").starts_with("250 "));
        assert!(self.cmd("DATA\r\n").starts_with("354 "));
    }

    fn quit(mut self) {
        let _ = self.cmd("QUIT\r\n");
        let _ = self.child.wait();
    }
}

fn received_pid(mess: &str) -> (u32, String) {
    let l = mess.lines().next().unwrap();
    let rest = l.strip_prefix("Received: (qmail ").unwrap();
    let (pid, rest) = rest.split_once(" invoked ").unwrap();
    let (who, _) = rest.split_once(");").unwrap();
    (pid.parse().unwrap(), who.to_string())
}

#[test]
fn inject_goes_through_the_daemon_and_falls_back_without_it() {
    for mode in modes() {
        let h = Host::new(mode);
        let d = h.start();
        let (o, pid) = h.inject("nobody", "Subject: one\n\nbody\n");
        assert!(o.status.success(), "{mode:?}: {o:?}");
        assert!(!h.queue_ran(), "{mode:?}: qmail-queue ran");
        let (mess, u, p) = h.only();
        let uid = h.uid("nobody");
        assert_eq!(
            received_pid(&mess),
            (pid, format!("by uid {uid}")),
            "{mess}"
        );
        assert_eq!((u, p), (uid.to_string(), pid.to_string()));
        assert!(mess.contains("Subject: one\n\nbody\n"), "{mess}");
        let (code, err) = d.stop();
        assert_eq!((code, err.as_str()), (Some(0), ""), "{mode:?}");

        // Daemon gone: the stub qmail-queue runs and fails.
        let (o, _) = h.inject("nobody", "Subject: two\n\n");
        assert_eq!(o.status.code(), Some(111), "{mode:?}");
        assert_eq!(
            String::from_utf8_lossy(&o.stderr),
            "qmail-inject: fatal: qq internal bug (#4.3.0)\n"
        );
        assert!(h.queue_ran(), "{mode:?}");
        if mode == Mode::Single {
            // And the real one queues, with its own pid in the message.
            h.real_queue();
            let (o, pid) = h.inject("nobody", "Subject: three\n\n");
            assert!(o.status.success(), "{o:?}");
            let q = h.queue();
            let ids = h.todo();
            assert_eq!(ids.len(), 2);
            let third = ids
                .iter()
                .map(|id| String::from_utf8(fs::read(q.mess(*id)).unwrap()).unwrap())
                .find(|m| m.contains("Subject: three"))
                .unwrap();
            assert_ne!(received_pid(&third).0, pid, "{third}");
        }
    }
}

#[test]
fn smtpd_goes_through_the_daemon() {
    for mode in modes() {
        let h = Host::new(mode);
        let _d = h.start();
        let mut s = h.smtpd("qmaild");
        let pid = s.child.id();
        s.start_data();
        let r = s.cmd("Subject: s\r\n\r\nhello\r\n.\r\n");
        assert!(
            r.starts_with("250 ok ") && r.ends_with(&format!(" qp {pid}\r\n")),
            "{r}"
        );
        s.quit();
        assert!(!h.queue_ran(), "{mode:?}: qmail-queue ran");
        let (mess, u, p) = h.only();
        let who = match mode {
            Mode::Single => format!("by uid {}", me().0),
            Mode::Users => "from network".into(),
        };
        assert_eq!(received_pid(&mess), (pid, who), "{mess}");
        assert_eq!((u, p), (h.uid("qmaild").to_string(), pid.to_string()));
        assert!(mess.ends_with("Subject: s\n\nhello\n"), "{mess}");
    }
}

#[test]
fn parallel_injections_land_once_each() {
    let h = Host::new(Mode::Single);
    let _d = h.start();
    std::thread::scope(|s| {
        for i in 0..50 {
            let h = &h;
            s.spawn(move || {
                let (o, _) = h.inject("nobody", &format!("Subject: n{i}\n\n{i}\n"));
                assert!(o.status.success(), "{i}: {o:?}");
            });
        }
    });
    assert!(!h.queue_ran());
    let q = h.queue();
    let mut seen: Vec<String> = h
        .todo()
        .into_iter()
        .map(|id| {
            let m = String::from_utf8(fs::read(q.mess(id)).unwrap()).unwrap();
            m.lines()
                .find_map(|l| l.strip_prefix("Subject: "))
                .unwrap()
                .to_string()
        })
        .collect();
    seen.sort();
    let mut want: Vec<String> = (0..50).map(|i| format!("n{i}")).collect();
    want.sort();
    assert_eq!(seen, want);
    assert!(fs::read_dir(h.home.join("queue/pid"))
        .unwrap()
        .next()
        .is_none());
}

/// The ids of the daemon's request threads.
fn request_threads(d: &Daemon) -> Vec<String> {
    let dir = format!("/proc/{}/task", d.child.id());
    let mut tids: Vec<String> = fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| {
            let tid = e.ok()?.file_name().into_string().ok()?;
            let comm = fs::read_to_string(format!("{dir}/{tid}/comm")).ok()?;
            comm.starts_with("qmail-queued re").then_some(tid)
        })
        .collect();
    tids.sort();
    tids
}

#[test]
fn request_threads_are_reused() {
    let h = Host::new(Mode::Single);
    let d = h.start();
    let (o, _) = h.inject("nobody", "Subject: one\n\n1\n");
    assert!(o.status.success(), "{o:?}");
    let first = request_threads(&d);
    assert!(
        (1..=2).contains(&first.len()),
        "threads wait for the next request: {first:?}"
    );
    for i in 0..5 {
        let (o, _) = h.inject("nobody", &format!("Subject: {i}\n\n{i}\n"));
        assert!(o.status.success(), "{o:?}");
    }
    // A request may come before the last one's thread waits again (the
    // client has its answer first), so a second thread may start; the
    // first still lives, where one thread per request would have ended.
    let after = request_threads(&d);
    assert!(
        first.iter().all(|t| after.contains(t)) && after.len() <= 3,
        "threads reused: {first:?} then {after:?}"
    );
    assert_eq!(h.todo().len(), 6);
    assert!(!h.queue_ran());
}

/// Wait until the daemon has made the mess file of a message.
fn wait_for_mess(h: &Host) {
    let t0 = Instant::now();
    while !h
        .files()
        .iter()
        .any(|p| p.to_string_lossy().contains("/mess/"))
    {
        assert!(t0.elapsed() < Duration::from_secs(10), "no mess file");
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn daemon_killed_mid_message_is_qq_crashed() {
    let h = Host::new(Mode::Single);
    let d = h.start();
    let mut s = h.smtpd("qmaild");
    s.start_data();
    s.send("Subject: k\r\n\r\npart one\r\n");
    wait_for_mess(&h);
    d.signal(nix::sys::signal::Signal::SIGKILL);
    drop(d);
    let r = s.cmd(&format!("{}\r\n.\r\n", "x".repeat(100_000)));
    assert_eq!(r, "451 qq crashed (#4.3.0)\r\n");
    s.quit();
    assert!(h.todo().is_empty());
    assert!(!h.queue_ran());
    // What it left is what a crashed qmail-queue leaves: cleanup's.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    qmail::queue::cleanup(&h.queue(), now, 0).unwrap();
    assert_eq!(h.files(), Vec::<PathBuf>::new());
}

#[test]
fn sigterm_finishes_the_message_in_flight() {
    let h = Host::new(Mode::Single);
    let d = h.start();
    let mut s = h.smtpd("qmaild");
    s.start_data();
    s.send("Subject: t\r\n\r\nbefore\r\n");
    wait_for_mess(&h);
    d.signal(nix::sys::signal::Signal::SIGTERM);
    // No longer accepting: a new client falls back to (stub) qmail-queue.
    let t0 = Instant::now();
    loop {
        let (o, _) = h.inject("nobody", "Subject: later\n\n");
        if !o.status.success() {
            break;
        }
        assert!(t0.elapsed() < Duration::from_secs(10), "still accepting");
    }
    assert!(h.queue_ran());
    let r = s.cmd("after\r\n.\r\n");
    assert!(r.starts_with("250 ok "), "{r}");
    s.quit();
    let (code, err) = d.stop();
    assert_eq!((code, err.as_str()), (Some(0), ""));
    let q = h.queue();
    let t: Vec<String> = h
        .todo()
        .iter()
        .map(|id| String::from_utf8(fs::read(q.mess(*id)).unwrap()).unwrap())
        .filter(|m| m.contains("Subject: t\n"))
        .collect();
    assert_eq!(t.len(), 1);
    assert!(t[0].ends_with("before\nafter\n"), "{}", t[0]);
}

/// The squatter: listens on the socket name of `QMAILRS_TEST_SQUAT`'s
/// home and counts the bytes it gets into `$home/../squat.bytes`.
/// Nothing unless started by [`squatter_is_refused`].
#[test]
fn squatter_helper() {
    let Some(home) = std::env::var_os(SQUAT_ENV) else {
        return;
    };
    let home = PathBuf::from(home);
    let l =
        std::os::unix::net::UnixListener::bind_addr(&qmail::queue::daemon::address(&home).unwrap())
            .unwrap();
    let out = home.parent().unwrap().join("squat.bytes");
    fs::write(&out, "0").unwrap();
    let mut total = 0;
    for c in l.incoming() {
        let mut buf = Vec::new();
        let _ = c.unwrap().read_to_end(&mut buf);
        total += buf.len();
        fs::write(&out, total.to_string()).unwrap();
    }
}

#[test]
fn squatter_is_refused() {
    let h = Host::new(Mode::Single);
    let mut c = Command::new(std::env::current_exe().unwrap());
    c.args([
        "--exact",
        "squatter_helper",
        "--nocapture",
        "--test-threads=1",
    ])
    .env(SQUAT_ENV, &h.home)
    .stdout(Stdio::null());
    if is_root() {
        // Another uid than the queue's owner.
        let (uid, gid) = user("nobody");
        c.uid(uid).gid(gid);
        fs::set_permissions(h.root.join("var"), fs::Permissions::from_mode(0o1777)).unwrap();
    } else {
        // Not root, the squatter can only be us: the queue then belongs
        // to someone else (a symlink to a directory of root's).
        let q = h.home.join("queue");
        fs::rename(&q, h.home.join("queue.real")).unwrap();
        std::os::unix::fs::symlink("/", &q).unwrap();
        eprintln!("not root: the squatter is this user, the queue root's");
    }
    let mut squat = c.spawn().unwrap();
    let counter = h.root.join("var/squat.bytes");
    let t0 = Instant::now();
    while !counter.exists() {
        assert!(t0.elapsed() < Duration::from_secs(10), "no squatter");
        std::thread::sleep(Duration::from_millis(10));
    }
    h.stub_queue(0);
    let (o, _) = h.inject("nobody", "Subject: s\n\n");
    assert!(o.status.success(), "{o:?}");
    assert!(h.queue_ran(), "the fallback did not run");
    // Wait for the squatter to see the connection close.
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(fs::read_to_string(&counter).unwrap(), "0");
    let _ = squat.kill();
    let _ = squat.wait();
}

#[test]
fn refuses_root_and_strangers() {
    let h = Host::new(Mode::Single);
    if is_root() {
        let o = Command::new(bin("qmail-queued"))
            .env("QMAILRS_ROOT", &h.root)
            .env_remove("QMAILRS_SINGLE_USER")
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(111));
        assert_eq!(
            String::from_utf8_lossy(&o.stderr),
            "qmail-queued: fatal: refusing to run as root: run me as qmailq (setuidgid qmailq qmail-queued)\n"
        );
    } else {
        eprintln!("not root: only the stranger case");
    }
    // A queue that is not ours.
    let q = h.home.join("queue");
    fs::rename(&q, h.home.join("queue.real")).unwrap();
    let other = h.dir.path().join("other");
    fs::create_dir(&other).unwrap();
    std::os::unix::fs::symlink(if is_root() { &other } else { Path::new("/") }, &q).unwrap();
    if is_root() {
        let (uid, gid) = user("nobody");
        nix::unistd::chown(
            &other,
            Some(nix::unistd::Uid::from_raw(uid)),
            Some(nix::unistd::Gid::from_raw(gid)),
        )
        .unwrap();
    }
    let o = Command::new(bin("qmail-queued"))
        .env("QMAILRS_ROOT", &h.root)
        .env("QMAILRS_SINGLE_USER", "1")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(111));
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(
        e.starts_with("qmail-queued: fatal: ") && e.contains("not to me"),
        "{e}"
    );
}

/// The queue on a full tmpfs: qmail-queue's 53, nothing left, and one
/// warning line from the daemon.
#[test]
fn full_disk_is_53() {
    if !tmpfs_support::enter("full_disk_is_53") {
        return;
    }
    let h = Host::new(Mode::Single);
    let q = h.home.join("queue");
    let fs_ = tmpfs_support::Tmpfs::mount(&q, "size=1m,mode=0750");
    qmail::hier::install(&h.home).unwrap();
    fs_.fill(16384);
    let d = h.start();
    let (o, _) = h.inject(
        "nobody",
        &format!("Subject: big\n\n{}\n", "x".repeat(200_000)),
    );
    assert_eq!(o.status.code(), Some(111));
    assert_eq!(
        String::from_utf8_lossy(&o.stderr),
        "qmail-inject: fatal: qq write error or disk full (#4.3.0)\n"
    );
    assert!(!h.queue_ran());
    assert_eq!(h.files(), Vec::<PathBuf>::new());
    let (code, err) = d.stop();
    assert_eq!(code, Some(0));
    assert!(
        err.starts_with("qmail-queued: warning: pid ")
            && err
                .ends_with(": unable to write the queue: No space left on device (os error 28)\n"),
        "{err}"
    );
}

/// A server that stopped accepting (its backlog full) is not waited for:
/// the client runs qmail-queue.
#[test]
fn full_backlog_falls_back() {
    use nix::sys::socket::{self, AddressFamily, Backlog, SockFlag, SockType, UnixAddr};
    use std::os::fd::AsRawFd;
    let h = Host::new(Mode::Single);
    let name = qmail::queue::daemon::socket_name(&h.home).unwrap();
    let l = socket::socket(
        AddressFamily::Unix,
        SockType::Stream,
        SockFlag::empty(),
        None,
    )
    .unwrap();
    socket::bind(l.as_raw_fd(), &UnixAddr::new_abstract(&name).unwrap()).unwrap();
    socket::listen(&l, Backlog::new(0).unwrap()).unwrap();
    // The one waiting connection the backlog holds.
    let _first = qmail::queue::daemon::connect(&h.home).unwrap();
    h.stub_queue(0);
    let (o, _) = h.inject("nobody", "Subject: b\n\n");
    assert!(o.status.success(), "{o:?}");
    assert!(h.queue_ran());
}

/// A server that hangs up before taking the request (dying, shutting
/// down, out of threads) costs nothing: the client has written nothing
/// yet and runs qmail-queue.
#[test]
fn no_ack_falls_back() {
    let h = Host::new(Mode::Single);
    let l = std::os::unix::net::UnixListener::bind_addr(
        &qmail::queue::daemon::address(&h.home).unwrap(),
    )
    .unwrap();
    let server = std::thread::spawn(move || {
        let (c, _) = l.accept().unwrap();
        drop(c);
    });
    h.stub_queue(0);
    let (o, _) = h.inject("nobody", "Subject: n\n\n");
    assert!(o.status.success(), "{o:?}");
    assert!(h.queue_ran());
    server.join().unwrap();
}

/// A daemon whose queue directory was moved aside (or that runs in
/// another mount namespace) writes a queue the client does not see: the
/// client runs qmail-queue, and the old queue gets nothing.
#[test]
fn daemon_of_another_queue_is_not_used() {
    let h = Host::new(Mode::Single);
    let d = h.start();
    let q = h.home.join("queue");
    let old = h.home.join("queue.old");
    fs::rename(&q, &old).unwrap();
    qmail::hier::install(&h.home).unwrap();
    if is_root() {
        let st = Command::new("chown")
            .args(["-R", "0:0"])
            .arg(&q)
            .status()
            .unwrap();
        assert!(st.success());
    }
    h.stub_queue(0);
    let (o, _) = h.inject("nobody", "Subject: moved\n\n");
    assert!(o.status.success(), "{o:?}");
    assert!(h.queue_ran());
    assert!(scan::todo_ids(&Layout::at(&old)).unwrap().is_empty());
    assert!(h.todo().is_empty());
    let (code, err) = d.stop();
    assert_eq!((code, err.as_str()), (Some(0), ""));
    let files = fs::read_dir(old.join("pid")).unwrap().count();
    assert_eq!(files, 0);
}

/// qmail-send's bounces are injections too: with qmail-queued running
/// they go through it (the stub qmail-queue never runs), and the bounce's
/// `qp` is the one its new message reports, as with qmail-queue. All
/// local, so the chain ends in a triple bounce without any network.
#[test]
fn qmail_send_bounces_through_the_daemon() {
    // hier::link_programs (in Host::new) put qmail-start and its
    // children into bin/.
    let h = Host::new(Mode::Single);
    // Every local address to an alias home with no .qmail files: each
    // delivery is "no mailbox here", a permanent failure.
    let alias = h.dir.path().join("alias");
    fs::create_dir(&alias).unwrap();
    fs::set_permissions(&alias, fs::Permissions::from_mode(0o755)).unwrap();
    let (uid, gid) = me();
    fs::write(
        h.home.join("users/assign"),
        format!("+:alias:{uid}:{gid}:{}:-::\n.\n", alias.display()),
    )
    .unwrap();
    assert!(h.cmd("qmail-newu", "root").status().unwrap().success());
    let d = h.start();
    let o = h
        .cmd("qmail-inject", "nobody")
        .args(["-f", "nosuchsender7@example.org", "nosuchuser7@example.org"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            c.stdin.take().unwrap().write_all(b"Subject: x\n\nbody\n")?;
            c.wait_with_output()
        })
        .unwrap();
    assert!(o.status.success(), "{o:?}");
    let log = h.dir.path().join("send.log");
    let path = format!(
        "{}:{}",
        h.home.join("bin").display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut send = h
        .cmd("qmail-start", "root")
        .arg("./Maildir/")
        .env("PATH", path)
        .stdin(Stdio::null())
        .stdout(fs::File::create(&log).unwrap())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let t0 = Instant::now();
    let text = loop {
        let text = fs::read_to_string(&log).unwrap_or_default();
        if text.contains("triple bounce: discarding bounce/") {
            break text;
        }
        assert!(t0.elapsed() < Duration::from_secs(30), "{text}");
        std::thread::sleep(Duration::from_millis(50));
    };
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(send.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    );
    let _ = send.wait();
    drop(d);
    assert!(!h.queue_ran(), "qmail-queue ran:\n{text}");
    // "bounce msg N qp P", then the bounce's own "new msg M" and
    // "info msg M: bytes B from <> qp P uid U".
    let qp_after = |line: &str| {
        line.rsplit_once(" qp ")
            .map(|(_, r)| r.split(' ').next().unwrap().to_string())
    };
    let bounce = text
        .lines()
        .find(|l| l.starts_with("bounce msg "))
        .unwrap_or_else(|| panic!("{text}"));
    let info = text
        .lines()
        .find(|l| l.contains(" from <> qp "))
        .unwrap_or_else(|| panic!("{text}"));
    assert_eq!(qp_after(bounce), qp_after(info), "{text}");
    assert!(
        text.contains(" from <#@[]> qp "),
        "the double bounce: {text}"
    );
}
