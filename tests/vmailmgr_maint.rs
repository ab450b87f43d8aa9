//! vaddusers, vpasswds, vupgrade, vrehash and the 0.96.8 table layout,
//! against the recordings (transcript §8.1, §8.5, §8.7, §10). The
//! original's crashes (vaddusers aliases, vchforwards on a 0.96.8 alias)
//! and vrehash/vupgrade failures are the fixed behaviours here.

mod vmailmgr_support;

use std::path::{Path, PathBuf};
use std::process::Command;

use vmailmgr_support::bin;

fn run(home: &Path, prog: &str, args: &[&str], stdin: &[u8]) -> (String, String, i32) {
    let root = home.parent().unwrap().join("root");
    let mut c = Command::new(bin(prog));
    c.args(args)
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("HOME", home)
        .env("QMAILRS_ROOT", &root)
        .env("QMAILRS_SINGLE_USER", "1")
        .current_dir(home);
    let o = vmailmgr_support::run(c, stdin);
    (o.out, o.err, o.code)
}

fn home() -> (tempfile::TempDir, PathBuf) {
    let t = tempfile::tempdir().unwrap();
    let h = t.path().join("home");
    std::fs::create_dir_all(&h).unwrap();
    std::fs::create_dir_all(t.path().join("root/etc/vmailmgr")).unwrap();
    (t, h)
}

#[test]
fn vaddusers_and_vpasswds() {
    let (_t, h) = home();
    run(&h, "vadduser", &["-P", "bob"], b"");
    let r = run(&h, "vaddusers", &[], b"kim kimpw\nlee\nbob x\nmo mopw\n");
    assert_eq!(r.0, "added user 'kim'\nadded user 'mo'\n");
    assert_eq!(r.1, "vaddusers: invalid line, ignoring:\n  lee\nvaddusers: error: user 'bob' already exists, skipping.\nvaddusers: 2 errors were encountered.\n");
    assert_eq!(r.2, 1);
    // The intended alias behaviour (the original crashes here).
    let r = run(&h, "vaddusers", &[], b"pat patpw patty PATSY\n");
    assert_eq!(
        (r.0.as_str(), r.2),
        ("added user 'pat', alias 'patty', alias 'patsy'\n", 0),
        "{}",
        r.1
    );
    let r = run(&h, "listvdomain", &["patty", "patsy"], b"");
    assert_eq!(r.0, "User Mailbox Aliases\npatty No pat\npatsy No pat\n");
    let r = run(
        &h,
        "vpasswds",
        &[],
        b"bob newbobpw trailing words\n  kim   newkimpw\nonlyname\nnosuch pw\n\nMO newmopw\n",
    );
    assert_eq!(r.0, "vpasswds: password for user 'bob' successfully changed.\nvpasswds: password for user 'kim' successfully changed.\nvpasswds: password for user 'mo' successfully changed.\n");
    assert_eq!(r.1, "vpasswds: invalid line, ignoring:\n  onlyname\nvpasswds: error changing the password for user 'nosuch':\n  Invalid or unknown virtual user\nvpasswds: invalid line, ignoring:\n  \nvpasswds: 3 errors were encountered.\n");
}

#[test]
fn vupgrade_plain_table_and_in_place() {
    let (_t, h) = home();
    std::fs::create_dir(h.join(".vmailmgr")).unwrap();
    std::fs::write(h.join(".vmailmgr/user-dir-bits"), "4\n").unwrap();
    std::fs::write(h.join(".vmailmgr/user-dir-slices"), "1\n").unwrap();
    std::fs::write(
        h.join("passwd"),
        "old1:$0$pw1:./users/old1\nold2:*:&old1,x@y.example\nold3:$0$pw3:/abs/dir\n",
    )
    .unwrap();
    let r = run(&h, "vupgrade", &[], b"");
    assert_eq!((r.0.as_str(), r.1.as_str(), r.2), ("", "", 0));
    let r = run(&h, "listvdomain", &[], b"");
    assert_eq!(
        r.0,
        "User Mailbox Aliases\nold1 Yes\nold2 No old1 x@y.example\nold3 Yes\n"
    );
    let r = run(&h, "dumpvuser", &["old2"], b"");
    assert!(
        r.0.contains("Directory: users/e/old2\n") && r.0.contains("Creation-Time: 0\n"),
        "{}",
        r.0
    );
    assert!(h.join("users/e/old2").is_dir());
    // In place, over an existing table (the original fails here).
    let r = run(&h, "vupgrade", &[], b"");
    assert_eq!(r.2, 0, "{}", r.1);
}

