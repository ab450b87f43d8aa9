//! The declarative table of every control file (`shared/spec/qmail/control.md`
//! §1–§5): one row each, with its reader, its default and its readers.
//!
//! Rows are constants so that typed accessors (`Control::databytes`, ...)
//! and tests name them; [`ALL`] lists them in the spec's order. Files under
//! `users/` are named with their directory (`users/assign`); all other names
//! are relative to `control/`.

use super::map::Shape;

/// Which of qmail's reading primitives reads a file (`common.md` §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// read-line: first line, trailing LF/space/tab stripped.
    Line,
    /// rldef: read-line, then `me` (when `Default::Me` / `MeOr`), then the
    /// literal default.
    LineDefault,
    /// read-int: leading decimal digits of the first line.
    Int,
    /// read-file: kept lines (no blanks, no `#` comments).
    List,
    /// read-file turned into a constmap (`common.md` §3).
    Map(Shape),
    /// A cdb file (opened and looked up, never read as text).
    Cdb,
    /// A file whose presence or bytes matter as a whole (PEM, assign).
    File,
    /// A directory of per-host files (`tlshosts/`, `notlshosts/`).
    Dir,
}

/// What a missing file means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fallback {
    /// Nothing: the feature is off, or the caller decides.
    None,
    /// The value of `control/me`; nothing if `me` is missing too.
    Me,
    /// `me`, else this literal.
    MeOr(&'static str),
    /// This literal.
    Text(&'static str),
    /// This number.
    Int(u64),
    /// The one-entry list `[me]`.
    MeList,
}

/// Which patch adds the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// netqmail 1.06 itself.
    Netqmail,
    /// Vermeulen's STARTTLS patch.
    Tls,
    /// fehcom's SMTP AUTH patch.
    Auth,
    /// The validrcptto.cdb check (and its variants).
    Validrcptto,
    /// `/var/qmail/users/`.
    Users,
}

/// One control file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ControlFile {
    /// File name relative to `control/` (or `users/...`).
    pub name: &'static str,
    pub kind: Kind,
    pub default: Fallback,
    /// Programs that read it.
    pub readers: &'static [&'static str],
    pub origin: Origin,
    /// One line of meaning.
    pub about: &'static str,
}

const fn row(
    name: &'static str,
    kind: Kind,
    default: Fallback,
    readers: &'static [&'static str],
    origin: Origin,
    about: &'static str,
) -> ControlFile {
    ControlFile {
        name,
        kind,
        default,
        readers,
        origin,
        about,
    }
}

use Fallback as D;
use Kind as K;
use Origin as O;

const SEND: &[&str] = &["qmail-send"];
const SMTPD: &[&str] = &["qmail-smtpd"];
const REMOTE: &[&str] = &["qmail-remote"];
const INJECT: &[&str] = &["qmail-inject"];
const PW2U: &[&str] = &["qmail-pw2u"];
const KV: Kind = K::Map(Shape::KeyValue);
const PLAIN: Kind = K::Map(Shape::Plain);

