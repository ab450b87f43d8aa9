//! ucspi-tcp's small programs: addcr, delcr, argv0, fixcrio, recordio,
//! and the TLS patch's update_tmprsadh cron job (a no-op here).

use std::io::Write;
use std::process::{Command, Output, Stdio};

fn run(prog: &str, args: &[&str], input: &[u8]) -> Output {
    let mut child = Command::new(prog)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input).unwrap();
    child.wait_with_output().unwrap()
}

fn out(o: &Output) -> (Option<i32>, String, String) {
    (
        o.status.code(),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

const ADDCR: &str = env!("CARGO_BIN_EXE_addcr");
const DELCR: &str = env!("CARGO_BIN_EXE_delcr");
const ARGV0: &str = env!("CARGO_BIN_EXE_argv0");
const FIXCRIO: &str = env!("CARGO_BIN_EXE_fixcrio");
const RECORDIO: &str = env!("CARGO_BIN_EXE_recordio");

#[test]
fn addcr_and_delcr() {
    let o = run(ADDCR, &[], b"a\nb\r\nc");
    assert_eq!(out(&o), (Some(0), "a\r\nb\r\r\nc".into(), String::new()));
    let o = run(DELCR, &[], b"a\r\nb\r\rc\r");
    assert_eq!(out(&o), (Some(0), "a\nb\r\rc\r".into(), String::new()));
    let big: Vec<u8> = b"line\n".repeat(20_000);
    let o = run(ADDCR, &[], &big);
    let back = run(DELCR, &[], &o.stdout);
    assert_eq!(back.stdout, big);
}

#[test]
fn argv0_runs_under_another_name() {
    let o = run(ARGV0, &["/bin/sh", "renamed", "-c", "echo $0"], b"");
    assert_eq!(out(&o), (Some(0), "renamed\n".into(), String::new()));
    let o = run(ARGV0, &["sh"], b"");
    assert_eq!(
        out(&o),
        (
            Some(100),
            String::new(),
            "argv0: usage: argv0 realname program [ arg ... ]\n".into()
        )
    );
    let o = run(ARGV0, &["/nonexistent/prog", "x"], b"");
    assert_eq!(
        out(&o),
        (
            Some(111),
            String::new(),
            "argv0: fatal: unable to run /nonexistent/prog: file does not exist\n".into()
        )
    );
}

#[test]
fn fixcrio_fixes_both_directions() {
    let o = run(
        FIXCRIO,
        &["sh", "-c", "cat; printf 'x\\ny\\r\\n'; exit 3"],
        b"a\nb\r\n",
    );
    assert_eq!(
        out(&o),
        (Some(3), "a\r\nb\r\nx\r\ny\r\n".into(), String::new())
    );
    let o = run(FIXCRIO, &[], b"");
    assert_eq!(
        out(&o),
        (
            Some(100),
            String::new(),
            "fixcrio: usage: fixcrio program [ arg ... ]\n".into()
        )
    );
}

#[test]
fn recordio_logs_the_dialogue_under_the_programs_pid() {
    let o = run(
        RECORDIO,
        &["sh", "-c", "echo $$; read l; echo \"got $l\"; printf tail"],
        b"hello\n",
    );
    let (code, stdout, log) = out(&o);
    assert_eq!(code, Some(0), "{log}");
    let pid = stdout.lines().next().unwrap().to_string();
    assert_eq!(stdout, format!("{pid}\ngot hello\ntail"));
    let lines: Vec<&str> = log.lines().collect();
    for want in [
        format!("{pid} < hello "),
        format!("{pid} > got hello "),
        format!("{pid} > tail+"),
        format!("{pid} < [EOF]"),
        format!("{pid} > [EOF]"),
    ] {
        assert!(lines.contains(&want.as_str()), "{want:?} not in {log}");
    }
    let o = run(RECORDIO, &["/nonexistent/prog"], b"");
    let (code, _, log) = out(&o);
    assert_eq!(code, Some(111));
    // The relay still logs the ends it sees after the failed exec.
    assert!(
        log.contains("recordio: fatal: unable to run /nonexistent/prog: file does not exist\n"),
        "{log}"
    );
}

#[test]
fn update_tmprsadh_is_a_clean_no_op() {
    let o = run(env!("CARGO_BIN_EXE_update_tmprsadh"), &[], b"");
    assert_eq!(out(&o), (Some(0), String::new(), String::new()));
}
