//! vsetup, vadduser, vaddalias, vaddusers (commands.md §2).

use std::ffi::OsString;
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};

use super::{arg, err, out, quiet_tool, s, user_lines, Ctx, QUIET};
use crate::vmailmgr::cli::{flag, value, Kind, Opt, Spec};
use crate::vmailmgr::domain::{self, new_entry, now, relative_expiry, userdir};
use crate::vmailmgr::passwd::lower;
use crate::vmailmgr::vpwentry::UNLIMITED;

/// The compiled-in `.qmail-default` line.
pub const QMAIL_DEFAULT: &[u8] = b"|/usr/bin/vdeliver\n";

pub const VSETUP: Spec = quiet_tool(
    "vsetup",
    "",
    "Sets up a virtual domain for its first use\n",
    0,
    Some(0),
);

/// vsetup.
pub fn vsetup(argv: &[OsString]) -> i32 {
    let ctx = match Ctx::start(&VSETUP, argv) {
        Ok(c) => c,
        Err(code) => return code,
    };
    if ctx.cfg.run_hook("vsetup-pre", &[]) != 0 {
        ctx.warn("vsetup: Execution of 'vsetup-pre' failed!\n");
        return 1;
    }
    let udir =
        std::path::PathBuf::from(std::ffi::OsStr::from_bytes(&ctx.cfg.directory("user-dir")));
    if std::fs::symlink_metadata(&udir).is_err() {
        if std::fs::DirBuilder::new()
            .mode(0o755)
            .create(&udir)
            .is_err()
        {
            ctx.warn("vsetup: error: could not create users directory.\n");
            return 1;
        }
        ctx.say("vsetup: created users directory.\n");
    } else {
        ctx.say("vsetup: users directory already exists.\n");
    }
    if std::fs::symlink_metadata(".qmail-default").is_ok() {
        ctx.warn("vsetup: warning: '.qmail-default' file exists, renaming to '.qmail-default~'.\n");
        if std::fs::rename(".qmail-default", ".qmail-default~").is_err() {
            ctx.warn("vsetup: error: rename failed.\n");
            return 1;
        }
    }
    let f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o644)
        .open(".qmail-default");
    let Ok(mut f) = f else {
        ctx.warn("vsetup: error: unable to open file '.qmail-default' for output.\n");
        return 1;
    };
    if f.write_all(QMAIL_DEFAULT)
        .and_then(|()| f.sync_all())
        .is_err()
    {
        ctx.warn("vsetup: error: writing to file '.qmail-default' failed.\n");
        return 1;
    }
    ctx.say("vsetup: wrote '.qmail-default' file.\n");
    let target = ctx.cfg.string("postmaster-email");
    for alias in ctx.cfg.list("postmaster-aliases") {
        let alias = lower(&alias);
        if ctx.table.exists(&alias).unwrap_or(false) {
            ctx.warn(format!(
                "vsetup: warning: user '{}' already exists, skipping.\n",
                s(&alias)
            ));
            continue;
        }
        let mut e = new_entry(&ctx.cfg, b"*", &userdir(&ctx.cfg, &alias), true, now());
        e.forwards = vec![target.clone()];
        let r = domain::set(&ctx.table, &alias, &e, true);
        if !r.is_ok() {
            ctx.warn(format!(
                "vsetup: error: adding alias '{}' failed:\n  {}\n",
                s(&alias),
                r.text()
            ));
            return 1;
        }
        ctx.say(format!("vsetup: added alias '{}'\n", s(&alias)));
    }
    if ctx.cfg.run_hook("vsetup-post", &[]) != 0 {
        ctx.warn("vsetup: Execution of 'vsetup-post' failed!\n");
        return 1;
    }
    0
}

