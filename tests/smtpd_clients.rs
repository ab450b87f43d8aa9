//! qmail-smtpd driven by real clients: swaks (STARTTLS, AUTH PLAIN,
//! LOGIN, CRAM-MD5, SMTPS), Python's smtplib, Debian's tcpserver with a
//! tcp.smtp.cdb granting RELAYCLIENT, and rustls clients on TLS 1.2 and
//! 1.3. Needs the Debian packages swaks, ucspi-tcp and openssl, and
//! python3 (`scripts/ci-deps`); a missing tool fails the test.

mod smtpd_common;

use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use smtpd_common::{Client, Host, BIN};

/// tcpserver running our qmail-smtpd; killed on drop.
struct Server {
    child: Child,
    port: u16,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn tcpserver(h: &Host, env: &[(&str, &str)]) -> Server {
    let rules = h.root().join("tcp.smtp");
    std::fs::write(&rules, "127.0.0.1:allow,RELAYCLIENT=\"\"\n:allow\n").unwrap();
    let cdb = h.root().join("tcp.smtp.cdb");
    let st = Command::new("tcprules")
        .arg(&cdb)
        .arg(h.root().join("tcp.smtp.tmp"))
        .stdin(std::fs::File::open(&rules).unwrap())
        .status()
        .expect("tcprules (Debian ucspi-tcp) must be installed");
    assert!(st.success());
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut c = Command::new("tcpserver");
    c.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("QMAILRS_ROOT", h.root())
        .env("QMAILRS_SINGLE_USER", "1")
        .env("QMAILQUEUE", h.qq())
        .env("QQ_SPOOL", h.spool());
    for (k, v) in env {
        c.env(k, v);
    }
    let mut child = c
        .args(["-R", "-H", "-l", "oracle.example", "-x"])
        .arg(&cdb)
        .args(["127.0.0.1", &port.to_string(), BIN])
        .arg(h.checkpassword())
        .arg("/bin/true")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("tcpserver (Debian ucspi-tcp) must be installed");
    for _ in 0..100 {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Server { child, port };
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("tcpserver did not start");
}

fn swaks(args: &[&str]) -> (bool, String) {
    let out = Command::new("swaks")
        .args(args)
        .output()
        .expect("swaks must be installed");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), text)
}

/// A `--pipe` command line running our qmail-smtpd in the host.
fn pipe_cmd(h: &Host, env: &str) -> String {
    format!(
        "env QMAILRS_ROOT={} QMAILRS_SINGLE_USER=1 QMAILQUEUE={} QQ_SPOOL={} TCPREMOTEIP=127.0.0.1 TCPLOCALHOST=oracle.example {env} {BIN} {} /bin/true",
        h.root().display(),
        h.qq(),
        h.spool().display(),
        h.checkpassword()
    )
}

#[test]
fn tcpserver_rules_grant_relayclient() {
    let h = Host::oracle();
    let s = tcpserver(&h, &[]);
    let server = format!("127.0.0.1:{}", s.port);
    let (ok, out) = swaks(&[
        "--server",
        &server,
        "--from",
        "a@remote.example",
        "--to",
        "x@elsewhere.example",
        "--helo",
        "client.example",
    ]);
    assert!(ok, "{out}");
    assert!(out.contains("<-  250 ok "), "{out}");
    let q = h.queued();
    assert_eq!(q.len(), 1);
    assert_eq!(q[0].2, b"Fa@remote.example\0Tx@elsewhere.example\0\0");
    let msg = String::from_utf8_lossy(&q[0].1).into_owned();
    assert!(msg.starts_with("Received: from unknown (HELO client.example) (127.0.0.1)\n  by oracle.example with SMTP; "), "{msg}");
}

#[test]
fn swaks_starttls_and_every_auth_mechanism() {
    let h = Host::oracle();
    // force-tls on (FORCETLS unset): AUTH only inside TLS.
    let pipe = pipe_cmd(&h, "SMTPAUTH=+cram");
    for mech in ["PLAIN", "LOGIN", "CRAM-MD5"] {
        let (ok, out) = swaks(&[
            "--pipe",
            &pipe,
            "-tls",
            "--auth",
            mech,
            "--auth-user",
            "testuser@example.org",
            "--auth-password",
            "secret",
            "--from",
            "testuser@example.org",
            "--to",
            "x@elsewhere.example",
            "--helo",
            "client.example",
        ]);
        assert!(ok, "{mech}: {out}");
        assert!(
            out.contains("<~  235 ok, go ahead (#2.0.0)"),
            "{mech}: {out}"
        );
    }
    let (ok, out) = swaks(&[
        "--pipe",
        &pipe,
        "-tls",
        "--auth",
        "PLAIN",
        "--auth-user",
        "testuser",
        "--auth-password",
        "wrong",
        "--to",
        "x@elsewhere.example",
    ]);
    assert!(!ok);
    assert!(out.contains("535 authentication failed (#5.7.1)"), "{out}");
    let q = h.queued();
    assert_eq!(q.len(), 3);
    for (_, msg, _) in q {
        let msg = String::from_utf8_lossy(&msg).into_owned();
        assert!(
            msg.starts_with("Received: from unknown (HELO client.example) (testuser@example.org@127.0.0.1)\n  by oracle.example with ESMTPSA (TLS_AES_256_GCM_SHA384 encrypted, authenticated); "),
            "{msg}"
        );
    }
}

