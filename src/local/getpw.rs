//! qmail-getpw's search (`shared/spec/qmail/local.md` §1.2): split a local
//! part into a passwd account and an extension.

/// A passwd account as qmail-getpw needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub name: Vec<u8>,
    pub uid: u32,
    pub gid: u32,
    pub dir: Vec<u8>,
}

/// What a home-directory check found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HomeCheck {
    /// The directory exists and is owned by the account.
    Owned,
    /// Missing, not owned, or a permanent stat error.
    No,
    /// A temporary stat error (exit 115).
    Temporary,
}

/// Why qmail-getpw gives up; each is its exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GetpwError {
    /// getpwnam said ETXTBSY (exit 118).
    Sys,
    /// Temporary stat failure (exit 115).
    Nfs,
    /// No `alias` account (exit 116).
    NoAlias,
}

impl GetpwError {
    pub fn exit_code(self) -> i32 {
        match self {
            GetpwError::Sys => 118,
            GetpwError::Nfs => 115,
            GetpwError::NoAlias => 116,
        }
    }
}

/// The getpw result: account, dash and extension.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub account: Account,
    pub dash: &'static [u8],
    pub ext: Vec<u8>,
}

impl Found {
    /// qmail-getpw's output: six NUL-terminated fields.
    pub fn write(&self, out: &mut Vec<u8>) {
        for f in [
            self.account.name.clone(),
            self.account.uid.to_string().into_bytes(),
            self.account.gid.to_string().into_bytes(),
            self.account.dir.clone(),
            self.dash.to_vec(),
            self.ext.clone(),
        ] {
            out.extend_from_slice(&f);
            out.push(0);
        }
    }
}

/// A `getpwnam`: `Err(())` stands for ETXTBSY.
pub type Getpwnam<'a> = &'a dyn Fn(&[u8]) -> Result<Option<Account>, ()>;

/// Longest user name tried, plus one (GETPW_USERLEN).
pub const USERLEN: usize = 32;

/// `userext`: longest account prefix at the end or a `-`, else `alias`.
/// `getpwnam` returns `Err(())` for ETXTBSY.
pub fn search(
    local: &[u8],
    getpwnam: Getpwnam,
    home: &dyn Fn(&Account) -> HomeCheck,
) -> Result<Found, GetpwError> {
    for i in (0..=local.len()).rev() {
        if i >= USERLEN || !(i == local.len() || local[i] == b'-') {
            continue;
        }
        let name = local[..i].to_ascii_lowercase();
        let Some(acct) = getpwnam(&name).map_err(|()| GetpwError::Sys)? else {
            continue;
        };
        if acct.uid == 0 {
            continue;
        }
        match home(&acct) {
            HomeCheck::Owned => {
                let (dash, ext): (&'static [u8], Vec<u8>) = if i == local.len() {
                    (b"", Vec::new())
                } else {
                    (b"-", local[i + 1..].to_vec())
                };
                return Ok(Found {
                    account: acct,
                    dash,
                    ext,
                });
            }
            HomeCheck::Temporary => return Err(GetpwError::Nfs),
            HomeCheck::No => {}
        }
    }
    match getpwnam(b"alias") {
        Ok(Some(account)) => Ok(Found {
            account,
            dash: b"-",
            ext: local.to_vec(),
        }),
        _ => Err(GetpwError::NoAlias),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn acct(name: &str, uid: u32) -> Account {
        Account {
            name: name.into(),
            uid,
            gid: 100,
            dir: format!("/home/{name}").into_bytes(),
        }
    }

    fn pw(n: &[u8]) -> Result<Option<Account>, ()> {
        Ok(match n {
            b"joe" => Some(acct("joe", 1001)),
            b"joe-list" => Some(acct("joe-list", 1002)),
            b"alias" => Some(acct("alias", 7790)),
            b"root" => Some(acct("root", 0)),
            b"nohome" => Some(acct("nohome", 1003)),
            _ => None,
        })
    }

    fn home(a: &Account) -> HomeCheck {
        if a.name == b"nohome" {
            HomeCheck::No
        } else {
            HomeCheck::Owned
        }
    }

    #[test]
    fn splits() {
        let f = search(b"Joe", &pw, &home).unwrap();
        assert_eq!(
            (f.account.name.as_slice(), f.dash, f.ext.as_slice()),
            (&b"joe"[..], &b""[..], &b""[..])
        );
        let f = search(b"joe-Foo-bar", &pw, &home).unwrap();
        assert_eq!((f.dash, f.ext.as_slice()), (&b"-"[..], &b"Foo-bar"[..]));
        let f = search(b"joe-list-x", &pw, &home).unwrap();
        assert_eq!(f.account.name, b"joe-list");
        let f = search(b"root", &pw, &home).unwrap();
        assert_eq!(
            (f.account.name.as_slice(), f.ext.as_slice()),
            (&b"alias"[..], &b"root"[..])
        );
        let f = search(b"nohome-x", &pw, &home).unwrap();
        assert_eq!(f.account.name, b"alias");
        let mut out = Vec::new();
        search(b"joe-x", &pw, &home).unwrap().write(&mut out);
        assert_eq!(out, b"joe\x001001\x00100\x00/home/joe\x00-\x00x\x00");
        let none = |_: &[u8]| Ok(None);
        assert_eq!(search(b"x", &none, &home), Err(GetpwError::NoAlias));
    }
}
