//! qmail-send's main loop (`shared/spec/qmail/send.md` §2–§9): the todo
//! scan, per-channel schedules, jobs and passes over channel files,
//! delivery slots on the spawner pipes, bounces and "done" handling.
//!
//! Single-threaded and poll-driven, as the original: the spawners' report
//! pipes, the trigger FIFO and a signalfd (TERM, ALRM, HUP) wake it.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::fd::AsFd;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use super::log::{self, Outcome};
use super::rewrite::{self, Rules};
use super::todo::{self, split_name};
pub use super::trigger::{Signal, Trigger};
use crate::queue::layout::Layout;

/// Retry after a failed system call.
pub const SLEEP_SYSFAIL: i64 = 123;
/// Longest select sleep.
pub const SLEEP_FOREVER: i64 = 86400;
/// Todo rescan interval.
pub const SLEEP_TODO: i64 = 1500;
/// Interval of the stale-message cleanup.
pub const SLEEP_CLEANUP: i64 = 76431;
/// Age of a mess file without info/todo that gets removed.
pub const OSSIFIED: i64 = 129_600;
/// Channel skips of the retry schedule.
pub const CHANSKIP: [i64; 2] = [10, 20];
/// Most todo entries preprocessed under one durability barrier.
pub const TODO_BATCH: usize = 64;
/// Longest report kept.
pub const REPORT_MAX: usize = 10000;

/// When to try again: `birth + (isqrt(now - birth) + SKIP)^2`.
pub fn next_retry(birth: i64, now: i64, chan: usize) -> i64 {
    let age = if birth > now { 0 } else { now - birth };
    let n = (age as f64).sqrt() as i64;
    let n = if (n + 1) * (n + 1) <= age {
        n + 1
    } else if n * n > age {
        n - 1
    } else {
        n
    };
    let n = n + CHANSKIP[chan];
    birth + n * n
}

/// Settings read at start-up.
#[derive(Debug, Clone)]
pub struct Config {
    pub qmail_home: PathBuf,
    pub lifetime: i64,
    pub concurrency: [usize; 2],
    pub bouncefrom: Vec<u8>,
    pub bouncehost: Vec<u8>,
    /// `doublebounceto@doublebouncehost`.
    pub doublebounce_to: Vec<u8>,
    pub rules: Rules,
}

/// The pipes qmail-start hands over.
pub struct Pipes {
    pub log: File,
    pub cmd: [File; 2],
    pub report: [File; 2],
    pub clean_cmd: File,
    pub clean_ans: File,
}

pub(super) struct Slot {
    job: usize,
    mpos: u64,
    recip: Vec<u8>,
    delid: u64,
}

pub(super) struct Job {
    id: u64,
    chan: usize,
    sender: Vec<u8>,
    retry: i64,
    dying: bool,
    refs: u32,
    numtodo: u32,
    hiteof: bool,
    records: VecDeque<(u64, Vec<u8>)>,
}

type Pq = BinaryHeap<Reverse<(i64, u64)>>;

/// The running qmail-send.
pub struct Send {
    pub(super) cfg: Config,
    pub(super) q: Layout,
    pub(super) io: Pipes,
    pub(super) pq: [Pq; 2],
    pub(super) done: Pq,
    pub(super) slots: [Vec<Option<Slot>>; 2],
    pub(super) used: [usize; 2],
    pub(super) jobs: Vec<Option<Job>>,
    pub(super) pass: [Option<usize>; 2],
    pub(super) rbuf: [Vec<u8>; 2],
    pub(super) todo_list: VecDeque<u64>,
    pub(super) next_todo: i64,
    pub(super) next_cleanup: i64,
    pub(super) delid: u64,
    pub exitasap: bool,
    pub(super) lost: bool,
}

/// Unix seconds now.
pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

pub(super) fn mtime(md: &std::fs::Metadata) -> i64 {
    md.mtime()
}

