//! End to end: a domain owner in a temporary home runs vsetup and
//! vadduser, mail for box@domain goes through vdeliver (with qmail-local's
//! environment) into the virtual Maildir and to forwards, checkvpw accepts
//! the new password and refuses the old one, and mkvalidrcptto's cdb holds
//! the addresses. Messages are compared with the recordings
//! (`testdata/vmailmgr/transcript.md`).

mod vmailmgr_support;

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use vmailmgr_support::{bin, chmod, Out as Run, Site};

/// The shared site (the caller owns the domain) with a shadow password,
/// a second local user and a qmail-queue stub that keeps what it gets.
struct Dom {
    s: Site,
}

impl std::ops::Deref for Dom {
    type Target = Site;
    fn deref(&self) -> &Site {
        &self.s
    }
}

impl Dom {
    fn new() -> Dom {
        let s = Site::caller();
        let local = s.dir().join("local");
        s.etc(
            "passwd",
            &format!(
                "{}localuser:x:1500:1500::{}:/bin/sh\n",
                s.etc_passwd_line("x"),
                local.display()
            ),
        );
        s.etc("shadow", "vmtest:$0$secret:1::::::\n");
        s.control("virtualdomains", "example.com:vmtest\n");
        s.control("locals", "localhost\n");
        s.control("rcpthosts", "example.com\nlocalhost\n");
        let q = s.root.join("var/qmail");
        std::fs::create_dir_all(q.join("bin")).unwrap();
        let out = s.dir().join("queue-out");
        std::fs::create_dir(&out).unwrap();
        let qq = q.join("bin/qmail-queue");
        std::fs::write(
            &qq,
            format!(
                "#!/bin/sh\ncat > {0}/msg; cat <&1 > {0}/env; exit ${{QQ_EXIT:-0}}\n",
                out.display()
            ),
        )
        .unwrap();
        chmod(&qq, 0o755);
        Dom { s }
    }

    fn queue_out(&self, f: &str) -> Vec<u8> {
        std::fs::read(self.dir().join("queue-out").join(f)).unwrap_or_default()
    }

    fn cmd(&self, prog: &str, args: &[&str], env: &[(&str, &str)]) -> Command {
        let mut c = Command::new(bin(prog));
        c.args(args)
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .env("HOME", &self.home)
            .env("USER", "vmtest")
            .env("QMAILRS_ROOT", &self.root)
            .env("QMAILRS_SINGLE_USER", "1")
            .current_dir(&self.home);
        for (k, v) in env {
            c.env(k, v);
        }
        c
    }

    fn run(&self, prog: &str, args: &[&str], stdin: &[u8], env: &[(&str, &str)]) -> Run {
        vmailmgr_support::run(self.cmd(prog, args, env), stdin)
    }

    /// vdeliver with the message in a regular file, as qmail-local gives it.
    fn deliver(&self, ext: &str, extra: &[(&str, &str)]) -> Run {
        let msg = self.dir().join("msg.txt");
        std::fs::write(&msg, MSG).unwrap();
        let dt = format!("Delivered-To: vmtest-{ext}@example.com\n");
        let mut env = vec![
            ("EXT", ext),
            ("HOST", "example.com"),
            ("SENDER", "sender@remote.example"),
            (
                "UFLINE",
                "From sender@remote.example Wed Nov 25 11:00:00 2026\n",
            ),
            ("RPLINE", "Return-Path: <sender@remote.example>\n"),
            ("DTLINE", dt.as_str()),
        ];
        env.extend_from_slice(extra);
        let mut c = self.cmd("vdeliver", &[], &env);
        c.stdin(std::fs::File::open(&msg).unwrap());
        Run::of(&c.output().unwrap())
    }

    /// checkvpw with `data` on descriptor 3 (a pipe, as the front ends give it).
    fn login(&self, data: &[u8], args: &[&str]) -> Run {
        let mut c = self.cmd("checkvpw", &[], &[]);
        c.env_remove("TCPLOCALHOST");
        vmailmgr_support::fd3_from(&c, "checkvpw", data, args)
    }

    fn new_files(&self, dir: &str) -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = std::fs::read_dir(self.home.join(dir))
            .map(|r| r.flatten().map(|e| e.path()).collect())
            .unwrap_or_default();
        v.sort();
        v
    }
}

const MSG: &str =
    "From: sender@remote.example\nTo: someone@example.com\nSubject: test\n\nHello world.\n";

