//! Shared pieces of the qmail-remote tests: a temporary qmail root, a
//! scripted SMTP peer on loopback, and running the binary.
#![allow(dead_code)]

pub mod dns;
pub mod host;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

pub struct Root {
    pub dir: tempfile::TempDir,
}

impl Root {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let r = Root { dir };
        std::fs::create_dir_all(r.home().join("control")).unwrap();
        std::fs::create_dir_all(r.home().join("queue/lock")).unwrap();
        std::fs::write(r.home().join("queue/lock/tcpto"), [0u8; 1024]).unwrap();
        r.control("me", "relay.example\n");
        r
    }

    pub fn home(&self) -> PathBuf {
        self.dir.path().join("var/qmail")
    }

    pub fn control(&self, name: &str, text: &str) {
        let p = self.home().join("control").join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }

    /// Run qmail-remote; returns its stdout. DNS goes to a dead port
    /// unless `env` names a resolver.
    pub fn remote(&self, args: &[&str], message: &[u8], env: &[(&str, &str)]) -> Vec<u8> {
        let mut e = vec![("QMAILRS_RESOLVER", "127.0.0.1:9")];
        e.extend_from_slice(env);
        self.remote_system_dns(args, message, &e)
    }

    /// Run qmail-remote with no resolver override: it reads
    /// /etc/resolv.conf (of the network namespace it runs in).
    pub fn remote_system_dns(
        &self,
        args: &[&str],
        message: &[u8],
        env: &[(&str, &str)],
    ) -> Vec<u8> {
        let mut c = Command::new(env!("CARGO_BIN_EXE_qmail-remote"));
        c.args(args)
            .env("QMAILRS_ROOT", self.dir.path())
            .env("QMAILRS_SINGLE_USER", "1")
            .env_remove("QMAILRS_RESOLVER")
            .env_remove("QMAILRS_REMOTE_PORT")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped());
        for (k, v) in env {
            c.env(k, v);
        }
        let mut child = c.spawn().unwrap();
        let mut stdin = child.stdin.take().unwrap();
        let msg = message.to_vec();
        let w = std::thread::spawn(move || {
            let _ = stdin.write_all(&msg);
        });
        let out = child.wait_with_output().unwrap();
        w.join().unwrap();
        assert!(out.status.success(), "qmail-remote exit {:?}", out.status);
        out.stdout
    }
}

/// How the peer answers.
#[derive(Clone)]
pub struct Script {
    pub greeting: Vec<u8>,
    pub ehlo: Vec<u8>,
    pub helo: Vec<u8>,
    pub mail: Vec<u8>,
    /// Reply per RCPT, in order (the last repeats).
    pub rcpt: Vec<Vec<u8>>,
    pub data: Vec<u8>,
    /// Reply after the final dot; `None`: close the connection instead.
    pub after: Option<Vec<u8>>,
    /// Replies for other commands (prefix → reply).
    pub other: Vec<(String, Vec<u8>)>,
}

impl Default for Script {
    fn default() -> Self {
        Script {
            greeting: b"220 peer.example ESMTP\r\n".to_vec(),
            ehlo: b"250-peer.example\r\n250-PIPELINING\r\n250 8BITMIME\r\n".to_vec(),
            helo: b"250 peer.example\r\n".to_vec(),
            mail: b"250 ok\r\n".to_vec(),
            rcpt: vec![b"250 ok\r\n".to_vec()],
            data: b"354 go ahead\r\n".to_vec(),
            after: Some(b"250 ok 1795607156 qp 422\r\n".to_vec()),
            other: Vec::new(),
        }
    }
}

/// What the peer saw.
#[derive(Default, Debug, Clone)]
pub struct Seen {
    pub lines: Vec<String>,
    pub data: Vec<u8>,
}

pub struct Peer {
    pub port: u16,
    pub seen: Arc<Mutex<Seen>>,
    handle: Option<JoinHandle<()>>,
}

impl Peer {
    pub fn start(script: Script) -> Self {
        Self::start_at("127.0.0.1", script)
    }

    pub fn start_at(ip: &str, script: Script) -> Self {
        Self::start_on(ip, 0, script)
    }

    /// Listen on `ip:port` (port 25 inside a network namespace).
    pub fn start_on(ip: &str, port: u16, script: Script) -> Self {
        let l = TcpListener::bind((ip, port)).unwrap();
        let port = l.local_addr().unwrap().port();
        let seen = Arc::new(Mutex::new(Seen::default()));
        let s2 = seen.clone();
        let handle = std::thread::spawn(move || {
            if let Ok((sock, _)) = l.accept() {
                serve(sock, &script, &s2);
            }
        });
        Peer {
            port,
            seen,
            handle: Some(handle),
        }
    }

    /// Wait for the session to end and return what was seen.
    pub fn finish(mut self) -> Seen {
        if let Some(h) = self.handle.take() {
            h.join().unwrap();
        }
        self.seen.lock().unwrap().clone()
    }
}

fn serve(sock: TcpStream, script: &Script, seen: &Mutex<Seen>) {
    sock.set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut w = sock.try_clone().unwrap();
    let mut r = BufReader::new(sock);
    let _ = w.write_all(&script.greeting);
    let mut rcpts = 0;
    loop {
        let mut line = Vec::new();
        match r.read_until(b'\n', &mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let text = String::from_utf8_lossy(&line).trim_end().to_string();
        seen.lock().unwrap().lines.push(text.clone());
        let up = text.to_ascii_uppercase();
        let reply: Vec<u8> = if up.starts_with("EHLO") {
            script.ehlo.clone()
        } else if up.starts_with("HELO") {
            script.helo.clone()
        } else if up.starts_with("MAIL") {
            script.mail.clone()
        } else if up.starts_with("RCPT") {
            let i = rcpts.min(script.rcpt.len() - 1);
            rcpts += 1;
            script.rcpt[i].clone()
        } else if up == "DATA" {
            let _ = w.write_all(&script.data);
            if !script.data.starts_with(b"354") {
                continue;
            }
            let mut data = Vec::new();
            loop {
                let mut l = Vec::new();
                match r.read_until(b'\n', &mut l) {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {}
                }
                if l == b".\r\n" {
                    break;
                }
                data.extend_from_slice(&l);
            }
            seen.lock().unwrap().data = data;
            match &script.after {
                Some(a) => a.clone(),
                None => return,
            }
        } else if up == "QUIT" {
            let _ = w.write_all(b"221 bye\r\n");
            return;
        } else if let Some((_, rep)) = script
            .other
            .iter()
            .find(|(p, _)| up.starts_with(p.as_str()))
        {
            rep.clone()
        } else {
            b"502 unimplemented\r\n".to_vec()
        };
        let _ = w.write_all(&reply);
    }
}

/// Read everything a socket sends (for peers that misbehave).
pub fn drain(mut s: TcpStream) {
    let mut buf = [0u8; 1024];
    while let Ok(n) = s.read(&mut buf) {
        if n == 0 {
            break;
        }
    }
}

pub fn route(root: &Root, domain: &str, port: u16) {
    root.control("smtproutes", &format!("{domain}:[127.0.0.1]:{port}\n"));
}

pub fn exists(p: &Path) -> bool {
    p.exists()
}
