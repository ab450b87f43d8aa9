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

/// The environment tcpserver gave the recorded program, from the header's
/// `instance: tcpserver [opts] IP PORT prog ...` line: `PROTO=TCP`, local
/// and remote IP (loopback), the local port, `TCPLOCALHOST` from `-l`;
/// `-H`/`-R` leave TCPREMOTEHOST/TCPREMOTEINFO unset. Empty when the
/// header names no tcpserver instance.
pub fn tcp_env(header: &Header) -> Vec<(String, String)> {
    let Some(instance) = header.instance.as_deref() else {
        return Vec::new();
    };
    let words: Vec<&str> = instance
        .split(';')
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    if words.first() != Some(&"tcpserver") {
        return Vec::new();
    }
    let mut env = vec![("PROTO".to_string(), "TCP".to_string())];
    let mut i = 1;
    let mut local_host = None;
    while i < words.len() && words[i].starts_with('-') {
        let opt = words[i];
        if opt == "-l" {
            local_host = words.get(i + 1).copied();
            i += 1;
        } else if let Some(v) = opt.strip_prefix("-l") {
            local_host = Some(v);
        } else if matches!(opt, "-c" | "-b" | "-u" | "-g" | "-t" | "-x" | "-B" | "-T") {
            i += 1;
        }
        i += 1;
    }
    let ip = words.get(i).copied().unwrap_or("127.0.0.1");
    let ip = if ip.parse::<std::net::IpAddr>().is_ok() {
        ip
    } else {
        "127.0.0.1"
    };
    let port = words
        .get(i + 1)
        .copied()
        .filter(|p| p.parse::<u16>().is_ok())
        .unwrap_or("25");
    for (k, v) in [
        ("TCPLOCALIP", ip),
        ("TCPLOCALPORT", port),
        ("TCPREMOTEIP", ip),
        ("TCPREMOTEPORT", "40000"),
    ] {
        env.push((k.to_string(), v.to_string()));
    }
    if let Some(h) = local_host {
        env.push(("TCPLOCALHOST".to_string(), h.to_string()));
    }
    env
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
    fn tcpserver_env_from_instance() {
        let t = parse(
            "# instance: tcpserver -H -R -l oracle.example -c 200 127.0.0.1 2525 qmail-smtpd cp /bin/true ; env A=1\n\
             # x: \\r are escapes\nS: 220\\r\\n\n",
        )
        .unwrap();
        let env = tcp_env(&t.header);
        let get = |k: &str| env.iter().find(|e| e.0 == k).map(|e| e.1.as_str());
        assert_eq!(get("TCPLOCALHOST"), Some("oracle.example"));
        assert_eq!(get("TCPLOCALIP"), Some("127.0.0.1"));
        assert_eq!(get("TCPLOCALPORT"), Some("2525"));
        assert_eq!(get("TCPREMOTEIP"), Some("127.0.0.1"));
        assert_eq!(get("TCPREMOTEHOST"), None);
        assert_eq!(get("PROTO"), Some("TCP"));
        assert!(tcp_env(&Header::default()).is_empty());
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