const VADDUSER_OPTS: &[Opt] = &[
    value(
        Some(b'c'),
        "msgcount",
        Kind::Int,
        "Set the user's message count limit",
    ),
    Opt {
        default: Some("true for vaddalias"),
        ..flag(
            Some(b'D'),
            Some("no-mailbox"),
            "no-mailbox",
            "1",
            "Do not create a mailbox for this user",
        )
    },
    value(
        Some(b'd'),
        "directory",
        Kind::Str,
        "Set the path to the user's mailbox",
    ),
    value(
        Some(b'e'),
        "expiry",
        Kind::Int,
        "Set the account's expiry time (in seconds)",
    ),
    value(
        Some(b'f'),
        "forward",
        Kind::List,
        "Add a forwarding address to this user",
    ),
    Opt {
        default: Some("asking for a password"),
        ..value(None, "password", Kind::Str, "Encrypted password")
    },
    flag(
        Some(b'P'),
        Some("no-password"),
        "no-password",
        "1",
        "Do not ask for a password",
    ),
    value(
        Some(b'p'),
        "personal",
        Kind::Str,
        "Set the user's personal information",
    ),
    value(
        Some(b'Q'),
        "hardquota",
        Kind::Int,
        "Set the user's hard quota (in bytes)",
    ),
    value(
        Some(b'q'),
        "softquota",
        Kind::Int,
        "Set the user's soft quota (in bytes)",
    ),
    QUIET,
    value(
        Some(b'z'),
        "msgsize",
        Kind::Int,
        "Set the user's message size limit (in bytes)",
    ),
];
pub const VADDUSER: Spec = Spec {
    prog: "vadduser",
    args_usage: "USERNAME [ALIAS1 ...]\nor vaddalias USERNAME [ALIAS1 ...]",
    prefix: "Add a user to a virtual domain\n",
    suffix: "",
    opts: VADDUSER_OPTS,
    min_args: 1,
    max_args: None,
};

fn limit(ctx: &Ctx, opt: &str, default: &str) -> u32 {
    match ctx.opts.int(opt) {
        None | Some(0) => ctx.cfg.number(default),
        Some(n) => n as u32,
    }
}

/// vadduser (and a vadduser binary invoked as `vaddalias`).
pub fn vadduser(argv: &[OsString]) -> i32 {
    let ctx = match Ctx::start(&VADDUSER, argv) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let p = argv
        .first()
        .map(|a| {
            let b = a.as_bytes();
            s(b.rsplit(|&c| c == b'/').next().unwrap_or(b))
        })
        .unwrap_or_else(|| "vadduser".into());
    let no_mailbox = p == "vaddalias" || ctx.opts.has("no-mailbox");
    let user = arg(&ctx.opts.args[0]).to_vec();
    let key = lower(&user);
    if ctx.table.exists(&key).unwrap_or(false) {
        err(format!("{p}: error: user '{}' already exists.\n", s(&user)));
        return 1;
    }
    let pass = if let Some(pw) = ctx.opts.get("password") {
        pw.as_bytes().to_vec()
    } else if ctx.opts.has("no-password") {
        b"*".to_vec()
    } else {
        match super::read_password(&p) {
            Some(pw) => crate::crypt::hash_new(&pw).into_bytes(),
            None => return 1,
        }
    };
    let mut dir = b"./".to_vec();
    match ctx.opts.get("directory") {
        Some(d) => dir.extend_from_slice(d.as_bytes()),
        None => dir.extend_from_slice(&userdir(&ctx.cfg, &user)),
    }
    let forwards: Vec<Vec<u8>> = ctx
        .opts
        .list("forward")
        .iter()
        .map(|f| f.as_bytes().to_vec())
        .collect();
    for f in &forwards {
        if let Err(m) = domain::validate_forward(&ctx.table, f) {
            ctx.warn(format!("{p}: invalid forwarding address:\n  {m}\n"));
            return 1;
        }
    }
    let t = now();
    let mut e = new_entry(&ctx.cfg, &pass, &dir, !no_mailbox, t);
    e.hardquota = limit(&ctx, "hardquota", "default-hardquota");
    e.softquota = limit(&ctx, "softquota", "default-softquota");
    e.msgsize = limit(&ctx, "msgsize", "default-msgsize");
    e.msgcount = limit(&ctx, "msgcount", "default-msgcount");
    let expiry = match ctx.opts.int("expiry") {
        None | Some(0) => ctx.cfg.number("default-expiry"),
        Some(n) => n as u32,
    };
    e.expiry = if expiry == UNLIMITED {
        UNLIMITED
    } else {
        relative_expiry(expiry, t)
    };
    e.forwards = forwards;
    if let Some(pers) = ctx.opts.get("personal") {
        e.personal = pers.as_bytes().to_vec();
    }
    let r = domain::set(&ctx.table, &key, &e, true);
    if !r.is_ok() {
        ctx.warn(format!(
            "{p}: error adding the virtual user:\n  {}\n",
            r.text()
        ));
        return 1;
    }
    ctx.say(format!("{p}: user '{}' successfully added\n", s(&user)));
    for a in &ctx.opts.args[1..] {
        let alias = lower(arg(a));
        if ctx.table.exists(&alias).unwrap_or(false) {
            ctx.warn(format!(
                "{p}: warning: alias '{}' already exists.\n",
                s(&alias)
            ));
            continue;
        }
        let mut ae = new_entry(&ctx.cfg, b"*", &userdir(&ctx.cfg, &alias), false, now());
        ae.forwards = vec![key.clone()];
        let r = domain::set(&ctx.table, &alias, &ae, true);
        if !r.is_ok() {
            ctx.warn(format!(
                "{p}: warning: adding the alias '{}' failed:\n  {}\n",
                s(&alias),
                r.text()
            ));
        }
        // Success prints nothing (the original's dangling else, kept).
    }
    crate::validrcptto_gen::after_change();
    0
}