#[test]
fn swaks_smtps() {
    let h = Host::oracle();
    let (ok, out) = swaks(&[
        "--pipe",
        &pipe_cmd(&h, "SMTPS=1"),
        "--tlsc",
        "--to",
        "testuser@example.org",
        "--helo",
        "client.example",
    ]);
    assert!(ok, "{out}");
    assert!(out.contains("<~  220 oracle.example ESMTP"), "{out}");
    let q = h.queued();
    assert_eq!(q.len(), 1);
    assert!(String::from_utf8_lossy(&q[0].1)
        .contains("with ESMTPS (TLS_AES_256_GCM_SHA384 encrypted); "));
}

const PY: &str = r#"
import smtplib, ssl, sys
port, mech = int(sys.argv[1]), sys.argv[2]
s = smtplib.SMTP('127.0.0.1', port, local_hostname='client.example', timeout=20)
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
s.starttls(context=ctx)
s.ehlo('client.example')
s.user, s.password = 'testuser', 'secret'
code, resp = s.auth(mech, getattr(s, 'auth_' + mech.lower().replace('-', '_')))
assert code == 235, (code, resp)
r = s.sendmail('testuser@example.org', ['someone@elsewhere.example'], 'Subject: py\r\n\r\nhello\r\n')
assert r == {}, r
s.quit()
print('ok', mech)
"#;

