//! Our tcpserver running our qmail-smtpd in the connection child without
//! an exec (`qmail::tcp::builtin`), against the same program exec'd: the
//! client, the queue and the process table must see the same thing,
//! except `/proc/PID/exe`, which tells the two apart here.
//!
//! One test function: the program copies are written before any server
//! starts, so no exec can meet a file still open for writing (ETXTBSY).

mod smtpd_common;

use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use smtpd_common::{Client, Host, BIN};

const TCPSERVER: &str = env!("CARGO_BIN_EXE_tcpserver");
const TCPRULES: &str = env!("CARGO_BIN_EXE_tcprules");

/// Our tcpserver with -v, its port and its log lines; killed on drop.
struct Server {
    child: Child,
    port: u16,
    log: Arc<Mutex<Vec<String>>>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    fn start(h: &Host, program: &Path) -> Server {
        let cdb = h.root().join("tcp.smtp.cdb");
        let mut rules = Command::new(TCPRULES)
            .arg(&cdb)
            .arg(h.root().join("tcp.smtp.tmp"))
            .stdin(Stdio::piped())
            .spawn()
            .unwrap();
        std::io::Write::write_all(
            rules.stdin.as_mut().unwrap(),
            b"127.0.0.1:allow,RELAYCLIENT=\"\",SEEN=\"rule\"\n",
        )
        .unwrap();
        drop(rules.stdin.take());
        assert!(rules.wait().unwrap().success());
        let mut child = Command::new(TCPSERVER)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("QMAILRS_ROOT", h.root())
            .env("QMAILRS_SINGLE_USER", "1")
            .env("QMAILQUEUE", h.qq())
            .env("QQ_SPOOL", h.spool())
            .args(["-1", "-v", "-R", "-H", "-l", "oracle.example", "-x"])
            .arg(&cdb)
            .args(["127.0.0.1", "0"])
            .arg(program)
            .arg(h.checkpassword())
            .arg("/bin/true")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let log = Arc::new(Mutex::new(Vec::new()));
        let sink = log.clone();
        let err = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                sink.lock().unwrap().push(line);
            }
        });
        let mut first = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut first)
            .unwrap();
        let port = first.trim().parse().expect("tcpserver printed its port");
        Server { child, port, log }
    }

    /// Wait for a log line starting with `prefix`; returns its rest.
    fn wait_line(&self, prefix: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let found = self
                .log
                .lock()
                .unwrap()
                .iter()
                .find_map(|l| l.strip_prefix(prefix).map(str::to_string));
            if let Some(rest) = found {
                return rest;
            }
            assert!(
                Instant::now() < deadline,
                "no log line {prefix:?}: {:?}",
                self.log
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Connect; returns the client (greeting read) and the child's pid.
    fn connect(&self) -> (Client, u32) {
        let s = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let fd: std::os::fd::OwnedFd = s.into();
        let mut c = Client::Plain(std::os::unix::net::UnixStream::from(fd));
        let greeting = c.reply();
        assert!(
            greeting.starts_with("220 oracle.example ESMTP"),
            "{greeting}"
        );
        let log = self.log.lock().unwrap().clone();
        let pid = log
            .iter()
            .rev()
            .find_map(|l| l.strip_prefix("tcpserver: pid "))
            .and_then(|r| r.split(' ').next())
            .and_then(|p| p.parse().ok())
            .expect("pid line");
        (c, pid)
    }
}

/// What one connection's process looks like from outside.
#[derive(Debug, PartialEq, Eq)]
struct Process {
    comm: String,
    /// The kinds of its open descriptors, by number (`socket`, `pipe`...).
    fds: Vec<(u32, String)>,
}

fn process(pid: u32) -> (Process, PathBuf) {
    let proc = PathBuf::from(format!("/proc/{pid}"));
    let comm = std::fs::read_to_string(proc.join("comm")).unwrap();
    let mut fds: Vec<(u32, String)> = std::fs::read_dir(proc.join("fd"))
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let n = e.file_name().to_str().unwrap().parse().unwrap();
            let target = std::fs::read_link(e.path()).unwrap();
            let t = target.to_string_lossy();
            (n, t.split(':').next().unwrap().to_string())
        })
        .collect();
    fds.sort();
    let exe = std::fs::read_link(proc.join("exe")).unwrap();
    (Process { comm, fds }, exe)
}

