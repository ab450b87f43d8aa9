//! The delivery-side tools added for issue #4: qmail-pw2u, qbiff,
//! qreceipt (through our real qmail-queue), qsmhook, maildir2mbox,
//! maildirwatch, tcp-env, splogger (against a Unix datagram socket) and
//! the qail/elq/pinq scripts.

mod local_support;

use std::fs;
use std::io::Read;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use local_support::{bin_dir, root_with_queue, run, text};

/// The messages sitting in the queue: (envelope todo bytes, message).
fn queued(root: &Path) -> Vec<(Vec<u8>, Vec<u8>)> {
    let q = root.join("var/qmail/queue");
    let mut out = Vec::new();
    for e in fs::read_dir(q.join("todo")).unwrap() {
        let e = e.unwrap();
        let id: u64 = e.file_name().to_str().unwrap().parse().unwrap();
        let mess = q.join(format!("mess/{}/{id}", id % 23));
        out.push((fs::read(e.path()).unwrap(), fs::read(mess).unwrap()));
    }
    out
}

#[test]
fn pw2u_options_and_files() {
    let d = tempfile::tempdir().unwrap();
    let home = d.path().join("var/qmail");
    fs::create_dir_all(home.join("users")).unwrap();
    let joe = d.path().join("joe");
    fs::create_dir(&joe).unwrap();
    // uid 0 is never listed: as root, give the home to another uid.
    let uid = match nix::unistd::geteuid().as_raw() {
        0 => {
            nix::unistd::chown(&joe, Some(nix::unistd::Uid::from_raw(4321)), None).unwrap();
            4321
        }
        u => u,
    };
    let pw = format!(
        "root:x:0:0::/root:/bin/sh\nalias:x:{uid}:5::{j}:\njoe:x:{uid}:6:Joe:{j}:/bin/sh\n\
         Ann:x:{uid}:7::{j}:\ngone:x:{uid}:8::{j}/nowhere:\nbad\0:x:{uid}:9::{j}:\n",
        j = joe.display()
    );
    let pw2u = env!("CARGO_BIN_EXE_qmail-pw2u");
    let o = run(pw2u, &[], d.path(), &[], pw.as_bytes());
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let j = joe.display();
    assert_eq!(
        text(&o.stdout),
        format!(
            "+:alias:{uid}:5:{j}:-::\n=alias:alias:{uid}:5:{j}:::\n+alias-:alias:{uid}:5:{j}:-::\n\
             =joe:joe:{uid}:6:{j}:::\n+joe-:joe:{uid}:6:{j}:-::\n.\n"
        )
    );
    // -u keeps Ann; -C drops the + lines; -/ and -c.
    let o = run(pw2u, &["-u", "-C"], d.path(), &[], pw.as_bytes());
    let out = text(&o.stdout);
    assert!(
        out.contains(&format!("=ann:Ann:{uid}:7:{j}:::\n"))
            || out.contains(&format!("=Ann:Ann:{uid}:7:{j}:::\n")),
        "{out}"
    );
    assert!(!out.contains('+') || out.starts_with("+:alias"), "{out}");
    let o = run(pw2u, &["-/", "-c+"], d.path(), &[], pw.as_bytes());
    assert!(text(&o.stdout).contains(&format!("+joe+:joe:{uid}:6:{j}:-/::\n")));
    // -h: a missing home is fatal; -H: no home checks.
    let o = run(pw2u, &["-h"], d.path(), &[], pw.as_bytes());
    assert_eq!(o.status.code(), Some(111));
    assert_eq!(
        text(&o.stderr),
        format!("qmail-pw2u: fatal: unable to stat {j}/nowhere\n")
    );
    assert!(o.stdout.is_empty());
    let o = run(pw2u, &["-H"], d.path(), &[], pw.as_bytes());
    assert!(text(&o.stdout).contains(&format!("=gone:gone:{uid}:8:{j}/nowhere:::\n")));
    // Bad option.
    let o = run(pw2u, &["-z"], d.path(), &[], pw.as_bytes());
    assert_eq!(o.status.code(), Some(100));
    assert_eq!(text(&o.stderr), "qmail-pw2u: illegal option -- z\n");
    // include / exclude / mailnames / subusers / append.
    let u = home.join("users");
    fs::write(u.join("include"), "alias\njoe\ngone\n").unwrap();
    fs::write(u.join("exclude"), "gone\n").unwrap();
    fs::write(u.join("mailnames"), "joe:joe.bloggs:jb\n").unwrap();
    fs::write(u.join("subusers"), "list:joe:list-:\n").unwrap();
    fs::write(u.join("append"), "=extra:joe:1:2:/x:::\n").unwrap();
    let o = run(pw2u, &[], d.path(), &[], pw.as_bytes());
    assert_eq!(
        text(&o.stdout),
        format!(
            "+:alias:{uid}:5:{j}:-::\n=alias:alias:{uid}:5:{j}:::\n+alias-:alias:{uid}:5:{j}:-::\n\
             =joe.bloggs:joe:{uid}:6:{j}:::\n+joe.bloggs-:joe:{uid}:6:{j}:-::\n\
             =jb:joe:{uid}:6:{j}:::\n+jb-:joe:{uid}:6:{j}:-::\n\
             =list:joe:{uid}:6:{j}:-:list-:\n+list-:joe:{uid}:6:{j}:-:list--:\n\
             =extra:joe:1:2:/x:::\n.\n"
        )
    );
    fs::write(u.join("subusers"), "list:nobody:x:\n").unwrap();
    let o = run(pw2u, &[], d.path(), &[], pw.as_bytes());
    assert_eq!(
        text(&o.stderr),
        "qmail-pw2u: fatal: unable to find nobody user for subuser\n"
    );
    let o = run(pw2u, &[], d.path(), &[], b"joe:x:5:5::/:\n");
    assert_eq!(
        text(&o.stderr),
        "qmail-pw2u: fatal: unable to find alias user\n"
    );
    assert_eq!(o.status.code(), Some(111));
}

