//! qmail-qread — list outgoing messages and recipients.
//!
//! # Invocation
//! `qmail-qread` (no arguments). For each message in `queue/info/*/`
//! (subdirectories 0..22, directory order inside) prints
//! `DATE GMT  #ID  SIZE  <SENDER> [ bouncing]`, then one line per
//! recipient: `[  done]\tlocal\tADDR` / `[  done]\tremote\tADDR`
//! (`shared/spec/qmail/queue.md` §8). Unprintable bytes show as `_`.
//! Messages still in `todo/` are not listed.
//!
//! # Uid and security
//! Must run as root or qmails to read `info/`, `local/`, `remote/`.
//!
//! # Output and exit codes
//! Everything, warnings included, goes to stdout, as in the original:
//! `warning: trouble with #ID: ERR` for one unreadable message;
//! `fatal: unable to chdir: ERR` / `fatal: unable to opendir info/N: ERR`
//! then exit 111. Otherwise exit 0.
//!
//! # See also
//! qmail-qstat, qmail-send.

use std::io::Write;

use qmail::queue::layout::Layout;
use qmail::queue::scan;

fn finish(out: &[u8], code: i32) -> ! {
    let mut so = std::io::stdout().lock();
    let _ = so.write_all(out);
    let _ = so.flush();
    std::process::exit(code)
}

fn main() {
    let mut out = Vec::new();
    let home = qmail::root::qmail_home();
    for dir in [home.clone(), home.join("queue")] {
        if let Err(e) = std::env::set_current_dir(&dir) {
            out.extend_from_slice(
                format!("fatal: unable to chdir: {}\n", qmail::errstr::io_text(&e)).as_bytes(),
            );
            finish(&out, 111);
        }
    }
    let q = Layout::at(".");
    let ids = match scan::split_ids(&q, "info") {
        Ok(ids) => ids,
        Err(e) => {
            let text = format!(
                "fatal: unable to opendir {}: {}\n",
                e.dir,
                qmail::errstr::io_text(&e.error)
            );
            out.extend_from_slice(text.as_bytes());
            finish(&out, 111);
        }
    };
    for id in ids {
        match scan::read_queued(&q, id) {
            Ok(m) => scan::qread_lines(&m, &mut out),
            Err(e) => out.extend_from_slice(
                format!(
                    "warning: trouble with #{id}: {}\n",
                    qmail::errstr::io_text(&e)
                )
                .as_bytes(),
            ),
        }
    }
    finish(&out, 0)
}
