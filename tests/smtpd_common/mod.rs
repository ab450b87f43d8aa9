//! Shared by the qmail-smtpd tests: a temporary qmail root configured as
//! the conformance oracle, a recording QMAILQUEUE stub, a checkpassword
//! script, a TLS test client, and a small JSON reader for the recorded
//! transcripts.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

pub const BIN: &str = env!("CARGO_BIN_EXE_qmail-smtpd");

/// A certificate for oracle.example made once per test binary.
pub fn cert_pem() -> &'static [u8] {
    static PEM: OnceLock<Vec<u8>> = OnceLock::new();
    PEM.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let st = Command::new("openssl")
            .args([
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            ])
            .args(["-subj", "/CN=oracle.example", "-keyout"])
            .arg(dir.path().join("key.pem"))
            .arg("-out")
            .arg(dir.path().join("cert.pem"))
            .stderr(Stdio::null())
            .status()
            .expect("openssl must be installed (Debian package openssl)");
        assert!(st.success(), "openssl req failed");
        let mut pem = std::fs::read(dir.path().join("cert.pem")).unwrap();
        pem.extend(std::fs::read(dir.path().join("key.pem")).unwrap());
        pem
    })
}

fn write_exec(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// The oracle's checkpassword: testuser or testuser@example.org with
/// password secret; CRAM-MD5 as HMAC-MD5 hex.
pub const CHECKPASSWORD: &str = r#"#!/usr/bin/env python3
import os, sys, hmac, hashlib
data = b''
while True:
    b = os.read(3, 512)
    if not b: break
    data += b
f = data.split(b'\0')
user, pw = f[0], f[1]
chal = f[2] if len(f) > 3 else b''
log = os.environ.get('CHECKPW_LOG')
if log:
    open(log, 'ab').write(data + b'|')
if user not in (b'testuser', b'testuser@example.org'):
    sys.exit(1)
if chal:
    ok = hmac.new(b'secret', chal, hashlib.md5).hexdigest().encode() == pw or pw == b'secret'
else:
    ok = pw == b'secret'
if not ok:
    sys.exit(1)
os.execvp(sys.argv[1], sys.argv[1:])
"#;

/// The queue stub and the checkpassword script, written once per test
/// binary: writing an executable while another thread forks makes exec
/// fail with ETXTBSY, so no test writes one after the first spawn.
pub fn scripts() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| {
        let _ = cert_pem();
        let d = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
        write_exec(
            &d.path().join("qq-stub"),
            "#!/bin/sh\nd=$QQ_SPOOL\ncat > $d/$$.msg.tmp\ncat 0<&1 > $d/$$.env\n[ -s $d/$$.env ] || { rm -f $d/$$.msg.tmp $d/$$.env; exit 54; }\nmv $d/$$.msg.tmp $d/$$.msg\nexit ${QQ_EXIT:-0}\n",
        );
        write_exec(&d.path().join("checkpassword"), CHECKPASSWORD);
        d
    })
    .path()
}

/// A temporary host: `<root>/var/qmail` with the oracle's controls.
pub struct Host {
    pub dir: tempfile::TempDir,
}

impl Host {
    pub fn oracle() -> Host {
        let _ = scripts();
        let dir = tempfile::tempdir().unwrap();
        let h = Host { dir };
        let c = h.control();
        std::fs::create_dir_all(&c).unwrap();
        std::fs::create_dir_all(h.qmail().join("bin")).unwrap();
        std::fs::create_dir_all(h.spool()).unwrap();
        for (name, text) in [
            ("me", "oracle.example\n"),
            ("defaultdomain", "oracle.example\n"),
            ("plusdomain", "oracle.example\n"),
            ("rcpthosts", "oracle.example\nexample.org\n"),
            ("locals", "oracle.example\nexample.org\nlocalhost\n"),
            ("badmailfrom", "spammer@bad.example\n@badmailfrom.example\n"),
            ("databytes", "20000\n"),
        ] {
            std::fs::write(c.join(name), text).unwrap();
        }
        std::fs::write(c.join("servercert.pem"), cert_pem()).unwrap();
        let mut w = qmail::cdb::Writer::new();
        for (k, v) in [
            ("testuser@example.org", ""),
            ("perf@example.org", ""),
            ("postmaster@example.org", ""),
            ("list-default@example.org", ""),
            ("blocked@example.org", "-"),
            ("@oracle.example", ""),
        ] {
            w.add(k.as_bytes(), v.as_bytes()).unwrap();
        }
        std::fs::write(c.join("validrcptto.cdb"), w.finish().unwrap()).unwrap();
        h
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }
    pub fn qmail(&self) -> PathBuf {
        self.dir.path().join("var/qmail")
    }
    pub fn control(&self) -> PathBuf {
        self.qmail().join("control")
    }
    /// Where the queue stub records `PID.msg` and `PID.env`.
    pub fn spool(&self) -> PathBuf {
        self.dir.path().join("spool")
    }
    pub fn checkpassword(&self) -> String {
        scripts().join("checkpassword").display().to_string()
    }

