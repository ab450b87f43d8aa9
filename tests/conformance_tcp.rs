//! The hoster's path: qmail-smtpd under a real tcpserver on loopback
//! (ours, and Debian's ucspi-tcp as `scripts/ci-deps` installs), replayed over TCP
//! by the `qmailrs-conformance` bin, the way `conformance/run HOST:PORT`
//! does. Covers plain sessions, pipelining, STARTTLS and AUTH over a
//! socket (with `conformance/stubs/checkpassword`).

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use qmail::conformance::setup::write_controls;
use qmail::conformance::transcript;

const SMTPD: &str = env!("CARGO_BIN_EXE_qmail-smtpd");
const RUNNER: &str = env!("CARGO_BIN_EXE_qmailrs-conformance");
const DEBIAN_TCPSERVER: &str = "/usr/bin/tcpserver";
const OUR_TCPSERVER: &str = env!("CARGO_BIN_EXE_tcpserver");

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Kills the tcpserver we started when the test ends.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start(tcpserver: &str, root: &Path, salt: u16) -> (Server, u16) {
    assert!(
        Path::new(tcpserver).exists(),
        "{tcpserver} missing: install ucspi-tcp (scripts/ci-deps)"
    );
    let queue = repo().join("conformance/stubs/qmail-queue");
    for attempt in 0..20u16 {
        let port = 20000 + (std::process::id() as u16 % 20000) + attempt * 97 + salt;
        let child = Command::new(tcpserver)
            .args(["-H", "-R", "-l", "oracle.example", "127.0.0.1"])
            .arg(port.to_string())
            .arg(SMTPD)
            .arg(repo().join("conformance/stubs/checkpassword"))
            .arg("/bin/true")
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .env("QMAILRS_ROOT", root)
            .env("QMAILRS_SINGLE_USER", "1")
            .env("QMAILQUEUE", &queue)
            .env("SMTPAUTH", "")
            .env("FORCETLS", "0")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut server = Server(child);
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = server.0.try_wait() {
                break; // port taken: try another
            }
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return (server, port);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        drop(server);
    }
    panic!("could not start tcpserver on a free loopback port");
}

fn replay_under(tcpserver: &str, salt: u16) {
    let root = tempfile::tempdir().unwrap();
    let files: Vec<PathBuf> = [
        "01-greeting",
        "02-helo",
        "04-happy-path",
        "07-badmailfrom",
        "12-pipelining",
        "13-starttls",
        "14-auth-plain-login",
        "14b-auth-login-interactive",
        "14e-auth-after-starttls",
    ]
    .iter()
    .map(|n| repo().join(format!("conformance/qmail/transcripts/{n}.txt")))
    .collect();
    let t = transcript::parse(&std::fs::read_to_string(&files[0]).unwrap()).unwrap();
    let cert = std::fs::read(repo().join("conformance/fixtures/servercert.pem")).unwrap();
    write_controls(&t.header, &root.path().join("var/qmail/control"), &|n| {
        (n == "servercert.pem").then(|| cert.clone())
    })
    .unwrap();
    let (_server, port) = start(tcpserver, root.path(), salt);
    let out = Command::new(RUNNER)
        .args(["--tcp", &format!("127.0.0.1:{port}")])
        .args(["--tls-name", "oracle.example", "--timeout", "10", "--known"])
        .arg(repo().join("conformance/known-differences"))
        .args(&files)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        text.lines().filter(|l| l.starts_with("PASS ")).count(),
        files.len(),
        "{text}"
    );
}

#[test]
fn recorded_sessions_over_tcp_under_debians_tcpserver() {
    replay_under(DEBIAN_TCPSERVER, 0);
}

#[test]
fn recorded_sessions_over_tcp_under_our_tcpserver() {
    replay_under(OUR_TCPSERVER, 5000);
}
