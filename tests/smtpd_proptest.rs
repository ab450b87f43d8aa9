//! Property test over the command loop: any byte sequence from the
//! client yields well-formed reply lines and no panic. The session runs
//! in-process on a socket pair; the configuration refuses every
//! recipient, so no input can reach a queue.

mod smtpd_common;

use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;
use std::time::Duration;

use proptest::prelude::*;
use qmail::smtp::config::{Config, Env};
use qmail::smtp::session::{Hooks, Session};
use qmail::tls::stream::Conn;
use smtpd_common::Host;

fn run(host: &Host, input: &[u8]) -> Vec<u8> {
    let env = Env {
        remoteip: b"127.0.0.1".to_vec(),
        remotehost: b"unknown".to_vec(),
        local: b"oracle.example".to_vec(),
        forcetls: true,
        ..Env::default()
    };
    let mut cfg = Config::load(&host.qmail(), &env).unwrap();
    cfg.timeout = 5;
    // Nothing is a valid recipient: no path reaches DATA.
    let empty = host.qmail().join("control/empty.cdb");
    std::fs::write(&empty, qmail::cdb::Writer::new().finish().unwrap()).unwrap();
    cfg.validrcptto = qmail::smtp::validrcptto::ValidRcptTo::open(&empty).unwrap();
    assert!(cfg.validrcptto.is_some());
    let (ours, theirs) = UnixStream::pair().unwrap();
    let fd: OwnedFd = theirs.into();
    let rd = std::fs::File::from(fd.try_clone().unwrap());
    let wr = std::fs::File::from(fd);
    let server = std::thread::spawn(move || {
        let conn = Conn::new(rd, wr, Duration::from_secs(5));
        let hooks = Hooks {
            export: Box::new(|_, _| {}),
            log: Box::new(std::io::sink()),
        };
        let mut s = Session::new(cfg, env, conn, hooks, vec![[127, 0, 0, 1]]);
        s.run()
    });
    let mut w = ours.try_clone().unwrap();
    let input = input.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = w.write_all(&input);
        let _ = w.shutdown(std::net::Shutdown::Write);
    });
    let mut out = Vec::new();
    let mut r = ours;
    r.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let _ = r.read_to_end(&mut out);
    drop(r);
    let _ = writer.join();
    server.join().expect("session panicked");
    out
}

fn snippet() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..40),
        prop::sample::select(vec![
            "HELO x\r\n",
            "EHLO\r\n",
            "MAIL FROM:<a@b>\r\n",
            "MAIL\r\n",
            "RCPT TO:<c@example.org>\r\n",
            "RCPT TO:x\r\n",
            "DATA\r\n",
            "RSET\r\n",
            "NOOP\r\n",
            "\r\n",
            "\n",
            "\r",
            "\0",
            "AUTH PLAIN\r\n",
            "VRFY\r\n",
            "HELP\r\n",
            "MAIL FROM:<a@b> SIZE=99999999\r\n",
            "STARTTLS\r\n",
            "QUIT\r\n",
        ])
        .prop_map(|s| s.as_bytes().to_vec()),
    ]
}

fn well_formed(out: &[u8]) -> bool {
    if !out.ends_with(b"\r\n") {
        return false;
    }
    out.split_inclusive(|&b| b == b'\n').all(|l| {
        l.len() >= 6
            && l[..3].iter().all(u8::is_ascii_digit)
            && (l[3] == b' ' || l[3] == b'-')
            && l.ends_with(b"\r\n")
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]
    #[test]
    fn any_input_gets_reply_lines(parts in proptest::collection::vec(snippet(), 0..12)) {
        let host = Host::oracle();
        let input = parts.concat();
        let out = run(&host, &input);
        prop_assert!(out.starts_with(b"220 oracle.example ESMTP\r\n"));
        prop_assert!(well_formed(&out), "{:?}", String::from_utf8_lossy(&out));
    }
}
