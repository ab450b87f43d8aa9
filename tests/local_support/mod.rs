//! Shared set-up of the local delivery tests: temporary roots with a
//! stand-in or a real qmail-queue, and running a tool with the message in
//! a regular file (as qmail-local gives it).
#![allow(dead_code)]

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The directory of the built programs.
pub fn bin_dir() -> PathBuf {
    Path::new(env!("CARGO_BIN_EXE_qmail-queue"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// A temporary root whose qmail-queue is a stand-in: the message goes to
/// `<root>/qq.msg`, the envelope to `<root>/qq.env`.
pub fn root_with_qq() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    let bin = d.path().join("var/qmail/bin");
    fs::create_dir_all(&bin).unwrap();
    let qq = bin.join("qmail-queue");
    fs::write(
        &qq,
        format!(
            "#!/bin/sh\ncat > {0}/qq.msg\ncat <&1 > {0}/qq.env\n",
            d.path().display()
        ),
    )
    .unwrap();
    fs::set_permissions(&qq, fs::Permissions::from_mode(0o755)).unwrap();
    d
}

/// A temporary root with a real queue and our qmail-queue.
pub fn root_with_queue() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    let home = d.path().join("var/qmail");
    qmail::hier::install(&home).unwrap();
    qmail::hier::link_programs(&home, &bin_dir()).unwrap();
    fs::write(home.join("control/me"), "example.org\n").unwrap();
    d
}

/// `exe args...` under `root` (single-user mode) with `env` added and
/// `input` on standard input.
pub fn run(exe: &str, args: &[&str], root: &Path, env: &[(&str, &str)], input: &[u8]) -> Output {
    let msg = root.join("in.msg");
    fs::write(&msg, input).unwrap();
    let mut c = Command::new(exe);
    c.args(args)
        .env("QMAILRS_ROOT", root)
        .env("QMAILRS_SINGLE_USER", "1")
        .env_remove("QMAILQUEUE")
        .stdin(fs::File::open(&msg).unwrap())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().unwrap()
}

pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}