/// One relayed message; returns the process as seen mid-session.
fn session(s: &Server, h: &Host, expect_exe: &Path) -> Process {
    let (mut c, pid) = s.connect();
    let (seen, exe) = process(pid);
    assert_eq!(exe, expect_exe, "which image serves the connection");
    c.send(b"HELO client.example\r\n");
    assert_eq!(c.reply(), "250 oracle.example\r\n");
    // RELAYCLIENT comes from the rule: an outside domain is accepted.
    c.send(b"MAIL FROM:<a@client.example>\r\nRCPT TO:<b@elsewhere.example>\r\nDATA\r\n");
    assert_eq!(c.reply(), "250 ok\r\n");
    assert_eq!(c.reply(), "250 ok\r\n");
    assert_eq!(c.reply(), "354 go ahead\r\n");
    let before = h.queued().len();
    c.send(b"Subject: x\r\n\r\nbody\r\n.\r\n");
    let r = c.reply();
    assert!(r.starts_with("250 ok "), "{r}");
    let queued = h.queued();
    assert_eq!(queued.len(), before + 1);
    let (_, msg, env) = queued.last().unwrap();
    let msg = String::from_utf8_lossy(msg);
    // TCPREMOTEIP reached the program.
    assert!(
        msg.starts_with("Received: from unknown (HELO client.example) (127.0.0.1)\n"),
        "{msg}"
    );
    assert_eq!(env, b"Fa@client.example\0Tb@elsewhere.example\0\0");
    c.send(b"QUIT\r\n");
    assert_eq!(c.reply(), "221 oracle.example\r\n");
    assert!(c.at_eof());
    assert_eq!(s.wait_line(&format!("tcpserver: end {pid} status ")), "0");
    seen
}

/// `bin` with its in-process marker spoiled: the same code, exec'd.
fn unmarked(bin: &[u8]) -> Vec<u8> {
    let needle = b"qmail-rs/in-process:";
    let at = memchr::memmem::find(bin, needle).expect("qmail-smtpd carries the marker");
    let mut out = bin.to_vec();
    out[at] = b'Q';
    out
}

fn install(path: &Path, bytes: &[u8]) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, bytes).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
fn in_process_qmail_smtpd_matches_exec() {
    let h = Host::oracle();
    let bin = std::fs::read(BIN).unwrap();
    let ours = h.qmail().join("bin/qmail-smtpd");
    let plain = h.qmail().join("bin/qmail-smtpd.plain");
    install(&ours, &bin);
    install(&plain, &unmarked(&bin));
    let tcpserver = std::fs::canonicalize(TCPSERVER).unwrap();

    // In-process: the connection is served by tcpserver's own image.
    let s = Server::start(&h, &ours);
    let inproc = session(&s, &h, &tcpserver);
    assert_eq!(inproc.comm, "qmail-smtpd\n");

    // SIGTERM kills it as it kills the exec'd program: tcpserver's own
    // handler (exit 0) must not survive into the child.
    let (_c, pid) = s.connect();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    assert_eq!(s.wait_line(&format!("tcpserver: end {pid} status ")), "15");

    // The file replaced (an upgrade, a wrapper): exec from now on.
    std::fs::rename(&plain, &ours).unwrap();
    let exec = session(&s, &h, &ours);
    drop(s);
    assert_eq!(inproc, exec, "comm and descriptors as exec leaves them");

    // An unmarked program never runs in-process.
    let s = Server::start(&h, &ours);
    session(&s, &h, &ours);
}
