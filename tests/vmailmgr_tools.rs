//! vcheckquota and vpopbull as vmailmgr-tools ships them (vcheckquota.c,
//! vpopbull.c): every message and exit code, `<prog>: <text>` on stderr,
//! system errors with their strerror text.

mod vmailmgr_support;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use vmailmgr_support::{bin, Out};

fn run(prog: &str, home: &Path, args: &[&str], env: &[(&str, &str)], stdin: Option<&Path>) -> Out {
    let mut c = Command::new(bin(prog));
    c.args(args)
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .current_dir(home)
        .envs(env.iter().copied());
    c.stdin(match stdin {
        Some(p) => Stdio::from(std::fs::File::open(p).unwrap()),
        None => Stdio::null(),
    });
    Out::of(&c.output().unwrap())
}

fn maildir(p: &Path) {
    for d in ["cur", "new", "tmp"] {
        std::fs::create_dir_all(p.join(d)).unwrap();
    }
}

const UNLIMITED: [(&str, &str); 5] = [
    ("MAILDIR", "Maildir"),
    ("VUSER_MSGSIZE", "-"),
    ("VUSER_MSGCOUNT", "-"),
    ("VUSER_HARDQUOTA", "-"),
    ("VUSER_SOFTQUOTA", "-"),
];

fn limits(over: &[(&'static str, &'static str)]) -> Vec<(&'static str, &'static str)> {
    UNLIMITED
        .iter()
        .map(|&(k, v)| over.iter().find(|o| o.0 == k).copied().unwrap_or((k, v)))
        .collect()
}

