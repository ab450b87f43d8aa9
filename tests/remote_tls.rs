//! qmail-remote's STARTTLS client (`remote.md` §4) against a rustls peer
//! on loopback, reached by an smtproutes route to a relay *name*
//! (`mx.test`, resolved by the test's DNS responder), so that
//! `control/tlshosts/mx.test.pem` and `control/notlshosts/mx.test` apply.
//! Certificates are made with the `openssl` command (Debian package
//! `openssl`, in scripts/ci-deps).

mod remote_support;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};

use remote_support::dns::{self, Zone};
use remote_support::Root;
use rustls::{ServerConfig, ServerConnection, StreamOwned};

const MSG: &[u8] = b"Subject: tls\n\nbody\n";

fn openssl(dir: &Path, args: &[&str]) {
    let st = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the openssl command is needed (Debian package openssl)");
    assert!(
        st.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&st.stderr)
    );
}

/// A CA, and leaf certificates signed by it: `NAME.pem` + `NAME.key`.
struct Pki {
    dir: tempfile::TempDir,
}

impl Pki {
    fn new() -> Self {
        Self::named("Test CA")
    }

    fn named(ca: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        openssl(
            d,
            &[
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:prime256v1",
                "-nodes",
                "-keyout",
                "ca.key",
                "-out",
                "ca.pem",
                "-days",
                "30",
                "-subj",
                &format!("/CN={ca}"),
            ],
        );
        Pki { dir }
    }

    fn leaf(&self, name: &str, cn: &str, san: Option<&str>, days: &str) {
        let d = self.dir.path();
        let key = format!("{name}.key");
        let csr = format!("{name}.csr");
        let pem = format!("{name}.pem");
        openssl(
            d,
            &[
                "req",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:prime256v1",
                "-nodes",
                "-keyout",
                &key,
                "-out",
                &csr,
                "-subj",
                &format!("/CN={cn}"),
            ],
        );
        let ext = format!("{name}.ext");
        let ext_text = format!(
            "basicConstraints=CA:FALSE\n{}",
            san.map(|s| format!("subjectAltName=DNS:{s}\n"))
                .unwrap_or_default()
        );
        std::fs::write(d.join(&ext), ext_text).unwrap();
        openssl(
            d,
            &[
                "x509",
                "-req",
                "-in",
                &csr,
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-days",
                days,
                "-extfile",
                &ext,
                "-out",
                &pem,
            ],
        );
    }

    fn path(&self, f: &str) -> std::path::PathBuf {
        self.dir.path().join(f)
    }
}

fn server_config(pki: &Pki, name: &str) -> Arc<ServerConfig> {
    let certs =
        rustls_pemfile::certs(&mut &std::fs::read(pki.path(&format!("{name}.pem"))).unwrap()[..])
            .collect::<Result<Vec<_>, _>>()
            .unwrap();
    let key = rustls_pemfile::private_key(
        &mut &std::fs::read(pki.path(&format!("{name}.key"))).unwrap()[..],
    )
    .unwrap()
    .unwrap();
    let p = Arc::new(rustls::crypto::ring::default_provider());
    Arc::new(
        ServerConfig::builder_with_provider(p)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .unwrap(),
    )
}

enum Stream {
    Plain(TcpStream),
    Tls(Box<StreamOwned<ServerConnection, TcpStream>>),
}

impl Stream {
    fn line(&mut self) -> Option<String> {
        let mut v = Vec::new();
        let mut b = [0u8; 1];
        loop {
            let n = match self {
                Stream::Plain(s) => s.read(&mut b),
                Stream::Tls(s) => s.read(&mut b),
            }
            .ok()?;
            if n == 0 {
                return None;
            }
            v.push(b[0]);
            if b[0] == b'\n' {
                return Some(String::from_utf8_lossy(&v).trim_end().to_string());
            }
        }
    }

    fn send(&mut self, s: &str) {
        let _ = match self {
            Stream::Plain(x) => x.write_all(s.as_bytes()),
            Stream::Tls(x) => x.write_all(s.as_bytes()).and_then(|()| x.flush()),
        };
    }
}

/// An SMTP peer offering STARTTLS (when `starttls`); logs lines with a
/// `T:` prefix once inside TLS.
fn tls_peer(
    config: Arc<ServerConfig>,
    starttls: bool,
) -> (u16, Arc<Mutex<Vec<String>>>, std::thread::JoinHandle<()>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let log = Arc::new(Mutex::new(Vec::new()));
    let log2 = log.clone();
    let h = std::thread::spawn(move || {
        let Ok((sock, _)) = l.accept() else { return };
        sock.set_read_timeout(Some(std::time::Duration::from_secs(20)))
            .unwrap();
        let mut s = Stream::Plain(sock);
        s.send("220 mx.test ESMTP\r\n");
        let mut in_data = false;
        while let Some(line) = s.line() {
            let tls = matches!(s, Stream::Tls(_));
            log2.lock()
                .unwrap()
                .push(format!("{}{line}", if tls { "T:" } else { "" }));
            if in_data {
                if line == "." {
                    in_data = false;
                    s.send("250 ok queued\r\n");
                }
                continue;
            }
            let up = line.to_ascii_uppercase();
            if up.starts_with("EHLO") {
                if starttls && !tls {
                    s.send("250-mx.test\r\n250-STARTTLS\r\n250 8BITMIME\r\n");
                } else {
                    s.send("250-mx.test\r\n250 8BITMIME\r\n");
                }
            } else if up == "STARTTLS" {
                s.send("220 go ahead\r\n");
                let Stream::Plain(sock) = s else { return };
                let conn = ServerConnection::new(config.clone()).unwrap();
                let mut tls = StreamOwned::new(conn, sock);
                // Finish the handshake now; a client that gives up ends it.
                while tls.conn.is_handshaking() {
                    if tls.conn.complete_io(&mut tls.sock).is_err() {
                        return;
                    }
                }
                s = Stream::Tls(Box::new(tls));
            } else if up == "DATA" {
                in_data = true;
                s.send("354 go\r\n");
            } else if up == "QUIT" {
                s.send("221 bye\r\n");
                return;
            } else {
                s.send("250 ok\r\n");
            }
        }
    });
    (port, log, h)
}

