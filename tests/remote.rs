//! qmail-remote against scripted SMTP peers on loopback, through
//! `smtproutes` routes `[127.0.0.1]:PORT` (`remote.md` §2.1, §3, §5, §9).

mod remote_support;

use std::io::{Read, Write};
use std::net::TcpListener;

use remote_support::{route, Peer, Root, Script};

const MSG: &[u8] = b"Subject: hi\n\nline\n.dot line\n";

fn s(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn happy_path_records_and_dialogue() {
    let root = Root::new();
    root.control("helohost", "out.example\n");
    let peer = Peer::start(Script {
        rcpt: vec![b"250 ok\r\n".to_vec(), b"550 no such user\r\n".to_vec()],
        ..Script::default()
    });
    route(&root, "x.example", peer.port);
    let out = root.remote(
        &[
            "x.example",
            "a b@y.example",
            "joe@x.example",
            "bad@x.example",
        ],
        MSG,
        &[],
    );
    assert_eq!(
        s(&out),
        "r\0h127.0.0.1 does not like recipient.\nRemote host said: 550 no such user\n\0\
         K127.0.0.1 accepted message.\nRemote host said: 250 ok 1795607156 qp 422\n\0"
    );
    let seen = peer.finish();
    assert_eq!(
        seen.lines,
        vec![
            "EHLO out.example",
            "MAIL FROM:<\"a b\"@y.example>",
            "RCPT TO:<joe@x.example>",
            "RCPT TO:<bad@x.example>",
            "DATA",
            "QUIT"
        ]
    );
    assert_eq!(seen.data, b"Subject: hi\r\n\r\nline\r\n..dot line\r\n");
}

#[test]
fn greeting_refusals() {
    for (greet, want) in [
        ("554 go away\r\n", "D127.0.0.1 but greeting failed"),
        ("421 busy\r\n", "Z127.0.0.1 but greeting failed"),
    ] {
        let root = Root::new();
        let peer = Peer::start(Script {
            greeting: greet.into(),
            ..Script::default()
        });
        route(&root, "x.example", peer.port);
        let out = s(&root.remote(&["x.example", "", "joe@x.example"], MSG, &[]));
        let want = format!(
            "{}Connected to {}.\nRemote host said: {}\n\0",
            &want[..1],
            &want[1..],
            greet.trim_end()
        );
        assert_eq!(out, want);
        assert_eq!(peer.finish().lines, vec!["QUIT"]);
    }
}

#[test]
fn ehlo_refused_falls_back_to_helo_and_empty_sender() {
    let root = Root::new();
    let peer = Peer::start(Script {
        ehlo: b"502 no\r\n".to_vec(),
        ..Script::default()
    });
    route(&root, "x.example", peer.port);
    let out = s(&root.remote(&["x.example", "", "joe@x.example"], MSG, &[]));
    assert!(out.starts_with("r\0K127.0.0.1 accepted message."), "{out}");
    let seen = peer.finish();
    assert_eq!(
        &seen.lines[..3],
        &["EHLO relay.example", "HELO relay.example", "MAIL FROM:<>"]
    );
}

#[test]
fn sender_and_recipient_refusals() {
    let root = Root::new();
    let peer = Peer::start(Script {
        mail: b"553 nope\r\n".to_vec(),
        ..Script::default()
    });
    route(&root, "x.example", peer.port);
    let out = s(&root.remote(&["x.example", "a@b", "joe@x.example"], MSG, &[]));
    assert_eq!(
        out,
        "DConnected to 127.0.0.1 but sender was rejected.\nRemote host said: 553 nope\n\0"
    );
    peer.finish();

    let root = Root::new();
    let peer = Peer::start(Script {
        rcpt: vec![b"450 later\r\n".to_vec()],
        ..Script::default()
    });
    route(&root, "x.example", peer.port);
    let out = s(&root.remote(&["x.example", "a@b", "joe@x.example"], MSG, &[]));
    assert_eq!(
        out,
        "s127.0.0.1 does not like recipient.\nRemote host said: 450 later\n\0DGiving up on 127.0.0.1.\n\0"
    );
    peer.finish();

    let root = Root::new();
    let peer = Peer::start(Script {
        data: b"554 no data\r\n".to_vec(),
        ..Script::default()
    });
    route(&root, "x.example", peer.port);
    let out = s(&root.remote(&["x.example", "a@b", "joe@x.example"], MSG, &[]));
    assert_eq!(
        out,
        "r\0D127.0.0.1 failed on DATA command.\nRemote host said: 554 no data\n\0"
    );
    peer.finish();

    let root = Root::new();
    let peer = Peer::start(Script {
        after: Some(b"451 try later\r\n".to_vec()),
        ..Script::default()
    });
    route(&root, "x.example", peer.port);
    let out = s(&root.remote(&["x.example", "a@b", "joe@x.example"], MSG, &[]));
    assert_eq!(
        out,
        "r\0Z127.0.0.1 failed after I sent the message.\nRemote host said: 451 try later\n\0"
    );
    peer.finish();
}

#[test]
fn drop_after_the_dot_is_a_possible_duplicate() {
    let root = Root::new();
    let peer = Peer::start(Script {
        after: None,
        ..Script::default()
    });
    route(&root, "x.example", peer.port);
    let out = s(&root.remote(&["x.example", "a@b", "joe@x.example"], MSG, &[]));
    assert_eq!(
        out,
        "r\0ZConnected to 127.0.0.1 but connection died. Possible duplicate! (#4.4.2)\n\0"
    );
    peer.finish();
}

#[test]
fn partial_final_line_bounces() {
    let root = Root::new();
    let peer = Peer::start(Script::default());
    route(&root, "x.example", peer.port);
    let out = s(&root.remote(
        &["x.example", "a@b", "joe@x.example"],
        b"Subject: x\n\nno newline",
        &[],
    ));
    assert_eq!(
        out,
        "r\0DSMTP cannot transfer messages with partial final lines. (#5.6.2)\n\0"
    );
}

#[test]
fn usage_control_and_connection_errors() {
    let root = Root::new();
    assert_eq!(
        s(&root.remote(&["x.example", "a@b"], MSG, &[])),
        "DI (qmail-remote) was invoked improperly. (#5.3.5)\n\0"
    );
    std::fs::remove_file(root.home().join("control/me")).unwrap();
    assert_eq!(
        s(&root.remote(&["x.example", "a@b", "c@x.example"], MSG, &[])),
        "ZUnable to read control files. (#4.3.0)\n\0"
    );
    root.control("me", "relay.example\n");
    // A port nobody listens on: refused, so no timeout is recorded.
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    drop(l);
    route(&root, "x.example", port);
    assert_eq!(
        s(&root.remote(&["x.example", "a@b", "c@x.example"], MSG, &[])),
        "ZSorry, I wasn't able to establish an SMTP connection. (#4.4.1)\n\0"
    );
    assert_eq!(
        std::fs::read(root.home().join("queue/lock/tcpto")).unwrap(),
        vec![0u8; 1024]
    );
    let no_root = Root::new();
    std::fs::remove_dir_all(no_root.home()).unwrap();
    assert_eq!(
        s(&no_root.remote(&["x.example", "a@b", "c@x.example"], MSG, &[])),
        "ZUnable to switch to home directory. (#4.3.0)\n\0"
    );
}

/// A peer that does something odd after accepting.
fn odd_peer(
    f: impl FnOnce(std::net::TcpStream) + Send + 'static,
) -> (u16, std::thread::JoinHandle<()>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let h = std::thread::spawn(move || {
        if let Ok((sock, _)) = l.accept() {
            f(sock);
        }
    });
    (port, h)
}

#[test]
fn silent_peer_times_out() {
    let root = Root::new();
    root.control("timeoutremote", "1\n");
    let (port, h) = odd_peer(|s| {
        std::thread::sleep(std::time::Duration::from_secs(3));
        drop(s);
    });
    route(&root, "x.example", port);
    let out = s(&root.remote(&["x.example", "a@b", "c@x.example"], MSG, &[]));
    assert_eq!(
        out,
        "ZConnected to 127.0.0.1 but connection died. (#4.4.2)\n\0"
    );
    h.join().unwrap();
}

#[test]
fn endless_continuation_lines_end_as_a_dead_connection() {
    let root = Root::new();
    let (port, h) = odd_peer(|mut s| {
        let line = [b"220-".to_vec(), vec![b'x'; 1200], b"\r\n".to_vec()].concat();
        for _ in 0..100_000 {
            if s.write_all(&line).is_err() {
                break;
            }
        }
    });
    route(&root, "x.example", port);
    let out = s(&root.remote(&["x.example", "a@b", "c@x.example"], MSG, &[]));
    assert_eq!(
        out,
        "ZConnected to 127.0.0.1 but connection died. (#4.4.2)\n\0"
    );
    h.join().unwrap();
}

#[test]
fn long_reply_text_is_cut_at_5000_bytes() {
    let root = Root::new();
    let long = [b"554 ".to_vec(), vec![b'y'; 6000], b"\r\n".to_vec()].concat();
    let peer = Peer::start(Script {
        greeting: long,
        ..Script::default()
    });
    route(&root, "x.example", peer.port);
    let out = root.remote(&["x.example", "a@b", "c@x.example"], MSG, &[]);
    let head = b"DConnected to 127.0.0.1 but greeting failed.\nRemote host said: ".len();
    assert_eq!(out.len(), head + 5000 + 1);
    assert!(out.ends_with(b"yyy\0"));
    peer.finish();
}

#[test]
fn reply_code_is_the_first_lines() {
    // "250-" then "550 ": the original computes the code from the first line.
    let root = Root::new();
    let peer = Peer::start(Script {
        mail: b"250-fine\r\n550 but not\r\n".to_vec(),
        ..Script::default()
    });
    route(&root, "x.example", peer.port);
    let out = s(&root.remote(&["x.example", "a@b", "c@x.example"], MSG, &[]));
    assert!(out.starts_with("r\0K"), "{out}");
    peer.finish();
}

#[test]
fn auth_plain_on_an_authenticated_route() {
    let root = Root::new();
    let peer = Peer::start(Script {
        ehlo: b"250-peer\r\n250-AUTH PLAIN LOGIN\r\n250 OK\r\n".to_vec(),
        other: vec![
            ("AUTH PLAIN".into(), b"334 \r\n".to_vec()),
            ("AM9L".into(), b"235 ok\r\n".to_vec()),
        ],
        ..Script::default()
    });
    root.control(
        "smtproutes",
        &format!("x.example:127.0.0.1:{}|joe|secret\n", peer.port),
    );
    let out = s(&root.remote(&["x.example", "a@b", "c@x.example"], MSG, &[]));
    assert!(out.starts_with("r\0K127.0.0.1 accepted message."), "{out}");
    let seen = peer.finish();
    // base64("joe\0joe\0secret")
    assert_eq!(
        &seen.lines[1..4],
        &[
            "AUTH PLAIN",
            "am9lAGpvZQBzZWNyZXQ=",
            "MAIL FROM:<a@b> AUTH=joe"
        ]
    );
}

#[test]
fn auth_rejected_is_a_deferral() {
    let root = Root::new();
    let peer = Peer::start(Script {
        ehlo: b"250-peer\r\n250 AUTH LOGIN\r\n".to_vec(),
        other: vec![("AUTH LOGIN".into(), b"334 VXNlcm5hbWU6\r\n".to_vec())],
        ..Script::default()
    });
    root.control(
        "smtproutes",
        &format!("x.example:127.0.0.1:{}|joe|secret\n", peer.port),
    );
    let out = s(&root.remote(&["x.example", "a@b", "c@x.example"], MSG, &[]));
    assert_eq!(
        out,
        "ZConnected to 127.0.0.1 but authentication was rejected (username)..\nRemote host said: 502 unimplemented\n\0"
    );
    peer.finish();
}

#[test]
fn tcpto_records_nothing_for_a_refused_connect_and_clears_on_success() {
    let root = Root::new();
    // Pre-seed a record for 127.0.0.1 with count 1.
    let mut t = vec![0u8; 1024];
    t[..4].copy_from_slice(&[127, 0, 0, 1]);
    t[4] = 1;
    std::fs::write(root.home().join("queue/lock/tcpto"), &t).unwrap();
    let peer = Peer::start(Script::default());
    route(&root, "x.example", peer.port);
    let out = s(&root.remote(&["x.example", "a@b", "c@x.example"], MSG, &[]));
    assert!(out.starts_with("r\0K"));
    peer.finish();
    let after = std::fs::read(root.home().join("queue/lock/tcpto")).unwrap();
    assert_eq!(after[4], 0);
    let mut f = std::fs::File::open(root.home().join("queue/lock/tcpto")).unwrap();
    let mut all = Vec::new();
    f.read_to_end(&mut all).unwrap();
    assert_eq!(all.len(), 1024);
}

#[test]
fn reply_lines_longer_than_1000_bytes_are_read_whole() {
    // RFC 5321 limits reply lines to 512 bytes; the original has no limit
    // and neither do we: a 3000-byte EHLO line and RCPT reply are fine.
    let root = Root::new();
    let long_ehlo = [
        b"250-".to_vec(),
        vec![b'e'; 3000],
        b"\r\n250 8BITMIME\r\n".to_vec(),
    ]
    .concat();
    let long_rcpt = [b"250 ".to_vec(), vec![b'r'; 3000], b"\r\n".to_vec()].concat();
    let peer = Peer::start(Script {
        ehlo: long_ehlo,
        rcpt: vec![long_rcpt],
        ..Script::default()
    });
    route(&root, "x.example", peer.port);
    let out = s(&root.remote(&["x.example", "a@b", "c@x.example"], MSG, &[]));
    assert_eq!(
        out,
        "r\0K127.0.0.1 accepted message.\nRemote host said: 250 ok 1795607156 qp 422\n\0"
    );
    peer.finish();
}
