//! qmail-smtpd on bad or unusual input: each case gets the original's
//! reply (or a clear 4xx where the original would crash or hang), and
//! nothing half-received is queued.

mod smtpd_common;

use std::time::{Duration, Instant};

use smtpd_common::{Client, Host};

fn session(h: &Host, env: &[(&str, &str)]) -> (std::process::Child, Client) {
    let (child, sock) = h.spawn(env);
    let mut c = Client::Plain(sock);
    assert_eq!(c.reply(), "220 oracle.example ESMTP\r\n");
    (child, c)
}

fn cmd(c: &mut Client, line: &str) -> String {
    c.send(line.as_bytes());
    c.reply()
}

fn to_data(c: &mut Client) {
    assert_eq!(cmd(c, "MAIL FROM:<a@remote.example>\r\n"), "250 ok\r\n");
    assert_eq!(cmd(c, "RCPT TO:<testuser@example.org>\r\n"), "250 ok\r\n");
    assert_eq!(cmd(c, "DATA\r\n"), "354 go ahead\r\n");
}

#[test]
fn disconnect_mid_data_queues_nothing() {
    let h = Host::oracle();
    let (mut child, mut c) = session(&h, &[]);
    to_data(&mut c);
    c.send(b"Subject: half\r\n\r\nsome body\r\n");
    drop(c);
    assert_eq!(child.wait().unwrap().code(), Some(1));
    std::thread::sleep(Duration::from_millis(200));
    assert!(h.queued().is_empty());
}

#[test]
fn smuggling_paths_are_closed() {
    for tail in [
        &b"\n.\n"[..],
        b"\n.\r\n",
        b"\r\n.\n",
        b"\r\n.\rMAIL FROM:<x>\r\n\n",
    ] {
        let h = Host::oracle();
        let (mut child, mut c) = session(&h, &[]);
        to_data(&mut c);
        c.send(
            &[
                b"Subject: s\r\n\r\nbody".as_slice(),
                tail,
                b"MAIL FROM:<evil@x>\r\n.\r\n",
            ]
            .concat(),
        );
        assert_eq!(
            c.reply(),
            "451 See http://pobox.com/~djb/docs/smtplf.html.\r\n",
            "{tail:?}"
        );
        assert!(c.at_eof());
        assert_eq!(child.wait().unwrap().code(), Some(1));
        assert!(h.queued().is_empty());
    }
}

