//! A password table, home or configuration directory that belongs to
//! someone else (issue 6, "a password file owned by someone else").
//!
//! vmailmgr 0.97 checks no owner anywhere: every program runs as the
//! domain owner (checkvpw and vmailmgrd after their setuid, vdeliver under
//! qmail-local, the tools by hand) and what it may not open is refused like
//! a missing entry (`lib/vpwtable/cdb_getbyname.cc`, `cdb_put.cc`,
//! `authenticate/authvlib.cc`, `lib/config/read_str.cc`):
//! * checkvpw: `Invalid or unknown virtual user` (1); an unreachable home:
//!   `Bad user data in password file` (111);
//! * the writers: their usual failure, the table and its owner untouched;
//! * vdeliver: the original bounces (100, unknown user); we defer (111,
//!   known-differences `program:vdeliver`), so no mail is lost to a
//!   permissions slip;
//! * a readable table of another uid is used, and a change replaces it by
//!   the owner's own file (tmp + rename in the owner's directory);
//! * an unreadable `~/.vmailmgr` setting falls back to the global one.
//!
//! As root the other owner is the dedicated user `qmailrs-vm2`
//! (scripts/create-users) and the domain owner is `qmaild`. As an ordinary
//! user the files cannot be given away; mode 000 denies the owner the same
//! access, and the "readable but someone else's" case, which needs a real
//! chown, is said to be root-only on stderr.

mod vmailmgr_support;

use std::os::unix::fs::MetadataExt;
use std::path::Path;

use vmailmgr_support::{chmod, mode, Site};

/// The second owner as root; `None` (mode 000 instead) as a user.
fn other() -> Option<(u32, u32)> {
    if !nix::unistd::geteuid().is_root() {
        return None;
    }
    let u = nix::unistd::User::from_name("qmailrs-vm2")
        .unwrap()
        .expect("the qmailrs-vm2 user: run scripts/create-users as root");
    Some((u.uid.as_raw(), u.gid.as_raw()))
}

/// Make `p` someone else's with `perm` (root), or unusable by its owner.
fn give_away(p: &Path, perm: u32) {
    match other() {
        Some((uid, gid)) => {
            nix::unistd::chown(
                p,
                Some(nix::unistd::Uid::from_raw(uid)),
                Some(nix::unistd::Gid::from_raw(gid)),
            )
            .unwrap();
            chmod(p, perm);
        }
        None => chmod(p, 0),
    }
}

/// Hooks that show CHECKVPW_ERROR on stderr.
fn hooks(s: &Site) {
    s.hook(
        "checkvpw-loginfail",
        "#!/bin/sh\necho \"loginfail: $CHECKVPW_ERROR\" >&2\n",
    );
    s.hook(
        "checkvpw-error",
        "#!/bin/sh\necho \"error: $CHECKVPW_ERROR\" >&2\n",
    );
}

const ALICE: &[u8] = b"alice@example.com\0alicepw\0";

#[test]
fn unreadable_table_of_someone_else() {
    let s = Site::new();
    hooks(&s);
    s.ok("vadduser", &["--password", "$0$alicepw", "alice"]);
    let table = s.home.join("passwd.cdb");
    let before = std::fs::read(&table).unwrap();
    let owner_before = std::fs::metadata(&table).unwrap().uid();
    give_away(&table, 0o600);

    let r = s.login(ALICE, &["/bin/true", "x"]);
    assert_eq!(
        (r.both().as_str(), r.code),
        ("loginfail: Invalid or unknown virtual user\n", 1)
    );
    let r = s.deliver("alice");
    assert_eq!(
        (r.both().as_str(), r.code),
        (
            "vdeliver: Can't read the virtual password table: Permission denied (os error 13)\n",
            111
        )
    );
    assert!(s.files("users/alice/new").is_empty());
    assert!(s.files("users/alice/tmp").is_empty());

    let r = s.owner("vadduser", &["--password", "$0$bobpw", "bob"], b"");
    assert_eq!(
        (r.both().as_str(), r.code),
        (
            "vadduser: error adding the virtual user:\n  Can't add the user to the password file\n",
            1
        )
    );
    assert!(!s.home.join("users/bob").exists());
    let r = s.owner("vpasswd", &["alice"], b"newpw\n");
    assert_eq!(
        (r.both().as_str(), r.code),
        (
            "vpasswd: error changing the password for user 'alice':\n  Invalid or unknown virtual user\n",
            1
        )
    );
    let r = s.owner("vdeluser", &["alice"], b"");
    assert_eq!(
        (r.both().as_str(), r.code),
        (
            "vdeluser: error deleting user 'alice':\n  User does not exist\nvdeluser: 1 errors were encountered.\n",
            1
        )
    );
    // The header first, as recorded (transcript §12).
    let r = s.owner("listvdomain", &[], b"");
    assert_eq!(
        (r.out.as_str(), r.err.as_str(), r.code),
        (
            "User Mailbox Aliases\n",
            "listvdomain: Can't open password table\n",
            1
        )
    );
    assert!(s.home.join("users/alice/new").is_dir());
    assert!(!s.home.join("passwd.cdb.tmp").exists());

    // Nothing rewrote or took over the table.
    let m = std::fs::metadata(&table).unwrap();
    match other() {
        Some((uid, _)) => assert_eq!((m.uid(), mode(&table)), (uid, 0o600)),
        None => assert_eq!((m.uid(), mode(&table)), (owner_before, 0)),
    }
    chmod(&table, 0o600);
    assert_eq!(std::fs::read(&table).unwrap(), before);
}

