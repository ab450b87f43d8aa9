//! qmail-send's "done" handling (`shared/spec/qmail/send.md` §7–§9):
//! appending to `bounce/ID`, injecting the bounce, `end msg`, and the
//! periodic removal of stale messages.

use std::cmp::Reverse;
use std::fs::OpenOptions;
use std::io::{self, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::time::Duration;

use super::bounce::{self, Kind};
use super::engine::{now, Send, OSSIFIED, SLEEP_CLEANUP, SLEEP_SYSFAIL};
use super::log;
use super::rewrite;
use crate::envelope::Envelope;
use crate::queue::client::Injection;

impl Send {
    pub(super) fn add_bounce(&mut self, id: u64, recip: &[u8], report: &[u8]) {
        let shown = rewrite::strip_prepend(&self.cfg.rules, recip);
        let block = bounce::block(&shown, report);
        loop {
            let r = OpenOptions::new()
                .append(true)
                .create(true)
                .mode(0o600)
                .open(self.q.bounce(id))
                .and_then(|mut f| f.write_all(&block));
            if r.is_ok() {
                return;
            }
            let l = log::alert("unable to append to bounce message; HELP! sleeping...");
            self.log(&l);
            std::thread::sleep(Duration::from_secs(10));
        }
    }

    /// The sender recorded in info, or `None` on trouble.
    fn info_sender(&self, id: u64) -> Option<Vec<u8>> {
        let b = std::fs::read(self.q.info(id)).ok()?;
        if b.first() != Some(&b'F') {
            return None;
        }
        let end = b.iter().position(|&x| x == 0).unwrap_or(b.len());
        Some(b[1..end].to_vec())
    }

    /// `injectbounce`: true when there is nothing (more) to bounce.
    fn inject_bounce(&mut self, id: u64) -> bool {
        let bpath = self.q.bounce(id);
        let btext = match std::fs::read(&bpath) {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return true,
            Err(_) => {
                let l = log::warning(&format!("unable to stat bounce/{id}"));
                self.log(&l);
                return false;
            }
        };
        let Some(sender) = self.info_sender(id) else {
            let l = log::warning(&format!("trouble reading {}", self.name("info", id)));
            self.log(&l);
            return false;
        };
        let (to, from, double) = match bounce::kind(&sender, &self.cfg.doublebounce_to) {
            Kind::Triple => {
                let l = log::triple_bounce(id);
                self.log(&l);
                if std::fs::remove_file(&bpath).is_err() {
                    let l = log::warning(&format!("unable to unlink bounce/{id}"));
                    self.log(&l);
                    return false;
                }
                return true;
            }
            Kind::Single { to } => (to, Vec::new(), false),
            Kind::Double { to } => (to, b"#@[]".to_vec(), true),
        };
        let shown = sender.strip_suffix(b"-@[]").unwrap_or(&sender).to_vec();
        let mut qq = match Injection::open_at(&self.cfg.qmail_home) {
            Ok(qq) => qq,
            Err(_) => {
                let l = log::warning("unable to start qmail-queue, will try later");
                self.log(&l);
                return false;
            }
        };
        let qp = qq.pid();
        qq.put(&bounce::head(
            now() as u64,
            &self.cfg.bouncefrom,
            &self.cfg.bouncehost,
            &to,
            double,
        ));
        qq.put(&btext);
        qq.put(&bounce::middle(&shown, double));
        match std::fs::read(self.q.mess(id)) {
            Ok(m) => qq.put(&m),
            Err(_) => qq.fail(),
        }
        let env = Envelope {
            sender: from,
            recipients: vec![to],
        };
        if qq.close(&env).is_err() {
            let l = log::warning("trouble injecting bounce message, will try later");
            self.log(&l);
            return false;
        }
        let l = log::bounce_msg(id, qp);
        self.log(&l);
        if std::fs::remove_file(&bpath).is_err() {
            let l = log::warning(&format!("unable to unlink bounce/{id}"));
            self.log(&l);
            return false;
        }
        true
    }

    /// `messdone` (§8).
    pub(super) fn mess_done(&mut self, id: u64) {
        let retry = |s: &mut Self| s.done.push(Reverse((now() + SLEEP_SYSFAIL, id)));
        if self.q.todo(id).exists() {
            return;
        }
        for c in 0..2 {
            if self.chan_path(c, id).exists() {
                return;
            }
        }
        if !self.q.info(id).exists() {
            return;
        }
        if !self.inject_bounce(id) {
            return retry(self);
        }
        let l = log::end_msg(id);
        self.log(&l);
        if std::fs::remove_file(self.q.info(id)).is_err() {
            let l = log::warning(&format!(
                "unable to unlink {}; will try again later",
                self.name("info", id)
            ));
            self.log(&l);
            return retry(self);
        }
        if !self.clean(&format!("foop/{id}")) {
            let l = log::warning(&format!("qmail-clean unable to clean up foop/{id}"));
            self.log(&l);
        }
    }

    /// §9: remove stale messages without info or todo.
    pub(super) fn cleanup(&mut self) {
        self.next_cleanup = now() + SLEEP_CLEANUP;
        let t = now();
        for s in 0..self.q.split {
            let Ok(rd) = std::fs::read_dir(self.q.dir.join("mess").join(s.to_string())) else {
                continue;
            };
            for e in rd.flatten() {
                let Some(id) = e.file_name().to_str().and_then(|n| n.parse::<u64>().ok()) else {
                    continue;
                };
                let Ok(md) = e.metadata() else { continue };
                if t <= md.atime() + OSSIFIED {
                    continue;
                }
                if self.q.info(id).exists() || self.q.todo(id).exists() {
                    continue;
                }
                if !self.clean(&format!("foop/{id}")) {
                    let l = log::warning(&format!("qmail-clean unable to clean up foop/{id}"));
                    self.log(&l);
                }
            }
        }
    }
}
