//! qmail-inject rewriting, from the examples of `inject.md`.

use super::*;

fn config(dd: &str, dh: &str, pd: &str) -> Config {
    Config {
        defaultdomain: token::parse(format!(".{dd}").as_bytes()).unwrap(),
        defaulthost: token::parse(format!("@{dh}").as_bytes()).unwrap(),
        plusdomain: token::parse(format!(".{pd}").as_bytes()).unwrap(),
        idhost: b"oracle.example".to_vec(),
    }
}

fn rw(c: &Config, a: &str) -> String {
    let mut t = token::parse(a.as_bytes()).unwrap();
    t.reverse();
    c.rewrite(&mut t);
    t.reverse();
    String::from_utf8(token::unquote(&t)).unwrap()
}

#[test]
fn address_rewriting_examples() {
    let c = config("berkeley.edu", "silverton.berkeley.edu", "berkeley.edu");
    assert_eq!(rw(&c, "djb@silverton"), "djb@silverton.berkeley.edu");
    assert_eq!(rw(&c, "eric@mammoth.cs+"), "eric@mammoth.cs.berkeley.edu");
    assert_eq!(rw(&c, "joe"), "joe@silverton.berkeley.edu");
    assert_eq!(rw(&c, "joe@x.y."), "joe@x.y");
    assert_eq!(rw(&c, "joe@"), "joe@silverton.berkeley.edu");
    assert_eq!(rw(&c, "@a,@b:joe@x.y"), "joe@x.y");
    assert_eq!(rw(&c, "@a"), "");
    assert_eq!(rw(&c, "joe@[1.2.3.4]"), "joe@[1.2.3.4]");
    assert_eq!(rw(&c, "joe-@[]"), "joe-@[]");
    let c = config("example.com", "host", "example.com");
    assert_eq!(rw(&c, "joe"), "joe@host.example.com");
}

fn session_run(c: &Config, s: &Settings, args: &[&str], input: &[u8]) -> (Vec<u8>, Envelope) {
    let mut sess = Session::new(c, s, 1_795_607_196, 6598);
    let args: Vec<Vec<u8>> = args.iter().map(|a| a.as_bytes().to_vec()).collect();
    sess.set_recipients(Strategy::Default, &args).unwrap();
    let mut input = input;
    let mut out = sess.header(&mut input).unwrap();
    copy_body(&mut input, &mut out).unwrap();
    (out, sess.envelope())
}

fn oracle() -> (Config, Settings) {
    let c = config("oracle.example", "oracle.example", "oracle.example");
    let s = Settings {
        mailuser: b"anonymous".to_vec(),
        mailruser: b"anonymous".to_vec(),
        ..Settings::default()
    };
    (c, s)
}

#[test]
fn recorded_qmail_inject_message() {
    let (c, s) = oracle();
    let mut sess = Session::new(&c, &s, 1_795_607_196, 6598);
    sess.set_sender(b"sender").unwrap();
    sess.set_recipients(Strategy::Default, &[]).unwrap();
    let mut input: &[u8] =
        b"To: testuser@example.org\nSubject: via qmail-inject\n\ninjected body\n";
    let mut out = sess.header(&mut input).unwrap();
    copy_body(&mut input, &mut out).unwrap();
    let eml = include_bytes!("../../testdata/queue/maildir-delivered-qmail-inject.eml");
    // Drop Return-Path, Delivered-To (qmail-local) and Received (qmail-queue).
    let pos = eml.windows(6).position(|w| w == b"Date: ").unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out),
        String::from_utf8_lossy(&eml[pos..])
    );
    let env = sess.envelope();
    assert_eq!(env.sender, b"sender@oracle.example");
    assert_eq!(env.recipients, vec![b"testuser@example.org".to_vec()]);
}

#[test]
fn header_and_body_split() {
    let (c, s) = oracle();
    let (out, env) = session_run(&c, &s, &["a"], b"Subject: x\nnot a header line\nmore\nlast");
    let text = String::from_utf8(out).unwrap();
    assert!(
        text.ends_with("Subject: x\n\nnot a header line\nmore\nlast\n"),
        "{text}"
    );
    assert!(text.contains("Cc: recipient list not shown: ;\n"));
    assert_eq!(env.recipients, vec![b"a@oracle.example".to_vec()]);
    let (out, _) = session_run(
        &c,
        &s,
        &["a"],
        b"From someone Tue\nX: y\n continued\n\nbody\n",
    );
    let text = String::from_utf8(out).unwrap();
    assert!(
        text.contains("MBOX-Line: From someone Tue\nX: y\n continued\n\nbody\n"),
        "{text}"
    );
    // Input ending inside the header: no separator, no body.
    let (out, _) = session_run(&c, &s, &["a"], b"Subject: only");
    assert!(out.ends_with(b"Subject: only\n"));
}

