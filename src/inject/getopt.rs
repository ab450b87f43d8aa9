//! `getopt` as qmail's `sgetopt` does it (`shared/spec/qmail/common.md` §8):
//! options until the first argument not starting with `-`, a lone `-`
//! (kept) or `--` (dropped); flags may be bundled; an option argument is
//! attached (`-fuser`) or the next word.

/// One parsed option.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Opt {
    /// A letter, with its argument when the spec gives it a `:`.
    Flag(u8, Option<Vec<u8>>),
    /// `PROG: illegal option -- X` / `PROG: option requires an argument -- X`.
    Error(String),
}

/// Parse `args` (without argv[0]) against `spec` (e.g. `b"aAhHnNf:"`);
/// returns the options in order and the remaining arguments.
pub fn getopt(prog: &str, spec: &[u8], args: &[Vec<u8>]) -> (Vec<Opt>, Vec<Vec<u8>>) {
    getopt_skipping(prog, spec, b"", args)
}

/// [`getopt`], where the letters of `skip` also swallow the rest of their
/// word (sendmail's `-E…`/`-J…`).
pub fn getopt_skipping(
    prog: &str,
    spec: &[u8],
    skip: &[u8],
    args: &[Vec<u8>],
) -> (Vec<Opt>, Vec<Vec<u8>>) {
    let mut opts = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        if a.as_slice() == b"--" {
            i += 1;
            break;
        }
        if a.len() < 2 || a[0] != b'-' {
            break;
        }
        let mut j = 1;
        while j < a.len() {
            let c = a[j];
            let pos = spec.iter().position(|&s| s == c && c != b':');
            let Some(pos) = pos else {
                opts.push(Opt::Error(format!(
                    "{prog}: illegal option -- {}",
                    c as char
                )));
                return (opts, args[i + 1..].to_vec());
            };
            if spec.get(pos + 1) == Some(&b':') {
                let arg = if j + 1 < a.len() {
                    a[j + 1..].to_vec()
                } else if i + 1 < args.len() {
                    i += 1;
                    args[i].clone()
                } else {
                    opts.push(Opt::Error(format!(
                        "{prog}: option requires an argument -- {}",
                        c as char
                    )));
                    return (opts, Vec::new());
                };
                opts.push(Opt::Flag(c, Some(arg)));
                break;
            }
            opts.push(Opt::Flag(c, None));
            if skip.contains(&c) {
                break;
            }
            j += 1;
        }
        i += 1;
    }
    (opts, args[i.min(args.len())..].to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(a: &[&str]) -> Vec<Vec<u8>> {
        a.iter().map(|s| s.as_bytes().to_vec()).collect()
    }

    #[test]
    fn forms() {
        let (o, rest) = getopt("p", b"nf:", &v(&["-nfjoe", "-f", "x", "--", "-a"]));
        assert_eq!(
            o,
            vec![
                Opt::Flag(b'n', None),
                Opt::Flag(b'f', Some(b"joe".to_vec())),
                Opt::Flag(b'f', Some(b"x".to_vec()))
            ]
        );
        assert_eq!(rest, v(&["-a"]));
        let (_, rest) = getopt("p", b"n", &v(&["-", "x"]));
        assert_eq!(rest, v(&["-", "x"]));
        let (o, _) = getopt("p", b"n", &v(&["-z"]));
        assert_eq!(o, vec![Opt::Error("p: illegal option -- z".into())]);
        let (o, _) = getopt("p", b"f:", &v(&["-f"]));
        assert_eq!(
            o,
            vec![Opt::Error("p: option requires an argument -- f".into())]
        );
    }
}
