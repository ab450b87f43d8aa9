//! qmail-newmrh — prepare morercpthosts for qmail-smtpd.
//!
//! # Invocation
//! `qmail-newmrh`: compiles `control/morercpthosts` (lowercased lines,
//! blank and `#` lines skipped) into `control/morercpthosts.cdb` through
//! `control/morercpthosts.tmp` (`shared/spec/qmail/cdb.md` §5.3).
//!
//! # Security
//! Run by root; umask 033.
//!
//! # Exit codes
//! 0 done; 111 with `qmail-newmrh: fatal: ...`.

use std::io::Write;

use qmail::cdb::Writer;
use qmail::errstr;

fn die(msg: &str) -> ! {
    let _ = writeln!(std::io::stderr(), "qmail-newmrh: fatal: {msg}");
    std::process::exit(111);
}

fn main() {
    nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o033));
    if let Err(e) = std::env::set_current_dir(qmail::root::qmail_home()) {
        die(&format!(
            "unable to chdir to /var/qmail: {}",
            errstr::io_text(&e)
        ));
    }
    let text = match std::fs::read("control/morercpthosts") {
        Ok(t) => t,
        Err(e) => die(&format!(
            "unable to read control/morercpthosts: {}",
            errstr::io_text(&e)
        )),
    };
    let mut w = Writer::new();
    for line in qmail::control::list_lines(&text) {
        if w.add(&line.to_ascii_lowercase(), b"").is_err() {
            die("unable to write to control/morercpthosts.tmp: file too big");
        }
    }
    let bytes = match w.finish() {
        Ok(b) => b,
        Err(_) => die("unable to write to control/morercpthosts.tmp: file too big"),
    };
    let written = std::fs::File::create("control/morercpthosts.tmp")
        .and_then(|mut f| f.write_all(&bytes).and_then(|()| f.sync_all()));
    if let Err(e) = written {
        die(&format!(
            "unable to write to control/morercpthosts.tmp: {}",
            errstr::io_text(&e)
        ));
    }
    if let Err(e) = std::fs::rename("control/morercpthosts.tmp", "control/morercpthosts.cdb") {
        die(&format!(
            "unable to move control/morercpthosts.tmp to control/morercpthosts.cdb: {}",
            errstr::io_text(&e)
        ));
    }
}