#[test]
fn vsetup_vadduser_vdeliver_checkvpw_mkvalidrcptto() {
    let d = Dom::new();
    let r = d.run("vsetup", &[], b"", &[]);
    assert_eq!(
        r.out,
        "vsetup: created users directory.\nvsetup: wrote '.qmail-default' file.\nvsetup: added alias 'mailer-daemon'\nvsetup: added alias 'postmaster'\nvsetup: added alias 'root'\n"
    );
    assert_eq!((r.err.as_str(), r.code), ("", 0));
    assert_eq!(
        std::fs::read(d.home.join(".qmail-default")).unwrap(),
        b"|/usr/bin/vdeliver\n"
    );
    let r = d.run("vsetup", &[], b"", &[]);
    assert_eq!(
        r.out,
        "vsetup: users directory already exists.\nvsetup: wrote '.qmail-default' file.\n"
    );
    assert_eq!(r.err, "vsetup: warning: '.qmail-default' file exists, renaming to '.qmail-default~'.\nvsetup: warning: user 'mailer-daemon' already exists, skipping.\nvsetup: warning: user 'postmaster' already exists, skipping.\nvsetup: warning: user 'root' already exists, skipping.\n");

    let r = d.run("vadduser", &["alice"], b"alicepw\n", &[]);
    assert_eq!(
        (r.out.as_str(), r.code),
        ("vadduser: user 'alice' successfully added\n", 0)
    );
    assert!(d.home.join("users/alice/new").is_dir());
    let r = d.run(
        "vadduser",
        &["--password", "absPtxANClx/c", "bob"],
        b"",
        &[],
    );
    assert_eq!(r.code, 0);
    let r = d.run("vaddalias", &["info", "alice@example.com", "bob"], b"", &[]);
    assert_eq!(r.out, "vadduser: user 'info' successfully added\n");
    let r = d.run("listvdomain", &[], b"", &[]);
    assert_eq!(r.out, "User Mailbox Aliases\nmailer-daemon Yes postmaster@\npostmaster Yes postmaster@\nroot Yes postmaster@\nalice Yes\nbob Yes\ninfo No alice@example.com bob\n");

    // Mail for alice@example.com: qmail-local runs ~/.qmail-default.
    let r = d.deliver("alice", &[]);
    assert_eq!((r.out.as_str(), r.code), ("", 0), "{}", r.err);
    let files = d.new_files("users/alice/new");
    assert_eq!(files.len(), 1);
    let name = files[0].file_name().unwrap().to_string_lossy().into_owned();
    let parts: Vec<&str> = name.split('.').collect();
    assert!(
        parts[0].parse::<u64>().is_ok() && parts[1].parse::<u32>().is_ok(),
        "{name}"
    );
    assert_eq!(
        std::fs::read_to_string(&files[0]).unwrap(),
        format!(
            "Return-Path: <sender@remote.example>\nDelivered-To: vmtest-alice@example.com\n{MSG}"
        )
    );
    assert!(d.new_files("users/alice/tmp").is_empty());
    // EXT in upper case finds the same box.
    assert_eq!(d.deliver("ALICE", &[]).code, 0);
    assert_eq!(d.new_files("users/alice/new").len(), 2);

    // The alias forwards through qmail-queue in one run.
    let r = d.deliver("info", &[]);
    assert_eq!(r.code, 0, "{}", r.out);
    assert_eq!(
        d.queue_out("env"),
        b"Fsender@remote.example\0Talice@example.com\0Tbob@example.com\0\0"
    );
    assert_eq!(
        String::from_utf8(d.queue_out("msg")).unwrap(),
        format!("Delivered-To: vmtest-info@example.com\n{MSG}")
    );
    let r = d.deliver("info", &[("QQ_EXIT", "1")]);
    assert_eq!(
        (r.out.as_str(), r.code),
        ("vdeliver: qmail-queue exited with an error!\n", 111)
    );
    // postmaster: mailbox and a forward to postmaster@ + control/me.
    assert_eq!(d.deliver("postmaster", &[]).code, 0);
    assert_eq!(
        d.queue_out("env"),
        b"Fsender@remote.example\0Tpostmaster@mail.example.org\0\0"
    );
    let r = d.deliver("nosuch", &[]);
    assert_eq!(
        (r.out.as_str(), r.code),
        ("vdeliver: Invalid or unknown virtual user 'nosuch'\n", 100)
    );

    // checkvpw: every login form, then a password change.
    let r = d.login(
        b"alice@example.com\0alicepw\0<1.2@h>\0",
        &["/bin/sh", "-c", "env; echo \"arg=$0\"", "Maildir"],
    );
    assert_eq!(r.code, 0, "{}", r.err);
    assert!(r.out.contains("MAILDIR=./users/alice\n") && r.out.contains("VUSER=alice\n"));
    assert!(r.out.contains("arg=./users/alice\n"), "{}", r.out);
    assert!(r.out.contains("USER=vmtest\n") && r.out.contains("VUSER_HAS_MAILBOX=1\n"));
    assert!(!r.out.contains("VDOMAIN"));
    assert_eq!(
        d.login(b"ALICE:EXAMPLE.COM\0alicepw\0", &["/bin/true", "Maildir"])
            .code,
        0
    );
    assert_eq!(
        d.login(b"vmtest-alice@localhost\0alicepw\0", &["/bin/true", "x"])
            .code,
        0
    );
    assert_eq!(
        d.login(b"bob@example.com\0bobpass\0", &["/bin/true", "x"])
            .code,
        0
    );
    assert_eq!(
        d.login(b"alice@example.com\0wrong\0", &["/bin/true", "x"])
            .code,
        1
    );
    assert_eq!(
        d.login(b"alice@example.com\0\0", &["/bin/true", "x"]).code,
        1
    );
    assert_eq!(
        d.login(b"info@example.com\0x\0", &["/bin/true", "x"]).code,
        1
    );
    assert_eq!(
        d.login(b"alice@example.com\0alicepw", &["/bin/true", "x"])
            .code,
        2
    );
    assert_eq!(
        d.login(b"alice@example.com\0alicepw\0", &["/bin/true"])
            .code,
        111
    );
    assert_eq!(
        d.login(b"vmtest@localhost\0secret\0", &["/bin/true", "x"])
            .code,
        0
    );
    let r = d.run("vpasswd", &["Alice"], b"newpw\n", &[]);
    assert_eq!(
        r.out,
        "vpasswd: password for user 'alice' successfully changed.\n"
    );
    assert_eq!(
        d.login(b"alice@example.com\0newpw\0", &["/bin/true", "x"])
            .code,
        0
    );
    assert_eq!(
        d.login(b"alice@example.com\0alicepw\0", &["/bin/true", "x"])
            .code,
        1
    );

    // The validrcptto.cdb generator sees the new addresses.
    std::fs::write(d.home.join(".qmail-list"), "&x@y\n").unwrap();
    let local = d.home.parent().unwrap().join("local");
    std::fs::create_dir(&local).unwrap();
    std::fs::write(local.join(".qmail-ext"), "./Maildir/\n").unwrap();
    let r = d.run("mkvalidrcptto", &[], b"", &[]);
    assert_eq!(r.code, 0, "{} {}", r.out, r.err);
    let cdb = std::fs::read(d.root.join("var/qmail/control/validrcptto.cdb")).unwrap();
    let rd = qmail::cdb::Reader::new(&cdb[..]).unwrap();
    for k in [
        "alice@example.com",
        "bob@example.com",
        "info@example.com",
        "postmaster@example.com",
        "list@example.com",
        "localuser@localhost",
        "localuser-ext@localhost",
    ] {
        assert!(rd.contains(k.as_bytes()).unwrap(), "{k}");
    }
    assert!(!rd.contains(b"@example.com").unwrap());
    d.run("vaddalias", &["+", "alice"], b"", &[]);
    d.run("mkvalidrcptto", &[], b"", &[]);
    let cdb = std::fs::read(d.root.join("var/qmail/control/validrcptto.cdb")).unwrap();
    assert!(qmail::cdb::Reader::new(&cdb[..])
        .unwrap()
        .contains(b"@example.com")
        .unwrap());
    // ... and the catch-all now takes unknown names.
    assert_eq!(d.deliver("nosuch", &[]).code, 0);

    let r = d.run("vdeluser", &["alice"], b"", &[]);
    assert_eq!(r.out, "vdeluser: user 'alice' successfully deleted.\n");
    assert!(!d.home.join("users/alice").exists());
}

