//! Lay down what a transcript's header declares: its control files (lines,
//! cdbs built with our writer, "present" files) and its environment; and
//! read `conformance/known-differences`.

use std::io;
use std::path::Path;

use super::transcript::{ControlValue, Header};
use crate::cdb;

/// Write the header's control files into `dir` (created if needed).
/// `present` supplies the bytes of files recorded only as "present" (e.g.
/// a test certificate); without it they are created empty.
pub fn write_controls(
    header: &Header,
    dir: &Path,
    present: &dyn Fn(&str) -> Option<Vec<u8>>,
) -> io::Result<()> {
    std::fs::create_dir_all(dir)?;
    for (name, value) in &header.controls {
        let bytes = match value {
            ControlValue::Lines(lines) => lines
                .iter()
                .flat_map(|l| [l.as_bytes(), b"\n"].concat())
                .collect(),
            ControlValue::Cdb(pairs) => {
                let mut w = cdb::Writer::new();
                for (k, v) in pairs {
                    w.add(k.as_bytes(), v.as_bytes())
                        .map_err(|e| io::Error::other(format!("{e:?}")))?;
                }
                w.finish().map_err(|e| io::Error::other(format!("{e:?}")))?
            }
            ControlValue::Present => present(name).unwrap_or_default(),
        };
        std::fs::write(dir.join(name), bytes)?;
    }
    Ok(())
}

/// One line of `known-differences`: `CASE REASON...`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownDifference {
    pub case: String,
    pub reason: String,
}

/// Parse `known-differences`: blank lines and `#` comments skipped; every
/// other line is a case name, whitespace, and a reason (required).
pub fn known_differences(text: &str) -> Result<Vec<KnownDifference>, String> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        match line.split_once(char::is_whitespace) {
            Some((case, reason)) if !reason.trim().is_empty() => out.push(KnownDifference {
                case: case.to_string(),
                reason: reason.trim().to_string(),
            }),
            _ => return Err(format!("line {}: a case needs a reason", i + 1)),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conformance::transcript::parse;

    #[test]
    fn controls_are_laid_down() {
        let t = parse(
            "# control: me=m.example rcpthosts={a.example,b.example} x.pem present\n\
             #   v.cdb={k@a.example,bad@a.example->'-'}\n# x: \\r are escapes\nS: 220\\r\\n\n",
        )
        .unwrap();
        let d = tempfile::tempdir().unwrap();
        write_controls(&t.header, d.path(), &|n| {
            (n == "x.pem").then(|| b"PEM".to_vec())
        })
        .unwrap();
        let rd = |n| std::fs::read(d.path().join(n)).unwrap();
        assert_eq!(rd("me"), b"m.example\n");
        assert_eq!(rd("rcpthosts"), b"a.example\nb.example\n");
        assert_eq!(rd("x.pem"), b"PEM");
        let c = rd("v.cdb");
        let r = cdb::Reader::new(&c[..]).unwrap();
        assert_eq!(r.get(b"bad@a.example").unwrap(), Some(&b"-"[..]));
        assert_eq!(r.get(b"k@a.example").unwrap(), Some(&b""[..]));
    }

    #[test]
    fn known_differences_need_reasons() {
        let k = known_differences("# c\n\nqmail/13-starttls  cipher differs\n").unwrap();
        assert_eq!(
            k,
            vec![KnownDifference {
                case: "qmail/13-starttls".into(),
                reason: "cipher differs".into()
            }]
        );
        assert!(known_differences("lonely\n").is_err());
    }
}
