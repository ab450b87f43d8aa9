//! vrehash, vupgrade (commands.md §2).

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::PathBuf;

use super::{err, s, Ctx, QUIET};
use crate::vmailmgr::cli::{Opt, Spec};
use crate::vmailmgr::domain::{now, relative_expiry, userdir};
use crate::vmailmgr::passwd::lower;
use crate::vmailmgr::vpwentry::VpwEntry;

const NO_OPTS: &[Opt] = &[];
pub const VREHASH: Spec = Spec {
    prog: "vrehash",
    args_usage: "",
    prefix: "Reorganize users directory\nRenames user directories in a virtual domain to match the current\npartitioning scheme\n",
    suffix: "",
    opts: NO_OPTS,
    min_args: 0,
    max_args: Some(0),
};

fn p(b: &[u8]) -> PathBuf {
    PathBuf::from(OsStr::from_bytes(b))
}

fn step(name: &str, r: Result<(), String>) -> bool {
    super::out(format!("vrehash: {name}: "));
    match r {
        Ok(()) => {
            super::out("OK.\n");
            true
        }
        Err(m) => {
            super::out(format!("failed:\n  {m}\n"));
            false
        }
    }
}

fn sticky(on: bool) -> Result<(), String> {
    let m = std::fs::metadata(".")
        .map_err(|_| "Error stat'ing the current directory ?!?".to_string())?;
    let mode = m.mode() & 0o7777;
    if on && mode & 0o1000 != 0 {
        return Err("Directory is already locked".into());
    }
    if !on && mode & 0o1000 == 0 {
        return Err("Directory was not locked".into());
    }
    let new = if on { mode | 0o1000 } else { mode & !0o1000 };
    std::fs::set_permissions(".", std::fs::Permissions::from_mode(new)).map_err(|_| {
        if on {
            "Can't lock directory"
        } else {
            "Can't unlock directory"
        }
        .to_string()
    })
}

/// vrehash, as its manual describes it (the original always fails at its
/// first step; fixed, with its messages).
pub fn vrehash(argv: &[OsString]) -> i32 {
    let ctx = match Ctx::start(&VREHASH, argv) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let udir = ctx.cfg.directory("user-dir");
    let new_dir = [b"new.".as_slice(), &udir].concat();
    let backup = [b"backup.".as_slice(), &udir].concat();
    if p(&new_dir).exists() {
        err(format!(
            "vrehash: error: new users directory '{}' already exists.\n",
            s(&new_dir)
        ));
        return 1;
    }
    if p(&backup).exists() {
        err(format!(
            "vrehash: error: backup directory '{}' already exists.\n",
            s(&backup)
        ));
        return 1;
    }
    if !step("locking directory", sticky(true)) {
        return 1;
    }
    let translate = || -> Result<(), String> {
        let all = ctx
            .table
            .list()
            .ok()
            .flatten()
            .ok_or_else(|| "Could not open virtual password table".to_string())?;
        std::fs::DirBuilder::new()
            .mode(0o755)
            .create(p(&new_dir))
            .map_err(|_| format!("Error creating a user subdirectory: {}", s(&new_dir)))?;
        let mut records = Vec::new();
        for (k, mut e) in all {
            if e.has_mailbox && !e.directory.is_empty() {
                let ud = userdir(&ctx.cfg, &k);
                let rel = &ud[udir.len()..];
                let target = [new_dir.as_slice(), rel].concat();
                if let Some(parent) = p(&target).parent() {
                    std::fs::DirBuilder::new()
                        .recursive(true)
                        .mode(0o755)
                        .create(parent)
                        .map_err(|_| {
                            format!("Error creating a user subdirectory: {}", s(&target))
                        })?;
                }
                std::fs::rename(p(&e.directory), p(&target))
                    .map_err(|_| format!("Error moving a user subdirectory.{}", s(&e.directory)))?;
                let dot = e.directory.starts_with(b"./");
                e.directory = if dot {
                    [b"./".as_slice(), &ud].concat()
                } else {
                    ud
                };
            }
            records.push((k, e.to_bytes()));
        }
        ctx.table
            .write_all(&records)
            .map_err(|_| "Error completing the virtual password table".to_string())
    };
    if !step("translating paths and making directories", translate()) {
        return 1;
    }
    let swap = || -> Result<(), String> {
        std::fs::rename(p(&udir), p(&backup))
            .map_err(|_| "Unable to make backup copy of user directory".to_string())?;
        std::fs::rename(p(&new_dir), p(&udir))
            .map_err(|_| "Unable to rename new user directory".to_string())
    };
    if !step("removing old user directory", swap()) {
        return 1;
    }
    if !step("unlocking directory", sticky(false)) {
        return 1;
    }
    0
}

