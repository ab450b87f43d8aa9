//! qmail-popup and qmail-pop3d (`shared/spec/qmail/binaries.md` §POP3,
//! netqmail 1.06's qmail-popup.c, qmail-pop3d.c, commands.c, maildir.c):
//! every reply string, the Maildir effects of QUIT, the checkpassword
//! hand-off on fd 3, and whole sessions under our tcpserver and Debian's
//! ucspi-tcp with python's poplib (USER/PASS and APOP) and curl.
//!
//! The checkpassword here is a small bash script written by the test: it
//! logs what it got on fd 3, accepts `joe`/`secret` (or the APOP digest of
//! the timestamp and `secret`), and runs the rest of its arguments in the
//! mailbox's home, as checkpassword does.

use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

const POPUP: &str = env!("CARGO_BIN_EXE_qmail-popup");
const POP3D: &str = env!("CARGO_BIN_EXE_qmail-pop3d");
const OUR_TCPSERVER: &str = env!("CARGO_BIN_EXE_tcpserver");
const DEBIAN_TCPSERVER: &str = "/usr/bin/tcpserver";

const CHECKPASSWORD: &str = r#"#!/bin/bash
# fd 3: user NUL password NUL timestamp NUL
IFS= read -r -d '' user <&3
IFS= read -r -d '' pass <&3
IFS= read -r -d '' stamp <&3
printf '%s|%s|%s\n' "$user" "$pass" "$stamp" >> "$T/fd3.log"
case "$user" in
  crash) kill -SEGV $$ ;;
  noisy) echo "checkpassword says no" >&2; exit 1 ;;
esac
apop=$(printf '%s%s' "$stamp" secret | md5sum | cut -d' ' -f1)
[ "$user" = joe ] && { [ "$pass" = secret ] || [ "$pass" = "$apop" ]; } || exit 1
cd "$T/home" && exec "$@"
"#;

struct Site {
    t: tempfile::TempDir,
}

impl Site {
    fn new() -> Site {
        let t = tempfile::tempdir().unwrap();
        let md = t.path().join("home/Maildir");
        for d in ["new", "cur", "tmp"] {
            fs::create_dir_all(md.join(d)).unwrap();
        }
        let cp = t.path().join("checkpassword");
        fs::write(&cp, CHECKPASSWORD).unwrap();
        fs::set_permissions(&cp, fs::Permissions::from_mode(0o755)).unwrap();
        Site { t }
    }

    fn path(&self) -> &Path {
        self.t.path()
    }

    fn maildir(&self) -> PathBuf {
        self.path().join("home/Maildir")
    }

    /// A message file with an mtime `age` seconds in the past.
    fn message(&self, sub: &str, name: &str, body: &str, age: u64) -> PathBuf {
        let p = self.maildir().join(sub).join(name);
        fs::write(&p, body).unwrap();
        let t = SystemTime::now() - Duration::from_secs(age);
        fs::File::options()
            .write(true)
            .open(&p)
            .unwrap()
            .set_modified(t)
            .unwrap();
        p
    }

    fn listing(&self, sub: &str) -> Vec<String> {
        let mut v: Vec<_> = fs::read_dir(self.maildir().join(sub))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        v.sort();
        v
    }

    /// qmail-pop3d Maildir in home/, fed `input`: (stdout, exit code).
    fn pop3d(&self, args: &[&str], input: &str) -> (String, i32) {
        run(
            Command::new(POP3D)
                .args(args)
                .current_dir(self.path().join("home")),
            input,
        )
    }

    /// qmail-popup host checkpassword qmail-pop3d Maildir, fed `input`.
    fn popup(&self, input: &str) -> (String, i32) {
        run(
            Command::new(POPUP)
                .args(["pop.example"])
                .arg(self.path().join("checkpassword"))
                .args([POP3D, "Maildir"])
                .env("T", self.path()),
            input,
        )
    }

    fn fd3_log(&self) -> String {
        fs::read_to_string(self.path().join("fd3.log")).unwrap_or_default()
    }
}

fn run(cmd: &mut Command, input: &str) -> (String, i32) {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The program may exit before reading everything (a start-up error).
    let _ = child.stdin.take().unwrap().write_all(input.as_bytes());
    let o = child.wait_with_output().unwrap();
    assert!(o.stderr.is_empty(), "stderr: {:?}", o.stderr);
    (
        String::from_utf8(o.stdout).unwrap(),
        o.status.code().unwrap(),
    )
}

const M1: &str = "Subject: one\n\n.dot line\nsecond\nthird";
const M2: &str = "Subject: two\nX: y\n\nbody\n";