// §1 netqmail 1.06.
pub const ME: ControlFile = row(
    "me",
    K::Line,
    D::None,
    &[
        "qmail-send",
        "qmail-remote",
        "qmail-smtpd",
        "qmail-inject",
        "qmail-qmtpd",
        "qmail-qmqpc",
    ],
    O::Netqmail,
    "fully-qualified name of this host; default for most host-name controls",
);
pub const BADMAILFROM: ControlFile = row(
    "badmailfrom",
    PLAIN,
    D::None,
    SMTPD,
    O::Netqmail,
    "rejected envelope senders: user@host or @host",
);
pub const BOUNCEFROM: ControlFile = row(
    "bouncefrom",
    K::LineDefault,
    D::Text("MAILER-DAEMON"),
    SEND,
    O::Netqmail,
    "user part of the bounce From:",
);
pub const BOUNCEHOST: ControlFile = row(
    "bouncehost",
    K::LineDefault,
    D::MeOr("bouncehost"),
    SEND,
    O::Netqmail,
    "host part of the bounce From:",
);
pub const CONCURRENCYLOCAL: ControlFile = row(
    "concurrencylocal",
    K::Int,
    D::Int(10),
    SEND,
    O::Netqmail,
    "max simultaneous local deliveries (capped at 120)",
);
pub const CONCURRENCYREMOTE: ControlFile = row(
    "concurrencyremote",
    K::Int,
    D::Int(20),
    SEND,
    O::Netqmail,
    "max simultaneous remote deliveries (capped at 120)",
);
pub const DATABYTES: ControlFile = row(
    "databytes",
    K::Int,
    D::Int(0),
    &["qmail-smtpd", "qmail-qmtpd"],
    O::Netqmail,
    "max stored message size in bytes, 0 = no limit; env DATABYTES overrides",
);
pub const DEFAULTDOMAIN: ControlFile = row(
    "defaultdomain",
    K::LineDefault,
    D::MeOr("defaultdomain"),
    INJECT,
    O::Netqmail,
    "appended (with a dot) to host names without dots",
);
pub const DEFAULTHOST: ControlFile = row(
    "defaulthost",
    K::LineDefault,
    D::MeOr("defaulthost"),
    INJECT,
    O::Netqmail,
    "host added to addresses without @",
);
pub const DOUBLEBOUNCEHOST: ControlFile = row(
    "doublebouncehost",
    K::LineDefault,
    D::MeOr("doublebouncehost"),
    SEND,
    O::Netqmail,
    "host part of the double-bounce recipient",
);
pub const DOUBLEBOUNCETO: ControlFile = row(
    "doublebounceto",
    K::LineDefault,
    D::Text("postmaster"),
    SEND,
    O::Netqmail,
    "user part of the double-bounce recipient",
);
pub const ENVNOATHOST: ControlFile = row(
    "envnoathost",
    K::LineDefault,
    D::MeOr("envnoathost"),
    SEND,
    O::Netqmail,
    "domain appended to envelope recipients without @",
);
pub const HELOHOST: ControlFile = row(
    "helohost",
    K::LineDefault,
    D::Me,
    REMOTE,
    O::Netqmail,
    "name in HELO/EHLO; without it and me, qmail-remote fails",
);
pub const IDHOST: ControlFile = row(
    "idhost",
    K::LineDefault,
    D::MeOr("idhost"),
    INJECT,
    O::Netqmail,
    "host part of generated Message-IDs",
);
pub const LOCALIPHOST: ControlFile = row(
    "localiphost",
    K::LineDefault,
    D::Me,
    SMTPD,
    O::Netqmail,
    "replaces [a.b.c.d] of a local IP in MAIL/RCPT addresses",
);
pub const LOCALS: ControlFile = row(
    "locals",
    PLAIN,
    D::MeList,
    SEND,
    O::Netqmail,
    "domains delivered locally",
);
pub const MORERCPTHOSTS: ControlFile = row(
    "morercpthosts",
    K::List,
    D::None,
    &["qmail-newmrh", "qmail-showctl"],
    O::Netqmail,
    "extra rcpthosts, compiled into morercpthosts.cdb",
);
pub const MORERCPTHOSTS_CDB: ControlFile = row(
    "morercpthosts.cdb",
    K::Cdb,
    D::None,
    &["qmail-smtpd", "qmail-qmtpd"],
    O::Netqmail,
    "lowercased morercpthosts keys; used only if rcpthosts exists",
);
pub const PERCENTHACK: ControlFile = row(
    "percenthack",
    PLAIN,
    D::None,
    SEND,
    O::Netqmail,
    "domains for which user%host@domain becomes user@host",
);
pub const PLUSDOMAIN: ControlFile = row(
    "plusdomain",
    K::LineDefault,
    D::MeOr("plusdomain"),
    INJECT,
    O::Netqmail,
    "replaces a trailing + of a host name",
);
pub const QMQPSERVERS: ControlFile = row(
    "qmqpservers",
    K::List,
    D::None,
    &["qmail-qmqpc"],
    O::Netqmail,
    "IPv4 addresses of QMQP servers; none: qmail-qmqpc exits 55",
);
pub const QUEUELIFETIME: ControlFile = row(
    "queuelifetime",
    K::Int,
    D::Int(604800),
    SEND,
    O::Netqmail,
    "seconds a message may stay in the queue",
);
pub const RCPTHOSTS: ControlFile = row(
    "rcpthosts",
    PLAIN,
    D::None,
    &["qmail-smtpd", "qmail-qmtpd"],
    O::Netqmail,
    "allowed recipient domains (domain or .suffix); absent: accept every recipient",
);
pub const SMTPGREETING: ControlFile = row(
    "smtpgreeting",
    K::LineDefault,
    D::Me,
    SMTPD,
    O::Netqmail,
    "text after 220/221/250; without it and me, qmail-smtpd refuses (421)",
);
pub const SMTPROUTES: ControlFile = row(
    "smtproutes",
    KV,
    D::None,
    REMOTE,
    O::Netqmail,
    "artificial routes domain:relay[:port] (AUTH: relay:port|user|password)",
);
pub const TIMEOUTCONNECT: ControlFile = row(
    "timeoutconnect",
    K::Int,
    D::Int(60),
    REMOTE,
    O::Netqmail,
    "connect timeout, seconds",
);
pub const TIMEOUTREMOTE: ControlFile = row(
    "timeoutremote",
    K::Int,
    D::Int(1200),
    REMOTE,
    O::Netqmail,
    "per-read/write timeout, seconds",
);
pub const TIMEOUTSMTPD: ControlFile = row(
    "timeoutsmtpd",
    K::Int,
    D::Int(1200),
    SMTPD,
    O::Netqmail,
    "per-read timeout, seconds (<= 0 becomes 1)",
);
pub const VIRTUALDOMAINS: ControlFile = row(
    "virtualdomains",
    KV,
    D::None,
    &["qmail-send", "checkvpw", "mkvalidrcptto"],
    O::Netqmail,
    "virtual users/domains key:prepend",
);

