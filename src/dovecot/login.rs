//! What Dovecot's `login-common` does for every protocol
//! (`shared/spec/dovecot/auth.md`, `config.md`): the login settings from
//! dovecot.conf, the connection's addresses and "secured" state, one
//! authentication through the checkpassword passdb (its environment,
//! reply helper, exit codes, failure delay), the prefetch/static userdb,
//! uid checks, `mail_location` expansion, and becoming the mail user.
//!
//! IMAP reuses it: build [`Settings::from_config`] with `"imap"`, keep a
//! [`Client`], call [`authenticate`] with the [`Credentials`] its
//! LOGIN/AUTHENTICATE produced (see [`super::sasl`]), map [`AuthResult`]
//! to its reply texts, then [`become_user`] and open the user's Maildir
//! ([`User::maildir`]).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::config::{self, Config};
use super::passdb::{self, Verdict};
use super::sasl::{Credentials, Mech};

/// The command line both login programs take: `[-c dovecot.conf] [--ssl]`
/// (`--ssl`: implicit TLS, for ports 993/995).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invocation {
    pub conf: PathBuf,
    pub implicit_tls: bool,
}

impl Invocation {
    /// Parse the arguments after argv[0]; the error names the unknown one.
    pub fn parse(args: &[String]) -> Result<Self, String> {
        let mut inv = Invocation {
            conf: crate::root::dovecot_conf().join("dovecot.conf"),
            implicit_tls: false,
        };
        let mut it = args.iter();
        while let Some(a) = it.next() {
            match a.as_str() {
                "-c" => match it.next() {
                    Some(f) => inv.conf = f.into(),
                    None => return Err(format!("unknown argument {a}")),
                },
                "--ssl" => inv.implicit_tls = true,
                other => return Err(format!("unknown argument {other}")),
            }
        }
        Ok(inv)
    }
}

/// Dovecot's `CLIENT_LOGIN_TIMEOUT_MSECS`: a client not logged in this
/// long after connecting is disconnected, busy or not (imap-login and
/// pop3-login alike: it is login-common's).
pub const LOGIN_TIMEOUT: Duration = Duration::from_secs(180);

/// [`LOGIN_TIMEOUT`], or the seconds in `QMAILRS_IMAP_LOGIN_TIMEOUT`
/// (tests; both login programs read it) when the process is not
/// set-uid/set-gid.
pub fn login_timeout() -> Duration {
    let setuid = nix::unistd::getuid() != nix::unistd::geteuid()
        || nix::unistd::getgid() != nix::unistd::getegid();
    std::env::var("QMAILRS_IMAP_LOGIN_TIMEOUT")
        .ok()
        .filter(|_| !setuid)
        .and_then(|v| v.parse::<u64>().ok())
        .filter(|&n| n > 0)
        .map_or(LOGIN_TIMEOUT, Duration::from_secs)
}

/// Let the next read wait only until `deadline`.
pub fn until(io: &mut super::tlsio::TlsLines, deadline: std::time::Instant) {
    let left = deadline.saturating_duration_since(std::time::Instant::now());
    io.conn.set_timeout(left.max(Duration::from_millis(1)));
}

/// How a SASL exchange ([`sasl_exchange`]) ended; each login protocol
/// words the ends in its own replies.
pub enum SaslEnd {
    /// The client's credentials, to verify.
    Done(Credentials),
    /// The client answered `*`.
    Aborted,
    InvalidBase64,
    /// The mechanism refused the response; the failure delay is over.
    Failed,
    /// No response before the login deadline.
    TimedOut,
    /// The client went away.
    Closed,
}