#[test]
fn old_layout_is_read_and_upgraded() {
    let (_t, h) = home();
    let fixture =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/vmailmgr/passwd-0.96.8-layout.cdb");
    std::fs::copy(&fixture, h.join("passwd.cdb")).unwrap();
    let r = run(&h, "listvdomain", &[], b"");
    assert_eq!(
        r.0,
        "User Mailbox Aliases\nolduser Yes\noldalias No olduser x@y.example\n"
    );
    let r = run(&h, "dumpvuser", &["oldalias"], b"");
    assert!(r
        .0
        .starts_with("Name: oldalias\nEncrypted-Password: *\nDirectory: \nForward: olduser\n"));
    // vchforwards on an alias with an empty directory: no crash, no directory.
    let r = run(&h, "vchforwards", &["oldalias", "olduser"], b"");
    assert_eq!(
        (r.0.as_str(), r.2),
        ("vchforwards: User 'oldalias' successfully changed.\n", 0),
        "{}",
        r.1
    );
    let r = run(&h, "vupgrade", &[], b"");
    assert_eq!(r.2, 0, "{}", r.1);
    let r = run(&h, "dumpvuser", &["oldalias"], b"");
    assert!(r.0.contains("Directory: users/oldalias\n"), "{}", r.0);
}

#[test]
fn vrehash_moves_mailboxes() {
    let (_t, h) = home();
    run(&h, "vadduser", &["--password", "x", "u1"], b"");
    run(&h, "vaddalias", &["al", "u1"], b"");
    std::fs::write(h.join("users/u1/new/1.2.h"), "mail").unwrap();
    std::fs::create_dir(h.join(".vmailmgr")).unwrap();
    std::fs::write(h.join(".vmailmgr/user-dir-bits"), "4\n").unwrap();
    std::fs::write(h.join(".vmailmgr/user-dir-slices"), "1\n").unwrap();
    let r = run(&h, "vrehash", &[], b"");
    assert_eq!(
        r.0,
        "vrehash: locking directory: OK.\nvrehash: translating paths and making directories: OK.\nvrehash: removing old user directory: OK.\nvrehash: unlocking directory: OK.\n"
    );
    assert_eq!(r.2, 0);
    let r = run(&h, "dumpvuser", &["u1"], b"");
    let dir = r.0.lines().find(|l| l.starts_with("Directory: ")).unwrap()[11..].to_string();
    assert!(
        dir.starts_with("./users/") && dir.ends_with("/u1") && dir.len() == "./users/x/u1".len(),
        "{dir}"
    );
    assert_eq!(
        std::fs::read_to_string(h.join(&dir).join("new/1.2.h")).unwrap(),
        "mail"
    );
    use std::os::unix::fs::MetadataExt;
    assert_eq!(std::fs::metadata(&h).unwrap().mode() & 0o1000, 0);
    let r = run(&h, "vrehash", &[], b"");
    assert_eq!(
        (r.1.as_str(), r.2),
        (
            "vrehash: error: backup directory 'backup.users/' already exists.\n",
            1
        )
    );
}

#[test]
fn opt_in_validrcptto_rebuild_hook() {
    let (t, h) = home();
    let hook = t.path().join("root/etc/vmailmgr/validrcptto-rebuild");
    let mark = t.path().join("rebuilt");
    std::fs::write(
        &hook,
        format!("#!/bin/sh\necho run >> {}\n", mark.display()),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&hook, std::fs::Permissions::from_mode(0o755)).unwrap();
    run(&h, "vadduser", &["-P", "a"], b"");
    run(&h, "vaddalias", &["b", "a"], b"");
    run(&h, "vdeluser", &["b"], b"");
    assert_eq!(std::fs::read_to_string(&mark).unwrap(), "run\nrun\nrun\n");
}

