use super::*;
use proptest::prelude::*;

fn kinds(input: &[u8]) -> Vec<Instruction> {
    parse(input)
        .unwrap()
        .lines
        .into_iter()
        .map(|l| l.instruction)
        .collect()
}

#[test]
fn every_line_kind() {
    use Instruction::*;
    let got = kinds(
        b"# comment\n./Maildir/\n./Mailbox\n/var/mail/x \t\n|preline procmail  \n&joe@x\nfred\n\n+list\n+other\n",
    );
    assert_eq!(
        got,
        vec![
            Comment,
            Maildir(b"./Maildir/".to_vec()),
            Mbox(b"./Mailbox".to_vec()),
            Mbox(b"/var/mail/x".to_vec()),
            Program(b"preline procmail".to_vec()),
            Forward(b"joe@x".to_vec()),
            Forward(b"fred".to_vec()),
            Blank,
            List,
            Unknown,
        ]
    );
}

#[test]
fn blank_first_line_is_an_error() {
    assert_eq!(parse(b"\n./Maildir/\n"), Err(FormatError::FirstLineBlank));
    assert_eq!(parse(b"  \t\n"), Err(FormatError::FirstLineBlank));
    assert_eq!(parse(b"\0x\n"), Err(FormatError::FirstLineBlank));
    assert!(parse(b"").unwrap().lines.is_empty());
}

#[test]
fn trailing_blanks_and_nul() {
    use Instruction::*;
    assert_eq!(
        kinds(b"./Maildir/   "),
        vec![Maildir(b"./Maildir/".to_vec())]
    );
    assert_eq!(kinds(b"|echo a\0b\n"), vec![Program(b"echo a".to_vec())]);
    // The maildir test looks past the NUL, the path stops at it.
    assert_eq!(kinds(b"./a\0b/\n"), vec![Maildir(b"./a".to_vec())]);
    assert_eq!(kinds(b"&\n"), vec![Forward(Vec::new())]);
    assert_eq!(kinds(b"+list\0x\n"), vec![List]);
    assert_eq!(kinds(b".\n"), vec![Mbox(b".".to_vec())]);
}

#[test]
fn search_order() {
    let names = |dash: &[u8], ext: &[u8]| -> Vec<String> {
        candidates(dash, &safe_ext(ext))
            .into_iter()
            .map(|c| String::from_utf8(c.name).unwrap())
            .collect()
    };
    assert_eq!(
        names(b"-", b"foo-bar"),
        [".qmail-foo-bar", ".qmail-foo-default", ".qmail-default"]
    );
    assert_eq!(
        names(b"-", b"a-b-"),
        [
            ".qmail-a-b-",
            ".qmail-a-b-default",
            ".qmail-a-default",
            ".qmail-default"
        ]
    );
    assert_eq!(names(b"-", b""), [".qmail-", ".qmail-default"]);
    assert_eq!(names(b"", b""), [".qmail", ".qmaildefault"]);
    assert_eq!(
        names(b"-", b"A.B-c"),
        [".qmail-a:b-c", ".qmail-a:b-default", ".qmail-default"]
    );
    let c = candidates(b"-", b"x-default");
    assert_eq!(c[0].default_at, Some(2));
    assert_eq!(c[1].default_at, Some(2));
    assert_eq!(candidates(b"-", b"x-y")[0].default_at, None);
}

proptest! {
    #[test]
    fn write_reproduces_bytes(input in proptest::collection::vec(any::<u8>(), 0..200)) {
        if let Ok(q) = parse(&input) {
            let mut out = Vec::new();
            write(&q, &mut out);
            prop_assert_eq!(&out, &input);
            prop_assert_eq!(parse(&out).unwrap(), q);
        }
    }

    #[test]
    fn generated_lines_round_trip(lines in proptest::collection::vec("[#./|&+a-z][ -~]{0,20}", 1..8)) {
        let text = lines.join("\n") + "\n";
        let q = parse(text.as_bytes()).unwrap();
        let mut out = Vec::new();
        write(&q, &mut out);
        prop_assert_eq!(out, text.into_bytes());
    }

    #[test]
    fn every_prefix_parses(input in proptest::collection::vec(any::<u8>(), 0..100)) {
        for i in 0..=input.len() {
            let _ = parse(&input[..i]);
        }
    }
}
