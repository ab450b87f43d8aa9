//! qmail-showctl — show the qmail configuration.
//!
//! # Invocation
//! `qmail-showctl` (no arguments). Prints the compiled-in facts (home,
//! user-ext delimiter, paternalism, spawn limit, split, uids, gids), then
//! every known control file with its value or default, then one "no idea"
//! line per unknown file in `control/`. Output format:
//! `shared/spec/qmail/control.md` §6.
//!
//! # Uid and security
//! Any uid; only reads. The qmail home is `/var/qmail`, or
//! `$QMAILRS_ROOT/var/qmail` for a non-setuid process.
//!
//! # Control files
//! All of them (read-only), relative to `control/`.
//!
//! # Exit codes
//! 0 after the report; 111 when the home or `control/` cannot be entered
//! or read, or `control/me` cannot be read (an `Oops!` line says which).
//!
//! # See also
//! `qmail::control::showctl`, `qmail::control::files`.

use std::io::Write;
use std::process::ExitCode;

use qmail::control::showctl::{self, Header};
use qmail::ids::{self, Role, RoleGroup};

/// The uid/gid facts; an unresolvable name shows as the original's
/// unresolved build would not, so we fail loudly instead.
fn header() -> Result<Header, ids::IdError> {
    let mut uids = [0u32; 8];
    for (slot, role) in uids.iter_mut().zip(Role::ALL) {
        *slot = ids::uid(role)?.as_raw();
    }
    Ok(Header {
        home: qmail::root::qmail_home().display().to_string(),
        uids,
        gids: [
            ids::gid(RoleGroup::Nofiles)?.as_raw(),
            ids::gid(RoleGroup::Qmail)?.as_raw(),
        ],
    })
}

fn main() -> ExitCode {
    let mut out = Vec::new();
    let home = qmail::root::qmail_home();
    let code = match header() {
        Err(e) => {
            eprintln!("qmail-showctl: fatal: {e}");
            return ExitCode::from(111);
        }
        Ok(h) => {
            showctl::header(&h, &mut out);
            if !home.is_dir() {
                out.extend_from_slice(
                    format!("Oops! Unable to chdir to {}.\n", home.display()).as_bytes(),
                );
                111
            } else {
                match showctl::report(&home.join("control"), &mut out) {
                    Ok(()) => 0,
                    Err(f) => {
                        out.extend_from_slice(f.text().as_bytes());
                        111
                    }
                }
            }
        }
    };
    let mut stdout = std::io::stdout().lock();
    if stdout
        .write_all(&out)
        .and_then(|()| stdout.flush())
        .is_err()
    {
        return ExitCode::from(111);
    }
    ExitCode::from(code)
}
