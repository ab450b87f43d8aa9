//! OpenSSL cipher strings (`control/tlsserverciphers`, `TLSCIPHERS`)
//! mapped onto the suites rustls offers (`shared/spec/qmail/smtpd.md`
//! §11.2).
//!
//! The original hands one string to both `SSL_set_cipher_list` (TLS ≤ 1.2)
//! and `SSL_set_ciphersuites` (TLS 1.3) and ignores their failures, so:
//! * TLS 1.2 suites: the string evaluated as an OpenSSL cipher list over
//!   the suites rustls has; when nothing matches, the default list stays.
//! * TLS 1.3 suites: the string if it is nothing but TLS 1.3 suite names,
//!   else the default set.
//!
//! Elements that name ciphers rustls does not implement (CBC, RC4, DHE,
//! static RSA, ...) cannot be honoured and are reported as warnings.

use rustls::crypto::ring::cipher_suite as cs;
use rustls::{CipherSuite, SupportedCipherSuite};

/// The OpenSSL name of a suite, as `SSL_get_cipher` prints it.
pub fn openssl_name(s: CipherSuite) -> &'static str {
    match s {
        CipherSuite::TLS13_AES_256_GCM_SHA384 => "TLS_AES_256_GCM_SHA384",
        CipherSuite::TLS13_AES_128_GCM_SHA256 => "TLS_AES_128_GCM_SHA256",
        CipherSuite::TLS13_CHACHA20_POLY1305_SHA256 => "TLS_CHACHA20_POLY1305_SHA256",
        CipherSuite::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384 => "ECDHE-RSA-AES256-GCM-SHA384",
        CipherSuite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 => "ECDHE-RSA-AES128-GCM-SHA256",
        CipherSuite::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256 => "ECDHE-RSA-CHACHA20-POLY1305",
        CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384 => "ECDHE-ECDSA-AES256-GCM-SHA384",
        CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256 => "ECDHE-ECDSA-AES128-GCM-SHA256",
        CipherSuite::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256 => {
            "ECDHE-ECDSA-CHACHA20-POLY1305"
        }
        _ => "UNKNOWN",
    }
}

/// A TLS 1.2 suite with the attributes OpenSSL's selectors test.
struct Tls12 {
    suite: SupportedCipherSuite,
    name: &'static str,
    auth_rsa: bool,
    aes: u16,
    chacha: bool,
    sha384: bool,
}

fn tls12() -> Vec<Tls12> {
    // OpenSSL's default preference order among these.
    let t = |suite, name, auth_rsa, aes, chacha, sha384| Tls12 {
        suite,
        name,
        auth_rsa,
        aes,
        chacha,
        sha384,
    };
    vec![
        t(
            cs::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
            "ECDHE-ECDSA-AES256-GCM-SHA384",
            false,
            256,
            false,
            true,
        ),
        t(
            cs::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
            "ECDHE-RSA-AES256-GCM-SHA384",
            true,
            256,
            false,
            true,
        ),
        t(
            cs::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
            "ECDHE-ECDSA-CHACHA20-POLY1305",
            false,
            0,
            true,
            false,
        ),
        t(
            cs::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
            "ECDHE-RSA-CHACHA20-POLY1305",
            true,
            0,
            true,
            false,
        ),
        t(
            cs::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
            "ECDHE-ECDSA-AES128-GCM-SHA256",
            false,
            128,
            false,
            false,
        ),
        t(
            cs::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
            "ECDHE-RSA-AES128-GCM-SHA256",
            true,
            128,
            false,
            false,
        ),
    ]
}

fn tls13() -> Vec<(SupportedCipherSuite, &'static str)> {
    vec![
        (cs::TLS13_AES_256_GCM_SHA384, "TLS_AES_256_GCM_SHA384"),
        (
            cs::TLS13_CHACHA20_POLY1305_SHA256,
            "TLS_CHACHA20_POLY1305_SHA256",
        ),
        (cs::TLS13_AES_128_GCM_SHA256, "TLS_AES_128_GCM_SHA256"),
    ]
}

/// Does the selector (one `+`-joined part) match this suite? `None`: the
/// selector is unknown to us.
fn selects(sel: &str, s: &Tls12) -> Option<bool> {
    Some(match sel {
        "ALL" | "DEFAULT" | "HIGH" | "ECDHE" | "EECDH" | "kECDHE" | "kEECDH" | "AEAD"
        | "TLSv1.2" | "FIPS" => true,
        "COMPLEMENTOFDEFAULT"
        | "COMPLEMENTOFALL"
        | "MEDIUM"
        | "LOW"
        | "EXPORT"
        | "EXP"
        | "aNULL"
        | "eNULL"
        | "NULL"
        | "ADH"
        | "AECDH"
        | "MD5"
        | "RC4"
        | "DES"
        | "3DES"
        | "IDEA"
        | "SEED"
        | "CAMELLIA"
        | "ARIA"
        | "PSK"
        | "SRP"
        | "DSS"
        | "aDSS"
        | "DH"
        | "DHE"
        | "EDH"
        | "kDHE"
        | "kEDH"
        | "kRSA"
        | "SHA1"
        | "SHA"
        | "SSLv3"
        | "TLSv1"
        | "TLSv1.0"
        | "CBC"
        | "aPSK"
        | "kPSK"
        | "ECDHEPSK"
        | "DHEPSK"
        | "RSAPSK"
        | "aGOST"
        | "GOST"
        | "CCM"
        | "CCM8"
        | "AESCCM"
        | "AESCCM8" => false,
        "RSA" | "aRSA" => s.auth_rsa,
        "ECDSA" | "aECDSA" => !s.auth_rsa,
        "AES" | "AESGCM" => s.aes > 0,
        "AES128" => s.aes == 128,
        "AES256" => s.aes == 256,
        "CHACHA20" => s.chacha,
        "SHA256" => !s.sha384,
        "SHA384" => s.sha384,
        name => {
            if name == s.name {
                return Some(true);
            }
            return None;
        }
    })
}