/// program, arguments, stdin, stdout, stderr, exit code.
type Case = (
    &'static str,
    &'static [&'static str],
    &'static [u8],
    &'static str,
    &'static str,
    i32,
);

const VADDUSER_USAGE: &str = "usage: vadduser [flags] USERNAME [ALIAS1 ...]
or vaddalias USERNAME [ALIAS1 ...]
Add a user to a virtual domain
  -c, --msgcount=INT     Set the user's message count limit
  -D, --no-mailbox       Do not create a mailbox for this user
                         (Defaults to true for vaddalias)
  -d, --directory=VALUE  Set the path to the user's mailbox
  -e, --expiry=INT       Set the account's expiry time (in seconds)
  -f, --forward=ITEM     Add a forwarding address to this user
      --password=VALUE   Encrypted password
                         (Defaults to asking for a password)
  -P, --no-password      Do not ask for a password
  -p, --personal=VALUE   Set the user's personal information
  -Q, --hardquota=INT    Set the user's hard quota (in bytes)
  -q, --softquota=INT    Set the user's soft quota (in bytes)
      --quiet            Suppress all status messages
  -z, --msgsize=INT      Set the user's message size limit (in bytes)

  -h, --help             Display this help and exit
";

#[test]
fn recorded_messages_and_usage() {
    let d = Dom::new();
    d.run("vsetup", &[], b"", &[]);
    d.run("vadduser", &["alice"], b"alicepw\n", &[]);
    let cases: &[Case] = &[
        ("vadduser", &["alice"], b"x\n", "", "vadduser: error: user 'alice' already exists.\n", 1),
        ("vadduser", &["-P", "--quiet", "alice"], b"", "", "vadduser: error: user 'alice' already exists.\n", 1),
        ("vadduser", &["bad/name"], b"x\n", "", "vadduser: error adding the virtual user:\n  Virtual user or alias name contains invalid characters\n", 1),
        ("vadduser", &["bad name"], b"x\n", "", "vadduser: error adding the virtual user:\n  Virtual user or alias name contains invalid characters\n", 1),
        ("vadduser", &["-f", "nosuchuser", "newuser"], b"x\n", "", "vadduser: invalid forwarding address:\n  User 'nosuchuser' does not exist\n", 1),
        ("vadduser", &["-f", "a@b@c", "newuser"], b"x\n", "", "vadduser: invalid forwarding address:\n  Address 'a@b@c' is invalid:   Address contains more than one at (@) symbol\n", 1),
        ("vadduser", &["newuser"], b"\n", "", "vadduser: error: password is empty.\n", 1),
        ("vaddalias", &["onlyone"], b"", "usage: vaddalias virtuser dest [dest ...]\n", "", 1),
        ("listvdomain", &["-a", "-u"], b"", "", "listvdomain: specify only one of -a and -u\n", 1),
        ("listvdomain", &["alice", "Root", "nosuch"], b"", "User Mailbox Aliases\nalice Yes\nRoot Yes postmaster@\n", "listvdomain: unknown user 'nosuch'\n", 1),
        ("vchattr", &["5", "alice"], b"", "", "vchattr: Must select an attribute to change.\n", 1),
        ("vchattr", &["-E", "yes", "alice", "nosuch"], b"", "", "vchattr: error changing the attribute for user 'alice':\n  Invalid number\nvchattr: error changing the attribute for user 'nosuch':\n  Invalid or unknown virtual user\n", 2),
        ("vchforwards", &["nosuch"], b"", "", "vchforwards: User 'nosuch' does not exist.\n", 1),
        ("vpasswd", &["nosuch"], b"pw\n", "", "vpasswd: error changing the password for user 'nosuch':\n  Invalid or unknown virtual user\n", 1),
        ("dumpvuser", &["nosuch"], b"", "", "dumpvuser: No such user\n", 1),
        ("vdeluser", &["nosuch"], b"", "", "vdeluser: error deleting user 'nosuch':\n  User does not exist\nvdeluser: 1 errors were encountered.\n", 1),
    ];
    for (prog, args, stdin, out, err, code) in cases {
        let r = d.run(prog, args, stdin, &[]);
        assert_eq!(
            (r.out.as_str(), r.err.as_str(), r.code),
            (*out, *err, *code),
            "{prog} {args:?}"
        );
    }
    let usage_cases: &[(&[&str], &str)] = &[
        (&[], "vadduser: Too few command-line arguments\n"),
        (&["-x", "foo"], "BIN: unknown option letter -x\n"),
        (
            &["--bogus", "foo"],
            "BIN: unknown option string: '--bogus'\n",
        ),
        (&["-c", "abc", "foo"], "BIN: invalid integer: abc\n"),
    ];
    let argv0 = bin("vadduser").display().to_string();
    for (args, err) in usage_cases {
        let r = d.run("vadduser", args, b"", &[]);
        assert_eq!(r.out, VADDUSER_USAGE);
        assert_eq!(r.err, err.replace("BIN", &argv0));
        assert_eq!(r.code, 1);
    }
    let r = d.run("vadduser", &["--help"], b"", &[]);
    assert_eq!((r.out.as_str(), r.code), (VADDUSER_USAGE, 0));
    let r = d.run("vchattr", &["-h"], b"", &[]);
    assert!(r.out.starts_with("usage: vchattr [flags] VALUE USERNAME ...\nChanges the attributes on one or more virtual users\n  -c, --msgcount   Set the user's message count limit\n"));
    let r = d.run("vsetup", &["-h"], b"", &[]);
    assert_eq!(r.out, "usage: vsetup [flags] \nSets up a virtual domain for its first use\n      --quiet  Suppress all status messages\n\n  -h, --help   Display this help and exit\n");
    let r = d.run("vdeliver", &["-h"], b"", &[]);
    assert!(r
        .out
        .contains("\n  -D                    Add a \"Delivered-To:\" line (default)\n"));
    let r = d.run("dumpvuser", &["postmaster"], b"", &[]);
    assert!(r.out.starts_with("Name: postmaster\nEncrypted-Password: *\nDirectory: users/postmaster\nForward: postmaster@\nHard-Quota: N/A\n"));
    let r = d.run("showvconfig", &[], b"", &[]);
    assert!(r
        .out
        .starts_with("autoresponse-dir: autoresponse/\n\nautoresponse-file: message.txt\n\n"));
    assert!(r
        .out
        .ends_with("user-dir-bits: 0\n\nuser-dir-slices: 0\n\n"));
    let r = d.run("vadduser", &["x"], b"", &[("HOME", "")]);
    assert_eq!(
        (r.err.as_str(), r.code),
        ("vadduser: Can't determine home directory\n", 1)
    );
    let r = d.deliver("alice", &[("SENDER", "")]);
    assert_eq!(r.code, 0);
    let mut c = d.cmd(
        "vdeliver",
        &[],
        &[("EXT", "alice"), ("HOST", "example.com")],
    );
    let o = c.stdin(Stdio::null()).output().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        "vdeliver: SENDER is not set\n"
    );
    assert_eq!(o.status.code(), Some(100));
}

