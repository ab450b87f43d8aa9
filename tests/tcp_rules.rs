//! tcprules and tcprulescheck against Debian's ucspi-tcp.
//!
//! Debian's `ucspi-tcp` package is DJB's IPv4-only 0.88: our tcprules must
//! write byte-identical rules.cdb files for IPv4 rules, and our
//! tcprulescheck must print the same report for each connection. IPv6
//! rules are checked against files recorded from Debian's
//! `ucspi-tcp-ipv6` (which conflicts with `ucspi-tcp`, so it cannot be
//! installed beside it): `testdata/tcp/ipv6.cdb` was built by its tcprules
//! from `ipv6.rules`, and `ipv6-check.txt` holds its tcprulescheck output.
//! Tests needing Debian's binaries fail loudly when they are missing.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

const TCPRULES: &str = env!("CARGO_BIN_EXE_tcprules");
const TCPRULESCHECK: &str = env!("CARGO_BIN_EXE_tcprulescheck");

fn testdata(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata/tcp")
        .join(name)
}

fn debian(name: &str) -> PathBuf {
    let p = Path::new("/usr/bin").join(name);
    assert!(
        p.is_file(),
        "Debian's {name} is missing: apt-get install ucspi-tcp (see scripts/ci-deps)"
    );
    p
}

/// Run a tcprules binary in `dir`; returns its output.
fn tcprules(bin: &Path, dir: &Path, input: &[u8]) -> Output {
    use std::io::Write;
    let mut child = Command::new(bin)
        .args(["rules.cdb", "rules.tmp"])
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn tcprules");
    child.stdin.take().unwrap().write_all(input).unwrap();
    child.wait_with_output().unwrap()
}

/// Build `input` with both tcprules; assert identical outcome and bytes.
fn compare(input: &[u8]) -> Vec<u8> {
    let ours = tempfile::tempdir().unwrap();
    let theirs = tempfile::tempdir().unwrap();
    let a = tcprules(Path::new(TCPRULES), ours.path(), input);
    let b = tcprules(&debian("tcprules"), theirs.path(), input);
    assert_eq!(
        a.status.code(),
        b.status.code(),
        "exit codes for {:?}",
        String::from_utf8_lossy(input)
    );
    assert_eq!(
        String::from_utf8_lossy(&a.stderr),
        String::from_utf8_lossy(&b.stderr),
        "messages for {:?}",
        String::from_utf8_lossy(input)
    );
    let fa = std::fs::read(ours.path().join("rules.cdb")).ok();
    let fb = std::fs::read(theirs.path().join("rules.cdb")).ok();
    assert!(
        fa == fb,
        "rules.cdb differs for {:?}",
        String::from_utf8_lossy(input)
    );
    fa.unwrap_or_default()
}

#[test]
fn hoster_rules_byte_identical() {
    let bytes = compare(&std::fs::read(testdata("hoster.rules")).unwrap());
    assert!(bytes.len() > 2048);
}

#[test]
fn edge_rules_byte_identical() {
    compare(&std::fs::read(testdata("edge.rules")).unwrap());
}

#[test]
fn small_rule_sets_byte_identical() {
    for input in [
        &b""[..],
        b"\n",
        b"127.:allow,RELAYCLIENT=\"\"\n:deny\n",
        b"127.0.0.1:allow,RELAYCLIENT=\"\",TCPLOCALHOST=\"movie.edu\"\n",
        b"10.0.:allow,RELAYCLIENT=/@fix.me/\n",
        b"1.2.3.37-53:allow\n10.2-3.:allow\n",
        b"1.2.3.4:deny",
        b"no colon\n1.2.3.4:allow\n",
        b"1.2.3.4:allow,X=\"a\"  \t \n",
        b"#only a comment",
        b"dup:allow\ndup:deny\n",
    ] {
        compare(input);
    }
}

#[test]
fn bad_lines_same_message_and_code() {
    for input in [
        &b"1.2.3.4:permit\n"[..],
        b"foo:bar\n",
        b"1.2.3.4:allow,X\n",
        b"1.2.3.4:allow,X=\n",
        b"1.2.3.4:allow,X=\"ab\n",
        b"1.2.3.x-4:allow\n",
        b"1.2.3.4:allow;\n",
        b"ok:allow\n1.2.3.4:denyX   \n",
    ] {
        compare(input);
    }
}

#[test]
fn cdb_left_alone_on_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let ok = tcprules(Path::new(TCPRULES), dir.path(), b"1.2.3.4:deny\n");
    assert!(ok.status.success());
    let before = std::fs::read(dir.path().join("rules.cdb")).unwrap();
    let bad = tcprules(Path::new(TCPRULES), dir.path(), b"1.2.3.4:nope\n");
    assert_eq!(bad.status.code(), Some(100));
    assert_eq!(std::fs::read(dir.path().join("rules.cdb")).unwrap(), before);
}

#[test]
fn usage_and_system_errors() {
    let usage = Command::new(TCPRULES).arg("only-one").output().unwrap();
    assert_eq!(usage.status.code(), Some(100));
    assert_eq!(
        usage.stderr,
        b"tcprules: usage: tcprules rules.cdb rules.tmp\n"
    );
    let out = Command::new(TCPRULES)
        .args(["/nonexistent/r.cdb", "/nonexistent/r.tmp"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(111));
    assert_eq!(
        out.stderr,
        b"tcprules: fatal: unable to create /nonexistent/r.tmp: file does not exist\n"
    );
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("d")).unwrap();
    let mv = Command::new(TCPRULES)
        .args(["d", "t.tmp"])
        .current_dir(dir.path())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(mv.status.code(), Some(111));
    assert_eq!(
        mv.stderr,
        b"tcprules: fatal: unable to move t.tmp to d: is a directory\n"
    );
}

