use super::make::{self, MakeError};
use super::*;
use proptest::prelude::*;

fn build(hash: Hash, recs: &[(Vec<u8>, Vec<u8>)]) -> Vec<u8> {
    let mut w = Writer::with_hash(hash);
    for (k, v) in recs {
        w.add(k, v).unwrap();
    }
    w.finish().unwrap()
}

#[test]
fn empty_database_is_2048_bytes_of_header() {
    let bytes = Writer::new().finish().unwrap();
    assert_eq!(bytes.len(), 2048);
    for pair in bytes.chunks(8) {
        assert_eq!(pair, [0, 8, 0, 0, 0, 0, 0, 0]);
    }
}

#[test]
fn vmailmgr_hash_matches_measured_value() {
    // passwd-cdb.md §2: "jörg" under the reference and under standard cdb.
    let key = "jörg".as_bytes();
    assert_eq!(Hash::SignExtend.of(key), 0x0ae9_6a8f);
    assert_eq!(Hash::Standard.of(key), 0x0acf_e48f);
}

#[test]
fn duplicates_come_back_in_insertion_order() {
    let recs = vec![
        (b"a".to_vec(), b"1".to_vec()),
        (b"b".to_vec(), b"x".to_vec()),
        (b"a".to_vec(), b"2".to_vec()),
    ];
    let bytes = build(Hash::Standard, &recs);
    let r = Reader::new(&bytes[..]).unwrap();
    let all: Vec<_> = r.find(b"a").map(|v| v.unwrap().to_vec()).collect();
    assert_eq!(all, [b"1".to_vec(), b"2".to_vec()]);
    assert_eq!(r.get(b"b").unwrap(), Some(&b"x"[..]));
    assert_eq!(r.get(b"c").unwrap(), None);
}

#[test]
fn every_truncation_is_an_error_or_a_consistent_answer() {
    let recs: Vec<_> = (0..40u8)
        .map(|i| (vec![b'k', i], vec![i; usize::from(i)]))
        .collect();
    let bytes = build(Hash::Standard, &recs);
    for n in 0..bytes.len() {
        let cut = &bytes[..n];
        match Reader::new(cut) {
            Err(CdbError::TruncatedHeader(m)) => assert_eq!(m, n),
            Err(e) => panic!("unexpected {e}"),
            Ok(r) => {
                for (k, v) in &recs {
                    if let Ok(Some(got)) = r.get(k) {
                        assert_eq!(got, &v[..]);
                    }
                }
                for rec in r.iter() {
                    let _ = rec;
                }
            }
        }
    }
}

#[test]
fn cdbmake_input_round_trips() {
    let input = b"+3,5:one->Hello\n+3,7:two->Goodbye\n\n";
    let recs = make::parse(input).unwrap();
    assert_eq!(recs[1], (b"two".to_vec(), b"Goodbye".to_vec()));
    let mut out = Vec::new();
    make::write(&recs, &mut out);
    assert_eq!(out, input);
}

#[test]
fn cdbmake_input_errors() {
    assert_eq!(make::parse(b"+3,5:one->Hello\n"), Err(MakeError::Truncated));
    assert_eq!(
        make::parse(b"+3,5:one->Hello\n\nx"),
        Err(MakeError::Syntax(17, "end of input after the empty line"))
    );
    assert!(matches!(
        make::parse(b"+a,1:x->y\n\n"),
        Err(MakeError::Syntax(1, _))
    ));
    assert!(matches!(
        make::parse(b"+99999999999,1:x->y\n\n"),
        Err(MakeError::Overflow(1))
    ));
    let full = b"+3,5:one->Hello\n+1,1:a->b\n\n";
    for n in 0..full.len() {
        assert!(make::parse(&full[..n]).is_err(), "prefix {n} accepted");
    }
}

#[test]
fn cdbmake_12_lines() {
    let recs = make::parse_12(b"# c\nfoo@x\nbar@y -\n\n");
    assert_eq!(
        recs,
        vec![
            (b"foo@x".to_vec(), vec![]),
            (b"bar@y".to_vec(), b"-".to_vec())
        ]
    );
}

/// A FileReader over `bytes`, written to a temporary file, that reads
/// the file at each lookup however small it is.
fn file_reader(bytes: &[u8], hash: Hash) -> Result<FileReader, CdbError> {
    let mut f = tempfile::tempfile().unwrap();
    std::io::Write::write_all(&mut f, bytes).unwrap();
    FileReader::holding(f, hash, 0)
}

