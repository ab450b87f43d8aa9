//! Shared set-up of the vmailmgr tests: a temporary root (`QMAILRS_ROOT`
//! with `etc/passwd`, `etc/vmailmgr/`, `var/qmail/control/`), a domain
//! owner `vmtest` whose home holds the domain, and running the programs as
//! the owner or, with data on descriptor 3, as the caller.
//!
//! [`Site::new`] switches for real when the tests run as root: the owner
//! is `qmaild` (scripts/create-users) and checkvpw / vmailmgrd drop to it.
//! As an ordinary user, and always with [`Site::caller`], the owner is the
//! current uid in single-user mode.
#![allow(dead_code)]

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The built program `name`.
pub fn bin(name: &str) -> PathBuf {
    Path::new(env!("CARGO_BIN_EXE_checkvpw"))
        .parent()
        .unwrap()
        .join(name)
}

/// A finished run: stdout, stderr, exit code (-1 for a signal).
#[derive(Debug)]
pub struct Out {
    pub out: String,
    pub err: String,
    pub code: i32,
}

impl Out {
    pub fn of(o: &Output) -> Out {
        Out {
            out: String::from_utf8_lossy(&o.stdout).into_owned(),
            err: String::from_utf8_lossy(&o.stderr).into_owned(),
            code: o.status.code().unwrap_or(-1),
        }
    }

    /// stdout followed by stderr, and the exit code.
    pub fn pair(&self) -> (String, i32) {
        (self.both(), self.code)
    }

    /// stdout followed by stderr.
    pub fn both(&self) -> String {
        format!("{}{}", self.out, self.err)
    }
}

/// Run `c` with `stdin` as its input.
pub fn run(mut c: Command, stdin: &[u8]) -> Out {
    let mut child = c
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut i = child.stdin.take().unwrap();
    let _ = i.write_all(stdin);
    drop(i);
    Out::of(&child.wait_with_output().unwrap())
}

/// `prog args...` with the environment set on `env_of`, from `/`, with
/// `data` on descriptor 3 (a pipe, as the login front ends give it).
pub fn fd3_from(env_of: &Command, prog: &str, data: &[u8], args: &[&str]) -> Out {
    let mut sh = Command::new("/bin/sh");
    sh.arg("-c")
        .arg("exec \"$0\" \"$@\" 3<&0")
        .arg(bin(prog))
        .args(args)
        .env_clear();
    for (k, v) in env_of.get_envs() {
        if let Some(v) = v {
            sh.env(k, v);
        }
    }
    sh.current_dir("/");
    run(sh, data)
}

/// The mode bits of `p`.
pub fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o7777
}