    /// The QMAILQUEUE value for the recording stub.
    pub fn qq(&self) -> String {
        scripts().join("qq-stub").display().to_string()
    }

    /// Messages the stub recorded: (pid, message, envelope).
    pub fn queued(&self) -> Vec<(u32, Vec<u8>, Vec<u8>)> {
        let mut out = Vec::new();
        for e in std::fs::read_dir(self.spool()).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "msg") {
                let pid: u32 = p.file_stem().unwrap().to_str().unwrap().parse().unwrap();
                let env = std::fs::read(p.with_extension("env")).unwrap_or_default();
                out.push((pid, std::fs::read(&p).unwrap(), env));
            }
        }
        out.sort();
        out
    }

    /// The base command: our root, the queue stub, the oracle's AUTH
    /// command line, and a clean environment.
    pub fn command(&self, env: &[(&str, &str)]) -> Command {
        let mut c = Command::new(BIN);
        c.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("QMAILRS_ROOT", self.root())
            .env("QMAILRS_SINGLE_USER", "1")
            .env("QMAILQUEUE", self.qq())
            .env("QQ_SPOOL", self.spool())
            .env("TCPREMOTEIP", "127.0.0.1")
            .env("TCPLOCALHOST", "oracle.example")
            .env("TCPLOCALIP", "127.0.0.1")
            .arg(self.checkpassword())
            .arg("/bin/true");
        for (k, v) in env {
            c.env(k, v);
        }
        c
    }

    /// Start qmail-smtpd on one end of a socket pair.
    pub fn spawn(&self, env: &[(&str, &str)]) -> (Child, UnixStream) {
        self.spawn_cmd(self.command(env))
    }

    pub fn spawn_cmd(&self, mut cmd: Command) -> (Child, UnixStream) {
        let (ours, theirs) = UnixStream::pair().unwrap();
        let fd: OwnedFd = theirs.into();
        let fd2 = fd.try_clone().unwrap();
        let child = cmd
            .stdin(Stdio::from(fd))
            .stdout(Stdio::from(fd2))
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        ours.set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        (child, ours)
    }
}

/// The client side: plaintext or TLS over the socket pair.
pub enum Client {
    Plain(UnixStream),
    Tls(Box<rustls::StreamOwned<rustls::ClientConnection, UnixStream>>),
    Gone,
}

impl Client {
    pub fn send(&mut self, b: &[u8]) {
        let _ = match self {
            Client::Plain(s) => s.write_all(b),
            Client::Tls(s) => s.write_all(b).and_then(|_| s.flush()),
            Client::Gone => Ok(()),
        };
    }

    /// Read until `n` bytes or EOF.
    pub fn recv_exact(&mut self, n: usize) -> Vec<u8> {
        let mut out = Vec::new();
        while out.len() < n {
            let mut buf = vec![0u8; n - out.len()];
            let r = match self {
                Client::Plain(s) => s.read(&mut buf),
                Client::Tls(s) => s.read(&mut buf),
                Client::Gone => Ok(0),
            };
            match r {
                Ok(0) | Err(_) => break,
                Ok(k) => out.extend_from_slice(&buf[..k]),
            }
        }
        out
    }

    /// Read one reply line.
    pub fn line(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        while !out.ends_with(b"\n") {
            let b = self.recv_exact(1);
            if b.is_empty() {
                break;
            }
            out.extend(b);
        }
        out
    }

    /// A whole (possibly multi-line) reply.
    pub fn reply(&mut self) -> String {
        let mut all = String::new();
        loop {
            let l = String::from_utf8_lossy(&self.line()).into_owned();
            all.push_str(&l);
            if l.len() < 4 || l.as_bytes()[3] != b'-' {
                return all;
            }
        }
    }

    /// True when the server has closed the connection.
    pub fn at_eof(&mut self) -> bool {
        self.recv_exact(1).is_empty()
    }

    /// Run the TLS handshake (any certificate accepted).
    pub fn start_tls(&mut self) -> Result<String, String> {
        let Client::Plain(s) = std::mem::replace(self, Client::Gone) else {
            return Err("not plaintext".into());
        };
        let mut conn = rustls::ClientConnection::new(
            tls_client_config(),
            "oracle.example".try_into().unwrap(),
        )
        .unwrap();
        let mut s = s;
        while conn.is_handshaking() {
            conn.complete_io(&mut s).map_err(|e| e.to_string())?;
        }
        let suite = conn.negotiated_cipher_suite().unwrap().suite();
        *self = Client::Tls(Box::new(rustls::StreamOwned::new(conn, s)));
        Ok(format!("{suite:?}"))
    }
}

