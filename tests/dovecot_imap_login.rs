//! imap-login (Dovecot's IMAP pre-login, then the IMAP session in the
//! same process) against the recorded Dovecot sessions
//! `conformance/dovecot/imap/01-03`, replayed byte for byte by the
//! conformance runner with the oracle's setup (config.md §4): alice's
//! Maildir from `testdata/dovecot/alice/08-after-idle-errors-misc`; a
//! checkpassword program that accepts alice/alicepw and exports USER,
//! HOME and the userdb uid/gid through our checkpassword-reply; SSL with
//! the test certificate (STARTTLS). Dovecot's post-login capability list
//! is replaced by ours (known difference `program:imap`). Each connection
//! is an imap-login child on stdin/stdout with tcpserver's environment
//! for 127.0.0.1 (and one off loopback: plaintext refused until
//! STARTTLS). Then Python's imaplib (STARTTLS, LOGIN, AUTHENTICATE, SELECT,
//! FETCH; implicit TLS with --ssl) through our tcpserver.
//!
//! As root the mail user is `nobody` (the login switches to it); as an
//! ordinary user everything runs as that user.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use qmail::conformance::transcript::{self, Event};
use qmail::conformance::{self, replay, Options, Target, Verdict};
use qmail::imap::{CAPABILITY, DOVECOT_CAPABILITY};

mod dovecot_support;
use dovecot_support::{
    cert_and_key, chown_tree, copy_tree, login_with_short_timeout, mail_ids, repo, stdout_to_end,
};

const LOGIN: &str = env!("CARGO_BIN_EXE_imap-login");

/// The oracle's setup in a temporary directory.
struct Site {
    t: tempfile::TempDir,
}

