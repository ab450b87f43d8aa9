//! vconf2dir — convert a pre-0.96 `vmailmgr.conf` (`name = value` lines)
//! into a configuration directory (one file per setting).
//!
//! Invocation: `vconf2dir CONFFILE DIR` (an administrator's one-off).
//! Lines starting with `#`, blank lines and lines without `=` are dropped;
//! `DIR/name` gets `value` and a newline; a comma-separated
//! `postmaster-aliases` is rewritten one item per line.
//!
//! Exit codes: 0 done; 1 wrong arguments, DIR not a directory, or a file
//! that cannot be read or written.
//!
//! See: `shared/spec/vmailmgr/config.md` §7.

use std::io::Write;
use std::path::Path;

fn main() {
    let args: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
    let mut out = std::io::stdout();
    if args.len() != 2 {
        let _ = writeln!(out, "Usage: vconf2dir configuration-file configuration-dir");
        std::process::exit(1);
    }
    let dir = Path::new(&args[1]);
    if !dir.is_dir() {
        let _ = writeln!(out, "vconf2dir: {} is not a directory.", dir.display());
        std::process::exit(1);
    }
    let Ok(text) = std::fs::read(&args[0]) else {
        let _ = writeln!(
            out,
            "vconf2dir: cannot read {}",
            Path::new(&args[0]).display()
        );
        std::process::exit(1);
    };
    for line in text.split(|&b| b == b'\n') {
        let line = line.trim_ascii();
        if line.is_empty() || line[0] == b'#' {
            continue;
        }
        let Some(eq) = line.iter().position(|&b| b == b'=') else {
            continue;
        };
        let name = String::from_utf8_lossy(line[..eq].trim_ascii()).into_owned();
        if name.is_empty() || name.contains('/') || name.starts_with('.') {
            continue;
        }
        let value = line[eq + 1..].trim_ascii();
        let mut body = Vec::new();
        if name == "postmaster-aliases" {
            for item in value
                .split(|&b| b == b',')
                .map(<[u8]>::trim_ascii)
                .filter(|i| !i.is_empty())
            {
                body.extend_from_slice(item);
                body.push(b'\n');
            }
        } else {
            body.extend_from_slice(value);
            body.push(b'\n');
        }
        if std::fs::write(dir.join(&name), body).is_err() {
            let _ = writeln!(out, "vconf2dir: cannot write {}", dir.join(&name).display());
            std::process::exit(1);
        }
    }
}
