//! The sync plan, end to end, checked on the real system calls (strace,
//! installed by scripts/ci-deps): qmail-queue makes the mess and intd
//! bytes durable before the `todo/ID` link and the `todo` directory after
//! it; qmail-send makes info and channel files durable (one `syncfs` per
//! batch) before it asks qmail-clean to remove `todo/ID`. Dropping any
//! of these syncs, or moving it past the step it guards, fails here.
//! `mess/S` gets no directory fsync by design (the file systems on which
//! that is safe, and why it relies on nothing netqmail does not:
//! docs/internals.md, "On which file systems the order is crash-safe").
//! See: issue 3, docs/internals.md "fsync and link order".

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use qmail::queue::enqueue::SyncMode;

const SYNCS: [&str; 5] = ["fsync", "fdatasync", "syncfs", "sync", "sync_file_range"];

fn strace() -> Command {
    let ok = Command::new("strace")
        .arg("-V")
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "strace is missing: install it (scripts/ci-deps)");
    Command::new("strace")
}

/// One traced call: pid, name, the text of its start line, and whether
/// this line is where it completed (`= ...`).
#[derive(Debug)]
struct Call {
    pid: String,
    name: String,
    text: String,
    done: bool,
}

fn parse(trace: &str) -> Vec<Call> {
    trace
        .lines()
        .filter_map(|l| {
            let (pid, rest) = l.split_once(' ')?;
            let rest = rest.trim_start();
            if let Some(r) = rest.strip_prefix("<... ") {
                let name = r.split_whitespace().next()?.to_string();
                return Some(Call {
                    pid: pid.into(),
                    name,
                    text: String::new(),
                    done: true,
                });
            }
            let name = rest.split('(').next()?.to_string();
            Some(Call {
                pid: pid.into(),
                name,
                text: rest.to_string(),
                done: !rest.ends_with("<unfinished ...>"),
            })
        })
        .collect()
}

fn is_sync(c: &Call) -> bool {
    SYNCS.contains(&c.name.as_str())
}

fn install(root: &Path) -> PathBuf {
    let home = root.join("var/qmail");
    qmail::hier::install(&home).unwrap();
    home
}

/// Trace one qmail-queue run in `mode`; the calls.
fn trace_queue(mode: &str) -> Vec<Call> {
    let dir = tempfile::tempdir().unwrap();
    install(dir.path());
    let env = dir.path().join("envelope");
    fs::write(&env, b"Fs@x\0Tr@y\0\0").unwrap();
    let out = dir.path().join("trace");
    let st = strace()
        .args(["-f", "-y", "-qq", "-o"])
        .arg(&out)
        .arg("-e")
        .arg(format!("trace={},link,linkat,exit_group", SYNCS.join(",")))
        .arg(env!("CARGO_BIN_EXE_qmail-queue"))
        .env("QMAILRS_ROOT", dir.path())
        .env("QMAILRS_SINGLE_USER", "1")
        .env("QMAILRS_QUEUE_SYNC", mode)
        .stdin(Stdio::from(
            fs::File::open(dir.path().join("envelope")).unwrap(),
        ))
        .stdout(fs::File::open(&env).unwrap())
        .status()
        .unwrap();
    assert!(st.success(), "qmail-queue under strace: {st}");
    parse(&fs::read_to_string(out).unwrap())
}

fn check_queue_plan(mode: &str, sync_mode: SyncMode) {
    let calls = trace_queue(mode);
    let links: Vec<usize> = (0..calls.len())
        .filter(|&i| calls[i].name.starts_with("link"))
        .collect();
    assert_eq!(links.len(), 2, "pid→mess and intd→todo: {calls:#?}");
    let mess_link = &calls[links[0]].text;
    let pid_name = mess_link
        .split('"')
        .nth(1)
        .and_then(|p| p.rsplit('/').next())
        .unwrap()
        .to_string();
    assert!(calls[links[1]].text.contains("/todo/"), "{calls:#?}");
    let (before, after) = calls.split_at(links[1]);
    let started = |pred: &dyn Fn(&Call) -> bool| before.iter().any(|c| is_sync(c) && pred(c));
    match sync_mode {
        SyncMode::Fsync => {
            // The mess file's fd still shows the pid name it was made under.
            assert!(
                started(&|c| c.name == "fsync" && c.text.contains(&pid_name)),
                "mess file fsync before the todo link: {calls:#?}"
            );
            assert!(
                started(&|c| c.name == "fsync" && c.text.contains("/intd/")),
                "intd fsync before the todo link: {calls:#?}"
            );
        }
        SyncMode::Syncfs => {
            assert!(
                started(&|c| c.name == "syncfs"),
                "syncfs before the todo link: {calls:#?}"
            );
        }
    }
    let begun = before
        .iter()
        .filter(|c| is_sync(c) && !c.text.is_empty())
        .count();
    let finished = before.iter().filter(|c| is_sync(c) && c.done).count();
    assert_eq!(
        begun, finished,
        "every barrier sync completes before the link: {calls:#?}"
    );
    let todo_sync = after
        .iter()
        .position(|c| c.name == "fsync" && c.text.contains("/todo>"))
        .expect("fsync of todo/ after the link");
    assert!(
        after[todo_sync].done,
        "todo/ synced before exit: {calls:#?}"
    );
    let exit = after.iter().position(|c| c.name == "exit_group").unwrap();
    assert!(todo_sync < exit);
    let total = calls
        .iter()
        .filter(|c| is_sync(c) && !c.text.is_empty())
        .count();
    assert_eq!(
        total,
        sync_mode.calls(),
        "sync calls per message: {calls:#?}"
    );
}