const QUIET_ONLY: &[Opt] = &[QUIET];
pub const VUPGRADE: Spec = Spec {
    prog: "vupgrade",
    args_usage: "",
    prefix: "Upgrades the vmailmgr data files for a virtual domain\n",
    suffix: "Reads in a standard virtual password table in the current directory,\nand writes it out to the current table format.  The file names for the\ninput and output tables are determined from the configuration file.\nIn addition, a user directory is created for each account that does\nnot have one.",
    opts: QUIET_ONLY,
    min_args: 0,
    max_args: Some(0),
};

/// The plain-text `passwd` table (passwd-cdb.md §6.3).
pub fn parse_plain(
    bytes: &[u8],
    expiry: u32,
    cfg: &crate::vmailmgr::config::Config,
) -> Vec<(Vec<u8>, VpwEntry)> {
    let mut out = Vec::new();
    for line in bytes.split(|&b| b == b'\n') {
        let mut parts = line.splitn(3, |&b| b == b':');
        let (Some(name), Some(pass), Some(dest)) = (parts.next(), parts.next(), parts.next())
        else {
            break;
        };
        let mut e = VpwEntry::new(pass, b"", false, 0);
        e.hardquota = cfg.number("default-hardquota");
        e.softquota = cfg.number("default-softquota");
        e.msgsize = cfg.number("default-msgsize");
        e.msgcount = cfg.number("default-msgcount");
        e.expiry = expiry;
        if matches!(dest.first(), Some(b'.' | b'/')) {
            e.directory = dest.to_vec();
            e.has_mailbox = true;
        } else {
            let d = dest.strip_prefix(b"&").unwrap_or(dest);
            e.forwards = d
                .split(|&b| b == b',')
                .filter(|f| !f.is_empty())
                .map(<[u8]>::to_vec)
                .collect();
        }
        out.push((lower(name), e));
    }
    out
}

/// vupgrade (through a tmp file and rename, so an existing table works).
pub fn vupgrade(argv: &[OsString]) -> i32 {
    let ctx = match Ctx::start(&VUPGRADE, argv) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let records = match ctx.table.list() {
        Ok(Some(r)) => r,
        _ => {
            let plain = p(&ctx.cfg.string("password-file"));
            match std::fs::read(&plain) {
                Ok(b) => {
                    let exp = relative_expiry(ctx.cfg.number("default-expiry"), now());
                    parse_plain(&b, exp, &ctx.cfg)
                }
                Err(_) => {
                    ctx.warn("Can't open password table.\n");
                    return 1;
                }
            }
        }
    };
    let mut out = Vec::new();
    for (k, mut e) in records {
        if e.directory.is_empty() {
            e.directory = userdir(&ctx.cfg, &k);
            if std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(p(&e.directory))
                .is_err()
            {
                ctx.warn(format!(
                    "Failed to created user directory '{}'\n",
                    s(&e.directory)
                ));
                return 1;
            }
        }
        out.push((k, e.to_bytes()));
    }
    if ctx.table.write_all(&out).is_err() {
        ctx.warn("Failed to finish writing vpwtable.\n");
        return 1;
    }
    0
}
