//! tcpclient, mconnect and tcpcat against a listener on 127.0.0.1: the program
//! gets the connection on fds 6 and 7 and the `TCP*` environment; a
//! refused connection is reported and exit 111; mconnect adds the CRs.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::process::{Command, Stdio};

const TCPCLIENT: &str = env!("CARGO_BIN_EXE_tcpclient");

/// Accept one connection: expect `want` from the client, answer `reply`.
fn serve_one(want: &'static str, reply: &'static str) -> (u16, std::thread::JoinHandle<String>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let t = std::thread::spawn(move || {
        let (s, _) = l.accept().unwrap();
        let mut r = BufReader::new(s.try_clone().unwrap());
        let mut line = String::new();
        r.read_line(&mut line).unwrap();
        assert_eq!(line, want);
        (&s).write_all(reply.as_bytes()).unwrap();
        line
    });
    (port, t)
}

#[test]
fn the_program_gets_fds_6_and_7_and_the_environment() {
    let (port, server) = serve_one("hello\n", "bye\n");
    let o = Command::new(TCPCLIENT)
        .args(["-RHl", "client.example", "127.0.0.1", &port.to_string()])
        .args([
            "sh",
            "-c",
            "env | grep -E '^(PROTO|TCP)' | sort; echo hello >&7; exec cat <&6",
        ])
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("TCPREMOTEHOST", "stale")
        .output()
        .unwrap();
    server.join().unwrap();
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert_eq!(o.status.code(), Some(0), "{out}");
    let mut lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.pop(), Some("bye"));
    let local_port = lines
        .iter()
        .find_map(|l| l.strip_prefix("TCPLOCALPORT="))
        .unwrap()
        .to_string();
    assert_eq!(
        lines,
        [
            "PROTO=TCP".to_string(),
            "TCPLOCALHOST=client.example".into(),
            "TCPLOCALIP=127.0.0.1".into(),
            format!("TCPLOCALPORT={local_port}"),
            "TCPREMOTEIP=127.0.0.1".into(),
            format!("TCPREMOTEPORT={port}"),
        ],
        "TCPREMOTEHOST and TCPREMOTEINFO removed (-H, -R)"
    );
}

#[test]
fn refused_and_unknown() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port().to_string();
    drop(l);
    let o = Command::new(TCPCLIENT)
        .args(["-RH", "127.0.0.1", &port, "true"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(111));
    assert_eq!(
        String::from_utf8_lossy(&o.stderr),
        format!("tcpclient: unable to connect to 127.0.0.1 port {port}: connection refused\n")
    );
    let o = Command::new(TCPCLIENT)
        .args(["-q", "-RH", "127.0.0.1", &port, "true"])
        .output()
        .unwrap();
    assert_eq!((o.status.code(), o.stderr.len()), (Some(111), 0), "-q");
    let o = Command::new(TCPCLIENT)
        .args(["-RH", "127.0.0.1", "no-such-service-zz", "true"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(111));
    assert_eq!(
        String::from_utf8_lossy(&o.stderr),
        "tcpclient: fatal: unable to figure out port number for no-such-service-zz\n"
    );
    let o = Command::new(TCPCLIENT)
        .args(["127.0.0.1", "25"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(100));
}

#[test]
fn mconnect_talks_crlf() {
    let (port, server) = serve_one("HELO x\r\n", "250 ok\r\n");
    let mut child = Command::new(env!("CARGO_BIN_EXE_mconnect"))
        .args(["127.0.0.1", &port.to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"HELO x\n").unwrap();
    assert_eq!(server.join().unwrap(), "HELO x\r\n");
    let mut out = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    assert_eq!(out, "250 ok\r\n");
    assert_eq!(child.wait().unwrap().code(), Some(0));
}

#[test]
fn tcpcat_prints_what_the_server_sends() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let server = std::thread::spawn(move || {
        let (s, _) = l.accept().unwrap();
        (&s).write_all(b"quote of the day\r\n").unwrap();
    });
    let o = Command::new(env!("CARGO_BIN_EXE_tcpcat"))
        .args(["127.0.0.1", &port.to_string()])
        .output()
        .unwrap();
    server.join().unwrap();
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(String::from_utf8_lossy(&o.stdout), "quote of the day\r\n");
}
