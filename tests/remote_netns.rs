//! qmail-remote's DNS with real packets and no override (`remote.md`
//! §2.2–2.4): the test makes a network namespace with its own
//! `/etc/resolv.conf` (`nameserver 127.0.0.1`), runs an authoritative
//! responder on 127.0.0.1:53 and SMTP peers on 127.0.0.2…:25 inside it,
//! and runs qmail-remote there exactly as qmail-rspawn would (no
//! `QMAILRS_RESOLVER`, no `QMAILRS_REMOTE_PORT`).
//!
//! As root: `ip netns add NAME` with `/etc/netns/NAME/resolv.conf`, run
//! through `ip netns exec` (unique NAME per run, always deleted). As an
//! ordinary user: an unprivileged user+net+mount namespace (`unshare
//! -rnm`) with resolv.conf bind-mounted; if the kernel refuses, the test
//! fails (it is never skipped). The outer process re-executes this test
//! binary inside the namespace with `QMAILRS_NETNS_INNER=1`.

mod remote_support;

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

use hickory_proto::rr::RecordType;
use remote_support::dns::{Answer, Server, Zone};
use remote_support::{Peer, Root, Script};

const INNER: &str = "QMAILRS_NETNS_INNER";
const RESOLV_CONF: &str = "nameserver 127.0.0.1\noptions timeout:1 attempts:1\n";
const NAME: &str = "remote_netns_dns";
const MSG: &[u8] = b"Subject: ns\n\nbody\n";

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--list") {
        println!("{NAME}: test");
        return;
    }
    let filters: Vec<&String> = args.iter().filter(|a| !a.starts_with('-')).collect();
    if !filters.is_empty() && !filters.iter().any(|f| NAME.contains(f.as_str())) {
        println!("running 0 tests (filtered out)");
        return;
    }
    if std::env::var_os(INNER).is_some() {
        inner();
    } else {
        outer();
    }
}

/// `ip netns` state to remove whatever happens.
struct Netns {
    name: String,
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
        let _ = std::fs::remove_dir_all(PathBuf::from("/etc/netns").join(&self.name));
    }
}

