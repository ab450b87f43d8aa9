//! qmail-pw2u's conversion of a V7 passwd file into `users/assign`
//! (`shared/spec/qmail/local.md` §1.4, netqmail's `qmail-pw2u.c`).
//!
//! ```text
//! passwd  = *( user ":" password ":" uid ":" gid ":" gecos ":" home ":" shell LF )
//! subuser = sub ":" user ":" pre ":" *byte
//! mailnames = user ":" name *( ":" name )
//! ```
//! Pure: the caller reads the files and answers the home `stat`s.

/// Options of the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// `-/`: the dash field becomes `-/`.
    pub slash: bool,
    /// 2 (`-o`, default): skip missing or foreign homes; 1 (`-h`): a
    /// missing home is fatal; 0 (`-H`): no home checks.
    pub home_strategy: u8,
    /// `-U` (default): skip names with uppercase letters; `-u` allows them.
    pub no_upper: bool,
    /// The break character (`-cX`), none with `-C`.
    pub brk: Option<u8>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            slash: false,
            home_strategy: 2,
            no_upper: true,
            brk: Some(b'-'),
        }
    }
}

/// What `stat(home)` gave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Home {
    Owner(u32),
    Missing,
    /// Any other stat failure.
    Error,
}

/// The control files, as read (`None` when missing).
#[derive(Debug, Default, Clone)]
pub struct Files {
    pub include: Option<Vec<u8>>,
    pub exclude: Option<Vec<u8>>,
    pub mailnames: Option<Vec<u8>>,
    pub subusers: Option<Vec<u8>>,
    pub append: Option<Vec<u8>>,
}

/// Fatal errors; [`Pw2uError::text`] is the message after
/// `qmail-pw2u: fatal: `. All exit 111.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pw2uError {
    /// No kept account is `alias`.
    NoAlias,
    /// `stat` of this home failed (or, with `-h`, it is missing).
    Home(Vec<u8>),
    /// A subusers line names a user not among the kept accounts.
    SubUser(Vec<u8>),
}

impl Pw2uError {
    pub fn text(&self) -> Vec<u8> {
        match self {
            Pw2uError::NoAlias => b"unable to find alias user".to_vec(),
            Pw2uError::Home(h) => [&b"unable to stat "[..], h].concat(),
            Pw2uError::SubUser(u) => {
                [&b"unable to find "[..], u, &b" user for subuser"[..]].concat()
            }
        }
    }
}

/// qmail's `constmap`: case-insensitive keys, the entry listed last wins;
/// with `colon`, the key ends at the first colon (lines without one are
/// left out) and the value follows it.
struct ConstMap(Vec<(Vec<u8>, Vec<u8>)>);

impl ConstMap {
    fn new(file: &[u8], colon: bool) -> Self {
        let mut v = Vec::new();
        for line in crate::control::list_lines(file) {
            if colon {
                if let Some(i) = line.iter().position(|&b| b == b':') {
                    v.push((line[..i].to_vec(), line[i + 1..].to_vec()));
                }
            } else {
                v.push((line, Vec::new()));
            }
        }
        ConstMap(v)
    }

    fn get(&self, key: &[u8]) -> Option<&[u8]> {
        self.0
            .iter()
            .rev()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.as_slice())
    }
}

/// Split `s` at its next colon: (field, rest after the colon), or `None`.
fn field(s: &[u8]) -> Option<(&[u8], &[u8])> {
    let i = s.iter().position(|&b| b == b':')?;
    Some((&s[..i], &s[i + 1..]))
}

/// `scan_ulong`: the leading digits.
fn scan_ulong(s: &[u8]) -> u64 {
    s.iter()
        .take_while(|b| b.is_ascii_digit())
        .fold(0u64, |n, &b| {
            n.wrapping_mul(10).wrapping_add(u64::from(b - b'0'))
        })
}

fn lines(input: &[u8]) -> impl Iterator<Item = &[u8]> {
    // getln: lines with their LF; a last unterminated line as it is.
    input
        .split_inclusive(|&b| b == b'\n')
        .chain(input.ends_with(b"\n").then_some(&b""[..]))
}

