//! Relaying by client certificate (clientca.pem + tlsclients), as
//! Vermeulen's patch does it; see `qmail::tls::client` for the one
//! difference (the certificate is requested in the first handshake).

mod smtpd_common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;

use smtpd_common::{Client, Host};

fn openssl(args: &[&str], dir: &Path) {
    let st = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .stderr(Stdio::null())
        .status()
        .expect("openssl must be installed");
    assert!(st.success(), "openssl {args:?}");
}

/// A CA and a client certificate for `email`, as (ca.pem, cert.pem, key.pem).
fn client_cert(dir: &Path, email: &str) -> (Vec<u8>, Vec<u8>, Vec<u8>) {
    openssl(
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            &format!("/CN=CA for {email}"),
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
        ],
        dir,
    );
    openssl(
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            &format!("/CN=client/emailAddress={email}"),
            "-keyout",
            "c.key",
            "-out",
            "c.csr",
        ],
        dir,
    );
    std::fs::write(
        dir.join("ext"),
        "basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n",
    )
    .unwrap();
    openssl(
        &[
            "x509",
            "-req",
            "-in",
            "c.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            "ext",
            "-out",
            "c.pem",
        ],
        dir,
    );
    let r = |n: &str| std::fs::read(dir.join(n)).unwrap();
    (r("ca.pem"), r("c.pem"), r("c.key"))
}

fn tls_with_cert(sock: std::os::unix::net::UnixStream, cert: &[u8], key: &[u8]) -> Client {
    let certs: Vec<_> = rustls_pemfile::certs(&mut &cert[..])
        .map(|c| c.unwrap())
        .collect();
    let key = rustls_pemfile::private_key(&mut &key[..]).unwrap().unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let cfg = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .dangerous()
        .with_custom_certificate_verifier(smtpd_common::any_cert())
        .with_client_auth_cert(certs, key)
        .unwrap();
    let mut conn =
        rustls::ClientConnection::new(Arc::new(cfg), "oracle.example".try_into().unwrap()).unwrap();
    let mut s = sock;
    while conn.is_handshaking() {
        conn.complete_io(&mut s).unwrap();
    }
    Client::Tls(Box::new(rustls::StreamOwned::new(conn, s)))
}

fn session(h: &Host, cert: &[u8], key: &[u8]) -> (std::process::Child, Client) {
    let (child, sock) = h.spawn(&[]);
    let mut c = Client::Plain(sock);
    assert_eq!(c.reply(), "220 oracle.example ESMTP\r\n");
    c.send(b"STARTTLS\r\n");
    assert_eq!(c.reply(), "220 ready for tls\r\n");
    let Client::Plain(sock) = c else { panic!() };
    (child, tls_with_cert(sock, cert, key))
}

#[test]
fn listed_certificate_relays_and_others_get_the_reason() {
    let h = Host::oracle();
    let d = tempfile::tempdir().unwrap();
    let (ca, cert, key) = client_cert(d.path(), "relay@example.net");
    std::fs::write(h.control().join("clientca.pem"), &ca).unwrap();
    std::fs::write(h.control().join("tlsclients"), "Relay@Example.net\n").unwrap();

    let (child, mut c) = session(&h, &cert, &key);
    for (line, want) in [
        ("MAIL FROM:<a@b>\r\n", "250 ok\r\n"),
        ("RCPT TO:<x@elsewhere.example>\r\n", "250 ok\r\n"),
        ("RCPT TO:<nosuchuser@example.org>\r\n", "250 ok\r\n"),
        ("DATA\r\n", "354 go ahead\r\n"),
        ("Subject: c\r\n\r\n.\r\n", "250 ok "),
        ("QUIT\r\n", "221 oracle.example\r\n"),
    ] {
        c.send(line.as_bytes());
        let r = c.reply();
        assert!(r.starts_with(want), "{line:?}: {r}");
    }
    child.wait_with_output().unwrap();
    let q = h.queued();
    let msg = String::from_utf8_lossy(&q[0].1).into_owned();
    assert!(
        msg.contains(" encrypted)\n  (cert relay@example.net); "),
        "{msg}"
    );

    // Not listed: the 553 carries the reason.
    std::fs::write(h.control().join("tlsclients"), "other@example.net\n").unwrap();
    let (child, mut c) = session(&h, &cert, &key);
    c.send(b"MAIL FROM:<a@b>\r\n");
    assert_eq!(c.reply(), "250 ok\r\n");
    c.send(b"RCPT TO:<x@elsewhere.example>\r\n");
    assert_eq!(
        c.reply(),
        "553 sorry, that domain isn't in my list of allowed rcpthosts; no valid cert for gatewaying: email address not in my list of tlsclients (#5.7.1)\r\n"
    );
    c.send(b"QUIT\r\n");
    c.reply();
    child.wait_with_output().unwrap();

    // Signed by another CA: the verification error.
    let d2 = tempfile::tempdir().unwrap();
    let (other_ca, _, _) = client_cert(d2.path(), "x@example.net");
    std::fs::write(h.control().join("clientca.pem"), &other_ca).unwrap();
    let (child, mut c) = session(&h, &cert, &key);
    c.send(b"MAIL FROM:<a@b>\r\n");
    c.reply();
    c.send(b"RCPT TO:<x@elsewhere.example>\r\n");
    assert_eq!(
        c.reply(),
        "553 sorry, that domain isn't in my list of allowed rcpthosts; no valid cert for gatewaying: unable to get local issuer certificate (#5.7.1)\r\n"
    );
    c.send(b"QUIT\r\n");
    c.reply();
    child.wait_with_output().unwrap();
}
