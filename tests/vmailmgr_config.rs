//! vmailmgr's configuration (config.md): every setting's default as
//! showvconfig prints it (§6, byte for byte), the file types' parsing
//! (§2) and the search order ~/.vmailmgr → /etc/vmailmgr (§1).

mod vmailmgr_support;

use std::path::Path;
use std::process::Command;

use vmailmgr_support::{bin, Out};

const DEFAULTS: &str = "autoresponse-dir: autoresponse/\n\nautoresponse-file: message.txt\n\n\
bulletin-dir: bulletins/\n\ndefault-expiry: -1\n\ndefault-maildir: Maildir/\n\n\
default-msgcount: -1\n\ndefault-msgsize: -1\n\ndefault-hardquota: -1\n\n\
default-softquota: -1\n\ndefault-username: +\n\n\
error-maildir: /var/lib/vmailmgr/error-maildir/\n\n\
global-bulletin-dir: /var/spool/bulletins/\n\nmaildir-arg-str: maildir\n\n\
password-file: passwd\n\npostmaster-aliases: mailer-daemon\npostmaster-aliases: postmaster\n\
postmaster-aliases: root\n\npostmaster-email: postmaster@\n\nqmail-root: /var/qmail/\n\n\
separators: @:\n\nsocket-file: /tmp/.vmailmgrd\n\nuser-dir: users/\n\n\
user-dir-bits: 0\n\nuser-dir-slices: 0\n\n";

fn show(root: &Path, home: Option<&Path>) -> (String, String, i32) {
    let mut c = Command::new(bin("showvconfig"));
    c.env_clear().env("QMAILRS_ROOT", root);
    if let Some(h) = home {
        c.env("HOME", h);
    }
    let o = Out::of(&c.output().unwrap());
    (o.out, o.err, o.code)
}

#[test]
fn showvconfig_defaults_and_overrides() {
    let t = tempfile::tempdir().unwrap();
    let root = t.path().join("root");
    let global = root.join("etc/vmailmgr");
    let home = t.path().join("home");
    let local = home.join(".vmailmgr");
    std::fs::create_dir_all(&global).unwrap();
    std::fs::create_dir_all(&local).unwrap();
    assert_eq!(
        show(&root, Some(&home)),
        (DEFAULTS.to_string(), String::new(), 0)
    );
    // Without the global directory and ~/.vmailmgr: the same defaults.
    let bare = t.path().join("bare");
    std::fs::create_dir(&bare).unwrap();
    assert_eq!(show(&t.path().join("none"), Some(&bare)).0, DEFAULTS);

    for (dir, name, text) in [
        (&global, "user-dir", "  vusers \nignored second line\n"),
        (&local, "user-dir-bits", "garbage\n"),
        (&global, "user-dir-bits", " 6x\n"),
        (&global, "user-dir-slices", "4294967297\n"),
        (&local, "default-expiry", "-\n"),
        (&local, "default-hardquota", "1000"),
        (&global, "default-hardquota", "5\n"),
        (&local, "default-username", "\n\n"),
        (&global, "default-username", "catchall\n"),
        (&local, "postmaster-aliases", "# none\n\n"),
        (&global, "separators", "@\n"),
        (&local, "error-maildir", "/srv/err\n"),
        (&local, "qmail-root", "/opt/qmail"),
        (&local, "socket-file", "/run/vmailmgrd.sock\n"),
        (&local, "password-file", "vpasswd\n"),
    ] {
        std::fs::write(dir.join(name), text).unwrap();
    }
    let (out, _, code) = show(&root, Some(&home));
    assert_eq!(code, 0);
    let want = DEFAULTS
        .replace("user-dir: users/", "user-dir: vusers/")
        .replace("user-dir-bits: 0", "user-dir-bits: 6")
        .replace("user-dir-slices: 0", "user-dir-slices: 1")
        .replace("default-hardquota: -1", "default-hardquota: 1000")
        .replace("default-username: +", "default-username: catchall")
        .replace(
            "postmaster-aliases: mailer-daemon\npostmaster-aliases: postmaster\npostmaster-aliases: root\n",
            "postmaster-aliases is empty.\n",
        )
        .replace("separators: @:", "separators: @")
        .replace("error-maildir: /var/lib/vmailmgr/error-maildir/", "error-maildir: /srv/err/")
        .replace("qmail-root: /var/qmail/", "qmail-root: /opt/qmail/")
        .replace("socket-file: /tmp/.vmailmgrd", "socket-file: /run/vmailmgrd.sock")
        .replace("password-file: passwd", "password-file: vpasswd");
    assert_eq!(out, want);

    assert_eq!(
        show(&root, None),
        (
            String::new(),
            "showvconfig: Can't determine home directory\n".to_string(),
            1
        )
    );
    assert_eq!(
        show(&root, Some(&t.path().join("missing"))),
        (
            String::new(),
            "showvconfig: Can't change to home directory\n".to_string(),
            1
        )
    );
}

/// `password-file` is what every tool opens (`<value>.cdb`).
#[test]
fn password_file_setting_is_used() {
    let t = tempfile::tempdir().unwrap();
    let root = t.path().join("root");
    std::fs::create_dir_all(root.join("etc/vmailmgr")).unwrap();
    std::fs::write(root.join("etc/vmailmgr/password-file"), "vpw\n").unwrap();
    std::fs::write(root.join("etc/vmailmgr/user-dir"), "boxes\n").unwrap();
    let home = t.path().join("home");
    std::fs::create_dir(&home).unwrap();
    let o = Command::new(bin("vadduser"))
        .args(["--password", "x", "u"])
        .env_clear()
        .env("HOME", &home)
        .env("QMAILRS_ROOT", &root)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(home.join("vpw.cdb").exists());
    assert!(!home.join("passwd.cdb").exists());
    assert!(home.join("boxes/u/new").is_dir());
}