#[test]
fn bad_input_is_refused_cleanly() {
    let d = Dom::new();
    d.run("vsetup", &[], b"", &[]);
    d.run("vadduser", &["alice"], b"alicepw\n", &[]);
    // A name that would leave the users directory is refused or confined.
    for name in ["../evil", "a/b", ".hidden", "..", "a:b", "-dash"] {
        let _ = d.run("vadduser", &["-P", "--", name], b"", &[]);
    }
    assert!(!d.home.parent().unwrap().join("evil").exists());
    for e in std::fs::read_dir(d.home.join("users")).unwrap().flatten() {
        let n = e.file_name().to_string_lossy().into_owned();
        assert!(!n.starts_with('.') && !n.contains('/'), "{n}");
    }
    // Missing maildir.
    std::fs::remove_dir(d.home.join("users/alice/new")).unwrap();
    let r = d.deliver("alice", &[]);
    assert_eq!(
        (r.out.as_str(), r.code),
        (
            "vdeliver: Destination directory does not appear to be a maildir.\n",
            111
        )
    );
    std::fs::create_dir(d.home.join("users/alice/new")).unwrap();
    // A stale passwd.cdb.tmp makes changes fail and keeps the mail.
    std::fs::write(d.home.join("passwd.cdb.tmp"), b"").unwrap();
    let r = d.run("vadduser", &["-P", "carl"], b"", &[]);
    assert_eq!(
        r.err,
        "vadduser: error adding the virtual user:\n  Can't add the user to the password file\n"
    );
    let r = d.run("vchforwards", &["alice", "x@y.example"], b"", &[]);
    assert_eq!(
        r.err,
        "vchforwards: Could not change user 'alice':\n  Can't add the user to the password file\n"
    );
    assert!(d.home.join("users/alice/new").is_dir());
    std::fs::remove_file(d.home.join("passwd.cdb.tmp")).unwrap();
    // A corrupt table: deliveries are deferred, logins refused, no crash.
    let good = std::fs::read(d.home.join("passwd.cdb")).unwrap();
    std::fs::write(d.home.join("passwd.cdb"), &good[..1000]).unwrap();
    assert_eq!(d.deliver("alice", &[]).code, 111);
    assert_eq!(
        d.login(b"alice@example.com\0alicepw\0", &["/bin/true", "x"])
            .code,
        1
    );
    let r = d.run("listvdomain", &[], b"", &[]);
    assert_eq!(
        (r.err.as_str(), r.code),
        ("listvdomain: Can't open password table\n", 1)
    );
    // Writers refuse it and keep its bytes (no table rebuilt from a part).
    let r = d.run("vadduser", &["-P", "carl"], b"", &[]);
    assert_eq!(
        (r.err.as_str(), r.code),
        (
            "vadduser: error adding the virtual user:\n  Can't add the user to the password file\n",
            1
        )
    );
    let r = d.run("vpasswd", &["alice"], b"newpw\n", &[]);
    assert_eq!(r.code, 1, "{}", r.err);
    assert_eq!(
        std::fs::read(d.home.join("passwd.cdb")).unwrap(),
        &good[..1000]
    );
    assert!(!d.home.join("passwd.cdb.tmp").exists());
    std::fs::write(d.home.join("passwd.cdb"), &good).unwrap();
    // Garbage in a record's quota field: the record is invalid, so look-ups
    // see no user (vdeliver bounces, checkvpw refuses) while "exists"
    // checks still see the key (passwd-cdb.md §2.3).
    let table = qmail::vmailmgr::passwd::Table::new(d.home.join("passwd.cdb"));
    let mut recs: Vec<(Vec<u8>, Vec<u8>)> = table
        .list()
        .unwrap()
        .unwrap()
        .into_iter()
        .map(|(k, e)| {
            let mut v = Vec::new();
            e.write(&mut v);
            (k, v)
        })
        .collect();
    let record = |hard: &[u8]| {
        let head = b"\x02\x0a\x01\x08\x01\x00$0$garypw\0./users/alice\0\0\0";
        [&head[..], hard, b"\0-\0-\0-\0", b"1000\0-\0"].concat()
    };
    assert!(qmail::vmailmgr::vpwentry::VpwEntry::parse(&record(b"12")).is_ok());
    assert!(qmail::vmailmgr::vpwentry::VpwEntry::parse(&record(b"12abc")).is_err());
    recs.push((b"gary".to_vec(), record(b"12abc")));
    table.write_all(&recs).unwrap();
    let r = d.deliver("gary", &[]);
    assert_eq!(
        (r.out.as_str(), r.code),
        ("vdeliver: Invalid or unknown virtual user 'gary'\n", 100)
    );
    assert_eq!(
        d.login(b"gary@example.com\0garypw\0", &["/bin/true", "x"])
            .code,
        1
    );
    let r = d.run("vadduser", &["-P", "gary"], b"", &[]);
    assert_eq!(r.code, 1, "{}", r.err);
    std::fs::write(d.home.join("passwd.cdb"), &good).unwrap();
    // Garbage in a quota setting: the next directory's value, here the
    // default (unlimited), as config.md §2 says.
    std::fs::create_dir_all(d.home.join(".vmailmgr")).unwrap();
    std::fs::write(d.home.join(".vmailmgr/default-hardquota"), "lots\n").unwrap();
    d.run("vadduser", &["-P", "quota"], b"", &[]);
    let dump = d.run("dumpvuser", &["quota"], b"", &[]).out;
    assert!(dump.contains("Hard-Quota: N/A\n"), "{dump}");
    std::fs::remove_dir_all(d.home.join(".vmailmgr")).unwrap();
    // Garbage in quota variables.
    let r = d.run(
        "vcheckquota",
        &[],
        b"",
        &[
            ("MAILDIR", "./users/alice"),
            ("VUSER_MSGSIZE", "abc"),
            ("VUSER_MSGCOUNT", "-"),
            ("VUSER_HARDQUOTA", "-"),
            ("VUSER_SOFTQUOTA", "-"),
        ],
    );
    assert_eq!(r.code, 111);
    let lim = [
        ("MAILDIR", "./users/alice"),
        ("VUSER_MSGSIZE", "10"),
        ("VUSER_MSGCOUNT", "-"),
        ("VUSER_HARDQUOTA", "-"),
        ("VUSER_SOFTQUOTA", "-"),
    ];
    let msg = d.home.join("big");
    std::fs::write(&msg, vec![b'x'; 10000]).unwrap();
    let o = d
        .cmd("vcheckquota", &[], &lim)
        .stdin(std::fs::File::open(&msg).unwrap())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(100));
    assert!(String::from_utf8_lossy(&o.stderr)
        .contains("larger than the current maximum message size limit"));
    // fd-3 data too long.
    assert_eq!(d.login(&[b'a'; 600], &["/bin/true", "x"]).code, 2);
}

