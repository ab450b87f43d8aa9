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
        Self::start_env(h, program, &[])
    }

    fn start_env(h: &Host, program: &Path, env: &[(&str, &str)]) -> Server {
        Self::start_rules(
            h,
            program,
            env,
            "127.0.0.1:allow,RELAYCLIENT=\"\",SEEN=\"rule\"\n",
        )
    }

    fn start_rules(h: &Host, program: &Path, env: &[(&str, &str)], rules_text: &str) -> Server {
        let cdb = h.root().join("tcp.smtp.cdb");
        let mut rules = Command::new(TCPRULES)
            .arg(&cdb)
            .arg(h.root().join("tcp.smtp.tmp"))
            .stdin(Stdio::piped())
            .spawn()
            .unwrap();
        std::io::Write::write_all(rules.stdin.as_mut().unwrap(), rules_text.as_bytes()).unwrap();
        drop(rules.stdin.take());
        assert!(rules.wait().unwrap().success());
        let mut child = Command::new(TCPSERVER)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("QMAILRS_ROOT", h.root())
            .env("QMAILRS_SINGLE_USER", "1")
            .env("QMAILQUEUE", h.qq())
            .env("QQ_SPOOL", h.spool())
            .envs(env.iter().copied())
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

    fn count(&self, line: &str) -> usize {
        self.log
            .lock()
            .unwrap()
            .iter()
            .filter(|l| *l == line)
            .count()
    }

    /// Wait until `line` has been logged more than `before` times.
    fn wait_for(&self, line: &str, before: usize) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.count(line) <= before {
            assert!(
                Instant::now() < deadline,
                "no log line {line:?}: {:?}",
                self.log
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Connect; returns the client (greeting read) and the child's pid.
    fn connect(&self) -> (Client, u32) {
        let pid_lines = |log: &[String]| {
            log.iter()
                .filter_map(|l| l.strip_prefix("tcpserver: pid "))
                .filter_map(|r| r.split(' ').next()?.parse().ok())
                .collect::<Vec<u32>>()
        };
        let before = pid_lines(&self.log.lock().unwrap()).len();
        let s = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let fd: std::os::fd::OwnedFd = s.into();
        let mut c = Client::Plain(std::os::unix::net::UnixStream::from(fd));
        let greeting = c.reply();
        assert!(
            greeting.starts_with("220 oracle.example ESMTP"),
            "{greeting}"
        );
        // The line was written before the greeting; our reader thread
        // may not have it yet.
        let deadline = Instant::now() + Duration::from_secs(10);
        let pid = loop {
            let pids = pid_lines(&self.log.lock().unwrap());
            if pids.len() > before {
                break pids[before];
            }
            assert!(Instant::now() < deadline, "no pid line");
            std::thread::sleep(Duration::from_millis(5));
        };
        (c, pid)
    }
}

/// What one connection's process looks like from outside.
#[derive(Debug, PartialEq, Eq)]
struct Process {
    comm: String,
    /// The kinds of the open descriptors a program it runs inherits
    /// (not close-on-exec), by number (`socket`, `pipe`...).
    fds: Vec<(u32, String)>,
}

fn process(pid: u32) -> (Process, PathBuf) {
    let proc = PathBuf::from(format!("/proc/{pid}"));
    let comm = std::fs::read_to_string(proc.join("comm")).unwrap();
    let mut fds: Vec<(u32, String)> = std::fs::read_dir(proc.join("fd"))
        .unwrap()
        .filter_map(|e| {
            let e = e.unwrap();
            let n: u32 = e.file_name().to_str().unwrap().parse().unwrap();
            let info = std::fs::read_to_string(proc.join(format!("fdinfo/{n}"))).unwrap();
            let flags = info
                .lines()
                .find_map(|l| l.strip_prefix("flags:"))
                .map(|f| u32::from_str_radix(f.trim(), 8).unwrap())
                .unwrap();
            if flags & libc::O_CLOEXEC as u32 != 0 {
                return None;
            }
            let target = std::fs::read_link(e.path()).unwrap();
            let t = target.to_string_lossy();
            Some((n, t.split(':').next().unwrap().to_string()))
        })
        .collect();
    fds.sort();
    let exe = std::fs::read_link(proc.join("exe")).unwrap();
    (Process { comm, fds }, exe)
}

/// One relayed message; returns the process as seen mid-session, and its
/// pid.
fn session(s: &Server, h: &Host, expect_exe: &Path) -> (Process, u32) {
    let (mut c, pid) = s.connect();
    let end = format!("tcpserver: end {pid} status 0");
    let ended = s.count(&end);
    let (seen, exe) = process(pid);
    assert_eq!(exe, expect_exe, "which image serves the connection");
    c.send(b"HELO client.example\r\n");
    assert_eq!(c.reply(), "250 oracle.example\r\n");
    // RELAYCLIENT comes from the rule: an outside domain is accepted.
    // An address literal of ours becomes localiphost (`me`): the
    // interface list, which a reused worker keeps, is asked each time.
    c.send(
        b"MAIL FROM:<a@client.example>\r\nRCPT TO:<b@elsewhere.example>\r\n\
          RCPT TO:<c@[127.0.0.1]>\r\nDATA\r\n",
    );
    assert_eq!(c.reply(), "250 ok\r\n");
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
    assert_eq!(
        env,
        b"Fa@client.example\0Tb@elsewhere.example\0Tc@oracle.example\0\0"
    );
    c.send(b"QUIT\r\n");
    assert_eq!(c.reply(), "221 oracle.example\r\n");
    assert!(c.at_eof());
    s.wait_for(&end, ended);
    (seen, pid)
}

/// Whether `pid` has open the netlink socket `qmail::ipme` subscribes
/// (groups link, IPv4 and IPv6 addresses: 0x111).
fn holds_ipme_watch(pid: u32) -> bool {
    let Ok(table) = std::fs::read_to_string(format!("/proc/{pid}/net/netlink")) else {
        return false;
    };
    let inodes: Vec<String> = table
        .lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.len() >= 10 && f[3] == "00000111").then(|| f[9].to_string())
        })
        .collect();
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return false;
    };
    fds.filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
        .filter_map(|t| {
            let t = t.to_string_lossy().into_owned();
            Some(t.strip_prefix("socket:[")?.strip_suffix(']')?.to_string())
        })
        .any(|ino| inodes.contains(&ino))
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

    // In-process: the connection is served by tcpserver's own image, in
    // a worker that serves the next connection too.
    let s = Server::start(&h, &ours);
    let (inproc, first) = session(&s, &h, &tcpserver);
    assert_eq!(inproc.comm, "qmail-smtpd\n");
    // One connection at a time needs two workers (the busy one and a
    // spare), however many connections come.
    let mut pids = std::collections::BTreeSet::from([first]);
    for _ in 0..3 {
        let (again, pid) = session(&s, &h, &tcpserver);
        assert_eq!(again, inproc, "the same start for every connection");
        pids.insert(pid);
    }
    assert!(pids.len() <= 2, "reused workers: {pids:?}");
    // The worker that served twice keeps its interface-change
    // subscription across connections (`qmail::ipme`, `qmail::fds`).
    assert!(
        pids.iter().any(|&p| holds_ipme_watch(p)),
        "no kept netlink subscription in {pids:?}"
    );
    // N in `status: N/40` counts connections being served (at most two
    // here: a worker's idle record may come after the next connection's
    // busy one, as 0.88's reaping may come after the next accept).
    s.wait_for(
        "tcpserver: status: 0/40",
        s.count("tcpserver: status: 0/40") - 1,
    );
    let log = s.log.lock().unwrap().clone();
    let status: Vec<&String> = log.iter().filter(|l| l.contains("status: ")).collect();
    assert_eq!(status[0], "tcpserver: status: 0/40");
    assert!(
        status
            .iter()
            .all(|l| ["0/40", "1/40", "2/40"].iter().any(|n| l.ends_with(n))),
        "{log:?}"
    );
    assert!(
        status.iter().filter(|l| l.ends_with(" 1/40")).count() >= 4,
        "{log:?}"
    );
    // 0.88's order: the parent's `status` line after an accept comes
    // before the connection's `pid` line.
    let mut busy_lines = 0;
    let mut pid_lines = 0;
    for l in &log {
        if l.starts_with("tcpserver: status: ") && !l.ends_with(" 0/40") {
            busy_lines += 1;
        }
        if l.starts_with("tcpserver: pid ") {
            pid_lines += 1;
            assert!(busy_lines >= pid_lines, "status before pid: {log:?}");
        }
    }

    // SIGTERM kills it as it kills the exec'd program: tcpserver's own
    // handler (exit 0) must not survive into the child.
    let (_c, pid) = s.connect();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    s.wait_for(&format!("tcpserver: end {pid} status 15"), 0);

    // The file replaced (an upgrade, a wrapper): exec from now on.
    std::fs::rename(&plain, &ours).unwrap();
    let (exec, _) = session(&s, &h, &ours);
    drop(s);
    assert_eq!(inproc, exec, "comm and descriptors as exec leaves them");

    // An unmarked program never runs in-process.
    let s = Server::start(&h, &ours);
    session(&s, &h, &ours);
    drop(s);

    // QMAILRS_TCPSERVER_REUSE=0: in-process, a fresh fork each time.
    install(&ours, &bin);
    let s = Server::start_env(&h, &ours, &[("QMAILRS_TCPSERVER_REUSE", "0")]);
    let (forked, first) = session(&s, &h, &tcpserver);
    let (_, second) = session(&s, &h, &tcpserver);
    assert_ne!(first, second, "one process per connection");
    assert_eq!(forked, inproc);
    drop(s);

    // What one connection's AUTH granted (RELAYCLIENT in the
    // environment) is gone for the next ones, whichever worker serves them.
    let auth_env = [("FORCETLS", "0"), ("SMTPAUTH", "")];
    let s = Server::start_rules(&h, &ours, &auth_env, "127.0.0.1:allow\n");
    let relay = |c: &mut Client| {
        c.send(b"MAIL FROM:<a@client.example>\r\nRCPT TO:<b@elsewhere.example>\r\n");
        assert_eq!(c.reply(), "250 ok\r\n");
        c.reply()
    };
    let (mut c, _) = s.connect();
    c.send(b"EHLO client.example\r\n");
    assert!(c.reply().starts_with("250-oracle.example"));
    c.send(b"AUTH PLAIN AHRlc3R1c2VyAHNlY3JldA==\r\n");
    assert_eq!(c.reply(), "235 ok, go ahead (#2.0.0)\r\n");
    assert_eq!(relay(&mut c), "250 ok\r\n");
    c.send(b"QUIT\r\n");
    assert!(c.reply().starts_with("221 "));
    assert!(c.at_eof());
    for _ in 0..3 {
        let (mut c, _) = s.connect();
        c.send(b"HELO client.example\r\n");
        c.reply();
        let r = relay(&mut c);
        assert!(
            r.starts_with("553 sorry, that domain isn't in my list of allowed rcpthosts"),
            "{r}"
        );
        c.send(b"QUIT\r\n");
        c.reply();
        assert!(c.at_eof());
    }
    drop(s);

    // Idle workers end with tcpserver.
    let mut s = Server::start(&h, &ours);
    let (_, worker) = session(&s, &h, &tcpserver);
    let _ = s.child.kill();
    let _ = s.child.wait();
    let gone = Instant::now() + Duration::from_secs(5);
    while Path::new(&format!("/proc/{worker}")).exists() {
        assert!(Instant::now() < gone, "worker {worker} outlived tcpserver");
        std::thread::sleep(Duration::from_millis(50));
    }
}
