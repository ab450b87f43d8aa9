//! pop3-login (Dovecot's POP3 login phase, then the session in the same
//! process) against the recorded Dovecot sessions
//! `conformance/dovecot/pop3/*.txt`, replayed byte for byte by the
//! conformance runner with the oracle's setup (config.md §4): bob's
//! Maildir from `testdata/dovecot/bob/00-initial` for 01-03 (in order:
//! each starts where the previous left it), alice's from
//! `alice/08-after-idle-errors-misc` for 04; a checkpassword program that
//! accepts alice/alicepw and bob/bobpw and exports USER, HOME and the
//! userdb uid/gid through our checkpassword-reply; SSL with the test
//! certificate (STLS). Each connection is a pop3-login child on
//! stdin/stdout with tcpserver's environment for 127.0.0.1.
//!
//! Then real clients: Python's poplib (USER/PASS, STLS, UIDL, RETR, DELE)
//! and curl's pop3:// (LIST, RETR) through our tcpserver.
//!
//! As root the mail user is `nobody` (the login switches to it); as an
//! ordinary user everything runs as that user.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use qmail::conformance::setup::known_differences;
use qmail::conformance::transcript;
use qmail::conformance::{self, replay, Options, Target, Verdict};

mod dovecot_support;
use dovecot_support::{
    cert_and_key, chown_tree, copy_tree, login_with_short_timeout, mail_ids, repo, stdout_to_end,
};

