//! qmail-local end to end: the `.qmail` rules of `shared/spec/qmail/local.md`
//! §2, run against the real binary in a temporary home.

mod local_support;

use std::fs;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const MSG: &[u8] = b"From: a@b\nSubject: hi\n\nFrom the body\n>From quoted\nlast";

struct Env {
    home: tempfile::TempDir,
    root: tempfile::TempDir,
}

struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

fn env() -> Env {
    let home = tempfile::tempdir().unwrap();
    fs::set_permissions(home.path(), fs::Permissions::from_mode(0o755)).unwrap();
    // A stand-in qmail-queue: message to qq.msg, envelope to qq.env.
    let root = local_support::root_with_qq();
    Env { home, root }
}

impl Env {
    fn h(&self) -> &Path {
        self.home.path()
    }
    fn qmail(&self, name: &str, text: &str) {
        let p = self.h().join(name);
        if let Some(d) = p.parent() {
            fs::create_dir_all(d).unwrap();
        }
        fs::write(&p, text).unwrap();
        fs::set_permissions(&p, fs::Permissions::from_mode(0o644)).unwrap();
    }
    fn maildir(&self, name: &str) -> PathBuf {
        let d = self.h().join(name);
        for s in ["tmp", "new", "cur"] {
            fs::create_dir_all(d.join(s)).unwrap();
        }
        d
    }
    fn run(&self, opts: &[&str], local: &str, dash: &str, ext: &str, sender: &str) -> Out {
        self.run_default(opts, local, dash, ext, sender, "./Mailbox")
    }
    fn run_default(
        &self,
        opts: &[&str],
        local: &str,
        dash: &str,
        ext: &str,
        sender: &str,
        default: &str,
    ) -> Out {
        let msgfile = self.root.path().join("msg");
        fs::write(&msgfile, MSG).unwrap();
        let mut c = Command::new(env!("CARGO_BIN_EXE_qmail-local"));
        c.args(opts)
            .arg("--")
            .arg("joe")
            .arg(self.h())
            .args([local, dash, ext, "example.org", sender, default])
            .env("QMAILRS_ROOT", self.root.path())
            .env("QMAILRS_SINGLE_USER", "1")
            .env_remove("QMAILQUEUE")
            .env_remove("DEFAULT")
            .stdin(fs::File::open(&msgfile).unwrap())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let o = c.output().unwrap();
        Out {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
    fn read(&self, name: &str) -> String {
        fs::read_to_string(self.h().join(name)).unwrap_or_default()
    }
}

fn new_files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<_> = fs::read_dir(dir.join("new"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    v.sort();
    v
}

#[test]
fn lookup_order_table() {
    // (files present, dash, ext, file expected to match, DEFAULT)
    type Row<'a> = (&'a [&'a str], &'a str, &'a str, &'a str, Option<&'a str>);
    let table: &[Row] = &[
        (
            &[".qmail-foo-bar", ".qmail-foo-default", ".qmail-default"],
            "-",
            "foo-bar",
            ".qmail-foo-bar",
            None,
        ),
        (
            &[".qmail-foo-default", ".qmail-default"],
            "-",
            "foo-bar",
            ".qmail-foo-default",
            Some("bar"),
        ),
        (
            &[".qmail-default"],
            "-",
            "foo-bar",
            ".qmail-default",
            Some("foo-bar"),
        ),
        (
            &[".qmail-a-b-default", ".qmail-a-default"],
            "-",
            "a-b-c-d",
            ".qmail-a-b-default",
            Some("c-d"),
        ),
        (
            &[".qmail-a-default"],
            "-",
            "a-b-c-d",
            ".qmail-a-default",
            Some("b-c-d"),
        ),
        (
            &[".qmail-a-b-default", ".qmail-a-default"],
            "-",
            "a-b-",
            ".qmail-a-b-default",
            Some(""),
        ),
        (&[".qmail-a-b-"], "-", "a-b-", ".qmail-a-b-", None),
        (&[".qmail-", ".qmail-default"], "-", "", ".qmail-", None),
        (&[".qmail-default"], "-", "", ".qmail-default", Some("")),
        // Extensions are lowercased and `.` becomes `:`; DEFAULT keeps case.
        (
            &[".qmail-x:y-default"],
            "-",
            "X.Y-Zed",
            ".qmail-x:y-default",
            Some("Zed"),
        ),
        // An exact name that ends in "default".
        (
            &[".qmail-list-default"],
            "-",
            "list-default",
            ".qmail-list-default",
            Some("default"),
        ),
        // The user's own address: .qmail, then .qmaildefault.
        (&[".qmail", ".qmaildefault"], "", "", ".qmail", None),
        (&[".qmaildefault"], "", "", ".qmaildefault", Some("")),
    ];
    for (files, dash, ext, want, default) in table {
        let e = env();
        for f in *files {
            e.qmail(
                f,
                &format!("# {f}\n|echo {f} \"${{DEFAULT-unset}}\" >> trace   \n"),
            );
        }
        let o = e.run(&[], "joe-x", dash, ext, "s@x");
        assert_eq!(o.code, 0, "{files:?} {ext}: {}", o.stderr);
        assert_eq!(o.stdout, "did 0+0+1\n");
        let want_line = format!("{want} {}\n", default.unwrap_or("unset"));
        assert_eq!(e.read("trace"), want_line, "{files:?} ext {ext}");
    }
}

#[test]
fn no_mailbox_and_default_delivery() {
    let e = env();
    let o = e.run(&[], "joe-nope", "-", "nope", "s@x");
    assert_eq!(o.code, 100);
    assert_eq!(o.stderr, "Sorry, no mailbox here by that name. (#5.1.1)\n");
    // Empty dash, no .qmail: the default delivery argument.
    let md = e.maildir("Maildir");
    let o = e.run_default(&[], "joe", "", "", "s@x", "./Maildir/");
    assert_eq!(
        (o.code, o.stdout.as_str()),
        (0, "did 1+0+0\n"),
        "{}",
        o.stderr
    );
    assert_eq!(new_files(&md).len(), 1);
    // An empty .qmail also means the default delivery.
    e.qmail(".qmail", "");
    let o = e.run_default(&[], "joe", "", "", "s@x", "./Maildir/");
    assert_eq!(o.code, 0);
    assert_eq!(new_files(&md).len(), 2);
}

#[test]
fn maildir_bytes_and_name() {
    let e = env();
    let md = e.maildir("Maildir");
    e.qmail(".qmail-box", "./Maildir/\n");
    let o = e.run(&[], "joe-box", "-", "box", "sender@remote.example");
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(o.stdout, "did 1+0+0\n");
    let f = new_files(&md);
    assert_eq!(f.len(), 1);
    let mut want =
        b"Return-Path: <sender@remote.example>\nDelivered-To: joe-box@example.org\n".to_vec();
    want.extend_from_slice(MSG);
    assert_eq!(fs::read(&f[0]).unwrap(), want);
    let name = f[0].file_name().unwrap().to_str().unwrap().to_string();
    let parts: Vec<&str> = name.splitn(3, '.').collect();
    assert!(
        parts[0].parse::<u64>().is_ok() && parts[1].parse::<u32>().is_ok(),
        "{name}"
    );
    assert!(!name.contains(':'));
    assert_eq!(fs::read_dir(md.join("tmp")).unwrap().count(), 0);
}

#[test]
fn mbox_from_line_quoting_and_separator() {
    let e = env();
    e.qmail(".qmail-mb", "./Mailbox\n");
    let o = e.run(&[], "joe-mb", "-", "mb", "");
    assert_eq!(o.code, 0, "{}", o.stderr);
    let o2 = e.run(&[], "joe-mb", "-", "mb", "a b@c");
    assert_eq!(o2.code, 0);
    let got = e.read("Mailbox");
    let entries: Vec<&str> = got.split_inclusive("last\n\n").collect();
    assert_eq!(entries.len(), 2);
    let first = entries[0];
    assert!(first.starts_with("From MAILER-DAEMON "), "{first}");
    let body = first.split_once('\n').unwrap().1;
    assert_eq!(
        body,
        "Return-Path: <>\nDelivered-To: joe-mb@example.org\nFrom: a@b\nSubject: hi\n\n>From the body\n>>From quoted\nlast\n\n"
    );
    assert!(entries[1].starts_with("From a-b@c "));
    assert!(entries[1].contains("Return-Path: <\"a b\"@c>\n"));
    let mode = fs::metadata(e.h().join("Mailbox"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
}

#[test]
fn program_environment() {
    let e = env();
    e.qmail(".qmail-a-default", "|env > env.out\n");
    e.qmail(".qmail-a-b-c-owner", "x\n");
    let o = e.run(&[], "joe-a-b-c", "-", "a-b-c", "s@x.y");
    assert_eq!(o.code, 0, "{}", o.stderr);
    let env_out = e.read("env.out");
    let get = |k: &str| -> Option<String> {
        let p = format!("{k}=");
        let mut lines = env_out.split('\n');
        let mut val: Option<String> = None;
        while let Some(l) = lines.next() {
            if let Some(v) = l.strip_prefix(&p) {
                let mut v = v.to_string();
                // Values with an LF continue on the next line.
                if k.ends_with("LINE") {
                    v.push('\n');
                    let _ = lines.next();
                }
                val = Some(v);
            }
        }
        val
    };
    let h = e.h().to_str().unwrap().to_string();
    let want: &[(&str, &str)] = &[
        ("USER", "joe"),
        ("HOME", &h),
        ("LOCAL", "joe-a-b-c"),
        ("HOST", "example.org"),
        ("RECIPIENT", "joe-a-b-c@example.org"),
        ("SENDER", "s@x.y"),
        ("NEWSENDER", "joe-a-b-c-owner@example.org"),
        ("DTLINE", "Delivered-To: joe-a-b-c@example.org\n"),
        ("RPLINE", "Return-Path: <s@x.y>\n"),
        ("EXT", "a-b-c"),
        ("EXT2", "b-c"),
        ("EXT3", "c"),
        ("EXT4", ""),
        ("HOST2", "example"),
        ("HOST3", "example"),
        ("HOST4", "example"),
        ("DEFAULT", "b-c"),
    ];
    for (k, v) in want {
        assert_eq!(get(k).as_deref(), Some(*v), "{k}");
    }
    let uf = get("UFLINE").unwrap();
    assert!(uf.starts_with("From s@x.y ") && uf.ends_with('\n'), "{uf}");
}

#[test]
fn verp_newsender_and_owner_rules() {
    let e = env();
    e.qmail(".qmail-l", "|echo \"$NEWSENDER\" > ns\n");
    e.qmail(".qmail-l-owner", "x\n");
    e.qmail(".qmail-l-owner-default", "x\n");
    assert_eq!(e.run(&[], "joe-l", "-", "l", "s@x").code, 0);
    assert_eq!(e.read("ns"), "joe-l-owner-@example.org-@[]\n");
    assert_eq!(e.run(&[], "joe-l", "-", "l", "").code, 0);
    assert_eq!(e.read("ns"), "\n");
    assert_eq!(e.run(&[], "joe-l", "-", "l", "#@[]").code, 0);
    assert_eq!(e.read("ns"), "#@[]\n");
}

#[test]
fn program_exit_codes() {
    // (exit, qmail-local exit, stdout)
    let table: &[(&str, i32, &str)] = &[
        ("exit 0", 0, "did 0+0+2\n"),
        ("exit 99", 0, "did 0+0+1\n"),
        ("exit 100", 100, ""),
        ("exit 64", 100, ""),
        ("exit 65", 100, ""),
        ("exit 70", 100, ""),
        ("exit 76", 100, ""),
        ("exit 77", 100, ""),
        ("exit 78", 100, ""),
        ("exit 112", 100, ""),
        ("exit 1", 111, ""),
        ("exit 111", 111, ""),
        ("exit 2", 111, ""),
    ];
    for (cmd, code, out) in table {
        let e = env();
        e.qmail(".qmail-p", &format!("|{cmd}\n|echo second > second\n"));
        let o = e.run(&[], "joe-p", "-", "p", "s@x");
        assert_eq!(o.code, *code, "{cmd}: {}", o.stderr);
        assert_eq!(o.stdout, *out, "{cmd}");
    }
    let e = env();
    e.qmail(".qmail-p", "|echo oops; kill -9 $$\n");
    let o = e.run(&[], "joe-p", "-", "p", "s@x");
    assert_eq!(o.code, 111);
    assert_eq!(o.stdout, "oops\n");
    assert_eq!(o.stderr, "Aack, child crashed. (#4.3.0)\n");
    // Program output is part of the report; stdin is the message.
    let e = env();
    e.qmail(".qmail-p", "|head -1; echo bad >&2; exit 100\n");
    let o = e.run(&[], "joe-p", "-", "p", "s@x");
    assert_eq!(
        (o.code, o.stdout.as_str(), o.stderr.as_str()),
        (100, "From: a@b\n", "bad\n")
    );
}

#[test]
fn exit_99_still_sends_forwards_and_forward_injection() {
    let e = env();
    e.qmail(".qmail-f", "&one@x\ntwo@y\n|exit 99\nthree@z\n");
    let o = e.run(&[], "joe-f", "-", "f", "s@x");
    assert_eq!(o.code, 0, "{}", o.stderr);
    let mut lines = o.stdout.lines();
    assert_eq!(lines.next(), Some("did 0+2+1"));
    assert!(lines.next().unwrap().starts_with("qp "));
    let env_bytes = fs::read(e.root.path().join("qq.env")).unwrap();
    assert_eq!(env_bytes, b"Fs@x\0Tone@x\0Ttwo@y\0\0");
    let mut want = b"Delivered-To: joe-f@example.org\n".to_vec();
    want.extend_from_slice(MSG);
    assert_eq!(fs::read(e.root.path().join("qq.msg")).unwrap(), want);
}

#[test]
fn forward_qq_failure() {
    let e = env();
    let qq = e.root.path().join("var/qmail/bin/qmail-queue");
    fs::write(&qq, "#!/bin/sh\ncat >/dev/null\nexit 31\n").unwrap();
    e.qmail(".qmail-f", "a@b\n");
    let o = e.run(&[], "joe-f", "-", "f", "s@x");
    assert_eq!(o.code, 100);
    assert_eq!(
        o.stderr,
        "Unable to forward message: mail server permanently rejected message (#5.3.0).\n"
    );
    fs::write(&qq, "#!/bin/sh\ncat >/dev/null\nexit 53\n").unwrap();
    let o = e.run(&[], "joe-f", "-", "f", "s@x");
    assert_eq!(o.code, 111);
    assert_eq!(
        o.stderr,
        "Unable to forward message: qq write error or disk full (#4.3.0).\n"
    );
}

#[test]
fn bad_input_messages() {
    let cases: &[(&str, &str, i32, &str)] = &[
        (
            "\n./Maildir/\n",
            "",
            111,
            "Uh-oh: first line of .qmail file is blank. (#4.2.1)\n",
        ),
        (
            "./nodir/\n",
            "",
            111,
            "Unable to chdir to maildir. (#4.2.1)\n",
        ),
        (
            "./nodir/mbox\n",
            "",
            111,
            "Unable to open ./nodir/mbox: file does not exist. (#4.2.1)\n",
        ),
        (
            "+list\n./Maildir/\n",
            "",
            111,
            "Uh-oh: .qmail has file delivery but has x bit set. (#4.7.0)\n",
        ),
        (
            "+list\n|true\n",
            "",
            111,
            "Uh-oh: .qmail has prog delivery but has x bit set. (#4.7.0)\n",
        ),
        ("+other\n# c\n\n|true\n", "did 0+0+1\n", 0, ""),
    ];
    for (text, out, code, err) in cases {
        let e = env();
        e.qmail(".qmail-z", text);
        let o = e.run(&[], "joe-z", "-", "z", "s@x");
        assert_eq!(
            (o.code, o.stdout.as_str(), o.stderr.as_str()),
            (*code, *out, *err),
            "{text:?}"
        );
    }
    // x bit: forward only.
    let e = env();
    e.qmail(".qmail-z", "|true\n");
    fs::set_permissions(e.h().join(".qmail-z"), fs::Permissions::from_mode(0o744)).unwrap();
    let o = e.run(&[], "joe-z", "-", "z", "s@x");
    assert_eq!(
        o.stderr,
        "Uh-oh: .qmail has prog delivery but has x bit set. (#4.7.0)\n"
    );
    // World-writable .qmail and home.
    let e = env();
    e.qmail(".qmail-z", "|true\n");
    fs::set_permissions(e.h().join(".qmail-z"), fs::Permissions::from_mode(0o646)).unwrap();
    let o = e.run(&[], "joe-z", "-", "z", "s@x");
    assert_eq!(
        (o.code, o.stderr.as_str()),
        (111, "Uh-oh: .qmail file is writable. (#4.7.0)\n")
    );
    fs::set_permissions(e.h().join(".qmail-z"), fs::Permissions::from_mode(0o644)).unwrap();
    fs::set_permissions(e.h(), fs::Permissions::from_mode(0o757)).unwrap();
    let o = e.run(&[], "joe-z", "-", "z", "s@x");
    assert_eq!(
        (o.code, o.stderr.as_str()),
        (111, "Uh-oh: home directory is writable. (#4.7.0)\n")
    );
    fs::set_permissions(e.h(), fs::Permissions::from_mode(0o1755)).unwrap();
    let o = e.run(&[], "joe-z", "-", "z", "s@x");
    assert_eq!(
        (o.code, o.stderr.as_str()),
        (
            111,
            "Home directory is sticky: user is editing his .qmail file. (#4.2.1)\n"
        )
    );
    fs::set_permissions(e.h(), fs::Permissions::from_mode(0o755)).unwrap();
    // A slash in the extension is only a file name inside home.
    let o = e.run(&[], "joe-../x", "-", "../x", "s@x");
    assert_eq!(
        (o.code, o.stderr.as_str()),
        (100, "Sorry, no mailbox here by that name. (#5.1.1)\n")
    );
}

#[test]
fn loop_detection() {
    let e = env();
    e.qmail(".qmail-l", "|true\n");
    let msgfile = e.root.path().join("loopmsg");
    fs::write(
        &msgfile,
        b"Delivered-To: joe-l@example.org\nSubject: x\n\nbody\n",
    )
    .unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_qmail-local"))
        .args(["--", "joe"])
        .arg(e.h())
        .args(["joe-l", "-", "l", "example.org", "s@x", "./Mailbox"])
        .stdin(fs::File::open(&msgfile).unwrap())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(100));
    assert_eq!(
        o.stderr,
        b"This message is looping: it already has my Delivered-To line. (#5.4.6)\n"
    );
}

#[test]
fn dash_n_prints_instructions() {
    let e = env();
    e.qmail(".qmail-n", "./Maildir/\n./mbox\n|cmd arg\n&fw@x\nbare@y\n");
    let o = e.run(&["-n"], "joe-n", "-", "n", "s@x");
    assert_eq!(o.code, 0);
    assert_eq!(
        o.stdout,
        "maildir ./Maildir/\nmbox ./mbox\nprogram cmd arg\nforward fw@x\nforward bare@y\ndid 2+2+1\n"
    );
}

#[test]
fn usage_errors() {
    let o = Command::new(env!("CARGO_BIN_EXE_qmail-local"))
        .args(["a", "relative", "c", "d", "e", "f", "g", "h"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(100));
    assert_eq!(
        o.stderr,
        b"qmail-local: usage: qmail-local [ -nN ] user homedir local dash ext domain sender aliasempty\n"
    );
    let mut c = Command::new(env!("CARGO_BIN_EXE_qmail-local"));
    let o = c.arg("x").output().unwrap();
    assert_eq!(o.status.code(), Some(100));
    let _ = std::io::stdout().flush();
}