/// Run `mech`'s challenges (`+ ...`) and the client's responses on `io`,
/// each response awaited only until `deadline`.
pub fn sasl_exchange(
    set: &Settings,
    client: &mut Client,
    io: &mut super::tlsio::TlsLines,
    mech: Mech,
    initial: Option<&str>,
    deadline: std::time::Instant,
) -> SaslEnd {
    use super::io::{Lines, ReadError};
    use super::sasl::{Exchange, Step};
    let (mut x, mut step) = Exchange::start(mech, initial);
    loop {
        match step {
            Step::Challenge(c) => {
                io.line(&format!("+ {c}"));
                until(io, deadline);
                match io.read_line() {
                    Ok(r) => step = x.respond(&String::from_utf8_lossy(&r)),
                    Err(ReadError::Timeout) => return SaslEnd::TimedOut,
                    Err(_) => return SaslEnd::Closed,
                }
            }
            Step::Aborted => return SaslEnd::Aborted,
            Step::InvalidBase64 => return SaslEnd::InvalidBase64,
            Step::Failed => {
                client.auth_attempts += 1;
                io.flush();
                std::thread::sleep(set.auth_failure_delay);
                return SaslEnd::Failed;
            }
            Step::Done(cred) => return SaslEnd::Done(cred),
        }
    }
}

/// Our checkpassword-reply, installed beside the login program (Dovecot's
/// path when that cannot be told).
pub fn reply_helper() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(|d| d.join("checkpassword-reply")))
        .unwrap_or_else(|| "/usr/lib/dovecot/checkpassword-reply".into())
}

/// `ssl =`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ssl {
    No,
    Yes,
    Required,
}

/// The userdb in force.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserDb {
    /// Use the passdb's `userdb_*` fields.
    Prefetch,
    /// `static` with its `uid= gid= home=` args.
    Static(Vec<(String, String)>),
}

/// The login settings of one protocol.
#[derive(Clone)]
pub struct Settings {
    pub protocol: String,
    pub greeting: String,
    pub mechanisms: Vec<Mech>,
    pub disable_plaintext_auth: bool,
    pub ssl: Ssl,
    pub tls: Option<Arc<rustls::ServerConfig>>,
    pub auth_failure_delay: Duration,
    /// The checkpassword command line (before the reply helper).
    pub passdb: Vec<String>,
    pub userdb: UserDb,
    pub mail_location: String,
    pub first_valid_uid: u32,
    pub last_valid_uid: u32,
    pub first_valid_gid: u32,
    pub last_valid_gid: u32,
    /// `import_environment`: names to pass on, or `NAME=value` to set.
    pub import_environment: Vec<(String, Option<String>)>,
    /// Our checkpassword-reply, appended to the passdb command line.
    pub reply_helper: PathBuf,
    /// Every other setting of the protocol, for the post-login process.
    pub config: Config,
}

/// Why the settings cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettingsError(pub String);

fn num(c: &Config, key: &str, proto: &str, default: u32) -> Result<u32, SettingsError> {
    match c.get(key, proto) {
        None | Some("") => Ok(default),
        Some(v) => v
            .parse()
            .map_err(|_| SettingsError(format!("{key}: not a number: {v}"))),
    }
}

