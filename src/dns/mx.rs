//! Where to deliver: `dns.c`'s `dns_ip`, `dns_mxip` and `dns_cname`
//! (`remote.md` §2.2–2.3), over any [`Lookup`].
//!
//! * An IPv4 literal (`1.2.3.4`, `[1.2.3.4]`) is used directly with
//!   preference 0 (also as an MX exchange). Improvement: `[IPv6:addr]`
//!   and `[addr]` IPv6 literals too.
//! * MX records are taken in ascending preference; equal preferences in
//!   the original's pseudo-random order (`x = x*69069 + 1`), computed in
//!   32-bit arithmetic as on a 32-bit `unsigned long`. (With netqmail's
//!   64-bit `unsigned long` on Linux, `random / 2 < 2^31 / numsame` almost
//!   never holds, so equal MXs keep the DNS answer order there: the spec's
//!   random choice is what we implement; see conformance/known-differences.)
//! * Each host's A records follow with its preference; improvement: then
//!   its AAAA records (IPv4 first for the same host, so an IPv4-only world
//!   sees exactly the original's list).
//! * CNAME canonicalisation asks type CNAME rather than ANY (RFC 8482
//!   answers ANY minimally); the outcome is the one `dns_cname` wants.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use hickory_proto::rr::{RData, Record, RecordType};

use super::{DnsError, Lookup};

/// One address to try.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub ip: IpAddr,
    /// MX preference (0 for A-only hosts and literals).
    pub pref: u32,
    /// The host name the address came from (the TLS patch's `fqdn`); none
    /// for literals.
    pub fqdn: Option<String>,
}

/// `ip_scan`: `n.n.n.n` at the start of `s`; each number keeps its low
/// byte, as the original's `d[i] = u`. Returns the address and bytes used.
fn ip_scan(s: &[u8]) -> Option<(Ipv4Addr, usize)> {
    let mut pos = 0;
    let mut d = [0u8; 4];
    for (k, slot) in d.iter_mut().enumerate() {
        if k > 0 {
            if s.get(pos) != Some(&b'.') {
                return None;
            }
            pos += 1;
        }
        let digits = s[pos..].iter().take_while(|b| b.is_ascii_digit()).count();
        if digits == 0 {
            return None;
        }
        let v = s[pos..pos + digits].iter().fold(0u64, |n, &b| {
            n.wrapping_mul(10).wrapping_add(u64::from(b - b'0'))
        });
        *slot = v as u8;
        pos += digits;
    }
    Some((Ipv4Addr::from(d), pos))
}

/// The whole of `host` as an address literal, if it is one.
pub fn ip_literal(host: &[u8]) -> Option<IpAddr> {
    if let Some((ip, n)) = ip_scan(host) {
        if n == host.len() {
            return Some(IpAddr::V4(ip));
        }
    }
    let inner = host.strip_prefix(b"[")?.strip_suffix(b"]")?;
    if let Some((ip, n)) = ip_scan(inner) {
        if n == inner.len() {
            return Some(IpAddr::V4(ip));
        }
    }
    let v6 = inner.strip_prefix(b"IPv6:").unwrap_or(inner);
    std::str::from_utf8(v6)
        .ok()?
        .parse::<Ipv6Addr>()
        .ok()
        .map(IpAddr::V6)
}

fn name_text(name: &hickory_proto::rr::Name) -> String {
    let s = name.to_ascii();
    s.strip_suffix('.').map(str::to_string).unwrap_or(s)
}

fn addresses(records: &[Record]) -> Vec<IpAddr> {
    records
        .iter()
        .filter_map(|r| match &r.data {
            RData::A(a) => Some(IpAddr::V4(a.0)),
            RData::AAAA(a) => Some(IpAddr::V6(a.0)),
            _ => None,
        })
        .collect()
}

