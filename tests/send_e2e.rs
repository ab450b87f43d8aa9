//! The delivery engine end to end through the real programs: our
//! qmail-inject → qmail-queue → qmail-start/qmail-send → qmail-lspawn →
//! qmail-local into Maildir, mbox, program and forward targets, then TERM
//! to qmail-send (the tree ends, nothing leaks), and a kill -9 run of 1,000
//! messages (single-user and as root).
//!
//! Three set-ups, one scenario:
//! * root with real users: the temporary tree is `/var/qmail` itself inside
//!   a private mount namespace (`unshare -m`; an overlay on `/var` holds the
//!   mount point, so the host is not touched), qmail-queue is a set-uid
//!   qmailq copy that ignores `QMAILRS_ROOT`, qmail-start hands out the
//!   qmail uids and the mailbox owner `qmailrs-test` (scripts/create-users)
//!   is found by qmail-getpw, its passwd home bind-mounted from the tree;
//! * single-user mode as the current user (`QMAILRS_SINGLE_USER=1` as root);
//! * single-user mode as `nobody` (setpriv), the ordinary-user path when the
//!   suite runs as root.
//!
//! Not root, the root tests run in single-user mode (said on stderr).

use std::collections::{HashMap, HashSet};
use std::fs;
use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::{Pid, User};

const SPLIT: u64 = 23;
const MAILBOX_USER: &str = "qmailrs-test";

/// Mounts the tree over `/var/qmail` and the mailbox home over the owner's
/// passwd home, then runs the program: `sh -c NS_SETUP sh TMP HOME prog…`.
/// The overlay's upper layer is a tmpfs: it works where /tmp is itself an
/// overlay (containers) and leaves nothing behind.
const NS_SETUP: &str = r#"set -e
t=$1; h=$2; shift 2
w=$(mktemp -d "$t/ns/o.XXXXXX")
mount -t tmpfs tmpfs "$w"
mkdir "$w/up" "$w/work"
mount -t overlay overlay -o "lowerdir=/var,upperdir=$w/up,workdir=$w/work" /var
mkdir -p /var/qmail
mount --bind "$t/root/var/qmail" /var/qmail
mount --bind "$t/home" "$h"
exec "$@""#;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Root,
    Single,
    Nobody,
}

/// One installed host in a temporary directory.
struct Host {
    mode: Mode,
    _dir: tempfile::TempDir,
    t: PathBuf,
    /// The qmail home as this test sees it, and as the programs do.
    q: PathBuf,
    q_seen: PathBuf,
    /// The mailbox owner's home, seen from here and by the programs.
    home: PathBuf,
    home_seen: PathBuf,
    /// The mailbox owner's local part, uid and gid.
    user: String,
    owner: (u32, u32),
    /// Who runs everything in the single-user modes.
    runner: (u32, u32),
    log: PathBuf,
    err: PathBuf,
}

