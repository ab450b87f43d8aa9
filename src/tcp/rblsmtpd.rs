//! rblsmtpd (ucspi-tcp 0.88): turns away SMTP clients that a DNS
//! blocklist names, before the real SMTP server runs.
//!
//! `rblsmtpd [ -b ] [ -B ] [ -c ] [ -C ] [ -t timeout ] [ -r base ]
//! [ -a base ] smtpd [ arg ... ]`. The options are taken in order and
//! each `-r`/`-a` looks up at once, so a flag counts for the lookups
//! after it, and the first lookup with an answer decides:
//!
//! * `$RBLSMTPD` (from tcprules) decides before any lookup: empty is
//!   "accept", `-TEXT` is a permanent refusal with TEXT, other TEXT a
//!   temporary one.
//! * `-r base`: TXT of the client's reversed IPv4 address under `base`;
//!   any text refuses with it (temporarily, or permanently after `-b`). A
//!   lookup failure marks the session "must not bounce"; after `-c` it
//!   also refuses with `temporary RBL lookup error`.
//! * `-a base`: an A record there accepts (an anti-blocklist); a lookup
//!   failure accepts too unless `-c`.
//! * Without any `-r`, `rbl.maps.vix.com` is asked last.
//!
//! A refused client gets `220 rblsmtpd.local`, `250 rblsmtpd.local` to
//! HELO, EHLO, MAIL, RSET and NOOP, `221 rblsmtpd.local` to QUIT, and the
//! refusal (`451 TEXT` or `553 TEXT`, TEXT cut at 200 bytes, bytes
//! outside 32..126 shown as `?`) to every other line, until QUIT, end of
//! input or `timeout` seconds (60) from the start; with `-t 0` it gets
//! the refusal alone. The refusal is logged on stderr as
//! `rblsmtpd: IP pid PID: 451 TEXT`. Anyone else reaches the program.

use std::io::{self, Write};

use hickory_proto::rr::{RData, RecordType};

use super::options::scan_ulong;
use crate::dns::{DnsError, Lookup};
use crate::inject::getopt::{getopt, Opt};

/// The usage line (exit 100).
pub const USAGE: &str =
    "rblsmtpd: usage: rblsmtpd [ -b ] [ -R ] [ -t timeout ] [ -r base ] [ -a base ] smtpd [ arg ... ]";

/// Asked when no `-r` is given.
pub const DEFAULT_RBL: &str = "rbl.maps.vix.com";

/// The refusal text when `-c` makes a failed lookup refuse.
const LOOKUP_ERROR: &[u8] = b"temporary RBL lookup error";

/// Longest refusal text.
const MAX_TEXT: usize = 200;

/// What the lookups decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Undecided,
    Accept,
    /// Refuse with a temporary error (451).
    Reject,
    /// Refuse with a permanent error (553) unless a lookup failed.
    Bounce,
}

/// The state the options build up, in the original's terms.
#[derive(Debug, Clone)]
pub struct Check {
    pub decision: Decision,
    /// The refusal text (for Reject and Bounce).
    pub text: Vec<u8>,
    /// Seconds the refused client is entertained; 0: the refusal alone.
    pub timeout: u64,
    reverse: String,
    rbl_bounce: bool,
    fail_closed: bool,
    must_not_bounce: bool,
}

/// `1.2.3.4` as `4.3.2.1.` (each dot-separated part, last first, each
/// followed by a dot), as `ip_init` builds it from TCPREMOTEIP.
pub fn reverse(ip: &str) -> String {
    let mut out = String::new();
    for part in ip.rsplit('.') {
        out.push_str(part);
        out.push('.');
    }
    if ip.is_empty() {
        out.clear();
    }
    out
}