impl Site {
    fn new() -> Site {
        let t = tempfile::tempdir().unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(t.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let d = t.path();
        let (uid, gid) = mail_ids();
        for (user, snap) in [("alice", "alice/08-after-idle-errors-misc")] {
            let md = d.join("home").join(user).join("Maildir");
            copy_tree(&repo().join("testdata/dovecot").join(snap), &md);
            for s in ["cur", "new", "tmp"] {
                std::fs::create_dir_all(md.join(s)).unwrap();
            }
            chown_tree(&d.join("home").join(user), uid, gid);
        }
        let (certs, key) = cert_and_key();
        std::fs::write(d.join("cert.pem"), certs).unwrap();
        std::fs::write(d.join("key.pem"), key).unwrap();
        let checkpw = d.join("checkpw");
        std::fs::write(
            &checkpw,
            format!(
                "#!/bin/bash\nIFS= read -r -d '' user <&3\nIFS= read -r -d '' pass <&3\n\
                 case \"$user:$pass\" in alice:alicepw|bob:bobpw) ;; *) exit 1 ;; esac\n\
                 export USER=\"$user\" HOME=\"{home}/$user\" userdb_uid={uid} userdb_gid={gid} EXTRA='userdb_uid userdb_gid'\n\
                 exec \"$@\"\n",
                home = d.join("home").display()
            ),
        )
        .unwrap();
        std::fs::set_permissions(&checkpw, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::write(
            d.join("dovecot.conf"),
            "protocols = imap pop3\nlisten = 127.0.0.1\nssl = yes\nssl_cert = <cert.pem\nssl_key = <key.pem\n\
             auth_mechanisms = plain login\nmail_location = maildir:~/Maildir\nfirst_valid_uid = 1\n\
             auth_failure_delay = 0\n!include auth-checkpassword.conf.ext\n",
        )
        .unwrap();
        std::fs::write(
            d.join("auth-checkpassword.conf.ext"),
            format!("passdb {{\n  driver = checkpassword\n  args = {}\n}}\nuserdb {{\n  driver = prefetch\n}}\n", checkpw.display()),
        )
        .unwrap();
        Site { t }
    }

    fn conf(&self) -> PathBuf {
        self.t.path().join("dovecot.conf")
    }

    fn target(&self) -> Target {
        let env = [
            ("TCPLOCALIP", "127.0.0.1"),
            ("TCPLOCALPORT", "10143"),
            ("TCPREMOTEIP", "127.0.0.1"),
            ("TCPREMOTEPORT", "40000"),
            ("PROTO", "TCP"),
        ];
        Target::Child {
            program: LOGIN.into(),
            args: vec!["-c".into(), self.conf().display().to_string()],
            env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            clear_env: true,
        }
    }
}

/// Our tcpserver running imap-login on a free loopback port.
struct Server {
    child: std::process::Child,
    port: u16,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(site: &Site, extra: &[&str]) -> Server {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let tcpserver = Path::new(LOGIN).parent().unwrap().join("tcpserver");
    let child = Command::new(tcpserver)
        .args(["-R", "-H", "127.0.0.1", &port.to_string(), LOGIN, "-c"])
        .arg(site.conf())
        .args(extra)
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let srv = Server { child, port };
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return srv;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("tcpserver did not start");
}

#[test]
fn recorded_imap_login_sessions_replay_against_imap_login() {
    let site = Site::new();
    let opts = Options {
        timeout: Duration::from_secs(15),
        tls_name: "localhost".into(),
    };
    let mut failures = String::new();
    for name in [
        "01-greeting-capability",
        "02-login-authenticate",
        "03-starttls",
    ] {
        let path = repo()
            .join("conformance/dovecot/imap")
            .join(format!("{name}.txt"));
        let mut t = transcript::parse(&std::fs::read_to_string(&path).unwrap()).unwrap();
        for s in &mut t.sections {
            for step in &mut s.steps {
                if let Event::Expect(l) = &mut step.event {
                    let text = String::from_utf8_lossy(l).replace(DOVECOT_CAPABILITY, CAPABILITY);
                    *l = text.into_bytes();
                }
            }
        }
        let v = replay(&t, &site.target(), &opts);
        if v != Verdict::Pass {
            failures.push_str(&conformance::report(&conformance::case_name(&path), &v));
        }
    }
    assert!(failures.is_empty(), "unexpected differences:\n{failures}");
}

#[test]
fn python_imaplib() {
    let site = Site::new();
    let srv = serve(&site, &[]);
    let tls = serve(&site, &["--ssl"]);
    let script = format!(
        r#"
import imaplib, ssl
m = imaplib.IMAP4("127.0.0.1", {port})
assert m.welcome == b"* OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ STARTTLS AUTH=PLAIN AUTH=LOGIN] Dovecot (Debian) ready.", m.welcome
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
m.starttls(ctx)
assert "STARTTLS" not in m.capabilities, m.capabilities
typ, _ = m.login("alice", "alicepw")
assert typ == "OK"
assert b" MOVE " in m.capability()[1][0]
typ, data = m.select("INBOX")
assert typ == "OK", data
n = int(data[0])
typ, data = m.fetch("1", "(FLAGS)")
assert typ == "OK", data
print(n > 0, typ)
m.logout()
m = imaplib.IMAP4("127.0.0.1", {port})
try:
    m.login("alice", "wrong")
    raise SystemExit("wrong password accepted")
except imaplib.IMAP4.error as e:
    print(e)
m.authenticate("PLAIN", lambda _: b"\0alice\0alicepw")
print(m.select("INBOX", readonly=True)[0])
m.logout()
m = imaplib.IMAP4_SSL("127.0.0.1", {tls_port}, ssl_context=ctx)
assert b"STARTTLS" not in m.welcome and b"AUTH=PLAIN" in m.welcome, m.welcome
m.login("alice", "alicepw")
print(m.select("INBOX")[0])
m.logout()
"#,
        port = srv.port,
        tls_port = tls.port
    );
    let o = Command::new("python3")
        .arg("-c")
        .arg(&script)
        .output()
        .expect("python3");
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "imaplib: {out}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(
        out,
        "True OK\nb'[AUTHENTICATIONFAILED] Authentication failed.'\nOK\nOK\n"
    );
}

/// Off loopback (client IP not the local IP, no TLS) plaintext logins
/// are refused (`disable_plaintext_auth = yes`, the default) and the
/// greeting says LOGINDISABLED; after STARTTLS they work.
#[test]
fn plaintext_needs_tls_off_loopback() {
    let site = Site::new();
    let text = format!(
        "S: * OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ STARTTLS LOGINDISABLED] Dovecot (Debian) ready.\n\
         C: a1 LOGIN alice alicepw\n\
         S: a1 NO [PRIVACYREQUIRED] Plaintext authentication disallowed on non-secure (SSL/TLS) connections.\n\
         C: a2 AUTHENTICATE PLAIN AGFsaWNlAGFsaWNlcHc=\n\
         S: a2 NO [PRIVACYREQUIRED] Plaintext authentication disallowed on non-secure (SSL/TLS) connections.\n\
         C: a3 STARTTLS\n\
         S: a3 OK Begin TLS negotiation now.\n\
         # (TLS handshake done)\n\
         C: a4 CAPABILITY\n\
         S: * CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ AUTH=PLAIN AUTH=LOGIN\n\
         S: a4 OK Pre-login capabilities listed, post-login capabilities have more.\n\
         C: a5 LOGIN alice alicepw\n\
         S: a5 OK [CAPABILITY {CAPABILITY}] Logged in\n\
         C: a6 LOGOUT\n\
         S: * BYE Logging out\n\
         S: a6 OK Logout completed (0.001 + 0.000 secs).\n"
    );
    let t = transcript::parse(&text).unwrap();
    let mut target = site.target();
    if let Target::Child { env, .. } = &mut target {
        for (k, v) in env.iter_mut() {
            if k == "TCPREMOTEIP" {
                *v = "192.0.2.1".into();
            }
        }
    }
    let opts = Options {
        timeout: Duration::from_secs(15),
        tls_name: "localhost".into(),
    };
    let v = replay(&t, &target, &opts);
    assert!(
        v == Verdict::Pass,
        "{}",
        conformance::report("off-loopback", &v)
    );
}

/// IDLE inside imap-login's process (its input waits on the shared
/// connection): a message delivered into new/ during IDLE is pushed as
/// `* N EXISTS`, DONE ends it.
#[test]
fn idle_after_imap_login() {
    use std::io::{BufRead, BufReader, Write};
    let site = Site::new();
    let srv = serve(&site, &[]);
    let s = std::net::TcpStream::connect(("127.0.0.1", srv.port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut w = s.try_clone().unwrap();
    let mut r = BufReader::new(s);
    let mut until = |prefix: &str| -> Vec<String> {
        let mut got = Vec::new();
        loop {
            let mut l = String::new();
            assert!(r.read_line(&mut l).unwrap() > 0, "closed; got {got:?}");
            let done = l.starts_with(prefix);
            got.push(l);
            if done {
                return got;
            }
        }
    };
    until("* OK ");
    w.write_all(b"a1 LOGIN alice alicepw\r\n").unwrap();
    assert!(until("a1 ")
        .last()
        .unwrap()
        .starts_with("a1 OK [CAPABILITY "));
    w.write_all(b"a2 SELECT INBOX\r\n").unwrap();
    let sel = until("a2 ");
    let n: usize = sel
        .iter()
        .find_map(|l| {
            l.strip_suffix(" EXISTS\r\n")?
                .strip_prefix("* ")?
                .parse()
                .ok()
        })
        .expect("EXISTS");
    w.write_all(b"a3 IDLE\r\n").unwrap();
    assert_eq!(until("+ ").last().unwrap(), "+ idling\r\n");
    let new = site
        .t
        .path()
        .join("home/alice/Maildir/new/1800000000.P1.test");
    std::fs::write(&new, "Subject: idle\r\n\r\nhi\r\n").unwrap();
    let (uid, gid) = mail_ids();
    chown_tree(&new, uid, gid);
    until(&format!("* {} EXISTS", n + 1));
    w.write_all(b"DONE\r\n").unwrap();
    assert!(until("a3 ")
        .last()
        .unwrap()
        .starts_with("a3 OK Idle completed"));
    w.write_all(b"a4 LOGOUT\r\n").unwrap();
    until("a4 OK");
}

/// Lines from `r` until one starts with `prefix` (panics at EOF).
fn read_until(r: &mut impl std::io::BufRead, prefix: &str) -> Vec<String> {
    let mut got = Vec::new();
    loop {
        let mut l = String::new();
        assert!(r.read_line(&mut l).unwrap() > 0, "closed; got {got:?}");
        let done = l.starts_with(prefix);
        got.push(l);
        if done {
            return got;
        }
    }
}

/// After a login, Dovecot's 30-minute inactivity timeout (here 1 s
/// through QMAILRS_IMAP_IDLE_TIMEOUT, which a set-uid run ignores) ends
/// the session with `* BYE Disconnected for inactivity.`; IDLE is never
/// timed out; the standalone `imap` does the same.
#[test]
fn inactivity_timeout_after_login() {
    use std::io::{BufRead, BufReader, Read, Write};
    use std::process::Stdio;
    let site = Site::new();
    let (mut child, mut w) =
        login_with_short_timeout(LOGIN, &site.conf(), "QMAILRS_IMAP_IDLE_TIMEOUT", b"");
    let mut r = BufReader::new(child.stdout.take().unwrap());
    read_until(&mut r, "* OK ");
    w.write_all(b"a1 LOGIN alice alicepw\r\na2 IDLE\r\n")
        .unwrap();
    read_until(&mut r, "a1 OK ");
    read_until(&mut r, "+ idling");
    std::thread::sleep(Duration::from_millis(2500));
    w.write_all(b"DONE\r\n").unwrap();
    assert!(read_until(&mut r, "a2 ")[0].starts_with("a2 OK Idle completed"));
    let mut l = String::new();
    r.read_line(&mut l).unwrap();
    assert_eq!(l, "* BYE Disconnected for inactivity.\r\n");
    let mut rest = String::new();
    r.read_to_string(&mut rest).unwrap();
    assert_eq!(rest, "", "closed after the BYE");
    child.wait().unwrap();

    let home = site.t.path().join("home/alice");
    let mut imap = Command::new(env!("CARGO_BIN_EXE_imap"))
        .env_clear()
        .env("USER", "alice")
        .env("HOME", &home)
        .env("QMAILRS_IMAP_IDLE_TIMEOUT", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let _keep_open = imap.stdin.take().unwrap();
    let mut out = String::new();
    imap.stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    assert!(
        out.ends_with("] Logged in as alice\r\n* BYE Disconnected for inactivity.\r\n"),
        "{out}"
    );
    imap.wait().unwrap();
}

/// Dovecot's login timeout counts from the connection, not from the last
/// command (3 minutes; 1 s here through QMAILRS_IMAP_LOGIN_TIMEOUT), and
/// inside an AUTHENTICATE exchange its text says so.
#[test]
fn login_timeout_from_connect() {
    use std::io::{BufReader, Write};
    let site = Site::new();
    let start = |input: &[u8]| {
        login_with_short_timeout(LOGIN, &site.conf(), "QMAILRS_IMAP_LOGIN_TIMEOUT", input)
    };
    // Busy with NOOPs, still out after about a second.
    let (mut child, mut w) = start(b"");
    let mut r = BufReader::new(child.stdout.take().unwrap());
    read_until(&mut r, "* OK ");
    for n in 0..3 {
        w.write_all(format!("n{n} NOOP\r\n").as_bytes()).unwrap();
        read_until(&mut r, &format!("n{n} OK"));
        std::thread::sleep(Duration::from_millis(300));
    }
    let got = read_until(&mut r, "* BYE");
    assert_eq!(
        got.last().unwrap(),
        "* BYE Disconnected for inactivity.\r\n"
    );
    child.wait().unwrap();
    let (mut child, _w) = start(b"a1 AUTHENTICATE PLAIN\r\n");
    let out = stdout_to_end(&mut child);
    assert!(
        out.ends_with("\r\n+ \r\n* BYE Disconnected for inactivity during authentication.\r\n"),
        "{out}"
    );
    child.wait().unwrap();
}