impl Settings {
    /// From a parsed dovecot.conf for `protocol` (`pop3`, `imap`).
    pub fn from_config(
        c: &Config,
        protocol: &str,
        reply_helper: PathBuf,
    ) -> Result<Settings, SettingsError> {
        let get = |k: &str| c.get(k, protocol);
        let mut mechanisms = Vec::new();
        for m in get("auth_mechanisms").unwrap_or("plain").split_whitespace() {
            match Mech::by_name(m) {
                Some(m) => mechanisms.push(m),
                None => {
                    return Err(SettingsError(format!(
                        "auth_mechanisms: {m} is not supported"
                    )))
                }
            }
        }
        let ssl = match get("ssl").unwrap_or("yes") {
            "no" => Ssl::No,
            "required" => Ssl::Required,
            _ => Ssl::Yes,
        };
        let tls = match (ssl, get("ssl_cert"), get("ssl_key")) {
            (Ssl::No, _, _) => None,
            (_, Some(cert), Some(key)) if !cert.is_empty() && !key.is_empty() => {
                let pem = format!("{cert}\n{key}");
                let set = crate::tls::ServerSettings {
                    servercert: pem.as_bytes(),
                    ciphers: "DEFAULT",
                    client_verifier: None,
                };
                let (cfg, _) = crate::tls::server_config(&set)
                    .map_err(|e| SettingsError(format!("ssl_cert/ssl_key: {e:?}")))?;
                Some(cfg)
            }
            _ => None,
        };
        let passdb = c
            .dbs("passdb")
            .into_iter()
            .find(|d| d.0 == "checkpassword")
            .ok_or_else(|| {
                SettingsError("no passdb { driver = checkpassword } configured".into())
            })?;
        let userdb = match c.dbs("userdb").first() {
            None => UserDb::Prefetch,
            Some((d, _)) if d == "prefetch" => UserDb::Prefetch,
            Some((d, a)) if d == "static" => UserDb::Static(
                a.split_whitespace()
                    .map(|kv| {
                        let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
                        (k.to_string(), v.to_string())
                    })
                    .collect(),
            ),
            Some((d, _)) => {
                return Err(SettingsError(format!("userdb driver {d} is not supported")))
            }
        };
        let import_environment = get("import_environment")
            .unwrap_or("TZ")
            .split_whitespace()
            .map(|w| match w.split_once('=') {
                Some((k, v)) => (k.to_string(), Some(v.to_string())),
                None => (w.to_string(), None),
            })
            .collect();
        Ok(Settings {
            protocol: protocol.to_string(),
            greeting: get("login_greeting")
                .unwrap_or("Dovecot (Debian) ready.")
                .to_string(),
            mechanisms,
            disable_plaintext_auth: get("disable_plaintext_auth")
                .and_then(config::boolean)
                .unwrap_or(true),
            ssl,
            tls,
            auth_failure_delay: get("auth_failure_delay")
                .and_then(config::duration)
                .unwrap_or(Duration::from_secs(2)),
            passdb: passdb
                .1
                .split(' ')
                .filter(|w| !w.is_empty())
                .map(str::to_string)
                .collect(),
            userdb,
            mail_location: get("mail_location").unwrap_or("").to_string(),
            first_valid_uid: num(c, "first_valid_uid", protocol, 500)?,
            last_valid_uid: num(c, "last_valid_uid", protocol, 0)?,
            first_valid_gid: num(c, "first_valid_gid", protocol, 1)?,
            last_valid_gid: num(c, "last_valid_gid", protocol, 0)?,
            import_environment,
            reply_helper,
            config: c.clone(),
        })
    }
}

/// One client connection's facts.
#[derive(Debug, Clone, Default)]
pub struct Client {
    pub local_ip: String,
    pub local_port: String,
    pub remote_ip: String,
    pub remote_port: String,
    pub tls: bool,
    /// Failed attempts so far.
    pub auth_attempts: u32,
}

impl Client {
    /// From a UCSPI server's environment (`TCPLOCALIP`, ...).
    pub fn from_env() -> Client {
        let e = |k: &str| std::env::var(k).unwrap_or_default();
        Client {
            local_ip: e("TCPLOCALIP"),
            local_port: e("TCPLOCALPORT"),
            remote_ip: e("TCPREMOTEIP"),
            remote_port: e("TCPREMOTEPORT"),
            tls: false,
            auth_attempts: 0,
        }
    }

    /// Dovecot's "secured": TLS, or the peer is this host.
    pub fn secured(&self) -> bool {
        self.tls || (!self.remote_ip.is_empty() && self.remote_ip == self.local_ip)
    }

    /// Whether USER/PASS and plaintext SASL are allowed now.
    pub fn plaintext_allowed(&self, set: &Settings) -> bool {
        self.secured() || !set.disable_plaintext_auth
    }
}

/// The mail user a login resolved to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub name: String,
    pub home: Option<String>,
    pub uid: u32,
    pub gid: u32,
    /// The expanded mail location.
    pub mail: String,
}

impl User {
    /// The INBOX Maildir.
    pub fn maildir(&self) -> Result<PathBuf, super::location::LocationError> {
        super::location::maildir(&self.mail, self.home.as_deref())
    }
}

/// The outcome of one authentication.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthResult {
    Ok(User),
    /// Wrong user or password (after the failure delay).
    Failed,
    /// `[SYS/TEMP]` / `[UNAVAILABLE]`: checkpassword trouble.
    TempFail,
    /// Authenticated, but the user may not log in (uid checks, no uid).
    Internal,
}