/// The result of mapping a cipher string.
pub struct Selection {
    pub tls12: Vec<SupportedCipherSuite>,
    pub tls13: Vec<SupportedCipherSuite>,
    /// Elements that could not be honoured.
    pub warnings: Vec<String>,
}

/// Map an OpenSSL cipher string.
pub fn select(spec: &str) -> Selection {
    let all = tls12();
    let t13 = tls13();
    let mut warnings = Vec::new();
    let mut list: Vec<usize> = Vec::new();
    let mut banned = vec![false; all.len()];
    let mut any_tls13_name = false;
    let mut only_tls13_names = true;
    for elem in spec.split([':', ',', ' ', ';']).filter(|e| !e.is_empty()) {
        let (op, body) = match elem.as_bytes()[0] {
            b'!' | b'-' | b'+' => (elem.as_bytes()[0], &elem[1..]),
            _ => (b' ', elem),
        };
        if t13.iter().any(|(_, n)| *n == body) {
            any_tls13_name = true;
            continue;
        }
        only_tls13_names = false;
        if body.starts_with('@') {
            continue; // @STRENGTH, @SECLEVEL=n: ordering/policy, no suites.
        }
        let mut unknown = false;
        let matched: Vec<usize> = (0..all.len())
            .filter(|&i| {
                body.split('+').all(|sel| match selects(sel, &all[i]) {
                    Some(m) => m,
                    None => {
                        // A plain name of another suite is merely no match;
                        // a selector no suite knows is unknown.
                        if !all.iter().any(|s| s.name == sel) {
                            unknown = true;
                        }
                        false
                    }
                })
            })
            .collect();
        match op {
            b'!' => matched.iter().for_each(|&i| banned[i] = true),
            b'-' => list.retain(|i| !matched.contains(i)),
            b'+' => {
                let moved: Vec<usize> = list
                    .iter()
                    .copied()
                    .filter(|i| matched.contains(i))
                    .collect();
                list.retain(|i| !matched.contains(i));
                list.extend(moved);
            }
            _ => {
                if matched.is_empty() && (unknown || body.contains('-')) {
                    warnings.push(format!("cipher {body:?} is not available, ignored"));
                }
                for i in matched {
                    if !list.contains(&i) {
                        list.push(i);
                    }
                }
            }
        }
    }
    let mut tls12: Vec<SupportedCipherSuite> = list
        .into_iter()
        .filter(|&i| !banned[i])
        .map(|i| all[i].suite)
        .collect();
    if tls12.is_empty() && !only_tls13_names {
        warnings.push("no TLS 1.2 cipher left, using the default list".into());
    }
    if tls12.is_empty() {
        tls12 = all.iter().map(|s| s.suite).collect();
    }
    let tls13 = if only_tls13_names && any_tls13_name {
        let names: Vec<&str> = spec.split([':', ',', ' ', ';']).collect();
        t13.iter()
            .filter(|(_, n)| names.contains(n))
            .map(|(s, _)| *s)
            .collect()
    } else {
        t13.iter().map(|(s, _)| *s).collect()
    };
    Selection {
        tls12,
        tls13,
        warnings,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(v: &[SupportedCipherSuite]) -> Vec<&'static str> {
        v.iter().map(|s| openssl_name(s.suite())).collect()
    }

    #[test]
    fn default_and_selection() {
        let s = select("DEFAULT");
        assert_eq!(s.tls12.len(), 6);
        assert_eq!(s.tls13.len(), 3);
        assert!(s.warnings.is_empty());
        let s = select("ECDHE-RSA-AES256-GCM-SHA384:AES128-SHA:!aNULL");
        assert_eq!(names(&s.tls12), vec!["ECDHE-RSA-AES256-GCM-SHA384"]);
        assert_eq!(s.warnings.len(), 1);
        let s = select("HIGH:!CHACHA20:!ECDSA");
        assert_eq!(
            names(&s.tls12),
            vec!["ECDHE-RSA-AES256-GCM-SHA384", "ECDHE-RSA-AES128-GCM-SHA256"]
        );
        let s = select("TLS_AES_128_GCM_SHA256");
        assert_eq!(names(&s.tls13), vec!["TLS_AES_128_GCM_SHA256"]);
        assert_eq!(s.tls12.len(), 6);
        let s = select("RC4-SHA");
        assert_eq!(s.tls12.len(), 6);
        assert_eq!(s.warnings.len(), 2);
        let s = select("ECDHE+AESGCM:+AES128");
        assert_eq!(names(&s.tls12).last(), Some(&"ECDHE-RSA-AES128-GCM-SHA256"));
    }
}