#[test]
fn qmail_queue_syncs_mess_and_intd_before_the_todo_link_and_todo_after() {
    check_queue_plan("fsync", SyncMode::Fsync);
    check_queue_plan("syncfs", SyncMode::Syncfs);
    assert_eq!(SyncMode::default(), SyncMode::Fsync);
}

fn bin_dir() -> PathBuf {
    Path::new(env!("CARGO_BIN_EXE_qmail-send"))
        .parent()
        .unwrap()
        .to_path_buf()
}

#[test]
fn qmail_send_makes_info_and_channels_durable_before_removing_todo() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let home = install(root);
    qmail::hier::link_programs(&home, &bin_dir()).unwrap();
    for b in [
        "qmail-send",
        "qmail-clean",
        "qmail-start",
        "qmail-lspawn",
        "qmail-rspawn",
        "qmail-local",
        "qmail-getpw",
        "qmail-remote",
    ] {
        let dst = home.join("bin").join(b);
        if !dst.exists() {
            std::os::unix::fs::symlink(bin_dir().join(b), dst).unwrap();
        }
    }
    fs::write(home.join("control/me"), "example.org\n").unwrap();
    fs::write(home.join("control/locals"), "example.org\n").unwrap();
    let user = root.join("home/joe");
    for d in ["Maildir/tmp", "Maildir/new", "Maildir/cur"] {
        fs::create_dir_all(user.join(d)).unwrap();
    }
    fs::set_permissions(&user, fs::Permissions::from_mode(0o755)).unwrap();
    fs::write(user.join(".qmail-default"), "./Maildir/\n").unwrap();
    fs::set_permissions(
        user.join(".qmail-default"),
        fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    let (uid, gid) = (nix::unistd::geteuid(), nix::unistd::getegid());
    fs::write(
        home.join("users/assign"),
        format!("+:joe:{uid}:{gid}:{}:-::\n.\n", user.display()),
    )
    .unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_qmail-newu"))
        .env("QMAILRS_ROOT", root)
        .output()
        .unwrap();
    assert!(o.status.success());
    // Two messages, queued as qmail-queue leaves them; one also has a
    // remote recipient (that delivery is deferred: nothing listens).
    fs::write(home.join("control/smtproutes"), ":127.0.0.1:1\n").unwrap();
    let q = home.join("queue");
    let ids = [1001u64, 1002];
    for (n, id) in ids.iter().enumerate() {
        fs::write(
            q.join(format!("mess/{}/{id}", id % 23)),
            "Subject: x\n\nbody\n",
        )
        .unwrap();
        let mut t = b"u1\0p1\0Fs@far.example\0Tjoe@example.org\0".to_vec();
        if n == 1 {
            t.extend_from_slice(b"Tbob@far.example\0");
        }
        fs::write(q.join(format!("intd/{id}")), &t).unwrap();
        fs::hard_link(q.join(format!("intd/{id}")), q.join(format!("todo/{id}"))).unwrap();
    }
    let out = root.join("trace");
    let path = format!(
        "{}:{}",
        home.join("bin").display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut child = strace()
        .args(["-f", "-y", "-qq", "-s", "64", "-o"])
        .arg(&out)
        .arg("-e")
        .arg(format!("trace={},write", SYNCS.join(",")))
        .arg(bin_dir().join("qmail-start"))
        .arg("./Maildir/")
        .env("PATH", path)
        .env("QMAILRS_ROOT", root)
        .env("QMAILRS_SINGLE_USER", "1")
        .env_remove("QMAILQUEUE")
        .stdin(Stdio::null())
        .stdout(fs::File::create(root.join("send.log")).unwrap())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while fs::read_dir(q.join("todo")).unwrap().count() > 0 {
        assert!(
            Instant::now() < deadline,
            "todo was not processed: {}\n{}",
            fs::read_to_string(root.join("send.log")).unwrap_or_default(),
            fs::read_to_string(&out).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // TERM qmail-send itself (the pid that talks to qmail-clean).
    std::thread::sleep(Duration::from_millis(300));
    let early = parse(&fs::read_to_string(&out).unwrap());
    if let Some(pid) = early
        .iter()
        .find(|c| c.name == "write" && c.text.contains("\"todo/"))
        .and_then(|c| c.pid.parse::<i32>().ok())
    {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGTERM,
        );
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let calls = parse(&fs::read_to_string(&out).unwrap());
    let wrote = |c: &Call, what: &str| c.name == "write" && c.text.contains(what);
    for (n, id) in ids.iter().enumerate() {
        let s = id % 23;
        let clean = calls
            .iter()
            .position(|c| wrote(c, &format!("\"todo/{id}\\0\"")))
            .unwrap_or_else(|| panic!("no qmail-clean todo/{id}: {calls:#?}"));
        let send = &calls[clean].pid;
        let mut files = vec![format!("/info/{s}/{id}>"), format!("/local/{s}/{id}>")];
        if n == 1 {
            files.push(format!("/remote/{s}/{id}>"));
        }
        for f in &files {
            let w = calls
                .iter()
                .position(|c| wrote(c, f))
                .unwrap_or_else(|| panic!("{f} not written: {calls:#?}"));
            let synced = calls[w..clean]
                .iter()
                .any(|c| &c.pid == send && c.name == "syncfs" && c.done);
            assert!(
                synced,
                "{f} made durable before todo/{id} is removed: {calls:#?}"
            );
        }
    }
    // The todo pass syncs nothing else: at most one syncfs per message.
    let send = &calls.iter().find(|c| wrote(c, "\"todo/")).unwrap().pid;
    let syncs: Vec<&Call> = calls
        .iter()
        .filter(|c| &c.pid == send && is_sync(c) && !c.text.is_empty())
        .collect();
    assert!(
        !syncs.is_empty() && syncs.len() <= ids.len() && syncs.iter().all(|c| c.name == "syncfs"),
        "{syncs:#?}"
    );
}
