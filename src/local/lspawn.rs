//! qmail-lspawn's per-delivery work (`shared/spec/qmail/local.md` §1):
//! find the mailbox owner (users/cdb, else qmail-getpw), run qmail-local
//! as that owner, and turn its exit status into the report.

use std::ffi::OsStr;
use std::fs::File;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use crate::cdb::Reader;
use crate::errstr;
use crate::send::spawn::{run_collect, truncate_report, Channel, Exit};
use crate::users::{self, Owner};

/// qmail-lspawn's internal exit codes (qlx.h).
pub mod qlx {
    pub const USAGE: i32 = 112;
    pub const ROOT: i32 = 113;
    pub const NFS: i32 = 115;
    pub const NOALIAS: i32 = 116;
    pub const CDB: i32 = 117;
    pub const SYS: i32 = 118;
    pub const NOMEM: i32 = 119;
    pub const EXECSOFT: i32 = 120;
    pub const EXECPW: i32 = 121;
    pub const EXECHARD: i32 = 126;
}

/// The report truncation limit of qmail-lspawn.
pub const TRUNCREPORT: usize = 3000;

/// `report`: exit status + collected output → status byte and text.
pub fn report(exit: Exit, output: &[u8]) -> Vec<u8> {
    let fixed: Option<&str> = match exit {
        Exit::Crashed => Some("Zqmail-local crashed.\n"),
        Exit::Code(qlx::CDB) => Some("ZTrouble reading users/cdb in qmail-lspawn.\n"),
        Exit::Code(qlx::NOMEM) => Some("ZOut of memory in qmail-lspawn.\n"),
        Exit::Code(qlx::SYS) => Some("ZTemporary failure in qmail-lspawn.\n"),
        Exit::Code(qlx::NOALIAS) => Some("ZUnable to find alias user!\n"),
        Exit::Code(qlx::ROOT) => Some("ZNot allowed to perform deliveries as root.\n"),
        Exit::Code(qlx::USAGE) => Some("ZInternal qmail-lspawn bug.\n"),
        Exit::Code(qlx::NFS) => Some("ZNFS failure in qmail-local.\n"),
        Exit::Code(qlx::EXECHARD) => Some("DUnable to run qmail-local.\n"),
        Exit::Code(qlx::EXECSOFT) => Some("ZUnable to run qmail-local.\n"),
        Exit::Code(qlx::EXECPW) => Some("ZUnable to run qmail-getpw.\n"),
        Exit::Code(_) => None,
    };
    if let Some(f) = fixed {
        return f.as_bytes().to_vec();
    }
    let status = match exit {
        Exit::Code(0) => b'K',
        Exit::Code(111 | 71 | 74 | 75) => b'Z',
        _ => b'D',
    };
    let mut out = vec![status];
    let end = output.iter().position(|&b| b == 0).unwrap_or(output.len());
    out.extend_from_slice(&output[..end]);
    out
}

/// The local channel.
pub struct Local {
    pub qmail_home: PathBuf,
    pub aliasempty: Vec<u8>,
    /// Single-user mode: no uid changes, no refusal of uid 0.
    pub single_user: bool,
    /// qmailp's uid and nofiles' gid, for qmail-getpw.
    pub getpw_ids: (u32, u32),
}

impl Local {
    /// `nughde_get`: the owner record for `local`, or the child exit code.
    fn owner(&self, local: &[u8]) -> Result<Vec<u8>, i32> {
        match std::fs::read(self.qmail_home.join("users/cdb")) {
            Ok(bytes) => {
                let db = Reader::new(bytes).map_err(|_| qlx::CDB)?;
                if let Some(d) = users::lookup(&db, local).map_err(|_| qlx::CDB)? {
                    return Ok(d);
                }
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(_) => return Err(qlx::CDB),
        }
        let mut c = Command::new(self.qmail_home.join("bin/qmail-getpw"));
        c.arg(OsStr::from_bytes(local))
            .current_dir(&self.qmail_home);
        if !self.single_user {
            c.uid(self.getpw_ids.0).gid(self.getpw_ids.1);
        }
        c.stdin(Stdio::null())
            .stderr(Stdio::null())
            .stdout(Stdio::piped());
        let out = c.output().map_err(|_| qlx::EXECPW)?;
        match Exit::from(out.status) {
            Exit::Crashed => Err(qlx::SYS),
            Exit::Code(0) => Ok(out.stdout),
            Exit::Code(n) => Err(n),
        }
    }

    /// The lspawn child: exit status and output of the whole attempt.
    fn attempt(&self, mess: File, sender: &[u8], recipient: &[u8]) -> (Exit, Vec<u8>) {
        let at = recipient.iter().rposition(|&b| b == b'@').unwrap_or(0);
        let (local, domain) = (&recipient[..at], &recipient[at + 1..]);
        if local.is_empty() {
            return (Exit::Code(0), Vec::new());
        }
        if !self.qmail_home.is_dir() {
            return (Exit::Code(qlx::USAGE), Vec::new());
        }
        let data = match self.owner(local) {
            Ok(d) => d,
            Err(code) => return (Exit::Code(code), Vec::new()),
        };
        let Some(o) = Owner::parse(&data) else {
            return (Exit::Code(qlx::USAGE), Vec::new());
        };
        let num = |v: &[u8]| -> u32 {
            // scan_ulong: leading digits.
            v.iter()
                .take_while(|b| b.is_ascii_digit())
                .fold(0u32, |n, &b| {
                    n.wrapping_mul(10).wrapping_add(u32::from(b - b'0'))
                })
        };
        let (uid, gid) = (num(&o.uid), num(&o.gid));
        if !self.single_user && uid == 0 {
            return (Exit::Code(qlx::ROOT), Vec::new());
        }
        let mut c = Command::new(self.qmail_home.join("bin/qmail-local"));
        c.arg("--");
        for a in [
            &o.user[..],
            &o.home,
            local,
            &o.dash,
            &o.ext,
            domain,
            sender,
            &self.aliasempty,
        ] {
            c.arg(OsStr::from_bytes(a));
        }
        c.current_dir(&self.qmail_home);
        if !self.single_user {
            c.uid(uid).gid(gid);
        }
        match run_collect(c, Stdio::from(mess)) {
            Ok(r) => r,
            Err(e) if errstr::io_is_temp(&e) => (Exit::Code(qlx::EXECSOFT), Vec::new()),
            Err(_) => (Exit::Code(qlx::EXECHARD), Vec::new()),
        }
    }
}

impl Channel for Local {
    fn deliver(&self, mess: File, sender: &[u8], recipient: &[u8]) -> Vec<u8> {
        let (exit, mut output) = self.attempt(mess, sender, recipient);
        truncate_report(&mut output, TRUNCREPORT);
        report(exit, &output)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_table() {
        assert_eq!(report(Exit::Code(0), b"did 1+0+0\n"), b"Kdid 1+0+0\n");
        assert_eq!(report(Exit::Code(111), b"x\0y"), b"Zx");
        assert_eq!(report(Exit::Code(75), b""), b"Z");
        assert_eq!(report(Exit::Code(100), b"Sorry.\n"), b"DSorry.\n");
        assert_eq!(report(Exit::Code(5), b"e"), b"De");
        assert_eq!(report(Exit::Crashed, b"e"), b"Zqmail-local crashed.\n");
        assert_eq!(
            report(Exit::Code(116), b""),
            b"ZUnable to find alias user!\n"
        );
        assert_eq!(
            report(Exit::Code(126), b""),
            b"DUnable to run qmail-local.\n"
        );
    }
}