#[test]
fn readable_table_of_someone_else_is_used() {
    let Some((uid, _)) = other() else {
        eprintln!(
            "readable_table_of_someone_else_is_used: needs root to give the table \
             away; as a user only the unreadable cases (mode 000) run"
        );
        return;
    };
    let s = Site::new();
    s.ok("vadduser", &["--password", "$0$alicepw", "alice"]);
    let table = s.home.join("passwd.cdb");
    give_away(&table, 0o644);
    assert_eq!(std::fs::metadata(&table).unwrap().uid(), uid);

    let r = s.login(ALICE, &["/bin/sh", "-c", "echo $VUSER; id -u", "x"]);
    assert_eq!((r.both(), r.code), (format!("alice\n{}\n", s.uid), 0));
    let r = s.deliver("alice");
    assert_eq!((r.both().as_str(), r.code), ("", 0));
    assert_eq!(s.files("users/alice/new").len(), 1);
    // A change replaces it with the owner's own file, as the original's
    // tmp + rename does.
    s.ok("vadduser", &["--password", "$0$bobpw", "bob"]);
    let m = std::fs::metadata(&table).unwrap();
    assert_eq!((m.uid(), mode(&table)), (s.uid, 0o600));
    let r = s.login(
        b"bob@example.com\0bobpw\0",
        &["/bin/sh", "-c", "echo $VUSER", "x"],
    );
    assert_eq!((r.both().as_str(), r.code), ("bob\n", 0));
}

#[test]
fn home_and_settings_of_someone_else() {
    let s = Site::new();
    hooks(&s);
    s.ok("vadduser", &["--password", "$0$alicepw", "alice"]);

    // An unreadable ~/.vmailmgr: the global setting (here the default).
    let own = s.home.join(".vmailmgr");
    std::fs::create_dir(&own).unwrap();
    std::fs::write(own.join("user-dir"), "mine/\n").unwrap();
    give_away(&own, 0o700);
    s.ok("vadduser", &["--password", "$0$carolpw", "carol"]);
    let dump = s.ok("dumpvuser", &["carol"]).out;
    assert!(dump.contains("Directory: ./users/carol\n"), "{dump}");
    assert!(!s.home.join("mine").exists());

    // A home the owner cannot enter.
    give_away(&s.home, 0o700);
    let r = s.login(ALICE, &["/bin/true", "x"]);
    assert_eq!(
        (r.both().as_str(), r.code),
        ("error: Bad user data in password file\n", 111)
    );
    let mut c = s.deliver_cmd("alice");
    c.current_dir("/");
    let r = vmailmgr_support::Out::of(&c.output().unwrap());
    assert_eq!(
        (r.both().as_str(), r.code),
        ("vdeliver: Can't change to home directory\n", 1)
    );
    let mut c = s.owner_cmd("vadduser", &["--password", "$0$bobpw", "bob"]);
    c.current_dir("/");
    let r = vmailmgr_support::run(c, b"");
    assert_eq!(
        (r.both().as_str(), r.code),
        ("vadduser: Can't change to home directory\n", 1)
    );
    // Give it back so the temporary directory can go.
    chmod(&s.home, 0o755);
    chmod(&own, 0o755);
    assert!(s.files("users/alice/new").is_empty());
}