/// One glibc `struct utmp` record (384 bytes).
fn utmp_record(kind: i16, line: &str, user: &str) -> Vec<u8> {
    let mut r = vec![0u8; 384];
    r[..2].copy_from_slice(&kind.to_ne_bytes());
    r[8..8 + line.len()].copy_from_slice(line.as_bytes());
    r[44..44 + user.len()].copy_from_slice(user.as_bytes());
    r
}

#[test]
fn qbiff_writes_to_biff_ttys() {
    let d = tempfile::tempdir().unwrap();
    let dev = d.path().join("dev");
    fs::create_dir_all(&dev).unwrap();
    fs::create_dir_all(d.path().join("var/run")).unwrap();
    for (tty, mode) in [("tty1", 0o700), ("tty2", 0o600), ("tty3", 0o700)] {
        fs::write(dev.join(tty), "").unwrap();
        fs::set_permissions(dev.join(tty), fs::Permissions::from_mode(mode)).unwrap();
    }
    let mut utmp = utmp_record(7, "tty1", "joe");
    utmp.extend(utmp_record(7, "tty2", "joe")); // biff n
    utmp.extend(utmp_record(8, "tty3", "joe")); // DEAD_PROCESS
    utmp.extend(utmp_record(7, "tty3", "ann"));
    utmp.extend(utmp_record(7, "../x", "joe"));
    fs::write(d.path().join("var/run/utmp"), utmp).unwrap();
    let o = run(
        env!("CARGO_BIN_EXE_qbiff"),
        &[],
        d.path(),
        &[("USER", "joe"), ("SENDER", "a@b\x01"), ("LOCAL", "joe-x")],
        b"Received: x\nSubject: hello\tthere\n\nbody line one\nbody line two is long enough to be cut somewhere around here ok\n",
    );
    assert_eq!(o.status.code(), Some(0));
    let got = fs::read(dev.join("tty1")).unwrap();
    let want = "\r\n\x07*** TO <joe-x> FROM <a@b_>\r\n    hello/there//body line one/body line two is long enough to be cut somewher\r\n";
    assert_eq!(text(&got), want);
    assert_eq!(fs::read(dev.join("tty2")).unwrap(), b"");
    assert_eq!(fs::read(dev.join("tty3")).unwrap(), b"");
}