fn request(cmd: &str, args: &[&str]) -> Vec<u8> {
    let r = qmail::vmailmgr::daemon::Request {
        command: cmd.as_bytes().to_vec(),
        args: args.iter().map(|a| a.as_bytes().to_vec()).collect(),
    };
    let mut out = Vec::new();
    qmail::vmailmgr::daemon::write_request(&r, &mut out);
    out
}

/// (code, message) of every response in a stream.
fn responses(mut b: &[u8]) -> Vec<(u8, Vec<u8>)> {
    let mut v = Vec::new();
    while b.len() >= 3 {
        let n = usize::from(u16::from_be_bytes([b[1], b[2]]));
        v.push((b[0], b[3..3 + n].to_vec()));
        b = &b[3 + n..];
    }
    v
}

#[test]
fn vmailmgrd_requests() {
    let d = Dom::new();
    d.run("vsetup", &[], b"", &[]);
    d.run("vadduser", &["alice"], b"alicepw\n", &[]);
    let call = |req: Vec<u8>, opts: &[&str]| -> (Vec<(u8, Vec<u8>)>, String) {
        let mut c = d.cmd("vmailmgrd", opts, &[]);
        c.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = c.spawn().unwrap();
        child.stdin.take().unwrap().write_all(&req).unwrap();
        let o = child.wait_with_output().unwrap();
        let log = String::from_utf8_lossy(&o.stderr).into_owned();
        let log: String = log
            .lines()
            .map(|l| format!("[PID]{}\n", &l[l.find(']').unwrap() + 1..]))
            .collect();
        (responses(&o.stdout), log)
    };
    let (r, log) = call(request("check", &["example.com", "alice", "alicepw"]), &[]);
    assert_eq!(r, vec![(0, vec![])]);
    assert_eq!(
        log,
        "[PID] Request: check vmtest-alice <password>\n[PID] Completed: OK: \n"
    );
    let (r, _) = call(request("check", &["example.com", "alice", "wrong"]), &[]);
    assert_eq!(r, vec![(2, b"Invalid or incorrect password".to_vec())]);
    let (r, log) = call(request("check", &["unknown.example", "alice", "x"]), &[]);
    assert_eq!(r[0].1, b"Invalid or unknown domain name: unknown.example");
    assert_eq!(
        log,
        "[PID] Completed: ERROR: Invalid or unknown domain name: unknown.example\n"
    );
    let (r, _) = call(request("lookup", &["example.com", "alice", "secret"]), &[]);
    assert_eq!(r.len(), 2);
    assert_eq!(r[0].1[..6], [2, 10, 1, 8, 1, 0]);
    assert_eq!(r[1].1, b"Wrote virtual user data");
    let (r, _) = call(request("lookup", &["example.com", "alice", "wrong"]), &[]);
    assert_eq!(r, vec![(2, b"Incorrect password".to_vec())]);
    let (r, log) = call(
        request(
            "adduser2",
            &[
                "example.com",
                "newalias",
                "secret",
                "",
                "",
                "alice",
                "bob@example.org",
            ],
        ),
        &[],
    );
    assert_eq!(r, vec![(0, b"User added successfully".to_vec())]);
    assert_eq!(log, "[PID] Request: adduser2 vmtest-newalias <adminpass> <newpass>  alice bob@example.org\n[PID] Completed: OK: User added successfully\n");
    let (r, _) = call(request("listdomain", &["example.com", "secret"]), &[]);
    assert_eq!(r.len(), 7);
    assert!(r[4].1.starts_with(b"alice\0\x02"));
    assert_eq!((r[0].1.len(), r[6].1.len()), (0, 0));
    let (r, _) = call(
        request("chattr", &["example.com", "alice", "alicepw", "3", "1000"]),
        &[],
    );
    // Quotas need the owner's password.
    assert_eq!(r, vec![(2, b"Incorrect password".to_vec())]);
    let (r, _) = call(
        request("chattr", &["example.com", "alice", "secret", "0x3", "1000"]),
        &[],
    );
    assert_eq!(r, vec![(0, b"Attribute value changed".to_vec())]);
    let (r, _) = call(
        request("chattr", &["example.com", "alice", "alicepw", "1", "newpw"]),
        &[],
    );
    assert_eq!(r, vec![(0, b"Password changed".to_vec())]);
    let (r, _) = call(
        request(
            "autoresponse",
            &["example.com", "alice", "newpw", "write", "away"],
        ),
        &[],
    );
    assert_eq!(
        r,
        vec![(
            0,
            b"Message successfully written to autoresponse file".to_vec()
        )]
    );
    let (r, _) = call(
        request("autoresponse", &["example.com", "alice", "newpw", "status"]),
        &[],
    );
    assert_eq!(r, vec![(0, b"enabled".to_vec())]);
    let (r, _) = call(request("stat", &["example.com", "alice", "secret"]), &[]);
    assert_eq!(r, vec![(0, b"\x000\x000\x000\x000\x000\x000\x00".to_vec())]);
    let (r, _) = call(
        request("deluser", &["example.com", "newalias", "secret"]),
        &[],
    );
    assert_eq!(r, vec![(0, b"Deleted user.".to_vec())]);
    let (r, log) = call(
        request("nosuchcommand", &["example.com", "alice", "x"]),
        &[],
    );
    assert_eq!(
        (r, log.as_str()),
        (
            vec![(1, b"Invalid operation".to_vec())],
            "[PID] Completed: BAD: Invalid operation\n"
        )
    );
    let (r, _) = call(
        request("adduser3", &["example.com", "x", "secret", "", ""]),
        &[],
    );
    assert_eq!(
        r[0].1,
        b"Incorrect number of parameters to command adduser3"
    );
    let (r, log) = call(vec![3, 0, 0], &[]);
    assert_eq!(
        (r.len(), log.as_str()),
        (
            0,
            "[PID] Completed: BAD: Invalid protocol from client, aborting\n"
        )
    );
    let (_, log) = call(vec![2, 0, 8, 0, 0, 0], &[]);
    assert_eq!(
        log,
        "[PID] Completed: BAD: Short read while reading message data, aborting\n"
    );
    let (_, log) = call(vec![2, 0, 4, 0, 0, 0, 0], &[]);
    assert_eq!(
        log,
        "[PID] Completed: BAD: Empty command string, aborting\n"
    );
    let (_, log) = call(
        request("check", &["example.com", "alice", "newpw"]),
        &["-d"],
    );
    assert_eq!(log, "");
    let (_, log) = call(
        request("check", &["example.com", "alice", "newpw"]),
        &["-V"],
    );
    assert!(log.starts_with("[PID] Accepted connection\n[PID] Request: check"));
}

