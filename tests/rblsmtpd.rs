//! rblsmtpd against a DNS responder on loopback (`QMAILRS_RESOLVER`):
//! an unlisted client reaches the program, a listed one gets the fake
//! SMTP dialogue with the list's text, `$RBLSMTPD` decides without DNS,
//! `-t 0` prints the refusal alone, the session ends at the timeout, and
//! a program that cannot run is exit 111.

#[path = "remote_support/dns.rs"]
mod dns;

use std::io::Write;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use dns::Zone;

fn run(resolver: &str, env: &[(&str, &str)], args: &[&str], input: &[u8]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_rblsmtpd"));
    c.args(args)
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("QMAILRS_RESOLVER", resolver)
        .env("TCPREMOTEIP", "127.0.0.2")
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = c.spawn().unwrap();
    child.stdin.take().unwrap().write_all(input).unwrap();
    child.wait_with_output().unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn zone() -> Zone {
    let mut z = Zone::default();
    z.txt("2.0.0.127.bl.test", &["Listed: see ", "http://bl.test/"])
        .a("2.0.0.127.white.test", &["127.0.0.2"]);
    z
}

const DIALOGUE: &[u8] =
    b"HELO client\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\nDATA\r\nquit\r\nNOOP\r\n";

#[test]
fn unlisted_clients_reach_the_program() {
    let (resolver, log) = dns::start(zone());
    let o = run(&resolver, &[], &["-r", "clean.test", "echo", "served"], b"");
    assert_eq!(
        (o.status.code(), text(&o.stdout)),
        (Some(0), "served\n".into())
    );
    assert_eq!(text(&o.stderr), "");
    // An anti-blocklist entry first: the listing after it is not asked.
    let o = run(
        &resolver,
        &[],
        &["-a", "white.test", "-r", "bl.test", "echo", "ok"],
        b"",
    );
    assert_eq!(text(&o.stdout), "ok\n");
    let asked = log.lock().unwrap().clone();
    assert_eq!(
        asked,
        ["2.0.0.127.clean.test TXT", "2.0.0.127.white.test A"],
        "one lookup per option, in order, none after the decision"
    );
}

#[test]
fn listed_clients_get_the_fake_dialogue() {
    let (resolver, _) = dns::start(zone());
    let o = run(
        &resolver,
        &[],
        &["-r", "bl.test", "echo", "never"],
        DIALOGUE,
    );
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(
        text(&o.stdout),
        "220 rblsmtpd.local\r\n250 rblsmtpd.local\r\n250 rblsmtpd.local\r\n\
         451 Listed: see http://bl.test/\r\n451 Listed: see http://bl.test/\r\n\
         221 rblsmtpd.local\r\n"
    );
    let e = text(&o.stderr);
    assert!(e.starts_with("rblsmtpd: 127.0.0.2 pid "), "{e}");
    assert!(e.ends_with(": 451 Listed: see http://bl.test/\n"), "{e}");
    // -b: permanent.
    let o = run(
        &resolver,
        &[],
        &["-b", "-r", "bl.test", "echo"],
        b"RCPT TO:<x@y>\r\n",
    );
    assert_eq!(
        text(&o.stdout),
        "220 rblsmtpd.local\r\n553 Listed: see http://bl.test/\r\n"
    );
}

#[test]
fn the_environment_decides_without_dns() {
    let (resolver, log) = dns::start(Zone::silent());
    let o = run(
        &resolver,
        &[("RBLSMTPD", "")],
        &["-r", "bl.test", "echo", "let in"],
        b"",
    );
    assert_eq!(text(&o.stdout), "let in\n");
    let o = run(
        &resolver,
        &[("RBLSMTPD", "-Go away")],
        &["-t", "0", "echo"],
        b"",
    );
    assert_eq!(text(&o.stdout), "553 Go away\r\n");
    let o = run(&resolver, &[("RBLSMTPD", "Later")], &["-t0", "echo"], b"");
    assert_eq!(text(&o.stdout), "451 Later\r\n");
    assert!(log.lock().unwrap().is_empty());
}

#[test]
fn a_failed_lookup_fails_open_unless_c() {
    let (resolver, _) = dns::start(Zone::silent());
    let o = run(&resolver, &[], &["-r", "bl.test", "echo", "open"], b"");
    assert_eq!(text(&o.stdout), "open\n");
    let o = run(
        &resolver,
        &[],
        &["-c", "-t", "0", "-r", "bl.test", "echo"],
        b"",
    );
    assert_eq!(text(&o.stdout), "451 temporary RBL lookup error\r\n");
}

#[test]
fn the_refused_session_ends_at_the_timeout() {
    let (resolver, _) = dns::start(zone());
    let mut child = Command::new(env!("CARGO_BIN_EXE_rblsmtpd"))
        .args(["-t", "1", "-r", "bl.test", "echo"])
        .env("QMAILRS_RESOLVER", &resolver)
        .env("TCPREMOTEIP", "127.0.0.2")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let _keep_open = child.stdin.take();
    let t = Instant::now();
    let o = child.wait_with_output().unwrap();
    assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
    assert_eq!(text(&o.stdout), "220 rblsmtpd.local\r\n");
}

#[test]
fn usage_and_a_program_that_cannot_run() {
    let (resolver, _) = dns::start(zone());
    let o = run(&resolver, &[], &["-r", "clean.test"], b"");
    assert_eq!(o.status.code(), Some(100));
    assert_eq!(
        text(&o.stderr),
        "rblsmtpd: usage: rblsmtpd [ -b ] [ -R ] [ -t timeout ] [ -r base ] [ -a base ] smtpd [ arg ... ]\n"
    );
    let o = run(
        &resolver,
        &[],
        &["-r", "clean.test", "/nonexistent/smtpd"],
        b"",
    );
    assert_eq!(o.status.code(), Some(111));
    assert_eq!(
        text(&o.stderr),
        "rblsmtpd: fatal: unable to run /nonexistent/smtpd: file does not exist\n"
    );
}
