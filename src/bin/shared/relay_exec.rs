//! fixcrio's and recordio's `main`: pipes, a forked relay between the
//! client and the pipes, and the program exec'd on the pipes' other ends
//! (so it keeps this process's pid, which tcpserver logged).

use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::CommandExt;

use qmail::tcp::errstr::errstr;
use qmail::tcp::filters::{self, Relay};

fn die(name: &str, what: &str, e: &std::io::Error) -> ! {
    eprintln!("{name}: fatal: {what}: {}", errstr(e));
    std::process::exit(111);
}

/// Run `args[0]` with `make_relay()` between it and the client; returns
/// only on failure (the exit code).
pub fn run(
    name: &str,
    args: &[std::ffi::OsString],
    make_relay: impl FnOnce(u32) -> Box<dyn Relay>,
) -> u8 {
    if args.is_empty() {
        eprintln!("{name}: usage: {name} program [ arg ... ]");
        return 100;
    }
    let pipe =
        || nix::unistd::pipe().unwrap_or_else(|e| die(name, "unable to create pipe", &e.into()));
    let (in_r, in_w) = pipe();
    let (out_r, out_w) = pipe();
    let pid = std::process::id();
    // SAFETY: single-threaded here; the child only relays and exits.
    match unsafe { nix::unistd::fork() } {
        Err(e) => die(name, "unable to fork", &e.into()),
        Ok(nix::unistd::ForkResult::Child) => {
            // SAFETY: setting a disposition; no handler runs.
            unsafe {
                let _ = nix::sys::signal::signal(
                    nix::sys::signal::Signal::SIGPIPE,
                    nix::sys::signal::SigHandler::SigIgn,
                );
            }
            drop(in_r);
            drop(out_w);
            let stdin = std::io::stdin().as_fd_owned();
            let stdout = std::io::stdout().as_fd_owned();
            let mut relay = make_relay(pid);
            filters::relay(&stdin, in_w, &out_r, &stdout, relay.as_mut());
            std::process::exit(0);
        }
        Ok(nix::unistd::ForkResult::Parent { .. }) => {}
    }
    drop(in_w);
    drop(out_r);
    for (from, to) in [(&in_r, 0), (&out_w, 1)] {
        if let Err(e) = nix::unistd::dup2(from.as_raw_fd(), to) {
            die(name, "unable to move descriptors", &e.into());
        }
    }
    drop(in_r);
    drop(out_w);
    let prog = std::ffi::OsStr::from_bytes(args[0].as_bytes());
    let err = std::process::Command::new(prog).args(&args[1..]).exec();
    eprintln!(
        "{name}: fatal: unable to run {}: {}",
        prog.to_string_lossy(),
        errstr(&err)
    );
    111
}

/// Owned duplicates of the standard descriptors.
trait AsFdOwned {
    fn as_fd_owned(&self) -> OwnedFd;
}

impl<T: std::os::fd::AsFd> AsFdOwned for T {
    fn as_fd_owned(&self) -> OwnedFd {
        self.as_fd()
            .try_clone_to_owned()
            .unwrap_or_else(|e| die("relay", "unable to duplicate descriptors", &e))
    }
}