#[test]
fn qreceipt_queues_a_notice() {
    let d = root_with_queue();
    let qr = env!("CARGO_BIN_EXE_qreceipt");
    let msg = b"Message-ID: <1@x>\nNotice-Requested-Upon-Delivery-To: Joe <joe@example.org>, \"other\"@x\nSubject: s\n\nbody\n";
    let o = run(
        qr,
        &["joe@example.org"],
        d.path(),
        &[("SENDER", "who@far.example")],
        msg,
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let q = queued(d.path());
    assert_eq!(q.len(), 1);
    let (env, mess) = &q[0];
    assert!(env.ends_with(b"F\0Twho@far.example\0"), "{}", text(env));
    let mess = text(mess);
    let body = mess.split_once("\n").unwrap().1; // after our Received line
    assert_eq!(
        body,
        "From: DELIVERY NOTICE SYSTEM <who@far.example>\nTo: <who@far.example>\nSubject: success notice\n\n\
         Hi! This is the qreceipt program. Your message was delivered to the\n\
         following address: joe@example.org. Thanks for asking.\nYour Message-ID: <1@x>\n"
    );
    // Not asked for this address, bounce sender, usage, parse error.
    let o = run(
        qr,
        &["ann@example.org"],
        d.path(),
        &[("SENDER", "who@far.example")],
        msg,
    );
    assert_eq!(o.status.code(), Some(0));
    let o = run(qr, &["other@x"], d.path(), &[("SENDER", "#@[]")], msg);
    assert_eq!(o.status.code(), Some(0));
    let o = run(qr, &["other@x"], d.path(), &[("SENDER", "")], msg);
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(queued(d.path()).len(), 1);
    let o = run(qr, &[], d.path(), &[("SENDER", "a@b")], msg);
    assert_eq!(o.status.code(), Some(100));
    assert_eq!(
        text(&o.stderr),
        "qreceipt: usage: qreceipt deliveryaddress\n"
    );
    let bad = b"Notice-Requested-Upon-Delivery-To: )a@b\n\n";
    let o = run(qr, &["a@b"], d.path(), &[("SENDER", "a@b")], bad);
    assert_eq!(o.status.code(), Some(100), "{}", text(&o.stderr));
    assert_eq!(
        text(&o.stderr),
        "qreceipt: fatal: unable to parse this: Notice-Requested-Upon-Delivery-To: )a@b\n"
    );
}

#[test]
fn qsmhook_runs_the_command() {
    let d = tempfile::tempdir().unwrap();
    let env = [
        ("DTLINE", "Delivered-To: joe-list@h\n"),
        ("RPLINE", "Return-Path: <s@x>\n"),
        ("UFLINE", "From s@x Thu Jan  1 00:00:00 1970\n"),
        ("LOCAL", "Joe-list"),
        ("HOST", "h"),
        ("SENDER", "s@x"),
    ];
    let qs = env!("CARGO_BIN_EXE_qsmhook");
    let o = run(
        qs,
        &[
            "-x",
            "joe-",
            "-P",
            "-l",
            "-m",
            "sh",
            "-c",
            "echo \"$0 $1\"; cat; exit 3",
            "%u%%",
            "%g@%h%z",
        ],
        d.path(),
        &env,
        b"body\n",
    );
    assert_eq!(o.status.code(), Some(3));
    assert_eq!(
        text(&o.stdout),
        "list% s@x@h\nFrom s@x Thu Jan  1 00:00:00 1970\nReturn-Path: <s@x>\nDelivered-To: joe-list@h\nbody\n"
    );
    let o = run(qs, &["-n", "cat"], d.path(), &env, b"body\n");
    assert_eq!(text(&o.stdout), "body\n");
    let o = run(qs, &["/nonexistent/prog"], d.path(), &env, b"");
    assert_eq!(o.status.code(), Some(100));
    assert_eq!(text(&o.stderr), "qsmhook: fatal: command not found\n");
    let o = run(qs, &["cat"], d.path(), &env[1..], b"");
    assert_eq!(o.status.code(), Some(100));
    assert_eq!(text(&o.stderr), "qsmhook: fatal: incorrect usage\n");
    let o = run(qs, &["sh", "-c", "kill -9 $$"], d.path(), &env, b"");
    assert_eq!(o.status.code(), Some(111));
    assert_eq!(text(&o.stderr), "qsmhook: fatal: temporary problem\n");
}

fn set_mtime(p: &Path, t: i64) {
    let f = fs::File::options().write(true).open(p).unwrap();
    f.set_modified(std::time::UNIX_EPOCH + Duration::from_secs(t as u64))
        .unwrap();
}

#[test]
fn maildir2mbox_moves_mail() {
    let d = tempfile::tempdir().unwrap();
    let md = d.path().join("Maildir");
    for s in ["tmp", "new", "cur"] {
        fs::create_dir_all(md.join(s)).unwrap();
    }
    fs::write(
        md.join("new/2"),
        "Return-Path: <a b@x>\nFrom me\n>From you\nlast",
    )
    .unwrap();
    set_mtime(&md.join("new/2"), 86400 + 60);
    fs::write(md.join("cur/1:2,S"), "Return-Path: <>\n\nbody\n").unwrap();
    set_mtime(&md.join("cur/1:2,S"), 86400);
    fs::write(md.join("new/3"), "no return path\n").unwrap();
    set_mtime(&md.join("new/3"), 2 * 86400);
    fs::write(md.join("new/.hidden"), "x").unwrap();
    fs::write(md.join("tmp/old"), "x").unwrap();
    let old = fs::File::options()
        .write(true)
        .open(md.join("tmp/old"))
        .unwrap();
    old.set_times(
        fs::FileTimes::new()
            .set_accessed(std::time::UNIX_EPOCH + Duration::from_secs(1000))
            .set_modified(std::time::UNIX_EPOCH + Duration::from_secs(1000)),
    )
    .unwrap();
    drop(old);
    fs::write(
        d.path().join("mbox"),
        "From old Thu Jan  1 00:00:00 1970\nold\n\n",
    )
    .unwrap();
    let mail = d.path().join("mbox");
    let tmp = d.path().join("mbox.tmp");
    let m2m = env!("CARGO_BIN_EXE_maildir2mbox");
    let env = [
        ("MAILDIR", md.to_str().unwrap()),
        ("MAIL", mail.to_str().unwrap()),
        ("MAILTMP", tmp.to_str().unwrap()),
    ];
    let o = run(m2m, &[], d.path(), &env, b"");
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert_eq!(
        fs::read_to_string(&mail).unwrap(),
        "From old Thu Jan  1 00:00:00 1970\nold\n\n\
         From MAILER-DAEMON Fri Jan 02 00:00:00 1970\nReturn-Path: <>\n\nbody\n\n\
         From a-b@x Fri Jan 02 00:01:00 1970\nReturn-Path: <a b@x>\n>From me\n>>From you\n\n\
         From XXX Sat Jan 03 00:00:00 1970\nno return path\n\n"
    );
    assert_eq!(fs::metadata(&mail).unwrap().mode() & 0o777, 0o600);
    assert!(!tmp.exists());
    assert!(!md.join("tmp/old").exists());
    assert!(md.join("new/.hidden").exists());
    assert_eq!(fs::read_dir(md.join("cur")).unwrap().count(), 0);
    // Nothing new: the mbox is left alone.
    let o = run(m2m, &[], d.path(), &env, b"");
    assert_eq!(o.status.code(), Some(0));
    for (drop_var, msg) in [
        ("MAIL", "maildir2mbox: fatal: MAIL not set\n"),
        ("MAILTMP", "maildir2mbox: fatal: MAILTMP not set\n"),
        ("MAILDIR", "maildir2mbox: fatal: MAILDIR not set\n"),
    ] {
        let mut c = Command::new(m2m);
        for (k, v) in env {
            if k != drop_var {
                c.env(k, v);
            }
        }
        let o = c.env_remove(drop_var).output().unwrap();
        assert_eq!(o.status.code(), Some(111));
        assert_eq!(text(&o.stderr), msg);
    }
    let o = run(
        m2m,
        &[],
        d.path(),
        &[("MAILDIR", "/nonexistent"), env[1], env[2]],
        b"",
    );
    assert_eq!(
        text(&o.stderr),
        "maildir2mbox: fatal: unable to chdir to /nonexistent: file does not exist\n"
    );
}

#[test]
fn maildirwatch_shows_new_mail() {
    let d = tempfile::tempdir().unwrap();
    let md = d.path().join("Maildir");
    for s in ["tmp", "new", "cur"] {
        fs::create_dir_all(md.join(s)).unwrap();
    }
    fs::write(
        md.join("new/1"),
        "Return-Path: <s@x>\nDelivered-To: joe@h\nFrom: Sam <s@x>\nSubject: hi\n\nline\x01\n",
    )
    .unwrap();
    set_mtime(&md.join("new/1"), 1000);
    let mut c = Command::new(env!("CARGO_BIN_EXE_maildirwatch"))
        .env("MAILDIR", &md)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = c.stdout.take().unwrap();
    let want = "\x1b[;H\x1b[;JFROM <s@x> TO <joe@h>\n\x1b[1mFrom: Sam <s@x>\x1b[0m\nhi//line//\n\n";
    let mut got = vec![0u8; want.len()];
    out.read_exact(&mut got).unwrap();
    let _ = c.kill();
    let _ = c.wait();
    assert_eq!(text(&got), want);
    let o = Command::new(env!("CARGO_BIN_EXE_maildirwatch"))
        .env_remove("MAILDIR")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(111));
    assert_eq!(text(&o.stderr), "maildirwatch: fatal: MAILDIR not set\n");
}

