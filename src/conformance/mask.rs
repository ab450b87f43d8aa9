//! `mask()`: zero the fields that vary between runs before comparing a
//! server line with its recording (the READMEs' "variable fields").
//!
//! * SMTP `250 ok <unix-time> qp <pid>` → `250 ok <time> qp <pid>`;
//! * SMTP `334 <base64 of "<pid.time@host>">` (CRAM-MD5 challenge) →
//!   `334 <challenge>`;
//! * IMAP timing suffixes ` (0.001 + 0.000 secs)` (two or three figures)
//!   → ` (<secs>)`;
//! * IMAP numbers after `UIDVALIDITY `, `APPENDUID `, `COPYUID `,
//!   `HIGHESTMODSEQ `, `MODSEQ (` → `<n>`.
//!
//! Everything else must match byte for byte.

use base64::Engine;

/// Mask one server line (with or without its line end).
pub fn mask(line: &[u8]) -> Vec<u8> {
    let mut out = smtp_queued(line).unwrap_or_else(|| line.to_vec());
    if let Some(m) = cram_challenge(&out) {
        out = m;
    }
    out = imap_timing(&out);
    for key in [
        &b"UIDVALIDITY "[..],
        b"APPENDUID ",
        b"COPYUID ",
        b"HIGHESTMODSEQ ",
        b"MODSEQ (",
    ] {
        out = number_after(&out, key);
    }
    out
}

fn split_eol(line: &[u8]) -> (&[u8], &[u8]) {
    let end = line
        .iter()
        .rposition(|&b| b != b'\r' && b != b'\n')
        .map_or(0, |i| i + 1);
    line.split_at(end)
}

fn all_digits(b: &[u8]) -> bool {
    !b.is_empty() && b.iter().all(u8::is_ascii_digit)
}

/// `250 ok DIGITS qp DIGITS`.
fn smtp_queued(line: &[u8]) -> Option<Vec<u8>> {
    let (body, eol) = split_eol(line);
    let rest = body.strip_prefix(b"250 ok ")?;
    let sp = rest.iter().position(|&b| b == b' ')?;
    let (time, tail) = rest.split_at(sp);
    let pid = tail.strip_prefix(b" qp ")?;
    (all_digits(time) && all_digits(pid)).then(|| [&b"250 ok <time> qp <pid>"[..], eol].concat())
}

/// `334 B64` whose decoding looks like `<digits.digits@host>`.
fn cram_challenge(line: &[u8]) -> Option<Vec<u8>> {
    let (body, eol) = split_eol(line);
    let b64 = body.strip_prefix(b"334 ")?;
    let dec = base64::engine::general_purpose::STANDARD.decode(b64).ok()?;
    let inner = dec.strip_prefix(b"<")?.strip_suffix(b">")?;
    let (stamp, _host) = inner.split_at(inner.iter().position(|&b| b == b'@')?);
    let dot = stamp.iter().position(|&b| b == b'.')?;
    (all_digits(&stamp[..dot]) && all_digits(&stamp[dot + 1..]))
        .then(|| [&b"334 <challenge>"[..], eol].concat())
}

/// ` (N.NNN + N.NNN[ + N.NNN] secs)` → ` (<secs>)`.
fn imap_timing(line: &[u8]) -> Vec<u8> {
    let needle = b" secs)";
    let Some(end) = line.windows(needle.len()).position(|w| w == needle) else {
        return line.to_vec();
    };
    let Some(open) = line[..end].iter().rposition(|&b| b == b'(') else {
        return line.to_vec();
    };
    let figures = &line[open + 1..end];
    let ok = !figures.is_empty()
        && figures
            .iter()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b' ' | b'+'));
    if !ok || open == 0 || line[open - 1] != b' ' {
        return line.to_vec();
    }
    [&line[..open], b"(<secs>)", &line[end + needle.len()..]].concat()
}

/// Replace the run of digits after each `key` with `<n>`.
fn number_after(line: &[u8], key: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(line.len());
    let mut i = 0;
    while i < line.len() {
        if line[i..].starts_with(key) {
            out.extend_from_slice(key);
            i += key.len();
            let digits = line[i..].iter().take_while(|b| b.is_ascii_digit()).count();
            if digits > 0 {
                out.extend_from_slice(b"<n>");
                i += digits;
            }
        } else {
            out.push(line[i]);
            i += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smtp_fields() {
        assert_eq!(
            mask(b"250 ok 1795607156 qp 453\r\n"),
            b"250 ok <time> qp <pid>\r\n"
        );
        assert_eq!(mask(b"250 ok\r\n"), b"250 ok\r\n");
        assert_eq!(mask(b"250 ok 17x qp 1\r\n"), b"250 ok 17x qp 1\r\n");
        assert_eq!(
            mask(b"334 PDgyMi4xNzk1NjA3MTY3QG9yYWNsZS5leGFtcGxlPg==\r\n"),
            b"334 <challenge>\r\n"
        );
        assert_eq!(mask(b"334 VXNlcm5hbWU6\r\n"), b"334 VXNlcm5hbWU6\r\n");
    }

    #[test]
    fn imap_fields() {
        assert_eq!(
            mask(b"a1 OK [READ-WRITE] Select completed (0.001 + 0.000 secs).\r\n"),
            b"a1 OK [READ-WRITE] Select completed (<secs>).\r\n"
        );
        assert_eq!(
            mask(b"a1 OK [APPENDUID 1795607949 6] Append completed (0.004 + 0.000 + 0.003 secs)."),
            b"a1 OK [APPENDUID <n> 6] Append completed (<secs>)."
        );
        assert_eq!(
            mask(b"* OK [UIDVALIDITY 1795607950] UIDs valid"),
            b"* OK [UIDVALIDITY <n>] UIDs valid"
        );
        assert_eq!(
            mask(b"* 1 FETCH (UID 2 MODSEQ (14))"),
            b"* 1 FETCH (UID 2 MODSEQ (<n>))"
        );
        assert_eq!(
            mask(b"* OK [HIGHESTMODSEQ 22] Highest"),
            b"* OK [HIGHESTMODSEQ <n>] Highest"
        );
        assert_eq!(mask(b"S: (x secs)"), b"S: (x secs)");
    }
}
