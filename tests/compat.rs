//! COMPAT.md is complete and truthful, and `conformance/known-differences`
//! matches it: every program, format and protocol has a row with a valid
//! status; a binary in `src/bin/` without a row is reported; a `partial`/`done` program
//! has its binary and names tests that exist; each known-differences case
//! appears in COMPAT.md and each case COMPAT.md cites is listed.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use qmail::conformance::setup::known_differences;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

struct Row {
    section: String,
    item: String,
    status: String,
    tests: String,
    diffs: String,
}

fn rows() -> Vec<Row> {
    let text = std::fs::read_to_string(repo().join("COMPAT.md")).unwrap();
    let mut section = String::new();
    let mut out = Vec::new();
    for line in text.lines() {
        if let Some(s) = line.strip_prefix("## ") {
            section = s.to_string();
            continue;
        }
        let Some(body) = line.strip_prefix("| ") else {
            continue;
        };
        let cols: Vec<&str> = body.trim_end_matches(" |").split(" | ").collect();
        if cols.len() != 4 || cols[1] == "status" || cols[0].starts_with("---") {
            continue;
        }
        out.push(Row {
            section: section.clone(),
            item: cols[0].to_string(),
            status: cols[1].to_string(),
            tests: cols[2].to_string(),
            diffs: cols[3].to_string(),
        });
    }
    out
}

fn first_word(s: &str) -> &str {
    s.split_whitespace().next().unwrap_or("")
}

/// The backticked words of a cell.
fn ticks(s: &str) -> Vec<&str> {
    s.split('`').skip(1).step_by(2).collect()
}

fn program_rows(rows: &[Row]) -> impl Iterator<Item = &Row> {
    rows.iter()
        .filter(|r| r.section.contains("programs") || r.section.contains("additions"))
}

#[test]
fn every_row_has_a_valid_status() {
    let rows = rows();
    assert!(rows.len() > 100, "{} rows", rows.len());
    for r in &rows {
        assert!(
            matches!(r.status.as_str(), "missing" | "partial" | "done"),
            "{}: status {:?}",
            r.item,
            r.status
        );
        if r.status != "missing" {
            assert_ne!(r.tests, "—", "{} is {} but names no test", r.item, r.status);
        }
    }
}

#[test]
fn every_original_program_has_a_row() {
    let rows = rows();
    let names: BTreeSet<&str> = program_rows(&rows).map(|r| first_word(&r.item)).collect();
    let required = "qmail-start qmail-send qmail-lspawn qmail-rspawn qmail-clean qmail-getpw \
        qmail-local qmail-remote qmail-queue qmail-inject sendmail predate datemail mailsubj \
        qmail-smtpd qmail-qmtpd qmail-qmqpd qmail-qmqpc qmail-popup qmail-pop3d qmail-newu \
        qmail-newmrh qmail-pw2u qmail-showctl qmail-qread qmail-qstat qmail-tcpto qmail-tcpok \
        splogger tcp-env forward condredirect bouncesaying except preline qbiff qreceipt qsmhook \
        maildirmake maildir2mbox maildirwatch qail elq pinq update_tmprsadh \
        vsetup vadduser vaddalias vaddusers vdeluser vpasswd vpasswds vchattr vchforwards \
        listvdomain dumpvuser showvconfig vrehash vupgrade vconf2dir vdeliver checkvpw \
        vauthenticate vmailmgrd authvmailmgr vcheckquota vpopbull \
        tcpserver tcprules tcprulescheck tcpclient rblsmtpd recordio argv0 addcr delcr fixcrio \
        mconnect mconnect-io tcpcat who@ date@ finger@ http@";
    for name in required.split_whitespace() {
        assert!(names.contains(name), "COMPAT.md has no row for {name}");
    }
    let all: Vec<String> = rows.iter().map(|r| r.item.to_lowercase()).collect();
    for format in [
        "queue files",
        "envelope",
        "control files",
        "users/assign",
        ".qmail",
        "passwd.cdb",
        "rules.cdb",
        "dovecot-uidlist",
        "dovecot-keywords",
        "subscriptions",
        "maildir names",
        "smtp server",
        "qmtp",
        "qmqp",
        "imap",
        "pop3",
        "checkpassword",
        "vmailmgrd",
    ] {
        assert!(
            all.iter().any(|i| i.contains(format)),
            "COMPAT.md has no row for {format}"
        );
    }
}

