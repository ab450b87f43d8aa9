//! vdeluser, vpasswd, vpasswds, vchattr, vchforwards (commands.md §2).

use std::ffi::OsString;

use super::{arg, err, quiet_tool, s, user_lines, Ctx, QUIET};
use crate::vmailmgr::cli::{flag, Opt, Spec};
use crate::vmailmgr::domain::{self, Attr};
use crate::vmailmgr::passwd::lower;

const VDELUSER_OPTS: &[Opt] = &[
    flag(
        Some(b'D'),
        Some("no-mailbox"),
        "no-mailbox",
        "1",
        "Do not delete users that have a mailbox",
    ),
    QUIET,
];
pub const VDELUSER: Spec = Spec {
    prog: "vdeluser",
    args_usage: "USER1 [USER2 ...]",
    prefix: "Delete users from a virtual domain\n",
    suffix: "",
    opts: VDELUSER_OPTS,
    min_args: 1,
    max_args: None,
};

/// vdeluser.
pub fn vdeluser(argv: &[OsString]) -> i32 {
    let ctx = match Ctx::start(&VDELUSER, argv) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let allow = !ctx.opts.has("no-mailbox");
    let mut errors = 0;
    for a in &ctx.opts.args {
        let r = domain::delete(&ctx.table, &lower(arg(a)), allow);
        if r.is_ok() {
            ctx.say(format!(
                "vdeluser: user '{}' successfully deleted.\n",
                s(arg(a))
            ));
        } else {
            ctx.warn(format!(
                "vdeluser: error deleting user '{}':\n  {}\n",
                s(arg(a)),
                r.text()
            ));
            errors += 1;
        }
    }
    crate::validrcptto_gen::after_change();
    if errors > 0 {
        ctx.warn(format!("vdeluser: {errors} errors were encountered.\n"));
        return 1;
    }
    0
}

pub const VPASSWD: Spec = quiet_tool(
    "vpasswd",
    "USERNAME",
    "Changes the password for an individual virtual user\n",
    1,
    Some(1),
);

/// vpasswd.
pub fn vpasswd(argv: &[OsString]) -> i32 {
    let ctx = match Ctx::start(&VPASSWD, argv) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let user = lower(arg(&ctx.opts.args[0]));
    let Some(pw) = super::read_password("vpasswd") else {
        return 1;
    };
    let r = domain::chattr(&ctx.table, &user, Some(Attr::Password), &pw);
    if !r.is_ok() {
        ctx.warn(format!(
            "vpasswd: error changing the password for user '{}':\n  {}\n",
            s(&user),
            r.text()
        ));
        return 1;
    }
    ctx.say(format!(
        "vpasswd: password for user '{}' successfully changed.\n",
        s(&user)
    ));
    0
}

pub const VPASSWDS: Spec = quiet_tool(
    "vpasswds",
    "",
    "Changes the passwords for a list of virtual users\n",
    0,
    Some(0),
);

/// vpasswds: `user password` lines on stdin.
pub fn vpasswds(argv: &[OsString]) -> i32 {
    let ctx = match Ctx::start(&VPASSWDS, argv) {
        Ok(c) => c,
        Err(code) => return code,
    };
    user_lines(&ctx, |user, w| {
        let r = domain::chattr(&ctx.table, user, Some(Attr::Password), w[1]);
        if r.is_ok() {
            ctx.say(format!(
                "vpasswds: password for user '{}' successfully changed.\n",
                s(user)
            ));
            0
        } else {
            ctx.warn(format!(
                "vpasswds: error changing the password for user '{}':\n  {}\n",
                s(user),
                r.text()
            ));
            1
        }
    })
}