#[test]
fn tcp_env_sets_the_variables() {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let client = std::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
    let (server, _) = l.accept().unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_tcp-env"))
        .args([
            "-t1",
            "-l",
            "sh",
            "-c",
            "env | grep ^TCP | sort; echo PROTO=$PROTO",
        ])
        .env("TCPREMOTEINFO", "stale")
        .env_remove("PROTO")
        .stdin(std::os::fd::OwnedFd::from(server))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let out = text(&o.stdout);
    let port = l.local_addr().unwrap().port();
    let cport = client.local_addr().unwrap().port();
    assert!(out.contains(&format!("TCPLOCALPORT={port}\n")), "{out}");
    assert!(out.contains("TCPLOCALIP=127.0.0.1\n"), "{out}");
    assert!(out.contains(&format!("TCPREMOTEPORT={cport}\n")), "{out}");
    assert!(out.contains("TCPREMOTEIP=127.0.0.1\n"), "{out}");
    assert!(out.contains("PROTO=TCP\n"), "{out}");
    assert!(!out.contains("TCPREMOTEINFO"), "{out}");
    // PROTO=TCP: nothing is looked at (stdin need not be a socket).
    let o = Command::new(env!("CARGO_BIN_EXE_tcp-env"))
        .args(["-R", "sh", "-c", "echo ${TCPLOCALIP-unset}"])
        .env("PROTO", "TCP")
        .env_remove("TCPLOCALIP")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(text(&o.stdout), "unset\n");
    // Not a socket, or no program: 111.
    let o = Command::new(env!("CARGO_BIN_EXE_tcp-env"))
        .arg("true")
        .env_remove("PROTO")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(111));
    let o = Command::new(env!("CARGO_BIN_EXE_tcp-env"))
        .arg("-R")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(111));
}