// §2 TLS patch.
const fn pem(
    name: &'static str,
    readers: &'static [&'static str],
    about: &'static str,
) -> ControlFile {
    row(name, K::File, D::None, readers, O::Tls, about)
}
pub const SERVERCERT_PEM: ControlFile = pem(
    "servercert.pem",
    SMTPD,
    "server certificate chain + key; its existence enables STARTTLS",
);
pub const CLIENTCA_PEM: ControlFile = pem(
    "clientca.pem",
    SMTPD,
    "CAs for verifying client certificates",
);
pub const CLIENTCRL_PEM: ControlFile = pem("clientcrl.pem", SMTPD, "CRLs for client certificates");
pub const TLSCLIENTS: ControlFile = row(
    "tlsclients",
    PLAIN,
    D::None,
    SMTPD,
    O::Tls,
    "certificate e-mail addresses allowed to relay",
);
pub const TLSSERVERCIPHERS: ControlFile = row(
    "tlsserverciphers",
    K::List,
    D::Text("DEFAULT"),
    SMTPD,
    O::Tls,
    "OpenSSL cipher string, lines joined with ':'; env TLSCIPHERS overrides",
);
pub const DH2048_PEM: ControlFile = pem("dh2048.pem", SMTPD, "temporary DH parameters");
pub const RSA2048_PEM: ControlFile = pem("rsa2048.pem", SMTPD, "temporary RSA key");
pub const DH512_PEM: ControlFile = pem("dh512.pem", SMTPD, "temporary DH parameters (2007-era)");
pub const DH1024_PEM: ControlFile = pem("dh1024.pem", SMTPD, "temporary DH parameters (2007-era)");
pub const RSA512_PEM: ControlFile = pem("rsa512.pem", SMTPD, "temporary RSA key (2007-era)");
pub const CLIENTCERT_PEM: ControlFile = pem(
    "clientcert.pem",
    REMOTE,
    "client certificate + key presented to servers",
);
pub const TLSCLIENTCIPHERS: ControlFile = row(
    "tlsclientciphers",
    K::List,
    D::Text("DEFAULT"),
    REMOTE,
    O::Tls,
    "OpenSSL cipher string for outgoing TLS, lines joined with ':'",
);
pub const TLSHOSTS: ControlFile = row(
    "tlshosts",
    K::Dir,
    D::None,
    REMOTE,
    O::Tls,
    "tlshosts/FQDN.pem: require TLS to FQDN, verify against these CAs",
);
pub const TLSHOSTS_EXHAUSTIVELIST: ControlFile = pem(
    "tlshosts/exhaustivelist",
    REMOTE,
    "if present, TLS only for hosts with a tlshosts/FQDN.pem",
);
pub const NOTLSHOSTS: ControlFile = row(
    "notlshosts",
    K::Dir,
    D::None,
    REMOTE,
    O::Tls,
    "notlshosts/FQDN: never try TLS with FQDN",
);