#[test]
fn header_recipients_rewritten_and_bcc_dropped() {
    let (c, s) = oracle();
    let input = b"To: djb fred, \"A B\" <ab@x.example>\nBcc: hidden\nCc: list: m1, m2;\nContent-Length: 5\nReturn-Path: <rp@x.example>\n\nb\n";
    let (out, env) = session_run(&c, &s, &[], input);
    let text = String::from_utf8(out).unwrap();
    assert!(
        text.contains("To: djb@oracle.example, fred@oracle.example, \"A B\" <ab@x.example>\n"),
        "{text}"
    );
    assert!(
        text.contains("Cc: list: m1@oracle.example, m2@oracle.example;\n"),
        "{text}"
    );
    assert!(
        !text.contains("Bcc") && !text.contains("Content-Length") && !text.contains("Return-Path")
    );
    assert_eq!(env.sender, b"rp@x.example");
    let r: Vec<String> = env
        .recipients
        .iter()
        .map(|r| String::from_utf8_lossy(r).into())
        .collect();
    assert_eq!(
        r,
        [
            "ab@x.example",
            "fred@oracle.example",
            "djb@oracle.example",
            "hidden@oracle.example",
            "m2@oracle.example",
            "m1@oracle.example"
        ]
    );
}

#[test]
fn default_from_forms_and_flags() {
    let (c, mut s) = oracle();
    s.fullname = Some(b"Joe Q".to_vec());
    s.mailuser = b"joe".to_vec();
    let (out, _) = session_run(&c, &s, &["a"], b"\n");
    assert!(String::from_utf8_lossy(&out).contains("From: \"Joe Q\" <joe@oracle.example>\n"));
    s.name_comment = true;
    s.mailhost = Some(b"h.example".to_vec());
    let (out, _) = session_run(&c, &s, &["a"], b"\n");
    assert!(String::from_utf8_lossy(&out).contains("From: joe@h.example (Joe Q)\n"));
    let (c2, mut s2) = oracle();
    s2.hack_recip = true;
    s2.hack_mess = true;
    let mut sess = Session::new(&c2, &s2, 100, 7);
    sess.set_recipients(Strategy::Args, &[b"x".to_vec()])
        .unwrap();
    sess.header(&mut &b"\n"[..]).unwrap();
    assert_eq!(
        sess.envelope().sender,
        b"anonymous-100.7-@oracle.example-@[]"
    );
}

#[test]
fn resent_messages_get_resent_fields() {
    let (c, s) = oracle();
    let (out, env) = session_run(&c, &s, &[], b"Resent-To: r@x.example\nTo: t@x.example\n\n");
    let text = String::from_utf8(out).unwrap();
    assert!(text.starts_with("Resent-Date: 25 Nov 2026 11:46:36 -0000\nResent-Message-ID: <20261125114636.6598.qmail@oracle.example>\nResent-From: anonymous@oracle.example\nResent-To"), "{text}");
    assert_eq!(env.recipients, vec![b"r@x.example".to_vec()]);
}

#[test]
fn unparseable_field_is_fatal() {
    let (c, s) = oracle();
    let mut sess = Session::new(&c, &s, 0, 1);
    sess.set_recipients(Strategy::Default, &[]).unwrap();
    let e = sess.header(&mut &b"To: )a\n\n"[..]).unwrap_err();
    assert_eq!(e.exit_code(), 100);
    assert_eq!(e.message(), b"unable to parse this line:\nTo: )a\n");
    let e = sess.set_recipients(Strategy::Args, &[b"(x".to_vec()]);
    assert!(e.is_ok(), "quote2 quotes the parenthesis");
}

#[test]
fn mail_followup_to() {
    let (c, mut s) = oracle();
    s.mft = Some(vec![b"List@x.example".to_vec()]);
    let (out, _) = session_run(&c, &s, &[], b"To: a@x.example, list@x.example\n\n");
    assert!(String::from_utf8_lossy(&out)
        .contains("Mail-Followup-To: a@x.example,\n  list@x.example\n"));
}