impl Send {
    pub fn new(cfg: Config, q: Layout, io: Pipes) -> Self {
        let slots = [
            (0..cfg.concurrency[0]).map(|_| None).collect(),
            (0..cfg.concurrency[1]).map(|_| None).collect(),
        ];
        let n = cfg.concurrency[0] + cfg.concurrency[1];
        Send {
            cfg,
            q,
            io,
            pq: [Pq::new(), Pq::new()],
            done: Pq::new(),
            slots,
            used: [0, 0],
            jobs: (0..n.max(1)).map(|_| None).collect(),
            pass: [None, None],
            rbuf: [Vec::new(), Vec::new()],
            todo_list: VecDeque::new(),
            next_todo: 0,
            next_cleanup: 0,
            delid: 0,
            exitasap: false,
            lost: false,
        }
    }

    /// Write one log line (unbuffered).
    pub fn log(&mut self, line: &[u8]) {
        let _ = self.io.log.write_all(line);
    }

    pub(super) fn log_status(&mut self) {
        let l = log::status(self.used, self.cfg.concurrency, self.exitasap);
        self.log(&l);
    }

    pub(super) fn name(&self, kind: &str, id: u64) -> String {
        split_name(kind, id, self.q.split)
    }

    pub(super) fn chan_path(&self, c: usize, id: u64) -> PathBuf {
        if c == 0 {
            self.q.local(id)
        } else {
            self.q.remote(id)
        }
    }

    /// Start-up scan of `info/*/` (§4).
    pub fn scan_info(&mut self) {
        for s in 0..self.q.split {
            let dir = self.q.dir.join("info").join(s.to_string());
            let Ok(rd) = std::fs::read_dir(&dir) else {
                let l = log::alert(&format!("unable to opendir info/{s}, sleeping..."));
                self.log(&l);
                continue;
            };
            for e in rd.flatten() {
                let Some(id) = e.file_name().to_str().and_then(|n| n.parse::<u64>().ok()) else {
                    continue;
                };
                if self.q.todo(id).exists() {
                    continue;
                }
                let mut any = false;
                for c in 0..2 {
                    if let Ok(md) = std::fs::metadata(self.chan_path(c, id)) {
                        self.pq[c].push(Reverse((mtime(&md), id)));
                        any = true;
                    }
                }
                if !any {
                    self.done.push(Reverse((now(), id)));
                }
            }
        }
    }

    pub(super) fn clean(&mut self, cmd: &str) -> bool {
        let mut b = cmd.as_bytes().to_vec();
        b.push(0);
        if self.io.clean_cmd.write_all(&b).is_err() {
            return self.lost_clean();
        }
        let mut a = [0u8; 1];
        match self.io.clean_ans.read(&mut a) {
            Ok(1) => a[0] == b'+',
            _ => self.lost_clean(),
        }
    }

    pub(super) fn lost_clean(&mut self) -> bool {
        if !self.lost {
            let l = log::alert("oh no! lost qmail-clean connection! dying...");
            self.log(&l);
        }
        self.lost = true;
        self.exitasap = true;
        false
    }