/// Run a tcprulescheck with the connection in its environment.
fn check(
    bin: &Path,
    cdb: &Path,
    ip: Option<&str>,
    host: Option<&str>,
    info: Option<&str>,
) -> Output {
    let mut cmd = Command::new(bin);
    cmd.arg(cdb).env_clear();
    for (name, v) in [
        ("TCPREMOTEIP", ip),
        ("TCPREMOTEHOST", host),
        ("TCPREMOTEINFO", info),
    ] {
        if let Some(v) = v {
            cmd.env(name, v);
        }
    }
    cmd.output().unwrap()
}

#[test]
fn tcprulescheck_matches_debian() {
    let dir = tempfile::tempdir().unwrap();
    let input = std::fs::read(testdata("hoster.rules")).unwrap();
    assert!(tcprules(&debian("tcprules"), dir.path(), &input)
        .status
        .success());
    let cdb = dir.path().join("rules.cdb");
    let cases: &[(Option<&str>, Option<&str>, Option<&str>)] = &[
        (None, None, None),
        (Some("127.0.0.1"), None, None),
        (Some("127.0.0.1"), None, Some("joe")),
        (Some("127.0.0.9"), None, Some("bill")),
        (Some("10.0.0.5"), None, None),
        (Some("10.0.0.21"), None, None),
        (Some("192.168.2.7"), None, None),
        (Some("1.2.3.3"), None, None),
        (Some("1.2.3.251"), None, None),
        (Some("8.8.8.8"), Some("mail.example.com"), None),
        (Some("8.8.8.8"), Some("a.b.spam.example"), None),
        (Some("8.8.8.8"), Some("host.example"), Some("bob")),
        (Some("8.8.8.8"), Some("other.example"), None),
        (Some("5.6.7.8"), None, None),
        (Some("9.9.9.9"), None, None),
        (Some("4.4.4.4"), None, None),
    ];
    for &(ip, host, info) in cases {
        let a = check(Path::new(TCPRULESCHECK), &cdb, ip, host, info);
        let b = check(&debian("tcprulescheck"), &cdb, ip, host, info);
        assert_eq!(a.status.code(), b.status.code(), "{ip:?} {host:?} {info:?}");
        assert_eq!(
            String::from_utf8_lossy(&a.stdout),
            String::from_utf8_lossy(&b.stdout),
            "{ip:?} {host:?} {info:?}"
        );
    }
    // The optional arguments stand in for the variables.
    let args = Command::new(TCPRULESCHECK)
        .arg(&cdb)
        .args(["8.8.8.8", "mail.example.com"])
        .env_clear()
        .output()
        .unwrap();
    let env = check(
        Path::new(TCPRULESCHECK),
        &cdb,
        Some("8.8.8.8"),
        Some("mail.example.com"),
        None,
    );
    assert_eq!(args.stdout, env.stdout);
}

#[test]
fn tcprulescheck_errors_match_debian() {
    let dir = tempfile::tempdir().unwrap();
    let short = dir.path().join("short.cdb");
    std::fs::write(&short, [0u8; 100]).unwrap();
    for cdb in [dir.path().join("missing.cdb"), short] {
        let a = check(Path::new(TCPRULESCHECK), &cdb, None, None, None);
        let b = check(&debian("tcprulescheck"), &cdb, None, None, None);
        assert_eq!(a.status.code(), Some(111));
        assert_eq!(a.status.code(), b.status.code());
        assert_eq!(
            String::from_utf8_lossy(&a.stderr),
            String::from_utf8_lossy(&b.stderr)
        );
    }
    let usage = Command::new(TCPRULESCHECK).output().unwrap();
    assert_eq!(usage.status.code(), Some(100));
    assert_eq!(
        usage.stderr,
        b"tcprulescheck: usage: tcprulescheck rules.cdb\n"
    );
}

#[test]
fn ipv6_rules_match_recorded_variant() {
    let dir = tempfile::tempdir().unwrap();
    let input = std::fs::read(testdata("ipv6.rules")).unwrap();
    assert!(tcprules(Path::new(TCPRULES), dir.path(), &input)
        .status
        .success());
    let ours = std::fs::read(dir.path().join("rules.cdb")).unwrap();
    assert!(
        ours == std::fs::read(testdata("ipv6.cdb")).unwrap(),
        "ipv6.cdb differs"
    );

    let recorded = std::fs::read_to_string(testdata("ipv6-check.txt")).unwrap();
    let mut cases = 0;
    for block in recorded.split("> ").filter(|b| !b.is_empty()) {
        let (spec, want) = block.split_once('\n').unwrap();
        let mut f = spec.split('|').map(|s| (!s.is_empty()).then_some(s));
        let (ip, host, info) = (f.next().flatten(), f.next().flatten(), f.next().flatten());
        let got = check(
            Path::new(TCPRULESCHECK),
            &testdata("ipv6.cdb"),
            ip,
            host,
            info,
        );
        assert_eq!(String::from_utf8_lossy(&got.stdout), want, "case {spec}");
        cases += 1;
    }
    assert_eq!(cases, 10);
}
