//! `mail_location` and the `MAIL` environment of Dovecot's mail processes
//! (`shared/spec/dovecot/config.md` §2-§3): `maildir:<path>[:options]`,
//! `~` = the user's home. Only the default Maildir++ layout is served:
//! `INDEX=`, `CONTROL=`, `LAYOUT=`, `INBOX=` options are refused, as other
//! storage formats are.

use std::path::PathBuf;

/// Why a location cannot be served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LocationError {
    /// Not `maildir:` (mbox, sdbox, ...).
    Driver(String),
    /// An option that changes the layout.
    Option(String),
    /// `~` with no home.
    NoHome,
}

impl std::fmt::Display for LocationError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LocationError::Driver(d) => write!(f, "unsupported mail storage driver: {d}"),
            LocationError::Option(o) => write!(f, "unsupported mail_location option: {o}"),
            LocationError::NoHome => write!(f, "mail_location uses ~ but the user has no home"),
        }
    }
}

/// The INBOX Maildir of a location; an empty location means Dovecot's
/// autodetection, which finds `~/Maildir`.
pub fn maildir(location: &str, home: Option<&str>) -> Result<PathBuf, LocationError> {
    let loc = if location.is_empty() {
        "maildir:~/Maildir"
    } else {
        location
    };
    let (driver, rest) = loc.split_once(':').unwrap_or(("", loc));
    if driver != "maildir" {
        return Err(LocationError::Driver(driver.to_string()));
    }
    let mut parts = rest.split(':');
    let path = parts.next().unwrap_or("");
    if let Some(opt) = parts.find(|o| !o.is_empty()) {
        return Err(LocationError::Option(opt.to_string()));
    }
    let path = match path.strip_prefix('~') {
        Some(tail) => format!("{}{tail}", home.ok_or(LocationError::NoHome)?),
        None => path.to_string(),
    };
    Ok(PathBuf::from(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        assert_eq!(
            maildir("maildir:~/Maildir", Some("/h/a")).unwrap(),
            PathBuf::from("/h/a/Maildir")
        );
        assert_eq!(
            maildir("", Some("/h/a")).unwrap(),
            PathBuf::from("/h/a/Maildir")
        );
        assert_eq!(
            maildir("maildir:/m/x", None).unwrap(),
            PathBuf::from("/m/x")
        );
        assert_eq!(
            maildir("mbox:~/mail", Some("/h")),
            Err(LocationError::Driver("mbox".into()))
        );
        assert!(matches!(
            maildir("maildir:~/M:INDEX=/i", Some("/h")),
            Err(LocationError::Option(_))
        ));
        assert_eq!(maildir("maildir:~/M", None), Err(LocationError::NoHome));
    }
}
