//! authvmailmgr: vmailmgr's module for the old Courier-IMAP "authmod"
//! chain (`shared/spec/vmailmgr/checkvpw.md` §10; the original's
//! `authenticate/authvmailmgr.cc` and `authvlib.cc`).
//!
//! ```text
//! fd 3     = service LF authtype LF authdata     ; authdata = user LF pass LF
//! argv     = authvmailmgr NEXT [ARGS...]         ; the rest of the chain
//! ```
//! * `AUTHENTICATED` already set (an earlier module accepted): run NEXT.
//! * a virtual user with the right password: become the domain owner
//!   (`authvmailmgr-presetuid` / `-postsetuid` hooks, run twice each as in
//!   the original), `MAILDIR` = the record's directory, `AUTHADDR` and
//!   `AUTHENTICATED` = the user name, run NEXT.
//! * a login for a real Unix user (domain not virtual): NEXT gets the same
//!   data on its fd 3, to try its own database.
//! * anything else fails the whole chain: `AUTHVMAILMGR_ERROR` is set for
//!   the `authvmailmgr-loginfail` / `authvmailmgr-error` hook, then
//!   `$AUTHUSER` is re-run with `$AUTHARGV0...` (or `AUTHFAILURE` on
//!   stderr, exit 1, when the chain left no such variables).

use std::ffi::OsString;
use std::io::Read;
use std::os::unix::ffi::{OsStrExt, OsStringExt};

use super::account;
use super::checkvpw::{full_name, split_login, virtual_login, Failure, Session};
use super::config::Config;

/// The module's own messages, kept once.
pub mod msg {
    pub const NOT_LOGIN: &str = "Invalid authentication type, must be 'login'";
    pub const BAD_DATA: &str = "Invalid authentication data";
    pub const PRESETUID: &str = "Execution of authvmailmgr-presetuid failed";
    pub const POSTSETUID: &str = "Execution of authvmailmgr-postsetuid failed";
    pub const PRESETUID_LIB: &str = "Execution of presetuid failed";
}

/// What the bin does next: exec a program (optionally with `fd3` on its
/// descriptor 3) or exit with a line on stderr.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    Exec {
        argv: Vec<OsString>,
        fd3: Option<Vec<u8>>,
    },
    Exit {
        code: i32,
        stderr: &'static str,
    },
}

/// `authmod_fail_completely`: re-run the authentication user process.
pub fn fail_completely() -> Next {
    let fail = Next::Exit {
        code: 1,
        stderr: "AUTHFAILURE\n",
    };
    let argc = std::env::var("AUTHARGC")
        .ok()
        .and_then(|a| a.trim().parse::<usize>().ok())
        .filter(|&n| n > 0);
    let Some(argc) = argc else {
        return fail;
    };
    let mut argv = Vec::new();
    for n in 0..argc {
        match std::env::var_os(format!("AUTHARGV{n}")) {
            Some(a) => argv.push(a),
            None => {
                return Next::Exit {
                    code: 1,
                    stderr: "",
                }
            }
        }
    }
    match std::env::var_os("AUTHUSER") {
        Some(user) => {
            argv[0] = user;
            Next::Exec { argv, fd3: None }
        }
        None => Next::Exit {
            code: 1,
            stderr: "",
        },
    }
}

/// The rest of the chain (`argv[1..]`).
fn next_module(args: &[OsString], fd3: Option<Vec<u8>>) -> Next {
    if args.is_empty() {
        return fail_completely();
    }
    Next::Exec {
        argv: args.to_vec(),
        fd3,
    }
}

/// Split fd-3 data into (authtype, user, password).
fn parse(data: &[u8]) -> Option<(&[u8], &[u8], &[u8])> {
    let mut lines = data.splitn(3, |&b| b == b'\n');
    let _service = lines.next()?;
    let authtype = lines.next()?;
    let authdata = lines.next()?;
    let mut it = authdata.split(|&b| b == b'\n');
    Some((
        authtype,
        it.next().unwrap_or_default(),
        it.next().unwrap_or_default(),
    ))
}

fn fail(sess: &Session, f: Failure) -> Next {
    std::env::set_var("AUTHVMAILMGR_ERROR", f.message());
    let hook = match f {
        Failure::Login(_) => "authvmailmgr-loginfail",
        _ => "authvmailmgr-error",
    };
    let _ = sess.cfg.run_hook(hook, &[]);
    fail_completely()
}

/// Run the module: `args` = the chain after this module, `fd3` its data.
pub fn run(args: &[OsString], fd3: Option<std::fs::File>) -> Next {
    if std::env::var_os("AUTHENTICATED").is_some_and(|v| !v.is_empty()) {
        return next_module(args, None);
    }
    let mut data = Vec::new();
    if let Some(mut f) = fd3 {
        let _ = (&mut f).take(8192).read_to_end(&mut data);
    }
    let mut sess = Session {
        cfg: Config::global(),
        switched: false,
    };
    let Some((authtype, user, pass)) = parse(&data) else {
        return fail(&sess, Failure::Data(msg::BAD_DATA));
    };
    if authtype != b"login" {
        return fail(&sess, Failure::Temp(msg::NOT_LOGIN));
    }
    if user.is_empty() || pass.is_empty() {
        return fail(&sess, Failure::Data(msg::BAD_DATA));
    }
    let (name, domain) = match split_login(user, &sess.cfg.string("separators")) {
        Ok(p) => p,
        Err(f) => return fail(&sess, f),
    };
    let full = full_name(&sess.cfg.qmail_root(), &name, &domain);
    let Some((base, vname)) = account::split_base(&full) else {
        return fail(&sess, Failure::Login(super::checkvpw::msg::NO_BASE));
    };
    std::env::set_var("VUSER", std::ffi::OsStr::from_bytes(&vname));
    if vname.is_empty() {
        return next_module(args, Some(data));
    }
    let vname = vname.to_ascii_lowercase();
    let maildir = match virtual_login(&mut sess, &base, &vname, pass, "authvmailmgr-presetuid") {
        Ok(d) => d,
        Err(f) => return fail(&sess, f),
    };
    if sess.cfg.run_hook("authvmailmgr-postsetuid", &[]) != 0 {
        return fail(&sess, Failure::Temp(msg::PRESETUID_LIB));
    }
    if sess.cfg.run_hook("authvmailmgr-presetuid", &[]) != 0 {
        return fail(&sess, Failure::Temp(msg::PRESETUID));
    }
    std::env::set_var("AUTHADDR", std::ffi::OsStr::from_bytes(&name));
    std::env::set_var("MAILDIR", OsString::from_vec(maildir));
    if sess.cfg.run_hook("authvmailmgr-postsetuid", &[]) != 0 {
        return fail(&sess, Failure::Temp(msg::POSTSETUID));
    }
    std::env::set_var("AUTHENTICATED", std::ffi::OsStr::from_bytes(&name));
    next_module(args, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_forms() {
        assert_eq!(
            parse(b"imap\nlogin\nalice@example.com\nsecret\n"),
            Some((&b"login"[..], &b"alice@example.com"[..], &b"secret"[..]))
        );
        assert_eq!(parse(b"imap\nlogin"), None);
        assert_eq!(
            parse(b"imap\nlogin\n"),
            Some((&b"login"[..], &b""[..], &b""[..]))
        );
    }
}
