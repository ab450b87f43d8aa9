//! imap-login against the real Debian Dovecot daemon (`/usr/sbin/dovecot`,
//! started as tests/dovecot_pop3_oracle.rs starts it): both read one
//! dovecot.conf (the recordings' namespace with its special-use
//! mailboxes, a checkpassword passdb, Dovecot-only settings we ignore),
//! each serves its own copy of alice's Maildir, and the same client
//! sessions must get the same bytes: greeting, CAPABILITY, NOOP, ID,
//! failed and good LOGIN, AUTHENTICATE PLAIN, the bad-command limit, and
//! after the login SELECT, FETCH, STATUS and LOGOUT. Masked before the
//! comparison: the timing suffixes (`conformance::mask`); Dovecot's
//! post-login capability list is replaced by ours (known difference
//! `program:imap`). Each session selects INBOX once first (Dovecot's fresh
//! index would call all old mail `\Recent`: known difference
//! imap/05-select-examine). The FLAGS and PERMANENTFLAGS lines are left
//! out: Dovecot without its index lists only the keywords some message
//! has, with it (the recordings) every keyword of `dovecot-keywords`, as
//! we do.
//!
//! As root the mail user is `nobody` and Dovecot's auth process runs as
//! root; as an ordinary user everything is that user.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use qmail::conformance::mask::mask;
use qmail::imap::{CAPABILITY, DOVECOT_CAPABILITY};

mod dovecot_support;
use dovecot_support::{chown_tree, copy_tree, free_port, repo};

const DOVECOT: &str = "/usr/sbin/dovecot";
const LOGIN: &str = env!("CARGO_BIN_EXE_imap-login");

struct Site {
    _t: tempfile::TempDir,
    dovecot: Child,
    ours: Child,
    dport: u16,
    oport: u16,
}

impl Drop for Site {
    fn drop(&mut self) {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.dovecot.id() as i32),
            nix::sys::signal::Signal::SIGTERM,
        );
        let _ = self.dovecot.wait();
        let _ = self.ours.kill();
        let _ = self.ours.wait();
    }
}

