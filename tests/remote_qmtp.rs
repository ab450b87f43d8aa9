//! QMTP delivery between two of our roots: qmail-remote with an opt-in
//! `control/qmtproutes` route → our qmail-qmtpd → the receiver's real
//! queue (`qmail::remote::qmtp`; COMPAT.md "QMTP").

mod remote_support;

use std::io::{Read, Write};
use std::net::TcpListener;

use remote_support::host::Host;
use remote_support::{Peer, Root, Script};

const MSG: &[u8] = b"Subject: q\n\n.dot\nbody\n";

fn s(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn qmtp_route(root: &Root, domain: &str, port: u16) {
    root.control(
        "qmtproutes",
        &format!("# QMTP\n{domain}:[127.0.0.1]:{port}\n"),
    );
}

#[test]
fn qmtp_to_our_qmail_qmtpd() {
    let rx = Host::new("rx.test");
    let (port, h) = rx.serve("qmail-qmtpd", "127.0.0.1", 0, 2);
    let root = Root::new();
    qmtp_route(&root, "rx.test", port);
    // An smtproutes entry for the same domain loses to qmtproutes.
    root.control("smtproutes", "rx.test:[127.0.0.1]:1\n");
    let out = s(&root.remote(
        &["rx.test", "joe@tx.test", "bob@rx.test", "ann@rx.test"],
        MSG,
        &[],
    ));
    assert!(
        out.starts_with("r\0r\0K127.0.0.1 accepted message.\nRemote host said: ok "),
        "{out}"
    );
    assert!(out.contains(" qp ") && out.ends_with("\n\0"), "{out}");
    let q = rx.queued();
    assert_eq!(q.len(), 1);
    let (mess, env) = &q[0];
    assert_eq!(env.sender, b"joe@tx.test");
    assert_eq!(
        env.recipients,
        vec![b"bob@rx.test".to_vec(), b"ann@rx.test".to_vec()]
    );
    let m = s(mess);
    assert!(
        m.contains("\nReceived: from unknown (127.0.0.1)\n  by receiver.example with QMTP; "),
        "{m}"
    );
    assert!(m.ends_with("\nSubject: q\n\n.dot\nbody\n"), "{m}");

    // One recipient outside the receiver's rcpthosts: h for it, the
    // other is accepted.
    qmtp_route(&root, ".test", port);
    let out = s(&root.remote(
        &["mixed.test", "joe@tx.test", "x@other.test", "bob@rx.test"],
        MSG,
        &[],
    ));
    assert!(
        out.starts_with(
            "h127.0.0.1 does not like recipient.\nRemote host said: sorry, that domain isn't \
             in my list of allowed rcpthosts (#5.7.1)\n\0r\0K127.0.0.1 accepted message."
        ),
        "{out}"
    );
    h.join().unwrap();
    assert_eq!(rx.queued().len(), 2);
}

#[test]
fn every_recipient_refused_gives_up() {
    let rx = Host::new("rx.test");
    let (port, h) = rx.serve("qmail-qmtpd", "127.0.0.1", 0, 1);
    let root = Root::new();
    root.control("qmtproutes", &format!(":[127.0.0.1]:{port}\n"));
    let out = s(&root.remote(&["far.test", "", "x@far.test"], MSG, &[]));
    assert_eq!(
        out,
        "h127.0.0.1 does not like recipient.\nRemote host said: sorry, that domain isn't \
         in my list of allowed rcpthosts (#5.7.1)\n\0DGiving up on 127.0.0.1.\n\0"
    );
    h.join().unwrap();
}

#[test]
fn no_qmtp_connection_falls_back_to_smtp() {
    let peer = Peer::start(Script::default());
    let closed = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let root = Root::new();
    qmtp_route(&root, "fb.test", closed);
    let p = peer.port.to_string();
    let out = s(&root.remote(
        &["fb.test", "", "bob@fb.test"],
        MSG,
        &[("QMAILRS_REMOTE_PORT", &p)],
    ));
    assert_eq!(
        out,
        "r\0K127.0.0.1 accepted message.\nRemote host said: 250 ok 1795607156 qp 422\n\0"
    );
    assert_eq!(peer.finish().lines[2], "RCPT TO:<bob@fb.test>");
}

#[test]
fn empty_qmtp_route_is_an_exception() {
    // ".x.test:" exempts in.x.test from the QMTP default route; it goes
    // by smtproutes instead.
    let peer = Peer::start(Script::default());
    let root = Root::new();
    root.control("qmtproutes", ".x.test:\n:[127.0.0.1]:1\n");
    root.control(
        "smtproutes",
        &format!("in.x.test:[127.0.0.1]:{}\n", peer.port),
    );
    let out = s(&root.remote(&["in.x.test", "", "bob@in.x.test"], MSG, &[]));
    assert!(out.starts_with("r\0K127.0.0.1 accepted message."), "{out}");
    peer.finish();
}

fn odd_qmtp_server(
    reply: &'static [u8],
    read_request: bool,
) -> (u16, std::thread::JoinHandle<Vec<u8>>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let h = std::thread::spawn(move || {
        let (mut sock, _) = l.accept().unwrap();
        let mut got = Vec::new();
        if read_request {
            // The request ends with ",," (recipient list, outer comma).
            let mut buf = [0u8; 4096];
            while !got.ends_with(b",,") {
                match sock.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => got.extend_from_slice(&buf[..n]),
                }
            }
        }
        let _ = sock.write_all(reply);
        got
    });
    (port, h)
}

#[test]
fn bad_qmtp_servers() {
    // An SMTP server on the QMTP port.
    let (port, h) = odd_qmtp_server(b"220 smtp.example ESMTP\r\n", false);
    let root = Root::new();
    qmtp_route(&root, "x.test", port);
    let out = s(&root.remote(&["x.test", "a@b", "bob@x.test"], MSG, &[]));
    assert_eq!(out, "Zrecipient did not talk proper QMTP (#4.3.0)\n\0");
    h.join().unwrap();

    // The request arrives whole, then the server hangs up.
    let (port, h) = odd_qmtp_server(b"", true);
    qmtp_route(&root, "x.test", port);
    let out = s(&root.remote(&["x.test", "a@b", "bob@x.test"], b"hi\n", &[]));
    assert_eq!(
        out,
        "ZConnected to 127.0.0.1 but connection died. Possible duplicate! (#4.4.2)\n\0"
    );
    assert_eq!(h.join().unwrap(), b"4:\nhi\n,3:a@b,14:10:bob@x.test,,");

    // A temporary refusal, with bytes outside 32..126 sanitised.
    let (port, h) = odd_qmtp_server(b"12:Zdisk\x01full!!,", true);
    qmtp_route(&root, "x.test", port);
    let out = s(&root.remote(&["x.test", "a@b", "bob@x.test"], MSG, &[]));
    assert_eq!(
        out,
        "s127.0.0.1 does not like recipient.\nRemote host said: disk?full!!\n\0\
         DGiving up on 127.0.0.1.\n\0"
    );
    h.join().unwrap();
}