#[test]
fn splogger_writes_syslog_datagrams() {
    let d = tempfile::tempdir().unwrap();
    fs::create_dir_all(d.path().join("dev")).unwrap();
    let sock = UnixDatagram::bind(d.path().join("dev/log")).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let long = "y".repeat(800);
    let input = format!("new msg 1\n\nwarning: w\x01\nalert: a\n{long}\ncut off");
    let o = run(
        env!("CARGO_BIN_EXE_splogger"),
        &["qmail", "3"],
        d.path(),
        &[("TZ", "UTC")],
        input.as_bytes(),
    );
    assert_eq!(o.status.code(), Some(0));
    let mut got = Vec::new();
    let mut buf = vec![0u8; 4096];
    for _ in 0..5 {
        let n = sock.recv(&mut buf).unwrap();
        got.push(text(&buf[..n]));
    }
    sock.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    assert!(
        sock.recv(&mut buf).is_err(),
        "the unterminated last line is not logged"
    );
    // <PRI>Mmm dd hh:mm:ss qmail: SECONDS.MICROS LINE
    let check = |m: &str, pri: u32, rest: &str| {
        let (head, msg) = m.split_once(" qmail: ").unwrap();
        assert!(head.starts_with(&format!("<{pri}>")), "{m}");
        let date = &head[format!("<{pri}>").len()..];
        assert_eq!(date.len(), 15, "{m}");
        assert_eq!(&date[3..4], " ");
        assert_eq!(&date[9..10], ":");
        let (stamp, line) = msg.split_at(msg.find([' ', '+']).unwrap());
        let (secs, micros) = stamp.split_once('.').unwrap();
        assert!(secs.parse::<u64>().is_ok() && micros.len() == 6, "{m}");
        assert_eq!(line, rest, "{m}");
        stamp.to_string()
    };
    // facility 3 << 3 = 24: info 30, warning 28, alert 25.
    check(&got[0], 30, " new msg 1");
    check(&got[1], 28, " warning: w?");
    check(&got[2], 25, " alert: a");
    let s1 = check(&got[3], 30, &format!(" {}", &long[..799]));
    let s2 = check(&got[4], 30, "+y");
    assert_eq!(s1, s2, "continuation chunks keep the stamp");
    // Default tag and facility (mail = 16): info is 22.
    let o = run(env!("CARGO_BIN_EXE_splogger"), &[], d.path(), &[], b"x\n");
    assert_eq!(o.status.code(), Some(0));
    let n = sock.recv(&mut buf).unwrap();
    let m = text(&buf[..n]);
    assert!(
        m.starts_with("<22>") && m.contains(" splogger: ") && m.ends_with(" x"),
        "{m}"
    );
    // No syslog daemon: messages are dropped, exit 0.
    drop(sock);
    let o = run(env!("CARGO_BIN_EXE_splogger"), &[], d.path(), &[], b"x\n");
    assert_eq!(o.status.code(), Some(0));
}