#[test]
fn vcheckquota_messages_and_codes() {
    let t = tempfile::tempdir().unwrap();
    let h = t.path();
    maildir(&h.join("Maildir"));
    let msg = h.join("message");
    std::fs::write(&msg, vec![b'x'; 10000]).unwrap();
    let small = h.join("small");
    std::fs::write(&small, "Subject: hi\n\nhi\n").unwrap();
    let q =
        |env: &[(&str, &str)], args: &[&str], m: &Path| run("vcheckquota", h, args, env, Some(m));

    let r = q(&[], &[], &msg);
    assert_eq!(
        (r.err.as_str(), r.code),
        ("vcheckquota: MAILDIR is not set\n", 111)
    );
    let r = q(&[("MAILDIR", "")], &[], &msg);
    assert_eq!(
        (r.err.as_str(), r.code),
        ("vcheckquota: MAILDIR is empty\n", 111)
    );
    let r = q(&[("MAILDIR", "Maildir")], &[], &msg);
    assert_eq!(
        (r.err.as_str(), r.code),
        ("vcheckquota: VUSER_MSGSIZE is not set\n", 111)
    );
    let r = q(&limits(&[("VUSER_SOFTQUOTA", "12k")]), &[], &msg);
    assert_eq!(
        (r.err.as_str(), r.code),
        ("vcheckquota: VUSER_SOFTQUOTA is not a valid number\n", 111)
    );
    let r = q(&UNLIMITED, &[], &msg);
    assert_eq!((r.err.as_str(), r.code), ("", 0));

    let r = q(&limits(&[("VUSER_MSGSIZE", "10")]), &[], &msg);
    assert_eq!(
        (r.err.as_str(), r.code),
        ("vcheckquota: Sorry, this message is larger than the current maximum message size limit.\n\n", 100)
    );
    std::fs::write(h.join("Maildir/cur/1.1.h:2,S"), "a").unwrap();
    std::fs::write(h.join("Maildir/new/2.2.h"), "b").unwrap();
    let r = q(&limits(&[("VUSER_MSGCOUNT", "2")]), &[], &small);
    assert_eq!(
        (r.err.as_str(), r.code),
        ("vcheckquota: Sorry, the person you sent this message has too many messages stored in the mailbox\n\n", 100)
    );
    // IMAP folders count too.
    maildir(&h.join("Maildir/.Sent"));
    std::fs::write(h.join("Maildir/.Sent/cur/3.3.h:2,S"), "c").unwrap();
    let r = q(&limits(&[("VUSER_MSGCOUNT", "3")]), &[], &small);
    assert_eq!(r.code, 100);
    let r = q(&limits(&[("VUSER_MSGCOUNT", "4")]), &[], &small);
    assert_eq!((r.err.as_str(), r.code), ("", 0));

    let r = q(&limits(&[("VUSER_HARDQUOTA", "100")]), &[], &small);
    assert_eq!(
        (r.err.as_str(), r.code),
        (
            "vcheckquota: Message would exceed virtual user's disk quota.\n\n",
            100
        )
    );
    // A soft quota alone acts as the hard one.
    let r = q(&limits(&[("VUSER_SOFTQUOTA", "100")]), &[], &small);
    assert_eq!(r.code, 100);
    assert!(r.err.contains("disk quota.\n"));
    // Over the soft quota: large messages refused, the warning linked each time.
    let over = [("VUSER_SOFTQUOTA", "100"), ("VUSER_HARDQUOTA", "100000000")];
    let warn = h.join("warning.txt");
    std::fs::write(&warn, "Subject: quota\n\n").unwrap();
    let r = q(&limits(&over), &["-m", warn.to_str().unwrap()], &msg);
    assert_eq!(
        (r.err.as_str(), r.code),
        ("vcheckquota: Sorry, your message cannot be delivered.\nUser's disk quota exceeded.\nA small message will be delivered should you wish to inform this person.\n\n", 100)
    );
    let links: Vec<PathBuf> = std::fs::read_dir(h.join("Maildir/new"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.to_string_lossy().ends_with(".softquota-warning"))
        .collect();
    assert_eq!(links.len(), 1);
    assert_eq!(std::fs::read_link(&links[0]).unwrap(), warn);
    let r = q(&limits(&over), &["--soft-maxsize=1000000"], &msg);
    assert_eq!((r.err.as_str(), r.code), ("", 0));
    let r = q(&limits(&over), &[], &small);
    assert_eq!(r.code, 0);

    // A folder that is not a maildir: a temporary failure.
    std::fs::create_dir(h.join("Maildir/junk")).unwrap();
    let r = q(&limits(&[("VUSER_HARDQUOTA", "100000000")]), &[], &small);
    assert_eq!(
        (r.err.clone(), r.code),
        (
            "vcheckquota: Cannot stat 'Maildir/junk/cur': No such file or directory\n".to_string(),
            111
        )
    );
    // A missing maildir, only looked at when a limit needs it.
    let r = q(
        &limits(&[("MAILDIR", "gone"), ("VUSER_MSGCOUNT", "5")]),
        &[],
        &small,
    );
    assert_eq!(
        (r.err.as_str(), r.code),
        (
            "vcheckquota: Cannot stat 'gone': No such file or directory\n",
            111
        )
    );
    let r = q(&limits(&[("MAILDIR", "gone")]), &[], &small);
    assert_eq!(r.code, 0);

    let r = run("vcheckquota", h, &["--help"], &[], None);
    assert_eq!(r.code, 0);
    assert!(r.out.starts_with(
        "usage: vcheckquota [flags] \nvmailmgr quota enforcement program\n  -a, --soft-maxsize=UNS    The maximum message size after soft quota is reached\n"
    ), "{}", r.out);
    assert!(r.out.ends_with("result in multiple warning messages.\n"));
    let r = run("vcheckquota", h, &["extra"], &[], None);
    assert_eq!(
        (r.err.as_str(), r.code),
        ("vcheckquota: Too many command-line arguments\n", 1)
    );
}

#[test]
fn vpopbull_messages_and_links() {
    let t = tempfile::tempdir().unwrap();
    let h = t.path();
    maildir(&h.join("users/u"));
    std::fs::create_dir(h.join("bulletins")).unwrap();
    std::fs::write(h.join("bulletins/news"), "Subject: news\n\nhi\n").unwrap();
    std::fs::write(h.join("bulletins/.hidden"), "x").unwrap();
    let home = h.to_str().unwrap();
    let env = [("HOME", home), ("MAILDIR", "./users/u")];
    let p = |args: &[&str], env: &[(&str, &str)]| run("vpopbull", Path::new("/"), args, env, None);

    let r = p(&["bulletins"], &[]);
    assert_eq!(
        (r.err.as_str(), r.code),
        ("vpopbull: $HOME is not set\n", 1)
    );
    let r = p(&["bulletins"], &[("HOME", home)]);
    assert_eq!(
        (r.err.as_str(), r.code),
        ("vpopbull: $MAILDIR is not set\n", 1)
    );
    let r = p(
        &["bulletins"],
        &[("HOME", "/nonexistent/home"), ("MAILDIR", "x")],
    );
    assert_eq!(
        (r.err.as_str(), r.code),
        (
            "vpopbull: Can't change to home directory: No such file or directory\n",
            1
        )
    );
    let r = p(&[], &env);
    assert_eq!(
        (r.err.as_str(), r.code),
        ("vpopbull: Too few command-line arguments\n", 1)
    );
    assert!(r
        .out
        .starts_with("usage: vpopbull [flags] bulletin-dir [bulletin-dir2 ...] [-- command]\n"));
    let r = p(&["nope"], &env);
    assert_eq!(
        (r.err.as_str(), r.code),
        (
            "vpopbull: Can't open bulletin directory 'nope': No such file or directory\n",
            111
        )
    );

    let r = p(&["bulletins"], &env);
    assert_eq!((r.err.as_str(), r.code), ("", 0));
    let new: Vec<PathBuf> = std::fs::read_dir(h.join("users/u/new"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    assert_eq!(new.len(), 1);
    // One `../` per `/` in "./users/u/new".
    assert_eq!(
        std::fs::read_link(&new[0]).unwrap(),
        PathBuf::from("../../../bulletins/news")
    );
    assert_eq!(
        std::fs::read_to_string(&new[0]).unwrap(),
        "Subject: news\n\nhi\n"
    );
    let stamp = h.join("users/u/.timestamp");
    assert_eq!(
        std::fs::metadata(&stamp).unwrap().permissions().mode() & 0o777,
        0o600
    );
    // Nothing newer than the timestamp; then the command after `--` runs.
    let r = p(
        &["bulletins", "--", "/bin/sh", "-c", "echo ran; exit 7"],
        &env,
    );
    assert_eq!((r.out.as_str(), r.code), ("ran\n", 7));
    assert_eq!(std::fs::read_dir(h.join("users/u/new")).unwrap().count(), 1);
    let r = p(&["bulletins", "--", "/nonexistent/prog"], &env);
    assert_eq!(
        (r.err.as_str(), r.code),
        (
            "vpopbull: Execution of '/nonexistent/prog' failed: No such file or directory\n",
            111
        )
    );
    // A newer bulletin in an absolute directory is linked by its absolute path.
    std::fs::create_dir(h.join("global")).unwrap();
    std::fs::write(h.join("global/g1"), "Subject: g\n\n").unwrap();
    let old = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
    std::fs::File::options()
        .write(true)
        .open(&stamp)
        .unwrap()
        .set_modified(old)
        .unwrap();
    let g = h.join("global");
    let r = p(&[g.to_str().unwrap()], &env);
    assert_eq!(r.code, 0);
    let targets: Vec<PathBuf> = std::fs::read_dir(h.join("users/u/new"))
        .unwrap()
        .flatten()
        .map(|e| std::fs::read_link(e.path()).unwrap())
        .collect();
    assert!(targets.contains(&g.join("g1")), "{targets:?}");
}
