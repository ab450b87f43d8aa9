//! listvdomain, dumpvuser, showvconfig (commands.md §2, config.md §6).

use std::ffi::OsString;

use super::{arg, out, s, Ctx, QUIET};
use crate::vmailmgr::cli::{flag, Opt, Spec};
use crate::vmailmgr::vpwentry::{VpwEntry, UNLIMITED};

const LIST_OPTS: &[Opt] = &[
    flag(
        Some(b'a'),
        Some("aliases"),
        "aliases",
        "1",
        "Show only accounts without a mailbox",
    ),
    QUIET,
    flag(
        Some(b'u'),
        Some("users"),
        "users",
        "1",
        "Show only accounts with a mailbox",
    ),
];
pub const LISTVDOMAIN: Spec = Spec {
    prog: "listvdomain",
    args_usage: "[user [user ...]]",
    prefix: "Lists the members of a virtual domain\n",
    suffix: "",
    opts: LIST_OPTS,
    min_args: 0,
    max_args: None,
};

/// One listvdomain line.
pub fn list_line(name: &[u8], e: &VpwEntry) -> Vec<u8> {
    let mut l = name.to_vec();
    l.extend_from_slice(if e.has_mailbox { b" Yes" } else { b" No" });
    if !e.is_enabled {
        l.extend_from_slice(b"(disabled)");
    }
    for f in &e.forwards {
        l.push(b' ');
        l.extend_from_slice(f);
    }
    l.push(b'\n');
    l
}

/// listvdomain.
pub fn listvdomain(argv: &[OsString]) -> i32 {
    let ctx = match Ctx::start(&LISTVDOMAIN, argv) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let (aliases, users) = (ctx.opts.has("aliases"), ctx.opts.has("users"));
    if aliases && users {
        ctx.warn("listvdomain: specify only one of -a and -u\n");
        return 1;
    }
    let shown = |e: &VpwEntry| !(aliases && e.has_mailbox || users && !e.has_mailbox);
    out("User Mailbox Aliases\n");
    if !ctx.opts.args.is_empty() {
        let mut status = 0;
        for a in &ctx.opts.args {
            match ctx.table.get(arg(a)) {
                Ok(Some(e)) => {
                    if shown(&e) {
                        out(list_line(arg(a), &e));
                    }
                }
                _ => {
                    ctx.warn(format!("listvdomain: unknown user '{}'\n", s(arg(a))));
                    status = 1;
                }
            }
        }
        return status;
    }
    match ctx.table.list() {
        Ok(Some(all)) => {
            for (k, e) in all.iter().filter(|(_, e)| shown(e)) {
                out(list_line(k, e));
            }
            0
        }
        _ => {
            ctx.warn("listvdomain: Can't open password table\n");
            1
        }
    }
}

pub const DUMPVUSER: Spec = super::quiet_tool(
    "dumpvuser",
    "account",
    "Dump all of a vmailmgr account's data\n",
    1,
    Some(1),
);

fn na(n: u32) -> String {
    if n == UNLIMITED {
        "N/A".into()
    } else {
        n.to_string()
    }
}

/// dumpvuser's output for one account.
pub fn dump(name: &[u8], e: &VpwEntry) -> Vec<u8> {
    let mut o = format!(
        "Name: {}\nEncrypted-Password: {}\nDirectory: {}\n",
        s(name),
        s(&e.pass),
        s(&e.directory)
    );
    for f in &e.forwards {
        o += &format!("Forward: {}\n", s(f));
    }
    o += &format!(
        "Hard-Quota: {}\nSoft-Quota: {}\nMessage-Size-Limit: {}\nMessage-Count-Limit: {}\nCreation-Time: {}\nExpiry-Time: {}\nHas-Mailbox: {}\nMailbox-Enabled: {}\n",
        na(e.hardquota),
        na(e.softquota),
        na(e.msgsize),
        na(e.msgcount),
        na(e.ctime),
        na(e.expiry),
        e.has_mailbox,
        e.is_enabled
    );
    o.into_bytes()
}

/// dumpvuser.
pub fn dumpvuser(argv: &[OsString]) -> i32 {
    let ctx = match Ctx::start(&DUMPVUSER, argv) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let name = arg(&ctx.opts.args[0]);
    match ctx.table.get(name) {
        Ok(Some(e)) => {
            out(dump(name, &e));
            0
        }
        _ => {
            ctx.warn("dumpvuser: No such user\n");
            1
        }
    }
}

/// showvconfig (no option parser).
pub fn showvconfig(_argv: &[OsString]) -> i32 {
    let home = match super::home("showvconfig") {
        Ok(h) => h,
        Err(code) => return code,
    };
    out(crate::vmailmgr::config::show(
        &crate::vmailmgr::config::Config::domain(&home),
    ));
    0
}
