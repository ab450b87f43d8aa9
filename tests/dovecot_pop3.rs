//! Our `pop3` (Dovecot's post-login POP3 process) beside the real one,
//! `/usr/lib/dovecot/pop3` of Debian's dovecot-pop3d (scripts/ci-deps),
//! both run preauthenticated on stdin/stdout with USER/HOME, on copies of
//! the same Maildir snapshot (testdata/dovecot, recorded by a real
//! Dovecot): the same command script must give the same bytes, and the
//! Maildirs must end up with the same files and the same dovecot-uidlist
//! (mailbox GUIDs of new uidlists aside).
//!
//! Then the swap-in: one Maildir served alternately by Dovecot and by us,
//! with new mail and deletions in between, keeps its UIDLs, numbering and
//! sizes in both directions (each side accepts the other's uidlist
//! without renumbering).
//!
//! As root, Dovecot's pop3 refuses to serve mail as root: both run as
//! `nobody` with the Maildir chowned to it. As an ordinary user both run
//! as that user.

use std::io::{Read, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

mod dovecot_support;
use dovecot_support::{chown_tree, copy_tree};

const DOVECOT_POP3: &str = "/usr/lib/dovecot/pop3";
const OURS: &str = env!("CARGO_BIN_EXE_pop3");

fn testdata(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("testdata/dovecot")
        .join(rel)
}

/// The uid/gid both servers run as.
fn runner() -> Option<(u32, u32)> {
    if !nix::unistd::geteuid().is_root() {
        return None;
    }
    let u = nix::unistd::User::from_name("nobody")
        .unwrap()
        .expect("user nobody");
    Some((u.uid.as_raw(), u.gid.as_raw()))
}

/// Hand a tree to the user the programs run as (as root: nobody).
fn give_to_runner(p: &Path) {
    if let Some((uid, gid)) = runner() {
        chown_tree(p, uid, gid);
    }
}

/// A home with `Maildir` = a copy of a snapshot, and Dovecot's config.
struct Home {
    _t: tempfile::TempDir,
    dir: PathBuf,
}

impl Home {
    fn new(snapshot: &str) -> Home {
        assert!(
            Path::new(DOVECOT_POP3).exists(),
            "{DOVECOT_POP3} is missing: install dovecot-pop3d (scripts/ci-deps)"
        );
        let t = tempfile::tempdir().unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(t.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let dir = t.path().join("home");
        let md = dir.join("Maildir");
        copy_tree(&testdata(snapshot), &md);
        for s in ["cur", "new", "tmp"] {
            std::fs::create_dir_all(md.join(s)).unwrap();
        }
        let first = if runner().is_some() {
            1
        } else {
            nix::unistd::getuid().as_raw().min(500)
        };
        std::fs::write(
            t.path().join("dovecot.conf"),
            format!(
                "base_dir = {d}/run\nstate_dir = {d}/state\nmail_location = maildir:~/Maildir\n\
                 first_valid_uid = {first}\nfirst_valid_gid = 0\nssl = no\n",
                d = t.path().display()
            ),
        )
        .unwrap();
        give_to_runner(t.path());
        Home { _t: t, dir }
    }

    fn maildir(&self) -> PathBuf {
        self.dir.join("Maildir")
    }

    /// Run one session of `prog` with `script` as the client's input.
    fn session(&self, dovecot: bool, script: &str) -> String {
        let mut c = if dovecot {
            let mut c = Command::new(DOVECOT_POP3);
            c.arg("-c")
                .arg(self.dir.parent().unwrap().join("dovecot.conf"));
            c
        } else {
            Command::new(OURS)
        };
        c.env_clear()
            .env("USER", "u")
            .env("HOME", &self.dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some((uid, gid)) = runner() {
            c.uid(uid).gid(gid);
        }
        let mut child = c.spawn().unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(script.replace('\n', "\r\n").as_bytes())
            .unwrap();
        let mut out = String::new();
        child
            .stdout
            .take()
            .unwrap()
            .read_to_string(&mut out)
            .unwrap();
        let o = child.wait_with_output().unwrap();
        assert!(
            o.status.success(),
            "{}: {}",
            if dovecot { "dovecot" } else { "ours" },
            String::from_utf8_lossy(&o.stderr)
        );
        out
    }

    /// Every file of INBOX except Dovecot's binary indexes, with the
    /// uidlist's contents (GUID masked).
    fn state(&self) -> Vec<String> {
        let md = self.maildir();
        let mut v = Vec::new();
        for sub in ["cur", "new", "tmp"] {
            for e in std::fs::read_dir(md.join(sub)).unwrap() {
                v.push(format!(
                    "{sub}/{}",
                    e.unwrap().file_name().to_string_lossy()
                ));
            }
        }
        v.sort();
        // Records of expunged messages (no file) are left out: Dovecot keeps
        // or drops them depending on its index (conformance/known-differences).
        let bases: Vec<String> = v
            .iter()
            .map(|n| n[4..].split(':').next().unwrap_or("").to_string())
            .collect();
        if let Ok(text) = std::fs::read_to_string(md.join("dovecot-uidlist")) {
            for (i, l) in text.lines().enumerate() {
                let base = l.rsplit_once(" :").map(|x| x.1);
                if i == 0 || base.is_some_and(|b| bases.iter().any(|x| x == b)) {
                    v.push(mask_guid(l));
                }
            }
        }
        v
    }
}

fn mask_guid(line: &str) -> String {
    line.split(' ')
        .map(|w| {
            if w.starts_with('G') && w.len() == 33 {
                "G<guid>"
            } else {
                w
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Run `script` on two copies of `snapshot`; outputs and states must match.
fn same(snapshot: &str, script: &str) -> String {
    let (d, o) = (Home::new(snapshot), Home::new(snapshot));
    let dout = d.session(true, script);
    let oout = o.session(false, script);
    assert_eq!(oout, dout, "replies differ for {snapshot}");
    assert_eq!(o.state(), d.state(), "Maildir differs after {snapshot}");
    oout
}

const TRANSACTION: &str = "STAT\nLIST\nLIST 2\nUIDL\nUIDL 3\nTOP 1 0\nTOP 2 2\nRETR 2\nRETR 4\nNOOP\nLAST\n\
RETR 9\nRETR 0\nRETR x\nRETR 1 2\nRETR\nTOP 1\nTOP 1 x\nTOP 1 5x\nTOP 1 99999999999999999999999\n\
LIST 99\nUIDL 99999999999\nLIST 1 \nDELE 1\nDELE 1\nSTAT\nLIST\nUIDL\nRETR 1\nRSET\nSTAT\nUSER bob\nSTLS\nCAPA\nfoo bar\nQUIT\n";

#[test]
fn transaction_replies_and_uidlist_match_dovecot() {
    let out = same("bob/00-initial", TRANSACTION);
    assert!(out.contains("3 0000000aLEGACYUIDL\r\n"), "{out}");
    assert!(out.starts_with("+OK 4 5322\r\n"), "{out}");
}

#[test]
fn quit_expunges_and_sets_seen_like_dovecot() {
    same("bob/00-initial", "RETR 2\nRETR 4\nDELE 2\nQUIT\n");
    same("bob/01-after-transaction", "DELE 2\nQUIT\n");
    same("bob/00-initial", "RETR 2\nRETR 3\nDELE 1\n");
    same(
        "bob/02-final",
        "RETR 1\nRETR 2\nDELE 3\nRSET\nRETR 3\nQUIT\n",
    );
    same(
        "alice/08-after-idle-errors-misc",
        "STAT\nLIST\nUIDL\nRETR 1\nQUIT\n",
    );
}

#[test]
fn fresh_maildir_gets_the_same_uids() {
    let (d, o) = (Home::new("alice/00-initial"), Home::new("alice/00-initial"));
    let script = "LIST\nUIDL\nRETR 3\nTOP 2 3\nDELE 1\nQUIT\n";
    let (dout, oout) = (d.session(true, script), o.session(false, script));
    // UIDVALIDITY comes from the clock: compare the UID halves only.
    let uids = |s: &str| {
        s.lines()
            .map(|l| {
                l.split(' ')
                    .map(|w| if w.len() == 16 { &w[..8] } else { w })
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(uids(&oout), uids(&dout));
    let strip_v = |v: Vec<String>| {
        v.into_iter()
            .map(|l| {
                l.split(' ')
                    .map(|w| if w.starts_with('V') { "V" } else { w })
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(strip_v(o.state()), strip_v(d.state()));
}

/// The UIDL list of a session, and STAT.
fn view(h: &Home, dovecot: bool) -> String {
    h.session(dovecot, "STAT\nLIST\nUIDL\nQUIT\n")
}

fn deliver(h: &Home, name: &str, body: &str) {
    let md = h.maildir();
    let tmp = md.join("tmp").join(name);
    std::fs::write(&tmp, body).unwrap();
    give_to_runner(&tmp);
    std::fs::rename(&tmp, md.join("new").join(name)).unwrap();
}

#[test]
fn swap_in_both_directions_keeps_uidls() {
    for first_dovecot in [true, false] {
        let h = Home::new("bob/00-initial");
        let a = view(&h, first_dovecot);
        let b = view(&h, !first_dovecot);
        assert_eq!(a, b, "after a switch (first dovecot: {first_dovecot})");
        deliver(&h, "1800000000.M1P1.h", "Subject: one\n\nnew mail\n");
        deliver(&h, "1800000001.2.h", "Subject: two\r\n\r\nmore\r\n");
        let c = view(&h, first_dovecot);
        assert_eq!(c, view(&h, !first_dovecot), "after new mail");
        assert!(
            c.contains("5 000000086553f0ff\r\n6 000000096553f0ff\r\n"),
            "{c}"
        );
        h.session(!first_dovecot, "DELE 1\nDELE 5\nRETR 2\nQUIT\n");
        let d = view(&h, first_dovecot);
        assert_eq!(d, view(&h, !first_dovecot), "after deletions");
        assert!(d.starts_with("+OK 4 "), "{d}");
        h.session(first_dovecot, "DELE 4\nQUIT\n");
        assert_eq!(
            view(&h, !first_dovecot),
            view(&h, first_dovecot),
            "after deletion by the other"
        );
    }
}