/// The TXT answer's strings, all concatenated (`dns_txt`); empty when the
/// name does not exist. `Err` on a temporary failure.
fn txt(dns: &mut dyn Lookup, name: &str) -> Result<Vec<u8>, ()> {
    match dns.query(name, RecordType::TXT) {
        Ok(records) => Ok(records
            .iter()
            .filter_map(|r| match &r.data {
                RData::TXT(t) => Some(t.txt_data.concat()),
                _ => None,
            })
            .flatten()
            .collect()),
        Err(DnsError::Hard) => Ok(Vec::new()),
        Err(DnsError::Soft) => Err(()),
    }
}

/// Whether `name` has an A record (`dns_ip4`). `Err` on a temporary
/// failure.
fn has_a(dns: &mut dyn Lookup, name: &str) -> Result<bool, ()> {
    match dns.query(name, RecordType::A) {
        Ok(records) => Ok(records.iter().any(|r| matches!(r.data, RData::A(_)))),
        Err(DnsError::Hard) => Ok(false),
        Err(DnsError::Soft) => Err(()),
    }
}

impl Check {
    /// The state before the options: TCPREMOTEIP and `$RBLSMTPD`.
    pub fn new(remote_ip: &str, rblsmtpd: Option<&[u8]>) -> Check {
        let mut c = Check {
            decision: Decision::Undecided,
            text: Vec::new(),
            timeout: 60,
            reverse: reverse(remote_ip),
            rbl_bounce: false,
            fail_closed: false,
            must_not_bounce: false,
        };
        match rblsmtpd {
            None => {}
            Some([]) => c.decision = Decision::Accept,
            Some([b'-', rest @ ..]) => {
                c.text = rest.to_vec();
                c.decision = Decision::Bounce;
            }
            Some(t) => {
                c.text = t.to_vec();
                c.decision = Decision::Reject;
            }
        }
        c
    }

    /// `-r base`.
    pub fn rbl(&mut self, dns: &mut dyn Lookup, base: &str) {
        if self.decision != Decision::Undecided {
            return;
        }
        match txt(dns, &format!("{}{base}", self.reverse)) {
            Err(()) => {
                self.must_not_bounce = true;
                if self.fail_closed {
                    self.text = LOOKUP_ERROR.to_vec();
                    self.decision = Decision::Reject;
                }
            }
            Ok(t) if !t.is_empty() => {
                self.text = t;
                self.decision = if self.rbl_bounce {
                    Decision::Bounce
                } else {
                    Decision::Reject
                };
            }
            Ok(_) => {}
        }
    }

    /// `-a base`.
    pub fn antirbl(&mut self, dns: &mut dyn Lookup, base: &str) {
        if self.decision != Decision::Undecided {
            return;
        }
        match has_a(dns, &format!("{}{base}", self.reverse)) {
            Err(()) => {
                self.must_not_bounce = true;
                if !self.fail_closed {
                    self.decision = Decision::Accept;
                }
            }
            Ok(true) => self.decision = Decision::Accept,
            Ok(false) => {}
        }
    }

    /// Take the options in order, looking up as they come; the program
    /// and its arguments, or the lines to print before exit 100.
    pub fn options(
        &mut self,
        args: &[Vec<u8>],
        dns: &mut dyn Lookup,
    ) -> Result<Vec<Vec<u8>>, Vec<String>> {
        let (opts, rest) = getopt("rblsmtpd", b"bBcCt:r:a:", args);
        let mut default_rbl = true;
        for o in opts {
            match o {
                Opt::Flag(b'b', _) => self.rbl_bounce = true,
                Opt::Flag(b'B', _) => self.rbl_bounce = false,
                Opt::Flag(b'c', _) => self.fail_closed = true,
                Opt::Flag(b'C', _) => self.fail_closed = false,
                Opt::Flag(b't', Some(v)) => self.timeout = scan_ulong(&v).0,
                Opt::Flag(b'r', Some(base)) => {
                    self.rbl(dns, &String::from_utf8_lossy(&base));
                    default_rbl = false;
                }
                Opt::Flag(b'a', Some(base)) => self.antirbl(dns, &String::from_utf8_lossy(&base)),
                Opt::Error(e) => return Err(vec![e, USAGE.to_string()]),
                Opt::Flag(..) => return Err(vec![USAGE.to_string()]),
            }
        }
        if rest.is_empty() {
            return Err(vec![USAGE.to_string()]);
        }
        if default_rbl {
            self.rbl(dns, DEFAULT_RBL);
        }
        Ok(rest)
    }

