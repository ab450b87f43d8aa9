//! The `Received:` line qmail-smtpd writes (`received.c`;
//! `shared/spec/qmail/smtpd.md` §10.2, `common.md` §5, §6).
//!
//! ```text
//! "Received: from " host [ " (HELO " helo ")" ] " (" [ info "@" ] ip ")" LF
//! "  by " local " with " protocol "; " date822 LF
//! ```

/// Fields of one Received line.
#[derive(Debug, Clone)]
pub struct Received<'a> {
    pub remotehost: &'a [u8],
    pub helo: Option<&'a [u8]>,
    pub remoteinfo: Option<&'a [u8]>,
    pub remoteip: &'a [u8],
    pub local: &'a [u8],
    /// Not sanitised (the original writes it as is).
    pub protocol: &'a [u8],
    /// Seconds since the epoch.
    pub when: u64,
}

/// Received-safe: `[A-Za-z0-9.@%+/=:-]`, anything else becomes `?`.
fn safe(out: &mut Vec<u8>, s: &[u8]) {
    out.extend(s.iter().map(|&c| {
        if c.is_ascii_alphanumeric() || b".@%+/=:-".contains(&c) {
            c
        } else {
            b'?'
        }
    }));
}

impl Received<'_> {
    pub fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"Received: from ");
        safe(out, self.remotehost);
        if let Some(h) = self.helo {
            out.extend_from_slice(b" (HELO ");
            safe(out, h);
            out.push(b')');
        }
        out.extend_from_slice(b" (");
        if let Some(i) = self.remoteinfo {
            safe(out, i);
            out.push(b'@');
        }
        safe(out, self.remoteip);
        out.extend_from_slice(b")\n  by ");
        safe(out, self.local);
        out.extend_from_slice(b" with ");
        out.extend_from_slice(self.protocol);
        out.extend_from_slice(b"; ");
        out.extend_from_slice(date822(self.when).as_bytes());
    }
}

/// `date822fmt`: `D Mon YYYY HH:MM:SS -0000` + LF, UTC.
pub fn date822(t: u64) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let days = (t / 86400) as i64;
    let secs = t % 86400;
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{d} {} {y} {:02}:{:02}:{:02} -0000\n",
        MONTHS[(m - 1) as usize],
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(date822(0), "1 Jan 1970 00:00:00 -0000\n");
        assert_eq!(date822(812_090_814), "26 Sep 1995 04:46:54 -0000\n");
        assert_eq!(date822(951_782_400), "29 Feb 2000 00:00:00 -0000\n");
    }

    #[test]
    fn oracle_line() {
        let mut out = Vec::new();
        Received {
            remotehost: b"unknown",
            helo: Some(b"client.example"),
            remoteinfo: Some(b"testuser@example.org"),
            remoteip: b"::1",
            local: b"oracle.example",
            protocol: b"ESMTPA",
            when: 812_090_814,
        }
        .write(&mut out);
        assert_eq!(
            out,
            b"Received: from unknown (HELO client.example) (testuser@example.org@::1)\n  by oracle.example with ESMTPA; 26 Sep 1995 04:46:54 -0000\n"
        );
        let mut out = Vec::new();
        Received {
            remotehost: b"a b",
            helo: Some(b""),
            remoteinfo: None,
            remoteip: b"1.2.3.4",
            local: b"x",
            protocol: b"SMTP",
            when: 0,
        }
        .write(&mut out);
        assert!(out.starts_with(b"Received: from a?b (HELO ) (1.2.3.4)\n"));
    }
}
