//! The `.qmail` helper programs and mailbox tools.

mod local_support;

use local_support::{root_with_qq, run};
use std::fs;

#[test]
fn forward_requeues_with_dtline() {
    let d = root_with_qq();
    let env = [("NEWSENDER", "owner@x"), ("DTLINE", "Delivered-To: a@b\n")];
    let o = run(
        env!("CARGO_BIN_EXE_forward"),
        &["c@d", "e@f"],
        d.path(),
        &env,
        b"Subject: x\n\nbody\n",
    );
    assert_eq!(o.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&o.stderr).starts_with("forward: qp "));
    assert_eq!(
        fs::read(d.path().join("qq.env")).unwrap(),
        b"Fowner@x\0Tc@d\0Te@f\0\0"
    );
    assert_eq!(
        fs::read(d.path().join("qq.msg")).unwrap(),
        b"Delivered-To: a@b\nSubject: x\n\nbody\n"
    );
    let o = run(
        env!("CARGO_BIN_EXE_forward"),
        &["c@d"],
        d.path(),
        &[("DTLINE", "x")],
        b"",
    );
    assert_eq!(
        (o.status.code(), o.stderr.as_slice()),
        (Some(100), &b"forward: fatal: NEWSENDER not set\n"[..])
    );
}

#[test]
fn condredirect_bouncesaying_except() {
    let d = root_with_qq();
    let env = [("SENDER", "s@x"), ("DTLINE", "Delivered-To: a@b\n")];
    let o = run(
        env!("CARGO_BIN_EXE_condredirect"),
        &["new@x", "true"],
        d.path(),
        &env,
        b"m\n",
    );
    assert_eq!(o.status.code(), Some(99));
    assert_eq!(
        fs::read(d.path().join("qq.env")).unwrap(),
        b"Fs@x\0Tnew@x\0\0"
    );
    assert_eq!(
        fs::read(d.path().join("qq.msg")).unwrap(),
        b"Delivered-To: a@b\nm\n"
    );
    let o = run(
        env!("CARGO_BIN_EXE_condredirect"),
        &["new@x", "false"],
        d.path(),
        &env,
        b"m\n",
    );
    assert_eq!(o.status.code(), Some(0));
    let o = run(
        env!("CARGO_BIN_EXE_condredirect"),
        &["new@x", "sh", "-c", "exit 111"],
        d.path(),
        &env,
        b"m\n",
    );
    assert_eq!(
        (o.status.code(), o.stderr.as_slice()),
        (
            Some(111),
            &b"condredirect: fatal: temporary child error\n"[..]
        )
    );

    let o = run(
        env!("CARGO_BIN_EXE_bouncesaying"),
        &["Go away."],
        d.path(),
        &[],
        b"",
    );
    assert_eq!(
        (o.status.code(), o.stderr.as_slice()),
        (Some(100), &b"Go away.\n"[..])
    );
    let o = run(
        env!("CARGO_BIN_EXE_bouncesaying"),
        &["Go away.", "false"],
        d.path(),
        &[],
        b"",
    );
    assert_eq!(o.status.code(), Some(0));
    let o = run(
        env!("CARGO_BIN_EXE_bouncesaying"),
        &["Go away.", "true"],
        d.path(),
        &[],
        b"",
    );
    assert_eq!(o.status.code(), Some(100));

    for (cmd, code) in [
        ("exit 0", 100),
        ("exit 111", 111),
        ("exit 3", 0),
        ("exit 100", 0),
    ] {
        let o = run(
            env!("CARGO_BIN_EXE_except"),
            &["sh", "-c", cmd],
            d.path(),
            &[],
            b"",
        );
        assert_eq!(o.status.code(), Some(code), "{cmd}");
    }
}

#[test]
fn preline_prepends() {
    let d = tempfile::tempdir().unwrap();
    let env = [
        ("UFLINE", "From s Thu Jan 01 00:00:00 1970\n"),
        ("RPLINE", "Return-Path: <s>\n"),
        ("DTLINE", "Delivered-To: a@b\n"),
    ];
    let o = run(
        env!("CARGO_BIN_EXE_preline"),
        &["cat"],
        d.path(),
        &env,
        b"body\n",
    );
    assert_eq!(
        o.stdout,
        b"From s Thu Jan 01 00:00:00 1970\nReturn-Path: <s>\nDelivered-To: a@b\nbody\n"
    );
    let o = run(
        env!("CARGO_BIN_EXE_preline"),
        &["-fr", "cat"],
        d.path(),
        &env,
        b"body\n",
    );
    assert_eq!(o.stdout, b"Delivered-To: a@b\nbody\n");
    let o = run(
        env!("CARGO_BIN_EXE_preline"),
        &["sh", "-c", "cat >/dev/null; exit 7"],
        d.path(),
        &env,
        b"",
    );
    assert_eq!(o.status.code(), Some(7));
}

#[test]
fn maildirmake_and_newmrh() {
    let d = tempfile::tempdir().unwrap();
    let md = d.path().join("M");
    let o = run(
        env!("CARGO_BIN_EXE_maildirmake"),
        &[md.to_str().unwrap()],
        d.path(),
        &[],
        b"",
    );
    assert!(o.status.success());
    for s in ["tmp", "new", "cur"] {
        assert!(md.join(s).is_dir());
    }
    let o = run(
        env!("CARGO_BIN_EXE_maildirmake"),
        &[md.to_str().unwrap()],
        d.path(),
        &[],
        b"",
    );
    assert_eq!(o.status.code(), Some(111));
    assert!(String::from_utf8_lossy(&o.stderr).ends_with(": file already exists\n"));

    let ctl = d.path().join("var/qmail/control");
    fs::create_dir_all(&ctl).unwrap();
    fs::write(
        ctl.join("morercpthosts"),
        "Example.COM  \n# c\n\nother.example\n",
    )
    .unwrap();
    let o = run(env!("CARGO_BIN_EXE_qmail-newmrh"), &[], d.path(), &[], b"");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let db = qmail::cdb::Reader::new(fs::read(ctl.join("morercpthosts.cdb")).unwrap()).unwrap();
    assert_eq!(db.get(b"example.com").unwrap(), Some(&b""[..]));
    assert!(db.get(b"other.example").unwrap().is_some());
    assert!(db.get(b"# c").unwrap().is_none());
}
