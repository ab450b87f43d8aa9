//! tcpserver's command line (ucspi-tcp 0.88 and the IPv6 variant), parsed
//! as djb's `sgetopt` does: `-abc` clusters, `-cN` or `-c N`, `--` ends the
//! options, the first non-option starts `host port program [arg...]`.
//! Numbers are read like `scan_ulong`: leading digits, the rest ignored.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;

/// Usage text, as the IPv6 variant prints it (it takes a superset of
/// 0.88's options).
pub const USAGE: &str = "tcpserver: usage: tcpserver [ -461UXpPhHrRoOdDqQv ] [ -c limit ] [ -x rules.cdb ] [ -B banner ] [ -g gid ] [ -u uid ] [ -b backlog ] [ -l localname ] [ -t timeout ] [ -I interface ] host port program";

/// Everything tcpserver's options set; defaults as in 0.88.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// 0 = `-q`, 1 = `-Q` (default), 2 = `-v`.
    pub verbosity: u8,
    /// `-O` (default) / `-o`: kill IP options.
    pub kill_ip_options: bool,
    /// `-d` (default) / `-D`: delay (no TCP_NODELAY).
    pub delay: bool,
    /// `-B banner`.
    pub banner: Vec<u8>,
    /// `-r` (default) / `-R`: look up TCPREMOTEINFO (RFC 1413).
    pub remote_info: bool,
    /// `-h` (default) / `-H`: look up TCPREMOTEHOST.
    pub remote_host: bool,
    /// `-p` / `-P` (default): paranoid host name check.
    pub paranoid: bool,
    /// `-t n`: ident timeout in seconds (default 26).
    pub timeout: u64,
    /// `-l name`: TCPLOCALHOST without a lookup.
    pub local_name: Option<Vec<u8>>,
    /// `-c n`: simultaneous connections (default 40).
    pub limit: u64,
    /// `-x rules.cdb`.
    pub rules: Option<OsString>,
    /// `-X`: a missing rules.cdb allows.
    pub allow_no_rules: bool,
    /// `-u uid`, `-g gid` (0 = keep), also set by `-U` from $UID/$GID.
    pub uid: u64,
    /// See `uid`.
    pub gid: u64,
    /// `-b n`: listen backlog (default 20).
    pub backlog: u64,
    /// `-1`: print the local port on fd 1.
    pub print_port: bool,
    /// `-6`: IPv6 environment even for IPv4 clients.
    pub force_v6: bool,
    /// `-4`: IPv4 socket only.
    pub no_v6: bool,
    /// `-I interface`: scope of an IPv6 link-local address.
    pub interface: Option<OsString>,
    /// Local address (`0` = any).
    pub host: OsString,
    /// Port number or service name.
    pub port: OsString,
    /// Program and its arguments.
    pub program: Vec<OsString>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            verbosity: 1,
            kill_ip_options: true,
            delay: true,
            banner: Vec::new(),
            remote_info: true,
            remote_host: true,
            paranoid: false,
            timeout: 26,
            local_name: None,
            limit: 40,
            rules: None,
            allow_no_rules: false,
            uid: 0,
            gid: 0,
            backlog: 20,
            print_port: false,
            force_v6: false,
            no_v6: false,
            interface: None,
            host: OsString::new(),
            port: OsString::new(),
            program: Vec::new(),
        }
    }
}

/// The command line does not fit the usage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Usage;

/// `scan_ulong`: the value of the leading decimal digits (0 if none).
pub fn scan_ulong(s: &[u8]) -> (u64, usize) {
    let n = s.iter().take_while(|b| b.is_ascii_digit()).count();
    let v = s[..n].iter().fold(0u64, |v, &d| {
        v.wrapping_mul(10).wrapping_add(u64::from(d - b'0'))
    });
    (v, n)
}

fn num(arg: &OsStr) -> u64 {
    scan_ulong(arg.as_bytes()).0
}

