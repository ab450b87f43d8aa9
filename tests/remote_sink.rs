//! qmail-remote against real receivers on loopback (`remote.md` §3):
//! Debian's Postfix `smtp-sink` (package postfix) with each of its
//! failure modes, and our own qmail-smtpd in front of a real queue.
//! Routed with `control/smtproutes` to `[127.0.0.1]:PORT`.

mod remote_support;

use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use remote_support::host::Host;
use remote_support::{route, Root};

const SMTP_SINK: &str = "/usr/sbin/smtp-sink";
const MSG: &[u8] = b"Subject: sink\n\n.dotted line\nbody\n";

struct Sink {
    child: Child,
    port: u16,
}

impl Drop for Sink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Is something listening on 127.0.0.1:port (from /proc/net/tcp, so no
/// probing session is opened)?
fn listening(port: u16) -> bool {
    let want = format!("0100007F:{port:04X}");
    std::fs::read_to_string("/proc/net/tcp")
        .unwrap_or_default()
        .lines()
        .any(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            f.len() > 3 && f[1] == want && f[3] == "0A"
        })
}

/// Start smtp-sink with `opts` on a free loopback port.
fn sink(opts: &[&str], dump: Option<&Path>) -> Sink {
    assert!(
        Path::new(SMTP_SINK).exists(),
        "{SMTP_SINK} missing: install the Debian package postfix (scripts/ci-deps)"
    );
    for _ in 0..5 {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut c = Command::new(SMTP_SINK);
        if nix::unistd::geteuid().is_root() {
            c.args(["-u", "nobody"]);
        }
        if let Some(d) = dump {
            c.arg("-d").arg(d.join("%M."));
        }
        c.args(opts)
            .arg(format!("127.0.0.1:{port}"))
            .arg("10")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let mut child = c.spawn().expect("run smtp-sink");
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if listening(port) {
                return Sink { child, port };
            }
            if let Ok(Some(_)) = child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
    }
    panic!("smtp-sink did not start");
}

fn deliver(root: &Root, port: u16, msg: &[u8]) -> String {
    route(root, "sink.test", port);
    let out = root.remote(&["sink.test", "joe@here.test", "bob@sink.test"], msg, &[]);
    String::from_utf8_lossy(&out).into_owned()
}

