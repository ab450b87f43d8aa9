//! The connect-timeout table `queue/lock/tcpto` (`remote.md` §6).
//!
//! ```text
//! table  = *64record            ; 1024 bytes when full; a short file holds fewer
//! record = ip4 count 3*NUL when 4*NUL
//!   ip4   = 4 bytes, network order
//!   count = 1 byte, recent timeouts (0 = free slot, max 10)
//!   when  = 4 bytes, little-endian unix seconds of the last timeout
//! ```
//!
//! [`Table`] is the format and its decisions (no clock, no file: the caller
//! passes `now` and the pid). [`TcptoFile`] is the mechanism of `tcpto.c`:
//! lock the file through a write descriptor, read it through another,
//! write back the one changed record. Failures to open, lock or read mean
//! "no information", as in the original.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::net::Ipv4Addr;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use nix::fcntl::{Flock, FlockArg};

/// Size of one record.
pub const RECORD: usize = 16;
/// Size of a full table (`tcpto_buf`).
pub const SIZE: usize = 1024;
/// Highest count kept.
pub const MAX_COUNT: u8 = 10;

/// One record as read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Record {
    pub ip: Ipv4Addr,
    pub count: u8,
    pub when: u32,
}

/// The table's bytes: only whole records count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    bytes: Vec<u8>,
}

fn when_of(r: &[u8]) -> u32 {
    u32::from_le_bytes([r[8], r[9], r[10], r[11]])
}

impl Table {
    /// Parse what `read(fd, buf, 1024)` returned: `len >> 4` records.
    pub fn parse(bytes: &[u8]) -> Self {
        let n = bytes.len().min(SIZE) / RECORD;
        Table {
            bytes: bytes[..n * RECORD].to_vec(),
        }
    }

    /// An all-zero full table (qmail-rspawn at start, qmail-tcpok).
    pub fn empty() -> Self {
        Table {
            bytes: vec![0; SIZE],
        }
    }

    /// The bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Number of records.
    pub fn len(&self) -> usize {
        self.bytes.len() / RECORD
    }

    /// True when there is no record at all.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// Record `i`.
    pub fn record(&self, i: usize) -> Record {
        let r = &self.bytes[i * RECORD..(i + 1) * RECORD];
        Record {
            ip: Ipv4Addr::new(r[0], r[1], r[2], r[3]),
            count: r[4],
            when: when_of(r),
        }
    }

    /// Records with a count ≥ 1, as qmail-tcpto lists them.
    pub fn active(&self) -> impl Iterator<Item = Record> + '_ {
        (0..self.len())
            .map(|i| self.record(i))
            .filter(|r| r.count >= 1)
    }

    fn find(&self, ip: Ipv4Addr) -> Option<usize> {
        let o = ip.octets();
        (0..self.len()).find(|&i| self.bytes[i * RECORD..i * RECORD + 4] == o)
    }

    /// The skip check: `(skip, was_there)`. An address is skipped when its
    /// record has count ≥ 2 and `now - when < (60 + (pid & 31)) * 64`.
    pub fn check(&self, ip: Ipv4Addr, now: u64, pid: u32) -> (bool, bool) {
        let Some(i) = self.find(ip) else {
            return (false, false);
        };
        let r = self.record(i);
        let window = u64::from(60 + (pid & 31)) << 6;
        let skip = r.count >= 2 && now.wrapping_sub(u64::from(r.when)) < window;
        (skip, true)
    }

    /// A successful connect: the address's record, if any, gets count 0.
    /// Returns the index of the record to write back.
    pub fn success(&mut self, ip: Ipv4Addr) -> Option<usize> {
        let i = self.find(ip)?;
        self.bytes[i * RECORD + 4] = 0;
        Some(i)
    }

    /// A connect timeout at `now`. Returns the index of the record to
    /// write back (none when nothing changed).
    pub fn timeout(&mut self, ip: Ipv4Addr, now: u64) -> Option<usize> {
        let stamp = (now as u32).to_le_bytes();
        if let Some(i) = self.find(ip) {
            let r = &mut self.bytes[i * RECORD..(i + 1) * RECORD];
            if r[4] != 0 && now < 120 + u64::from(when_of(r)) {
                return None;
            }
            r[4] = (r[4] + 1).min(MAX_COUNT);
            r[8..12].copy_from_slice(&stamp);
            return Some(i);
        }
        let n = self.len();
        if n == 0 {
            return None;
        }
        let free = (0..n).find(|&i| self.bytes[i * RECORD + 4] == 0);
        let i = free.unwrap_or_else(|| {
            (0..n)
                .min_by_key(|&i| {
                    let r = &self.bytes[i * RECORD..(i + 1) * RECORD];
                    u64::from(when_of(r)) + (u64::from(r[4]) << 10)
                })
                .unwrap_or(0)
        });
        let r = &mut self.bytes[i * RECORD..(i + 1) * RECORD];
        r[..4].copy_from_slice(&ip.octets());
        r[8..12].copy_from_slice(&stamp);
        r[4] = 1;
        Some(i)
    }

    /// The bytes of record `i`.
    pub fn record_bytes(&self, i: usize) -> &[u8] {
        &self.bytes[i * RECORD..(i + 1) * RECORD]
    }
}

/// `queue/lock/tcpto` under a qmail root, as qmail-remote uses it.
#[derive(Debug)]
pub struct TcptoFile {
    path: PathBuf,
    was_there: bool,
}

/// The lock descriptor and the table read under it.
struct Locked {
    lock: Flock<File>,
    table: Table,
}

