//! The few certificate fields the TLS patch's name check reads: subject
//! commonName, subjectAltName dNSName entries and the validity period
//! (`remote.md` §4). A minimal DER walk; anything unparsable is "absent".

/// One DER element: (tag, contents, rest).
fn tlv(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&l0, rest) = rest.split_first()?;
    let (len, rest) = if l0 < 0x80 {
        (usize::from(l0), rest)
    } else {
        let n = usize::from(l0 & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |a, &b| (a << 8) | usize::from(b));
        (len, &rest[n..])
    };
    if rest.len() < len {
        return None;
    }
    Some((tag, &rest[..len], &rest[len..]))
}

/// The parts of a certificate we use.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Names {
    /// First subject commonName.
    pub common_name: Option<Vec<u8>>,
    /// subjectAltName dNSName entries, in order.
    pub dns_names: Vec<Vec<u8>>,
    /// notBefore / notAfter as unix seconds, when parsable.
    pub not_before: Option<i64>,
    pub not_after: Option<i64>,
    /// Subject equals issuer (bytes).
    pub self_issued: bool,
}

const OID_CN: &[u8] = &[0x55, 0x04, 0x03];
const OID_SAN: &[u8] = &[0x55, 0x1d, 0x11];

fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn time(tag: u8, v: &[u8]) -> Option<i64> {
    let s = std::str::from_utf8(v).ok()?.strip_suffix('Z')?;
    let (y, rest) = match tag {
        0x17 => {
            let yy: i64 = s.get(..2)?.parse().ok()?;
            (if yy >= 50 { 1900 + yy } else { 2000 + yy }, s.get(2..)?)
        }
        0x18 => (s.get(..4)?.parse().ok()?, s.get(4..)?),
        _ => return None,
    };
    let n = |i: usize| -> Option<i64> { rest.get(i..i + 2)?.parse().ok() };
    let days = days_from_civil(y, n(0)?, n(2)?);
    Some(days * 86400 + n(4)? * 3600 + n(6)? * 60 + n(8).unwrap_or(0))
}

fn common_name(name: &[u8]) -> Option<Vec<u8>> {
    let mut sets = name;
    while let Some((_, set, rest)) = tlv(sets) {
        sets = rest;
        let mut atvs = set;
        while let Some((_, atv, r2)) = tlv(atvs) {
            atvs = r2;
            let (_, oid, val) = tlv(atv)?;
            if oid == OID_CN {
                return tlv(val).map(|(_, v, _)| v.to_vec());
            }
        }
    }
    None
}

/// Parse a DER certificate.
pub fn names(der: &[u8]) -> Names {
    parse(der).unwrap_or_default()
}

fn parse(der: &[u8]) -> Option<Names> {
    let (_, cert, _) = tlv(der)?;
    let (_, tbs, _) = tlv(cert)?;
    let mut rest = tbs;
    let (tag, _, r) = tlv(rest)?;
    if tag == 0xa0 {
        rest = r;
    }
    let (_, _serial, r) = tlv(rest)?;
    let (_, _alg, r) = tlv(r)?;
    let (_, issuer, r) = tlv(r)?;
    let (_, validity, r) = tlv(r)?;
    let (_, subject, r) = tlv(r)?;
    let (_, _spki, mut r) = tlv(r)?;
    let mut out = Names {
        common_name: common_name(subject),
        self_issued: issuer == subject,
        ..Names::default()
    };
    if let Some((t1, nb, vr)) = tlv(validity) {
        out.not_before = time(t1, nb);
        if let Some((t2, na, _)) = tlv(vr) {
            out.not_after = time(t2, na);
        }
    }
    while let Some((tag, body, next)) = tlv(r) {
        r = next;
        if tag != 0xa3 {
            continue;
        }
        let (_, exts, _) = tlv(body)?;
        let mut e = exts;
        while let Some((_, ext, en)) = tlv(e) {
            e = en;
            let (_, oid, mut v) = tlv(ext)?;
            if oid != OID_SAN {
                continue;
            }
            if let Some((0x01, _, after)) = tlv(v) {
                v = after;
            }
            let (_, octets, _) = tlv(v)?;
            let (_, seq, _) = tlv(octets)?;
            let mut g = seq;
            while let Some((gt, gv, gn)) = tlv(g) {
                g = gn;
                if gt == 0x82 {
                    out.dns_names.push(gv.to_vec());
                }
            }
        }
    }
    Some(out)
}

/// `match_partner`: equal ignoring ASCII case, or `*.rest` matching the
/// partner's name from its first dot.
pub fn match_partner(fqdn: &[u8], name: &[u8]) -> bool {
    if fqdn.eq_ignore_ascii_case(name) {
        return true;
    }
    if let Some(rest) = name.strip_prefix(b"*") {
        let domain = fqdn
            .iter()
            .position(|&b| b == b'.')
            .map_or(&fqdn[fqdn.len()..], |i| &fqdn[i..]);
        return domain.eq_ignore_ascii_case(rest);
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partner_matching() {
        assert!(match_partner(b"mx.example.com", b"MX.example.com"));
        assert!(match_partner(b"mx.example.com", b"*.example.com"));
        assert!(!match_partner(b"a.mx.example.com", b"*.example.com"));
        assert!(!match_partner(b"mx.example.com", b"other.example.com"));
    }

    #[test]
    fn times() {
        assert_eq!(time(0x17, b"700101000000Z"), Some(0));
        assert_eq!(time(0x18, b"20260101000000Z"), Some(1_767_225_600));
        assert_eq!(days_from_civil(2000, 3, 1), 11017);
    }

    #[test]
    fn garbage_is_absent() {
        assert_eq!(names(b"\x30\x03\x02\x01"), Names::default());
        assert_eq!(names(b""), Names::default());
    }
}
