//! qmail-remote's output to qmail-rspawn (`remote.md` §5) and its fixed
//! texts, kept once.
//!
//! ```text
//! output   = *rcptrep msgrep
//! rcptrep  = ( "r" / "h" text / "s" text ) NUL
//! msgrep   = ( "K" / "Z" / "D" ) text NUL
//! ```

/// Message reports that do not depend on a connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fatal {
    NoMem,
    OsErr,
    NoConn,
    Read,
    DnsCanon,
    Dns,
    Chdir,
    Control,
    PartialLine,
    Usage,
    /// `DSorry, I couldn't find any host named HOST. (#5.1.2)`.
    PermDns(Vec<u8>),
    NoMx,
    AmbigMx,
}

/// `outsafe`: bytes < 33 or > 126 become `?`.
pub fn outsafe(s: &[u8]) -> Vec<u8> {
    s.iter()
        .map(|&b| if (33..=126).contains(&b) { b } else { b'?' })
        .collect()
}

impl Fatal {
    /// The record, status letter first, without the NUL.
    pub fn text(&self) -> Vec<u8> {
        let s: &str = match self {
            Fatal::NoMem => "ZOut of memory. (#4.3.0)\n",
            Fatal::OsErr => "ZSystem resources temporarily unavailable. (#4.3.0)\n",
            Fatal::NoConn => "ZSorry, I wasn't able to establish an SMTP connection. (#4.4.1)\n",
            Fatal::Read => "ZUnable to read message. (#4.3.0)\n",
            Fatal::DnsCanon => "ZCNAME lookup failed temporarily. (#4.4.3)\n",
            Fatal::Dns => "ZSorry, I couldn't find any host by that name. (#4.1.2)\n",
            Fatal::Chdir => "ZUnable to switch to home directory. (#4.3.0)\n",
            Fatal::Control => "ZUnable to read control files. (#4.3.0)\n",
            Fatal::PartialLine => {
                "DSMTP cannot transfer messages with partial final lines. (#5.6.2)\n"
            }
            Fatal::Usage => "DI (qmail-remote) was invoked improperly. (#5.3.5)\n",
            Fatal::NoMx => "DSorry, I couldn't find a mail exchanger or IP address. (#5.4.4)\n",
            Fatal::AmbigMx => {
                "DSorry. Although I'm listed as a best-preference MX or A for that host,\n\
                 it isn't in my control/locals file, so I don't treat it as local. (#5.4.6)\n"
            }
            Fatal::PermDns(host) => {
                let mut v = b"DSorry, I couldn't find any host named ".to_vec();
                v.extend_from_slice(&outsafe(host));
                v.extend_from_slice(b". (#5.1.2)\n");
                return v;
            }
        };
        s.as_bytes().to_vec()
    }
}

/// `quit()` texts: (status + prepend, append) around the partner's IP.
pub mod quit {
    pub const GREETING_D: (&str, &str) = ("DConnected to ", " but greeting failed");
    pub const GREETING_Z: (&str, &str) = ("ZConnected to ", " but greeting failed");
    pub const TLS_GREETING: (&str, &str) = ("ZTLS Connected to ", " but greeting failed");
    pub const HELO_D: (&str, &str) = ("DConnected to ", " but my name was rejected");
    pub const HELO_Z: (&str, &str) = ("ZConnected to ", " but my name was rejected");
    pub const SENDER_D: (&str, &str) = ("DConnected to ", " but sender was rejected");
    pub const SENDER_Z: (&str, &str) = ("ZConnected to ", " but sender was rejected");
    pub const GIVING_UP: (&str, &str) = ("DGiving up on ", "");
    pub const DATA_D: (&str, &str) = ("D", " failed on DATA command");
    pub const DATA_Z: (&str, &str) = ("Z", " failed on DATA command");
    pub const AFTER_D: (&str, &str) = ("D", " failed after I sent the message");
    pub const AFTER_Z: (&str, &str) = ("Z", " failed after I sent the message");
    pub const ACCEPTED: (&str, &str) = ("K", " accepted message");
    pub const PASSWORD_EXPIRED: (&str, &str) = ("ZConnected to ", " but password expired.");
}

/// The record written when credentials exist but no method is usable.
pub const NO_AUTH_METHOD: &str =
    "Kno supported AUTH method found, continuing without authentication.\n";

/// Collected records.
#[derive(Debug, Default, Clone)]
pub struct Output {
    bytes: Vec<u8>,
}

impl Output {
    pub fn new() -> Self {
        Self::default()
    }

    /// Append one record (its NUL is added).
    pub fn record(&mut self, rec: &[u8]) {
        self.bytes.extend_from_slice(rec);
        self.bytes.push(0);
    }

    /// Everything so far.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Take the bytes written so far (for streaming them out).
    pub fn take(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_texts() {
        assert_eq!(
            Fatal::PermDns(b"a b\x7f.example".to_vec()).text(),
            b"DSorry, I couldn't find any host named a?b?.example. (#5.1.2)\n"
        );
        assert!(String::from_utf8(Fatal::AmbigMx.text())
            .unwrap()
            .contains("for that host,\nit isn't in my"));
    }
}