fn bin_dir() -> PathBuf {
    Path::new(env!("CARGO_BIN_EXE_qmail-send"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn passwd(name: &str) -> User {
    User::from_name(name)
        .unwrap()
        .unwrap_or_else(|| panic!("user {name} missing: run scripts/create-users as root"))
}

fn chown_r(path: &Path, ids: (u32, u32)) {
    let st = Command::new("chown")
        .arg("-R")
        .arg(format!("{}:{}", ids.0, ids.1))
        .arg(path)
        .status()
        .unwrap();
    assert!(st.success(), "chown -R {}", path.display());
}

fn write_mode(path: &Path, text: &str, mode: u32) {
    fs::write(path, text).unwrap();
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
}

fn maildir(at: &Path) {
    for d in ["tmp", "new", "cur"] {
        fs::create_dir_all(at.join(d)).unwrap();
    }
}

/// The mode to run in as this uid: `Root` needs root.
fn effective(mode: Mode) -> Mode {
    if mode != Mode::Single && !nix::unistd::geteuid().is_root() {
        eprintln!("send_e2e: not root, so the {mode:?} variant runs in single-user mode");
        return Mode::Single;
    }
    mode
}

impl Host {
    fn new(mode: Mode) -> Host {
        let mode = effective(mode);
        // Under /tmp: the root variant lays an overlay on /var.
        let dir = tempfile::Builder::new()
            .prefix("send-e2e.")
            .tempdir_in("/tmp")
            .unwrap();
        let t = dir.path().to_path_buf();
        let q = t.join("root/var/qmail");
        qmail::hier::install(&q).unwrap_or_else(|e| {
            panic!("{e} (as root the qmail users are needed: scripts/create-users)")
        });
        qmail::hier::link_programs(&q, &bin_dir()).unwrap();
        fs::write(q.join("control/me"), "example.org\n").unwrap();
        fs::write(q.join("control/locals"), "example.org\n").unwrap();
        let home = t.join("home");
        fs::create_dir_all(&home).unwrap();
        let me = (
            nix::unistd::geteuid().as_raw(),
            nix::unistd::getegid().as_raw(),
        );
        let (runner, user, owner, home_seen, q_seen) = match mode {
            Mode::Root => {
                let u = passwd(MAILBOX_USER);
                let seen = u.dir.clone();
                assert!(
                    seen.is_dir(),
                    "{MAILBOX_USER}'s home {} is missing: run scripts/create-users",
                    seen.display()
                );
                (
                    me,
                    MAILBOX_USER.to_string(),
                    (u.uid.as_raw(), u.gid.as_raw()),
                    seen,
                    PathBuf::from("/var/qmail"),
                )
            }
            Mode::Single => (me, "joe".into(), me, home.clone(), q.clone()),
            Mode::Nobody => {
                let u = passwd("nobody");
                let ids = (u.uid.as_raw(), u.gid.as_raw());
                (ids, "joe".into(), ids, home.clone(), q.clone())
            }
        };
        let h = Host {
            mode,
            t: t.clone(),
            q,
            q_seen,
            home,
            home_seen,
            user,
            owner,
            runner,
            log: t.join("send.log"),
            err: t.join("send.err"),
            _dir: dir,
        };
        h.lay_out();
        h
    }

    fn lay_out(&self) {
        maildir(&self.home.join("Maildir"));
        maildir(&self.home.join("Boxdir"));
        maildir(&self.home.join("Bounces"));
        let u = &self.user;
        for (ext, text) in [
            ("mbox", "./Mailbox\n".to_string()),
            (
                "prog",
                "|env > prog.env; id -u > prog.uid; id -g > prog.gid; cat > prog.msg\n".into(),
            ),
            ("fwd", format!("&{u}-box@example.org\n")),
            ("box", "./Boxdir/\n".into()),
            ("later", "|echo not now; exit 111\n".into()),
            (
                "slow",
                "|touch sleeping; sleep 2; touch slept\n./Maildir/\n".into(),
            ),
            ("nap", "|sleep 0.1\n./Maildir/\n".into()),
            ("bounce", "./Bounces/\n".into()),
        ] {
            write_mode(&self.home.join(format!(".qmail-{ext}")), &text, 0o644);
        }
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(&self.home, fs::Permissions::from_mode(0o755)).unwrap();
        match self.mode {
            Mode::Root => {
                chown_r(&self.home, self.owner);
                // The real set-uid qmailq program, not a symlink.
                let qq = self.q.join("bin/qmail-queue");
                fs::remove_file(&qq).unwrap();
                fs::copy(bin_dir().join("qmail-queue"), &qq).unwrap();
                let (qmailq, qmail) = (passwd("qmailq"), nix::unistd::Group::from_name("qmail"));
                let gid = qmail.unwrap().expect("group qmail").gid;
                nix::unistd::chown(&qq, Some(qmailq.uid), Some(gid)).unwrap();
                fs::set_permissions(&qq, fs::Permissions::from_mode(0o4711)).unwrap();
                fs::create_dir(self.t.join("ns")).unwrap();
            }
            Mode::Single | Mode::Nobody => {
                let (uid, gid) = self.owner;
                let h = self.home.display();
                let u = &self.user;
                fs::write(
                    self.q.join("users/assign"),
                    format!("={u}:{u}:{uid}:{gid}:{h}:::\n+{u}-:{u}:{uid}:{gid}:{h}:-::\n.\n"),
                )
                .unwrap();
                if self.mode == Mode::Nobody {
                    chown_r(&self.t, self.runner);
                }
                let o = self.cmd("qmail-newu", false).output().unwrap();
                assert!(o.status.success(), "qmail-newu: {o:?}");
            }
        }
    }

    /// A command for `bin/prog` as the set-up runs it; `as_owner` makes the
    /// root variant run it as the mailbox owner (an ordinary user's call).
    fn cmd(&self, prog: &str, as_owner: bool) -> Command {
        self.run(&self.q_seen.join("bin").join(prog), as_owner)
    }

    /// [`Host::cmd`] for any program path.
    fn run(&self, path: &Path, as_owner: bool) -> Command {
        let mut c = match self.mode {
            Mode::Root => {
                let mut c = Command::new("unshare");
                c.args(["-m", "--", "sh", "-c", NS_SETUP, "sh"])
                    .arg(&self.t)
                    .arg(&self.home_seen);
                if as_owner {
                    c.arg("setpriv")
                        .arg(format!("--reuid={}", self.owner.0))
                        .arg(format!("--regid={}", self.owner.1))
                        .args(["--init-groups", "--"]);
                }
                c.arg(path);
                c.env_remove("QMAILRS_ROOT")
                    .env_remove("QMAILRS_SINGLE_USER");
                c
            }
            Mode::Nobody => {
                let mut c = Command::new("setpriv");
                c.arg(format!("--reuid={}", self.runner.0))
                    .arg(format!("--regid={}", self.runner.1))
                    .args(["--clear-groups", "--"])
                    .arg(path)
                    .env("QMAILRS_ROOT", self.t.join("root"))
                    .env_remove("QMAILRS_SINGLE_USER");
                c
            }
            Mode::Single => {
                let mut c = Command::new(path);
                c.env("QMAILRS_ROOT", self.t.join("root"))
                    .env("QMAILRS_SINGLE_USER", "1");
                c
            }
        };
        c.env_remove("QMAILQUEUE").current_dir("/");
        c
    }

    /// The uid a role runs as here.
    fn role(&self, name: &str) -> u32 {
        match self.mode {
            Mode::Root => passwd(name).uid.as_raw(),
            _ => self.runner.0,
        }
    }

    /// Who calls qmail-inject: uid and gid.
    fn injector(&self) -> (u32, u32) {
        match self.mode {
            Mode::Root => self.owner,
            _ => self.runner,
        }
    }

    fn inject(&self, sender: &str, rcpts: &[String], msg: &str) {
        let mut c = self.cmd("qmail-inject", true);
        c.arg("-f")
            .arg(sender)
            .args(rcpts)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = c.spawn().unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(msg.as_bytes())
            .unwrap();
        let o = child.wait_with_output().unwrap();
        assert!(
            o.status.success(),
            "qmail-inject {rcpts:?}: {:?} {}",
            o.status,
            String::from_utf8_lossy(&o.stderr)
        );
    }

    fn start(&self) -> Child {
        let path = format!(
            "{}:{}",
            self.q_seen.join("bin").display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let append = |p: &Path| {
            fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(p)
                .unwrap()
        };
        self.cmd("qmail-start", false)
            .arg("./Maildir/")
            .env("PATH", path)
            .stdin(Stdio::null())
            .stdout(append(&self.log))
            .stderr(append(&self.err))
            .spawn()
            .unwrap()
    }

    fn addr(&self, ext: &str) -> String {
        if ext.is_empty() {
            format!("{}@example.org", self.user)
        } else {
            format!("{}-{ext}@example.org", self.user)
        }
    }

    fn log_text(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn diagnose(&self) -> String {
        format!(
            "log:\n{}\nstderr:\n{}",
            self.log_text(),
            fs::read_to_string(&self.err).unwrap_or_default()
        )
    }

    /// Wait for `f`, failing early if qmail-send went away.
    fn wait_for(&self, what: &str, send: &mut Child, mut f: impl FnMut() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if f() {
                return;
            }
            if let Ok(Some(st)) = send.try_wait() {
                panic!(
                    "qmail-send exited ({st}) waiting for {what}\n{}",
                    self.diagnose()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("timed out waiting for {what}\n{}", self.diagnose());
    }

    fn queue(&self, sub: &str) -> PathBuf {
        self.q.join("queue").join(sub)
    }

    fn split(&self, base: &str, id: u64) -> PathBuf {
        self.queue(&format!("{base}/{}/{id}", id % SPLIT))
    }

    /// What is left in the queue (every directory, split ones too).
    fn queue_left(&self) -> Vec<PathBuf> {
        let mut dirs: Vec<PathBuf> = ["todo", "intd", "bounce", "pid"]
            .iter()
            .map(|d| self.queue(d))
            .collect();
        for b in ["mess", "info", "local", "remote"] {
            dirs.extend((0..SPLIT).map(|s| self.queue(&format!("{b}/{s}"))));
        }
        dirs.iter().flat_map(|d| files(d)).collect()
    }

    fn queue_empty(&self) -> bool {
        self.queue_left().is_empty()
    }
}

fn count(dir: &Path) -> usize {
    fs::read_dir(dir).map(|d| d.count()).unwrap_or(0)
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = fs::read_dir(dir)
        .map(|d| d.map(|e| e.unwrap().path()).collect())
        .unwrap_or_default();
    v.sort();
    v
}

/// Owner uid and permission bits.
fn owner_mode(p: &Path) -> (u32, u32) {
    let m = fs::metadata(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    (m.uid(), m.mode() & 0o7777)
}

/// Replace runs of digits by `N` (ids, delivery numbers, qp).
fn mask(line: &str) -> String {
    let mut out = String::new();
    let mut digits = false;
    for ch in line.chars() {
        if ch.is_ascii_digit() {
            if !digits {
                out.push('N');
            }
            digits = true;
        } else {
            digits = false;
            out.push(ch);
        }
    }
    out
}

/// A process as /proc shows it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Proc {
    pid: i32,
    ppid: i32,
    comm: String,
    uid: u32,
    /// Start time in clock ticks: tells a reused pid apart.
    start: u64,
    zombie: bool,
}

fn proc_of(pid: i32) -> Option<Proc> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (head, tail) = stat.rsplit_once(')')?;
    let comm = head.split_once('(')?.1.to_string();
    let f: Vec<&str> = tail.split_whitespace().collect();
    let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let uid = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    Some(Proc {
        pid,
        ppid: f.get(1)?.parse().ok()?,
        comm,
        uid,
        start: f.get(19)?.parse().ok()?,
        zombie: f.first() == Some(&"Z"),
    })
}

fn all_procs() -> Vec<Proc> {
    fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .filter_map(proc_of)
        .collect()
}

/// `pid` and everything below it.
fn tree(pid: i32) -> Vec<Proc> {
    let procs = all_procs();
    let mut out: Vec<Proc> = procs.iter().filter(|p| p.pid == pid).cloned().collect();
    let mut i = 0;
    while i < out.len() {
        let parent = out[i].pid;
        out.extend(procs.iter().filter(|p| p.ppid == parent).cloned());
        i += 1;
    }
    out
}

/// Still running (a zombie has ended).
fn alive(p: &Proc) -> bool {
    proc_of(p.pid).is_some_and(|now| now.start == p.start && !now.zombie)
}

fn signal(c: &Child, s: Signal) {
    let _ = kill(Pid::from_raw(c.id() as i32), s);
}

/// TERM and wait for the exit status (bounded).
fn stop(h: &Host, c: &mut Child) -> std::process::ExitStatus {
    signal(c, Signal::SIGTERM);
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if let Ok(Some(st)) = c.try_wait() {
            return st;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = c.kill();
    panic!("qmail-send did not stop on TERM\n{}", h.diagnose());
}

/// The queue ids in todo/.
fn todo_ids(h: &Host) -> Vec<u64> {
    let mut v: Vec<u64> = files(&h.queue("todo"))
        .iter()
        .filter_map(|p| p.file_name()?.to_str()?.parse().ok())
        .collect();
    v.sort();
    v
}

/// Inject, deliver to every target, check owners, modes, contents, the log
/// and the uids of the running tree; then TERM during a delivery.
/// Root hosts share the mailbox owner's passwd home.
static ROOT_HOME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn scenario(mode: Mode) {
    let h = Host::new(mode);
    let _one = (h.mode == Mode::Root).then(|| ROOT_HOME.lock().unwrap_or_else(|e| e.into_inner()));
    let mode = h.mode;
    let (inj_uid, inj_gid) = h.injector();
    let (qmailq, qmails) = (h.role("qmailq"), h.role("qmails"));
    let a_rcpts: Vec<String> = ["", "mbox", "prog", "fwd"]
        .iter()
        .map(|e| h.addr(e))
        .collect();
    h.inject(
        "sender@remote.example",
        &a_rcpts,
        "Subject: e2e\nMessage-ID: <e2e-a@example.org>\n\nFrom here\nbody A\n",
    );
    h.inject(
        "sender@remote.example",
        &[h.addr("later")],
        "Subject: later\n\nbody B\n",
    );

    // Queued by qmail-queue: owner qmailq, 0644, the caller's gid; the
    // envelope records the caller's real uid.
    let ids = todo_ids(&h);
    assert_eq!(ids.len(), 2, "{ids:?}");
    let mut later = 0;
    for &id in &ids {
        for p in [
            h.queue(&format!("todo/{id}")),
            h.queue(&format!("intd/{id}")),
            h.split("mess", id),
        ] {
            assert_eq!(owner_mode(&p), (qmailq, 0o644), "{}", p.display());
            assert_eq!(fs::metadata(&p).unwrap().gid(), inj_gid, "{}", p.display());
        }
        let intd = fs::read(h.queue(&format!("intd/{id}"))).unwrap();
        assert!(
            intd.starts_with(format!("u{inj_uid}\0p").as_bytes()),
            "{intd:?}"
        );
        if intd.windows(5).any(|w| w == b"later") {
            later = id;
        }
    }
    assert_ne!(later, 0);

    let mut send = h.start();
    let home = h.home.clone();
    h.wait_for("deliveries", &mut send, || {
        count(&home.join("Maildir/new")) == 1
            && count(&home.join("Boxdir/new")) == 1
            // Complete, not just created: `cat > prog.msg` makes the
            // file before it copies the message.
            && fs::read_to_string(home.join("prog.msg")).is_ok_and(|m| m.ends_with("body A\n"))
            && h.log_text().contains("end msg")
            && h.log_text().contains("deferral")
    });

    // The running tree and its uids.
    let pid = send.id() as i32;
    let running = tree(pid);
    let uid_of = |comm: &str| -> Vec<u32> {
        running
            .iter()
            .filter(|p| p.comm == comm)
            .map(|p| p.uid)
            .collect()
    };
    assert_eq!(uid_of("qmail-send"), [qmails], "{running:?}");
    let root_or = |r: u32| if mode == Mode::Root { 0 } else { r };
    assert_eq!(uid_of("qmail-lspawn"), [root_or(h.runner.0)], "{running:?}");
    assert_eq!(uid_of("qmail-rspawn"), [h.role("qmailr")], "{running:?}");
    assert_eq!(uid_of("qmail-clean"), [qmailq], "{running:?}");

    check_targets(&h, inj_uid);

    // B stays: qmail-send's files are qmails' and 0600.
    let info = h.split("info", later);
    assert_eq!(owner_mode(&info), (qmails, 0o600));
    assert_eq!(fs::read(&info).unwrap(), b"Fsender@remote.example\0");
    let local = h.split("local", later);
    assert_eq!(owner_mode(&local), (qmails, 0o600));
    assert_eq!(
        fs::read(&local).unwrap(),
        format!("T{}\0", h.addr("later")).as_bytes()
    );
    assert_eq!(owner_mode(&h.split("mess", later)), (qmailq, 0o644));
    assert!(!h.queue(&format!("todo/{later}")).exists());
    assert!(!h.queue(&format!("intd/{later}")).exists());

    let text = h.log_text();
    let lines: Vec<String> = text.lines().map(mask).collect();
    for want in [
        "status: local N/N remote N/N".to_string(),
        "new msg N".into(),
        "info msg N: bytes N from <sender@remote.example> qp N uid N".into(),
        format!(
            "starting delivery N: msg N to local {}",
            mask(&h.addr("prog"))
        ),
        "delivery N: success: did_N+N+N/".into(),
        "delivery N: success: did_N+N+N/qp_N/".into(),
        "delivery N: deferral: not_now/".into(),
        "end msg N".into(),
    ] {
        assert!(lines.contains(&want), "missing {want:?} in\n{text}");
    }
    assert!(text.contains(&format!(" uid {inj_uid}\n")), "{text}");
    assert!(!text.contains("failure"), "{text}");

    term_during_delivery(&h, &mut send);
}

fn check_targets(h: &Host, inj_uid: u32) {
    let (uid, gid) = h.owner;
    let home = &h.home;
    let received = format!("invoked by uid {inj_uid}); ");
    // Maildir (the default delivery, ./Maildir/).
    let md = files(&home.join("Maildir/new"));
    assert_eq!(owner_mode(&md[0]), (uid, 0o600));
    let m = fs::read_to_string(&md[0]).unwrap();
    let head = format!(
        "Return-Path: <sender@remote.example>\nDelivered-To: {}\nReceived: (qmail ",
        h.addr("")
    );
    assert!(m.starts_with(&head), "{m}");
    assert!(m.contains(&received), "{m}");
    assert!(m.contains("\nMessage-ID: <e2e-a@example.org>\n"), "{m}");
    assert!(m.ends_with("\n\nFrom here\nbody A\n"), "{m}");
    // mbox: From_ line, >From quoting, trailing blank line.
    let mbox = home.join("Mailbox");
    assert_eq!(owner_mode(&mbox), (uid, 0o600));
    let m = fs::read_to_string(&mbox).unwrap();
    assert!(m.starts_with("From sender@remote.example "), "{m}");
    let dt = format!(
        "\nReturn-Path: <sender@remote.example>\nDelivered-To: {}\n",
        h.addr("mbox")
    );
    assert!(m.contains(&dt), "{m}");
    assert!(m.ends_with("\n\n>From here\nbody A\n\n"), "{m}");
    // The program ran as the owner, in the home, with qmail-command's
    // environment, and read the message as queued.
    let read = |n: &str| fs::read_to_string(home.join(n)).unwrap();
    assert_eq!(read("prog.uid"), format!("{uid}\n"));
    assert_eq!(read("prog.gid"), format!("{gid}\n"));
    assert_eq!(owner_mode(&home.join("prog.msg")).0, uid);
    let env: HashSet<String> = read("prog.env").lines().map(String::from).collect();
    for want in [
        format!("USER={}", h.user),
        format!("HOME={}", h.home_seen.display()),
        format!("LOCAL={}-prog", h.user),
        "EXT=prog".into(),
        "HOST=example.org".into(),
        "SENDER=sender@remote.example".into(),
        "NEWSENDER=sender@remote.example".into(),
        format!("RECIPIENT={}", h.addr("prog")),
        format!("DTLINE=Delivered-To: {}", h.addr("prog")),
        "RPLINE=Return-Path: <sender@remote.example>".into(),
        format!("PWD={}", h.home_seen.display()),
    ] {
        assert!(env.contains(&want), "{want:?} not in {env:?}");
    }
    assert!(env
        .iter()
        .any(|l| l.starts_with("UFLINE=From sender@remote.example ")));
    let msg = read("prog.msg");
    assert!(
        msg.starts_with("Received: (qmail ") && msg.contains(&received),
        "{msg}"
    );
    assert!(msg.ends_with("\n\nFrom here\nbody A\n"), "{msg}");
    // The forward was queued by qmail-local as the owner (its Received
    // line) and delivered again to -box.
    let bx = files(&home.join("Boxdir/new"));
    assert_eq!(owner_mode(&bx[0]), (uid, 0o600));
    let m = fs::read_to_string(&bx[0]).unwrap();
    let l: Vec<&str> = m.lines().collect();
    assert_eq!(l[0], "Return-Path: <sender@remote.example>", "{m}");
    assert_eq!(l[1], format!("Delivered-To: {}", h.addr("box")), "{m}");
    assert!(
        l[2].starts_with("Received: (qmail ")
            && l[2].contains(&format!(" invoked by uid {uid}); ")),
        "{m}"
    );
    assert_eq!(l[3], format!("Delivered-To: {}", h.addr("fwd")), "{m}");
    assert!(
        l[4].starts_with("Received: (qmail ") && l[4].contains(&received),
        "{m}"
    );
    assert!(m.ends_with("\n\nFrom here\nbody A\n"), "{m}");
}

/// TERM while a program delivery sleeps: qmail-send lets it finish, logs
/// "status: exiting", exits 0, and the whole tree is gone.
fn term_during_delivery(h: &Host, send: &mut Child) {
    h.inject(
        "sender@remote.example",
        &[h.addr("slow")],
        "Subject: slow\n\nbody C\n",
    );
    let home = h.home.clone();
    h.wait_for("the slow program", send, || home.join("sleeping").exists());
    let pid = send.id() as i32;
    let before = tree(pid);
    let names: HashSet<&str> = before.iter().map(|p| p.comm.as_str()).collect();
    for n in [
        "qmail-send",
        "qmail-lspawn",
        "qmail-rspawn",
        "qmail-clean",
        "qmail-local",
    ] {
        assert!(names.contains(n), "{n} not running: {before:?}");
    }
    // qmail-local and the program run as the mailbox owner.
    for p in before
        .iter()
        .filter(|p| p.comm == "qmail-local" || p.comm == "sleep")
    {
        assert_eq!(p.uid, h.owner.0, "{p:?}");
    }
    let st = stop(h, send);
    assert_eq!(st.code(), Some(0), "{st}\n{}", h.diagnose());
    assert!(
        home.join("slept").exists(),
        "exited before the delivery ended"
    );
    assert_eq!(count(&home.join("Maildir/new")), 2);
    let text = h.log_text();
    assert!(text.ends_with("status: exiting\n"), "{text}");
    // The slow delivery's success comes before the exit line.
    let slow = format!("to local {}", h.addr("slow"));
    let num = text
        .lines()
        .find(|l| l.contains(&slow))
        .and_then(|l| l.split_whitespace().nth(2))
        .map(|n| n.trim_end_matches(':').to_string())
        .unwrap_or_else(|| panic!("{text}"));
    let done = text
        .lines()
        .position(|l| l.starts_with(&format!("delivery {num}: success:")))
        .unwrap_or_else(|| panic!("{text}"));
    let exiting = text.lines().position(|l| l == "status: exiting").unwrap();
    assert!(done < exiting, "{text}");
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut left: Vec<&Proc> = before.iter().filter(|p| alive(p)).collect();
    while !left.is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
        left.retain(|p| alive(p));
    }
    assert!(left.is_empty(), "left running after TERM: {left:?}");
}

#[test]
fn targets_and_term_as_root_with_real_users() {
    scenario(Mode::Root);
}

#[test]
fn targets_and_term_in_single_user_mode() {
    scenario(Mode::Single);
}

#[test]
fn targets_and_term_as_an_ordinary_user() {
    scenario(Mode::Nobody);
}

/// xorshift64*: the kill plan from the printed seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn seed() -> u64 {
    let s = std::env::var("QMAILRS_E2E_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        });
    s.max(1)
}

/// qmail-send has blocked ALRM (before that, ALRM would kill it).
fn alrm_ready(pid: i32) -> bool {
    let Ok(status) = fs::read_to_string(format!("/proc/{pid}/status")) else {
        return false;
    };
    let blocked = status
        .lines()
        .find_map(|l| l.strip_prefix("SigBlk:"))
        .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
        .unwrap_or(0);
    status.contains("Name:\tqmail-send\n") && blocked & (1 << (libc::SIGALRM - 1)) != 0
}

/// The X-Id markers delivered to Maildir/new, with how often each came.
fn delivered_ids(h: &Host) -> HashMap<usize, usize> {
    let mut seen = HashMap::new();
    for p in files(&h.home.join("Maildir/new")) {
        let t = fs::read_to_string(&p).unwrap();
        let id = t
            .lines()
            .find_map(|l| l.strip_prefix("X-Id: "))
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no X-Id in {}: {t}", p.display()));
        *seen.entry(id).or_insert(0) += 1;
    }
    seen
}

/// Kill qmail-local processes of this host now and then (a third of those
/// seen, at most `max`), until told to stop.
fn local_killer(
    home: PathBuf,
    seed: u64,
    max: usize,
    stop: Arc<AtomicBool>,
    kills: Arc<AtomicUsize>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let mut rng = Rng(seed);
        let mut seen = HashSet::new();
        let home = home.to_string_lossy().into_owned();
        while !stop.load(Ordering::SeqCst) {
            for e in fs::read_dir("/proc").unwrap().flatten() {
                let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
                    continue;
                };
                let comm = fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
                if comm != "qmail-local\n" || !seen.insert(pid) {
                    continue;
                }
                let cmdline = fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
                let ours = cmdline.split(|&b| b == 0).any(|a| a == home.as_bytes());
                if ours
                    && kills.load(Ordering::SeqCst) < max
                    && rng.below(3) == 0
                    && kill(Pid::from_raw(pid), Signal::SIGKILL).is_ok()
                {
                    kills.fetch_add(1, Ordering::SeqCst);
                }
            }
            std::thread::sleep(Duration::from_millis(3));
        }
    })
}

/// `sh -c INJECT_LOOP sh QMAIL-INJECT SENDER USER FIRST N STEP`: messages
/// FIRST, FIRST+STEP, … below N, every eighth to USER-nap.
const INJECT_LOOP: &str = r#"qi=$1; from=$2; user=$3; i=$4; n=$5; k=$6
while [ "$i" -lt "$n" ]; do
  r=$user; [ $((i % 8)) -eq 0 ] && r=$user-nap
  printf 'Subject: crash %s\nX-Id: %s\n\nbody\n' "$i" "$i" |
    "$qi" -f "$from" "$r@example.org" || exit 1
  i=$((i + k))
done"#;

/// A mess file left alone (state S2 of queue.md §3): a kill -9 between
/// qmail-send's unlink of info and its foop to qmail-clean leaves one, as
/// with the original.
fn stale_mess(h: &Host, p: &Path) -> bool {
    let Some(id) = p.file_name().and_then(|n| n.to_str()?.parse::<u64>().ok()) else {
        return false;
    };
    p.starts_with(h.queue("mess"))
        && !h.split("info", id).exists()
        && !h.queue(&format!("todo/{id}")).exists()
        && !h.queue(&format!("intd/{id}")).exists()
}

/// Stale mess files must be finished messages ("end msg" logged); age
/// them past the 36 hours of send.md §9 and let a restarted qmail-send's
/// cleanup remove them (ours also runs it at start-up: known-differences).
/// Returns how many there were.
fn finish_stale(h: &Host, seed: u64) -> usize {
    let stale = h.queue_left();
    if stale.is_empty() {
        return 0;
    }
    let text = h.log_text();
    let old = nix::sys::time::TimeSpec::new(
        (std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
            - 37 * 3600) as i64,
        0,
    );
    for p in &stale {
        assert!(stale_mess(h, p), "seed {seed}: left {}", p.display());
        let id = p.file_name().unwrap().to_str().unwrap();
        assert!(
            text.contains(&format!("\nend msg {id}\n")),
            "seed {seed}: {} was never finished",
            p.display()
        );
        nix::sys::stat::utimensat(
            None,
            p,
            &old,
            &old,
            nix::sys::stat::UtimensatFlags::NoFollowSymlink,
        )
        .unwrap();
    }
    let mut send = h.start();
    h.wait_for("the stale-message cleanup", &mut send, || h.queue_empty());
    let st = stop(h, &mut send);
    assert_eq!(st.code(), Some(0), "{st}");
    stale.len()
}

/// kill -9 qmail-send; what ran below it is added to `orphans`.
fn kill_9(c: &mut Child, orphans: &mut Vec<Proc>) {
    orphans.extend(tree(c.id() as i32).into_iter().skip(1));
    let _ = c.kill();
    let _ = c.wait();
}

/// The spawners and deliveries of killed qmail-sends end by themselves
/// (EOF on their command pipes).
fn orphans_end(orphans: &[Proc], seed: u64) {
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut left: Vec<&Proc> = orphans.iter().filter(|p| alive(p)).collect();
    while !left.is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
        left.retain(|p| alive(p));
    }
    assert!(left.is_empty(), "seed {seed}: left by kill -9: {left:?}");
}

/// 1,000 messages through qmail-inject while qmail-send is killed with -9
/// four times (once right after a start, in the todo pass, and at three
/// delivered counts) and restarted, and qmail-local processes are killed
/// mid-delivery (every eighth message naps in a program first). Afterwards
/// every message is in the Maildir at least once, nothing bounced, what ran
/// below each killed qmail-send has ended, and the queue is empty (a mess file that a kill between info's unlink and the
/// foop left behind is aged and removed by qmail-send's cleanup, as the
/// original's would be after 36 hours).
#[test]
fn kill_9_during_1000_messages_loses_nothing() {
    crash(Mode::Single);
}

/// The same with the real uids, set-uid qmail-queue and qmail-getpw.
#[test]
fn kill_9_during_1000_messages_as_root_with_real_users() {
    crash(Mode::Root);
}

fn crash(mode: Mode) {
    const N: usize = 1000;
    const INJECTORS: usize = 8;
    let seed = seed();
    eprintln!(
        "send_e2e: {mode:?} crash seed {seed} (QMAILRS_E2E_SEED={seed} repeats the kill plan)"
    );
    let mut rng = Rng(seed);
    let first_kill = Duration::from_millis(rng.below(150));
    let mut points: Vec<usize> = (0..3).map(|_| 100 + rng.below(700) as usize).collect();
    points.sort();
    let local_seed = rng.next();
    eprintln!(
        "send_e2e: {mode:?} seed {seed}: kill -9 qmail-send after {first_kill:?}, \
         then at {points:?} delivered"
    );

    let h = Arc::new(Host::new(mode));
    // The mailbox home is the killer's mark: one root host at a time.
    let _one = (h.mode == Mode::Root).then(|| ROOT_HOME.lock().unwrap_or_else(|e| e.into_inner()));
    let began = Instant::now();
    let mut send = h.start();
    // Each injector is one shell loop of qmail-inject calls (one mount
    // namespace per loop as root, not one per message).
    let mut workers: Vec<Child> = (0..INJECTORS)
        .map(|w| {
            h.run(Path::new("/bin/sh"), true)
                .args(["-c", INJECT_LOOP, "sh"])
                .arg(h.q_seen.join("bin/qmail-inject"))
                .arg(h.addr("bounce"))
                .arg(&h.user)
                .args([w, N, INJECTORS].map(|n| n.to_string()))
                .stdin(Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    let stop_killing = Arc::new(AtomicBool::new(false));
    let local_kills = Arc::new(AtomicUsize::new(0));
    let killer = local_killer(
        h.home_seen.clone(),
        local_seed,
        40,
        stop_killing.clone(),
        local_kills.clone(),
    );

    std::thread::sleep(first_kill);
    let mut orphans = Vec::new();
    kill_9(&mut send, &mut orphans);
    send = h.start();
    let mut send_kills = 1;
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut last_alrm = Instant::now();
    loop {
        let delivered = count(&h.home.join("Maildir/new"));
        if send_kills <= points.len() && delivered >= points[send_kills - 1] {
            kill_9(&mut send, &mut orphans);
            send = h.start();
            send_kills += 1;
        }
        workers.retain_mut(|w| match w.try_wait() {
            Ok(Some(st)) => {
                assert!(st.success(), "seed {seed}: an injector failed: {st}");
                false
            }
            _ => true,
        });
        let all_in = workers.is_empty();
        if all_in && send_kills > points.len() {
            stop_killing.store(true, Ordering::SeqCst);
        }
        // Killed deliveries wait 100 s for their retry; ALRM retries now.
        if last_alrm.elapsed() > Duration::from_millis(300) && alrm_ready(send.id() as i32) {
            signal(&send, Signal::SIGALRM);
            last_alrm = Instant::now();
        }
        if stop_killing.load(Ordering::SeqCst)
            && h.queue_left().iter().all(|p| stale_mess(&h, p))
            && delivered >= N
            && delivered_ids(&h).len() == N
        {
            break;
        }
        if let Ok(Some(st)) = send.try_wait() {
            panic!("seed {seed}: qmail-send exited ({st})\n{}", h.diagnose());
        }
        if Instant::now() > deadline {
            let ids = delivered_ids(&h);
            let missing: Vec<usize> = (0..N).filter(|i| !ids.contains_key(i)).take(20).collect();
            let left = h.queue_left();
            let about: Vec<String> = left
                .iter()
                .take(10)
                .map(|p| format!("{} {:?}", p.display(), fs::read(p).unwrap_or_default()))
                .collect();
            panic!(
                "seed {seed}: not done after 120 s: {} of {N} delivered, missing {missing:?}, \
                 {} injectors running, left in the queue {about:#?}\n{}",
                ids.len(),
                workers.len(),
                h.diagnose()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    killer.join().unwrap();
    let st = stop(&h, &mut send);
    assert_eq!(st.code(), Some(0), "{st}");
    orphans_end(&orphans, seed);
    let stale = finish_stale(&h, seed);

    let ids = delivered_ids(&h);
    let dups: usize = ids.values().map(|n| n - 1).sum();
    assert!((0..N).all(|i| ids.contains_key(&i)));
    assert_eq!(count(&h.home.join("Bounces/new")), 0, "something bounced");
    for p in files(&h.home.join("Maildir/new")) {
        assert_eq!(owner_mode(&p), (h.owner.0, 0o600), "{}", p.display());
    }
    assert!(h.queue_empty());
    let text = h.log_text();
    assert!(
        !text
            .lines()
            .any(|l| mask(l).starts_with("delivery N: failure")),
        "seed {seed}: {text}"
    );
    let locals = local_kills.load(Ordering::SeqCst);
    assert_eq!(send_kills, 4);
    assert!(
        locals > 0,
        "seed {seed}: no qmail-local was caught mid-delivery"
    );
    eprintln!(
        "send_e2e: {:?} seed {seed}: {N} messages, qmail-send killed {send_kills} times, \
         qmail-local {locals} times, {dups} duplicates, {stale} stale mess files, \
         {} processes below killed qmail-sends ended, {:?}",
        h.mode,
        orphans.len(),
        began.elapsed()
    );
}