    /// Is the client turned away?
    pub fn refused(&self) -> bool {
        matches!(self.decision, Decision::Reject | Decision::Bounce)
    }

    /// The refusal line, without CRLF: `451 TEXT` or `553 TEXT`.
    pub fn message(&self) -> Vec<u8> {
        let temporary = self.must_not_bounce || self.decision == Decision::Reject;
        let mut m = if temporary {
            b"451 ".to_vec()
        } else {
            b"553 ".to_vec()
        };
        m.extend_from_slice(&self.text[..self.text.len().min(MAX_TEXT)]);
        for b in &mut m {
            if !(32..=126).contains(b) {
                *b = b'?';
            }
        }
        m
    }
}

/// The stderr line for a refusal.
pub fn log_line(ip: &str, pid: u32, message: &[u8]) -> Vec<u8> {
    let mut l = format!("rblsmtpd: {ip} pid {pid}: ").into_bytes();
    l.extend_from_slice(message);
    l.push(b'\n');
    l
}

/// The reply to one client line (`commands` with rblsmtpd's table): the
/// verb is the line up to its first space (or NUL), without a final CR,
/// in any case. `None` after QUIT's reply: the session ends.
pub fn reply_to(line: &[u8], refusal: &[u8]) -> (Vec<u8>, bool) {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let end = line
        .iter()
        .position(|&b| b == b' ' || b == 0)
        .unwrap_or(line.len());
    let verb = line[..end].to_ascii_lowercase();
    match verb.as_slice() {
        b"quit" => (b"221 rblsmtpd.local\r\n".to_vec(), true),
        b"helo" | b"ehlo" | b"mail" | b"rset" | b"noop" => {
            (b"250 rblsmtpd.local\r\n".to_vec(), false)
        }
        _ => ([refusal, b"\r\n"].concat(), false),
    }
}

/// Entertain a refused client on `conn` until QUIT, end of input or the
/// deadline (the caller's `timeout`).
pub fn converse(conn: &mut crate::tls::stream::Conn, refusal: &[u8], deadline: std::time::Instant) {
    conn.out(b"220 rblsmtpd.local\r\n");
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        if left.is_zero() {
            return;
        }
        conn.set_timeout(left);
        let Ok(line) = conn.read_line() else {
            return;
        };
        let (reply, quit) = reply_to(&line, refusal);
        conn.out(&reply);
        if quit {
            let _ = conn.flush();
            return;
        }
    }
}