#[test]
fn python_smtplib_starttls_auth() {
    let h = Host::oracle();
    let s = tcpserver(&h, &[("SMTPAUTH", "+cram")]);
    for mech in ["PLAIN", "LOGIN", "CRAM-MD5"] {
        let out = Command::new("python3")
            .args(["-c", PY, &s.port.to_string(), mech])
            .output()
            .expect("python3 must be installed");
        assert!(
            out.status.success(),
            "{mech}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert_eq!(h.queued().len(), 3);
}

#[test]
fn tls12_and_tls13_with_openssl_cipher_names() {
    let h = Host::oracle();
    std::fs::write(
        h.control().join("tlsserverciphers"),
        "ECDHE-RSA-AES128-GCM-SHA256\nRC4-SHA\n",
    )
    .unwrap();
    for (versions, want) in [
        (vec![&rustls::version::TLS12], "ECDHE-RSA-AES128-GCM-SHA256"),
        (vec![&rustls::version::TLS13], "TLS_AES_256_GCM_SHA384"),
    ] {
        let (child, sock) = h.spawn(&[]);
        let mut c = Client::Plain(sock);
        c.reply();
        c.send(b"STARTTLS\r\n");
        assert_eq!(c.reply(), "220 ready for tls\r\n");
        let Client::Plain(s) = std::mem::replace(&mut c, Client::Gone) else {
            panic!()
        };
        let mut conn = rustls::ClientConnection::new(
            smtpd_common::tls_client_config_versions(&versions),
            "oracle.example".try_into().unwrap(),
        )
        .unwrap();
        let mut s = s;
        while conn.is_handshaking() {
            conn.complete_io(&mut s).unwrap();
        }
        c = Client::Tls(Box::new(rustls::StreamOwned::new(conn, s)));
        for (line, reply) in [
            ("MAIL FROM:<a@b>\r\n", "250 ok\r\n"),
            ("RCPT TO:<x@elsewhere.example>\r\n", "553 sorry, that domain isn't in my list of allowed rcpthosts; no valid cert for gatewaying (#5.7.1)\r\n"),
            ("RCPT TO:<testuser@example.org>\r\n", "250 ok\r\n"),
            ("DATA\r\n", "354 go ahead\r\n"),
        ] {
            c.send(line.as_bytes());
            assert_eq!(c.reply(), reply);
        }
        c.send(b"Subject: t\r\n\r\n.\r\n");
        assert!(c.reply().starts_with("250 ok "));
        c.send(b"QUIT\r\n");
        assert_eq!(c.reply(), "221 oracle.example\r\n");
        let out = child.wait_with_output().unwrap();
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("RC4-SHA"),
            "warning for the unusable cipher"
        );
        let q = h.queued();
        let last = String::from_utf8_lossy(&q.last().unwrap().1).into_owned();
        assert!(
            last.contains(&format!("with ESMTPS ({want} encrypted); ")),
            "{last}"
        );
        std::fs::remove_dir_all(h.spool()).unwrap();
        std::fs::create_dir(h.spool()).unwrap();
    }
}

#[test]
fn starttls_garbage_and_missing_certificate() {
    let h = Host::oracle();
    // Plaintext pipelined after STARTTLS is discarded; garbage instead of
    // a ClientHello ends the session with 454.
    let (mut child, sock) = h.spawn(&[]);
    let mut c = Client::Plain(sock);
    c.reply();
    c.send(b"STARTTLS\r\nNOOP\r\n");
    assert_eq!(c.reply(), "220 ready for tls\r\n");
    c.send(b"this is not a TLS record\r\n");
    let r = c.reply();
    assert!(
        r.starts_with("454 TLS connection failed: ") && r.ends_with(" (#4.3.0)\r\n"),
        "{r}"
    );
    assert_eq!(child.wait().unwrap().code(), Some(1));
    // Pipelined NOOP after STARTTLS is not executed inside TLS.
    let (mut child, sock) = h.spawn(&[]);
    let mut c = Client::Plain(sock);
    c.reply();
    c.send(b"STARTTLS\r\nNOOP\r\n");
    assert_eq!(c.reply(), "220 ready for tls\r\n");
    c.start_tls().unwrap();
    c.send(b"QUIT\r\n");
    assert_eq!(c.reply(), "221 oracle.example\r\n");
    child.wait().unwrap();
    // Without servercert.pem: no STARTTLS in EHLO, 454 and plaintext goes on.
    std::fs::remove_file(h.control().join("servercert.pem")).unwrap();
    let (child, sock) = h.spawn(&[]);
    let mut c = Client::Plain(sock);
    c.reply();
    c.send(b"EHLO x\r\n");
    assert_eq!(
        c.reply(),
        "250-oracle.example\r\n250-PIPELINING\r\n250-8BITMIME\r\n250 SIZE 20000\r\n"
    );
    c.send(b"STARTTLS\r\n");
    let r = c.reply();
    assert!(r.starts_with("454 TLS missing certificate"), "{r}");
    c.send(b"NOOP\r\n");
    assert_eq!(c.reply(), "250 ok\r\n");
    c.send(b"QUIT\r\n");
    child.wait_with_output().unwrap();
}

#[test]
fn end_to_end_with_our_qmail_queue() {
    let h = Host::oracle();
    qmail::hier::install(&h.qmail()).unwrap();
    let qq = h.qmail().join("bin/qmail-queue");
    let _ = std::fs::remove_file(&qq);
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_qmail-queue"), &qq).unwrap();
    let mut cmd = h.command(&[]);
    cmd.env_remove("QMAILQUEUE");
    let (mut child, sock) = h.spawn_cmd(cmd);
    let mut c = Client::Plain(sock);
    c.reply();
    for (line, reply) in [
        ("HELO client.example\r\n", "250 oracle.example\r\n"),
        ("MAIL FROM:<sender@remote.example>\r\n", "250 ok\r\n"),
        ("RCPT TO:<testuser@example.org>\r\n", "250 ok\r\n"),
        ("RCPT TO:<postmaster@example.org>\r\n", "250 ok\r\n"),
        ("DATA\r\n", "354 go ahead\r\n"),
    ] {
        c.send(line.as_bytes());
        assert_eq!(c.reply(), reply);
    }
    c.send(b"Subject: e2e\r\n\r\n..dot\r\n.\r\n");
    let r = c.reply();
    assert!(r.starts_with("250 ok "), "{r}");
    let qp: u32 = r.trim_end().rsplit(' ').next().unwrap().parse().unwrap();
    c.send(b"QUIT\r\n");
    assert_eq!(c.reply(), "221 oracle.example\r\n");
    child.wait().unwrap();
    let layout = qmail::queue::layout::Layout::at(h.qmail().join("queue"));
    let todo: Vec<_> = std::fs::read_dir(h.qmail().join("queue/todo"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(todo.len(), 1);
    let id: u64 = todo[0]
        .file_name()
        .unwrap()
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let env = std::fs::read(&todo[0]).unwrap();
    assert!(
        env.ends_with(
            b"\0Fsender@remote.example\0Ttestuser@example.org\0Tpostmaster@example.org\0"
        ),
        "{env:?}"
    );
    let mess = String::from_utf8(std::fs::read(layout.mess(id)).unwrap()).unwrap();
    let mut lines = mess.lines();
    assert!(
        lines
            .next()
            .unwrap()
            .starts_with(&format!("Received: (qmail {qp} invoked ")),
        "{mess}"
    );
    assert_eq!(
        lines.next().unwrap(),
        "Received: from unknown (HELO client.example) (127.0.0.1)"
    );
    assert!(mess.ends_with("Subject: e2e\n\n.dot\n"), "{mess}");
}