#[test]
fn pop3d_transaction_replies() {
    let s = Site::new();
    s.message("new", "1000.1.host", M1, 200);
    s.message("cur", "2000.2.host:2,S", M2, 100);
    let (out, code) = s.pop3d(
        &["Maildir"],
        "stat\r\nLIST\r\nuidl\r\nlist 2\r\nuidl 1\r\ntop 1 0\r\ntop 1 1\r\nretr 1\r\n\
         RETR 2\r\nretr 1 1\r\ndele 1\r\ndele 1\r\nlast\r\nstat\r\nlist\r\nlist 1\r\n\
         list 0\r\nlist 3\r\nlist x\r\nretr\r\nnoop\r\nxyzzy\r\ncapa\r\nrset\r\nlast\r\n\
         dele 2\r\nquit\r\n",
    );
    let expect = "+OK \r\n\
        +OK 2 60\r\n\
        +OK \r\n1 36\r\n2 24\r\n.\r\n\
        +OK \r\n1 1000.1.host\r\n2 2000.2.host\r\n.\r\n\
        +OK 2 24\r\n\
        +OK 1 1000.1.host\r\n\
        +OK \r\nSubject: one\r\n\r\n\r\n.\r\n\
        +OK \r\nSubject: one\r\n\r\n..dot line\r\n\r\n.\r\n\
        +OK \r\nSubject: one\r\n\r\n..dot line\r\nsecond\r\nthird\r\n\r\n.\r\n\
        +OK \r\nSubject: two\r\nX: y\r\n\r\nbody\r\n\r\n.\r\n\
        +OK \r\nSubject: one\r\n\r\n..dot line\r\n\r\n.\r\n\
        +OK \r\n\
        -ERR already deleted\r\n\
        +OK 1\r\n\
        +OK 2 24\r\n\
        +OK \r\n2 24\r\n.\r\n\
        -ERR already deleted\r\n\
        -ERR messages are counted from 1\r\n\
        -ERR not that many messages\r\n\
        -ERR syntax error\r\n\
        -ERR syntax error\r\n\
        +OK \r\n\
        -ERR unimplemented\r\n\
        -ERR unimplemented\r\n\
        +OK \r\n\
        +OK 0\r\n\
        +OK \r\n\
        +OK \r\n";
    assert_eq!(out, expect);
    assert_eq!(code, 0);
    // QUIT removed message 2 (deleted after RSET) and moved message 1 from
    // new/ to cur/ with ":2,".
    assert_eq!(s.listing("new"), Vec::<String>::new());
    assert_eq!(s.listing("cur"), ["1000.1.host:2,"]);
}

#[test]
fn pop3d_changes_nothing_without_quit() {
    let s = Site::new();
    s.message("new", "1000.1.host", M1, 200);
    let (out, code) = s.pop3d(&["Maildir"], "dele 1\r\n");
    assert_eq!((out.as_str(), code), ("+OK \r\n+OK \r\n", 0));
    assert_eq!(s.listing("new"), ["1000.1.host"]);
}

#[test]
fn pop3d_listing_rules() {
    let s = Site::new();
    // Dot files and files of this very second are not listed; new/ and
    // cur/ mix by mtime; a stale tmp/ file (atime > 36 h) is removed, a
    // fresh one kept.
    s.message("new", ".hidden", "x\n", 300);
    s.message("new", "3000.3.host", "c\n", 50);
    s.message("cur", "1000.1.host:2,", "a\n", 300);
    s.message("new", "9999.9.host", "now\n", 0);
    let old = s.maildir().join("tmp/old");
    fs::write(&old, "x").unwrap();
    let stale = SystemTime::now() - Duration::from_secs(129_600 + 60);
    fs::File::options()
        .write(true)
        .open(&old)
        .unwrap()
        .set_times(fs::FileTimes::new().set_accessed(stale).set_modified(stale))
        .unwrap();
    fs::write(s.maildir().join("tmp/fresh"), "x").unwrap();
    let (out, _) = s.pop3d(&["Maildir"], "uidl\r\n");
    assert_eq!(
        out,
        "+OK \r\n+OK \r\n1 1000.1.host\r\n2 3000.3.host\r\n.\r\n"
    );
    assert_eq!(s.listing("tmp"), ["fresh"]);
}

