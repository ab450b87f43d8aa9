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