/// The installed `vaddalias` script: `vadduser -D -P -f DEST... VIRTUSER`.
pub fn vaddalias(argv: &[OsString]) -> i32 {
    if argv.len() < 3 {
        out("usage: vaddalias virtuser dest [dest ...]\n");
        return 1;
    }
    let mut v: Vec<OsString> = vec!["vadduser".into(), "-D".into(), "-P".into()];
    for d in &argv[2..] {
        v.push("-f".into());
        v.push(d.clone());
    }
    v.push(argv[1].clone());
    vadduser(&v)
}

pub const VADDUSERS: Spec = quiet_tool(
    "vaddusers",
    "",
    "Add users to a virtual domain\n",
    0,
    Some(0),
);

/// vaddusers: `user password [alias ...]` lines on stdin. The original
/// crashes on the first alias (empty directory); this is the intended
/// behaviour.
pub fn vaddusers(argv: &[OsString]) -> i32 {
    let ctx = match Ctx::start(&VADDUSERS, argv) {
        Ok(c) => c,
        Err(code) => return code,
    };
    user_lines(&ctx, |user, w| {
        let mut errors = 0;
        if ctx.table.exists(user).unwrap_or(false) {
            ctx.warn(format!(
                "vaddusers: error: user '{}' already exists, skipping.\n",
                s(user)
            ));
            return 1;
        }
        let hash = crate::crypt::hash_new(w[1]).into_bytes();
        let e = new_entry(&ctx.cfg, &hash, &userdir(&ctx.cfg, user), true, now());
        let r = domain::set(&ctx.table, user, &e, true);
        if !r.is_ok() {
            ctx.warn(format!(
                "vaddusers: error adding the virtual user, skipping aliases:\n  {}\n",
                r.text()
            ));
            return 1;
        }
        ctx.say(format!("added user '{}'", s(user)));
        for a in &w[2..] {
            let alias = lower(a);
            if ctx.table.exists(&alias).unwrap_or(false) {
                out("\n");
                ctx.warn(format!(
                    "vaddusers: warning: alias '{}' already exists, skipping.\n",
                    s(&alias)
                ));
                errors += 1;
                continue;
            }
            let mut ae = new_entry(&ctx.cfg, b"*", b"", false, now());
            ae.forwards = vec![user.to_vec()];
            let r = domain::set(&ctx.table, &alias, &ae, true);
            if !r.is_ok() {
                out("\n");
                ctx.warn(format!(
                    "vaddusers: warning: adding the alias '{}' failed:\n  {}\n",
                    s(&alias),
                    r.text()
                ));
                errors += 1;
            }
            ctx.say(format!(", alias '{}'", s(&alias)));
        }
        ctx.say("\n");
        errors
    })
}
