//! qmail-qmtpd on scripted input (`binaries.md` §QMTP).

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};

fn setup() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(d.path().join("var/qmail/control")).unwrap();
    let p = d.path().join("qq-stub");
    std::fs::write(
        &p,
        format!(
            "#!/bin/sh\nn=$(ls {0} | grep -c 'msg$') \ncat > {0}/got$n.msg\ncat <&1 > {0}/got$n.env\nexit 0\n",
            d.path().display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    d
}

fn run(d: &Path, input: &[u8], env: &[(&str, &str)]) -> (i32, String) {
    let mut c = Command::new(env!("CARGO_BIN_EXE_qmail-qmtpd"));
    c.env("QMAILRS_ROOT", d)
        .env("QMAILRS_SINGLE_USER", "1")
        .env("QMAILQUEUE", d.join("qq-stub"))
        .env("TCPREMOTEIP", "10.1.2.3")
        .env("TCPLOCALHOST", "mx.example.org")
        .env_remove("RELAYCLIENT")
        .env_remove("DATABYTES")
        .env_remove("TCPREMOTEHOST")
        .env_remove("TCPREMOTEINFO")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped());
    for (k, v) in env {
        c.env(k, v);
    }
    let mut child = c.spawn().unwrap();
    let _ = child.stdin.take().unwrap().write_all(input);
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

fn netstring(b: &[u8]) -> Vec<u8> {
    qmail::netstring::encode(b)
}

fn message(body: &[u8], sender: &[u8], rcpts: &[&[u8]]) -> Vec<u8> {
    let mut r = Vec::new();
    for x in rcpts {
        r.extend(netstring(x));
    }
    [netstring(body), netstring(sender), netstring(&r)].concat()
}

#[test]
fn two_messages_with_rcpthosts_and_crlf() {
    let d = setup();
    std::fs::write(
        d.path().join("var/qmail/control/rcpthosts"),
        "example.org\n",
    )
    .unwrap();
    let input = [
        message(
            b"\nSubject: a\n\nunix\n",
            b"joe@x",
            &[b"bob@example.org", b"eve@elsewhere.net"],
        ),
        message(
            b"\rSubject: b\r\n\r\ndos\r\nbare\rcr\r\n",
            b"",
            &[b"ann@example.org"],
        ),
    ]
    .concat();
    let (code, out) = run(d.path(), &input, &[]);
    assert_eq!(code, 0);
    let parts: Vec<String> = qmail::netstring::parse_all(out.as_bytes())
        .unwrap()
        .into_iter()
        .map(|p| String::from_utf8_lossy(p).into_owned())
        .collect();
    assert_eq!(parts.len(), 3, "{out}");
    assert!(
        parts[0].starts_with("Kok ") && parts[0].contains(" qp "),
        "{out}"
    );
    assert_eq!(
        parts[1],
        "Dsorry, that domain isn't in my list of allowed rcpthosts (#5.7.1)"
    );
    assert!(parts[2].starts_with("Kok "));
    let m0 = std::fs::read_to_string(d.path().join("got0.msg")).unwrap();
    assert!(
        m0.starts_with("Received: from unknown (10.1.2.3)\n  by mx.example.org with QMTP; "),
        "{m0}"
    );
    assert!(m0.ends_with("-0000\nSubject: a\n\nunix\n"));
    assert_eq!(
        std::fs::read(d.path().join("got0.env")).unwrap(),
        b"Fjoe@x\0Tbob@example.org\0\0"
    );
    let m1 = std::fs::read_to_string(d.path().join("got1.msg")).unwrap();
    assert!(
        m1.ends_with("-0000\nSubject: b\n\ndos\nbare\rcr\n"),
        "{m1:?}"
    );
}

#[test]
fn relayclient_databytes_and_bad_addresses() {
    let d = setup();
    std::fs::write(
        d.path().join("var/qmail/control/rcpthosts"),
        "example.org\n",
    )
    .unwrap();
    let (code, out) = run(
        d.path(),
        &message(b"\nhi\n", b"a@b", &[b"x@far.away", b"bad\0@example.org"]),
        &[("RELAYCLIENT", "")],
    );
    assert_eq!(code, 0);
    assert!(out.contains(":Kok "), "{out}");
    assert!(
        out.ends_with("46:Dsorry, I can't handle that recipient (#5.1.3),"),
        "{out}"
    );
    assert_eq!(
        std::fs::read(d.path().join("got0.env")).unwrap(),
        b"Fa@b\0Tx@far.away\0\0"
    );

    let (_, out) = run(
        d.path(),
        &message(b"\n0123456789\n", b"a@b", &[b"x@example.org"]),
        &[("DATABYTES", "5")],
    );
    assert_eq!(
        out,
        "61:Dsorry, that message size exceeds my databytes limit (#5.3.4),"
    );
    let (_, out) = run(
        d.path(),
        &message(b"\nhi\n", b"a\0b", &[b"x@example.org"]),
        &[],
    );
    assert_eq!(out, "29:Dunacceptable sender (#5.1.7),");
}

#[test]
fn protocol_errors() {
    let d = setup();
    assert_eq!(run(d.path(), b"0:,", &[]).0, 100);
    assert_eq!(run(d.path(), b"3:xhi,", &[]).0, 100);
    assert_eq!(run(d.path(), b"3:\nhi;", &[]).0, 100);
    assert_eq!(run(d.path(), b"", &[]).0, 0);
    assert_eq!(run(d.path(), b"3:\nh", &[]).0, 0);
}

/// The rcpthosts check is qmail-smtpd's (`control::rcpthosts`): suffixes
/// and morercpthosts.cdb; a morercpthosts.cdb that cannot be used is
/// `resources()`, exit 111, never a silent "not allowed", but only for a
/// recipient that reaches it (rcpthosts' own domains still pass).
#[test]
fn morercpthosts_and_an_unusable_cdb() {
    let d = setup();
    let control = d.path().join("var/qmail/control");
    std::fs::write(control.join("rcpthosts"), "example.org\n").unwrap();
    let mut w = qmail::cdb::Writer::new();
    w.add(b"more.example", b"").unwrap();
    std::fs::write(control.join("morercpthosts.cdb"), w.finish().unwrap()).unwrap();
    let (code, out) = run(
        d.path(),
        &message(b"\nhi\n", b"a@b", &[b"x@MORE.example", b"y@less.example"]),
        &[],
    );
    assert_eq!(code, 0);
    assert!(out.contains(":Kok "), "{out}");
    assert!(out.contains("allowed rcpthosts (#5.7.1),"), "{out}");
    std::fs::write(control.join("morercpthosts.cdb"), b"not a cdb").unwrap();
    let (code, out) = run(
        d.path(),
        &message(b"\nhi\n", b"a@b", &[b"x@example.org"]),
        &[],
    );
    assert_eq!(code, 0);
    assert!(out.contains(":Kok "), "{out}");
    let (code, out) = run(
        d.path(),
        &message(b"\nhi\n", b"a@b", &[b"x@example.org", b"y@more.example"]),
        &[],
    );
    assert_eq!((code, out.as_str()), (111, ""));
}
