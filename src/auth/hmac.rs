//! HMAC-MD5 (RFC 2104), for CRAM-MD5 (RFC 2195).

/// HMAC-MD5 of `msg` under `key`.
pub fn hmac_md5(key: &[u8], msg: &[u8]) -> [u8; 16] {
    let mut k = [0u8; 64];
    if key.len() > 64 {
        k[..16].copy_from_slice(&md5::compute(key).0);
    } else {
        k[..key.len()].copy_from_slice(key);
    }
    let mut inner = md5::Context::new();
    inner.consume(k.map(|b| b ^ 0x36));
    inner.consume(msg);
    let mut outer = md5::Context::new();
    outer.consume(k.map(|b| b ^ 0x5c));
    outer.consume(inner.compute().0);
    outer.compute().0
}

/// Lower-case hex, as CRAM-MD5 responses carry the digest.
pub fn hex(d: &[u8]) -> String {
    d.iter().map(|b| format!("{b:02x}")).collect()
}

/// Constant-time equality of two byte strings.
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc2195_example() {
        let d = hmac_md5(
            b"tanstaaftanstaaf",
            b"<1896.697170952@postoffice.reston.mci.net>",
        );
        assert_eq!(hex(&d), "b913a602c7eda7a495b4e6e7334d3890");
    }

    #[test]
    fn oracle_cram() {
        // 14f-auth-cram-md5: testuser/secret, challenge <822.1795607167@oracle.example>.
        let d = hmac_md5(b"secret", b"<822.1795607167@oracle.example>");
        assert_eq!(hex(&d), "48af057f16ecc8bf83ad780fa377ade0");
        assert!(ct_eq(b"ab", b"ab") && !ct_eq(b"ab", b"ac") && !ct_eq(b"a", b"ab"));
    }
}
