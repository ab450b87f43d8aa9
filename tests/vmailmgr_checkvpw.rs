//! checkvpw's hooks and failure classes (transcript §5): every refusal
//! sets CHECKVPW_ERROR and runs `checkvpw-loginfail` (login failures) or
//! `checkvpw-error` (bad data, temporary), global directory first; exit
//! codes 1 / 2 / 111; checkvpw itself prints nothing.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
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
}

fn site() -> Site {
    let t = tempfile::tempdir().unwrap();
    let root = t.path().join("root");
    let home = t.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    std::fs::create_dir_all(root.join("etc/vmailmgr")).unwrap();
    std::fs::create_dir_all(root.join("var/qmail/control")).unwrap();
    let (uid, gid) = (nix::unistd::geteuid(), nix::unistd::getegid());
    std::fs::write(
        root.join("etc/passwd"),
        format!("vmtest:$0$secret:{uid}:{gid}::{}:/bin/sh\n", home.display()),
    )
    .unwrap();
    std::fs::write(
        root.join("var/qmail/control/virtualdomains"),
        "example.com:vmtest\n.example.net:vmtest\n",
    )
    .unwrap();
    std::fs::write(
        root.join("var/qmail/control/locals"),
        "localhost\nlocal.example\n",
    )
    .unwrap();
    for (hook, text) in [
        (
            "checkvpw-loginfail",
            "[checkvpw-loginfail hook] CHECKVPW_ERROR=$CHECKVPW_ERROR VUSER=$VUSER",
        ),
        (
            "checkvpw-error",
            "[checkvpw-error hook] CHECKVPW_ERROR=$CHECKVPW_ERROR",
        ),
    ] {
        let p = root.join("etc/vmailmgr").join(hook);
        std::fs::write(&p, format!("#!/bin/sh\necho \"{text}\" >&2\nexit 0\n")).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let s = Site { _t: t, root, home };
    let o = s.owner(&["vadduser", "--password", "$0$alicepw", "alice"]);
    assert!(o.status.success());
    s.owner(&["vadduser", "--password", "$0$heidipw", "heidi"]);
    s.owner(&["vchattr", "-e", "1000000000", "heidi"]);
    s.owner(&["vaddalias", "info", "alice"]);
    s
}

impl Site {
    fn owner(&self, argv: &[&str]) -> std::process::Output {
        Command::new(bin(argv[0]))
            .args(&argv[1..])
            .env_clear()
            .env("HOME", &self.home)
            .env("QMAILRS_ROOT", &self.root)
            .env("QMAILRS_SINGLE_USER", "1")
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }

    fn login(&self, data: &[u8], args: &[&str], env: &[(&str, &str)]) -> (String, String, i32) {
        self.run_fd3("checkvpw", data, args, env)
    }

    /// `prog args...` with `data` on descriptor 3.
    fn run_fd3(
        &self,
        prog: &str,
        data: &[u8],
        args: &[&str],
        env: &[(&str, &str)],
    ) -> (String, String, i32) {
        let mut c = Command::new("/bin/sh");
        c.arg("-c")
            .arg("exec \"$0\" \"$@\" 3<&0")
            .arg(bin(prog))
            .args(args)
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .env("QMAILRS_ROOT", &self.root)
            .env("QMAILRS_SINGLE_USER", "1")
            .envs(env.iter().copied())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = c.spawn().unwrap();
        child.stdin.take().unwrap().write_all(data).unwrap();
        let o = child.wait_with_output().unwrap();
        (
            String::from_utf8_lossy(&o.stdout).into_owned(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
            o.status.code().unwrap_or(-1),
        )
    }
}

fn fail(vuser: &str, msg: &str) -> String {
    format!("[checkvpw-loginfail hook] CHECKVPW_ERROR={msg} VUSER={vuser}\n")
}

#[test]
fn refusals_run_the_hooks() {
    let s = site();
    let ok = ["/bin/sh", "-c", "echo \"$0 $VUSER\"", "Maildir"];
    let cases: &[(&[u8], &str, i32)] = &[
        (
            b"alice@example.com\0wrongpw\0stamp\0",
            &fail("alice", "Invalid or incorrect password"),
            1,
        ),
        (
            b"heidi@example.com\0heidipw\0\0",
            &fail("heidi", "Account has expired"),
            1,
        ),
        (
            b"heidi@example.com\0wrong\0\0",
            &fail("heidi", "Invalid or incorrect password"),
            1,
        ),
        (
            b"info@example.com\0x\0\0",
            &fail("info", "Invalid or unknown virtual user"),
            1,
        ),
        (
            b"nosuch@example.com\0x\0\0",
            &fail("nosuch", "Invalid or unknown virtual user"),
            1,
        ),
        (
            b"alice@unknown.example\0alicepw\0\0",
            &fail("", "Invalid or unknown base user or domain"),
            1,
        ),
        (b"@example.com\0x\0\0", &fail("", "Empty user name"), 1),
        (b"alice@\0x\0\0", &fail("", "Empty domain name"), 1),
        (
            b"vmtest@local.example\0wrong\0\0",
            &fail("", "Invalid or incorrect password"),
            1,
        ),
        (
            b"alice@example.com\0\0\0",
            &fail("alice", "Invalid or incorrect password"),
            1,
        ),
        (
            b"alice@example.com",
            "[checkvpw-error hook] CHECKVPW_ERROR=Invalid data\n",
            2,
        ),
    ];
    for (data, err, code) in cases {
        let r = s.login(data, &ok, &[]);
        assert_eq!(
            (r.0.as_str(), r.1.as_str(), r.2),
            ("", *err, *code),
            "{}",
            String::from_utf8_lossy(data)
        );
    }
    let r = s.login(&[b'x'; 513], &ok, &[]);
    assert_eq!(
        (r.1.as_str(), r.2),
        (
            "[checkvpw-error hook] CHECKVPW_ERROR=Read buffer too long\n",
            2
        )
    );
    let r = s.login(b"", &[], &[]);
    assert_eq!(
        (r.1.as_str(), r.2),
        (
            "[checkvpw-error hook] CHECKVPW_ERROR=No subprogram given to execute\n",
            2
        )
    );
    let r = s.login(b"alice@example.com\0alicepw\0", &["/bin/true"], &[]);
    assert_eq!(
        (r.1.as_str(), r.2),
        (
            "[checkvpw-error hook] CHECKVPW_ERROR=Execution of command line arguments failed\n",
            111
        )
    );
    // Every accepted spelling of the same login.
    for (data, env) in [
        (&b"alice@example.com\0alicepw\0<1.2@h>\0"[..], &[][..]),
        (b"alice:example.com\0alicepw\0\0", &[]),
        (b"ALICE@EXAMPLE.COM\0alicepw\0\0", &[]),
        (b"alice@mx.example.net\0alicepw\0\0", &[]),
        (b"alice\0alicepw\0\0", &[("TCPLOCALHOST", "example.com")]),
        (
            b"vmtest-alice\0alicepw\0\0",
            &[("TCPLOCALHOST", "local.example")],
        ),
        (b"vmtest-alice@localhost\0alicepw\0\0", &[]),
        (b"alice@example.com\0alicepw\0", &[]),
    ] {
        let r = s.login(data, &ok, env);
        assert_eq!(
            (r.0.as_str(), r.2),
            ("./users/alice alice\n", 0),
            "{}",
            String::from_utf8_lossy(data)
        );
    }
    // A real user without ~/Maildir gets the error maildir.
    let r = s.login(b"vmtest@local.example\0secret\0\0", &ok, &[]);
    assert_eq!(r.0, "/var/lib/vmailmgr/error-maildir/ \n");
}

/// authvmailmgr (checkvpw.md §10): Courier's authmod protocol.
#[test]
fn authvmailmgr_courier_module() {
    let s = site();
    let show = [
        "/bin/sh",
        "-c",
        "echo \"AUTHENTICATED=$AUTHENTICATED AUTHADDR=$AUTHADDR MAILDIR=$MAILDIR VUSER=$VUSER\"; pwd",
    ];
    let (out, _, code) = s.run_fd3(
        "authvmailmgr",
        b"imap\nlogin\nalice@example.com\nalicepw\n",
        &show,
        &[],
    );
    assert_eq!(code, 0);
    assert_eq!(
        out,
        format!(
            "AUTHENTICATED=alice AUTHADDR=alice MAILDIR=./users/alice VUSER=alice\n{}\n",
            s.home.display()
        )
    );
    // An earlier module already accepted: straight to the next program.
    let (out, _, _) = s.run_fd3(
        "authvmailmgr",
        b"",
        &["/bin/sh", "-c", "echo next $AUTHENTICATED"],
        &[("AUTHENTICATED", "bob")],
    );
    assert_eq!(out, "next bob\n");
    // A real user's login goes to the next module with the same data on fd 3.
    let data = b"imap\nlogin\nvmtest@localhost\nsecret\n";
    let (out, _, code) = s.run_fd3("authvmailmgr", data, &["/bin/sh", "-c", "cat <&3"], &[]);
    assert_eq!((out.as_bytes(), code), (&data[..], 0));
    // Refusals: the hook sees AUTHVMAILMGR_ERROR; AUTHFAILURE without a chain to re-run.
    let hook = s.root.join("etc/vmailmgr/authvmailmgr-loginfail");
    std::fs::write(&hook, "#!/bin/sh\necho \"hook: $AUTHVMAILMGR_ERROR\" >&2\n").unwrap();
    std::fs::set_permissions(&hook, std::fs::Permissions::from_mode(0o755)).unwrap();
    for (data, err) in [
        (
            &b"imap\nlogin\nalice@example.com\nwrong\n"[..],
            "hook: Invalid or incorrect password\n",
        ),
        (
            b"imap\nlogin\nnobody@example.com\nx\n",
            "hook: Invalid or unknown virtual user\n",
        ),
        (
            b"imap\nlogin\ninfo@example.com\nx\n",
            "hook: Invalid or unknown virtual user\n",
        ),
        (
            b"imap\nlogin\nheidi@example.com\nheidipw\n",
            "hook: Account has expired\n",
        ),
        (b"imap\ncram-md5\nx\ny\n", ""),
        (b"imap\nlogin\nalice@example.com\n\n", ""),
        (b"garbage", ""),
    ] {
        let (out, e, code) = s.run_fd3("authvmailmgr", data, &["/bin/echo", "NEXT"], &[]);
        assert_eq!(
            (out.as_str(), e, code),
            ("", format!("{err}AUTHFAILURE\n"), 1)
        );
    }
    let (out, _, _) = s.run_fd3(
        "authvmailmgr",
        b"imap\nlogin\nalice@example.com\nwrong\n",
        &["/bin/echo", "NEXT"],
        &[
            ("AUTHARGC", "2"),
            ("AUTHARGV0", "imapd"),
            ("AUTHARGV1", "again"),
            ("AUTHUSER", "/bin/echo"),
        ],
    );
    assert_eq!(out, "again\n");
}