/// `open_write`: write-only, non-blocking, no create.
pub fn open_write(path: &Path) -> std::io::Result<File> {
    OpenOptions::new()
        .write(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
}

/// Take the exclusive lock (`lock_ex`, flock); released on drop.
pub fn lock_ex(file: File) -> std::io::Result<Flock<File>> {
    Flock::lock(file, FlockArg::LockExclusive).map_err(|(_, e)| std::io::Error::from(e))
}

impl TcptoFile {
    /// The table of the qmail root `home`.
    pub fn at(home: &Path) -> Self {
        TcptoFile {
            path: home.join("queue/lock/tcpto"),
            was_there: false,
        }
    }

    fn load(&self) -> Option<Locked> {
        let lock = open_write(&self.path).ok()?;
        let mut read = File::open(&self.path).ok()?;
        let lock = lock_ex(lock).ok()?;
        let mut buf = vec![0u8; SIZE];
        let mut got = 0;
        // One read(2) in the original; loop over short reads of a regular file.
        while got < SIZE {
            match read.read(&mut buf[got..]) {
                Ok(0) => break,
                Ok(n) => got += n,
                Err(_) => return None,
            }
        }
        let table = Table::parse(&buf[..got]);
        if table.is_empty() {
            return None;
        }
        Some(Locked { lock, table })
    }

    /// `tcpto(ip)`: true when the address should be skipped.
    pub fn skip(&mut self, ip: Ipv4Addr, now: u64, pid: u32) -> bool {
        self.was_there = false;
        let Some(l) = self.load() else { return false };
        let (skip, there) = l.table.check(ip, now, pid);
        self.was_there = there;
        skip
    }

    /// `tcpto_err(ip, timed_out)`: record a connect result.
    pub fn record(&mut self, ip: Ipv4Addr, timed_out: bool, now: u64) {
        if !timed_out && !self.was_there {
            return;
        }
        let Some(mut l) = self.load() else { return };
        let changed = if timed_out {
            l.table.timeout(ip, now)
        } else {
            l.table.success(ip)
        };
        if let Some(i) = changed {
            if l.lock.seek(SeekFrom::Start((i * RECORD) as u64)).is_ok() {
                let _ = l.lock.write_all(l.table.record_bytes(i));
            }
        }
    }
}

/// Overwrite the table with 1024 NUL bytes under the lock (qmail-tcpok,
/// qmail-rspawn). Errors are `(step, error)`: `"write"`, `"lock"`, `"clear"`.
pub fn clear(path: &Path) -> Result<(), (&'static str, std::io::Error)> {
    let f = open_write(path).map_err(|e| ("write", e))?;
    let mut f = lock_ex(f).map_err(|e| ("lock", e))?;
    f.write_all(Table::empty().bytes())
        .map_err(|e| ("clear", e))
}

/// One line of qmail-tcpto's listing.
pub fn format_line(r: &Record, now: u64) -> String {
    format!(
        "{} timed out {} seconds ago; # recent timeouts: {}\n",
        r.ip,
        now.wrapping_sub(u64::from(r.when)),
        r.count
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
    const B: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);

    #[test]
    fn timeouts_count_and_skip() {
        let mut t = Table::empty();
        assert_eq!(t.check(A, 1000, 0), (false, false));
        assert_eq!(t.timeout(A, 1000), Some(0));
        assert_eq!(
            t.record(0),
            Record {
                ip: A,
                count: 1,
                when: 1000
            }
        );
        // Within 120 s of the last one: nothing changes.
        assert_eq!(t.timeout(A, 1100), None);
        assert_eq!(t.check(A, 1100, 0), (false, true));
        assert_eq!(t.timeout(A, 1120), Some(0));
        assert_eq!(t.record(0).count, 2);
        // Skipped for (60 + (pid & 31)) * 64 seconds.
        assert_eq!(t.check(A, 1120 + 60 * 64 - 1, 0), (true, true));
        assert_eq!(t.check(A, 1120 + 60 * 64, 0), (false, true));
        assert_eq!(t.check(A, 1120 + 60 * 64, 31), (true, true));
        assert_eq!(t.success(A), Some(0));
        assert_eq!(t.record(0).count, 0);
        assert_eq!(t.success(B), None);
        // Recorded bytes: ip, count, 3 zero, little-endian time, 4 zero.
        t.timeout(B, 0x0102_0304);
        assert_eq!(
            t.record_bytes(0),
            &[10, 0, 0, 2, 1, 0, 0, 0, 4, 3, 2, 1, 0, 0, 0, 0]
        );
    }

    #[test]
    fn count_caps_at_ten_and_full_table_replaces_oldest() {
        let mut t = Table::empty();
        for k in 0..20u64 {
            t.timeout(A, 1000 + k * 200);
        }
        assert_eq!(t.record(0).count, 10);
        for i in 1..64u8 {
            t.timeout(Ipv4Addr::new(10, 1, 0, i), 5000 + u64::from(i));
        }
        // Full: the smallest when + count*1024 is 10.1.0.1 (5001 + 1024).
        t.timeout(B, 9000);
        assert_eq!(t.record(1).ip, B);
        assert_eq!(t.active().count(), 64);
    }

    #[test]
    fn short_files_hold_fewer_records() {
        assert_eq!(Table::parse(&[0; 40]).len(), 2);
        let mut t = Table::parse(&[]);
        assert_eq!(t.timeout(A, 1), None);
        assert_eq!(
            format_line(
                &Record {
                    ip: A,
                    count: 3,
                    when: 100
                },
                150
            ),
            "10.0.0.1 timed out 50 seconds ago; # recent timeouts: 3\n"
        );
    }
}