#[test]
fn pop3d_same_second_messages_in_qmails_heap_order() {
    // Four messages of one second: prioq gives the first, then the last,
    // then the rest backwards (whatever order readdir returned them in).
    let s = Site::new();
    for n in ["a", "b", "c", "d"] {
        s.message("new", n, "x\n", 100);
    }
    let readdir: Vec<String> = fs::read_dir(s.maildir().join("new"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    let (out, _) = s.pop3d(&["Maildir"], "uidl\r\n");
    let expect = format!(
        "+OK \r\n+OK \r\n1 {}\r\n2 {}\r\n3 {}\r\n4 {}\r\n.\r\n",
        readdir[0], readdir[3], readdir[2], readdir[1]
    );
    assert_eq!(out, expect);
}

#[test]
fn pop3d_start_up_failures() {
    let s = Site::new();
    let (out, code) = s.pop3d(&[], "stat\r\n");
    assert_eq!(
        (out.as_str(), code),
        ("-ERR this user has no $HOME/Maildir\r\n", 0)
    );
    let (out, code) = s.pop3d(&["Nowhere"], "stat\r\n");
    assert_eq!(
        (out.as_str(), code),
        ("-ERR this user has no $HOME/Maildir\r\n", 0)
    );
    fs::remove_dir(s.maildir().join("cur")).unwrap();
    let (out, code) = s.pop3d(&["Maildir"], "stat\r\n");
    assert_eq!(
        (out.as_str(), code),
        ("-ERR unable to scan $HOME/Maildir\r\n", 0)
    );
}

fn greeting(out: &str) -> (&str, &str) {
    let (first, rest) = out.split_once("\r\n").unwrap();
    let stamp = first.strip_prefix("+OK ").unwrap();
    let inner = stamp
        .strip_prefix('<')
        .and_then(|x| x.strip_suffix("@pop.example>"))
        .unwrap_or_else(|| panic!("greeting {first:?}"));
    let (pid, time) = inner.split_once('.').unwrap();
    assert!(
        pid.parse::<u32>().is_ok() && time.parse::<u64>().is_ok(),
        "{first:?}"
    );
    (stamp, rest)
}

#[test]
fn popup_authorization_replies() {
    let s = Site::new();
    let (out, code) = s.popup(
        "pass x\r\nuser\r\nUSER joe\r\npass\r\nstat\r\nnoop\r\napop joe\r\nquit\r\nuser ignored\r\n",
    );
    let (_, rest) = greeting(&out);
    assert_eq!(
        rest,
        "-ERR USER first\r\n-ERR syntax error\r\n+OK \r\n-ERR syntax error\r\n\
         -ERR authorization first\r\n+OK \r\n-ERR syntax error\r\n+OK \r\n"
    );
    assert_eq!(code, 1);
    assert_eq!(s.fd3_log(), "");
    // End of input: exit 1, silently.
    let (out, code) = s.popup("user joe\r\n");
    assert_eq!((greeting(&out).1, code), ("+OK \r\n", 1));
}

#[test]
fn popup_usage() {
    for args in [&[][..], &["host"][..]] {
        let (out, code) = run(Command::new(POPUP).args(args), "");
        assert_eq!(
            (out.as_str(), code),
            ("-ERR usage: popup hostname subprogram\r\n", 1)
        );
    }
}

#[test]
fn popup_hands_the_login_and_the_rest_of_the_session_to_the_child() {
    let s = Site::new();
    s.message("new", "1000.1.host", M2, 100);
    // Everything in one write: the commands after PASS are the child's.
    let (out, code) = s.popup("user joe\r\npass secret\r\nstat\r\nquit\r\n");
    let (stamp, rest) = greeting(&out);
    assert_eq!(rest, "+OK \r\n+OK \r\n+OK 1 24\r\n+OK \r\n");
    assert_eq!(code, 1);
    assert_eq!(s.fd3_log(), format!("joe|secret|{stamp}\n"));
    assert_eq!(s.listing("cur"), ["1000.1.host:2,"]);
}

#[test]
fn popup_refusals() {
    let s = Site::new();
    let (out, code) = s.popup("user joe\r\npass wrong\r\nquit\r\n");
    assert_eq!(
        (greeting(&out).1, code),
        ("+OK \r\n-ERR authorization failed\r\n", 1)
    );
    // The child's stderr reaches the client.
    let (out, _) = s.popup("user noisy\r\npass x\r\n");
    assert_eq!(
        greeting(&out).1,
        "+OK \r\ncheckpassword says no\n-ERR authorization failed\r\n"
    );
    let (out, _) = s.popup("user crash\r\npass x\r\n");
    assert_eq!(greeting(&out).1, "+OK \r\n-ERR aack, child crashed\r\n");
    // APOP: name, then everything after the first space is the digest.
    let (out, _) = s.popup("apop joe a b\r\n");
    assert_eq!(greeting(&out).1, "-ERR authorization failed\r\n");
    assert!(s.fd3_log().contains("\njoe|a b|<"), "{}", s.fd3_log());
    // A checkpassword that cannot be run.
    let (out, code) = run(
        Command::new(POPUP).args(["pop.example", "/nonexistent/checkpassword", POP3D]),
        "user joe\r\npass secret\r\n",
    );
    assert_eq!(
        (greeting(&out).1, code),
        ("+OK \r\n-ERR authorization failed\r\n", 1)
    );
}

/// A tcpserver running qmail-popup on a free loopback port.
struct Server(Child, u16);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn serve(s: &Site, tcpserver: &str) -> Server {
    assert!(
        Path::new(tcpserver).exists(),
        "{tcpserver} missing: install ucspi-tcp (scripts/ci-deps)"
    );
    for _ in 0..20 {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(tcpserver)
            .args(["-H", "-R", "-l", "pop.example", "127.0.0.1"])
            .arg(port.to_string())
            .args([POPUP, "pop.example"])
            .arg(s.path().join("checkpassword"))
            .args([POP3D, "Maildir"])
            .env("T", s.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut server = Server(child, port);
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = server.0.try_wait() {
                break;
            }
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return server;
            }
            std::thread::sleep(Duration::from_millis(30));
        }
    }
    panic!("could not start {tcpserver} on a loopback port");
}

const POPLIB: &str = r#"
import poplib, sys
port, mode = int(sys.argv[1]), sys.argv[2]
p = poplib.POP3("127.0.0.1", port, timeout=10)
print(p.getwelcome().decode().split("<")[0])
if mode == "apop":
    print(p.apop("joe", "secret").decode())
else:
    print(p.user("joe").decode())
    print(p.pass_("secret").decode())
print(p.stat())
resp, lines, _ = p.uidl()
print([l.decode() for l in lines])
resp, lines, _ = p.retr(1)
print([l.decode() for l in lines])
print(p.dele(1).decode())
print(p.quit().decode())
"#;

fn poplib(port: u16, mode: &str) -> String {
    let o = Command::new("python3")
        .args(["-c", POPLIB, &port.to_string(), mode])
        .output()
        .expect("python3 (scripts/ci-deps)");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout).unwrap()
}