/// `dns_ipplus`: the addresses of `host` with preference `pref`.
fn ip_plus(l: &mut dyn Lookup, host: &[u8], pref: u32, v6: bool) -> Result<Vec<Target>, DnsError> {
    if let Some(ip) = ip_literal(host) {
        return Ok(vec![Target {
            ip,
            pref: 0,
            fqdn: None,
        }]);
    }
    let name = std::str::from_utf8(host).map_err(|_| DnsError::Hard)?;
    let fqdn = Some(name.to_string());
    let mk = |ip| Target {
        ip,
        pref,
        fqdn: fqdn.clone(),
    };
    let a = l.query(name, RecordType::A).map(|r| {
        addresses(&r)
            .into_iter()
            .filter(IpAddr::is_ipv4)
            .collect::<Vec<_>>()
    });
    if !v6 {
        return a.map(|ips| ips.into_iter().map(mk).collect());
    }
    let aaaa = l
        .query(name, RecordType::AAAA)
        .map(|r| {
            addresses(&r)
                .into_iter()
                .filter(IpAddr::is_ipv6)
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    match a {
        Ok(v4) => Ok(v4.into_iter().chain(aaaa).map(mk).collect()),
        Err(_) if !aaaa.is_empty() => Ok(aaaa.into_iter().map(mk).collect()),
        Err(e) => Err(e),
    }
}

/// `dns_ip`: a route's relay or an MX-less host, every address at
/// preference 0.
pub fn dns_ip(l: &mut dyn Lookup, host: &[u8], v6: bool) -> Result<Vec<Target>, DnsError> {
    ip_plus(l, host, 0, v6)
}

/// The original's generator step (32-bit `unsigned long`).
fn next_random(r: u32) -> u32 {
    r.wrapping_mul(69069).wrapping_add(1)
}

/// Order MX `(preference, exchange)` pairs as `dns_mxip` does: repeated
/// selection of the lowest preference, ties broken by the generator.
pub fn order_mx<T>(mut mx: Vec<(u16, T)>, random: u64) -> Vec<(u16, T)> {
    let mut random = random as u32;
    let mut out = Vec::with_capacity(mx.len());
    while !mx.is_empty() {
        let mut i = 0;
        let mut numsame: u32 = 1;
        for j in 1..mx.len() {
            if mx[j].0 < mx[i].0 {
                i = j;
                numsame = 1;
            } else if mx[j].0 == mx[i].0 {
                numsame += 1;
                random = next_random(random);
                if random / 2 < 2_147_483_647 / numsame {
                    i = j;
                }
            }
        }
        out.push(mx.swap_remove(i));
    }
    out
}

/// `dns_mxip`: the addresses to try for `host`, and whether some MX host
/// failed temporarily on the way.
pub fn dns_mxip(
    l: &mut dyn Lookup,
    host: &[u8],
    random: u64,
    v6: bool,
) -> Result<(Vec<Target>, bool), DnsError> {
    if let Some(ip) = ip_literal(host) {
        return Ok((
            vec![Target {
                ip,
                pref: 0,
                fqdn: None,
            }],
            false,
        ));
    }
    let name = std::str::from_utf8(host).map_err(|_| DnsError::Hard)?;
    let answers = match l.query(name, RecordType::MX) {
        Err(DnsError::Soft) => return Err(DnsError::Soft),
        Err(DnsError::Hard) => return dns_ip(l, host, v6).map(|t| (t, false)),
        Ok(a) => a,
    };
    let mx: Vec<(u16, String)> = answers
        .iter()
        .filter_map(|r| match &r.data {
            RData::MX(m) => Some((m.preference, name_text(&m.exchange))),
            _ => None,
        })
        .collect();
    if mx.is_empty() {
        return dns_ip(l, host, v6).map(|t| (t, false));
    }
    let mut out = Vec::new();
    let mut soft = false;
    for (pref, exchange) in order_mx(mx, random) {
        match ip_plus(l, exchange.as_bytes(), u32::from(pref), v6) {
            Ok(t) => out.extend(t),
            Err(DnsError::Soft) => soft = true,
            Err(DnsError::Hard) => {}
        }
    }
    Ok((out, soft))
}

/// `dns_cname`: replace `host` by its canonical name, following up to ten
/// aliases. `Ok(0)`: not an alias; `Ok(n)`: `n` steps taken (the last
/// may have been a trailing-dot removal); `Err(Hard)`: alias loop.
pub fn dns_cname(l: &mut dyn Lookup, host: &mut Vec<u8>) -> Result<usize, DnsError> {
    for step in 0..10 {
        match host.last() {
            None | Some(b']') => return Ok(step),
            Some(b'.') => {
                host.pop();
                continue;
            }
            Some(_) => {}
        }
        let Ok(name) = std::str::from_utf8(host) else {
            return Ok(step);
        };
        let answers = match l.query(name, RecordType::CNAME) {
            Err(DnsError::Soft) => return Err(DnsError::Soft),
            Err(DnsError::Hard) => return Ok(step),
            Ok(a) => a,
        };
        let target = answers.iter().find_map(|r| match &r.data {
            RData::CNAME(c) => Some(name_text(&c.0)),
            _ => None,
        });
        match target {
            Some(t) => *host = t.into_bytes(),
            None => return Ok(step),
        }
    }
    Err(DnsError::Hard)
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_proto::rr::rdata::{A, AAAA, CNAME, MX};
    use hickory_proto::rr::Name;
    use std::collections::HashMap;

    #[derive(Default)]
    struct Table(HashMap<(String, RecordType), Result<Vec<RData>, DnsError>>);

    impl Table {
        fn set(&mut self, n: &str, t: RecordType, v: Result<Vec<RData>, DnsError>) {
            self.0.insert((n.to_string(), t), v);
        }
    }

    impl Lookup for Table {
        fn query(&mut self, name: &str, rtype: RecordType) -> Result<Vec<Record>, DnsError> {
            let owner = Name::from_ascii(name).unwrap();
            match self.0.get(&(name.to_string(), rtype)) {
                None => Err(DnsError::Hard),
                Some(Err(e)) => Err(*e),
                Some(Ok(v)) => Ok(v
                    .iter()
                    .map(|d| Record::from_rdata(owner.clone(), 60, d.clone()))
                    .collect()),
            }
        }
    }

    fn mx(p: u16, n: &str) -> RData {
        RData::MX(MX::new(p, Name::from_ascii(n).unwrap()))
    }
    fn a(s: &str) -> RData {
        RData::A(A(s.parse().unwrap()))
    }

    #[test]
    fn literals() {
        assert_eq!(ip_literal(b"1.2.3.4"), Some("1.2.3.4".parse().unwrap()));
        assert_eq!(ip_literal(b"[1.2.3.4]"), Some("1.2.3.4".parse().unwrap()));
        assert_eq!(ip_literal(b"1.2.3.260"), Some("1.2.3.4".parse().unwrap()));
        assert_eq!(ip_literal(b"1.2.3"), None);
        assert_eq!(ip_literal(b"1.2.3.4x"), None);
        assert_eq!(ip_literal(b"[IPv6:::1]"), Some("::1".parse().unwrap()));
        assert_eq!(ip_literal(b"mx.example"), None);
    }

    #[test]
    fn mx_order_and_fallbacks() {
        let mut t = Table::default();
        t.set(
            "x.example",
            RecordType::MX,
            Ok(vec![
                mx(20, "b.x.example"),
                mx(10, "a.x.example"),
                mx(30, "9.9.9.9"),
            ]),
        );
        t.set(
            "a.x.example",
            RecordType::A,
            Ok(vec![a("10.0.0.1"), a("10.0.0.2")]),
        );
        t.set("b.x.example", RecordType::A, Err(DnsError::Soft));
        let (got, soft) = dns_mxip(&mut t, b"x.example", 1, false).unwrap();
        assert!(soft);
        let ips: Vec<(String, u32)> = got.iter().map(|g| (g.ip.to_string(), g.pref)).collect();
        assert_eq!(
            ips,
            vec![
                ("10.0.0.1".into(), 10),
                ("10.0.0.2".into(), 10),
                ("9.9.9.9".into(), 0)
            ]
        );
        assert_eq!(got[0].fqdn.as_deref(), Some("a.x.example"));
        // No MX: the host's own A records.
        t.set("y.example", RecordType::A, Ok(vec![a("10.0.0.3")]));
        assert_eq!(
            dns_mxip(&mut t, b"y.example", 1, false).unwrap().0[0].pref,
            0
        );
        // Neither: hard.
        assert_eq!(
            dns_mxip(&mut t, b"z.example", 1, false),
            Err(DnsError::Hard)
        );
        t.set("s.example", RecordType::MX, Err(DnsError::Soft));
        assert_eq!(
            dns_mxip(&mut t, b"s.example", 1, false),
            Err(DnsError::Soft)
        );
        // AAAA after A for the same host.
        t.set(
            "y.example",
            RecordType::AAAA,
            Ok(vec![RData::AAAA(AAAA("::1".parse().unwrap()))]),
        );
        let got = dns_mxip(&mut t, b"y.example", 1, true).unwrap().0;
        assert_eq!(got.len(), 2);
        assert!(got[1].ip.is_ipv6());
    }

    #[test]
    fn equal_preferences_follow_the_generator() {
        let list: Vec<(u16, u8)> = (0..5).map(|i| (10, i)).collect();
        let a: Vec<u8> = order_mx(list.clone(), 1_764_650_000 + (4242u64 << 16))
            .into_iter()
            .map(|x| x.1)
            .collect();
        let b: Vec<u8> = order_mx(list.clone(), 1_764_650_000 + (4242u64 << 16))
            .into_iter()
            .map(|x| x.1)
            .collect();
        assert_eq!(a, b);
        let mut sorted = a.clone();
        sorted.sort();
        assert_eq!(sorted, vec![0, 1, 2, 3, 4]);
        // 32-bit arithmetic: different seeds give different orders (with a
        // 64-bit `unsigned long` the original would always give
        // [0, 4, 3, 2, 1] here).
        let firsts: std::collections::BTreeSet<u8> = (0..64u64)
            .map(|pid| order_mx(list.clone(), 1_764_650_000 + (pid << 16))[0].1)
            .collect();
        assert_eq!(firsts.len(), 5, "{firsts:?}");
        // Preference always wins over chance.
        let mixed = order_mx(vec![(5, 'b'), (1, 'a'), (5, 'c')], 7);
        assert_eq!(mixed[0], (1, 'a'));
    }

    #[test]
    fn cname_chains_and_loops() {
        let mut t = Table::default();
        let cn = |n: &str| RData::CNAME(CNAME(Name::from_ascii(n).unwrap()));
        t.set(
            "alias.example",
            RecordType::CNAME,
            Ok(vec![cn("real.example.")]),
        );
        let mut h = b"alias.example.".to_vec();
        assert_eq!(dns_cname(&mut t, &mut h), Ok(2));
        assert_eq!(h, b"real.example");
        let mut h = b"real.example".to_vec();
        assert_eq!(dns_cname(&mut t, &mut h), Ok(0));
        t.set("l1.example", RecordType::CNAME, Ok(vec![cn("l2.example")]));
        t.set("l2.example", RecordType::CNAME, Ok(vec![cn("l1.example")]));
        let mut h = b"l1.example".to_vec();
        assert_eq!(dns_cname(&mut t, &mut h), Err(DnsError::Hard));
        let mut h = b"[1.2.3.4]".to_vec();
        assert_eq!(dns_cname(&mut t, &mut h), Ok(0));
        t.set("soft.example", RecordType::CNAME, Err(DnsError::Soft));
        let mut h = b"soft.example".to_vec();
        assert_eq!(dns_cname(&mut t, &mut h), Err(DnsError::Soft));
    }
}