#[test]
fn binaries_and_rows_agree() {
    let rows = rows();
    let bins: BTreeSet<String> = std::fs::read_dir(repo().join("src/bin"))
        .unwrap()
        .filter_map(|e| {
            let p = e.unwrap().path();
            let stem = p.file_stem()?.to_string_lossy().into_owned();
            (p.extension()? == "rs" && !stem.starts_with("qmailrs-")).then_some(stem)
        })
        .collect();
    let listed: BTreeSet<&str> = program_rows(&rows).map(|r| first_word(&r.item)).collect();
    // A new binary without a row is reported, not failed: other parts land
    // binaries in parallel and COMPAT.md has one owner, who adds the row.
    for b in bins.iter().filter(|b| !listed.contains(b.as_str())) {
        eprintln!("warning: src/bin/{b}.rs has no row in COMPAT.md yet");
    }
    for r in program_rows(&rows).filter(|r| r.status != "missing") {
        let name = first_word(&r.item);
        // The original's shell scripts (qail, elq, pinq) ship as scripts.
        let script = repo().join("src/sh").join(format!("{name}.sh")).exists();
        assert!(
            bins.contains(name) || script,
            "{name} is {} but src/bin/{name}.rs does not exist",
            r.status
        );
    }
}

#[test]
fn named_tests_exist() {
    for r in rows() {
        for t in ticks(&r.tests) {
            if t.starts_with("tests/") || t.starts_with("src/") {
                assert!(
                    Path::new(&repo().join(t)).exists(),
                    "{}: {t} does not exist",
                    r.item
                );
            }
        }
    }
}

#[test]
fn known_differences_match_compat() {
    let text = std::fs::read_to_string(repo().join("conformance/known-differences")).unwrap();
    let known = known_differences(&text).unwrap();
    let compat = std::fs::read_to_string(repo().join("COMPAT.md")).unwrap();
    let cases: BTreeSet<&str> = known.iter().map(|k| k.case.as_str()).collect();
    assert_eq!(cases.len(), known.len(), "a case is listed twice");
    for k in &known {
        assert!(
            compat.contains(&format!("`{}`", k.case)),
            "known-differences case {} is not cited in COMPAT.md",
            k.case
        );
        if let Some(t) = ["smtp/", "imap/", "pop3/"]
            .iter()
            .find_map(|g| k.case.strip_prefix(g).map(|s| (*g, s)))
        {
            let dir = match t.0 {
                "smtp/" => "qmail/transcripts",
                "imap/" => "dovecot/imap",
                _ => "dovecot/pop3",
            };
            assert!(
                repo()
                    .join("conformance")
                    .join(dir)
                    .join(format!("{}.txt", t.1))
                    .exists(),
                "{}: no such transcript",
                k.case
            );
        } else {
            assert!(
                k.case.starts_with("program:")
                    || k.case.starts_with("format:")
                    || k.case.starts_with("protocol:"),
                "{}: unknown case kind",
                k.case
            );
        }
    }
    // Every case COMPAT.md cites in a known-differences cell is listed.
    for r in rows() {
        for t in ticks(&r.diffs) {
            if t.contains(':') || t.contains('/') {
                assert!(
                    cases.contains(t),
                    "{}: COMPAT.md cites {t}, not in known-differences",
                    r.item
                );
            }
        }
        if r.diffs != "—" {
            assert!(
                !ticks(&r.diffs).is_empty(),
                "{}: cite the known-differences case",
                r.item
            );
        }
    }
}