/// The issue's bad-input list, the cases not covered above: names with
/// invalid characters get the original's refusal; `..` stays inside
/// users/; a NUL through vmailmgrd is refused without a crash; empty
/// passwords and empty user parts never log in. See: issue 6.
#[test]
fn issue_6_bad_names_and_logins() {
    let d = Dom::new();
    d.run("vsetup", &[], b"", &[]);
    d.run("vadduser", &["alice"], b"alicepw\n", &[]);
    for name in ["a/b", "a:b", "a b", "../evil", "/abs"] {
        let r = d.run("vadduser", &["-P", "--", name], b"", &[]);
        assert_eq!(
            (r.err.as_str(), r.code),
            (
                "vadduser: error adding the virtual user:\n  Virtual user or alias name contains invalid characters\n",
                1
            ),
            "{name}"
        );
    }
    // Dots become colons, so `..` and leading dots stay inside users/ and
    // never hide; a leading `-` or separator is an ordinary character.
    for (name, dir) in [
        ("..", "users/::"),
        (".hidden", "users/:hidden"),
        ("-dash", "users/-dash"),
        ("@at", "users/@at"),
    ] {
        let r = d.run("vadduser", &["-P", "--", name], b"", &[]);
        assert_eq!(
            (r.out.as_str(), r.code),
            (
                format!("vadduser: user '{name}' successfully added\n").as_str(),
                0
            ),
            "{}",
            r.err
        );
        let dump = d.run("dumpvuser", &["--", name], b"", &[]).out;
        assert!(dump.contains(&format!("Directory: ./{dir}\n")), "{dump}");
        assert!(d.home.join(dir).join("new").is_dir(), "{dir}");
    }
    // NUL in a name, through the daemon: an error response, no crash.
    let mut c = d.cmd("vmailmgrd", &[], &[]);
    c.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = c.spawn().unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(&request(
            "adduser3",
            &["example.com", "a\0b", "secret", "pw", "", "yes"],
        ))
        .unwrap();
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(0));
    let r = responses(&o.stdout);
    assert_eq!(r.len(), 1);
    assert_ne!(r[0].0, 0, "{:?}", String::from_utf8_lossy(&r[0].1));
    // Logins: empty password, empty user, leading separator, unknown domain.
    for data in [
        &b"alice@example.com\0\0"[..],
        b"@example.com\0alicepw\0",
        b":example.com\0alicepw\0",
        b"alice@\0alicepw\0",
        b"\0alicepw\0",
    ] {
        assert_eq!(d.login(data, &["/bin/true", "x"]).code, 1, "{data:?}");
    }
    assert_eq!(
        d.login(b"alice@example.com\0alicepw\0", &["/bin/true", "x"])
            .code,
        0
    );
}

