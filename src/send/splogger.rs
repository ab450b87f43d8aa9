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

/// Month abbreviations of `%h`.
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// The datagram glibc's `syslog(3)` sends to `/dev/log` for `openlog(tag,
/// 0, facility)` + `syslog(priority, "%s", msg)`:
/// `<PRI>Mmm dd hh:mm:ss TAG: MSG` (`%h %e %T`, day space-padded, local
/// time given broken down; no trailing LF, no pid).
pub fn datagram(pri: u32, local: &crate::date::DateTime, tag: &str, msg: &[u8]) -> Vec<u8> {
    let mut d = format!(
        "<{pri}>{} {:>2} {:02}:{:02}:{:02} {tag}: ",
        MONTHS[(local.month.clamp(1, 12) - 1) as usize],
        local.day,
        local.hour,
        local.minute,
        local.second
    )
    .into_bytes();
    d.extend_from_slice(msg);
    d
}

/// How many chunks of an input tail without LF (cut by end of input)
/// splogger still logs: a chunk goes out only when the next byte arrives.
pub fn unterminated_chunks(len: usize) -> usize {
    len.saturating_sub(1) / CHUNK
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syslog_datagram() {
        let t = crate::date::DateTime::from_unix(1_700_000_000); // Nov 14 22:13:20
        assert_eq!(
            datagram(22, &t, "qmail", b"1.5 x"),
            b"<22>Nov 14 22:13:20 qmail: 1.5 x"
        );
        let t = crate::date::DateTime::from_unix(1_699_000_000); // Nov  3
        assert!(datagram(22, &t, "q", b"").starts_with(b"<22>Nov  3 "));
        assert_eq!(unterminated_chunks(0), 0);
        assert_eq!(unterminated_chunks(799), 0);
        assert_eq!(unterminated_chunks(800), 1);
    }

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
