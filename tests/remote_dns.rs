//! qmail-remote's MX ordering, fallbacks, loop rule and CNAME handling
//! against a small DNS responder on loopback (`remote.md` §2.2–2.4).
//! MX hosts are on 127.0.0.2 (loopback, but not an interface address, so
//! not "me"); `QMAILRS_REMOTE_PORT` stands in for port 25.

mod remote_support;

use hickory_proto::rr::RecordType;
use remote_support::dns::{self, Answer, Zone};
use remote_support::{Peer, Root, Script};

const MSG: &[u8] = b"Subject: hi\n\nbody\n";

fn s(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn run(root: &Root, zone: Zone, port: u16, args: &[&str]) -> (String, Vec<String>) {
    let (resolver, log) = dns::start(zone);
    let p = port.to_string();
    let out = root.remote(
        args,
        MSG,
        &[("QMAILRS_RESOLVER", &resolver), ("QMAILRS_REMOTE_PORT", &p)],
    );
    let questions = log.lock().unwrap().clone();
    (s(&out), questions)
}

#[test]
fn mx_preference_order_and_fallback_to_the_next() {
    let root = Root::new();
    let peer = Peer::start_at("127.0.0.2", Script::default());
    let mut z = Zone::default();
    // The best MX refuses connections; the next one takes the message.
    z.mx("x.test", &[(20, "mx2.x.test"), (5, "dead.x.test")])
        .a("dead.x.test", &["127.0.0.3"])
        .a("mx2.x.test", &["127.0.0.2"]);
    let (out, q) = run(&root, z, peer.port, &["x.test", "a@b.test", "bob@x.test"]);
    assert_eq!(
        out,
        "r\0K127.0.0.2 accepted message.\nRemote host said: 250 ok 1795607156 qp 422\n\0"
    );
    assert_eq!(
        q[..2],
        ["x.test CNAME".to_string(), "x.test MX".to_string()]
    );
    let pos = |n: &str| q.iter().position(|x| x == n).unwrap();
    assert!(pos("dead.x.test A") < pos("mx2.x.test A"), "{q:?}");
    assert_eq!(peer.finish().lines[2], "RCPT TO:<bob@x.test>");
}

#[test]
fn no_mx_falls_back_to_a_and_mx_may_be_an_ip_literal() {
    let root = Root::new();
    let peer = Peer::start_at("127.0.0.2", Script::default());
    let mut z = Zone::default();
    z.a("a-only.test", &["127.0.0.2"]);
    let (out, _) = run(&root, z, peer.port, &["a-only.test", "", "bob@a-only.test"]);
    assert!(out.starts_with("r\0K127.0.0.2 accepted"), "{out}");
    peer.finish();

    let peer = Peer::start_at("127.0.0.2", Script::default());
    let mut z = Zone::default();
    z.mx("lit.test", &[(10, "127.0.0.2")]);
    let (out, q) = run(&root, z, peer.port, &["lit.test", "", "bob@lit.test"]);
    assert!(out.starts_with("r\0K127.0.0.2 accepted"), "{out}");
    assert!(!q.iter().any(|x| x.starts_with("127.0.0.2")), "{q:?}");
    peer.finish();
}

#[test]
fn mx_pointing_to_ourselves() {
    let root = Root::new();
    let mut z = Zone::default();
    z.mx("self.test", &[(10, "me.self.test")])
        .a("me.self.test", &["127.0.0.1"]);
    let (out, _) = run(&root, z, 1, &["self.test", "", "bob@self.test"]);
    assert_eq!(
        out,
        "DSorry. Although I'm listed as a best-preference MX or A for that host,\n\
         it isn't in my control/locals file, so I don't treat it as local. (#5.4.6)\n\0"
    );
    // A better MX than ourselves is still used.
    let peer = Peer::start_at("127.0.0.2", Script::default());
    let mut z = Zone::default();
    z.mx("self.test", &[(10, "me.self.test"), (5, "other.self.test")])
        .a("me.self.test", &["127.0.0.1"])
        .a("other.self.test", &["127.0.0.2"]);
    let (out, _) = run(&root, z, peer.port, &["self.test", "", "bob@self.test"]);
    assert!(out.starts_with("r\0K127.0.0.2"), "{out}");
    peer.finish();
}

#[test]
fn dns_failures() {
    let root = Root::new();
    let (out, _) = run(&root, Zone::default(), 1, &["nx.test", "", "bob@nx.test"]);
    assert_eq!(
        out,
        "DSorry, I couldn't find any host named nx.test. (#5.1.2)\n\0"
    );

    let mut z = Zone::default();
    z.set("soft.test", RecordType::MX, Answer::ServFail);
    let (out, _) = run(&root, z, 1, &["soft.test", "", "bob@soft.test"]);
    assert_eq!(
        out,
        "ZSorry, I couldn't find any host by that name. (#4.1.2)\n\0"
    );

    let mut z = Zone::default();
    z.mx("nomx.test", &[(10, "gone.nomx.test")]);
    let (out, _) = run(&root, z, 1, &["nomx.test", "", "bob@nomx.test"]);
    assert_eq!(
        out,
        "DSorry, I couldn't find a mail exchanger or IP address. (#5.4.4)\n\0"
    );

    // The resolver never answers: the CNAME lookup comes first.
    let (out, _) = run(&root, Zone::silent(), 1, &["t.test", "", "bob@t.test"]);
    assert_eq!(out, "ZCNAME lookup failed temporarily. (#4.4.3)\n\0");
}

#[test]
fn cname_canonicalisation_and_loops() {
    let root = Root::new();
    let peer = Peer::start_at("127.0.0.2", Script::default());
    let mut z = Zone::default();
    z.cname("alias.test", "real.test")
        .mx("alias.test", &[(10, "mx.real.test")])
        .a("mx.real.test", &["127.0.0.2"])
        .cname("l1.test", "l2.test")
        .cname("l2.test", "l1.test");
    let (out, _) = run(
        &root,
        z,
        peer.port,
        &["alias.test", "", "bob@alias.test", "ann@l1.test"],
    );
    assert!(out.starts_with("r\0r\0K127.0.0.2"), "{out}");
    let seen = peer.finish();
    assert_eq!(seen.lines[2], "RCPT TO:<bob@real.test>");
    assert_eq!(seen.lines[3], "RCPT TO:<ann@l1.test>");
}

#[test]
fn routed_relay_by_name_needs_only_its_a_record() {
    let root = Root::new();
    let peer = Peer::start(Script::default());
    root.control("smtproutes", &format!(".x.test:relay.test:{}\n", peer.port));
    let mut z = Zone::default();
    z.a("relay.test", &["127.0.0.1"]);
    let (out, q) = run(&root, z, 1, &["in.x.test", "", "bob@in.x.test"]);
    assert!(out.starts_with("r\0K127.0.0.1"), "{out}");
    assert_eq!(
        q,
        vec!["relay.test A".to_string(), "relay.test AAAA".to_string()]
    );
    peer.finish();
}