/// Parse `args` (without argv\[0\]); `env` reads $UID/$GID for `-U`.
pub fn parse(args: &[OsString], env: impl Fn(&str) -> Option<OsString>) -> Result<Options, Usage> {
    let mut o = Options::default();
    let mut i = 0;
    while i < args.len() {
        let arg = args[i].as_bytes();
        if arg == b"--" {
            i += 1;
            break;
        }
        if arg.len() < 2 || arg[0] != b'-' {
            break;
        }
        i += 1;
        let mut j = 1;
        while j < arg.len() {
            let opt = arg[j];
            j += 1;
            if b"xtuglbBcI".contains(&opt) {
                let value: OsString = if j < arg.len() {
                    OsStr::from_bytes(&arg[j..]).to_os_string()
                } else {
                    let v = args.get(i).ok_or(Usage)?.clone();
                    i += 1;
                    v
                };
                j = arg.len();
                match opt {
                    b'b' => o.backlog = num(&value),
                    b'c' => o.limit = num(&value),
                    b'x' => o.rules = Some(value),
                    b'B' => o.banner = value.as_bytes().to_vec(),
                    b't' => o.timeout = num(&value),
                    b'u' => o.uid = num(&value),
                    b'g' => o.gid = num(&value),
                    b'l' => o.local_name = Some(value.as_bytes().to_vec()),
                    _ => o.interface = Some(value),
                }
                continue;
            }
            match opt {
                b'X' => o.allow_no_rules = true,
                b'd' => o.delay = true,
                b'D' => o.delay = false,
                b'v' => o.verbosity = 2,
                b'q' => o.verbosity = 0,
                b'Q' => o.verbosity = 1,
                b'P' => o.paranoid = false,
                b'p' => o.paranoid = true,
                b'O' => o.kill_ip_options = true,
                b'o' => o.kill_ip_options = false,
                b'H' => o.remote_host = false,
                b'h' => o.remote_host = true,
                b'R' => o.remote_info = false,
                b'r' => o.remote_info = true,
                b'1' => o.print_port = true,
                b'4' => o.no_v6 = true,
                b'6' => o.force_v6 = true,
                b'U' => {
                    if let Some(v) = env("UID") {
                        o.uid = num(&v);
                    }
                    if let Some(v) = env("GID") {
                        o.gid = num(&v);
                    }
                }
                _ => return Err(Usage),
            }
        }
    }
    let mut rest = args[i..].iter();
    o.host = rest.next().ok_or(Usage)?.clone();
    if o.host.is_empty() {
        o.host = OsString::from("0");
    }
    o.port = rest.next().ok_or(Usage)?.clone();
    o.program = rest.cloned().collect();
    if o.program.is_empty() {
        return Err(Usage);
    }
    Ok(o)
}

/// A port argument: a number (all digits), else a name in /etc/services
/// (`services` is that file's text).
pub fn resolve_port(port: &[u8], services: &[u8]) -> Option<u16> {
    let (v, n) = scan_ulong(port);
    if n == port.len() {
        return Some(v as u16);
    }
    for line in services.split(|&b| b == b'\n') {
        let line = line.split(|&b| b == b'#').next().unwrap_or_default();
        let mut fields = line
            .split(|b| b.is_ascii_whitespace())
            .filter(|f| !f.is_empty());
        let (Some(name), Some(pp)) = (fields.next(), fields.next()) else {
            continue;
        };
        let Some(num) = pp.strip_suffix(b"/tcp") else {
            continue;
        };
        if name == port || fields.any(|alias| alias == port) {
            let (v, n) = scan_ulong(num);
            if n == num.len() && n > 0 {
                return Some(v as u16);
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &[&str]) -> Vec<OsString> {
        s.iter().map(OsString::from).collect()
    }

    #[test]
    fn hoster_command_line() {
        let o = parse(
            &args(&[
                "-v",
                "-HR",
                "-l",
                "oracle.example",
                "-c200",
                "-b",
                "100",
                "-u",
                "7791",
                "-g2108",
                "-x",
                "/etc/tcp.smtp.cdb",
                "0",
                "smtp",
                "qmail-smtpd",
                "x",
            ]),
            |_| None,
        )
        .unwrap();
        assert_eq!(o.verbosity, 2);
        assert!(!o.remote_host && !o.remote_info);
        assert_eq!(o.local_name.as_deref(), Some(&b"oracle.example"[..]));
        assert_eq!((o.limit, o.backlog, o.uid, o.gid), (200, 100, 7791, 2108));
        assert_eq!(o.rules, Some(OsString::from("/etc/tcp.smtp.cdb")));
        assert_eq!(o.host, "0");
        assert_eq!(o.port, "smtp");
        assert_eq!(o.program, args(&["qmail-smtpd", "x"]));
    }

    #[test]
    fn uid_gid_from_env_and_usage() {
        let o = parse(&args(&["-U", "", "25", "p"]), |k| {
            Some(OsString::from(if k == "UID" { "12x" } else { "34" }))
        })
        .unwrap();
        assert_eq!((o.uid, o.gid), (12, 34));
        assert_eq!(o.host, "0");
        assert_eq!(parse(&args(&["-z", "0", "1", "p"]), |_| None), Err(Usage));
        assert_eq!(parse(&args(&["0", "1"]), |_| None), Err(Usage));
        assert_eq!(parse(&args(&["-c"]), |_| None), Err(Usage));
        let o = parse(&args(&["--", "-weird", "1", "p"]), |_| None).unwrap();
        assert_eq!(o.host, "-weird");
    }

    #[test]
    fn ports() {
        let services = b"smtp\t\t25/tcp\t\tmail\n# x\nsubmission\t587/tcp\nfoo 9/udp\n";
        assert_eq!(resolve_port(b"2525", services), Some(2525));
        assert_eq!(resolve_port(b"smtp", services), Some(25));
        assert_eq!(resolve_port(b"mail", services), Some(25));
        assert_eq!(resolve_port(b"submission", services), Some(587));
        assert_eq!(resolve_port(b"foo", services), None);
        assert_eq!(resolve_port(b"", services), Some(0));
    }
}