pub fn chmod(p: &Path, mode: u32) {
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// A temporary domain.
pub struct Site {
    _t: tempfile::TempDir,
    pub root: PathBuf,
    pub home: PathBuf,
    /// The owner's uid and gid.
    pub uid: u32,
    pub gid: u32,
    /// Running as root: the programs really switch to the owner.
    pub root_run: bool,
}

impl Site {
    /// The owner is `qmaild` as root, else the caller.
    pub fn new() -> Site {
        let root_run = nix::unistd::geteuid().is_root();
        let (uid, gid) = if root_run {
            let u = nix::unistd::User::from_name("qmaild")
                .unwrap()
                .expect("the qmaild user (scripts/create-users) owns the test domain");
            (u.uid.as_raw(), u.gid.as_raw())
        } else {
            (
                nix::unistd::geteuid().as_raw(),
                nix::unistd::getegid().as_raw(),
            )
        };
        Site::with_owner(uid, gid, root_run)
    }

    /// The owner is the caller (root in CI), in single-user mode.
    pub fn caller() -> Site {
        let (uid, gid) = (nix::unistd::geteuid(), nix::unistd::getegid());
        Site::with_owner(uid.as_raw(), gid.as_raw(), false)
    }

    fn with_owner(uid: u32, gid: u32, root_run: bool) -> Site {
        let t = tempfile::tempdir().unwrap();
        chmod(t.path(), 0o755);
        let root = t.path().join("root");
        let home = t.path().join("home");
        std::fs::create_dir_all(root.join("etc/vmailmgr")).unwrap();
        std::fs::create_dir_all(root.join("var/qmail/control")).unwrap();
        std::fs::create_dir(&home).unwrap();
        if root_run {
            nix::unistd::chown(
                &home,
                Some(nix::unistd::Uid::from_raw(uid)),
                Some(nix::unistd::Gid::from_raw(gid)),
            )
            .unwrap();
        }
        let s = Site {
            _t: t,
            root,
            home,
            uid,
            gid,
            root_run,
        };
        s.etc("passwd", &s.etc_passwd_line("$0$secret"));
        s.control(
            "virtualdomains",
            "example.com:vmtest\n.example.net:vmtest\n",
        );
        s.control("locals", "localhost\nlocal.example\n");
        s.control("me", "mail.example.org\n");
        s
    }

    /// The owner's `etc/passwd` line with password field `pw`.
    pub fn etc_passwd_line(&self, pw: &str) -> String {
        format!(
            "vmtest:{pw}:{}:{}::{}:/bin/sh\n",
            self.uid,
            self.gid,
            self.home.display()
        )
    }

    /// The temporary directory holding root/ and home/.
    pub fn dir(&self) -> &Path {
        self.root.parent().unwrap()
    }

    /// `root/etc/<name>`.
    pub fn etc(&self, name: &str, text: &str) {
        std::fs::write(self.root.join("etc").join(name), text).unwrap();
    }

    /// A global setting `root/etc/vmailmgr/<name>`.
    pub fn conf(&self, name: &str, text: &str) {
        std::fs::write(self.root.join("etc/vmailmgr").join(name), text).unwrap();
    }

    /// An executable global hook `root/etc/vmailmgr/<name>`.
    pub fn hook(&self, name: &str, script: &str) {
        let p = self.root.join("etc/vmailmgr").join(name);
        std::fs::write(&p, script).unwrap();
        chmod(&p, 0o755);
    }

    /// `root/var/qmail/control/<name>`.
    pub fn control(&self, name: &str, text: &str) {
        std::fs::write(self.root.join("var/qmail/control").join(name), text).unwrap();
    }

    /// `prog args...` with the site's environment, in the home directory,
    /// as the caller.
    pub fn cmd(&self, prog: &str, args: &[&str]) -> Command {
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

    /// [`Site::cmd`] as the owner.
    pub fn owner_cmd(&self, prog: &str, args: &[&str]) -> Command {
        let mut c = self.cmd(prog, args);
        if self.root_run {
            c.uid(self.uid).gid(self.gid);
        }
        c
    }

    /// Run `prog args...` as the owner with `stdin`.
    pub fn owner(&self, prog: &str, args: &[&str], stdin: &[u8]) -> Out {
        run(self.owner_cmd(prog, args), stdin)
    }

    /// As [`Site::owner`], and it must succeed.
    pub fn ok(&self, prog: &str, args: &[&str]) -> Out {
        let o = self.owner(prog, args, b"");
        assert_eq!(o.code, 0, "{prog} {args:?}: {}", o.both());
        o
    }

    /// `prog args...` as the caller, from `/`, with `data` on descriptor 3
    /// (a pipe, as the login front ends give it) and `env` added.
    pub fn fd3(&self, prog: &str, data: &[u8], args: &[&str], env: &[(&str, &str)]) -> Out {
        let mut c = self.cmd(prog, &[]);
        c.envs(env.iter().copied());
        fd3_from(&c, prog, data, args)
    }

    /// checkvpw with `data` on descriptor 3.
    pub fn login(&self, data: &[u8], args: &[&str]) -> Out {
        self.fd3("checkvpw", data, args, &[])
    }

    /// vdeliver for `ext@example.com` as the owner (qmail-local's
    /// environment), the message in a regular file.
    pub fn deliver(&self, ext: &str) -> Out {
        Out::of(&self.deliver_cmd(ext).output().unwrap())
    }

    /// The command [`Site::deliver`] runs.
    pub fn deliver_cmd(&self, ext: &str) -> Command {
        let msg = self.dir().join("msg.txt");
        std::fs::write(&msg, MSG).unwrap();
        let mut c = self.owner_cmd("vdeliver", &[]);
        c.env("USER", "vmtest")
            .env("EXT", ext)
            .env("HOST", "example.com")
            .env("SENDER", "sender@remote.example")
            .env(
                "UFLINE",
                "From sender@remote.example Wed Nov 25 11:00:00 2026\n",
            )
            .env("RPLINE", "Return-Path: <sender@remote.example>\n")
            .env(
                "DTLINE",
                format!("Delivered-To: vmtest-{ext}@example.com\n"),
            )
            .stdin(std::fs::File::open(&msg).unwrap());
        c
    }

    /// The files in `home/<dir>`, sorted.
    pub fn files(&self, dir: &str) -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = std::fs::read_dir(self.home.join(dir))
            .map(|r| r.flatten().map(|e| e.path()).collect())
            .unwrap_or_default();
        v.sort();
        v
    }
}

pub const MSG: &str =
    "From: sender@remote.example\nTo: someone@example.com\nSubject: test\n\nHello world.\n";
