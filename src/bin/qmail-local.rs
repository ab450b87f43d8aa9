//! qmail-local — deliver or disposition a mail message.
//!
//! # Invocation
//! `qmail-local [ -nN ] user homedir local dash ext domain sender aliasempty`
//! (qmail-lspawn passes `--` first). fd 0: the message, seekable. fd 1 and
//! fd 2: the report (one pipe under qmail-lspawn). `-n` prints the
//! instructions instead of executing them.
//!
//! # Security
//! Runs as the mailbox owner (qmail-lspawn sets uid/gid). umask 077,
//! SIGPIPE ignored (restored for delivery programs). Refuses world-writable
//! homes and `.qmail` files.
//!
//! # Files
//! `HOME/.qmail*` (`shared/spec/qmail/local.md` §2.3); forwards go through
//! `bin/qmail-queue` (or `$QMAILQUEUE`).
//!
//! # Exit codes
//! 0 delivered (`did F+W+P` and `qp N` on stdout); 100 permanent failure;
//! 111 temporary failure. Other delivery-program codes are mapped as in
//! `local.md` §2.6.
//!
//! # See also
//! qmail-lspawn, qmail-command(8), dot-qmail(5).

use std::fs::File;
use std::io::Write;
use std::os::fd::AsFd;
use std::os::unix::ffi::OsStringExt;
use std::time::{SystemTime, UNIX_EPOCH};

use qmail::local::{Args, Delivery, Failure, USAGE};

fn usage() -> ! {
    let _ = writeln!(std::io::stderr(), "{USAGE}");
    std::process::exit(100);
}

fn main() {
    nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o077));
    let mut argv: Vec<Vec<u8>> = std::env::args_os().skip(1).map(|a| a.into_vec()).collect();
    let mut doit = true;
    // getopt "nN": options until the first non-option, `-` or `--`.
    let mut i = 0;
    while i < argv.len() {
        let a = &argv[i];
        if a == b"--" {
            i += 1;
            break;
        }
        if a.len() < 2 || a[0] != b'-' {
            break;
        }
        for &c in &a[1..] {
            match c {
                b'n' => doit = false,
                b'N' => doit = true,
                c => {
                    let _ = writeln!(
                        std::io::stderr(),
                        "qmail-local: illegal option -- {}",
                        c as char
                    );
                    usage();
                }
            }
        }
        i += 1;
    }
    let ops = argv.split_off(i);
    if ops.len() != 8 {
        usage();
    }
    let mut it = ops.into_iter();
    let mut next = || it.next().unwrap_or_default();
    let args = Args {
        user: next(),
        home: next(),
        local: next(),
        dash: next(),
        ext: next(),
        host: next(),
        sender: next(),
        aliasempty: next(),
    };
    if args.home.first() != Some(&b'/') {
        usage();
    }
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let mut msg = match std::io::stdin().as_fd().try_clone_to_owned() {
        Ok(fd) => File::from(fd),
        Err(_) => fail(Failure::temp("Unable to rewind message. (#4.3.0)")),
    };
    let d = Delivery::prepare(args, now);
    let mut out = std::io::stdout();
    let mut err = std::io::stderr();
    match d.run(doit, &mut msg, &mut out, &mut err) {
        Ok(()) => std::process::exit(0),
        Err(f) => fail(f),
    }
}

fn fail(f: Failure) -> ! {
    if !f.text().is_empty() {
        let _ = writeln!(std::io::stderr(), "{}", f.text());
    }
    std::process::exit(f.exit_code());
}
