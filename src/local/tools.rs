//! Shared pieces of the small `.qmail` helper programs (forward,
//! condredirect, bouncesaying, except, preline — `shared/spec/qmail/binaries.md`):
//! running a child on the shared stdin, and requeueing the message.

use std::ffi::OsString;
use std::fs::File;
use std::io::{self, Read};
use std::process::Command;

use crate::envelope::Envelope;
use crate::errstr;
use crate::queue::client::Injection;

/// How a helper's child ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Child {
    Exit(i32),
    Crashed,
    /// exec failed; `true` for a temporary errno.
    NoExec(bool),
}

/// Run `args[0] args[1..]` with our stdin, stdout and stderr.
pub fn run(args: &[OsString]) -> Child {
    let Some((prog, rest)) = args.split_first() else {
        return Child::NoExec(false);
    };
    match Command::new(prog).args(rest).status() {
        Ok(s) => match s.code() {
            Some(c) => Child::Exit(c),
            None => Child::Crashed,
        },
        Err(e) => Child::NoExec(errstr::io_is_temp(&e)),
    }
}

/// Why a requeue failed: the text after `PROG: fatal: ` and the exit code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueFailure {
    pub text: String,
    pub code: i32,
}

/// Queue `head` + the rest of `input` from `sender` to `recipients`;
/// returns the qp.
pub fn requeue(
    head: &[u8],
    input: &mut dyn Read,
    sender: &[u8],
    recipients: Vec<Vec<u8>>,
) -> Result<u32, QueueFailure> {
    let fail = |text: &str, permanent: bool| QueueFailure {
        text: text.to_string(),
        code: if permanent { 100 } else { 111 },
    };
    let mut qq = Injection::open().map_err(|e| fail(e.text, e.permanent))?;
    let qp = qq.pid();
    qq.put(head);
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match input.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => qq.put(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                qq.fail();
                let _ = qq.close(&Envelope::default());
                return Err(QueueFailure {
                    text: format!("unable to read message: {}", errstr::io_text(&e)),
                    code: 111,
                });
            }
        }
    }
    let env = Envelope {
        sender: sender.to_vec(),
        recipients,
    };
    qq.close(&env).map_err(|e| fail(e.text, e.permanent))?;
    Ok(qp)
}

/// Our fd 0 as a seekable file (rewound by condredirect).
pub fn stdin_file() -> io::Result<File> {
    use std::os::fd::AsFd;
    Ok(File::from(io::stdin().as_fd().try_clone_to_owned()?))
}
