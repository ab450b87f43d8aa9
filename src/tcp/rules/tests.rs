use super::*;
use crate::cdb::{Reader, Writer};
use proptest::prelude::*;

fn rec(k: &[u8], v: &[u8]) -> (Vec<u8>, Vec<u8>) {
    (k.to_vec(), v.to_vec())
}

#[test]
fn spec_example() {
    let recs = compile(b"127.:allow,RELAYCLIENT=\"\"\n").unwrap();
    assert_eq!(recs, [rec(b"127.", b"+RELAYCLIENT=\0")]);
}

#[test]
fn deny_allow_comments_and_blank_lines() {
    let src = b"# comment\n\n1.2.3.4:deny\n   \n:allow\nno colon here\n=host.example:allow,A=/x/,B=\"y z\"  \t\n";
    assert_eq!(
        compile(src).unwrap(),
        [
            rec(b"1.2.3.4", b"D\0"),
            rec(b"", b""),
            rec(b"=host.example", b"+A=x\0+B=y z\0"),
        ]
    );
}

#[test]
fn ranges_expand() {
    let recs =
        compile(b"1.2.3.40-42:allow\n10.2-3.:deny\n1.2.3.250-300:allow\n5-4:allow\n").unwrap();
    let keys: Vec<_> = recs.iter().map(|(k, _)| k.clone()).collect();
    let mut want: Vec<Vec<u8>> = vec![
        b"1.2.3.40".to_vec(),
        b"1.2.3.41".to_vec(),
        b"1.2.3.42".to_vec(),
    ];
    want.push(b"10.2.".to_vec());
    want.push(b"10.3.".to_vec());
    for n in 250..=255 {
        want.push(format!("1.2.3.{n}").into_bytes());
    }
    assert_eq!(keys, want);
}

#[test]
fn no_range_with_equals_or_at() {
    let recs = compile(b"=a-b.example:allow\njoe-x@1.2.3.4:allow\n").unwrap();
    assert_eq!(recs[0].0, b"=a-b.example");
    assert_eq!(recs[1].0, b"joe-x@1.2.3.4");
}

#[test]
fn bad_lines() {
    for line in [
        &b"1.2.3.4:permit"[..],
        b"1.2.3.4:allowed",
        b"1.2.3.4:allow,X",
        b"1.2.3.4:allow,X=",
        b"1.2.3.4:allow,X=\"open",
        b"1.2.3.4:allow;",
        b"1.2.3.a-5:allow",
        b"foo:bar",
    ] {
        let mut src = line.to_vec();
        src.extend_from_slice(b"  \n");
        assert_eq!(compile(&src), Err(BadLine(line.to_vec())), "{:?}", line);
    }
    assert_eq!(BadLine(b"a\0b".to_vec()).shown(), b"a");
}

#[test]
fn ipv6_addresses() {
    let recs = compile(b"::1:allow,A=\"1\"\nfd00::allow\nfd00::2:deny\n").unwrap();
    let keys: Vec<_> = recs.iter().map(|(k, _)| k.clone()).collect();
    assert_eq!(
        keys,
        [b"::1".to_vec(), b"fd00:".to_vec(), b"fd00::2".to_vec()]
    );
}

#[test]
fn last_line_without_newline() {
    assert_eq!(compile(b"1.2.3.4:deny").unwrap(), [rec(b"1.2.3.4", b"D\0")]);
}

#[test]
fn lookup_order() {
    let c = candidates(b"1.2.3.4", Some(b"a.b.example"), Some(b"joe"));
    let want: Vec<&[u8]> = vec![
        b"joe@1.2.3.4",
        b"joe@=a.b.example",
        b"1.2.3.4",
        b"=a.b.example",
        b"1.2.3.",
        b"1.2.",
        b"1.",
        b"=.b.example",
        b"=.example",
        b"=",
        b"",
    ];
    assert_eq!(c, want);
    let c = candidates(b"10.0.0.1", None, None);
    let want: Vec<&[u8]> = vec![b"10.0.0.1", b"10.0.0.", b"10.0.", b"10.", b""];
    assert_eq!(c, want);
}

#[test]
fn lookup_finds_first_applicable() {
    let mut w = Writer::new();
    for (k, v) in compile(b"127.:allow,RELAYCLIENT=\"\"\n127.0.0.2:deny\n:allow,X=\"y\"\n").unwrap()
    {
        w.add(&k, &v).unwrap();
    }
    let bytes = w.finish().unwrap();
    let db = Reader::new(&bytes[..]).unwrap();
    let (k, d) = lookup(&db, b"127.0.0.1", None, None).unwrap().unwrap();
    assert_eq!(k, b"127.");
    assert_eq!(
        Instructions::decode(&d),
        Instructions {
            deny: false,
            env: vec![(b"RELAYCLIENT".to_vec(), Vec::new())]
        }
    );
    let (_, d) = lookup(&db, b"127.0.0.2", None, None).unwrap().unwrap();
    assert!(Instructions::decode(&d).deny);
    let (k, _) = lookup(&db, b"10.1.1.1", None, None).unwrap().unwrap();
    assert_eq!(k, b"");
}

#[test]
fn check_report_format() {
    assert_eq!(check_report(None), b"default:\nallow connection\n");
    assert_eq!(
        check_report(Some((b"127.", b"+A=1\0+B\0"))),
        b"rule 127.:\nset environment variable A=1\nset environment variable B\nallow connection\n"
    );
    assert_eq!(
        check_report(Some((b"", b"+A=1\0D\0+B=2\0"))),
        b"rule :\nset environment variable A=1\ndeny connection\n"
    );
}

#[test]
fn decode_ignores_unterminated_tail() {
    let ins = Instructions::decode(b"+A=1\0+B=2");
    assert_eq!(ins.env, vec![(b"A".to_vec(), b"1".to_vec())]);
    assert!(!ins.deny);
}

fn value() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(
        any::<u8>().prop_filter("no quote/NUL/LF", |b| !matches!(b, b'"' | 0 | b'\n')),
        0..8,
    )
}

proptest! {
    #[test]
    fn written_rules_parse_back(
        deny in any::<bool>(),
        addr in "[0-9a-z.=@]{0,12}",
        env in proptest::collection::vec(("[A-Z_]{1,6}", value()), 0..4),
    ) {
        prop_assume!(!addr.contains('-'));
        let mut line = addr.clone().into_bytes();
        line.extend_from_slice(if deny { b":deny" } else { b":allow" });
        for (n, v) in &env {
            line.push(b',');
            line.extend_from_slice(n.as_bytes());
            line.extend_from_slice(b"=\"");
            line.extend_from_slice(v);
            line.push(b'"');
        }
        // Trailing blanks inside a value are kept only when quoted.
        let rule = parse_line(&line).unwrap().unwrap();
        prop_assert_eq!(rule.address, addr.into_bytes());
        prop_assert_eq!(rule.instructions.deny, deny);
        let want: Vec<_> = env.iter().map(|(n, v)| (n.clone().into_bytes(), v.clone())).collect();
        prop_assert_eq!(&rule.instructions.env, &want);
        let mut data = Vec::new();
        rule.instructions.encode(&mut data);
        prop_assert_eq!(Instructions::decode(&data).env, want);
    }

    #[test]
    fn arbitrary_input_never_panics(input in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = compile(&input);
    }
}
