//! Byte-identity of `qmail::cdb` with Debian's tinycdb (`cdb` 0.78).
//!
//! tinycdb's `cdb -c` is a byte-compatible cdbmake: for the same records in
//! the same order it must produce the very file our `Writer` produces, and
//! our `Reader` must find everything in files tinycdb built. These tests
//! need the `cdb` binary (Debian package `tinycdb`, installed by
//! `scripts/ci-deps`) and fail loudly without it.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use proptest::prelude::*;
use qmail::cdb::{make, Reader, Writer};

type Records = Vec<(Vec<u8>, Vec<u8>)>;

/// The tinycdb binary; panics with a hint when it is missing.
fn cdb_bin() -> PathBuf {
    for dir in ["/usr/bin", "/usr/local/bin", "/bin"] {
        let p = Path::new(dir).join("cdb");
        if p.is_file() {
            return p;
        }
    }
    panic!("tinycdb's `cdb` is not installed: apt-get install tinycdb (see scripts/ci-deps)");
}

/// Run `cdb ARGS` with `stdin`, asserting success; returns stdout.
fn run_cdb(args: &[&str], stdin: &[u8], dir: &Path) -> Vec<u8> {
    let mut child = Command::new(cdb_bin())
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn cdb");
    let mut input = child.stdin.take().expect("stdin");
    let data = stdin.to_vec();
    let feeder = std::thread::spawn(move || {
        let _ = input.write_all(&data);
    });
    let out = child.wait_with_output().expect("wait cdb");
    feeder.join().expect("feeder");
    assert!(
        out.status.success(),
        "cdb {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn ours(recs: &Records) -> Vec<u8> {
    let mut w = Writer::new();
    for (k, v) in recs {
        w.add(k, v).expect("add");
    }
    w.finish().expect("finish")
}

/// Build with `cdb -c` from cdbmake input; returns the file bytes.
fn tinycdb_native(recs: &Records) -> Vec<u8> {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut input = Vec::new();
    make::write(recs, &mut input);
    run_cdb(&["-c", "t.cdb"], &input, dir.path());
    std::fs::read(dir.path().join("t.cdb")).expect("read t.cdb")
}

fn assert_identical(recs: &Records) {
    let a = ours(recs);
    let b = tinycdb_native(recs);
    assert_eq!(
        a.len(),
        b.len(),
        "length differs for {} records",
        recs.len()
    );
    assert!(a == b, "bytes differ for {} records", recs.len());
}

fn rec(k: &[u8], v: &[u8]) -> (Vec<u8>, Vec<u8>) {
    (k.to_vec(), v.to_vec())
}

#[test]
fn empty_database() {
    assert_identical(&vec![]);
}

#[test]
fn single_and_small_sets() {
    assert_identical(&vec![rec(b"a", b"1")]);
    assert_identical(&vec![
        rec(b"one", b"1"),
        rec(b"two", b"2"),
        rec(b"three", b"3"),
    ]);
}

#[test]
fn empty_keys_and_values() {
    assert_identical(&vec![
        rec(b"", b""),
        rec(b"", b"x"),
        rec(b"k", b""),
        rec(b"", b""),
    ]);
}

#[test]
fn duplicate_keys_keep_order() {
    let recs = vec![
        rec(b"dup", b"first"),
        rec(b"other", b"o"),
        rec(b"dup", b"second"),
        rec(b"dup", b"third"),
    ];
    assert_identical(&recs);
    let bytes = ours(&recs);
    let r = Reader::new(&bytes[..]).unwrap();
    let all: Vec<_> = r.find(b"dup").map(|v| v.unwrap().to_vec()).collect();
    assert_eq!(
        all,
        [b"first".to_vec(), b"second".to_vec(), b"third".to_vec()]
    );
}

#[test]
fn binary_bytes_and_newlines() {
    let all: Vec<u8> = (0..=255u8).collect();
    assert_identical(&vec![
        rec(b"\0", b"\0\0"),
        rec(b"\n", b"\n"),
        rec(&all, &all),
        rec(b"\xff\x80\x7f", b"+1,2:->\n"),
        rec(b"key with spaces", b"value\twith\ttabs"),
    ]);
}

#[test]
fn few_thousand_records_with_collisions() {
    // Many records per bucket exercises probing and wrap-around.
    let recs: Records = (0..4000u32)
        .map(|i| {
            (
                format!("key{i}@example.org").into_bytes(),
                format!("{}", i * 7).into_bytes(),
            )
        })
        .chain((0..50).map(|i| (b"same".to_vec(), format!("v{i}").into_bytes())))
        .collect();
    assert_identical(&recs);
}

#[test]
fn large_value() {
    let big = vec![b'z'; 200_000];
    assert_identical(&vec![rec(b"big", &big), rec(b"small", b"s")]);
}

/// tinycdb's `-m` map input: optional leading blanks, key, blanks, value
/// to end of line (trailing blanks kept); `#` lines and empty lines skipped.
fn map_records(input: &[u8]) -> Records {
    let blank = |b: &u8| *b == b' ' || *b == b'\t';
    let mut out = Vec::new();
    for line in input.split(|&b| b == b'\n') {
        let start = line.iter().position(|b| !blank(b)).unwrap_or(line.len());
        let line = &line[start..];
        if line.is_empty() || line[0] == b'#' {
            continue;
        }
        let kend = line.iter().position(blank).unwrap_or(line.len());
        let rest = &line[kend..];
        let vstart = rest.iter().position(|b| !blank(b)).unwrap_or(rest.len());
        out.push((line[..kend].to_vec(), rest[vstart..].to_vec()));
    }
    out
}

#[test]
fn map_format_matches_cdb_c_m() {
    let input = b"# validrcptto\nuser@example.org\n@example.net -\n  lead spaces  value with  spaces  \n\nkey\tvalue\nuser@example.org again\n";
    let dir = tempfile::tempdir().unwrap();
    run_cdb(&["-c", "-m", "m.cdb"], input, dir.path());
    let theirs = std::fs::read(dir.path().join("m.cdb")).unwrap();
    let recs = map_records(input);
    assert_eq!(recs.len(), 5);
    assert_eq!(recs[2], rec(b"lead", b"spaces  value with  spaces  "));
    assert!(ours(&recs) == theirs, "cdb -c -m output differs");
}

#[test]
fn map_format_many_lines() {
    let mut input = Vec::new();
    for i in 0..3000 {
        input.extend_from_slice(format!("user{i}@host{}.example\t{}\n", i % 17, i % 5).as_bytes());
    }
    let dir = tempfile::tempdir().unwrap();
    run_cdb(&["-c", "-m", "m.cdb"], &input, dir.path());
    let theirs = std::fs::read(dir.path().join("m.cdb")).unwrap();
    assert!(ours(&map_records(&input)) == theirs);
}

#[test]
fn reader_reads_tinycdb_files() {
    let recs: Records = (0..500u32)
        .map(|i| {
            (
                format!("k{}", i % 300).into_bytes(),
                format!("v{i}").into_bytes(),
            )
        })
        .chain([rec(b"", b"empty key"), rec(b"\x00\xff", b"")])
        .collect();
    let bytes = tinycdb_native(&recs);
    let r = Reader::new(&bytes[..]).unwrap();
    for i in 0..300u32 {
        let key = format!("k{i}");
        let want: Vec<Vec<u8>> = recs
            .iter()
            .filter(|(k, _)| k == key.as_bytes())
            .map(|(_, v)| v.clone())
            .collect();
        let got: Vec<Vec<u8>> = r
            .find(key.as_bytes())
            .map(|v| v.unwrap().to_vec())
            .collect();
        assert_eq!(got, want, "values of {key}");
    }
    assert_eq!(r.get(b"").unwrap(), Some(&b"empty key"[..]));
    assert_eq!(r.get(b"\x00\xff").unwrap(), Some(&b""[..]));
    assert_eq!(r.get(b"absent").unwrap(), None);
    let dumped: Records = r
        .iter()
        .map(|x| x.map(|(k, v)| (k.to_vec(), v.to_vec())))
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(dumped, recs);
}

#[test]
fn tinycdb_queries_and_dumps_our_files() {
    let recs = vec![
        rec(b"alpha", b"1"),
        rec(b"beta", b"two"),
        rec(b"alpha", b"3"),
        rec(b"", b"empty"),
        rec(b"bin", b"\0\n\xff"),
    ];
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("o.cdb"), ours(&recs)).unwrap();
    assert_eq!(run_cdb(&["-q", "o.cdb", "beta"], b"", dir.path()), b"two");
    assert_eq!(run_cdb(&["-q", "o.cdb", "alpha"], b"", dir.path()), b"13");
    assert_eq!(
        run_cdb(&["-q", "-m", "o.cdb", "alpha"], b"", dir.path()),
        b"1\n3\n"
    );
    assert_eq!(
        run_cdb(&["-q", "-n", "2", "o.cdb", "alpha"], b"", dir.path()),
        b"3"
    );
    assert_eq!(
        run_cdb(&["-q", "o.cdb", "bin"], b"", dir.path()),
        b"\0\n\xff"
    );
    let missing = Command::new(cdb_bin())
        .args(["-q", "o.cdb", "gamma"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(
        !missing.status.success(),
        "cdb -q of a missing key must fail"
    );
    let mut want = Vec::new();
    make::write(&recs, &mut want);
    assert_eq!(run_cdb(&["-d", "o.cdb"], b"", dir.path()), want);
    assert_eq!(make::parse(&want).unwrap(), recs);
}

fn records_strategy() -> impl Strategy<Value = Records> {
    let bytes = prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..12),
        proptest::collection::vec(b'a'..=b'd', 0..3),
    ];
    proptest::collection::vec((bytes.clone(), bytes), 0..120)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    #[test]
    fn random_record_sets_match_tinycdb(recs in records_strategy()) {
        let a = ours(&recs);
        let b = tinycdb_native(&recs);
        prop_assert!(a == b, "bytes differ for {:?}", recs);
    }
}
