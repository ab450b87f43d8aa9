//! A deferral from qmail-remote travels through qmail-rspawn into
//! qmail-send's log and gets the remote retry schedule of `send.md` §4:
//! next attempt at birth + (isqrt(age) + 20)^2. qmail-send saves the
//! schedule as the mtime of `queue/remote/S/ID` when it stops on TERM.

mod remote_support;

use std::fs;
use std::io::Write;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use remote_support::{Peer, Script};

fn bin_dir() -> PathBuf {
    Path::new(env!("CARGO_BIN_EXE_qmail-send"))
        .parent()
        .unwrap()
        .to_path_buf()
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

#[test]
fn remote_deferral_is_retried_on_the_remote_schedule() {
    let peer = Peer::start(Script {
        rcpt: vec![b"451 4.3.0 mailbox busy, try later\r\n".to_vec()],
        ..Script::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let home = root.join("var/qmail");
    qmail::hier::install(&home).unwrap();
    qmail::hier::link_programs(&home, &bin_dir()).unwrap();
    fs::write(home.join("control/me"), "here.test\n").unwrap();
    fs::write(home.join("control/locals"), "here.test\n").unwrap();
    fs::write(
        home.join("control/smtproutes"),
        format!("far.test:[127.0.0.1]:{}\n", peer.port),
    )
    .unwrap();

    // Queue one message for bob@far.test as qmail-queue would.
    let q = home.join("queue");
    let id = 321u64;
    fs::write(
        q.join(format!("mess/{}/{id}", id % 23)),
        "Subject: x\n\ny\n",
    )
    .unwrap();
    fs::write(
        q.join(format!("intd/{id}")),
        "u1002\0p4321\0Fjoe@here.test\0Tbob@far.test\0",
    )
    .unwrap();
    fs::hard_link(q.join(format!("intd/{id}")), q.join(format!("todo/{id}"))).unwrap();

    let log = root.join("send.log");
    let path = format!(
        "{}:{}",
        home.join("bin").display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut c = Command::new(env!("CARGO_BIN_EXE_qmail-start"))
        .arg("./Maildir/")
        .env("PATH", path)
        .env("QMAILRS_ROOT", root)
        .env("QMAILRS_SINGLE_USER", "1")
        .env_remove("QMAILQUEUE")
        .env_remove("QMAILRS_RESOLVER")
        .env_remove("QMAILRS_REMOTE_PORT")
        .stdin(Stdio::null())
        .stdout(fs::File::create(&log).unwrap())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    if let Ok(mut f) = fs::OpenOptions::new()
        .write(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(q.join("lock/trigger"))
    {
        let _ = f.write_all(b"x");
    }
    wait_for("the deferral", || {
        fs::read_to_string(&log)
            .unwrap_or_default()
            .contains("deferral")
    });
    stop(&mut c);
    let text = fs::read_to_string(&log).unwrap();
    assert!(
        text.contains(
            ": deferral: 127.0.0.1_does_not_like_recipient./Remote_host_said:_451_4.3.0_mailbox_busy,_try_later/Giving_up_on_127.0.0.1./\n"
        ),
        "{text}"
    );
    let seen = peer.finish();
    assert_eq!(seen.lines[2], "RCPT TO:<bob@far.test>");

    // Still queued for the remote channel, due at birth + 20^2 (or
    // (isqrt(age) + 20)^2 when the attempt came a few seconds late).
    let remote = q.join(format!("remote/{}/{id}", id % 23));
    let info = q.join(format!("info/{}/{id}", id % 23));
    assert_eq!(fs::read(&remote).unwrap(), b"Tbob@far.test\0");
    let birth = fs::metadata(&info).unwrap().mtime();
    let next = fs::metadata(&remote).unwrap().mtime();
    assert!(
        [400, 441, 484].contains(&(next - birth)),
        "next attempt {} s after birth",
        next - birth
    );
    assert!(text.ends_with("status: exiting\n"), "{text}");
}
