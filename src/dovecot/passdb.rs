//! Dovecot's checkpassword passdb (`shared/spec/dovecot/auth.md` §2, §4;
//! `db-checkpassword.c`): the program from `args` (split on spaces, no
//! shell) plus the reply helper's path as the last argument; the
//! credentials `user NUL password NUL NUL` on fd 3, the reply helper's
//! TAB-separated `key=value` line read back from fd 4; exit 0 with data =
//! success, 1 = wrong login, 111 or anything else = temporary failure.
//!
//! Descriptors 3 and 4 are set by `dup2` in the parent around the spawn;
//! the caller keeps them reserved (see [`reserve_fds`]).

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Most bytes of credentials Dovecot hands over.
pub const MAX_DATA: usize = 512;

/// What the program said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The reply fields (`user`, `userdb_home`, ...), unescaped.
    Ok(Vec<(String, String)>),
    /// Exit 1: wrong user or password.
    Failed,
    /// Exit 111, other exits, no data, a signal, a timeout.
    TempFail(String),
}

/// Keep fds 3 and 4 occupied by `/dev/null` so that nothing else takes
/// them; returns the placeholders (hold them for the process lifetime).
pub fn reserve_fds() -> Vec<File> {
    let mut keep = Vec::new();
    let mut extra = Vec::new();
    while let Ok(f) = File::open("/dev/null") {
        let fd = f.as_raw_fd();
        if fd == 3 || fd == 4 {
            keep.push(f);
        } else if fd > 4 {
            break;
        } else {
            extra.push(f);
        }
    }
    drop(extra);
    keep
}

/// Dovecot's `tab_unescape`.
pub fn tab_unescape(s: &str) -> String {
    let mut out = String::new();
    let mut it = s.chars();
    while let Some(c) = it.next() {
        if c == '\u{1}' {
            match it.next() {
                Some('1') => out.push('\u{1}'),
                Some('t') => out.push('\t'),
                Some('r') => out.push('\r'),
                Some('n') => out.push('\n'),
                Some(o) => out.push(o),
                None => {}
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Dovecot's `tab_escape`.
pub fn tab_escape(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        match c {
            '\u{1}' => out.push_str("\u{1}1"),
            '\t' => out.push_str("\u{1}t"),
            '\r' => out.push_str("\u{1}r"),
            '\n' => out.push_str("\u{1}n"),
            c => out.push(c),
        }
    }
    out
}

/// Parse the reply line; `None` when it holds LF or NUL (internal failure).
pub fn parse_reply(data: &[u8]) -> Option<Vec<(String, String)>> {
    if data.contains(&b'\n') || data.contains(&0) {
        return None;
    }
    let text = String::from_utf8_lossy(data);
    Some(
        text.split('\t')
            .filter(|f| !f.is_empty())
            .map(|f| match f.split_once('=') {
                Some((k, v)) => (k.to_string(), tab_unescape(v)),
                None => (f.to_string(), String::new()),
            })
            .collect(),
    )
}

/// Run `argv` (with the reply helper appended by the caller) for
/// `user`/`password`, with `env` as its whole environment.
pub fn check(
    argv: &[String],
    user: &[u8],
    password: &[u8],
    env: &[(String, String)],
    limit: Duration,
) -> Verdict {
    let mut data = Vec::with_capacity(user.len() + password.len() + 3);
    data.extend_from_slice(user);
    data.push(0);
    data.extend_from_slice(password);
    data.push(0);
    data.push(0);
    if data.len() > MAX_DATA {
        return Verdict::Failed;
    }
    match run(argv, &data, env, limit) {
        Ok(v) => v,
        Err(e) => Verdict::TempFail(e),
    }
}

fn run(
    argv: &[String],
    data: &[u8],
    env: &[(String, String)],
    limit: Duration,
) -> Result<Verdict, String> {
    let (prog, args) = argv
        .split_first()
        .ok_or("checkpassword: no program configured")?;
    if !Path::new(prog).is_absolute() {
        return Err(format!("checkpassword: {prog} is not an absolute path"));
    }
    let flags = nix::fcntl::OFlag::O_CLOEXEC;
    let (in_rd, in_wr) = nix::unistd::pipe2(flags).map_err(|e| e.to_string())?;
    let (out_rd, out_wr) = nix::unistd::pipe2(flags).map_err(|e| e.to_string())?;
    // The child's fd 3 and fd 4, inherited (dup2 clears close-on-exec).
    nix::unistd::dup2(in_rd.as_raw_fd(), 3).map_err(|e| e.to_string())?;
    nix::unistd::dup2(out_wr.as_raw_fd(), 4).map_err(|e| e.to_string())?;
    let spawned = Command::new(prog)
        .args(args)
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn();
    // Back to the placeholders.
    if let Ok(null) = File::open("/dev/null") {
        let _ = nix::unistd::dup2(null.as_raw_fd(), 3);
        let _ = nix::unistd::dup2(null.as_raw_fd(), 4);
    }
    drop(in_rd);
    drop(out_wr);
    let mut child = spawned.map_err(|e| format!("checkpassword: execv({prog}) failed: {e}"))?;
    let mut w = File::from(in_wr);
    let _ = w.write_all(data);
    drop(w);
    let mut reply = Vec::new();
    let mut r = File::from(out_rd);
    let deadline = Instant::now() + limit;
    let mut buf = [0u8; 1024];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let t = nix::poll::PollTimeout::try_from(left).unwrap_or(nix::poll::PollTimeout::MAX);
        let mut p = [nix::poll::PollFd::new(
            std::os::fd::AsFd::as_fd(&r),
            nix::poll::PollFlags::POLLIN,
        )];
        match nix::poll::poll(&mut p, t) {
            Ok(0) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err("checkpassword: timed out".into());
            }
            Err(nix::errno::Errno::EINTR) => continue,
            _ => {}
        }
        match r.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => reply.extend_from_slice(&buf[..n]),
        }
    }
    let status = child.wait().map_err(|e| e.to_string())?;
    Ok(match status.code() {
        Some(0) if reply.is_empty() => Verdict::TempFail("checkpassword: Received no input".into()),
        Some(0) => match parse_reply(&reply) {
            Some(fields) => Verdict::Ok(fields),
            None => Verdict::TempFail("checkpassword: invalid reply".into()),
        },
        Some(1) => Verdict::Failed,
        Some(c) => Verdict::TempFail(format!("checkpassword: exit {c}")),
        None => Verdict::TempFail("checkpassword: killed by a signal".into()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reply_codec() {
        let f = parse_reply(b"user=a@b\tuserdb_home=/h/x\x01ty\tuserdb_uid=5\t").unwrap();
        assert_eq!(f[0], ("user".into(), "a@b".into()));
        assert_eq!(f[1], ("userdb_home".into(), "/h/x\ty".into()));
        assert_eq!(f.len(), 3);
        assert!(parse_reply(b"user=a\n").is_none());
        for s in ["a\tb", "\u{1}", "x\r\ny", ""] {
            assert_eq!(tab_unescape(&tab_escape(s)), s);
        }
    }
}