/// `%u %n %d %h %%` and `%{user}`-style names, with `%L` lower-casing;
/// `%{auth_user}`, `%{auth_username}`, `%{auth_domain}` are the login as
/// the client gave it (`auth`), the others the final user name.
pub fn expand(template: &str, user: &str, auth: &str, home: Option<&str>) -> String {
    let (local, domain) = user.split_once('@').unwrap_or((user, ""));
    let (alocal, adomain) = auth.split_once('@').unwrap_or((auth, ""));
    let mut out = String::new();
    let mut it = template.chars().peekable();
    while let Some(c) = it.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let lower = it.next_if_eq(&'L').is_some();
        let key: String = match it.next() {
            Some('{') => it.by_ref().take_while(|&c| c != '}').collect(),
            Some(k) => k.to_string(),
            None => break,
        };
        let v = match key.as_str() {
            "%" => "%".to_string(),
            "u" | "user" => user.to_string(),
            "n" | "username" => local.to_string(),
            "d" | "domain" => domain.to_string(),
            "auth_user" => auth.to_string(),
            "auth_username" => alocal.to_string(),
            "auth_domain" => adomain.to_string(),
            "h" | "home" => home.unwrap_or("").to_string(),
            _ => String::new(),
        };
        out.push_str(&if lower { v.to_lowercase() } else { v });
    }
    out
}

fn env_for(set: &Settings, c: &Client, login: &str, mech: Mech) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = Vec::new();
    for (k, v) in &set.import_environment {
        match v {
            Some(v) => env.push((k.clone(), v.clone())),
            None => {
                if let Ok(v) = std::env::var(k) {
                    env.push((k.clone(), v));
                }
            }
        }
    }
    let uid = nix::unistd::getuid().as_raw().to_string();
    let mut put = |k: &str, v: &str| env.push((k.to_string(), v.to_string()));
    put("PROTO", "TCP");
    put("SERVICE", &set.protocol);
    put("TCPLOCALIP", &c.local_ip);
    put("TCPLOCALPORT", &c.local_port);
    put("TCPREMOTEIP", &c.remote_ip);
    put("TCPREMOTEPORT", &c.remote_port);
    put("LOCAL_IP", &c.local_ip);
    put("REMOTE_IP", &c.remote_ip);
    put("ORIG_UID", &uid);
    put("AUTH_USER", login);
    put("AUTH_ORIG_USER", login);
    put("AUTH_SERVICE", &set.protocol);
    put("AUTH_MECH", mech.name());
    put("AUTH_RIP", &c.remote_ip);
    put("AUTH_LIP", &c.local_ip);
    put("AUTH_RPORT", &c.remote_port);
    put("AUTH_LPORT", &c.local_port);
    put("AUTH_PID", &std::process::id().to_string());
    if c.secured() {
        put("AUTH_SECURED", if c.tls { "TLS" } else { "secured" });
    }
    env
}

/// Verify `cred` with the passdb; resolve the user via the userdb.
/// Sleeps `auth_failure_delay` before returning a failure.
pub fn authenticate(set: &Settings, c: &mut Client, mech: Mech, cred: &Credentials) -> AuthResult {
    let login = String::from_utf8_lossy(&cred.user).into_owned();
    let mut argv: Vec<String> = set
        .passdb
        .iter()
        .map(|w| expand(w, &login, &login, None))
        .collect();
    argv.push(set.reply_helper.display().to_string());
    let env = env_for(set, c, &login, mech);
    let fields = match passdb::check(
        &argv,
        &cred.user,
        &cred.password,
        &env,
        Duration::from_secs(60),
    ) {
        Verdict::Ok(f) => f,
        Verdict::Failed => {
            c.auth_attempts += 1;
            std::thread::sleep(set.auth_failure_delay);
            return AuthResult::Failed;
        }
        Verdict::TempFail(e) => {
            eprintln!("{}-login: Error: {e}", set.protocol);
            return AuthResult::TempFail;
        }
    };
    let get = |k: &str| fields.iter().rev().find(|f| f.0 == k).map(|f| f.1.clone());
    let name = get("user").unwrap_or(login.clone());
    let (home, uid, gid, mail) = match &set.userdb {
        UserDb::Prefetch => (
            get("userdb_home"),
            get("userdb_uid"),
            get("userdb_gid"),
            get("userdb_mail"),
        ),
        UserDb::Static(a) => {
            let s = |k: &str| {
                a.iter()
                    .find(|x| x.0 == k)
                    .map(|x| expand(&x.1, &name, &login, None))
            };
            (s("home"), s("uid"), s("gid"), s("mail"))
        }
    };
    let to_id = |v: Option<String>| v.and_then(|v| v.parse::<u32>().ok());
    let (Some(uid), Some(gid)) = (to_id(uid), to_id(gid)) else {
        eprintln!(
            "{}-login: Error: user {name}: no uid/gid from the userdb",
            set.protocol
        );
        return AuthResult::Internal;
    };
    let in_range = |v: u32, first: u32, last: u32| v >= first && (last == 0 || v <= last);
    if !in_range(uid, set.first_valid_uid, set.last_valid_uid)
        || !in_range(gid, set.first_valid_gid, set.last_valid_gid)
    {
        eprintln!(
            "{}-login: Error: user {name}: uid {uid}/gid {gid} not permitted (first_valid_uid/gid)",
            set.protocol
        );
        return AuthResult::Internal;
    }
    let template = mail.unwrap_or_else(|| set.mail_location.clone());
    let mail = expand(&template, &name, &login, home.as_deref());
    AuthResult::Ok(User {
        name,
        home,
        uid,
        gid,
        mail,
    })
}