#[test]
fn smtp_sink_takes_the_message() {
    let dump = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dump.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let s = sink(&[], Some(dump.path()));
    let root = Root::new();
    root.control("helohost", "out.example\n");
    let out = deliver(&root, s.port, MSG);
    assert_eq!(
        out,
        "r\0K127.0.0.1 accepted message.\nRemote host said: 250 2.0.0 Ok\n\0"
    );
    drop(s);
    let files: Vec<_> = std::fs::read_dir(dump.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    let d = String::from_utf8_lossy(&std::fs::read(&files[0]).unwrap()).into_owned();
    assert!(d.contains("X-Helo-Args: out.example\n"), "{d}");
    assert!(d.contains("X-Mail-Args: <joe@here.test>\n"), "{d}");
    assert!(d.contains("X-Rcpt-Args: <bob@sink.test>\n"), "{d}");
    // Dot-stuffing undone by the sink: the message arrives as sent.
    assert!(
        d.ends_with("\nSubject: sink\n\n.dotted line\nbody\n\n"),
        "{d}"
    );
}

/// smtp-sink's failure switches: `-f` (5xx), `-r` (4xx), `-q` (drop
/// without a reply), per stage; each ends in the original's text.
#[test]
fn smtp_sink_failure_modes() {
    let hard = "Remote host said: 500 5.3.0 Error: command failed\n";
    let soft = "Remote host said: 450 4.3.0 Error: command failed\n";
    let cases: Vec<(Vec<&str>, String)> = vec![
        (
            vec!["-f", "connect"],
            format!("DConnected to 127.0.0.1 but greeting failed.\n{hard}\0"),
        ),
        (
            vec!["-r", "connect"],
            format!("ZConnected to 127.0.0.1 but greeting failed.\n{soft}\0"),
        ),
        // EHLO refused: HELO instead, and the delivery goes through.
        (
            vec!["-f", "ehlo"],
            "r\0K127.0.0.1 accepted message.\nRemote host said: 250 2.0.0 Ok\n\0".into(),
        ),
        (
            vec!["-f", "ehlo,helo"],
            format!("DConnected to 127.0.0.1 but my name was rejected.\n{hard}\0"),
        ),
        (
            vec!["-r", "ehlo,helo"],
            format!("ZConnected to 127.0.0.1 but my name was rejected.\n{soft}\0"),
        ),
        (
            vec!["-f", "mail"],
            format!("DConnected to 127.0.0.1 but sender was rejected.\n{hard}\0"),
        ),
        (
            vec!["-r", "mail"],
            format!("ZConnected to 127.0.0.1 but sender was rejected.\n{soft}\0"),
        ),
        (
            vec!["-f", "rcpt"],
            format!("h127.0.0.1 does not like recipient.\n{hard}\0DGiving up on 127.0.0.1.\n\0"),
        ),
        (
            vec!["-r", "rcpt"],
            format!("s127.0.0.1 does not like recipient.\n{soft}\0DGiving up on 127.0.0.1.\n\0"),
        ),
        (
            vec!["-f", "data"],
            format!("r\0D127.0.0.1 failed on DATA command.\n{hard}\0"),
        ),
        (
            vec!["-r", "data"],
            format!("r\0Z127.0.0.1 failed on DATA command.\n{soft}\0"),
        ),
        (
            vec!["-f", "."],
            format!("r\0D127.0.0.1 failed after I sent the message.\n{hard}\0"),
        ),
        (
            vec!["-r", "."],
            format!("r\0Z127.0.0.1 failed after I sent the message.\n{soft}\0"),
        ),
        // Custom reply texts.
        (
            vec![
                "-f",
                "rcpt",
                "-B",
                "550 5.1.1 <bob@sink.test>: no such user",
            ],
            "h127.0.0.1 does not like recipient.\nRemote host said: 550 5.1.1 \
             <bob@sink.test>: no such user\n\0DGiving up on 127.0.0.1.\n\0"
                .into(),
        ),
        (
            vec!["-r", "mail", "-b", "421 4.7.0 try again later"],
            "ZConnected to 127.0.0.1 but sender was rejected.\nRemote host said: \
             421 4.7.0 try again later\n\0"
                .into(),
        ),
        // Disconnects.
        (
            vec!["-q", "ehlo"],
            "ZConnected to 127.0.0.1 but connection died. (#4.4.2)\n\0".into(),
        ),
        (
            vec!["-q", "mail"],
            "ZConnected to 127.0.0.1 but connection died. (#4.4.2)\n\0".into(),
        ),
        (
            vec!["-q", "rcpt"],
            "ZConnected to 127.0.0.1 but connection died. (#4.4.2)\n\0".into(),
        ),
        (
            vec!["-q", "."],
            "r\0ZConnected to 127.0.0.1 but connection died. Possible duplicate! (#4.4.2)\n\0"
                .into(),
        ),
    ];
    let root = Root::new();
    for (opts, want) in cases {
        let s = sink(&opts, None);
        let out = deliver(&root, s.port, MSG);
        assert_eq!(out, want, "smtp-sink {opts:?}");
    }
}

/// `-A 0`: the sink answers 550 right after 354 and closes while the
/// message is still being sent: the connection died (no duplicate risk).
#[test]
fn smtp_sink_drops_mid_data() {
    let s = sink(&["-A", "0"], None);
    let root = Root::new();
    let mut big = b"Subject: big\n\n".to_vec();
    let line = [b'x'; 999];
    for _ in 0..16_000 {
        big.extend_from_slice(&line);
        big.push(b'\n');
    }
    let out = deliver(&root, s.port, &big);
    assert_eq!(
        out,
        "r\0ZConnected to 127.0.0.1 but connection died. (#4.4.2)\n\0"
    );
}

/// Our own qmail-smtpd in front of a real queue takes the message; a
/// recipient outside its rcpthosts is refused with its 553.
#[test]
fn our_qmail_smtpd_receives() {
    let rx = Host::new("rx.test");
    let (port, h) = rx.serve("qmail-smtpd", "127.0.0.1", 0, 2);
    let root = Root::new();
    root.control("helohost", "tx.test\n");
    route(&root, "rx.test", port);
    let out = root.remote(
        &["rx.test", "joe@tx.test", "bob@rx.test", "ann@rx.test"],
        MSG,
        &[],
    );
    let out = String::from_utf8_lossy(&out).into_owned();
    assert!(
        out.starts_with("r\0r\0K127.0.0.1 accepted message.\nRemote host said: 250 ok "),
        "{out}"
    );
    let q = rx.queued();
    assert_eq!(q.len(), 1);
    let (mess, env) = &q[0];
    assert_eq!(env.sender, b"joe@tx.test");
    assert_eq!(
        env.recipients,
        vec![b"bob@rx.test".to_vec(), b"ann@rx.test".to_vec()]
    );
    let m = String::from_utf8_lossy(mess);
    assert!(
        m.contains("\nReceived: from unknown (HELO tx.test) (127.0.0.1)\n  by receiver.example with SMTP; "),
        "{m}"
    );
    assert!(m.ends_with("Subject: sink\n\n.dotted line\nbody\n"), "{m}");

    route(&root, "elsewhere.test", port);
    let out = root.remote(
        &["elsewhere.test", "joe@tx.test", "bob@elsewhere.test"],
        MSG,
        &[],
    );
    assert_eq!(
        String::from_utf8_lossy(&out),
        "h127.0.0.1 does not like recipient.\nRemote host said: 553 sorry, that domain isn't \
         in my list of allowed rcpthosts (#5.7.1)\n\0DGiving up on 127.0.0.1.\n\0"
    );
    h.join().unwrap();
    assert_eq!(rx.queued().len(), 1);
}
