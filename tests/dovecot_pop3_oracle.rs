//! The swap-in over the network: the real Debian Dovecot daemon
//! (`/usr/sbin/dovecot`, started as tests/vmailmgr_dovecot.rs starts it)
//! and our pop3-login under our tcpserver read the same dovecot.conf
//! (Dovecot-only settings included, which we ignore) with a checkpassword
//! passdb; the same client sessions get the same bytes from both, each
//! on its own copy of bob's Maildir; then one Maildir is served by one
//! and then the other, with new mail and deletions, in both orders.
//!
//! As root the mail user is `nobody` and Dovecot's auth process runs as
//! root (as checkpassword setups need); as an ordinary user everything,
//! Dovecot's internal and login users included, is that user.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

mod dovecot_support;
use dovecot_support::{chown_tree, copy_tree, free_port, repo};

const DOVECOT: &str = "/usr/sbin/dovecot";
const LOGIN: &str = env!("CARGO_BIN_EXE_pop3-login");

struct Site {
    t: tempfile::TempDir,
    uid: u32,
    gid: u32,
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
    /// Homes `home-d` (Dovecot's) and `home-o` (ours) with bob's Maildir.
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
        let d = t.path().to_path_buf();
        let d = d.as_path();
        let (dport, oport) = (free_port(), free_port());
        for h in ["home-d", "home-o"] {
            let md = d.join(h).join("bob/Maildir");
            copy_tree(&repo().join("testdata/dovecot/bob/00-initial"), &md);
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
                 case \"$user:$pass\" in bob:bobpw) ;; *) exit 1 ;; esac\n\
                 if [ \"$TCPLOCALPORT\" = {dport} ]; then h=home-d; else h=home-o; fi\n\
                 export USER=\"$user\" HOME=\"{d}/$h/$user\" userdb_uid={uid} userdb_gid={gid} EXTRA='userdb_uid userdb_gid'\n\
                 exec \"$@\"\n",
                d = d.display()
            ),
        )
        .unwrap();
        std::fs::set_permissions(&checkpw, std::fs::Permissions::from_mode(0o755)).unwrap();
        let auth_user = if root { "root" } else { internal.as_str() };
        let conf = format!(
            "base_dir = {d}/run\nstate_dir = {d}/state\nlog_path = {d}/dovecot.log\n\
             protocols = pop3\nlisten = 127.0.0.1\nssl = no\nauth_failure_delay = 0\n\
             default_internal_user = {internal}\ndefault_internal_group = {group}\ndefault_login_user = {login}\n\
             first_valid_uid = 1\nmail_location = maildir:~/Maildir\n\
             service pop3-login {{\n  chroot =\n  inet_listener pop3 {{\n    port = {dport}\n  }}\n}}\n\
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
        let site = Site {
            t,
            uid,
            gid,
            dovecot,
            ours,
            dport,
            oport,
        };
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
        site
    }

    fn maildir(&self, home: &str) -> PathBuf {
        self.t.path().join(home).join("bob/Maildir")
    }

    /// Serve home-o from home-d's Maildir (the swap-in).
    fn share(&self) {
        let o = self.t.path().join("home-o/bob");
        std::fs::remove_dir_all(&o).unwrap();
        std::os::unix::fs::symlink(self.t.path().join("home-d/bob"), &o).unwrap();
    }

    fn deliver(&self, name: &str, body: &str) {
        let md = self.maildir("home-d");
        let tmp = md.join("tmp").join(name);
        std::fs::write(&tmp, body).unwrap();
        chown_tree(&tmp, self.uid, self.gid);
        std::fs::rename(&tmp, md.join("new").join(name)).unwrap();
    }
}

/// One session: send each command, read its reply (multi-line ones up to
/// the `.` line), return the whole transcript of server bytes.
fn session(port: u16, cmds: &[&str]) -> String {
    let s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut r = BufReader::new(s.try_clone().unwrap());
    let mut w = s;
    let mut out = String::new();
    let mut line = String::new();
    r.read_line(&mut line).unwrap();
    out.push_str(&line);
    for c in cmds {
        w.write_all(format!("{c}\r\n").as_bytes()).unwrap();
        let upper = c.to_ascii_uppercase();
        let multi = upper == "LIST"
            || upper == "UIDL"
            || upper == "CAPA"
            || upper.starts_with("RETR")
            || upper.starts_with("TOP");
        line.clear();
        r.read_line(&mut line).unwrap();
        out.push_str(&line);
        if multi && line.starts_with("+OK") {
            loop {
                line.clear();
                if r.read_line(&mut line).unwrap() == 0 || line == ".\r\n" {
                    out.push_str(&line);
                    break;
                }
                out.push_str(&line);
            }
        }
    }
    out
}

fn view(port: u16) -> String {
    session(
        port,
        &["USER bob", "PASS bobpw", "STAT", "LIST", "UIDL", "QUIT"],
    )
}

#[test]
fn dovecot_and_ours_on_one_config() {
    let s = Site::new();
    let script = [
        "CAPA",
        "USER bob",
        "PASS wrong",
        "USER bob",
        "PASS bobpw",
        "CAPA",
        "STAT",
        "LIST",
        "UIDL",
        "TOP 2 1",
        "RETR 2",
        "RETR 3",
        "DELE 1",
        "LIST 1",
        "UIDL",
        "RSET",
        "NOOP",
        "XYZZY",
        "DELE 4",
        "QUIT",
    ];
    let d = session(s.dport, &script);
    let o = session(s.oport, &script);
    assert_eq!(o, d, "the same session differs");
    assert!(d.contains("+OK Logging out, messages deleted.\r\n"), "{d}");
    let names = |h: &str| {
        let mut v: Vec<String> = std::fs::read_dir(s.maildir(h).join("cur"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    };
    assert_eq!(names("home-o"), names("home-d"));

    // The swap-in: one Maildir, alternately served.
    s.share();
    for (a, b) in [(s.dport, s.oport), (s.oport, s.dport)] {
        assert_eq!(view(a), view(b));
        s.deliver(&format!("18000000{a}.M1P1.h"), "Subject: one\n\nnew mail\n");
        assert_eq!(view(a), view(b), "after new mail");
        session(b, &["USER bob", "PASS bobpw", "DELE 1", "RETR 2", "QUIT"]);
        assert_eq!(view(a), view(b), "after a deletion");
    }
    let last = view(s.dport);
    assert!(last.contains("0000000aLEGACYUIDL"), "{last}");
}