#[derive(Debug)]
struct AnyCert(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for AnyCert {
    fn verify_server_cert(
        &self,
        _: &rustls::pki_types::CertificateDer<'_>,
        _: &[rustls::pki_types::CertificateDer<'_>],
        _: &rustls::pki_types::ServerName<'_>,
        _: &[u8],
        _: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        m: &[u8],
        c: &rustls::pki_types::CertificateDer<'_>,
        d: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(m, c, d, &self.0.signature_verification_algorithms)
    }
    fn verify_tls13_signature(
        &self,
        m: &[u8],
        c: &rustls::pki_types::CertificateDer<'_>,
        d: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(m, c, d, &self.0.signature_verification_algorithms)
    }
    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// A server-certificate verifier that accepts anything (tests only).
pub fn any_cert() -> Arc<dyn rustls::client::danger::ServerCertVerifier> {
    Arc::new(AnyCert(Arc::new(rustls::crypto::ring::default_provider())))
}

pub fn tls_client_config() -> Arc<rustls::ClientConfig> {
    tls_client_config_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
}

pub fn tls_client_config_versions(
    v: &[&'static rustls::SupportedProtocolVersion],
) -> Arc<rustls::ClientConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let cfg = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(v)
        .unwrap()
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AnyCert(provider)))
        .with_no_client_auth();
    Arc::new(cfg)
}

// ---- a minimal JSON reader, enough for transcripts.json ----

#[derive(Debug, Clone)]
pub enum Json {
    Null,
    Str(Vec<u8>),
    Arr(Vec<Json>),
    Obj(BTreeMap<String, Json>),
    Other,
}

impl Json {
    pub fn get(&self, k: &str) -> &Json {
        match self {
            Json::Obj(m) => m.get(k).unwrap_or(&Json::Null),
            _ => &Json::Null,
        }
    }
    pub fn bytes(&self) -> &[u8] {
        match self {
            Json::Str(s) => s,
            _ => b"",
        }
    }
}

pub fn parse_json(s: &[u8]) -> Json {
    let mut p = 0;
    value(s, &mut p)
}

fn ws(s: &[u8], p: &mut usize) {
    while *p < s.len() && s[*p].is_ascii_whitespace() {
        *p += 1;
    }
}

fn value(s: &[u8], p: &mut usize) -> Json {
    ws(s, p);
    match s[*p] {
        b'{' => {
            *p += 1;
            let mut m = BTreeMap::new();
            loop {
                ws(s, p);
                if s[*p] == b'}' {
                    *p += 1;
                    return Json::Obj(m);
                }
                let Json::Str(k) = value(s, p) else {
                    panic!("key")
                };
                ws(s, p);
                assert_eq!(s[*p], b':');
                *p += 1;
                let v = value(s, p);
                m.insert(String::from_utf8(k).unwrap(), v);
                ws(s, p);
                if s[*p] == b',' {
                    *p += 1;
                }
            }
        }
        b'[' => {
            *p += 1;
            let mut a = Vec::new();
            loop {
                ws(s, p);
                if s[*p] == b']' {
                    *p += 1;
                    return Json::Arr(a);
                }
                a.push(value(s, p));
                ws(s, p);
                if s[*p] == b',' {
                    *p += 1;
                }
            }
        }
        b'"' => {
            *p += 1;
            let mut out = Vec::new();
            loop {
                let c = s[*p];
                *p += 1;
                match c {
                    b'"' => return Json::Str(out),
                    b'\\' => {
                        let e = s[*p];
                        *p += 1;
                        match e {
                            b'n' => out.push(b'\n'),
                            b'r' => out.push(b'\r'),
                            b't' => out.push(b'\t'),
                            b'b' => out.push(8),
                            b'f' => out.push(12),
                            b'u' => {
                                let h = std::str::from_utf8(&s[*p..*p + 4]).unwrap();
                                let v = u32::from_str_radix(h, 16).unwrap();
                                *p += 4;
                                assert!(v < 256, "latin-1 only");
                                out.push(v as u8);
                            }
                            other => out.push(other),
                        }
                    }
                    _ => out.push(c),
                }
            }
        }
        b'n' => {
            *p += 4;
            Json::Null
        }
        _ => {
            while *p < s.len() && !b",}]".contains(&s[*p]) {
                *p += 1;
            }
            Json::Other
        }
    }
}
