//! checkvpw's hooks and failure classes (transcript §5): every refusal
//! sets CHECKVPW_ERROR and runs `checkvpw-loginfail` (login failures) or
//! `checkvpw-error` (bad data, temporary), global directory first; exit
//! codes 1 / 2 / 111; checkvpw itself prints nothing.

mod vmailmgr_support;

use vmailmgr_support::{Out, Site};

fn site() -> Site {
    let s = Site::caller();
    s.hook(
        "checkvpw-loginfail",
        "#!/bin/sh\necho \"[checkvpw-loginfail hook] CHECKVPW_ERROR=$CHECKVPW_ERROR VUSER=$VUSER\" >&2\nexit 0\n",
    );
    s.hook(
        "checkvpw-error",
        "#!/bin/sh\necho \"[checkvpw-error hook] CHECKVPW_ERROR=$CHECKVPW_ERROR\" >&2\nexit 0\n",
    );
    s.ok("vadduser", &["--password", "$0$alicepw", "alice"]);
    s.ok("vadduser", &["--password", "$0$heidipw", "heidi"]);
    s.ok("vchattr", &["-e", "1000000000", "heidi"]);
    s.ok("vaddalias", &["info", "alice"]);
    s
}

fn login(s: &Site, data: &[u8], args: &[&str], env: &[(&str, &str)]) -> Out {
    s.fd3("checkvpw", data, args, env)
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
        let r = login(&s, data, &ok, &[]);
        assert_eq!(
            (r.out.as_str(), r.err.as_str(), r.code),
            ("", *err, *code),
            "{}",
            String::from_utf8_lossy(data)
        );
    }
    let r = login(&s, &[b'x'; 513], &ok, &[]);
    assert_eq!(
        (r.err.as_str(), r.code),
        (
            "[checkvpw-error hook] CHECKVPW_ERROR=Read buffer too long\n",
            2
        )
    );
    let r = login(&s, b"", &[], &[]);
    assert_eq!(
        (r.err.as_str(), r.code),
        (
            "[checkvpw-error hook] CHECKVPW_ERROR=No subprogram given to execute\n",
            2
        )
    );
    let r = login(&s, b"alice@example.com\0alicepw\0", &["/bin/true"], &[]);
    assert_eq!(
        (r.err.as_str(), r.code),
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
        let r = login(&s, data, &ok, env);
        assert_eq!(
            (r.out.as_str(), r.code),
            ("./users/alice alice\n", 0),
            "{}",
            String::from_utf8_lossy(data)
        );
    }
    // A real user without ~/Maildir gets the error maildir.
    let r = login(&s, b"vmtest@local.example\0secret\0\0", &ok, &[]);
    assert_eq!(r.out, "/var/lib/vmailmgr/error-maildir/ \n");
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
    let Out { out, code, .. } = s.fd3(
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
    let Out { out, .. } = s.fd3(
        "authvmailmgr",
        b"",
        &["/bin/sh", "-c", "echo next $AUTHENTICATED"],
        &[("AUTHENTICATED", "bob")],
    );
    assert_eq!(out, "next bob\n");
    // A real user's login goes to the next module with the same data on fd 3.
    let data = b"imap\nlogin\nvmtest@localhost\nsecret\n";
    let Out { out, code, .. } = s.fd3("authvmailmgr", data, &["/bin/sh", "-c", "cat <&3"], &[]);
    assert_eq!((out.as_bytes(), code), (&data[..], 0));
    // Refusals: the hook sees AUTHVMAILMGR_ERROR; AUTHFAILURE without a chain to re-run.
    s.hook(
        "authvmailmgr-loginfail",
        "#!/bin/sh\necho \"hook: $AUTHVMAILMGR_ERROR\" >&2\n",
    );
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
        let Out { out, err: e, code } = s.fd3("authvmailmgr", data, &["/bin/echo", "NEXT"], &[]);
        assert_eq!(
            (out.as_str(), e, code),
            ("", format!("{err}AUTHFAILURE\n"), 1)
        );
    }
    let Out { out, .. } = s.fd3(
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