/// Convert `passwd` into assign lines; `stat` answers for a home path.
pub fn convert(
    opts: &Options,
    passwd: &[u8],
    files: &Files,
    stat: &mut dyn FnMut(&[u8]) -> Home,
) -> Result<Vec<u8>, Pw2uError> {
    let dashcolon: &[u8] = if opts.slash { b"-/:" } else { b"-:" };
    let include = files.include.as_deref().map(|f| ConstMap::new(f, false));
    let exclude = files.exclude.as_deref().map(|f| ConstMap::new(f, false));
    let mailnames = files.mailnames.as_deref().map(|f| ConstMap::new(f, true));
    let mut out = Vec::new();
    let mut all: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
    let mut alias = false;

    for line in lines(passwd) {
        if line.contains(&0) {
            continue;
        }
        let Some((user, r)) = field(line) else {
            continue;
        };
        let Some((_, r)) = field(r) else { continue };
        let Some((uidstr, r)) = field(r) else {
            continue;
        };
        let Some((gidstr, r)) = field(r) else {
            continue;
        };
        let Some((_, r)) = field(r) else { continue };
        let Some((home, _)) = field(r) else { continue };
        let uid = scan_ulong(uidstr);
        if uid == 0 {
            continue;
        }
        if opts.no_upper && user.iter().any(u8::is_ascii_uppercase) {
            continue;
        }
        if include.as_ref().is_some_and(|m| m.get(user).is_none()) {
            continue;
        }
        if exclude.as_ref().is_some_and(|m| m.get(user).is_some()) {
            continue;
        }
        if opts.home_strategy > 0 {
            match stat(home) {
                Home::Error => return Err(Pw2uError::Home(home.to_vec())),
                Home::Missing if opts.home_strategy == 1 => {
                    return Err(Pw2uError::Home(home.to_vec()))
                }
                Home::Missing => continue,
                Home::Owner(o) if u64::from(o) != uid => continue,
                Home::Owner(_) => {}
            }
        }
        let uugh = [
            &b":"[..],
            user,
            b":",
            uidstr,
            b":",
            gidstr,
            b":",
            home,
            b":",
        ]
        .concat();
        all.push((user.to_vec(), uugh.clone()));
        if user == b"alias" {
            out.extend_from_slice(b"+");
            out.extend_from_slice(&uugh);
            out.extend_from_slice(dashcolon);
            out.extend_from_slice(b":\n");
            alias = true;
        }
        let names = mailnames.as_ref().and_then(|m| m.get(user)).unwrap_or(user);
        for name in names.split(|&b| b == b':').filter(|n| !n.is_empty()) {
            out.push(b'=');
            out.extend_from_slice(name);
            out.extend_from_slice(&uugh);
            out.extend_from_slice(b"::\n");
            if let Some(b) = opts.brk {
                out.push(b'+');
                out.extend_from_slice(name);
                out.push(b);
                out.extend_from_slice(&uugh);
                out.extend_from_slice(dashcolon);
                out.extend_from_slice(b":\n");
            }
        }
    }
    if !alias {
        return Err(Pw2uError::NoAlias);
    }

    if let Some(subusers) = &files.subusers {
        for line in lines(subusers) {
            let Some((sub, r)) = field(line) else {
                continue;
            };
            let Some((user, r)) = field(r) else { continue };
            // Last account of that name wins, as constmap does.
            let Some((_, uugh)) = all.iter().rev().find(|(u, _)| u.eq_ignore_ascii_case(user))
            else {
                return Err(Pw2uError::SubUser(user.to_vec()));
            };
            let Some((pre, _)) = field(r) else { continue };
            out.push(b'=');
            out.extend_from_slice(sub);
            out.extend_from_slice(uugh);
            out.extend_from_slice(dashcolon);
            out.extend_from_slice(pre);
            out.extend_from_slice(b":\n");
            if let Some(b) = opts.brk {
                out.push(b'+');
                out.extend_from_slice(sub);
                out.push(b);
                out.extend_from_slice(uugh);
                out.extend_from_slice(dashcolon);
                out.extend_from_slice(pre);
                out.extend_from_slice(b"-:\n");
            }
        }
    }
    if let Some(append) = &files.append {
        out.extend_from_slice(append);
    }
    out.extend_from_slice(b".\n");
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(opts: &Options, passwd: &str, files: &Files) -> Result<String, Pw2uError> {
        let mut stat = |h: &[u8]| match h {
            b"/home/joe" => Home::Owner(1000),
            b"/home/ann" => Home::Owner(1001),
            b"/var/qmail/alias" => Home::Owner(7790),
            b"/bad" => Home::Error,
            _ => Home::Missing,
        };
        convert(opts, passwd.as_bytes(), files, &mut stat).map(|v| String::from_utf8(v).unwrap())
    }

    const PW: &str = "root:x:0:0:root:/root:/bin/sh\n\
        alias:x:7790:2108::/var/qmail/alias:/bin/true\n\
        joe:x:1000:100:Joe:/home/joe:/bin/sh\n\
        ann:x:1001:100:Ann:/home/joe:/bin/sh\n\
        Big:x:1002:100::/home/big:/bin/sh\n\
        gone:x:1003:100::/nowhere:/bin/sh\n\
        short:x:1004:100::/home/joe\n";

    #[test]
    fn defaults() {
        let out = run(&Options::default(), PW, &Files::default()).unwrap();
        assert_eq!(
            out,
            "+:alias:7790:2108:/var/qmail/alias:-::\n\
             =alias:alias:7790:2108:/var/qmail/alias:::\n\
             +alias-:alias:7790:2108:/var/qmail/alias:-::\n\
             =joe:joe:1000:100:/home/joe:::\n\
             +joe-:joe:1000:100:/home/joe:-::\n\
             .\n"
        );
    }

    #[test]
    fn options_and_files() {
        let opts = Options {
            slash: true,
            home_strategy: 0,
            no_upper: false,
            brk: Some(b'+'),
        };
        let files = Files {
            include: Some(b"alias\nJOE\nbig\n".to_vec()),
            exclude: Some(b"big\n".to_vec()),
            mailnames: Some(b"joe:j.oe::jo\nnocolon\n".to_vec()),
            subusers: Some(b"list:joe:list-:\nbroken:joe:nopre\n".to_vec()),
            append: Some(b"=x:y:1:2:/z:::\n".to_vec()),
        };
        let out = run(&opts, PW, &files).unwrap();
        assert_eq!(
            out,
            "+:alias:7790:2108:/var/qmail/alias:-/::\n\
             =alias:alias:7790:2108:/var/qmail/alias:::\n\
             +alias+:alias:7790:2108:/var/qmail/alias:-/::\n\
             =j.oe:joe:1000:100:/home/joe:::\n\
             +j.oe+:joe:1000:100:/home/joe:-/::\n\
             =jo:joe:1000:100:/home/joe:::\n\
             +jo+:joe:1000:100:/home/joe:-/::\n\
             =list:joe:1000:100:/home/joe:-/:list-:\n\
             +list+:joe:1000:100:/home/joe:-/:list--:\n\
             =x:y:1:2:/z:::\n\
             .\n"
        );
        let opts = Options {
            brk: None,
            ..Options::default()
        };
        let out = run(
            &opts,
            "alias:x:7790:2108::/var/qmail/alias:\n",
            &Files::default(),
        )
        .unwrap();
        assert_eq!(
            out,
            "+:alias:7790:2108:/var/qmail/alias:-::\n=alias:alias:7790:2108:/var/qmail/alias:::\n.\n"
        );
    }

    #[test]
    fn errors() {
        let d = Options::default();
        assert_eq!(
            run(&d, "joe:x:1000:100::/home/joe:\n", &Files::default()),
            Err(Pw2uError::NoAlias)
        );
        assert_eq!(
            run(&d, "x:x:5:5::/bad:\n", &Files::default()),
            Err(Pw2uError::Home(b"/bad".to_vec()))
        );
        let h = Options {
            home_strategy: 1,
            ..Options::default()
        };
        assert_eq!(
            run(&h, PW, &Files::default()),
            Err(Pw2uError::Home(b"/nowhere".to_vec()))
        );
        let f = Files {
            subusers: Some(b"s:nobody:p:\n".to_vec()),
            ..Files::default()
        };
        let e = run(&d, PW, &f).unwrap_err();
        assert_eq!(e.text(), b"unable to find nobody user for subuser");
    }
}
