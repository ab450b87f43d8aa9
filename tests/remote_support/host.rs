//! A receiving qmail host of our own: an installed temporary root with its
//! real queue, serving connections with our qmail-smtpd or qmail-qmtpd.
#![allow(dead_code)]

use std::net::TcpListener;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread::JoinHandle;

use qmail::queue::layout::Layout;
use qmail::queue::scan;

fn built() -> PathBuf {
    Path::new(env!("CARGO_BIN_EXE_qmail-smtpd"))
        .parent()
        .unwrap()
        .to_path_buf()
}

pub struct Host {
    pub dir: tempfile::TempDir,
}

impl Host {
    /// A host that accepts mail for `domain`.
    pub fn new(domain: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let h = Host { dir };
        qmail::hier::install(&h.home()).unwrap();
        qmail::hier::link_programs(&h.home(), &built()).unwrap();
        for (f, v) in [("me", domain), ("rcpthosts", domain), ("locals", domain)] {
            std::fs::write(h.home().join("control").join(f), format!("{v}\n")).unwrap();
        }
        h
    }

    pub fn home(&self) -> PathBuf {
        self.dir.path().join("var/qmail")
    }

    /// Serve `n` connections on `ip` (port 0 = any) with `program`
    /// (`qmail-smtpd` or `qmail-qmtpd`); returns the port.
    pub fn serve(&self, program: &str, ip: &str, port: u16, n: usize) -> (u16, JoinHandle<()>) {
        let l = TcpListener::bind((ip, port)).unwrap();
        let port = l.local_addr().unwrap().port();
        let root = self.dir.path().to_path_buf();
        let bin = built().join(program);
        let local = ip.to_string();
        let h = std::thread::spawn(move || {
            for _ in 0..n {
                let Ok((sock, peer)) = l.accept() else {
                    return;
                };
                let out = sock.try_clone().unwrap();
                let _ = Command::new(&bin)
                    .env("QMAILRS_ROOT", &root)
                    .env("QMAILRS_SINGLE_USER", "1")
                    .env("TCPLOCALIP", &local)
                    .env("TCPLOCALHOST", "receiver.example")
                    .env("TCPREMOTEIP", peer.ip().to_string())
                    .env_remove("QMAILQUEUE")
                    .env_remove("RELAYCLIENT")
                    .env_remove("TCPREMOTEHOST")
                    .env_remove("TCPREMOTEINFO")
                    .stdin(Stdio::from(OwnedFd::from(sock)))
                    .stdout(Stdio::from(OwnedFd::from(out)))
                    .stderr(Stdio::null())
                    .status();
            }
        });
        (port, h)
    }

    /// Every queued message: (message bytes, envelope), oldest first.
    pub fn queued(&self) -> Vec<(Vec<u8>, qmail::envelope::Envelope)> {
        let q = Layout::at(self.home().join("queue"));
        let mut ids = scan::todo_ids(&q).unwrap();
        ids.sort();
        ids.into_iter()
            .map(|id| {
                let mess = std::fs::read(q.mess(id)).unwrap();
                (mess, scan::read_todo(&q, id).unwrap().envelope)
            })
            .collect()
    }
}
