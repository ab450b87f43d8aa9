//! What qmail-smtpd reads before its greeting (`setup()`;
//! `shared/spec/qmail/smtpd.md` §1, §2): control files and environment.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use crate::auth::sasl::Mode;
use crate::control::Control;

use super::policy::ConstMap;
use super::validrcptto::{self, ValidRcptTo};
use crate::control::rcpthosts::RcptHosts;

/// Control files, one row each: (name, default, use). For documentation
/// and tests; [`Config::load`] reads them in this order.
pub const CONTROLS: &[(&str, &str, &str)] = &[
    ("me", "none", "default for smtpgreeting and localiphost"),
    ("smtpgreeting", "me", "220/221/250 greeting text"),
    (
        "localiphost",
        "me",
        "replaces [ip] of local interfaces in addresses",
    ),
    (
        "timeoutsmtpd",
        "1200",
        "seconds per read or write; <= 0 becomes 1",
    ),
    (
        "rcpthosts",
        "absent = open relay",
        "domains we accept mail for",
    ),
    (
        "morercpthosts.cdb",
        "absent",
        "more rcpthosts, read only with rcpthosts",
    ),
    (
        "badmailfrom",
        "absent",
        "refused senders, address or @domain",
    ),
    (
        "databytes",
        "0 = unlimited",
        "message size limit; DATABYTES overrides",
    ),
    (
        "validrcptto.cdb",
        "absent = check off",
        "valid recipients; VALIDRCPTTO_CDB overrides",
    ),
    (
        "servercert.pem",
        "absent = no STARTTLS",
        "certificate chain and key",
    ),
    (
        "tlsserverciphers",
        "DEFAULT",
        "OpenSSL cipher string; TLSCIPHERS overrides",
    ),
];

/// Start-up failed with `421 unable to read controls (#4.3.0)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ControlError;

impl From<std::io::Error> for ControlError {
    fn from(_: std::io::Error) -> Self {
        ControlError
    }
}

/// The environment qmail-smtpd looks at, captured once.
#[derive(Debug, Clone, Default)]
pub struct Env {
    pub remoteip: Vec<u8>,
    pub remotehost: Vec<u8>,
    pub remoteinfo: Option<Vec<u8>>,
    pub local: Vec<u8>,
    pub relayclient: Option<Vec<u8>>,
    pub databytes: Option<Vec<u8>>,
    pub smtpauth: Mode,
    pub forcetls: bool,
    pub smtps: bool,
    pub tlsciphers: Option<Vec<u8>>,
    pub validrcptto_cdb: Option<Vec<u8>>,
    pub validrcptto_limit: Option<Vec<u8>>,
}

impl Env {
    /// From a variable lookup (the process environment in the binary).
    pub fn from_lookup(get: impl Fn(&str) -> Option<OsString>) -> Env {
        let b = |k: &str| get(k).map(|v| v.as_bytes().to_vec());
        let or = |k: &str, d: &[u8]| b(k).unwrap_or_else(|| d.to_vec());
        Env {
            remoteip: or("TCPREMOTEIP", b"unknown"),
            remotehost: or("TCPREMOTEHOST", b"unknown"),
            remoteinfo: b("TCPREMOTEINFO"),
            local: b("TCPLOCALHOST")
                .or_else(|| b("TCPLOCALIP"))
                .unwrap_or_else(|| b"unknown".to_vec()),
            relayclient: b("RELAYCLIENT"),
            databytes: b("DATABYTES"),
            smtpauth: Mode::from_env(b("SMTPAUTH").as_deref()),
            forcetls: b("FORCETLS").as_deref() != Some(b"0"),
            smtps: b("SMTPS").is_some(),
            tlsciphers: b("TLSCIPHERS"),
            validrcptto_cdb: b("VALIDRCPTTO_CDB"),
            validrcptto_limit: b("VALIDRCPTTO_LIMIT"),
        }
    }
}

/// The controls in force for this connection.
#[derive(Debug)]
pub struct Config {
    pub control_dir: PathBuf,
    pub greeting: Vec<u8>,
    pub localiphost: Option<Vec<u8>>,
    pub timeout: u64,
    pub rcpthosts: RcptHosts,
    pub badmailfrom: Option<ConstMap>,
    pub databytes: u64,
    pub validrcptto: Option<ValidRcptTo>,
    pub validrcptto_limit: u64,
}

impl Config {
    /// Read the controls of `qmail_home/control`, as `setup()` does.
    pub fn load(qmail_home: &Path, env: &Env) -> Result<Config, ControlError> {
        let c = Control::at(qmail_home.join("control"))?;
        let greeting = c
            .read_line_default("smtpgreeting", true, None)?
            .ok_or(ControlError)?;
        let localiphost = c.read_line_default("localiphost", true, None)?;
        let timeout = match c.read_line("timeoutsmtpd")? {
            Some(l) => match crate::control::parse_uint(&l) {
                // The original's int: values that wrap negative become 1.
                Some(v) if (v as i32) > 0 => v as i32 as u64,
                Some(_) => 1,
                None => 1200,
            },
            None => 1200,
        };
        let rcpthosts = RcptHosts::load(&c)?;
        let badmailfrom = c
            .read_list("badmailfrom", false)?
            .map(|l| ConstMap::new(&l));
        let mut databytes = c.read_int("databytes", 0)?;
        if let Some(d) = &env.databytes {
            databytes = scan_ulong(d);
        }
        let vpath = match &env.validrcptto_cdb {
            Some(p) if p.is_empty() => None,
            Some(p) => Some(qmail_home.join(OsStr::from_bytes(p))),
            None => Some(c.dir().join("validrcptto.cdb")),
        };
        let validrcptto = match vpath {
            Some(p) => ValidRcptTo::open(&p).map_err(|_| ControlError)?,
            None => None,
        };
        let validrcptto_limit = env
            .validrcptto_limit
            .as_deref()
            .map_or(validrcptto::DEFAULT_LIMIT, scan_ulong);
        Ok(Config {
            control_dir: c.dir().to_path_buf(),
            greeting,
            localiphost,
            timeout,
            rcpthosts,
            badmailfrom,
            databytes,
            validrcptto,
            validrcptto_limit,
        })
    }

    /// `control/servercert.pem`.
    pub fn servercert(&self) -> PathBuf {
        self.control_dir.join("servercert.pem")
    }

    /// The cipher string: `TLSCIPHERS`, else tlsserverciphers joined
    /// with `:`, else `DEFAULT`.
    pub fn ciphers(&self, env: &Env) -> Result<String, ControlError> {
        if let Some(c) = env.tlsciphers.as_deref().filter(|c| !c.is_empty()) {
            return Ok(String::from_utf8_lossy(c).into_owned());
        }
        let c = Control::at(&self.control_dir)?;
        match c.read_list("tlsserverciphers", false)? {
            Some(l) if !l.is_empty() => Ok(l
                .iter()
                .map(|x| String::from_utf8_lossy(x).into_owned())
                .collect::<Vec<_>>()
                .join(":")),
            _ => Ok("DEFAULT".into()),
        }
    }
}

/// `scan_ulong` on a variable: leading digits, 0 when none.
fn scan_ulong(s: &[u8]) -> u64 {
    s.iter()
        .take_while(|b| b.is_ascii_digit())
        .fold(0u64, |n, &b| {
            n.wrapping_mul(10).wrapping_add(u64::from(b - b'0'))
        })
        & 0xffff_ffff
}