#[test]
fn vconf2dir_and_vpopbull() {
    let (t, h) = home();
    let conf = t.path().join("vmailmgr.conf");
    std::fs::write(
        &conf,
        "# old\nuser-dir = vusers\n\nnoequals\npostmaster-aliases = postmaster, root\n",
    )
    .unwrap();
    let dir = t.path().join("conf.d");
    std::fs::create_dir(&dir).unwrap();
    let r = run(
        &h,
        "vconf2dir",
        &[conf.to_str().unwrap(), dir.to_str().unwrap()],
        b"",
    );
    assert_eq!(r.2, 0);
    assert_eq!(
        std::fs::read_to_string(dir.join("user-dir")).unwrap(),
        "vusers\n"
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("postmaster-aliases")).unwrap(),
        "postmaster\nroot\n"
    );
    let r = run(&h, "vconf2dir", &["x"], b"");
    assert_eq!(
        (r.0.as_str(), r.2),
        ("Usage: vconf2dir configuration-file configuration-dir\n", 1)
    );

    run(&h, "vadduser", &["--password", "x", "u"], b"");
    std::fs::create_dir(h.join("bulletins")).unwrap();
    std::fs::write(h.join("bulletins/news"), "Subject: news\n\nhi\n").unwrap();
    let mut c = Command::new(bin("vpopbull"));
    let o = c
        .args(["bulletins"])
        .env("HOME", &h)
        .env("MAILDIR", "./users/u")
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let new: Vec<_> = std::fs::read_dir(h.join("users/u/new"))
        .unwrap()
        .flatten()
        .collect();
    assert_eq!(new.len(), 1);
    assert_eq!(
        std::fs::read_to_string(new[0].path()).unwrap(),
        "Subject: news\n\nhi\n"
    );
    assert!(h.join("users/u/.timestamp").exists());
    // Nothing newer: nothing linked again.
    let o = Command::new(bin("vpopbull"))
        .arg("bulletins")
        .env("HOME", &h)
        .env("MAILDIR", "./users/u")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(std::fs::read_dir(h.join("users/u/new")).unwrap().count(), 1);
}

#[test]
fn vauthenticate_prints_the_account() {
    let (t, h) = home();
    let q = t.path().join("root/var/qmail/control");
    std::fs::create_dir_all(&q).unwrap();
    std::fs::write(q.join("virtualdomains"), "example.com:vmtest\n").unwrap();
    std::fs::write(q.join("locals"), "local.example\n").unwrap();
    let (uid, gid) = (nix::unistd::geteuid(), nix::unistd::getegid());
    std::fs::write(
        t.path().join("root/etc/passwd"),
        format!("vmtest:x:{uid}:{gid}::{}:/bin/sh\n", h.display()),
    )
    .unwrap();
    run(&h, "vadduser", &["--password", "$0$frankpw", "frank"], b"");
    let want = |v: &str| {
        format!(
            "UID={uid}\nGID={gid}\nUSER=vmtest\nHOME={}\nMAILDIR=./users/frank\nVUSER={v}\n",
            h.display()
        )
    };
    let r = run(&h, "vauthenticate", &[], b"example.com\0FRANK\0frankpw");
    assert_eq!((r.0, r.2), (want("FRANK"), 0));
    let r = run(
        &h,
        "vauthenticate",
        &[],
        b"local.example\0vmtest-frank\0frankpw",
    );
    assert_eq!((r.0, r.2), (want("frank"), 0));
    assert_eq!(
        run(
            &h,
            "vauthenticate",
            &[],
            b"example.com\0frank@example.com\0frankpw"
        )
        .2,
        1
    );
    assert_eq!(
        run(&h, "vauthenticate", &[], b"example.com\0frank\0wrong").2,
        1
    );
    assert_eq!(run(&h, "vauthenticate", &[], b"example.com\0frank").2, 2);
    assert_eq!(run(&h, "vauthenticate", &[], b"example.com").2, 2);
}