fn outer() {
    let exe = std::env::current_exe().unwrap();
    let status = if nix::unistd::geteuid().is_root() {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let ns = Netns {
            name: format!("qmrs-{}-{nanos}", std::process::id()),
        };
        let st = Command::new("ip")
            .args(["netns", "add", &ns.name])
            .status()
            .expect("ip (Debian package iproute2) must be installed");
        assert!(st.success(), "ip netns add {} failed", ns.name);
        let etc = PathBuf::from("/etc/netns").join(&ns.name);
        std::fs::create_dir_all(&etc).unwrap();
        std::fs::write(etc.join("resolv.conf"), RESOLV_CONF).unwrap();
        let st = Command::new("ip")
            .args(["netns", "exec", &ns.name])
            .arg(&exe)
            .env(INNER, "1")
            .status()
            .unwrap();
        drop(ns);
        st
    } else {
        let dir = tempfile::tempdir().unwrap();
        let conf = dir.path().join("resolv.conf");
        std::fs::write(&conf, RESOLV_CONF).unwrap();
        Command::new("unshare")
            .args(["-rnm", "sh", "-c"])
            .arg(r#"mount --bind "$0" /etc/resolv.conf && exec "$@""#)
            .arg(&conf)
            .arg(&exe)
            .env(INNER, "1")
            .status()
            .expect("unshare (Debian package util-linux) must be installed")
    };
    assert!(
        status.success(),
        "the namespace part failed ({status}); as an ordinary user this needs \
         unprivileged user namespaces (unshare -rnm)"
    );
    println!("test {NAME} ... ok");
}

fn inner() {
    let st = Command::new("ip")
        .args(["link", "set", "lo", "up"])
        .status()
        .unwrap();
    assert!(st.success(), "ip link set lo up");
    assert_eq!(
        std::fs::read_to_string("/etc/resolv.conf").unwrap(),
        RESOLV_CONF,
        "the namespace's resolv.conf is in force"
    );
    let dns = Server::start_on("127.0.0.1:53");
    type Case = (&'static str, fn(&Server));
    let tests: &[Case] = &[
        (
            "mx_preference_order_and_fallback",
            mx_preference_order_and_fallback,
        ),
        (
            "equal_preferences_in_random_order",
            equal_preferences_in_random_order,
        ),
        ("a_fallback_and_ip_literal_mx", a_fallback_and_ip_literal_mx),
        (
            "cname_canonicalisation_and_loops",
            cname_canonicalisation_and_loops,
        ),
        ("mx_pointing_to_ourselves", mx_pointing_to_ourselves),
        ("dns_failures_and_timeouts", dns_failures_and_timeouts),
    ];
    for (name, t) in tests {
        println!("netns: {name}");
        t(&dns);
    }
}

fn s(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn remote(dns: &Server, zone: Zone, args: &[&str]) -> (String, Vec<String>) {
    dns.set(zone);
    let root = Root::new();
    let out = root.remote_system_dns(args, MSG, &[]);
    (s(&out), dns.questions())
}

const OK_TEXT: &str = "accepted message.\nRemote host said: 250 ok 1795607156 qp 422\n\0";

fn mx_preference_order_and_fallback(dns: &Server) {
    let peer = Peer::start_on("127.0.0.2", 25, Script::default());
    let mut z = Zone::default();
    // The best MX refuses connections (nothing on 127.0.0.3:25).
    z.mx("x.test", &[(20, "mx2.x.test"), (5, "dead.x.test")])
        .a("dead.x.test", &["127.0.0.3"])
        .a("mx2.x.test", &["127.0.0.2"]);
    let (out, q) = remote(dns, z, &["x.test", "a@b.test", "bob@x.test"]);
    assert_eq!(out, format!("r\0K127.0.0.2 {OK_TEXT}"));
    assert_eq!(
        q[..2],
        ["x.test CNAME".to_string(), "x.test MX".to_string()]
    );
    let pos = |n: &str| q.iter().position(|x| x == n).unwrap();
    assert!(pos("dead.x.test A") < pos("mx2.x.test A"), "{q:?}");
    let seen = peer.finish();
    assert_eq!(seen.lines[0], "EHLO relay.example");
    assert_eq!(seen.lines[2], "RCPT TO:<bob@x.test>");
}

/// Equal preferences are tried in a random order (seeded by time and
/// pid); the better preference always comes first.
fn equal_preferences_in_random_order(dns: &Server) {
    let names = ["a.eq.test", "b.eq.test", "c.eq.test"];
    let mut first: HashMap<String, usize> = HashMap::new();
    let runs = 45;
    for _ in 0..runs {
        let mut z = Zone::default();
        z.mx(
            "eq.test",
            &[
                (10, names[0]),
                (10, names[1]),
                (5, "best.eq.test"),
                (10, names[2]),
            ],
        )
        .a("best.eq.test", &["127.0.0.4"])
        .a(names[0], &["127.0.0.5"])
        .a(names[1], &["127.0.0.6"])
        .a(names[2], &["127.0.0.7"]);
        let (out, q) = remote(dns, z, &["eq.test", "", "bob@eq.test"]);
        assert_eq!(
            out,
            "ZSorry, I wasn't able to establish an SMTP connection. (#4.4.1)\n\0"
        );
        let a: Vec<&String> = q.iter().filter(|x| x.ends_with(" A")).collect();
        assert_eq!(a.len(), 4, "{q:?}");
        assert_eq!(a[0], "best.eq.test A", "{q:?}");
        *first
            .entry(a[1].trim_end_matches(" A").to_string())
            .or_default() += 1;
    }
    // Each of three equal MXs comes first with p = 1/3: at least 5 of 45
    // fails by chance with a probability below 1e-3.
    for n in names {
        let c = first.get(n).copied().unwrap_or(0);
        assert!(c >= 5, "{n} first {c} of {runs} times: {first:?}");
    }
}

fn a_fallback_and_ip_literal_mx(dns: &Server) {
    let peer = Peer::start_on("127.0.0.2", 25, Script::default());
    let mut z = Zone::default();
    z.a("a-only.test", &["127.0.0.2"]);
    let (out, q) = remote(dns, z, &["a-only.test", "", "bob@a-only.test"]);
    assert_eq!(out, format!("r\0K127.0.0.2 {OK_TEXT}"));
    assert!(q.contains(&"a-only.test MX".to_string()), "{q:?}");
    assert!(q.contains(&"a-only.test A".to_string()), "{q:?}");
    peer.finish();

    let peer = Peer::start_on("127.0.0.2", 25, Script::default());
    let mut z = Zone::default();
    z.mx("lit.test", &[(10, "127.0.0.2")]);
    let (out, q) = remote(dns, z, &["lit.test", "", "bob@lit.test"]);
    assert_eq!(out, format!("r\0K127.0.0.2 {OK_TEXT}"));
    assert!(!q.iter().any(|x| x.starts_with("127.")), "{q:?}");
    peer.finish();
}

fn cname_canonicalisation_and_loops(dns: &Server) {
    let peer = Peer::start_on("127.0.0.2", 25, Script::default());
    let mut z = Zone::default();
    z.cname("alias.test", "real.test")
        .mx("alias.test", &[(10, "mx.real.test")])
        .a("mx.real.test", &["127.0.0.2"])
        .cname("l1.test", "l2.test")
        .cname("l2.test", "l1.test");
    let (out, q) = remote(dns, z, &["alias.test", "", "bob@alias.test", "ann@l1.test"]);
    assert_eq!(out, format!("r\0r\0K127.0.0.2 {OK_TEXT}"));
    // The loop is followed a bounded number of times, then left alone.
    let loops = q
        .iter()
        .filter(|x| x.starts_with("l1.test") || x.starts_with("l2.test"))
        .count();
    assert!((2..=12).contains(&loops), "{q:?}");
    let seen = peer.finish();
    assert_eq!(seen.lines[2], "RCPT TO:<bob@real.test>");
    assert_eq!(seen.lines[3], "RCPT TO:<ann@l1.test>");
}

const AMBIG: &str = "DSorry. Although I'm listed as a best-preference MX or A for that host,\n\
                     it isn't in my control/locals file, so I don't treat it as local. (#5.4.6)\n\0";

/// 127.0.0.1 is the namespace's only IPv4 interface address: "me".
fn mx_pointing_to_ourselves(dns: &Server) {
    let mut z = Zone::default();
    z.mx("self.test", &[(10, "me.self.test")])
        .a("me.self.test", &["127.0.0.1"]);
    let (out, _) = remote(dns, z, &["self.test", "", "bob@self.test"]);
    assert_eq!(out, AMBIG);

    let mut z = Zone::default();
    z.mx("selflit.test", &[(10, "127.0.0.1")]);
    let (out, _) = remote(dns, z, &["selflit.test", "", "bob@selflit.test"]);
    assert_eq!(out, AMBIG);

    let (out, q) = remote(
        dns,
        Zone::default(),
        &["[127.0.0.1]", "", "bob@[127.0.0.1]"],
    );
    assert_eq!(out, AMBIG);
    assert!(q.is_empty(), "{q:?}");

    // A better MX than ourselves is still used; ours is never tried.
    let peer = Peer::start_on("127.0.0.2", 25, Script::default());
    let mut z = Zone::default();
    z.mx("self.test", &[(10, "me.self.test"), (5, "other.self.test")])
        .a("me.self.test", &["127.0.0.1"])
        .a("other.self.test", &["127.0.0.2"]);
    let (out, _) = remote(dns, z, &["self.test", "", "bob@self.test"]);
    assert_eq!(out, format!("r\0K127.0.0.2 {OK_TEXT}"));
    peer.finish();
}

fn dns_failures_and_timeouts(dns: &Server) {
    let (out, _) = remote(dns, Zone::default(), &["nx.test", "", "bob@nx.test"]);
    assert_eq!(
        out,
        "DSorry, I couldn't find any host named nx.test. (#5.1.2)\n\0"
    );

    let mut z = Zone::default();
    z.set("soft.test", RecordType::MX, Answer::ServFail);
    let (out, _) = remote(dns, z, &["soft.test", "", "bob@soft.test"]);
    assert_eq!(
        out,
        "ZSorry, I couldn't find any host by that name. (#4.1.2)\n\0"
    );

    let mut z = Zone::default();
    z.mx("nomx.test", &[(10, "gone.nomx.test")]);
    let (out, _) = remote(dns, z, &["nomx.test", "", "bob@nomx.test"]);
    assert_eq!(
        out,
        "DSorry, I couldn't find a mail exchanger or IP address. (#5.4.4)\n\0"
    );

    // A responder that never answers: the recipient's CNAME lookup is
    // the first to time out (resolv.conf: timeout:1 attempts:1).
    let (out, q) = remote(dns, Zone::silent(), &["t.test", "", "bob@t.test"]);
    assert_eq!(out, "ZCNAME lookup failed temporarily. (#4.4.3)\n\0");
    assert_eq!(q, vec!["t.test CNAME".to_string()]);

    // Only the MX question goes unanswered.
    let mut z = Zone::default();
    z.set("slow.test", RecordType::MX, Answer::Silent);
    let (out, _) = remote(dns, z, &["slow.test", "", "bob@slow.test"]);
    assert_eq!(
        out,
        "ZSorry, I couldn't find any host by that name. (#4.1.2)\n\0"
    );
}