impl Site {
    fn new() -> Site {
        assert!(
            Path::new(DOVECOT).exists(),
            "{DOVECOT} is missing (scripts/ci-deps)"
        );
        use nix::unistd::{Group, User};
        let root = nix::unistd::geteuid().is_root();
        let (uid, gid, internal, group, login) = if root {
            let n = User::from_name("nobody").unwrap().expect("nobody");
            let g = Group::from_name("dovecot")
                .unwrap()
                .expect("group dovecot (dovecot-core)");
            (
                n.uid.as_raw(),
                n.gid.as_raw(),
                "dovecot".to_string(),
                g.name,
                "dovenull".to_string(),
            )
        } else {
            let me = User::from_uid(nix::unistd::getuid())
                .unwrap()
                .expect("a passwd entry for the current uid");
            let g = Group::from_gid(nix::unistd::getgid())
                .unwrap()
                .expect("a group entry");
            (
                me.uid.as_raw(),
                me.gid.as_raw(),
                me.name.clone(),
                g.name,
                me.name,
            )
        };
        let t = tempfile::tempdir().unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(t.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let d = t.path();
        let (dport, oport) = (free_port(), free_port());
        for h in ["home-d", "home-o"] {
            let md = d.join(h).join("alice/Maildir");
            copy_tree(
                &repo().join("testdata/dovecot/alice/08-after-idle-errors-misc"),
                &md,
            );
            for s in ["cur", "new", "tmp"] {
                std::fs::create_dir_all(md.join(s)).unwrap();
            }
            chown_tree(&d.join(h), uid, gid);
        }
        let checkpw = d.join("checkpw");
        std::fs::write(
            &checkpw,
            format!(
                "#!/bin/bash\nIFS= read -r -d '' user <&3\nIFS= read -r -d '' pass <&3\n\
                 case \"$user:$pass\" in alice:alicepw) ;; *) exit 1 ;; esac\n\
                 if [ \"$TCPLOCALPORT\" = {dport} ]; then h=home-d; else h=home-o; fi\n\
                 export USER=\"$user\" HOME=\"{d}/$h/$user\" userdb_uid={uid} userdb_gid={gid} EXTRA='userdb_uid userdb_gid'\n\
                 exec \"$@\"\n",
                d = d.display()
            ),
        )
        .unwrap();
        std::fs::set_permissions(&checkpw, std::fs::Permissions::from_mode(0o755)).unwrap();
        let auth_user = if root { "root" } else { internal.as_str() };
        let mut special = String::new();
        for (n, u) in [
            ("Drafts", "Drafts"),
            ("Junk", "Junk"),
            ("Trash", "Trash"),
            ("Sent", "Sent"),
            ("\"Sent Messages\"", "Sent"),
        ] {
            special.push_str(&format!(
                "  mailbox {n} {{\n    special_use = \\{u}\n  }}\n"
            ));
        }
        let conf = format!(
            "base_dir = {d}/run\nstate_dir = {d}/state\nlog_path = {d}/dovecot.log\n\
             protocols = imap\nlisten = 127.0.0.1\nssl = no\nauth_failure_delay = 0\n\
             auth_mechanisms = plain login\n\
             default_internal_user = {internal}\ndefault_internal_group = {group}\ndefault_login_user = {login}\n\
             first_valid_uid = 1\nmail_location = maildir:~/Maildir\n\
             namespace inbox {{\n  inbox = yes\n{special}}}\n\
             service imap-login {{\n  chroot =\n  inet_listener imap {{\n    port = {dport}\n  }}\n}}\n\
             service anvil {{\n  chroot =\n}}\nservice auth {{\n  user = {auth_user}\n}}\n\
             passdb {{\n  driver = checkpassword\n  args = {}\n}}\nuserdb {{\n  driver = prefetch\n}}\n",
            checkpw.display(),
            d = d.display(),
        );
        let path = d.join("dovecot.conf");
        std::fs::write(&path, conf).unwrap();
        let dovecot = Command::new(DOVECOT)
            .arg("-F")
            .arg("-c")
            .arg(&path)
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start dovecot");
        let tcpserver = Path::new(LOGIN).parent().unwrap().join("tcpserver");
        let ours = Command::new(tcpserver)
            .args(["-R", "-H", "127.0.0.1", &oport.to_string(), LOGIN, "-c"])
            .arg(&path)
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let log = d.join("dovecot.log");
        let deadline = Instant::now() + Duration::from_secs(15);
        while TcpStream::connect(("127.0.0.1", dport)).is_err()
            || TcpStream::connect(("127.0.0.1", oport)).is_err()
        {
            assert!(
                Instant::now() < deadline,
                "servers did not start: {}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        Site {
            _t: t,
            dovecot,
            ours,
            dport,
            oport,
        }
    }
}

/// One connection: the greeting, then each command and the lines up to
/// its tagged reply (or the connection's end), masked.
fn session(port: u16, cmds: &[&str]) -> Vec<String> {
    let s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut r = BufReader::new(s.try_clone().unwrap());
    let mut w = s;
    let mut out = Vec::new();
    let mut read = |out: &mut Vec<String>| -> Option<String> {
        let mut l = Vec::new();
        if r.read_until(b'\n', &mut l).ok()? == 0 {
            return None;
        }
        let text = String::from_utf8_lossy(&mask(&l)).replace(DOVECOT_CAPABILITY, CAPABILITY);
        if !text.starts_with("* FLAGS (") && !text.starts_with("* OK [PERMANENTFLAGS (") {
            out.push(text.clone());
        }
        Some(text)
    };
    read(&mut out);
    for c in cmds {
        if w.write_all(format!("{c}\r\n").as_bytes()).is_err() {
            break;
        }
        let tag = format!("{} ", c.split(' ').next().unwrap_or(""));
        while let Some(l) = read(&mut out) {
            if l.starts_with(&tag) || l.starts_with("* BYE") {
                break;
            }
        }
    }
    out
}

#[test]
fn imap_login_and_dovecot_on_one_config() {
    let s = Site::new();
    let prime = ["p1 LOGIN alice alicepw", "p2 SELECT INBOX", "p3 LOGOUT"];
    session(s.dport, &prime);
    session(s.oport, &prime);
    let scripts: [&[&str]; 3] = [
        &[
            "a1 CAPABILITY",
            "a2 NOOP",
            "a3 ID (\"name\" \"oracle\")",
            "a4 LOGIN alice wrong",
            "a5 SELECT INBOX",
            "a6 LOGIN alice alicepw",
            "a7 CAPABILITY",
            "a8 SELECT INBOX",
            "a9 FETCH 1:* (UID FLAGS RFC822.SIZE)",
            "a10 STATUS Sent (MESSAGES UIDNEXT UNSEEN)",
            "a11 LOGOUT",
        ],
        &[
            "b1 AUTHENTICATE PLAIN AGFsaWNlAGFsaWNlcHc=",
            "b2 EXAMINE INBOX",
            "b3 LOGOUT",
        ],
        &["c1 FOO", "c2 LOGIN", "c3 BAR"],
    ];
    for script in scripts {
        let d = session(s.dport, script);
        let o = session(s.oport, script);
        assert_eq!(o, d, "the same session differs");
    }
}