const VCHATTR_OPTS: &[Opt] = &[
    flag(
        Some(b'c'),
        Some("msgcount"),
        "attr",
        "6",
        "Set the user's message count limit",
    ),
    flag(
        Some(b'e'),
        Some("expiry"),
        "attr",
        "7",
        "Set the account's expiry time (in seconds)",
    ),
    flag(
        Some(b'E'),
        Some("enabled"),
        "attr",
        "8",
        "Enable or disable delivery to the account's mailbox",
    ),
    flag(
        Some(b'p'),
        Some("personal"),
        "attr",
        "9",
        "Set the user's personal information",
    ),
    flag(
        Some(b'q'),
        Some("softquota"),
        "attr",
        "4",
        "Set the user's soft quota (in bytes)",
    ),
    flag(
        Some(b'Q'),
        Some("hardquota"),
        "attr",
        "3",
        "Set the user's hard quota (in bytes)",
    ),
    QUIET,
    flag(
        Some(b'z'),
        Some("msgsize"),
        "attr",
        "5",
        "Set the user's message size limit (in bytes)",
    ),
];
pub const VCHATTR: Spec = Spec {
    prog: "vchattr",
    args_usage: "VALUE USERNAME ...",
    prefix: "Changes the attributes on one or more virtual users\n",
    suffix: "",
    opts: VCHATTR_OPTS,
    min_args: 2,
    max_args: None,
};

/// vchattr: exit status = number of failed users.
pub fn vchattr(argv: &[OsString]) -> i32 {
    let opts = match super::parse(&VCHATTR, argv) {
        Ok(o) => o,
        Err(code) => return code,
    };
    let Some(attr) = opts.int("attr").and_then(|n| Attr::from_number(n as u64)) else {
        if !opts.has("quiet") {
            err("vchattr: Must select an attribute to change.\n");
        }
        return 1;
    };
    let ctx = match Ctx::enter("vchattr", opts) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let value = arg(&ctx.opts.args[0]).to_vec();
    let mut errors = 0;
    for u in &ctx.opts.args[1..] {
        let user = lower(arg(u));
        let r = domain::chattr(&ctx.table, &user, Some(attr), &value);
        if r.is_ok() {
            ctx.say(format!(
                "vchattr: attribute for user '{}' successfully changed.\n",
                s(&user)
            ));
        } else {
            ctx.warn(format!(
                "vchattr: error changing the attribute for user '{}':\n  {}\n",
                s(&user),
                r.text()
            ));
            errors += 1;
        }
    }
    errors
}

pub const VCHFORWARDS: Spec = Spec {
    prog: "vchforwards",
    args_usage: "USERNAME [DESTINATION1 ...]",
    prefix: "Change virtual user forwarding addresses.\n",
    suffix: "If no forwarding addresses are given, forwarding is disabled.\n",
    opts: super::QUIET_ONLY,
    min_args: 1,
    max_args: None,
};

/// vchforwards: replace the forward list through the set operation.
pub fn vchforwards(argv: &[OsString]) -> i32 {
    let ctx = match Ctx::start(&VCHFORWARDS, argv) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let user = lower(arg(&ctx.opts.args[0]));
    let Ok(Some(mut e)) = ctx.table.get(&user) else {
        ctx.warn(format!(
            "vchforwards: User '{}' does not exist.\n",
            s(&user)
        ));
        return 1;
    };
    let mut list = Vec::new();
    for d in &ctx.opts.args[1..] {
        if let Err(m) = domain::validate_forward(&ctx.table, arg(d)) {
            ctx.warn(format!(
                "vchforwards: error with forwarding address '{}':\n  {m}\n",
                s(arg(d))
            ));
            return 1;
        }
        list.push(arg(d).to_vec());
    }
    e.forwards = list;
    let r = domain::set(&ctx.table, &user, &e, false);
    if !r.is_ok() {
        ctx.warn(format!(
            "vchforwards: Could not change user '{}':\n  {}\n",
            s(&user),
            r.text()
        ));
        return 1;
    }
    ctx.say(format!(
        "vchforwards: User '{}' successfully changed.\n",
        s(&user)
    ));
    0
}