/// Print the refusal once (`-t 0`).
pub fn refuse_once(out: &mut dyn Write, refusal: &[u8]) -> io::Result<()> {
    out.write_all(&[refusal, b"\r\n"].concat())?;
    out.flush()
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_proto::rr::rdata::{A, TXT};
    use hickory_proto::rr::{Name, Record};
    use std::collections::HashMap;

    /// What a name answers.
    type Answer = Result<Vec<RData>, DnsError>;

    /// Answers from a table; names not in it do not exist.
    #[derive(Default)]
    struct Table {
        map: HashMap<(String, RecordType), Answer>,
        asked: Vec<String>,
    }

    impl Lookup for Table {
        fn query(&mut self, name: &str, rtype: RecordType) -> Result<Vec<Record>, DnsError> {
            self.asked.push(format!("{name} {rtype}"));
            match self.map.get(&(name.to_string(), rtype)) {
                Some(Ok(v)) => Ok(v
                    .iter()
                    .map(|d| Record::from_rdata(Name::from_ascii(name).unwrap(), 60, d.clone()))
                    .collect()),
                Some(Err(e)) => Err(*e),
                None => Err(DnsError::Hard),
            }
        }
    }

    fn table(entries: &[(&str, RecordType, Answer)]) -> Table {
        let mut t = Table::default();
        for (n, rt, a) in entries {
            t.map.insert((n.to_string(), *rt), a.clone());
        }
        t
    }

    fn args(v: &[&str]) -> Vec<Vec<u8>> {
        v.iter().map(|s| s.as_bytes().to_vec()).collect()
    }

    fn listed(text: &str) -> Answer {
        Ok(vec![RData::TXT(TXT::new(vec![text.to_string()]))])
    }

    #[test]
    fn reversed_addresses() {
        assert_eq!(reverse("1.2.3.4"), "4.3.2.1.");
        assert_eq!(reverse("127.0.0.2"), "2.0.0.127.");
        assert_eq!(reverse(""), "");
        assert_eq!(reverse("::1"), "::1.");
    }

    #[test]
    fn the_environment_decides_first() {
        let mut dns = Table::default();
        let mut c = Check::new("1.2.3.4", Some(b""));
        assert_eq!(
            c.options(&args(&["-r", "bl.test", "prog"]), &mut dns),
            Ok(args(&["prog"]))
        );
        assert!(!c.refused());
        assert!(dns.asked.is_empty(), "{:?}", dns.asked);
        let mut c = Check::new("1.2.3.4", Some(b"-go away"));
        c.options(&args(&["prog"]), &mut dns).unwrap();
        assert_eq!(c.message(), b"553 go away");
        let mut c = Check::new("1.2.3.4", Some(b"later\tplease"));
        c.options(&args(&["prog"]), &mut dns).unwrap();
        assert_eq!(c.message(), b"451 later?please");
        assert!(dns.asked.is_empty());
    }

    #[test]
    fn lookups_in_order_and_the_first_answer_decides() {
        let mut dns = table(&[
            ("4.3.2.1.one.test", RecordType::TXT, listed("listed in one")),
            ("4.3.2.1.two.test", RecordType::TXT, listed("listed in two")),
            (
                "4.3.2.1.ok.test",
                RecordType::A,
                Ok(vec![RData::A(A::new(127, 0, 0, 2))]),
            ),
        ]);
        let mut c = Check::new("1.2.3.4", None);
        c.options(
            &args(&["-r", "none.test", "-r", "one.test", "-r", "two.test", "p"]),
            &mut dns,
        )
        .unwrap();
        assert_eq!(c.message(), b"451 listed in one");
        assert_eq!(
            dns.asked,
            ["4.3.2.1.none.test TXT", "4.3.2.1.one.test TXT"],
            "nothing after the decision, no default list"
        );
        // -b makes it permanent for the lookups after it.
        let mut c = Check::new("1.2.3.4", None);
        c.options(&args(&["-b", "-rtwo.test", "p"]), &mut dns)
            .unwrap();
        assert_eq!(c.message(), b"553 listed in two");
        // An anti-blocklist entry before wins.
        let mut c = Check::new("1.2.3.4", None);
        c.options(&args(&["-a", "ok.test", "-r", "one.test", "p"]), &mut dns)
            .unwrap();
        assert!(!c.refused());
        // Not listed anywhere: the default list is asked.
        dns.asked.clear();
        let mut c = Check::new("5.6.7.8", None);
        c.options(&args(&["p", "arg"]), &mut dns).unwrap();
        assert!(!c.refused());
        assert_eq!(dns.asked, ["8.7.6.5.rbl.maps.vix.com TXT"]);
    }

    #[test]
    fn failed_lookups() {
        let mut dns = table(&[
            ("4.3.2.1.soft.test", RecordType::TXT, Err(DnsError::Soft)),
            ("4.3.2.1.soft.test", RecordType::A, Err(DnsError::Soft)),
            ("4.3.2.1.one.test", RecordType::TXT, listed("listed")),
        ]);
        // Fail open: go on; a later -b listing is still only temporary.
        let mut c = Check::new("1.2.3.4", None);
        c.options(
            &args(&["-b", "-r", "soft.test", "-r", "one.test", "p"]),
            &mut dns,
        )
        .unwrap();
        assert_eq!(c.message(), b"451 listed");
        // Fail closed.
        let mut c = Check::new("1.2.3.4", None);
        c.options(&args(&["-c", "-r", "soft.test", "p"]), &mut dns)
            .unwrap();
        assert_eq!(c.message(), b"451 temporary RBL lookup error");
        // A failed anti-blocklist accepts, unless -c.
        let mut c = Check::new("1.2.3.4", None);
        c.options(&args(&["-a", "soft.test", "-r", "one.test", "p"]), &mut dns)
            .unwrap();
        assert!(!c.refused());
        let mut c = Check::new("1.2.3.4", None);
        c.options(
            &args(&["-c", "-a", "soft.test", "-r", "one.test", "p"]),
            &mut dns,
        )
        .unwrap();
        assert_eq!(c.message(), b"451 listed");
    }

    #[test]
    fn long_and_multi_string_texts() {
        let long = "x".repeat(300);
        let mut dns = table(&[(
            "4.3.2.1.bl.test",
            RecordType::TXT,
            Ok(vec![
                RData::TXT(TXT::new(vec!["a".into(), "b".into()])),
                RData::TXT(TXT::new(vec![long])),
            ]),
        )]);
        let mut c = Check::new("1.2.3.4", None);
        c.options(&args(&["-r", "bl.test", "p"]), &mut dns).unwrap();
        let m = c.message();
        assert_eq!(m.len(), 4 + 200);
        assert!(m.starts_with(b"451 abxxx"));
    }

    #[test]
    fn usage() {
        let mut dns = Table::default();
        let u = vec![USAGE.to_string()];
        assert_eq!(
            Check::new("", None).options(&args(&[]), &mut dns),
            Err(u.clone())
        );
        assert_eq!(
            Check::new("", None).options(&args(&["-r", "x"]), &mut dns),
            Err(u)
        );
        assert_eq!(
            Check::new("", None).options(&args(&["-z", "p"]), &mut dns),
            Err(vec![
                "rblsmtpd: illegal option -- z".into(),
                USAGE.to_string()
            ])
        );
        let mut c = Check::new("", None);
        c.options(&args(&["-t", "0", "p"]), &mut dns).unwrap();
        assert_eq!(c.timeout, 0);
    }

    #[test]
    fn the_dialogue() {
        let r = b"451 no";
        assert_eq!(
            reply_to(b"HELO x\r", r),
            (b"250 rblsmtpd.local\r\n".to_vec(), false)
        );
        assert_eq!(reply_to(b"ehlo", r).0, b"250 rblsmtpd.local\r\n");
        assert_eq!(reply_to(b"MAIL FROM:<a@b>", r).0, b"250 rblsmtpd.local\r\n");
        assert_eq!(reply_to(b"RCPT TO:<a@b>\r", r).0, b"451 no\r\n");
        assert_eq!(reply_to(b"DATA", r).0, b"451 no\r\n");
        assert_eq!(reply_to(b"NOOP\0x", r).0, b"250 rblsmtpd.local\r\n");
        assert_eq!(reply_to(b"QU\0IT", r).0, b"451 no\r\n");
        assert_eq!(
            reply_to(b"quit\r", r),
            (b"221 rblsmtpd.local\r\n".to_vec(), true)
        );
        assert_eq!(
            log_line("1.2.3.4", 7, b"451 no"),
            b"rblsmtpd: 1.2.3.4 pid 7: 451 no\n"
        );
    }
}
