//! SASL PLAIN and LOGIN as Dovecot's login processes run them
//! (`shared/spec/dovecot/pop3.md` §1, `imap.md`; recorded in
//! `conformance/dovecot/{imap/02,pop3/01}`): base64 challenges and
//! responses, `*` cancels, a bad base64 response fails with
//! "Invalid base64 in response", a PLAIN authorization id other than the
//! login fails (no master users). Protocol-neutral: IMAP and POP3 map the
//! outcomes to their reply texts.

use base64::Engine;

/// A mechanism of `auth_mechanisms` we implement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mech {
    Plain,
    Login,
}

impl Mech {
    /// By name, case-insensitive.
    pub fn by_name(name: &str) -> Option<Mech> {
        match name.to_ascii_uppercase().as_str() {
            "PLAIN" => Some(Mech::Plain),
            "LOGIN" => Some(Mech::Login),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Mech::Plain => "PLAIN",
            Mech::Login => "LOGIN",
        }
    }
}

/// Credentials a mechanism produced. `Debug` hides the password.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub user: Vec<u8>,
    pub password: Vec<u8>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("user", &String::from_utf8_lossy(&self.user))
            .field("password", &"<redacted>")
            .finish()
    }
}

/// The next step of an exchange.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Send `+ <base64>` and wait for a response line.
    Challenge(&'static str),
    /// Verify these.
    Done(Credentials),
    /// The client sent `*`.
    Aborted,
    /// Not base64.
    InvalidBase64,
    /// Syntactically wrong or a foreign authorization id: fails as a
    /// wrong password does.
    Failed,
}

/// An exchange in progress.
#[derive(Debug, Clone)]
pub struct Exchange {
    mech: Mech,
    user: Option<Vec<u8>>,
}

fn decode(s: &str) -> Option<Vec<u8>> {
    if s == "=" {
        return Some(Vec::new());
    }
    base64::engine::general_purpose::STANDARD
        .decode(s.trim_end())
        .ok()
}

fn plain(data: &[u8]) -> Step {
    let mut parts = data.split(|&b| b == 0);
    let (Some(authz), Some(user), Some(pass), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Step::Failed;
    };
    if user.is_empty() || (!authz.is_empty() && authz != user) {
        return Step::Failed;
    }
    Step::Done(Credentials {
        user: user.to_vec(),
        password: pass.to_vec(),
    })
}

impl Exchange {
    /// Start `mech`, with the initial response if the command had one.
    pub fn start(mech: Mech, initial: Option<&str>) -> (Exchange, Step) {
        let mut x = Exchange { mech, user: None };
        let step = match initial {
            None => match mech {
                Mech::Plain => Step::Challenge(""),
                Mech::Login => Step::Challenge("VXNlcm5hbWU6"),
            },
            Some(r) => x.respond(r),
        };
        (x, step)
    }

    /// A response line from the client.
    pub fn respond(&mut self, line: &str) -> Step {
        if line == "*" {
            return Step::Aborted;
        }
        let Some(data) = decode(line) else {
            return Step::InvalidBase64;
        };
        match self.mech {
            Mech::Plain => plain(&data),
            Mech::Login => match self.user.take() {
                None => {
                    self.user = Some(data);
                    Step::Challenge("UGFzc3dvcmQ6")
                }
                Some(user) => Step::Done(Credentials {
                    user,
                    password: data,
                }),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_and_login() {
        let (_, s) = Exchange::start(Mech::Plain, Some("AGJvYgBib2Jwdw=="));
        assert_eq!(
            s,
            Step::Done(Credentials {
                user: b"bob".to_vec(),
                password: b"bobpw".to_vec()
            })
        );
        let (mut x, s) = Exchange::start(Mech::Plain, None);
        assert_eq!(s, Step::Challenge(""));
        assert_eq!(x.respond("*"), Step::Aborted);
        assert_eq!(x.respond("!!!notbase64!!!"), Step::InvalidBase64);
        assert_eq!(x.respond("="), Step::Failed);
        assert_eq!(x.respond("Ym9iAGFsaWNlAGFsaWNlcHc="), Step::Failed);
        let (mut x, s) = Exchange::start(Mech::Login, None);
        assert_eq!(s, Step::Challenge("VXNlcm5hbWU6"));
        assert_eq!(x.respond("Ym9i"), Step::Challenge("UGFzc3dvcmQ6"));
        assert_eq!(
            x.respond("Ym9icHc="),
            Step::Done(Credentials {
                user: b"bob".to_vec(),
                password: b"bobpw".to_vec()
            })
        );
        assert!(!format!(
            "{:?}",
            Credentials {
                user: vec![],
                password: b"secret".to_vec()
            }
        )
        .contains("secret"));
    }
}
