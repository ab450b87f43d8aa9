//! The hoster variant's switches (README.md "0.96.8 and the hoster
//! variant"; Hetzner's Debian package): `/etc/vmailmgr/passwd-mode`
//! (passwd.cdb written 0640) and `/etc/vmailmgr/setgid-group` (checkvpw
//! and vmailmgrd take group `mail`; `Bad group <name>` if it is missing).
//! Unset, everything is upstream's (0600, the owner's group).

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn bin(name: &str) -> PathBuf {
    Path::new(env!("CARGO_BIN_EXE_checkvpw"))
        .parent()
        .unwrap()
        .join(name)
}

struct Site {
    _t: tempfile::TempDir,
    root: PathBuf,
    home: PathBuf,
    uid: u32,
    gid: u32,
    root_run: bool,
}

impl Site {
    fn new() -> Site {
        let t = tempfile::tempdir().unwrap();
        std::fs::set_permissions(t.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let root = t.path().join("root");
        let home = t.path().join("home");
        std::fs::create_dir_all(root.join("etc/vmailmgr")).unwrap();
        std::fs::create_dir_all(root.join("var/qmail/control")).unwrap();
        std::fs::create_dir(&home).unwrap();
        let root_run = nix::unistd::geteuid().is_root();
        let (uid, gid) = if root_run {
            let u = nix::unistd::User::from_name("qmaild").unwrap().unwrap();
            (u.uid.as_raw(), u.gid.as_raw())
        } else {
            (
                nix::unistd::getuid().as_raw(),
                nix::unistd::getgid().as_raw(),
            )
        };
        nix::unistd::chown(
            &home,
            Some(nix::unistd::Uid::from_raw(uid)),
            Some(nix::unistd::Gid::from_raw(gid)),
        )
        .unwrap_or(());
        std::fs::write(
            root.join("etc/passwd"),
            format!("vmtest:x:{uid}:{gid}::{}:/bin/sh\n", home.display()),
        )
        .unwrap();
        std::fs::write(
            root.join("var/qmail/control/virtualdomains"),
            "example.com:vmtest\n",
        )
        .unwrap();
        Site {
            _t: t,
            root,
            home,
            uid,
            gid,
            root_run,
        }
    }

    fn cmd(&self, prog: &str, args: &[&str]) -> Command {
        let mut c = Command::new(bin(prog));
        c.args(args)
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .env("HOME", &self.home)
            .env("QMAILRS_ROOT", &self.root)
            .current_dir(&self.home);
        if !self.root_run {
            c.env("QMAILRS_SINGLE_USER", "1");
        }
        c
    }

    fn owner(&self, prog: &str, args: &[&str]) {
        let mut c = self.cmd(prog, args);
        if self.root_run {
            c.uid(self.uid).gid(self.gid);
        }
        let o = c.stdin(Stdio::null()).output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }

    fn conf(&self, name: &str, value: &str) {
        std::fs::write(self.root.join("etc/vmailmgr").join(name), value).unwrap();
    }

    /// checkvpw (as the caller: root in CI) with `data` on fd 3.
    fn login(&self, data: &[u8], args: &[&str]) -> (String, i32) {
        let mut sh = Command::new("/bin/sh");
        sh.arg("-c")
            .arg("exec \"$0\" \"$@\" 3<&0")
            .arg(bin("checkvpw"))
            .args(args);
        sh.env_clear();
        for (k, v) in self.cmd("checkvpw", &[]).get_envs() {
            if let Some(v) = v {
                sh.env(k, v);
            }
        }
        let mut child = sh
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(data).unwrap();
        let o = child.wait_with_output().unwrap();
        (
            String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr),
            o.status.code().unwrap_or(-1),
        )
    }
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

#[test]
fn passwd_mode_switch() {
    let s = Site::new();
    s.owner("vadduser", &["--password", "$0$pw", "alice"]);
    assert_eq!(mode(&s.home.join("passwd.cdb")), 0o600);
    s.conf("passwd-mode", "0640\n");
    s.owner("vadduser", &["--password", "$0$pw", "bob"]);
    assert_eq!(mode(&s.home.join("passwd.cdb")), 0o640);
    s.owner("vchattr", &["-Q", "1000", "bob"]);
    assert_eq!(mode(&s.home.join("passwd.cdb")), 0o640);
    s.conf("passwd-mode", "rw-r-----\n");
    s.owner("vdeluser", &["bob"]);
    assert_eq!(mode(&s.home.join("passwd.cdb")), 0o600);
}

#[test]
fn setgid_group_switch() {
    let s = Site::new();
    s.owner("vadduser", &["--password", "$0$alicepw", "alice"]);
    let hook = s.root.join("etc/vmailmgr/checkvpw-error");
    std::fs::write(&hook, "#!/bin/sh\necho \"error: $CHECKVPW_ERROR\"\n").unwrap();
    std::fs::set_permissions(&hook, std::fs::Permissions::from_mode(0o755)).unwrap();
    let data = b"alice@example.com\0alicepw\0";
    let (out, code) = s.login(data, &["/bin/sh", "-c", "id -g", "maildir"]);
    assert_eq!((out, code), (format!("{}\n", s.gid), 0));

    s.conf("setgid-group", "nosuch-group-xyz\n");
    let (out, code) = s.login(data, &["/bin/sh", "-c", "id -g", "maildir"]);
    assert_eq!(
        (out.as_str(), code),
        ("error: Bad group nosuch-group-xyz\n", 111)
    );
    // vmailmgrd refuses the same way.
    let mut req = Vec::new();
    qmail::vmailmgr::daemon::write_request(
        &qmail::vmailmgr::daemon::Request {
            command: b"check".to_vec(),
            args: vec![
                b"example.com".to_vec(),
                b"alice".to_vec(),
                b"alicepw".to_vec(),
            ],
        },
        &mut req,
    );
    let mut d = s.cmd("vmailmgrd", &[]);
    let mut child = d
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&req).unwrap();
    let o = child.wait_with_output().unwrap();
    assert_eq!(&o.stdout[3..], b"Bad group nosuch-group-xyz");
    assert_eq!(o.stdout[0], 2);

    // The hoster's group: `mail` as root (a real switch), else our own group.
    let (name, want) = if s.root_run {
        let g = nix::unistd::Group::from_name("mail")
            .unwrap()
            .expect("group mail");
        ("mail".to_string(), g.gid.as_raw())
    } else {
        let g = nix::unistd::Group::from_gid(nix::unistd::getgid())
            .unwrap()
            .unwrap();
        (g.name, s.gid)
    };
    s.conf("setgid-group", &format!("{name}\n"));
    let (out, code) = s.login(data, &["/bin/sh", "-c", "id -g; id -G", "maildir"]);
    assert_eq!((out, code), (format!("{want}\n{want}\n"), 0));
}