fn clients_under(tcpserver: &str) {
    let s = Site::new();
    s.message("new", "1000.1.host", M2, 200);
    s.message("new", "2000.2.host", M1, 100);
    let server = serve(&s, tcpserver);
    let out = poplib(server.1, "user");
    assert_eq!(
        out,
        "+OK \n+OK \n+OK \n(2, 60)\n['1 1000.1.host', '2 2000.2.host']\n\
         ['Subject: two', 'X: y', '', 'body', '']\n+OK \n+OK \n"
    );
    assert_eq!(s.listing("cur"), ["2000.2.host:2,"]);
    // APOP, computed by poplib from the greeting's timestamp.
    let out = poplib(server.1, "apop");
    assert_eq!(
        out,
        "+OK \n+OK \n(1, 36)\n['1 2000.2.host']\n\
         ['Subject: one', '', '.dot line', 'second', 'third', '']\n+OK \n+OK \n"
    );
    assert_eq!(s.listing("cur"), Vec::<String>::new());
    // curl: CAPA is refused before login, so it falls back to APOP or
    // USER/PASS by itself; it fetches message 1 of a new message.
    s.message("new", "3000.3.host", M2, 100);
    let o = Command::new("curl")
        .args(["-s", "-S", "--max-time", "10"])
        .arg(format!("pop3://joe:secret@127.0.0.1:{}/1", server.1))
        .output()
        .expect("curl");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(
        String::from_utf8(o.stdout).unwrap(),
        "Subject: two\r\nX: y\r\n\r\nbody\r\n\r\n"
    );
    let log = s.fd3_log();
    assert_eq!(log.lines().count(), 3, "{log}");
}

#[test]
fn real_clients_under_our_tcpserver() {
    clients_under(OUR_TCPSERVER);
}

#[test]
fn real_clients_under_debians_tcpserver() {
    clients_under(DEBIAN_TCPSERVER);
}

#[test]
fn a_silent_client_is_dropped_only_by_the_timeout() {
    // The session stays open while the client is quiet (1200 s in the
    // original; not waited for here): a NOOP after a pause still works.
    let s = Site::new();
    let server = serve(&s, OUR_TCPSERVER);
    let mut c = TcpStream::connect(("127.0.0.1", server.1)).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut r = BufReader::new(c.try_clone().unwrap());
    let mut line = String::new();
    r.read_line(&mut line).unwrap();
    assert!(line.starts_with("+OK <"), "{line:?}");
    std::thread::sleep(Duration::from_millis(300));
    c.write_all(b"noop\r\nquit\r\n").unwrap();
    let mut rest = String::new();
    r.read_to_string(&mut rest).unwrap();
    assert_eq!(rest, "+OK \r\n+OK \r\n");
}
