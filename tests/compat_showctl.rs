//! Golden tests of qmail-showctl against temporary control directories
//! (`shared/spec/qmail/control.md` §6). The `.ref` files are in
//! `conformance/showctl/`.

use std::path::Path;
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_qmail-showctl");

fn run(root: &Path) -> (i32, String) {
    let out = Command::new(BIN)
        .env("QMAILRS_ROOT", root)
        .env("QMAILRS_SINGLE_USER", "1")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

fn control(files: &[(&str, &[u8])]) -> tempfile::TempDir {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("var/qmail/control");
    std::fs::create_dir_all(&dir).unwrap();
    for (name, bytes) in files {
        std::fs::write(dir.join(name), bytes).unwrap();
    }
    root
}

fn expected_header(root: &Path) -> String {
    let uid = nix::unistd::geteuid().as_raw();
    let gid = nix::unistd::getegid().as_raw();
    format!(
        "qmail home directory: {}/var/qmail.\nuser-ext delimiter: -.\n\
         paternalism (in decimal): 2.\nsilent concurrency limit: 120.\n\
         subdirectory split: 23.\nuser ids: {u}, {u}, {u}, {u}, {u}, {u}, {u}, {u}.\n\
         group ids: {gid}, {gid}.\n",
        root.display(),
        u = uid
    )
}

fn golden(name: &str) -> String {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("conformance/showctl")
        .join(name);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn assert_report(files: &[(&str, &[u8])], reference: &str) {
    let root = control(files);
    let (code, out) = run(root.path());
    assert_eq!(code, 0, "{out}");
    let header = expected_header(root.path());
    assert!(out.starts_with(&header), "header:\n{out}");
    let body = &out[header.len()..];
    let want = golden(reference);
    assert_eq!(
        body, want,
        "body differs from conformance/showctl/{reference}"
    );
}

#[test]
fn oracle_configuration() {
    assert_report(
        &[
            ("me", b"oracle.example\n"),
            ("defaultdomain", b"oracle.example\n"),
            ("plusdomain", b"oracle.example\n"),
            ("rcpthosts", b"oracle.example\nexample.org\n"),
            ("locals", b"oracle.example\nexample.org\nlocalhost\n"),
            (
                "badmailfrom",
                b"spammer@bad.example\n@badmailfrom.example\n",
            ),
            ("databytes", b"20000\n"),
            ("servercert.pem", b""),
        ],
        "oracle.ref",
    );
}

#[test]
fn empty_control_directory() {
    assert_report(&[], "empty.ref");
}

#[test]
fn quirks() {
    // Unprintable bytes as '?', a negative int shown as 0, a non-numeric
    // int as its default, comments dropped from lists, morercpthosts
    // without its cdb, an unknown file.
    assert_report(
        &[
            ("me", b"m\x01e.example \t\n"),
            ("concurrencylocal", b"3000000000\n"),
            ("concurrencyremote", b"x5\n"),
            ("timeoutsmtpd", b"30 seconds\n"),
            ("smtproutes", b"# routes\n:smart.example\n\nex.example:\n"),
            ("virtualdomains", b"virt.example:alias-virt\n"),
            ("morercpthosts", b"more.example\n"),
            ("notes", b"hello\n"),
        ],
        "quirks.ref",
    );
}

#[test]
fn unreadable_list_and_stale_cdb() {
    let root = control(&[
        ("rcpthosts", b"a.example\n"),
        ("morercpthosts", b"b.example\n"),
    ]);
    let dir = root.path().join("var/qmail/control");
    std::fs::create_dir(dir.join("locals")).unwrap();
    std::fs::write(dir.join("morercpthosts.cdb"), b"").unwrap();
    let old = std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1000);
    std::fs::File::options()
        .write(true)
        .open(dir.join("morercpthosts.cdb"))
        .unwrap()
        .set_modified(old)
        .unwrap();
    let (code, out) = run(root.path());
    assert_eq!(code, 0);
    assert!(
        out.contains("\nlocals: Oops! Trouble reading this file.\n"),
        "{out}"
    );
    assert!(out.contains(
        "\nmorercpthosts: \nSMTP clients may send messages to recipients at b.example.\n"
    ));
    assert!(
        out.contains("\nmorercpthosts.cdb: Oops! morercpthosts.cdb is older than morercpthosts.\n")
    );
    assert!(out.contains("\nme: (Default.) My name is undefined! Uh-oh.\n"));
}

#[test]
fn missing_control_directory() {
    let root = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(root.path().join("var/qmail")).unwrap();
    let (code, out) = run(root.path());
    assert_eq!(code, 111);
    assert!(
        out.ends_with("Oops! Unable to chdir to control.\n"),
        "{out}"
    );
    let root = tempfile::tempdir().unwrap();
    let (code, out) = run(root.path());
    assert_eq!(code, 111);
    assert!(
        out.ends_with(&format!(
            "Oops! Unable to chdir to {}/var/qmail.\n",
            root.path().display()
        )),
        "{out}"
    );
}

#[test]
fn unreadable_me_stops_the_report() {
    let root = control(&[]);
    std::fs::create_dir(root.path().join("var/qmail/control/me")).unwrap();
    let (code, out) = run(root.path());
    assert_eq!(code, 111);
    let header = expected_header(root.path());
    assert_eq!(&out[header.len()..], "Oops! Trouble reading control/me.");
}
