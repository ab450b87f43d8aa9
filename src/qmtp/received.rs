//! The `Received:` line of qmail-qmtpd and qmail-qmqpd (`received.c`;
//! `common.md` §6 "Received-line safe", `smtpd.md` §10.2 without HELO):
//!
//! ```text
//! Received: from REMOTEHOST (INFO@REMOTEIP)
//!   by LOCAL with PROTOCOL; DATE
//! ```

/// Bytes outside `[A-Za-z0-9.@%+/=:-]` become `?`.
pub fn safe(s: &[u8]) -> Vec<u8> {
    s.iter()
        .map(|&b| {
            if b.is_ascii_alphanumeric() || b".@%+/=:-".contains(&b) {
                b
            } else {
                b'?'
            }
        })
        .collect()
}

/// Who is talking, from tcpserver's environment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Peer {
    pub remotehost: Vec<u8>,
    pub remoteinfo: Option<Vec<u8>>,
    pub remoteip: Vec<u8>,
    pub local: Vec<u8>,
}

impl Peer {
    /// `TCPREMOTEHOST` (else `unknown`), `TCPREMOTEINFO`, `TCPREMOTEIP`
    /// (else `unknown`), `TCPLOCALHOST` (else `TCPLOCALIP`, else `unknown`).
    pub fn from_env(get: impl Fn(&str) -> Option<Vec<u8>>) -> Self {
        Peer {
            remotehost: get("TCPREMOTEHOST").unwrap_or_else(|| b"unknown".to_vec()),
            remoteinfo: get("TCPREMOTEINFO"),
            remoteip: get("TCPREMOTEIP").unwrap_or_else(|| b"unknown".to_vec()),
            local: get("TCPLOCALHOST")
                .or_else(|| get("TCPLOCALIP"))
                .unwrap_or_else(|| b"unknown".to_vec()),
        }
    }

    /// From this process's environment.
    pub fn system() -> Self {
        use std::os::unix::ffi::OsStringExt;
        Self::from_env(|k| std::env::var_os(k).map(OsStringExt::into_vec))
    }
}

/// The line (two lines, final LF included) for `protocol` at unix time `now`.
pub fn line(peer: &Peer, protocol: &str, now: i64) -> Vec<u8> {
    let mut v = b"Received: from ".to_vec();
    v.extend_from_slice(&safe(&peer.remotehost));
    v.extend_from_slice(b" (");
    if let Some(info) = &peer.remoteinfo {
        v.extend_from_slice(&safe(info));
        v.push(b'@');
    }
    v.extend_from_slice(&safe(&peer.remoteip));
    v.extend_from_slice(b")\n  by ");
    v.extend_from_slice(&safe(&peer.local));
    v.extend_from_slice(b" with ");
    v.extend_from_slice(protocol.as_bytes());
    v.extend_from_slice(b"; ");
    v.extend_from_slice(crate::date::date822(now).as_bytes());
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shape() {
        let p = Peer::from_env(|k| match k {
            "TCPREMOTEIP" => Some(b"127.0.0.1".to_vec()),
            "TCPLOCALIP" => Some(b"10.0.0.1".to_vec()),
            "TCPREMOTEINFO" => Some(b"joe x".to_vec()),
            _ => None,
        });
        assert_eq!(
            String::from_utf8(line(&p, "QMTP", 812_000_000)).unwrap(),
            "Received: from unknown (joe?x@127.0.0.1)\n  by 10.0.0.1 with QMTP; 25 Sep 1995 03:33:20 -0000\n"
        );
    }
}