// §3 AUTH patch.
pub const AUTHSENDERS: ControlFile = row(
    "authsenders",
    KV,
    D::None,
    REMOTE,
    O::Auth,
    "sender-pattern:relay:port|user|password authenticated relaying",
);

// §4 validrcptto.
pub const VALIDRCPTTO_CDB: ControlFile = row(
    "validrcptto.cdb",
    K::Cdb,
    D::None,
    SMTPD,
    O::Validrcptto,
    "valid recipients; absent = check off; env VALIDRCPTTO_CDB overrides",
);
pub const VALIDRCPTTO: ControlFile = row(
    "validrcptto",
    K::List,
    D::None,
    SMTPD,
    O::Validrcptto,
    "text list of valid recipients (later combined builds only; env VALIDRCPTTO)",
);
pub const MOREVALIDRCPTTO_CDB: ControlFile = row(
    "morevalidrcptto.cdb",
    K::Cdb,
    D::None,
    SMTPD,
    O::Validrcptto,
    "more valid recipients (later combined builds only; env MOREVALIDRCPTTO_CDB)",
);

// §5 /var/qmail/users/.
pub const USERS_ASSIGN: ControlFile = row(
    "users/assign",
    K::File,
    D::None,
    &["qmail-newu"],
    O::Users,
    "address assignments (local.md §1.3)",
);
pub const USERS_CDB: ControlFile = row(
    "users/cdb",
    K::Cdb,
    D::None,
    &["qmail-lspawn"],
    O::Users,
    "compiled assign (qmail-newu)",
);
pub const USERS_CDB_TMP: ControlFile = row(
    "users/cdb.tmp",
    K::File,
    D::None,
    &["qmail-newu"],
    O::Users,
    "temporary during qmail-newu",
);
pub const USERS_INCLUDE: ControlFile = row(
    "users/include",
    PLAIN,
    D::None,
    PW2U,
    O::Users,
    "users qmail-pw2u includes",
);
pub const USERS_EXCLUDE: ControlFile = row(
    "users/exclude",
    PLAIN,
    D::None,
    PW2U,
    O::Users,
    "users qmail-pw2u excludes",
);
pub const USERS_MAILNAMES: ControlFile = row(
    "users/mailnames",
    KV,
    D::None,
    PW2U,
    O::Users,
    "user:mailname:mailname... for qmail-pw2u",
);
pub const USERS_SUBUSERS: ControlFile = row(
    "users/subusers",
    K::List,
    D::None,
    PW2U,
    O::Users,
    "extra sub-user lines for qmail-pw2u",
);
pub const USERS_APPEND: ControlFile = row(
    "users/append",
    K::List,
    D::None,
    PW2U,
    O::Users,
    "assign lines qmail-pw2u appends",
);

