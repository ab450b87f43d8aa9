//! qmail-start + qmail-send + qmail-lspawn + qmail-clean + qmail-local end
//! to end, in single-user mode: todo entries written by a small helper
//! (the queue's own qmail-queue is not needed), deliveries into Maildir,
//! mbox, program and forward targets, bounces, the log lines, queue
//! continuity with a netqmail-left queue, and a kill -9 crash test.

mod tmpfs_support;

use std::fs;
use std::io::Write;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Root {
    _dir: tempfile::TempDir,
    root: PathBuf,
    home: PathBuf,
    user: PathBuf,
}

fn bin_dir() -> PathBuf {
    Path::new(env!("CARGO_BIN_EXE_qmail-send"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn setup() -> Root {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_path_buf();
    let home = root.join("var/qmail");
    qmail::hier::install(&home).unwrap();
    qmail::hier::link_programs(&home, &bin_dir()).unwrap();
    for b in [
        "qmail-send",
        "qmail-clean",
        "qmail-start",
        "qmail-lspawn",
        "qmail-rspawn",
        "qmail-local",
        "qmail-getpw",
        "qmail-newu",
    ] {
        let dst = home.join("bin").join(b);
        if !dst.exists() {
            std::os::unix::fs::symlink(bin_dir().join(b), dst).unwrap();
        }
    }
    // A stand-in qmail-queue that records each injection.
    let qq = home.join("bin/qmail-queue");
    let _ = fs::remove_file(&qq);
    fs::create_dir_all(root.join("qq")).unwrap();
    fs::write(
        &qq,
        format!(
            "#!/bin/sh\nf={}/qq/$$\ncat > $f.msg\ncat <&1 > $f.env\nexit 0\n",
            root.display()
        ),
    )
    .unwrap();
    fs::set_permissions(&qq, fs::Permissions::from_mode(0o755)).unwrap();
    fs::write(home.join("control/me"), "example.org\n").unwrap();
    fs::write(home.join("control/locals"), "example.org\n").unwrap();
    let user = root.join("home/joe");
    for d in ["Maildir/tmp", "Maildir/new", "Maildir/cur"] {
        fs::create_dir_all(user.join(d)).unwrap();
    }
    fs::set_permissions(&user, fs::Permissions::from_mode(0o755)).unwrap();
    let w = |n: &str, t: &str| {
        fs::write(user.join(n), t).unwrap();
        fs::set_permissions(user.join(n), fs::Permissions::from_mode(0o644)).unwrap();
    };
    w(".qmail-mbox", "./Mailbox\n");
    w(".qmail-prog", "|cat >> prog.out\n");
    w(".qmail-fwd", "&other@far.example\n");
    w(".qmail-later", "|echo not now; exit 111\n");
    let alias = root.join("home/alias");
    fs::create_dir_all(&alias).unwrap();
    fs::set_permissions(&alias, fs::Permissions::from_mode(0o755)).unwrap();
    let (uid, gid) = (
        nix::unistd::geteuid().as_raw(),
        nix::unistd::getegid().as_raw(),
    );
    fs::write(
        home.join("users/assign"),
        format!(
            "=joe:joe:{uid}:{gid}:{u}:::\n+joe-:joe:{uid}:{gid}:{u}:-::\n+:alias:{uid}:{gid}:{a}:-::\n.\n",
            u = user.display(),
            a = alias.display()
        ),
    )
    .unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_qmail-newu"))
        .env("QMAILRS_ROOT", &root)
        .output()
        .unwrap();
    assert!(o.status.success());
    Root {
        _dir: dir,
        root,
        home,
        user,
    }
}

/// Put a message into the queue as qmail-queue would (mess, intd, todo).
fn inject(r: &Root, id: u64, sender: &str, rcpts: &[&str], body: &str) {
    let q = r.home.join("queue");
    let s = id % 23;
    fs::write(q.join(format!("mess/{s}/{id}")), body).unwrap();
    let mut t = format!("u1002\0p{}\0F{sender}\0", 4000 + id).into_bytes();
    for rc in rcpts {
        t.extend_from_slice(format!("T{rc}\0").as_bytes());
    }
    fs::write(q.join(format!("intd/{id}")), &t).unwrap();
    fs::hard_link(q.join(format!("intd/{id}")), q.join(format!("todo/{id}"))).unwrap();
}

fn trigger(r: &Root) {
    if let Ok(mut f) = fs::OpenOptions::new()
        .write(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(r.home.join("queue/lock/trigger"))
    {
        let _ = f.write_all(b"x");
    }
}

fn start(r: &Root, log: &Path) -> Child {
    let path = format!(
        "{}:{}",
        r.home.join("bin").display(),
        std::env::var("PATH").unwrap_or_default()
    );
    Command::new(env!("CARGO_BIN_EXE_qmail-start"))
        .arg("./Maildir/")
        .env("PATH", path)
        .env("QMAILRS_ROOT", &r.root)
        .env("QMAILRS_SINGLE_USER", "1")
        .env_remove("QMAILQUEUE")
        .stdin(Stdio::null())
        .stdout(
            fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(log)
                .unwrap(),
        )
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

fn stop(c: &mut Child) {
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(c.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = c.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = c.kill();
    panic!("qmail-send did not stop on TERM");
}

fn wait_for(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if f() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("timed out waiting for {what}");
}

fn count(dir: &Path) -> usize {
    fs::read_dir(dir).map(|d| d.count()).unwrap_or(0)
}

fn queue_empty(r: &Root) -> bool {
    let q = r.home.join("queue");
    (0..23).all(|s| count(&q.join(format!("info/{s}"))) == 0) && count(&q.join("todo")) == 0
}

/// Replace the variable fields of a log line (ids, delivery numbers, qp).
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

#[test]
fn deliveries_bounces_and_log_lines() {
    let r = setup();
    let log = r.root.join("send.log");
    let mut c = start(&r, &log);
    inject(
        &r,
        100,
        "sender@remote.example",
        &[
            "joe@example.org",
            "joe-mbox@example.org",
            "joe-prog@example.org",
            "joe-fwd@example.org",
        ],
        "Subject: one\n\nFrom here\n",
    );
    inject(
        &r,
        101,
        "testuser@example.org",
        &["nosuchuser@example.org"],
        "Subject: bounce me\n\nx\n",
    );
    trigger(&r);
    wait_for("queue to drain", || queue_empty(&r));
    stop(&mut c);

    let md = count(&r.user.join("Maildir/new"));
    assert_eq!(md, 1);
    let mbox = fs::read_to_string(r.user.join("Mailbox")).unwrap();
    assert!(mbox.starts_with("From sender@remote.example "));
    assert!(mbox.ends_with("Return-Path: <sender@remote.example>\nDelivered-To: joe-mbox@example.org\nSubject: one\n\n>From here\n\n"));
    assert_eq!(
        fs::read_to_string(r.user.join("prog.out")).unwrap(),
        "Subject: one\n\nFrom here\n"
    );
    // Forward and bounce went through qmail-queue.
    let mut envs: Vec<(Vec<u8>, Vec<u8>)> = fs::read_dir(r.root.join("qq"))
        .unwrap()
        .filter_map(|e| {
            let p = e.unwrap().path();
            (p.extension()? == "env").then(|| {
                (
                    fs::read(&p).unwrap(),
                    fs::read(p.with_extension("msg")).unwrap(),
                )
            })
        })
        .collect();
    envs.sort();
    assert_eq!(envs.len(), 2);
    assert_eq!(envs[0].0, b"F\0Ttestuser@example.org\0\0");
    let bounce = String::from_utf8(envs[0].1.clone()).unwrap();
    let want = "From: MAILER-DAEMON@example.org\nTo: testuser@example.org\nSubject: failure notice\n\nHi. This is the qmail-send program at example.org.\nI'm afraid I wasn't able to deliver your message to the following addresses.\nThis is a permanent error; I've given up. Sorry it didn't work out.\n\n<nosuchuser@example.org>:\nSorry, no mailbox here by that name. (#5.1.1)\n\n--- Below this line is a copy of the message.\n\nReturn-Path: <testuser@example.org>\nSubject: bounce me\n\nx\n";
    assert!(bounce.starts_with("Date: "), "{bounce}");
    assert_eq!(bounce.split_once('\n').unwrap().1, want);
    assert_eq!(envs[1].0, b"Fsender@remote.example\0Tother@far.example\0\0");
    assert_eq!(
        envs[1].1,
        b"Delivered-To: joe-fwd@example.org\nSubject: one\n\nFrom here\n"
    );

    let text = fs::read_to_string(&log).unwrap();
    let lines: Vec<String> = text.lines().map(mask).collect();
    for want in [
        "status: local N/N remote N/N",
        "new msg N",
        "info msg N: bytes N from <sender@remote.example> qp N uid N",
        "info msg N: bytes N from <testuser@example.org> qp N uid N",
        "starting delivery N: msg N to local joe@example.org",
        "starting delivery N: msg N to local nosuchuser@example.org",
        "delivery N: success: did_N+N+N/",
        "delivery N: success: did_N+N+N/qp_N/",
        "delivery N: failure: Sorry,_no_mailbox_here_by_that_name._(#N.N.N)/",
        "bounce msg N qp N",
        "end msg N",
        "status: exiting",
    ] {
        assert!(
            lines.iter().any(|l| l == want),
            "missing {want:?} in\n{text}"
        );
    }
    // The recorded bounce sequence, in order. The other message's
    // deliveries run concurrently and may log in between: leave out
    // their lines (a success and the status line after it).
    let mut seq: Vec<&String> = Vec::new();
    let mut after_success = false;
    for l in lines
        .iter()
        .skip_while(|l| !l.starts_with("delivery N: failure"))
    {
        let other = l.starts_with("delivery N: success") || l.starts_with("starting delivery");
        let its_status = after_success && l.starts_with("status: ");
        if !(other || its_status) {
            seq.push(l);
        }
        after_success = other;
        if seq.len() == 4 {
            break;
        }
    }
    assert_eq!(
        seq,
        [
            "delivery N: failure: Sorry,_no_mailbox_here_by_that_name._(#N.N.N)/",
            "status: local N/N remote N/N",
            "bounce msg N qp N",
            "end msg N"
        ]
    );
    assert!(text.contains("status: local 1/10 remote 0/20\n"));
}

#[test]
fn deferral_keeps_the_message_and_term_saves_the_schedule() {
    let r = setup();
    let log = r.root.join("send.log");
    let mut c = start(&r, &log);
    inject(
        &r,
        200,
        "s@x",
        &["joe-later@example.org"],
        "Subject: later\n\n",
    );
    trigger(&r);
    wait_for("deferral", || {
        fs::read_to_string(&log)
            .unwrap_or_default()
            .contains("deferral")
    });
    stop(&mut c);
    let text = fs::read_to_string(&log).unwrap();
    assert!(
        text.lines()
            .any(|l| mask(l) == "delivery N: deferral: not_now/"),
        "{text}"
    );
    let local = r.home.join(format!("queue/local/{}/200", 200 % 23));
    let info = r.home.join(format!("queue/info/{}/200", 200 % 23));
    assert_eq!(fs::read(&local).unwrap(), b"Tjoe-later@example.org\0");
    // The next attempt is birth + (isqrt(age) + 10)^2, age 0 (or a few
    // seconds on a loaded machine).
    let birth = fs::metadata(&info).unwrap().mtime();
    let next = fs::metadata(&local).unwrap().mtime();
    assert!(
        [100, 121, 144].contains(&(next - birth)),
        "{}",
        next - birth
    );
    assert!(text.ends_with("status: exiting\n"));
}

#[test]
fn finishes_a_queue_left_by_netqmail() {
    let r = setup();
    let q = r.home.join("queue");
    // Message 300: two local recipients, the first already done.
    let id = 300u64;
    let s = id % 23;
    fs::write(q.join(format!("mess/{s}/{id}")), "Subject: left\n\nbody\n").unwrap();
    fs::write(q.join(format!("info/{s}/{id}")), "Fsender@remote.example\0").unwrap();
    fs::write(
        q.join(format!("local/{s}/{id}")),
        "Djoe-prog@example.org\0Tjoe@example.org\0",
    )
    .unwrap();
    // Message 301: all done, only the end handling is left.
    let id2 = 301u64;
    let s2 = id2 % 23;
    fs::write(q.join(format!("mess/{s2}/{id2}")), "x\n").unwrap();
    fs::write(q.join(format!("info/{s2}/{id2}")), "Fa@b\0").unwrap();
    let log = r.root.join("send.log");
    let mut c = start(&r, &log);
    wait_for("queue to drain", || {
        queue_empty(&r)
            && count(&q.join(format!("mess/{s}"))) == 0
            && count(&q.join(format!("mess/{s2}"))) == 0
    });
    stop(&mut c);
    assert_eq!(count(&r.user.join("Maildir/new")), 1);
    assert!(
        !r.user.join("prog.out").exists(),
        "a done recipient was delivered again"
    );
    let text = fs::read_to_string(&log).unwrap();
    assert!(
        text.contains("end msg 300\n") && text.contains("end msg 301\n"),
        "{text}"
    );
}

#[test]
fn kill_9_loses_nothing() {
    const N: u64 = 120;
    let r = setup();
    for i in 0..N {
        inject(
            &r,
            1000 + i,
            "s@x",
            &["joe@example.org"],
            &format!("Subject: m{i}\nX-Id: {i}\n\nbody\n"),
        );
    }
    let log = r.root.join("send.log");
    let mut c = start(&r, &log);
    trigger(&r);
    wait_for("some deliveries", || {
        count(&r.user.join("Maildir/new")) >= 10
    });
    let _ = c.kill();
    let _ = c.wait();
    // Let the spawners see EOF and finish.
    std::thread::sleep(Duration::from_millis(500));
    let mut c = start(&r, &log);
    trigger(&r);
    wait_for("queue to drain", || queue_empty(&r));
    stop(&mut c);
    let mut seen = std::collections::HashSet::new();
    for e in fs::read_dir(r.user.join("Maildir/new")).unwrap() {
        let t = fs::read_to_string(e.unwrap().path()).unwrap();
        let id = t
            .lines()
            .find_map(|l| l.strip_prefix("X-Id: "))
            .unwrap()
            .to_string();
        seen.insert(id);
    }
    assert_eq!(
        seen.len() as u64,
        N,
        "every message delivered at least once"
    );
}

/// A delivery program that hangs: netqmail has no timeout on it (qmail-local
/// waits, qmail-lspawn waits, the delivery stays open), but qmail-send
/// goes on with other deliveries meanwhile; the hung one completes when the
/// program finally exits. See: issue 4.
#[test]
fn hanging_delivery_does_not_block_others() {
    let r = setup();
    let hang = r.user.join(".qmail-hang");
    fs::write(
        &hang,
        "|while [ ! -e release ]; do sleep 0.05; done; cat > hang.out\n",
    )
    .unwrap();
    fs::set_permissions(&hang, fs::Permissions::from_mode(0o644)).unwrap();
    let log = r.root.join("send.log");
    let mut c = start(&r, &log);
    inject(
        &r,
        500,
        "s@x",
        &["joe-hang@example.org"],
        "Subject: hang\n\n",
    );
    trigger(&r);
    wait_for("the hanging delivery to start", || {
        fs::read_to_string(&log)
            .unwrap_or_default()
            .contains("to local joe-hang@example.org")
    });
    inject(
        &r,
        501,
        "s@x",
        &["joe-prog@example.org"],
        "Subject: other\n\n",
    );
    trigger(&r);
    wait_for("the other delivery", || r.user.join("prog.out").exists());
    wait_for("its message to leave the queue", || {
        !r.home.join(format!("queue/info/{}/501", 501 % 23)).exists()
    });
    assert!(!r.user.join("hang.out").exists());
    assert!(r.home.join(format!("queue/info/{}/500", 500 % 23)).exists());
    fs::write(r.user.join("release"), b"").unwrap();
    wait_for("queue to drain", || queue_empty(&r));
    stop(&mut c);
    assert_eq!(
        fs::read_to_string(r.user.join("hang.out")).unwrap(),
        "Subject: hang\n\n"
    );
    let text = fs::read_to_string(&log).unwrap();
    assert_eq!(text.matches("success: did_0+0+1/").count(), 2, "{text}");
}

/// qmail-send scans todo/ at start and then only every 25 minutes
/// (SLEEP_TODO) unless lock/trigger is pulled: a message linked into
/// todo/ without a pull stays there, one pull gets it delivered at once.
/// See: issue 3.
#[test]
fn trigger_wakes_qmail_send() {
    let r = setup();
    let log = r.root.join("send.log");
    inject(&r, 600, "s@x", &["joe@example.org"], "Subject: before\n\n");
    let mut c = start(&r, &log);
    // Delivered by the start-up scan: that scan is over.
    wait_for("the start-up scan's delivery", || {
        count(&r.user.join("Maildir/new")) == 1 && queue_empty(&r)
    });
    inject(&r, 601, "s@x", &["joe@example.org"], "Subject: after\n\n");
    std::thread::sleep(Duration::from_millis(1500));
    assert!(
        r.home.join("queue/todo/601").exists(),
        "todo/601 was picked up without a trigger"
    );
    trigger(&r);
    wait_for("the triggered delivery", || {
        count(&r.user.join("Maildir/new")) == 2 && queue_empty(&r)
    });
    stop(&mut c);
}

/// Without lock/trigger qmail-send still starts (netqmail's trigger_set
/// leaves its fd at -1) and delivers what its todo scans find.
#[test]
fn qmail_send_runs_without_the_trigger_fifo() {
    let r = setup();
    fs::remove_file(r.home.join("queue/lock/trigger")).unwrap();
    inject(&r, 610, "s@x", &["joe@example.org"], "Subject: no fifo\n\n");
    let log = r.root.join("send.log");
    let mut c = start(&r, &log);
    wait_for("the delivery", || {
        count(&r.user.join("Maildir/new")) == 1 && queue_empty(&r)
    });
    stop(&mut c);
    let text = fs::read_to_string(&log).unwrap();
    assert!(!text.contains("alert:"), "{text}");
}

/// qmail-send alone, with `log` as fd 0 (where it logs) and nothing else:
/// enough to reach the sendmutex check. Its exit code and log.
fn send_alone(r: &Root) -> (Option<i32>, String) {
    let log = r.root.join("alone.log");
    let f = fs::OpenOptions::new()
        .create(true)
        .truncate(true)
        .read(true)
        .write(true)
        .open(&log)
        .unwrap();
    let s = Command::new(env!("CARGO_BIN_EXE_qmail-send"))
        .env("QMAILRS_ROOT", &r.root)
        .env("QMAILRS_SINGLE_USER", "1")
        .stdin(f)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    (s.code(), fs::read_to_string(&log).unwrap())
}

/// lock/sendmutex, as netqmail's qmail-send: opened for writing and
/// flock'ed non-blocking at start (after the controls, before the
/// spawners' concurrency bytes). A second qmail-send, ours or netqmail's
/// (both use flock), gets `already running` and 111 while the first
/// keeps delivering; a missing mutex is `unable to open mutex`.
/// See: issue 3.
#[test]
fn sendmutex_keeps_a_second_qmail_send_out() {
    let r = setup();
    let mutex = r.home.join("queue/lock/sendmutex");

    // Held by another process (as a running netqmail qmail-send holds it).
    let held = nix::fcntl::Flock::lock(
        fs::OpenOptions::new().write(true).open(&mutex).unwrap(),
        nix::fcntl::FlockArg::LockExclusiveNonblock,
    )
    .unwrap();
    assert_eq!(
        send_alone(&r),
        (
            Some(111),
            "alert: cannot start: qmail-send is already running\n".into()
        )
    );
    drop(held);

    // A second qmail-start beside a running one.
    let log = r.root.join("send.log");
    let mut first = start(&r, &log);
    wait_for("the first qmail-send to start", || {
        fs::read_to_string(&log)
            .unwrap_or_default()
            .contains("status: local 0/10 remote 0/20")
    });
    let log2 = r.root.join("send2.log");
    let mut second = start(&r, &log2);
    let status = second.wait().unwrap();
    assert_eq!(status.code(), Some(111));
    assert_eq!(
        fs::read_to_string(&log2).unwrap(),
        "alert: cannot start: qmail-send is already running\n"
    );
    inject(&r, 620, "s@x", &["joe@example.org"], "Subject: still\n\n");
    trigger(&r);
    wait_for("the first to deliver", || {
        count(&r.user.join("Maildir/new")) == 1 && queue_empty(&r)
    });
    stop(&mut first);

    // Missing.
    fs::remove_file(&mutex).unwrap();
    assert_eq!(
        send_alone(&r),
        (
            Some(111),
            "alert: cannot start: unable to open mutex\n".into()
        )
    );
}

/// A full disk under the Maildir (a tmpfs in a private mount namespace):
/// qmail-local's "Temporary error on maildir delivery." is a deferral,
/// the message stays queued, and once there is room a retry (SIGALRM:
/// retry everything now) delivers it. See: issue 4.
#[test]
fn full_maildir_defers_and_the_retry_delivers() {
    if !tmpfs_support::enter("full_maildir_defers_and_the_retry_delivers") {
        return;
    }
    let r = setup();
    let md = tmpfs_support::Tmpfs::mount(&r.user.join("Maildir"), "size=256k,mode=0700");
    for d in ["tmp", "new", "cur"] {
        fs::create_dir(md.path.join(d)).unwrap();
    }
    md.fill(0);
    let log = r.root.join("send.log");
    let mut c = start(&r, &log);
    let body = format!("Subject: full\n\n{}\n", "z".repeat(20_000));
    inject(&r, 600, "s@x", &["joe@example.org"], &body);
    trigger(&r);
    wait_for("the deferral", || {
        fs::read_to_string(&log)
            .unwrap_or_default()
            .contains("deferral")
    });
    let text = fs::read_to_string(&log).unwrap();
    assert!(
        text.lines()
            .any(|l| mask(l)
                == "delivery N: deferral: Temporary_error_on_maildir_delivery._(#N.N.N)/"),
        "{text}"
    );
    assert_eq!(count(&md.path.join("tmp")), 0);
    assert_eq!(count(&md.path.join("new")), 0);
    assert!(r.home.join(format!("queue/info/{}/600", 600 % 23)).exists());
    md.unfill();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(c.id() as i32),
        nix::sys::signal::Signal::SIGALRM,
    )
    .unwrap();
    wait_for("queue to drain", || queue_empty(&r));
    stop(&mut c);
    let new: Vec<_> = fs::read_dir(md.path.join("new")).unwrap().collect();
    assert_eq!(new.len(), 1);
    let got = fs::read_to_string(new[0].as_ref().unwrap().path()).unwrap();
    assert!(got.ends_with(&body), "{got}");
}
