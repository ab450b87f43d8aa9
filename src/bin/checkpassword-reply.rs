//! checkpassword-reply: Dovecot's reply helper for checkpassword programs
//! (`/usr/lib/dovecot/checkpassword-reply`; `shared/spec/dovecot/auth.md`
//! §2.5, §5).
//!
//! Invocation: as the last program of a checkpassword chain (Dovecot and
//! our pop3-login append its path to the passdb `args`). Reads `USER`,
//! `HOME`, `EXTRA` and the variables `EXTRA` names; writes
//! `user=..\tuserdb_home=..\t...\tuserdb_uid=..\tuserdb_gid=..\t` to fd 4.
//!
//! Security: refuses (exit 111) after a uid change unless
//! `INSECURE_SETUID` is set, the binary is setuid, or `ORIG_UID` is the
//! current uid. Exit codes: 0 (authentication), 2 (lookup mode,
//! `AUTHORIZED=2`), 111 (refused or fd 4 not writable).

use std::io::Write;
use std::process::ExitCode;

use qmail::dovecot::reply::{reply, Ids, Reply};

fn main() -> ExitCode {
    let ids = Ids {
        uid: nix::unistd::getuid().as_raw(),
        euid: nix::unistd::geteuid().as_raw(),
        gid: nix::unistd::getgid().as_raw(),
        egid: nix::unistd::getegid().as_raw(),
    };
    let get = |k: &str| std::env::var(k).ok();
    match reply(&get, &ids) {
        Reply::Refuse(why) => {
            eprintln!("{why}");
            ExitCode::from(111)
        }
        Reply::Write(line, code) => {
            // fd 4 without unsafe: move it onto stdout, which the reply
            // helper does not otherwise use. (/proc/self/fd/4 is not
            // reopenable after a checkpassword program's setuid.)
            let written = nix::unistd::dup2(4, 1)
                .map_err(std::io::Error::from)
                .and_then(|_| {
                    let mut out = std::io::stdout().lock();
                    out.write_all(line.as_bytes())?;
                    out.flush()
                });
            match written {
                Ok(()) => ExitCode::from(code),
                Err(e) => {
                    eprintln!("checkpassword: write(4) failed: {e}");
                    ExitCode::from(111)
                }
            }
        }
    }
}