/// Switch to the user's ids when running as root; otherwise keep ours
/// (single-user mode).
pub fn become_user(u: &User) -> std::io::Result<()> {
    use nix::unistd::{setgid, setgroups, setuid, Gid, Uid};
    if !nix::unistd::geteuid().is_root() {
        return Ok(());
    }
    if u.uid == 0 {
        return Err(std::io::Error::other("Mail access not allowed for root"));
    }
    let gid = Gid::from_raw(u.gid);
    setgroups(&[gid]).map_err(std::io::Error::from)?;
    setgid(gid).map_err(std::io::Error::from)?;
    setuid(Uid::from_raw(u.uid)).map_err(std::io::Error::from)?;
    Ok(())
}

#[cfg(test)]
mod tests {

    #[test]
    fn invocation() {
        let a =
            |v: &[&str]| Invocation::parse(&v.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        let i = a(&["--ssl", "-c", "/x/d.conf"]).unwrap();
        assert_eq!((i.conf, i.implicit_tls), ("/x/d.conf".into(), true));
        assert!(!a(&[]).unwrap().implicit_tls);
        assert_eq!(a(&["-c"]), Err("unknown argument -c".into()));
        assert_eq!(a(&["-x"]), Err("unknown argument -x".into()));
    }

    use super::*;

    #[test]
    fn expansion() {
        assert_eq!(
            expand(
                "maildir:~/users/%{auth_username}",
                "base",
                "Al@Ex.com",
                None
            ),
            "maildir:~/users/Al"
        );
        assert_eq!(
            expand("maildir:/m/%d/%Ln/%%", "Al@Ex.com", "x", None),
            "maildir:/m/Ex.com/al/%"
        );
        assert_eq!(expand("%h/Maildir", "a", "a", Some("/h/a")), "/h/a/Maildir");
    }

    #[test]
    fn settings_from_config() {
        let c = Config::parse_str(
            "auth_mechanisms = plain login\nssl = no\npassdb {\n driver = checkpassword\n args = /bin/cp %u x\n}\nuserdb {\n driver = static\n args = uid=5 gid=6 home=/h/%u\n}\n",
            std::path::Path::new("/etc/dovecot/dovecot.conf"),
        )
        .unwrap();
        let s = Settings::from_config(&c, "pop3", "/r".into()).unwrap();
        assert_eq!(s.mechanisms, vec![Mech::Plain, Mech::Login]);
        assert_eq!(s.passdb, vec!["/bin/cp", "%u", "x"]);
        assert!(s.disable_plaintext_auth);
        assert_eq!(s.greeting, "Dovecot (Debian) ready.");
        assert!(matches!(s.userdb, UserDb::Static(_)));
        let cl = Client {
            local_ip: "127.0.0.1".into(),
            remote_ip: "127.0.0.1".into(),
            ..Client::default()
        };
        assert!(cl.secured());
        assert!(!Client {
            remote_ip: "10.0.0.1".into(),
            ..cl.clone()
        }
        .plaintext_allowed(&s));
    }
}
