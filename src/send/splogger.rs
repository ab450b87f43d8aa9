//! splogger's line handling (`shared/spec/qmail/binaries.md`, splogger):
//! stamp, priority by prefix, unprintables → `?`, 799-byte chunks.

/// syslog priorities used.
pub const LOG_ALERT: u8 = 1;
pub const LOG_WARNING: u8 = 4;
pub const LOG_INFO: u8 = 6;
/// Longest chunk logged at once.
pub const CHUNK: usize = 799;

/// Priority of a line by its prefix.
pub fn priority(line: &[u8]) -> u8 {
    if line.starts_with(b"alert:") {
        LOG_ALERT
    } else if line.starts_with(b"warning:") {
        LOG_WARNING
    } else {
        LOG_INFO
    }
}

/// The messages splogger sends for one input line (without LF), given the
/// stamp `SECONDS.MICROSECONDS`: the first chunk `STAMP LINE`, continuation
/// chunks `STAMP+CHUNK`. Empty lines give nothing.
pub fn messages(stamp: &str, line: &[u8]) -> Vec<Vec<u8>> {
    let clean: Vec<u8> = line
        .iter()
        .map(|&b| if (32..=126).contains(&b) { b } else { b'?' })
        .collect();
    clean
        .chunks(CHUNK)
        .enumerate()
        .map(|(i, c)| {
            let mut m = stamp.as_bytes().to_vec();
            m.push(if i == 0 { b' ' } else { b'+' });
            m.extend_from_slice(c);
            m
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines() {
        assert_eq!(priority(b"alert: x"), LOG_ALERT);
        assert_eq!(priority(b"warning: x"), LOG_WARNING);
        assert_eq!(priority(b"new msg 1"), LOG_INFO);
        assert_eq!(
            messages("1.000002", b"a\tb"),
            vec![b"1.000002 a?b".to_vec()]
        );
        assert!(messages("1.0", b"").is_empty());
        let long = vec![b'x'; 800];
        let m = messages("1.0", &long);
        assert_eq!(m.len(), 2);
        assert_eq!(m[1], b"1.0+x");
    }
}
