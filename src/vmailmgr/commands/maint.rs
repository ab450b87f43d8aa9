//! vrehash, vupgrade (commands.md §2) and vcheckquota (vdeliver.md §7).

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use super::{err, s, Ctx, QUIET};
use crate::vmailmgr::cli::{Opt, Spec};
use crate::vmailmgr::domain::{now, relative_expiry, userdir};
use crate::vmailmgr::passwd::lower;
use crate::vmailmgr::vpwentry::{VpwEntry, UNLIMITED};

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

/// Quota messages of vcheckquota.
pub const MSG_TOO_BIG: &str =
    "Sorry, this message is larger than the current maximum message size limit.\n";
pub const MSG_TOO_MANY: &str =
    "Sorry, the person you sent this message has too many messages stored in the mailbox\n";
pub const MSG_HARD: &str = "Message would exceed virtual user's disk quota.\n";
pub const MSG_SOFT: &str = "Sorry, your message cannot be delivered.\nUser's disk quota exceeded.\nA small message will be delivered should you wish to inform this person.\n";

fn env_limit(name: &str) -> Result<u32, ()> {
    let v = std::env::var_os(name).ok_or(())?;
    let b = v.as_bytes();
    if b == b"-" {
        return Ok(UNLIMITED);
    }
    std::str::from_utf8(b)
        .ok()
        .and_then(|t| t.parse::<u32>().ok())
        .ok_or(())
}

fn usage_of(dir: &Path, count: &mut u64, size: &mut u64) -> std::io::Result<()> {
    for sub in ["new", "cur"] {
        let d = dir.join(sub);
        for ent in std::fs::read_dir(&d)? {
            let m = ent?.metadata()?;
            if m.is_file() {
                *count += 1;
                *size += m.blocks() * 512;
            }
        }
    }
    Ok(())
}

/// vcheckquota (vmailmgr-tools): exit 0 / 100 / 111.
pub fn vcheckquota(argv: &[OsString]) -> i32 {
    let mut soft_max: u64 = 4096;
    let mut soft_msg: Option<OsString> = None;
    let mut i = 1;
    while i < argv.len() {
        let a = argv[i].as_bytes();
        let (name, val) = if let Some(v) = a.strip_prefix(b"--soft-maxsize=") {
            ("a", Some(v.to_vec()))
        } else if let Some(v) = a.strip_prefix(b"--soft-message=") {
            ("m", Some(v.to_vec()))
        } else if a == b"-a" || a == b"-m" {
            i += 1;
            (
                if a == b"-a" { "a" } else { "m" },
                argv.get(i).map(|v| v.as_bytes().to_vec()),
            )
        } else {
            err("usage: vcheckquota [-a BYTES|--soft-maxsize=BYTES] [-m PATH|--soft-message=PATH]\n");
            return 111;
        };
        let Some(val) = val else {
            err("vcheckquota: option requires a value\n");
            return 111;
        };
        if name == "a" {
            match std::str::from_utf8(&val).ok().and_then(|v| v.parse().ok()) {
                Some(n) => soft_max = n,
                None => {
                    err("vcheckquota: invalid soft maximum size\n");
                    return 111;
                }
            }
        } else {
            soft_msg = Some(OsStr::from_bytes(&val).to_os_string());
        }
        i += 1;
    }
    let say = |m: &str| err(format!("vcheckquota: {m}"));
    let Some(maildir) = std::env::var_os("MAILDIR") else {
        say("$MAILDIR is not set\n");
        return 111;
    };
    if maildir.is_empty() {
        return 0;
    }
    let limits: Result<Vec<u32>, ()> = [
        "VUSER_MSGSIZE",
        "VUSER_MSGCOUNT",
        "VUSER_HARDQUOTA",
        "VUSER_SOFTQUOTA",
    ]
    .iter()
    .map(|n| env_limit(n))
    .collect();
    let Ok(l) = limits else {
        say("invalid or missing quota variable\n");
        return 111;
    };
    let (msgsize, msgcount, mut hard, soft) = (l[0], l[1], l[2], l[3]);
    let Ok(m) = std::fs::File::open("/dev/stdin").and_then(|f| f.metadata()) else {
        say("Could not stat standard input\n");
        return 111;
    };
    let size = m.blocks() * 512;
    if msgsize != UNLIMITED && size > u64::from(msgsize) {
        say(MSG_TOO_BIG);
        return 100;
    }
    if soft == UNLIMITED && hard == UNLIMITED && msgcount == UNLIMITED {
        return 0;
    }
    let (mut count, mut used) = (1u64, size);
    if usage_of(Path::new(&maildir), &mut count, &mut used).is_err() {
        say("Could not read the maildir\n");
        return 111;
    }
    if msgcount != UNLIMITED && count > u64::from(msgcount) {
        say(MSG_TOO_MANY);
        return 100;
    }
    if hard == UNLIMITED {
        if soft == UNLIMITED {
            return 0;
        }
        hard = soft;
    }
    if used > u64::from(hard) {
        say(MSG_HARD);
        return 100;
    }
    if soft != UNLIMITED && used > u64::from(soft) {
        if let Some(msg) = &soft_msg {
            let name = format!("{}.{}.softquota-warning", now(), std::process::id());
            let _ = std::os::unix::fs::symlink(msg, Path::new(&maildir).join("new").join(name));
        }
        if size > soft_max {
            say(MSG_SOFT);
            return 100;
        }
    }
    0
}