/// The opt-in instant mode: `mkvalidrcptto -w` picks up vadduser,
/// vaddalias and a new `.qmail` file within a second.
#[test]
fn mkvalidrcptto_watch_mode() {
    let d = Dom::new();
    d.run("vsetup", &[], b"", &[]);
    let mut w = d.cmd("mkvalidrcptto", &["-w", "100"], &[]);
    let mut child = w
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let cdb = d.root.join("var/qmail/control/validrcptto.cdb");
    let has = |k: &str| {
        std::fs::read(&cdb).ok().is_some_and(|b| {
            qmail::cdb::Reader::new(&b[..])
                .and_then(|r| r.contains(k.as_bytes()))
                .unwrap_or(false)
        })
    };
    let within_a_second = |k: &str| {
        let t = std::time::Instant::now();
        while t.elapsed() < std::time::Duration::from_millis(1000) {
            if has(k) {
                return true;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        false
    };
    let r = || {
        assert!(within_a_second("postmaster@example.com"));
        d.run("vadduser", &["-P", "newbox"], b"", &[]);
        assert!(within_a_second("newbox@example.com"));
        d.run("vaddalias", &["sales", "newbox"], b"", &[]);
        assert!(within_a_second("sales@example.com"));
        std::fs::write(d.home.join(".qmail-list"), "&x@y\n").unwrap();
        assert!(within_a_second("list@example.com"));
        d.run("vdeluser", &["sales"], b"", &[]);
        let t = std::time::Instant::now();
        while has("sales@example.com") && t.elapsed() < std::time::Duration::from_secs(1) {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        assert!(!has("sales@example.com"));
    };
    let res = std::panic::catch_unwind(std::panic::AssertUnwindSafe(r));
    let _ = child.kill();
    let _ = child.wait();
    if let Err(e) = res {
        std::panic::resume_unwind(e);
    }
}
