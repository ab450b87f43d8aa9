//! Role identities: the users and groups qmail runs its programs as.
//!
//! The original resolves `conf-users`/`conf-groups` at build time; we look
//! the names up at run time (`common.md` §1, §11). When the process is not
//! root every role collapses to the current user and group (single-user
//! mode), so a whole host runs unprivileged for tests and the demo.

use nix::unistd::{Gid, Group, Uid, User};

/// The users of `conf-users`, in its order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    Alias,
    Qmaild,
    Qmaill,
    Root,
    Qmailp,
    Qmailq,
    Qmailr,
    Qmails,
}

/// The groups of `conf-groups`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RoleGroup {
    Qmail,
    Nofiles,
}

impl Role {
    pub const ALL: [Role; 8] = [
        Role::Alias,
        Role::Qmaild,
        Role::Qmaill,
        Role::Root,
        Role::Qmailp,
        Role::Qmailq,
        Role::Qmailr,
        Role::Qmails,
    ];

    /// The stock user name.
    pub fn name(self) -> &'static str {
        match self {
            Role::Alias => "alias",
            Role::Qmaild => "qmaild",
            Role::Qmaill => "qmaill",
            Role::Root => "root",
            Role::Qmailp => "qmailp",
            Role::Qmailq => "qmailq",
            Role::Qmailr => "qmailr",
            Role::Qmails => "qmails",
        }
    }
}

impl RoleGroup {
    pub fn name(self) -> &'static str {
        match self {
            RoleGroup::Qmail => "qmail",
            RoleGroup::Nofiles => "nofiles",
        }
    }
}

/// Why a role could not be resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdError {
    NoSuchUser(&'static str),
    NoSuchGroup(&'static str),
    Lookup(nix::Error),
}

impl std::fmt::Display for IdError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            IdError::NoSuchUser(n) => write!(f, "unable to find user {n}"),
            IdError::NoSuchGroup(n) => write!(f, "unable to find group {n}"),
            IdError::Lookup(e) => write!(f, "unable to read the user database: {e}"),
        }
    }
}

impl std::error::Error for IdError {}

/// Forces single-user mode even as root (tests, the demo); ignored by a
/// set-uid process, like every other override.
pub const SINGLE_USER_ENV: &str = "QMAILRS_SINGLE_USER";

/// True when roles are the current user: the process is not root, or
/// `QMAILRS_SINGLE_USER=1` asks for it.
pub fn single_user() -> bool {
    if !nix::unistd::geteuid().is_root() {
        return true;
    }
    !crate::root::is_privileged_exec()
        && std::env::var_os(SINGLE_USER_ENV).is_some_and(|v| v == "1")
}

/// The uid of a role.
pub fn uid(role: Role) -> Result<Uid, IdError> {
    if single_user() {
        return Ok(nix::unistd::geteuid());
    }
    match User::from_name(role.name()) {
        Ok(Some(u)) => Ok(u.uid),
        Ok(None) => Err(IdError::NoSuchUser(role.name())),
        Err(e) => Err(IdError::Lookup(e)),
    }
}

/// The gid of a role group.
pub fn gid(group: RoleGroup) -> Result<Gid, IdError> {
    if single_user() {
        return Ok(nix::unistd::getegid());
    }
    match Group::from_name(group.name()) {
        Ok(Some(g)) => Ok(g.gid),
        Ok(None) => Err(IdError::NoSuchGroup(group.name())),
        Err(e) => Err(IdError::Lookup(e)),
    }
}

/// Drop to `uid`/`gid` the way `prot_gid` + `prot_uid` do: supplementary
/// groups become exactly `gid`, then the gid, then the uid. A no-op in
/// single-user mode.
pub fn drop_to(uid: Uid, gid: Gid) -> nix::Result<()> {
    if single_user() {
        return Ok(());
    }
    nix::unistd::setgroups(&[gid])?;
    nix::unistd::setgid(gid)?;
    nix::unistd::setuid(uid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_conf_users() {
        let names: Vec<_> = Role::ALL.iter().map(|r| r.name()).collect();
        assert_eq!(
            names,
            ["alias", "qmaild", "qmaill", "root", "qmailp", "qmailq", "qmailr", "qmails"]
        );
    }

    #[test]
    fn single_user_mode_collapses_roles() {
        if single_user() {
            assert_eq!(uid(Role::Qmaild).unwrap(), nix::unistd::geteuid());
            assert_eq!(gid(RoleGroup::Nofiles).unwrap(), nix::unistd::getegid());
        }
    }
}