/// Every control file, in `control.md`'s order.
pub static ALL: &[&ControlFile] = &[
    &ME,
    &BADMAILFROM,
    &BOUNCEFROM,
    &BOUNCEHOST,
    &CONCURRENCYLOCAL,
    &CONCURRENCYREMOTE,
    &DATABYTES,
    &DEFAULTDOMAIN,
    &DEFAULTHOST,
    &DOUBLEBOUNCEHOST,
    &DOUBLEBOUNCETO,
    &ENVNOATHOST,
    &HELOHOST,
    &IDHOST,
    &LOCALIPHOST,
    &LOCALS,
    &MORERCPTHOSTS,
    &MORERCPTHOSTS_CDB,
    &PERCENTHACK,
    &PLUSDOMAIN,
    &QMQPSERVERS,
    &QUEUELIFETIME,
    &RCPTHOSTS,
    &SMTPGREETING,
    &SMTPROUTES,
    &TIMEOUTCONNECT,
    &TIMEOUTREMOTE,
    &TIMEOUTSMTPD,
    &VIRTUALDOMAINS,
    &SERVERCERT_PEM,
    &CLIENTCA_PEM,
    &CLIENTCRL_PEM,
    &TLSCLIENTS,
    &TLSSERVERCIPHERS,
    &DH2048_PEM,
    &RSA2048_PEM,
    &DH512_PEM,
    &DH1024_PEM,
    &RSA512_PEM,
    &CLIENTCERT_PEM,
    &TLSCLIENTCIPHERS,
    &TLSHOSTS,
    &TLSHOSTS_EXHAUSTIVELIST,
    &NOTLSHOSTS,
    &AUTHSENDERS,
    &VALIDRCPTTO_CDB,
    &VALIDRCPTTO,
    &MOREVALIDRCPTTO_CDB,
    &USERS_ASSIGN,
    &USERS_CDB,
    &USERS_CDB_TMP,
    &USERS_INCLUDE,
    &USERS_EXCLUDE,
    &USERS_MAILNAMES,
    &USERS_SUBUSERS,
    &USERS_APPEND,
];

/// The row for a file name (`"databytes"`, `"users/assign"`).
pub fn lookup(name: &str) -> Option<&'static ControlFile> {
    ALL.iter().copied().find(|f| f.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_found() {
        for (i, f) in ALL.iter().enumerate() {
            assert!(
                ALL[..i].iter().all(|g| g.name != f.name),
                "duplicate {}",
                f.name
            );
            assert_eq!(lookup(f.name), Some(*f));
            assert!(!f.readers.is_empty(), "{} has readers", f.name);
        }
        assert_eq!(lookup("nosuchfile"), None);
    }

    #[test]
    fn defaults_match_their_kind() {
        for f in ALL {
            match f.default {
                D::Int(_) => assert_eq!(f.kind, K::Int, "{}", f.name),
                D::Me | D::MeOr(_) => assert_eq!(f.kind, K::LineDefault, "{}", f.name),
                D::MeList => assert!(matches!(f.kind, K::Map(_) | K::List), "{}", f.name),
                D::Text(_) => assert!(matches!(f.kind, K::LineDefault | K::List), "{}", f.name),
                D::None => assert!(!matches!(f.kind, K::Int | K::LineDefault), "{}", f.name),
            }
        }
    }

    #[test]
    fn every_file_of_the_spec_is_declared() {
        // Names copied from shared/spec/qmail/control.md §1–§5.
        let spec = "me badmailfrom bouncefrom bouncehost concurrencylocal \
            concurrencyremote databytes defaultdomain defaulthost doublebouncehost \
            doublebounceto envnoathost helohost idhost localiphost locals morercpthosts \
            morercpthosts.cdb percenthack plusdomain qmqpservers queuelifetime rcpthosts \
            smtpgreeting smtproutes timeoutconnect timeoutremote timeoutsmtpd virtualdomains \
            servercert.pem clientca.pem clientcrl.pem tlsclients tlsserverciphers dh2048.pem \
            rsa2048.pem dh512.pem dh1024.pem rsa512.pem clientcert.pem tlsclientciphers \
            tlshosts tlshosts/exhaustivelist notlshosts authsenders validrcptto.cdb \
            validrcptto morevalidrcptto.cdb users/assign users/cdb users/cdb.tmp \
            users/include users/exclude users/mailnames users/subusers users/append";
        for name in spec.split_whitespace() {
            assert!(lookup(name).is_some(), "{name} missing from the table");
        }
        assert_eq!(spec.split_whitespace().count(), ALL.len());
    }
}