#[test]
fn file_reader_reads_only_what_a_lookup_needs() {
    let recs = [
        (b"a".to_vec(), b"1".to_vec()),
        (b"b".to_vec(), b"x".to_vec()),
    ];
    let bytes = build(Hash::Standard, &recs);
    let d = tempfile::tempdir().unwrap();
    let path = d.path().join("t.cdb");
    std::fs::write(&path, &bytes).unwrap();
    let r = FileReader::open(&path).unwrap().unwrap();
    assert_eq!(r.get(b"b").unwrap(), Some(b"x".to_vec()));
    assert!(r.contains(b"a").unwrap());
    assert!(!r.contains(b"c").unwrap());
    assert_eq!(r.lookup(b"a").unwrap().as_deref(), Some(&b"1"[..]));
    // Rebuilt by rename: the open reader keeps its file; a new open sees
    // the new one.
    let new = build(Hash::Standard, &[(b"c".to_vec(), b"3".to_vec())]);
    std::fs::write(d.path().join("t.tmp"), &new).unwrap();
    std::fs::rename(d.path().join("t.tmp"), &path).unwrap();
    assert_eq!(r.get(b"b").unwrap(), Some(b"x".to_vec()));
    let r2 = FileReader::open(&path).unwrap().unwrap();
    assert_eq!(r2.get(b"c").unwrap(), Some(b"3".to_vec()));
    assert!(FileReader::open(&d.path().join("absent")).is_err());
}

#[test]
fn file_reader_truncations_are_errors_or_consistent_answers() {
    let recs: Vec<_> = (0..40u8)
        .map(|i| (vec![b'k', i], vec![i; usize::from(i)]))
        .collect();
    let bytes = build(Hash::Standard, &recs);
    for n in (0..bytes.len()).step_by(7) {
        match file_reader(&bytes[..n], Hash::Standard) {
            Err(CdbError::TruncatedHeader(m)) => assert_eq!(m, n),
            Err(e) => panic!("unexpected {e}"),
            Ok(r) => {
                let mem = Reader::new(&bytes[..n]).unwrap();
                for (k, _) in &recs {
                    assert_eq!(r.get(k), mem.get(k).map(|v| v.map(<[u8]>::to_vec)));
                }
            }
        }
    }
}

#[test]
fn a_file_cut_after_opening_is_out_of_bounds() {
    let recs = [(b"key".to_vec(), b"value".to_vec())];
    let bytes = build(Hash::Standard, &recs);
    let mut f = tempfile::tempfile().unwrap();
    std::io::Write::write_all(&mut f, &bytes).unwrap();
    let r = FileReader::holding(f.try_clone().unwrap(), Hash::Standard, 0).unwrap();
    // A small file is held whole: it answers as it was when opened.
    let small = FileReader::from_file(f.try_clone().unwrap(), Hash::Standard).unwrap();
    f.set_len(2050).unwrap();
    assert!(matches!(r.get(b"key"), Err(CdbError::OutOfBounds(..))));
    assert_eq!(small.get(b"key").unwrap(), Some(b"value".to_vec()));
}

fn records() -> impl Strategy<Value = Vec<(Vec<u8>, Vec<u8>)>> {
    proptest::collection::vec(
        (
            proptest::collection::vec(any::<u8>(), 0..12),
            proptest::collection::vec(any::<u8>(), 0..20),
        ),
        0..60,
    )
}

proptest! {
    #[test]
    fn any_records_round_trip(recs in records(), sign in any::<bool>()) {
        let hash = if sign { Hash::SignExtend } else { Hash::Standard };
        let bytes = build(hash, &recs);
        let r = Reader::with_hash(&bytes[..], hash).unwrap();
        for (k, _) in &recs {
            let want: Vec<&[u8]> = recs.iter().filter(|(k2, _)| k2 == k).map(|(_, v)| &v[..]).collect();
            let got: Vec<&[u8]> = r.find(k).map(|v| v.unwrap()).collect();
            prop_assert_eq!(got, want);
        }
        let dumped: Vec<(Vec<u8>, Vec<u8>)> = r.iter().map(|x| { let (k, v) = x.unwrap(); (k.to_vec(), v.to_vec()) }).collect();
        prop_assert_eq!(&dumped, &recs);
        let mut text = Vec::new();
        make::write(&recs, &mut text);
        prop_assert_eq!(make::parse(&text).unwrap(), recs);
    }

    #[test]
    fn file_reader_agrees_with_memory(recs in records(), sign in any::<bool>(), probe in proptest::collection::vec(any::<u8>(), 0..12)) {
        let hash = if sign { Hash::SignExtend } else { Hash::Standard };
        let bytes = build(hash, &recs);
        let mem = Reader::with_hash(&bytes[..], hash).unwrap();
        let file = file_reader(&bytes, hash).unwrap();
        for k in recs.iter().map(|(k, _)| k).chain([&probe]) {
            prop_assert_eq!(file.get(k).unwrap(), mem.get(k).unwrap().map(<[u8]>::to_vec));
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic_a_file_reader(bytes in proptest::collection::vec(any::<u8>(), 2048..2400), key in proptest::collection::vec(any::<u8>(), 0..4)) {
        let mem = Reader::new(&bytes[..]).unwrap();
        let file = file_reader(&bytes, Hash::Standard).unwrap();
        prop_assert_eq!(file.get(&key), mem.get(&key).map(|v| v.map(<[u8]>::to_vec)));
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 2048..2400), key in proptest::collection::vec(any::<u8>(), 0..4)) {
        let r = Reader::new(&bytes[..]).unwrap();
        let _ = r.find(&key).take(1000).count();
        let _ = r.iter().take(1000).count();
    }

    #[test]
    fn cdbmake_parser_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
        let _ = make::parse(&bytes);
    }
}