fn deliver(root: &Root, port: u16) -> String {
    root.control("smtproutes", &format!("x.test:mx.test:{port}\n"));
    let mut z = Zone::default();
    z.a("mx.test", &["127.0.0.1"]);
    let (resolver, _) = dns::start(z);
    let out = root.remote(
        &["x.test", "a@b.test", "bob@x.test"],
        MSG,
        &[("QMAILRS_RESOLVER", &resolver)],
    );
    String::from_utf8_lossy(&out).into_owned()
}

#[test]
fn opportunistic_starttls_and_verified_tlshosts() {
    let pki = Pki::new();
    pki.leaf("mx", "mx.test", Some("mx.test"), "30");
    // Opportunistic: no tlshosts entry, the certificate is not checked.
    let root = Root::new();
    let (port, log, h) = tls_peer(server_config(&pki, "mx"), true);
    let out = deliver(&root, port);
    assert_eq!(
        out,
        "r\0K127.0.0.1 accepted message.\nRemote host said: 250 ok queued\n\0"
    );
    h.join().unwrap();
    let log = log.lock().unwrap().clone();
    assert_eq!(
        log[..3],
        ["EHLO relay.example", "STARTTLS", "T:EHLO relay.example"]
    );
    assert!(
        log.contains(&"T:MAIL FROM:<a@b.test>".to_string()),
        "{log:?}"
    );
    // Required and verified against the CA in tlshosts/mx.test.pem.
    let root = Root::new();
    root.control(
        "tlshosts/mx.test.pem",
        &std::fs::read_to_string(pki.path("ca.pem")).unwrap(),
    );
    let (port, _, h) = tls_peer(server_config(&pki, "mx"), true);
    let out = deliver(&root, port);
    assert!(out.starts_with("r\0K127.0.0.1 accepted message."), "{out}");
    h.join().unwrap();
}

#[test]
fn tlshosts_failures() {
    let pki = Pki::new();
    pki.leaf("other", "other.test", Some("other.test"), "30");
    pki.leaf("old", "mx.test", Some("mx.test"), "-1");
    pki.leaf("cnonly", "wrong.test", None, "30");
    let ca = std::fs::read_to_string(pki.path("ca.pem")).unwrap();
    let cases = [
        ("other", "ZTLS unable to verify server mx.test: certificate contains no matching dNSNnames; connected to 127.0.0.1.\n\0"),
        ("old", "ZTLS unable to verify server with control/tlshosts/mx.test.pem: certificate has expired; connected to 127.0.0.1.\n\0"),
        ("cnonly", "ZTLS unable to verify server mx.test: received certificate for wrong.test; connected to 127.0.0.1.\n\0"),
    ];
    for (leaf, want) in cases {
        let root = Root::new();
        root.control("tlshosts/mx.test.pem", &ca);
        let (port, _, h) = tls_peer(server_config(&pki, leaf), true);
        assert_eq!(deliver(&root, port), want, "{leaf}");
        h.join().unwrap();
    }
    // An untrusted issuer.
    let other_pki = Pki::named("Other CA");
    let root = Root::new();
    root.control(
        "tlshosts/mx.test.pem",
        &std::fs::read_to_string(other_pki.path("ca.pem")).unwrap(),
    );
    pki.leaf("mx", "mx.test", Some("mx.test"), "30");
    let (port, _, h) = tls_peer(server_config(&pki, "mx"), true);
    assert_eq!(
        deliver(&root, port),
        "ZTLS unable to verify server with control/tlshosts/mx.test.pem: unable to get local issuer certificate; connected to 127.0.0.1.\n\0"
    );
    h.join().unwrap();
    // Required, but the server does not offer STARTTLS.
    let root = Root::new();
    root.control("tlshosts/mx.test.pem", &ca);
    let (port, log, h) = tls_peer(server_config(&pki, "mx"), false);
    assert_eq!(
        deliver(&root, port),
        "ZNo TLS achieved while control/tlshosts/mx.test.pem exists; connecting to 127.0.0.1.\n\0"
    );
    h.join().unwrap();
    assert_eq!(log.lock().unwrap().clone(), ["EHLO relay.example", "QUIT"]);
}

#[test]
fn notlshosts_skips_starttls() {
    let pki = Pki::new();
    pki.leaf("mx", "mx.test", Some("mx.test"), "30");
    let root = Root::new();
    root.control("notlshosts/mx.test", "");
    let (port, log, h) = tls_peer(server_config(&pki, "mx"), true);
    let out = deliver(&root, port);
    assert!(out.starts_with("r\0K127.0.0.1"), "{out}");
    h.join().unwrap();
    assert!(!log.lock().unwrap().iter().any(|l| l == "STARTTLS"));
}
