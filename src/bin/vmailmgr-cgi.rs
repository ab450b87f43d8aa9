//! vmailmgr-cgi — the vmailmgr CGIs in one binary, installed under the
//! original names in the CGI directory (`/usr/cgi-bin/` for a
//! `--prefix=/usr` build, `/usr/lib/cgi-bin/` in the Debian packaging):
//! `listvdomain`, `vaddalias`, `vadduser`, `vchattr`, `vchforwards`,
//! `vdeluser`, `vpasswd` (copies or hard links of this file; the name it
//! is run under picks the CGI). The command-line tools of the same names
//! live in `/usr/bin` and are separate programs.
//!
//! Invocation: by the web server, `REQUEST_METHOD=POST`, the
//! `application/x-www-form-urlencoded` body on stdin; `HTTP_REFERER` adds a
//! Back link. Fields: `vdomain`, `password` always; `redirect`,
//! `error_redirect`; the rest per CGI (commands.md §4).
//!
//! Security: runs as the web server user; everything is decided by
//! vmailmgrd, reached over `socket-file` (`/etc/vmailmgr/socket-file`,
//! default `/tmp/.vmailmgrd`).
//!
//! Exit codes: 0 success page, redirect or the POST-only refusal; 1 error
//! page; 2 run under an unknown name.
//!
//! See: `shared/spec/vmailmgr/commands.md` §4, `qmail::vmailmgr::cgi`.

use std::io::{Read, Write};
use std::os::unix::ffi::OsStringExt;

use qmail::vmailmgr::cgi::{self, Env};

fn main() {
    let argv0 = std::env::args_os().next().unwrap_or_default();
    let base = std::path::Path::new(&argv0)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let Some(name) = cgi::NAMES.iter().find(|n| **n == base) else {
        let _ = writeln!(
            std::io::stderr(),
            "vmailmgr-cgi: run as one of: {}",
            cgi::NAMES.join(", ")
        );
        std::process::exit(2);
    };
    let mut body = Vec::new();
    let _ = std::io::stdin().lock().read_to_end(&mut body);
    let env = Env {
        method: std::env::var("REQUEST_METHOD").ok(),
        content_type: std::env::var("CONTENT_TYPE").ok(),
        referer: std::env::var_os("HTTP_REFERER").map(|v| v.into_vec()),
        body,
    };
    let out = cgi::run(name, &env);
    let mut o = std::io::stdout().lock();
    let _ = o.write_all(&out.stdout);
    let _ = o.flush();
    std::process::exit(out.code);
}