    fn scan_todo(&mut self) {
        self.next_todo = now() + SLEEP_TODO;
        let Ok(rd) = std::fs::read_dir(self.q.dir.join("todo")) else {
            let l = log::alert("unable to opendir todo, sleeping...");
            self.log(&l);
            return;
        };
        for e in rd.flatten() {
            let n = e.file_name();
            let Some(s) = n.to_str() else { continue };
            if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
                continue;
            }
            if let Ok(id) = s.parse::<u64>() {
                if !self.todo_list.contains(&id) {
                    self.todo_list.push_back(id);
                }
            }
        }
    }

    /// Preprocess up to [`TODO_BATCH`] todo entries, make the results
    /// durable with one barrier, then have qmail-clean remove them.
    fn do_todo(&mut self) {
        let mut ready = Vec::new();
        while ready.len() < TODO_BATCH {
            let Some(id) = self.todo_list.pop_front() else {
                break;
            };
            let out = todo::preprocess(&self.q, &self.cfg.rules, id);
            for l in &out.log {
                let _ = self.io.log.write_all(l);
            }
            if let Some(chans) = out.channels {
                ready.push((id, chans));
            }
        }
        if ready.is_empty() {
            return;
        }
        if todo::barrier(&self.q).is_err() {
            for (id, _) in ready {
                let l = log::warning(&format!("trouble fsyncing {}", self.name("info", id)));
                self.log(&l);
            }
            return;
        }
        for (id, chans) in ready {
            if !self.clean(&format!("todo/{id}")) {
                let l = log::warning(&format!("qmail-clean unable to clean up todo/{id}"));
                self.log(&l);
                continue;
            }
            let t = now();
            for (c, &has) in chans.iter().enumerate() {
                if has {
                    self.pq[c].push(Reverse((t, id)));
                }
            }
            if !chans[0] && !chans[1] {
                self.done.push(Reverse((t, id)));
            }
        }
    }

    /// Open a pass over the due message at the head of channel `c`.
    fn open_pass(&mut self, c: usize) -> bool {
        let t = now();
        let Some(&Reverse((dt, id))) = self.pq[c].peek() else {
            return false;
        };
        if dt > t {
            return false;
        }
        let Some(j) = self.jobs.iter().position(Option::is_none) else {
            return false;
        };
        self.pq[c].pop();
        let fname = self.name(log::CHANNEL[c], id);
        let data = match std::fs::read(self.chan_path(c, id)) {
            Ok(d) => d,
            Err(_) => {
                let l = log::warning(&format!("trouble opening {fname}; will try again later"));
                self.log(&l);
                self.pq[c].push(Reverse((t + SLEEP_SYSFAIL, id)));
                return true;
            }
        };
        let info = self.q.info(id);
        let (sender, birth) = match std::fs::read(&info).and_then(|b| {
            let md = std::fs::metadata(&info)?;
            Ok((b, mtime(&md)))
        }) {
            Ok((b, birth)) if b.first() == Some(&b'F') => {
                let end = b.iter().position(|&x| x == 0).unwrap_or(b.len());
                (b[1..end].to_vec(), birth)
            }
            _ => {
                let l = log::warning(&format!(
                    "trouble reading {}; will try again later",
                    self.name("info", id)
                ));
                self.log(&l);
                self.pq[c].push(Reverse((t + SLEEP_SYSFAIL, id)));
                return true;
            }
        };
        let mut records = VecDeque::new();
        let mut pos = 0usize;
        let mut hiteof = true;
        while pos < data.len() {
            let Some(end) = data[pos..].iter().position(|&b| b == 0) else {
                break;
            };
            match data[pos] {
                b'T' => records.push_back((pos as u64, data[pos + 1..pos + end].to_vec())),
                b'D' => {}
                _ => {
                    let l = log::warning(&format!("unknown record type in {fname}!"));
                    self.log(&l);
                    hiteof = false;
                    break;
                }
            }
            pos += end + 1;
        }
        self.jobs[j] = Some(Job {
            id,
            chan: c,
            sender,
            retry: next_retry(birth, t, c),
            dying: t > birth + self.cfg.lifetime,
            refs: 1,
            numtodo: 0,
            hiteof,
            records,
        });
        self.pass[c] = Some(j);
        true
    }

    /// Start deliveries from the open pass on channel `c`.
    fn run_pass(&mut self, c: usize) -> bool {
        let Some(j) = self.pass[c] else { return false };
        let mut progressed = false;
        loop {
            let Some(slot) = self.slots[c].iter().position(Option::is_none) else {
                return progressed;
            };
            let Some(job) = self.jobs[j].as_mut() else {
                return progressed;
            };
            let Some((mpos, recip)) = job.records.pop_front() else {
                self.pass[c] = None;
                self.job_close(j);
                return true;
            };
            job.refs += 1;
            job.numtodo += 1;
            let id = job.id;
            let sender = rewrite::verp(&job.sender, &recip);
            let mut cmd = vec![slot as u8];
            cmd.extend_from_slice(format!("{}/{id}", id % self.q.split).as_bytes());
            cmd.push(0);
            cmd.extend_from_slice(&sender);
            cmd.push(0);
            cmd.extend_from_slice(&recip);
            cmd.push(0);
            self.delid += 1;
            let delid = self.delid;
            let l = log::starting(delid, id, c, &recip);
            self.log(&l);
            if self.io.cmd[c].write_all(&cmd).is_err() {
                self.lost_spawn();
            }
            self.slots[c][slot] = Some(Slot {
                job: j,
                mpos,
                recip,
                delid,
            });
            self.used[c] += 1;
            self.log_status();
            progressed = true;
        }
    }

    fn lost_spawn(&mut self) {
        if !self.lost {
            let l = log::alert("oh no! lost spawn connection! dying...");
            self.log(&l);
        }
        self.lost = true;
        self.exitasap = true;
    }

    fn job_close(&mut self, j: usize) {
        let Some(job) = self.jobs[j].as_mut() else {
            return;
        };
        job.refs -= 1;
        if job.refs > 0 {
            return;
        }
        let Some(job) = self.jobs[j].take() else {
            return;
        };
        let (c, id) = (job.chan, job.id);
        let mut dt = job.retry;
        if job.hiteof && job.numtodo == 0 {
            match std::fs::remove_file(self.chan_path(c, id)) {
                Err(_) => {
                    let l = log::warning(&format!(
                        "unable to unlink {}; will try again later",
                        self.name(log::CHANNEL[c], id)
                    ));
                    self.log(&l);
                    dt = now() + SLEEP_SYSFAIL;
                }
                Ok(()) => {
                    let other = 1 - c;
                    match std::fs::metadata(self.chan_path(other, id)) {
                        Ok(_) => return,
                        Err(e) if e.kind() != io::ErrorKind::NotFound => {
                            let l = log::warning(&format!(
                                "unable to stat {}",
                                self.name(log::CHANNEL[other], id)
                            ));
                            self.log(&l);
                        }
                        Err(_) => {}
                    }
                    self.done.push(Reverse((now(), id)));
                    return;
                }
            }
        }
        self.pq[c].push(Reverse((dt, id)));
    }

    fn mark_done(&mut self, c: usize, id: u64, mpos: u64) {
        let r = OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(self.chan_path(c, id))
            .and_then(|mut f| {
                f.seek(SeekFrom::Start(mpos))?;
                f.write_all(b"D")
            });
        if r.is_err() {
            let l = log::warning(&format!(
                "trouble marking {}; message will be delivered twice!",
                self.name(log::CHANNEL[c], id)
            ));
            self.log(&l);
        }
    }

    /// Handle complete reports buffered for channel `c`.
    fn reports(&mut self, c: usize) {
        loop {
            let buf = &self.rbuf[c];
            if buf.len() < 2 {
                return;
            }
            let Some(end) = buf[1..].iter().position(|&b| b == 0) else {
                return;
            };
            let rep: Vec<u8> = buf[..1 + end].to_vec();
            self.rbuf[c].drain(..1 + end + 1);
            self.report(c, &rep);
        }
    }

    fn report(&mut self, c: usize, rep: &[u8]) {
        let delnum = rep[0] as usize;
        let Some(slot) = self.slots[c].get_mut(delnum).and_then(Option::take) else {
            let l = log::warning("internal error: delivery report out of range");
            self.log(&l);
            return;
        };
        let mut rep = rep[1..].to_vec();
        rep.truncate(REPORT_MAX);
        let dying = self.jobs[slot.job].as_ref().is_some_and(|j| j.dying);
        if rep.first() == Some(&b'Z') && dying {
            rep[0] = b'D';
            rep.extend_from_slice(
                b"I'm not going to try again; this message has been in the queue too long.\n",
            );
        }
        let id = self.jobs[slot.job].as_ref().map_or(0, |j| j.id);
        let text = rep.get(1..).unwrap_or_default().to_vec();
        match rep.first() {
            Some(b'K') => {
                let l = log::delivery(slot.delid, Outcome::Success, &text);
                self.log(&l);
                self.mark_done(c, id, slot.mpos);
                if let Some(j) = self.jobs[slot.job].as_mut() {
                    j.numtodo -= 1;
                }
            }
            Some(b'Z') => {
                let l = log::delivery(slot.delid, Outcome::Deferral, &text);
                self.log(&l);
            }
            Some(b'D') => {
                let l = log::delivery(slot.delid, Outcome::Failure, &text);
                self.log(&l);
                self.add_bounce(id, &slot.recip, &text);
                self.mark_done(c, id, slot.mpos);
                if let Some(j) = self.jobs[slot.job].as_mut() {
                    j.numtodo -= 1;
                }
            }
            _ => {
                let l = log::mangled(slot.delid);
                self.log(&l);
            }
        }
        self.job_close(slot.job);
        self.used[c] -= 1;
        self.log_status();
    }

    /// ALRM: everything scheduled becomes due.
    pub fn retry_all(&mut self) {
        let t = now();
        for c in 0..2 {
            let items: Vec<_> = self.pq[c].drain().map(|Reverse((_, id))| id).collect();
            for id in items {
                self.pq[c].push(Reverse((t, id)));
            }
        }
    }

    /// At exit: store every schedule as the channel file's mtime.
    fn save_schedule(&mut self) {
        for c in 0..2 {
            let items: Vec<_> = self.pq[c].drain().map(|Reverse(x)| x).collect();
            for (dt, id) in items {
                let p = self.chan_path(c, id);
                let t = nix::sys::time::TimeSpec::new(dt, 0);
                if nix::sys::stat::utimensat(
                    None,
                    &p,
                    &t,
                    &t,
                    nix::sys::stat::UtimensatFlags::FollowSymlink,
                )
                .is_err()
                {
                    let l = log::warning(&format!(
                        "unable to utime {}; message will be retried too soon",
                        self.name(log::CHANNEL[c], id)
                    ));
                    self.log(&l);
                }
            }
        }
    }

    /// Read whatever is available from the report pipe of `c`.
    fn read_reports(&mut self, c: usize) {
        let mut buf = [0u8; 4096];
        match self.io.report[c].read(&mut buf) {
            Ok(0) => self.lost_spawn(),
            Ok(n) => {
                self.rbuf[c].extend_from_slice(&buf[..n]);
                self.reports(c);
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => self.lost_spawn(),
        }
    }

    /// One round of work; true if something happened.
    fn step(&mut self, trigger: &mut Trigger) -> bool {
        let mut busy = false;
        let t = now();
        if !self.exitasap {
            for c in 0..2 {
                busy |= self.run_pass(c);
                if self.pass[c].is_none() && self.open_pass(c) {
                    busy = true;
                    busy |= self.run_pass(c);
                }
            }
        }
        while let Some(&Reverse((dt, id))) = self.done.peek() {
            if dt > t {
                break;
            }
            self.done.pop();
            self.mess_done(id);
            busy = true;
        }
        if !self.exitasap {
            if t >= self.next_cleanup {
                self.cleanup();
            }
            if t >= self.next_todo {
                // Reopened before the scan (trigger_set), so a pull after
                // the scan's readdir lands in the new descriptor.
                trigger.reset();
                self.scan_todo();
            }
            if !self.todo_list.is_empty() {
                self.do_todo();
                busy = true;
            }
        }
        busy
    }

    fn wake_at(&self) -> i64 {
        let t = now();
        let mut w = t + SLEEP_FOREVER;
        for c in 0..2 {
            if let Some(&Reverse((dt, _))) = self.pq[c].peek() {
                if dt > t {
                    w = w.min(dt);
                }
            }
        }
        if let Some(&Reverse((dt, _))) = self.done.peek() {
            w = w.min(dt.max(t));
        }
        if !self.exitasap {
            w = w.min(self.next_todo).min(self.next_cleanup);
        }
        w
    }

    /// The outstanding deliveries.
    pub fn outstanding(&self) -> usize {
        self.used[0] + self.used[1]
    }

    /// Run until TERM (or a lost pipe) once no delivery is outstanding.
    pub fn run(&mut self, trigger: &mut Trigger, signals: &mut dyn FnMut() -> Vec<Signal>) {
        self.log_status();
        self.scan_info();
        loop {
            for s in signals() {
                match s {
                    Signal::Term => {
                        if !self.exitasap {
                            self.exitasap = true;
                        }
                    }
                    Signal::Alrm => self.retry_all(),
                    Signal::Hup => self.reread(),
                }
            }
            if self.exitasap && self.outstanding() == 0 {
                for c in 0..2 {
                    if let Some(j) = self.pass[c].take() {
                        self.job_close(j);
                    }
                }
                self.save_schedule();
                let l = log::exiting();
                self.log(&l);
                return;
            }
            let busy = self.step(trigger);
            let timeout = if busy {
                0
            } else {
                ((self.wake_at() - now()).max(0) * 1000 + 1000).min(i32::MAX as i64) as i32
            };
            self.wait(trigger, timeout);
        }
    }

    fn wait(&mut self, trigger: &mut Trigger, timeout_ms: i32) {
        use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
        // While exiting, new mail is not preprocessed: the trigger is not
        // watched (netqmail's todo_selprep returns early).
        let watch = if self.exitasap { None } else { trigger.fd() };
        let (fired, r0, r1) = {
            let mut fds = vec![
                PollFd::new(self.io.report[0].as_fd(), PollFlags::POLLIN),
                PollFd::new(self.io.report[1].as_fd(), PollFlags::POLLIN),
            ];
            if let Some(s) = trigger.signal_fd.as_ref() {
                fds.push(PollFd::new(s.as_fd(), PollFlags::POLLIN));
            }
            let at = fds.len();
            if let Some(fd) = watch {
                fds.push(PollFd::new(fd, PollFlags::POLLIN));
            }
            let t = PollTimeout::try_from(timeout_ms).unwrap_or(PollTimeout::MAX);
            if poll(&mut fds, t).is_err() {
                return;
            }
            let ready = |i: usize| {
                fds.get(i)
                    .and_then(|f| f.revents())
                    .is_some_and(|r| !r.is_empty())
            };
            (ready(at), ready(0), ready(1))
        };
        if r0 {
            self.read_reports(0);
        }
        if r1 {
            self.read_reports(1);
        }
        if fired {
            trigger.drain();
            self.next_todo = now();
        }
    }

    /// HUP: reread locals and virtualdomains.
    fn reread(&mut self) {
        let ctl = crate::control::Control::at(self.cfg.qmail_home.join("control"));
        let Ok(ctl) = ctl else {
            let l = log::alert("unable to reread controls: unable to switch to home directory");
            self.log(&l);
            return;
        };
        match ctl.map(&crate::control::files::LOCALS) {
            Ok(m) => self.cfg.rules.locals = m.unwrap_or_default(),
            Err(_) => {
                let l = log::alert("unable to reread control/locals");
                self.log(&l);
                return;
            }
        }
        match ctl.map(&crate::control::files::VIRTUALDOMAINS) {
            Ok(m) => self.cfg.rules.virtualdomains = m.unwrap_or_default(),
            Err(_) => {
                let l = log::alert("unable to reread control/virtualdomains");
                self.log(&l);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_schedule() {
        // local: ages 0, 100, 400, 900 ...
        assert_eq!(next_retry(1000, 1000, 0), 1100);
        assert_eq!(next_retry(1000, 1100, 0), 1000 + 400);
        assert_eq!(next_retry(1000, 1400, 0), 1000 + 900);
        assert_eq!(next_retry(1000, 1000, 1), 1400);
        assert_eq!(next_retry(1000, 1400, 1), 1000 + 1600);
        assert_eq!(next_retry(1000, 1399, 1), 1000 + 39 * 39);
        assert_eq!(next_retry(5000, 1000, 0), 5100);
    }
}
