//! QMQP between two roots: qmail-qmqpc (a mini-qmail node) → qmail-qmqpd
//! → a QMAILQUEUE stub (`binaries.md` §QMQP).

use std::io::Write;
use std::net::TcpListener;
use std::os::fd::OwnedFd;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn stub(dir: &Path, code: i32) -> PathBuf {
    let p = dir.join("qq-stub");
    std::fs::write(
        &p,
        format!(
            "#!/bin/sh\ncat > {0}/got.msg\ncat <&1 > {0}/got.env\nexit {code}\n",
            dir.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    p
}

fn root() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(d.path().join("var/qmail/control")).unwrap();
    d
}

/// Serve one QMQP connection with qmail-qmqpd under `server`.
fn qmqpd(server: &Path, qq: &Path) -> (u16, std::thread::JoinHandle<i32>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let server = server.to_path_buf();
    let qq = qq.to_path_buf();
    let h = std::thread::spawn(move || {
        let (sock, _) = l.accept().unwrap();
        let out = sock.try_clone().unwrap();
        let st = Command::new(env!("CARGO_BIN_EXE_qmail-qmqpd"))
            .env("QMAILRS_ROOT", &server)
            .env("QMAILRS_SINGLE_USER", "1")
            .env("QMAILQUEUE", &qq)
            .env("TCPREMOTEIP", "127.0.0.1")
            .env("TCPLOCALHOST", "central.example")
            .env_remove("TCPREMOTEHOST")
            .env_remove("TCPREMOTEINFO")
            .stdin(Stdio::from(OwnedFd::from(sock)))
            .stdout(Stdio::from(OwnedFd::from(out)))
            .status()
            .unwrap();
        st.code().unwrap_or(-1)
    });
    (port, h)
}

/// Run qmail-qmqpc under `client` with the message and envelope.
fn qmqpc(client: &Path, port: u16, msg: &[u8], env: &[u8]) -> i32 {
    let (r, w) = nix::unistd::pipe().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_qmail-qmqpc"))
        .env("QMAILRS_ROOT", client)
        .env("QMAILRS_SINGLE_USER", "1")
        .env("QMAILRS_QMQP_PORT", port.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::from(r))
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    // The client may exit before reading (control errors): ignore EPIPE.
    let _ = stdin.write_all(msg);
    drop(stdin);
    let mut w = std::fs::File::from(w);
    let _ = w.write_all(env);
    drop(w);
    child.wait().unwrap().code().unwrap_or(-1)
}

#[test]
fn mini_qmail_node_injects_through_qmqp() {
    let server = root();
    let client = root();
    let qq = stub(server.path(), 0);
    std::fs::write(
        client.path().join("var/qmail/control/qmqpservers"),
        "# central\n127.0.0.1\n",
    )
    .unwrap();
    let (port, h) = qmqpd(server.path(), &qq);
    let code = qmqpc(
        client.path(),
        port,
        b"Subject: x\n\nbody\n",
        b"Fjoe@node.example\0Tbob@example.org\0Tann@example.org\0\0",
    );
    assert_eq!(code, 0);
    assert_eq!(h.join().unwrap(), 0);
    let msg = String::from_utf8(std::fs::read(server.path().join("got.msg")).unwrap()).unwrap();
    assert!(
        msg.starts_with("Received: from unknown (127.0.0.1)\n  by central.example with QMQP; "),
        "{msg}"
    );
    assert!(msg.ends_with(" -0000\nSubject: x\n\nbody\n"), "{msg}");
    assert_eq!(
        std::fs::read(server.path().join("got.env")).unwrap(),
        b"Fjoe@node.example\0Tbob@example.org\0Tann@example.org\0\0"
    );
}

#[test]
fn queue_refusals_map_to_exit_codes() {
    let server = root();
    let client = root();
    // qq exit 31: "Dmail server permanently rejected message" → qmqpc 31.
    let qq = stub(server.path(), 31);
    std::fs::write(
        client.path().join("var/qmail/control/qmqpservers"),
        "127.0.0.1\n",
    )
    .unwrap();
    let (port, h) = qmqpd(server.path(), &qq);
    assert_eq!(qmqpc(client.path(), port, b"x\n", b"Fa@b\0Tc@d\0\0"), 31);
    h.join().unwrap();
    let qq = stub(server.path(), 71);
    let (port, h) = qmqpd(server.path(), &qq);
    assert_eq!(qmqpc(client.path(), port, b"x\n", b"Fa@b\0Tc@d\0\0"), 71);
    h.join().unwrap();
}

#[test]
fn client_errors() {
    let client = root();
    // No qmqpservers: 55.
    assert_eq!(qmqpc(client.path(), 1, b"x\n", b"Fa@b\0Tc@d\0\0"), 55);
    // Refused everywhere: 73.
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    drop(l);
    std::fs::write(
        client.path().join("var/qmail/control/qmqpservers"),
        "127.0.0.1\nnot-an-ip\n",
    )
    .unwrap();
    assert_eq!(qmqpc(client.path(), port, b"x\n", b"Fa@b\0Tc@d\0\0"), 73);
    // Envelope format: 91.
    assert_eq!(qmqpc(client.path(), port, b"x\n", b"Xa@b\0\0"), 91);
}

fn qmqpd_raw(input: &[u8]) -> (i32, Vec<u8>, tempfile::TempDir) {
    let server = root();
    let qq = stub(server.path(), 0);
    let mut child = Command::new(env!("CARGO_BIN_EXE_qmail-qmqpd"))
        .env("QMAILRS_ROOT", server.path())
        .env("QMAILRS_SINGLE_USER", "1")
        .env("QMAILQUEUE", &qq)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let _ = child.stdin.take().unwrap().write_all(input);
    let out = child.wait_with_output().unwrap();
    (out.status.code().unwrap_or(-1), out.stdout, server)
}

#[test]
fn qmqpd_refuses_bad_addresses_and_bad_framing() {
    let req = qmail::netstring::encode(b"3:hi\n,3:a@b,4:c\0@d,");
    let (code, out, _d) = qmqpd_raw(&req);
    assert_eq!(code, 0);
    assert_eq!(
        out,
        b"51:Dsorry, I can't accept addresses like that (#5.1.3),"
    );
    // Recipient netstring runs past the outer length: protocol error.
    let (code, out, _d) = qmqpd_raw(b"12:3:hi\n,3:a@b,9:c@d,,");
    assert_eq!(code, 100);
    assert!(out.is_empty());
    // Missing comma.
    let (code, _, _d) = qmqpd_raw(b"12:3:hi\n;3:a@b,,");
    assert_eq!(code, 100);
    // End of input: exit 0 without an answer.
    let (code, out, _d) = qmqpd_raw(b"12:3:h");
    assert_eq!((code, out.is_empty()), (0, true));
}
