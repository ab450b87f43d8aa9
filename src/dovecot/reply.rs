//! Dovecot's `checkpassword-reply` (`shared/spec/dovecot/auth.md` §2.5,
//! §5; `src/auth/checkpassword-reply.c`): the reply line a checkpassword
//! program's last step writes to fd 4, and the rule that refuses to run
//! after a uid change unless `INSECURE_SETUID` is set, the binary is
//! setuid, or `ORIG_UID` is the current uid.

use super::passdb::tab_escape;

/// What the helper does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// Write this line to fd 4, then exit with the code.
    Write(String, u8),
    /// Exit 111 without writing (refused by the security rule, or an
    /// `AUTHORIZED` value other than 2).
    Refuse(&'static str),
}

/// The process facts the rule looks at.
pub struct Ids {
    pub uid: u32,
    pub euid: u32,
    pub gid: u32,
    pub egid: u32,
}

/// Build the reply from the environment (`get`) and the ids.
pub fn reply(get: &dyn Fn(&str) -> Option<String>, ids: &Ids) -> Reply {
    let authorized = get("AUTHORIZED");
    if authorized.as_deref().is_some_and(|a| a != "2") {
        return Reply::Refuse("checkpassword: AUTHORIZED is not 2");
    }
    let setuid = ids.uid != ids.euid || ids.gid != ids.egid;
    let same_uid = get("ORIG_UID").and_then(|u| u.parse::<u32>().ok()) == Some(ids.uid);
    if get("INSECURE_SETUID").is_none() && !setuid && !same_uid {
        return Reply::Refuse(
            "checkpassword: ORIG_UID environment was dropped by checkpassword, or the uid changed \
             (set INSECURE_SETUID to allow it)",
        );
    }
    let mut out = String::new();
    let mut field = |k: &str, v: &str| {
        out.push_str(k);
        out.push('=');
        out.push_str(&tab_escape(v));
        out.push('\t');
    };
    if let Some(u) = get("USER") {
        field("user", &u);
    }
    if let Some(h) = get("HOME") {
        field("userdb_home", &h);
    }
    let extra = get("EXTRA").unwrap_or_default();
    let names: Vec<String> = extra
        .split(' ')
        .filter(|n| !n.is_empty())
        .map(str::to_string)
        .collect();
    for n in &names {
        if let Some(v) = get(n) {
            field(&n.to_ascii_lowercase(), &v);
        }
    }
    let has = |k: &str| names.iter().any(|n| n.eq_ignore_ascii_case(k));
    if !has("userdb_uid") {
        field("userdb_uid", &ids.uid.to_string());
    }
    if !has("userdb_gid") {
        field("userdb_gid", &ids.gid.to_string());
    }
    Reply::Write(out, if authorized.is_some() { 2 } else { 0 })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |k| pairs.iter().find(|p| p.0 == k).map(|p| p.1.to_string())
    }

    #[test]
    fn lines_and_rule() {
        let ids = Ids {
            uid: 5000,
            euid: 5000,
            gid: 5000,
            egid: 5000,
        };
        let e = [
            ("USER", "bob"),
            ("HOME", "/h/bob"),
            ("ORIG_UID", "5000"),
            ("EXTRA", "userdb_uid userdb_mail"),
            ("userdb_uid", "7"),
            ("userdb_mail", "maildir:~/M"),
        ];
        assert_eq!(
            reply(&env(&e), &ids),
            Reply::Write("user=bob\tuserdb_home=/h/bob\tuserdb_uid=7\tuserdb_mail=maildir:~/M\tuserdb_gid=5000\t".into(), 0)
        );
        assert!(matches!(
            reply(&env(&[("ORIG_UID", "0")]), &ids),
            Reply::Refuse(_)
        ));
        assert!(matches!(
            reply(&env(&[("INSECURE_SETUID", "1")]), &ids),
            Reply::Write(_, 0)
        ));
        assert!(matches!(
            reply(&env(&[("ORIG_UID", "5000"), ("AUTHORIZED", "1")]), &ids),
            Reply::Refuse(_)
        ));
        assert!(matches!(
            reply(&env(&[("ORIG_UID", "5000"), ("AUTHORIZED", "2")]), &ids),
            Reply::Write(_, 2)
        ));
    }
}
