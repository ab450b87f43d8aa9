//! Our ucspi-tcp tools against Debian's ucspi-tcp 0.88 (installed by
//! `scripts/ci-deps`) on the same input: addcr and delcr on any bytes,
//! fixcrio and recordio around the same program, argv0's and rblsmtpd's
//! replies and messages, tcpclient's refusal line.

use std::io::Write;
use std::process::{Command, Output, Stdio};

use proptest::prelude::*;

fn theirs(name: &str) -> String {
    let p = format!("/usr/bin/{name}");
    assert!(
        std::path::Path::new(&p).exists(),
        "{p} missing: install ucspi-tcp (scripts/ci-deps)"
    );
    p
}

fn ours(name: &str) -> String {
    let dir = std::path::Path::new(env!("CARGO_BIN_EXE_addcr"))
        .parent()
        .unwrap();
    dir.join(name).display().to_string()
}

fn run(prog: &str, args: &[&str], env: &[(&str, &str)], input: &[u8]) -> Output {
    let mut child = Command::new(prog)
        .args(args)
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let _ = stdin.write_all(input);
    drop(stdin);
    child.wait_with_output().unwrap()
}

/// Run both; their exit codes, stdout and stderr, the stderr with
/// `pid N` and the program name made comparable.
fn both(
    name: &str,
    args: &[&str],
    env: &[(&str, &str)],
    input: &[u8],
) -> [(Option<i32>, Vec<u8>, String); 2] {
    [theirs(name), ours(name)].map(|p| {
        let o = run(&p, args, env, input);
        let err = String::from_utf8_lossy(&o.stderr).replace(&p, name);
        let number = |w: &str| {
            let d = w.trim_end_matches(':');
            !d.is_empty() && d.chars().all(|c| c.is_ascii_digit())
        };
        let err: String = err
            .lines()
            .map(|l| {
                let words: Vec<&str> = l
                    .split(' ')
                    .map(|w| if number(w) { "N" } else { w })
                    .collect();
                words.join(" ") + "\n"
            })
            .collect();
        (o.status.code(), o.stdout, err)
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(40))]
    #[test]
    fn addcr_and_delcr_match(data in proptest::collection::vec(prop_oneof![Just(b'\r'), Just(b'\n'), any::<u8>()], 0..300)) {
        for name in ["addcr", "delcr"] {
            let [t, o] = both(name, &[], &[], &data);
            prop_assert_eq!(t, o, "{}", name);
        }
    }
}

#[test]
fn fixcrio_and_recordio_match() {
    let script = "cat; printf 'x\\ny\\r\\nlast'; exit 4";
    let input = b"a\nb\r\nc\n";
    let [t, o] = both("fixcrio", &["sh", "-c", script], &[], input);
    assert_eq!(t, o);
    let [t, o] = both("recordio", &["sh", "-c", script], &[], input);
    assert_eq!((t.0, &t.1), (o.0, &o.1));
    // The log's lines, whatever order the two directions interleave in.
    let sorted = |s: &str| {
        let mut v: Vec<String> = s.lines().map(String::from).collect();
        v.sort();
        v
    };
    assert_eq!(sorted(&t.2), sorted(&o.2));
}

#[test]
fn usage_and_exec_failures_match() {
    for (name, args) in [
        ("argv0", &["sh"][..]),
        ("argv0", &["/nonexistent/x", "y"]),
        ("fixcrio", &[]),
        ("recordio", &[]),
        ("rblsmtpd", &[]),
        ("rblsmtpd", &["-z", "x"]),
    ] {
        let [t, o] = both(name, args, &[], b"");
        assert_eq!(t, o, "{name} {args:?}");
    }
    // tcpclient's usage is the IPv6 variant's, as tcpserver's
    // (known-differences program:tcpclient): only the option lists differ.
    let [t, o] = both("tcpclient", &["127.0.0.1"], &[], b"");
    assert_eq!((t.0, &t.1), (o.0, &o.1));
    assert_eq!(
        t.2,
        "tcpclient: usage: tcpclient [ -hHrRdDqQv ] [ -i localip ] [ -p localport ] [ -T timeoutconn ] [ -l localname ] [ -t timeoutinfo ] host port program\n"
    );
    assert_eq!(o.2, format!("{}\n", qmail::tcp::client::USAGE));
}

#[test]
fn rblsmtpd_from_the_environment_matches() {
    let dialogue = b"HELO a\r\nehlo b\r\nMAIL FROM:<x@y>\r\nRCPT TO:<z@w>\r\nDATA\r\nRSET\r\nNOOP\r\nVRFY x\r\nQUIT\r\nNOOP\r\n";
    for (value, args) in [
        (
            "Listed; see http://x.test/?ip=1.2.3.4",
            &["-r", "bl.invalid", "true"][..],
        ),
        ("-Blocked \x01 permanently", &["-r", "bl.invalid", "true"]),
        ("Later", &["-t", "0", "true"]),
        ("", &["echo", "accepted"]),
    ] {
        let env = [("RBLSMTPD", value), ("TCPREMOTEIP", "10.0.0.1")];
        let [t, o] = both("rblsmtpd", args, &env, dialogue);
        assert_eq!(t, o, "RBLSMTPD={value:?}");
    }
}

#[test]
fn tcpclient_refusal_matches() {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port().to_string();
    drop(l);
    let [t, o] = both("tcpclient", &["-RH", "127.0.0.1", &port, "true"], &[], b"");
    assert_eq!(t, o);
}