#[test]
fn long_lines_nul_bytes_and_split_commands() {
    let h = Host::oracle();
    let (mut child, mut c) = session(&h, &[]);
    // A 100 kB line: no length limit, one reply.
    let mut long = b"NOOP ".to_vec();
    long.extend(std::iter::repeat_n(b'x', 100_000));
    long.extend(b"\r\n");
    c.send(&long);
    assert_eq!(c.reply(), "250 ok\r\n");
    assert_eq!(cmd(&mut c, "NO\0OP\r\n"), "502 unimplemented (#5.5.1)\r\n");
    // A command split over several writes.
    for part in ["HE", "LO cl", "ient.example", "\r", "\n"] {
        c.send(part.as_bytes());
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(c.reply(), "250 oracle.example\r\n");
    to_data(&mut c);
    c.send(b"Subject: nul\r\n\r\na\0b\xff\r\n.\r\n");
    assert!(c.reply().starts_with("250 ok "));
    assert_eq!(cmd(&mut c, "DATA\r\n"), "503 MAIL first (#5.5.1)\r\n");
    assert_eq!(cmd(&mut c, "QUIT\r\n"), "221 oracle.example\r\n");
    assert_eq!(child.wait().unwrap().code(), Some(0));
    let q = h.queued();
    assert_eq!(q.len(), 1);
    assert!(q[0].1.ends_with(b"\na\0b\xff\n"));
}

#[test]
fn data_before_greeting_is_read_as_commands() {
    // The original does not check for early talkers: the bytes are read
    // as commands after the greeting.
    let h = Host::oracle();
    let (mut child, sock) = h.spawn(&[]);
    let mut c = Client::Plain(sock);
    c.send(b"NOOP\r\nQUIT\r\n");
    assert_eq!(c.reply(), "220 oracle.example ESMTP\r\n");
    assert_eq!(c.reply(), "250 ok\r\n");
    assert_eq!(c.reply(), "221 oracle.example\r\n");
    assert_eq!(child.wait().unwrap().code(), Some(0));
}

#[test]
fn timeout_replies_451() {
    let h = Host::oracle();
    std::fs::write(h.control().join("timeoutsmtpd"), "1\n").unwrap();
    let (mut child, mut c) = session(&h, &[]);
    let t = Instant::now();
    assert_eq!(c.reply(), "451 timeout (#4.4.2)\r\n");
    assert!(t.elapsed() < Duration::from_secs(5));
    assert_eq!(child.wait().unwrap().code(), Some(1));
}

#[test]
fn queue_failures_are_temporary_replies() {
    let h = Host::oracle();
    let (mut child, mut c) = session(&h, &[("QQ_EXIT", "53")]);
    to_data(&mut c);
    c.send(b"Subject: x\r\n\r\nbody\r\n.\r\n");
    assert_eq!(c.reply(), "451 qq write error or disk full (#4.3.0)\r\n");
    assert_eq!(cmd(&mut c, "QUIT\r\n"), "221 oracle.example\r\n");
    child.wait().unwrap();
    // A queue program that cannot be run.
    let (mut child, mut c) = session(&h, &[("QMAILQUEUE", "bin/nonexistent")]);
    assert_eq!(cmd(&mut c, "MAIL FROM:<a@b>\r\n"), "250 ok\r\n");
    assert_eq!(
        cmd(&mut c, "RCPT TO:<testuser@example.org>\r\n"),
        "250 ok\r\n"
    );
    assert_eq!(cmd(&mut c, "DATA\r\n"), "451 qqt failure (#4.3.0)\r\n");
    assert_eq!(cmd(&mut c, "QUIT\r\n"), "221 oracle.example\r\n");
    child.wait().unwrap();
}

#[test]
fn hop_limit_and_relayclient_suffix() {
    let h = Host::oracle();
    let (mut child, mut c) = session(&h, &[("RELAYCLIENT", "@relay"), ("TCPREMOTEIP", "::1")]);
    assert_eq!(cmd(&mut c, "HELO [::1]\r\n"), "250 oracle.example\r\n");
    assert_eq!(cmd(&mut c, "MAIL FROM:<a@b>\r\n"), "250 ok\r\n");
    assert_eq!(
        cmd(&mut c, "RCPT TO:<x@elsewhere.example>\r\n"),
        "250 ok\r\n"
    );
    assert_eq!(cmd(&mut c, "DATA\r\n"), "354 go ahead\r\n");
    c.send(b"Subject: fine\r\n\r\n.\r\n");
    assert!(c.reply().starts_with("250 ok "));
    assert_eq!(cmd(&mut c, "MAIL FROM:<a@b>\r\n"), "250 ok\r\n");
    assert_eq!(
        cmd(&mut c, "RCPT TO:<x@elsewhere.example>\r\n"),
        "250 ok\r\n"
    );
    assert_eq!(cmd(&mut c, "DATA\r\n"), "354 go ahead\r\n");
    let mut m = Vec::new();
    for _ in 0..100 {
        m.extend(b"Received: from x\r\n");
    }
    m.extend(b"\r\nbody\r\n.\r\n");
    c.send(&m);
    assert_eq!(
        c.reply(),
        "554 too many hops, this message is looping (#5.4.6)\r\n"
    );
    assert_eq!(cmd(&mut c, "QUIT\r\n"), "221 oracle.example\r\n");
    child.wait().unwrap();
    let q = h.queued();
    assert_eq!(q.len(), 1);
    assert_eq!(q[0].2, b"Fa@b\0Tx@elsewhere.example@relay\0\0");
    let msg = String::from_utf8_lossy(&q[0].1).into_owned();
    assert!(
        msg.starts_with(
            "Received: from unknown (HELO ?::1?) (::1)\n  by oracle.example with SMTP; "
        ),
        "{msg}"
    );
}

#[test]
fn unreadable_controls_give_421() {
    let h = Host::oracle();
    std::fs::remove_file(h.control().join("me")).unwrap();
    let (mut child, sock) = h.spawn(&[]);
    let mut c = Client::Plain(sock);
    assert_eq!(c.reply(), "421 unable to read controls (#4.3.0)\r\n");
    assert_eq!(child.wait().unwrap().code(), Some(1));
}

/// A session past the greeting, HELO and MAIL.
fn greeted_with_mail(h: &Host) -> (std::process::Child, Client) {
    let (child, sock) = h.spawn(&[]);
    let mut c = Client::Plain(sock);
    assert!(c.reply().starts_with("220 "));
    assert!(cmd(&mut c, "HELO x\r\n").starts_with("250 "));
    assert_eq!(cmd(&mut c, "MAIL FROM:<a@b.example>\r\n"), "250 ok\r\n");
    (child, c)
}

/// A morercpthosts.cdb that is not a cdb: netqmail only opens it at
/// start, so the greeting comes and rcpthosts' own domains are accepted;
/// the first RCPT whose lookup reaches the cdb gets the 421.
#[test]
fn a_damaged_morercpthosts_fails_only_the_lookups_that_reach_it() {
    let h = Host::oracle();
    std::fs::write(h.control().join("morercpthosts.cdb"), b"not a cdb").unwrap();
    let (mut child, mut c) = greeted_with_mail(&h);
    assert_eq!(
        cmd(&mut c, "RCPT TO:<testuser@example.org>\r\n"),
        "250 ok\r\n"
    );
    assert_eq!(
        cmd(&mut c, "RCPT TO:<u@elsewhere.example>\r\n"),
        "421 unable to read controls (#4.3.0)\r\n"
    );
    assert_eq!(child.wait().unwrap().code(), Some(1));
}

/// validrcptto.cdb is opened at connect and read at each RCPT through
/// that descriptor: a damaged one fails the lookups (421 at RCPT), not
/// the greeting; a big one (read piecemeal, not whole) answers as a small.
#[test]
fn validrcptto_is_read_at_each_lookup() {
    let h = Host::oracle();
    let path = h.control().join("validrcptto.cdb");
    let mut w = qmail::cdb::Writer::new();
    for i in 0..2000 {
        w.add(format!("user{i}@example.org").as_bytes(), b"")
            .unwrap();
    }
    w.add(b"testuser@example.org", b"").unwrap();
    let big = w.finish().unwrap();
    assert!(big.len() > 64 * 1024);
    std::fs::write(&path, big).unwrap();
    let (mut child, mut c) = greeted_with_mail(&h);
    for ok in ["testuser@example.org", "USER1999@example.org"] {
        assert_eq!(cmd(&mut c, &format!("RCPT TO:<{ok}>\r\n")), "250 ok\r\n");
    }
    assert_eq!(
        cmd(&mut c, "RCPT TO:<user2000@example.org>\r\n"),
        "553 sorry, this recipient is not in my validrcptto list (#5.7.1)\r\n"
    );
    assert_eq!(cmd(&mut c, "QUIT\r\n"), "221 oracle.example\r\n");
    child.wait().unwrap();

    std::fs::write(&path, b"not a cdb").unwrap();
    let (mut child, mut c) = greeted_with_mail(&h);
    assert_eq!(
        cmd(&mut c, "RCPT TO:<testuser@example.org>\r\n"),
        "421 unable to read controls (#4.3.0)\r\n"
    );
    assert_eq!(child.wait().unwrap().code(), Some(1));
}

#[test]
fn missing_or_hanging_checkpassword() {
    let h = Host::oracle();
    let auth = "AUTH PLAIN AHRlc3R1c2VyAHNlY3JldA==\r\n";
    // Missing program: as the original's failed exec, a refusal.
    let mut cmdl = std::process::Command::new(smtpd_common::BIN);
    cmdl.env("QMAILRS_ROOT", h.root())
        .env("QMAILQUEUE", h.qq())
        .env("QQ_SPOOL", h.spool())
        .env("SMTPAUTH", "")
        .env("FORCETLS", "0")
        .env("TCPLOCALHOST", "oracle.example")
        .args(["/nonexistent/checkpassword", "/bin/true"]);
    let (mut child, sock) = h.spawn_cmd(cmdl);
    let mut c = Client::Plain(sock);
    c.reply();
    assert_eq!(cmd(&mut c, auth), "535 authentication failed (#5.7.1)\r\n");
    assert_eq!(cmd(&mut c, "QUIT\r\n"), "221 oracle.example\r\n");
    child.wait().unwrap();
    // A program that never exits: a 4xx after timeoutsmtpd.
    std::fs::write(h.control().join("timeoutsmtpd"), "2\n").unwrap();
    let mut cmdl = std::process::Command::new(smtpd_common::BIN);
    cmdl.env("QMAILRS_ROOT", h.root())
        .env("SMTPAUTH", "")
        .env("FORCETLS", "0")
        .args(["/bin/sleep", "60"]);
    let (mut child, sock) = h.spawn_cmd(cmdl);
    let mut c = Client::Plain(sock);
    c.reply();
    assert_eq!(
        cmd(&mut c, auth),
        "454 oops, problem with child and I can't auth (#4.3.0)\r\n"
    );
    c.send(b"QUIT\r\n");
    child.wait().unwrap();
}

#[test]
fn old_command_line_form_with_hostname() {
    // `qmail-smtpd HOSTNAME checkpassword subprogram`: the host name is
    // not run, it names the CRAM-MD5 challenge's host.
    let h = Host::oracle();
    let mut cmdl = std::process::Command::new(smtpd_common::BIN);
    cmdl.env("QMAILRS_ROOT", h.root())
        .env("SMTPAUTH", "+cram")
        .env("FORCETLS", "0")
        .env("TCPLOCALHOST", "oracle.example")
        .arg("mail.hoster.example")
        .arg(h.checkpassword())
        .arg("/bin/true");
    let (mut child, sock) = h.spawn_cmd(cmdl);
    let mut c = Client::Plain(sock);
    c.reply();
    let r = cmd(&mut c, "AUTH CRAM-MD5\r\n");
    let chal =
        qmail::auth::base64::decode(r.trim_end().strip_prefix("334 ").unwrap().as_bytes()).unwrap();
    assert!(
        chal.ends_with(b"@mail.hoster.example>"),
        "{:?}",
        String::from_utf8_lossy(&chal)
    );
    let digest = qmail::auth::hmac::hex(&qmail::auth::hmac::hmac_md5(b"secret", &chal));
    let answer = qmail::auth::base64::encode(format!("testuser {digest}").as_bytes());
    assert_eq!(
        cmd(&mut c, &format!("{answer}\r\n")),
        "235 ok, go ahead (#2.0.0)\r\n"
    );
    assert_eq!(cmd(&mut c, "QUIT\r\n"), "221 oracle.example\r\n");
    child.wait().unwrap();
}