const LOGIN: &str = env!("CARGO_BIN_EXE_pop3-login");

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
        for (user, snap) in [
            ("bob", "bob/00-initial"),
            ("alice", "alice/08-after-idle-errors-misc"),
        ] {
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
             pop3_uidl_format = %08Xu%08Xv\n!include auth-checkpassword.conf.ext\n",
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
            ("TCPLOCALPORT", "10110"),
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

#[test]
fn recorded_pop3_sessions_replay_against_pop3_login() {
    let known = known_differences(
        &std::fs::read_to_string(repo().join("conformance/known-differences")).unwrap(),
    )
    .unwrap();
    let site = Site::new();
    let opts = Options {
        timeout: Duration::from_secs(15),
        tls_name: "localhost".into(),
    };
    let mut failures = String::new();
    let mut ran = 0;
    for name in [
        "01-greeting-capa-auth",
        "02-transaction",
        "03-dele-quit",
        "04-imap-user-via-pop3",
    ] {
        let path = repo()
            .join("conformance/dovecot/pop3")
            .join(format!("{name}.txt"));
        let t = transcript::parse(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let v = replay(&t, &site.target(), &opts);
        ran += 1;
        let case = conformance::case_name(&path);
        if v != Verdict::Pass && !known.iter().any(|k| k.case == case) {
            failures.push_str(&conformance::report(&case, &v));
        }
    }
    assert_eq!(ran, 4);
    assert!(failures.is_empty(), "unexpected differences:\n{failures}");
    // The Maildir ends as the real Dovecot's did (bob/02-final).
    let md = site.t.path().join("home/bob/Maildir");
    let mut cur: Vec<String> = std::fs::read_dir(md.join("cur"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    cur.sort();
    let mut want: Vec<String> = std::fs::read_dir(repo().join("testdata/dovecot/bob/02-final/cur"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    want.sort();
    assert_eq!(cur, want);
    assert_eq!(
        std::fs::read_to_string(md.join("dovecot-uidlist")).unwrap(),
        std::fs::read_to_string(repo().join("testdata/dovecot/bob/02-final/dovecot-uidlist"))
            .unwrap()
    );
}

/// Our tcpserver running pop3-login on a free loopback port.
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

fn serve(site: &Site) -> Server {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let tcpserver = Path::new(LOGIN).parent().unwrap().join("tcpserver");
    let child = Command::new(tcpserver)
        .args(["-R", "-H", "127.0.0.1", &port.to_string(), LOGIN, "-c"])
        .arg(site.conf())
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
fn python_poplib_and_curl() {
    let site = Site::new();
    let srv = serve(&site);
    let script = format!(
        r#"
import poplib, ssl
p = poplib.POP3("127.0.0.1", {port})
assert p.getwelcome() == b"+OK Dovecot (Debian) ready.", p.getwelcome()
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
p.stls(ctx)
caps = p.capa()
assert "USER" in caps and "STLS" not in caps, caps
p.user("bob"); p.pass_("bobpw")
print(p.stat())
print([l.decode() for l in p.uidl()[1]])
r = p.retr(2)
assert r[0] == b"+OK 403 octets", r[0]
assert b"..A line starting with a dot" not in r[1] and b".A line starting with a dot" in r[1], r[1]
p.dele(1)
print(p.quit().decode())
p = poplib.POP3("127.0.0.1", {port})
p.user("bob"); p.pass_("bobpw")
print(p.stat())
p.quit()
"#,
        port = srv.port
    );
    let o = Command::new("python3")
        .arg("-c")
        .arg(&script)
        .output()
        .expect("python3");
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "poplib: {out}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(
        out,
        "(4, 5322)\n['1 000000036553f0ff', '2 000000056553f0ff', '3 0000000aLEGACYUIDL', '4 000000076553f0ff']\n\
         +OK Logging out, messages deleted.\n(3, 4721)\n"
    );
    let url = format!("pop3://127.0.0.1:{}/", srv.port);
    let o = Command::new("curl")
        .args(["-s", "--user", "bob:bobpw", &url])
        .output()
        .expect("curl");
    assert!(o.status.success(), "curl LIST: {o:?}");
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        "1 403\r\n2 4058\r\n3 260\r\n"
    );
    let o = Command::new("curl")
        .args(["-s", "--user", "bob:bobpw", &format!("{url}3")])
        .output()
        .expect("curl");
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("Thursday 10:00 works for me."),
        "{o:?}"
    );
    let o = Command::new("curl")
        .args(["-s", "--user", "bob:wrong", &url])
        .output()
        .expect("curl");
    assert!(!o.status.success(), "a wrong password must fail");
}

/// The hoster's setup: vmailmgr's checkvpw as the checkpassword passdb
/// (`args = /usr/bin/checkvpw`), `userdb { driver = prefetch }`,
/// `mail_location = maildir:~/users/%{auth_username}`, a virtual user made
/// with vsetup and vadduser. As root the domain owner is `qmaild` and
/// checkvpw really switches to it (INSECURE_SETUID=1 through
/// import_environment, as with Dovecot).
#[test]
fn checkvpw_is_the_passdb() {
    let bin = |n: &str| Path::new(LOGIN).parent().unwrap().join(n);
    let root_user = nix::unistd::geteuid().is_root();
    let (uid, gid) = if root_user {
        let u = nix::unistd::User::from_name("qmaild")
            .unwrap()
            .expect("qmaild (scripts/create-users)");
        (u.uid.as_raw(), u.gid.as_raw())
    } else {
        (
            nix::unistd::getuid().as_raw(),
            nix::unistd::getgid().as_raw(),
        )
    };
    let t = tempfile::tempdir().unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(t.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let (root, home) = (t.path().join("root"), t.path().join("home"));
    std::fs::create_dir_all(root.join("etc/vmailmgr")).unwrap();
    std::fs::create_dir_all(root.join("var/qmail/control")).unwrap();
    std::fs::create_dir(&home).unwrap();
    chown_tree(&home, uid, gid);
    std::fs::write(
        root.join("etc/passwd"),
        format!("vmtest:x:{uid}:{gid}::{}:/bin/sh\n", home.display()),
    )
    .unwrap();
    std::fs::write(
        root.join("var/qmail/control/virtualdomains"),
        "example.com:vmtest\n",
    )
    .unwrap();
    let owner = |prog: &str, args: &[&str], input: &str| {
        use std::io::Write;
        use std::os::unix::process::CommandExt;
        let mut c = Command::new(bin(prog));
        c.args(args)
            .env_clear()
            .env("HOME", &home)
            .env("QMAILRS_ROOT", &root)
            .current_dir(&home)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        if root_user {
            c.uid(uid).gid(gid);
        } else {
            c.env("QMAILRS_SINGLE_USER", "1");
        }
        let mut ch = c.spawn().unwrap();
        ch.stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
        let o = ch.wait_with_output().unwrap();
        assert!(
            o.status.success(),
            "{prog}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    };
    owner("vsetup", &[], "");
    owner("vadduser", &["alice"], "alicepw\n");
    let msg = home.join("users/alice/new/1700000000.1.test");
    std::fs::write(&msg, "From: a@b\nSubject: hi\n\nhello\n").unwrap();
    chown_tree(&msg, uid, gid);
    let conf = t.path().join("dovecot.conf");
    std::fs::write(
        &conf,
        format!(
            "ssl = no\ndisable_plaintext_auth = no\nauth_failure_delay = 0\nfirst_valid_uid = 1\n\
             import_environment = QMAILRS_ROOT QMAILRS_SINGLE_USER INSECURE_SETUID=1\n\
             mail_location = maildir:~/users/%{{auth_username}}\n\
             passdb {{\n  driver = checkpassword\n  args = {}\n}}\nuserdb {{\n  driver = prefetch\n}}\n",
            bin("checkvpw").display()
        ),
    )
    .unwrap();
    let session = |script: &str| {
        use std::io::{Read, Write};
        let mut c = Command::new(LOGIN);
        c.arg("-c")
            .arg(&conf)
            .env_clear()
            .env("QMAILRS_ROOT", &root)
            .env("TCPLOCALIP", "127.0.0.1")
            .env("TCPREMOTEIP", "127.0.0.1")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        if !root_user {
            c.env("QMAILRS_SINGLE_USER", "1");
        }
        let mut ch = c.spawn().unwrap();
        ch.stdin
            .take()
            .unwrap()
            .write_all(script.as_bytes())
            .unwrap();
        let mut out = String::new();
        ch.stdout.take().unwrap().read_to_string(&mut out).unwrap();
        let o = ch.wait_with_output().unwrap();
        (out, String::from_utf8_lossy(&o.stderr).into_owned())
    };
    let (out, err) =
        session("USER alice@example.com\r\nPASS alicepw\r\nSTAT\r\nUIDL\r\nRETR 1\r\nQUIT\r\n");
    assert!(
        out.starts_with(
            "+OK Dovecot (Debian) ready.\r\n+OK\r\n+OK Logged in.\r\n+OK 1 33\r\n+OK\r\n1 00000001"
        ),
        "{out}{err}"
    );
    assert!(
        out.contains(
            "+OK 33 octets\r\nFrom: a@b\r\nSubject: hi\r\n\r\nhello\r\n.\r\n+OK Logging out.\r\n"
        ),
        "{out}"
    );
    assert!(
        home.join("users/alice/cur/1700000000.1.test:2,S").exists(),
        "RETR + QUIT sets \\Seen"
    );
    let (out, _) = session("USER alice@example.com\r\nPASS wrong\r\nUSER nobody@example.com\r\nPASS alicepw\r\nQUIT\r\n");
    assert_eq!(
        out,
        "+OK Dovecot (Debian) ready.\r\n+OK\r\n-ERR [AUTH] Authentication failed.\r\n+OK\r\n\
         -ERR [AUTH] Authentication failed.\r\n+OK Logging out\r\n"
    );
}

/// login-common's timeout counts from the connection, not from the last
/// command (3 minutes; 1 s here through QMAILRS_IMAP_LOGIN_TIMEOUT), and
/// inside an AUTH exchange its text says so.
#[test]
fn login_timeout_from_connect() {
    use std::io::{BufRead, BufReader, Write};
    let site = Site::new();
    let start = |input: &[u8]| {
        login_with_short_timeout(LOGIN, &site.conf(), "QMAILRS_IMAP_LOGIN_TIMEOUT", input)
    };
    let line = |r: &mut BufReader<std::process::ChildStdout>| {
        let mut l = String::new();
        r.read_line(&mut l).unwrap();
        l
    };
    // Busy with USER commands (pre-login POP3 has no NOOP), still out
    // about a second after connecting.
    let (mut child, mut w) = start(b"");
    let mut r = BufReader::new(child.stdout.take().unwrap());
    assert!(line(&mut r).starts_with("+OK "));
    let t = std::time::Instant::now();
    for n in 0..3 {
        w.write_all(format!("USER u{n}\r\n").as_bytes()).unwrap();
        assert_eq!(line(&mut r), "+OK\r\n");
        std::thread::sleep(Duration::from_millis(300));
    }
    assert_eq!(line(&mut r), "-ERR Disconnected for inactivity.\r\n");
    assert!(
        t.elapsed() < Duration::from_millis(1900),
        "{:?}",
        t.elapsed()
    );
    child.wait().unwrap();
    let (mut child, _w) = start(b"AUTH PLAIN\r\n");
    let out = stdout_to_end(&mut child);
    assert!(
        out.ends_with("\r\n+ \r\n-ERR Disconnected for inactivity during authentication.\r\n"),
        "{out}"
    );
    child.wait().unwrap();
}
