//! Password hashes as vmailmgr stores and checks them
//! (`shared/spec/vmailmgr/passwd-cdb.md` §2.2, `checkvpw.md` §4).
//!
//! | stored form | check |
//! |---|---|
//! | `$1$salt$hash` | MD5-crypt |
//! | `$0$plain` | plain comparison |
//! | `3` + 32 hex digits | hex MD5 of the password (older vmailmgr) |
//! | `*`, empty | never matches |
//! | anything else | what the system `crypt(3)` does: DES, `$5$`, `$6$`, `$2y$`, BSDi `_` |
//!
//! The hashes come from the `pwhash` crate: one small, MIT-licensed crate
//! covering DES crypt, MD5-crypt and SHA-crypt, which is exactly the set
//! the files hold (writing DES crypt by hand is a few hundred lines of
//! tables). yescrypt (`$y$`) is not covered by it: such a stored password never
//! matches with `pwhash` alone, so `$y$` (Debian's and Ubuntu's default for
//! /etc/shadow since 2021, i.e. the domain owners' own passwords) goes to
//! RustCrypto's `yescrypt` crate, checked against libxcrypt's output.

/// True when `password` matches the `stored` field. An empty password
/// never matches, whatever is stored.
pub fn verify(password: &[u8], stored: &[u8]) -> bool {
    if password.is_empty() || stored.is_empty() || stored == b"*" {
        return false;
    }
    if let Some(plain) = stored.strip_prefix(b"$0$") {
        return ct_eq(password, plain);
    }
    if stored.len() == 33 && stored[0] == b'3' && stored[1..].iter().all(u8::is_ascii_hexdigit) {
        let hex = format!("{:x}", md5::compute(password));
        return ct_eq(hex.as_bytes(), &stored[1..]);
    }
    let Ok(stored) = std::str::from_utf8(stored) else {
        return false;
    };
    if stored.starts_with("$y$") {
        use yescrypt::PasswordVerifier;
        return yescrypt::Yescrypt::default()
            .verify_password(password, stored)
            .is_ok();
    }
    if stored.starts_with("$1$") {
        return pwhash::md5_crypt::verify(password, stored);
    }
    pwhash::unix::verify(password, stored)
}

/// A new MD5-crypt hash with a fresh random 8-character salt, as every
/// vmailmgr program that sets a password stores it.
#[allow(deprecated)] // vmailmgr stores MD5-crypt; compatibility requires it.
pub fn hash_new(password: &[u8]) -> String {
    // md5_crypt::hash only fails on a bad caller-supplied salt; it makes its own.
    pwhash::md5_crypt::hash(password).unwrap_or_else(|_| "*".to_string())
}

/// Constant-time equality of two byte strings.
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_recorded_form() {
        assert!(verify(b"bobpass", b"absPtxANClx/c"));
        assert!(!verify(b"bobpasx", b"absPtxANClx/c"));
        assert!(verify(b"carolpw", b"$0$carolpw"));
        assert!(verify(b"davepw", b"35f69b00e9bbb4304d61d12867aa5e901"));
        assert!(verify(b"erinpw", b"$6$saltsalt$vom3obexUM9idxssbNxfuUnm0G75eTu.gq2FcBq70qpY8WRed4XClJqo8nj6D7CIeCrriZWdms6ncndWVAH6W0"));
        // libxcrypt: crypt("secret", "$y$j9T$F5Jx5fExrKuPp53xLKQ..1$")
        let y = b"$y$j9T$F5Jx5fExrKuPp53xLKQ..1$GmcwIgvdUC9qLWcKCi6gklUa1dM3ziD43YxYNURLKy0";
        assert!(verify(b"secret", y));
        assert!(!verify(b"secreT", y));
        assert!(!verify(b"secret", b"$y$garbage"));
        assert!(!verify(b"", b"$0$"));
        assert!(!verify(b"x", b"*"));
        assert!(!verify(b"x", b""));
    }

    #[test]
    fn new_hash_verifies() {
        let h = hash_new(b"alicepw");
        assert!(h.starts_with("$1$") && h.len() == 34, "{h}");
        assert!(verify(b"alicepw", h.as_bytes()));
        assert!(!verify(b"alicepx", h.as_bytes()));
    }
}