#[test]
fn qail_elq_pinq_scripts() {
    let d = tempfile::tempdir().unwrap();
    let fake = d.path().join("fakebin");
    fs::create_dir_all(&fake).unwrap();
    for reader in ["Mail", "elm", "pine"] {
        let p = fake.join(reader);
        fs::write(&p, format!("#!/bin/sh\necho {reader} \"$@\"\n")).unwrap();
        fs::set_permissions(&p, fs::Permissions::from_mode(0o755)).unwrap();
    }
    let md = d.path().join("Maildir");
    for s in ["tmp", "new", "cur"] {
        fs::create_dir_all(md.join(s)).unwrap();
    }
    let path = format!(
        "{}:{}",
        fake.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    for (script, reader) in [("qail", "Mail"), ("elq", "elm"), ("pinq", "pine")] {
        let src = fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("src/sh/{script}.sh")),
        )
        .unwrap();
        let sh = src.replace("QMAILBIN", bin_dir().to_str().unwrap());
        let p = d.path().join(script);
        fs::write(&p, &sh).unwrap();
        fs::set_permissions(&p, fs::Permissions::from_mode(0o755)).unwrap();
        let o = Command::new("sh")
            .arg(&p)
            .args(["-f", "a b"])
            .env("PATH", &path)
            .env("MAILDIR", &md)
            .env("MAIL", d.path().join("mbox"))
            .env("MAILTMP", d.path().join("mbox.tmp"))
            .output()
            .unwrap();
        assert_eq!(
            text(&o.stdout),
            format!("{reader} -f a b\n"),
            "{}",
            text(&o.stderr)
        );
        // maildir2mbox failing stops the reader.
        let o = Command::new("sh")
            .arg(&p)
            .env("PATH", &path)
            .env_remove("MAIL")
            .output()
            .unwrap();
        assert!(o.stdout.is_empty());
        assert_eq!(o.status.code(), Some(111));
    }
}
