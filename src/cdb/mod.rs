//! cdb, D. J. Bernstein's constant database (`shared/spec/qmail/cdb.md`).
//!
//! ```text
//! file    = header records tables
//! header  = 256 * (pos:u32le len:u32le)        ; 2048 bytes
//! record  = klen:u32le dlen:u32le key data
//! table_i = len_i * (hash:u32le recpos:u32le)  ; 0 recpos = empty slot
//! ```
//!
//! Used for users/cdb, morercpthosts.cdb, validrcptto.cdb, tcprules'
//! rules.cdb and vmailmgr's passwd.cdb. The last uses a variant hash that
//! sign-extends key bytes >= 0x80 (`shared/spec/vmailmgr/passwd-cdb.md` §2):
//! [`Hash::SignExtend`].
//!
//! This module is a pure codec over bytes: [`Reader`] validates every
//! offset it follows, so a truncated or corrupt file yields
//! [`CdbError`], never a panic or an out-of-bounds read; [`Writer`] builds
//! the exact bytes `cdbmake` and tinycdb's `cdb -c` produce for the same
//! records in the same order. Files are read whole into memory: the
//! databases qmail uses are small and this keeps the module free of I/O.

pub mod make;

use std::fmt;

/// Which hash function a database was built with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hash {
    /// DJB's: key bytes taken unsigned.
    Standard,
    /// vmailmgr's `cdb++`: key bytes taken as signed `char`.
    SignExtend,
}

impl Hash {
    /// `h = ((h << 5) + h) ^ c`, starting at 5381.
    pub fn of(self, key: &[u8]) -> u32 {
        key.iter().fold(5381u32, |h, &b| {
            let c = match self {
                Hash::Standard => u32::from(b),
                Hash::SignExtend => i32::from(b as i8) as u32,
            };
            (h << 5).wrapping_add(h) ^ c
        })
    }
}

/// What is wrong with a cdb file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CdbError {
    /// Shorter than the 2048-byte header.
    TruncatedHeader(usize),
    /// A pointer or length leads outside the file.
    OutOfBounds(&'static str, u64),
    /// The database would not fit the 32-bit offsets.
    TooLarge,
}

impl fmt::Display for CdbError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CdbError::TruncatedHeader(n) => {
                write!(f, "truncated cdb: {n} bytes, header needs 2048")
            }
            CdbError::OutOfBounds(what, at) => {
                write!(
                    f,
                    "corrupt cdb: {what} at offset {at} lies outside the file"
                )
            }
            CdbError::TooLarge => write!(f, "cdb would exceed 4 GiB"),
        }
    }
}

impl std::error::Error for CdbError {}

const HEADER: usize = 2048;

fn u32_at(data: &[u8], pos: u64, what: &'static str) -> Result<u32, CdbError> {
    let p = usize::try_from(pos).map_err(|_| CdbError::OutOfBounds(what, pos))?;
    data.get(p..p.wrapping_add(4))
        .filter(|_| p.checked_add(4).is_some())
        .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .ok_or(CdbError::OutOfBounds(what, pos))
}

fn slice_at<'a>(
    data: &'a [u8],
    pos: u64,
    len: u32,
    what: &'static str,
) -> Result<&'a [u8], CdbError> {
    let start = usize::try_from(pos).map_err(|_| CdbError::OutOfBounds(what, pos))?;
    let end = start
        .checked_add(len as usize)
        .ok_or(CdbError::OutOfBounds(what, pos))?;
    data.get(start..end).ok_or(CdbError::OutOfBounds(what, pos))
}

/// A cdb held in memory.
#[derive(Clone)]
pub struct Reader<D: AsRef<[u8]> = Vec<u8>> {
    data: D,
    hash: Hash,
}

impl<D: AsRef<[u8]>> fmt::Debug for Reader<D> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reader")
            .field("len", &self.data.as_ref().len())
            .field("hash", &self.hash)
            .finish()
    }
}

impl<D: AsRef<[u8]>> Reader<D> {
    /// Wrap the bytes of a standard cdb.
    pub fn new(data: D) -> Result<Self, CdbError> {
        Self::with_hash(data, Hash::Standard)
    }

    /// Wrap the bytes of a cdb built with `hash`.
    pub fn with_hash(data: D, hash: Hash) -> Result<Self, CdbError> {
        let n = data.as_ref().len();
        if n < HEADER {
            return Err(CdbError::TruncatedHeader(n));
        }
        Ok(Reader { data, hash })
    }

    /// The hash this reader looks keys up with.
    pub fn hash(&self) -> Hash {
        self.hash
    }

    /// The first value stored under `key` (`cdb_find`).
    pub fn get(&self, key: &[u8]) -> Result<Option<&[u8]>, CdbError> {
        self.find(key).next().transpose()
    }

    /// True when `key` is present.
    pub fn contains(&self, key: &[u8]) -> Result<bool, CdbError> {
        Ok(self.get(key)?.is_some())
    }

    /// Every value stored under `key`, in insertion order
    /// (`cdb_find` then `cdb_findnext`).
    pub fn find<'a, 'k>(&'a self, key: &'k [u8]) -> Find<'a, 'k> {
        let h = self.hash.of(key);
        let data = self.data.as_ref();
        let slot_ptr = u64::from(h & 255) * 8;
        // Header reads cannot fail: the header is known to be complete.
        let tpos = u32_at(data, slot_ptr, "table pointer").unwrap_or(0);
        let tlen = u32_at(data, slot_ptr + 4, "table length").unwrap_or(0);
        Find {
            data,
            key,
            hash: h,
            tpos: u64::from(tpos),
            tlen: u64::from(tlen),
            slot: if tlen == 0 {
                0
            } else {
                u64::from(h >> 8) % u64::from(tlen)
            },
            probes: 0,
            done: tlen == 0,
        }
    }

    /// Every record in file order, as `cdbdump` walks them.
    pub fn iter(&self) -> Records<'_> {
        let data = self.data.as_ref();
        // The first table starts where the records end.
        let end = u32_at(data, 0, "table pointer").unwrap_or(HEADER as u32);
        Records {
            data,
            pos: HEADER as u64,
            end: u64::from(end),
            failed: false,
        }
    }
}

impl Reader<Vec<u8>> {
    /// Read a whole cdb file.
    pub fn open(path: &std::path::Path) -> std::io::Result<Result<Self, CdbError>> {
        Ok(Self::new(std::fs::read(path)?))
    }
}

/// The values of one key; see [`Reader::find`].
pub struct Find<'a, 'k> {
    data: &'a [u8],
    key: &'k [u8],
    hash: u32,
    tpos: u64,
    tlen: u64,
    slot: u64,
    probes: u64,
    done: bool,
}

impl<'a> Find<'a, '_> {
    fn step(&mut self) -> Result<Option<&'a [u8]>, CdbError> {
        while self.probes < self.tlen {
            let at = self.tpos + self.slot * 8;
            let h = u32_at(self.data, at, "hash slot")?;
            let rpos = u64::from(u32_at(self.data, at + 4, "hash slot")?);
            self.probes += 1;
            self.slot = (self.slot + 1) % self.tlen;
            if rpos == 0 {
                break;
            }
            if h != self.hash {
                continue;
            }
            let klen = u32_at(self.data, rpos, "record")?;
            let dlen = u32_at(self.data, rpos + 4, "record")?;
            if klen as usize != self.key.len() {
                continue;
            }
            if slice_at(self.data, rpos + 8, klen, "key")? == self.key {
                return slice_at(self.data, rpos + 8 + u64::from(klen), dlen, "data").map(Some);
            }
        }
        self.done = true;
        Ok(None)
    }
}

impl<'a> Iterator for Find<'a, '_> {
    type Item = Result<&'a [u8], CdbError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        match self.step() {
            Ok(Some(v)) => Some(Ok(v)),
            Ok(None) => None,
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

/// All records of a cdb in file order; see [`Reader::iter`].
pub struct Records<'a> {
    data: &'a [u8],
    pos: u64,
    end: u64,
    failed: bool,
}

impl<'a> Iterator for Records<'a> {
    type Item = Result<(&'a [u8], &'a [u8]), CdbError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.pos + 8 > self.end {
            return None;
        }
        let r = (|| {
            let klen = u32_at(self.data, self.pos, "record")?;
            let dlen = u32_at(self.data, self.pos + 4, "record")?;
            let key = slice_at(self.data, self.pos + 8, klen, "key")?;
            let val = slice_at(self.data, self.pos + 8 + u64::from(klen), dlen, "data")?;
            self.pos += 8 + u64::from(klen) + u64::from(dlen);
            Ok((key, val))
        })();
        if r.is_err() {
            self.failed = true;
        }
        Some(r)
    }
}

/// Builds a cdb in memory, byte-identical to `cdbmake` / `cdb -c`.
#[derive(Debug, Clone)]
pub struct Writer {
    hash: Hash,
    out: Vec<u8>,
    entries: Vec<(u32, u32)>,
}

impl Default for Writer {
    fn default() -> Self {
        Self::new()
    }
}

impl Writer {
    /// A writer using the standard hash.
    pub fn new() -> Self {
        Self::with_hash(Hash::Standard)
    }

    /// A writer using `hash` (vmailmgr's passwd.cdb: [`Hash::SignExtend`]).
    pub fn with_hash(hash: Hash) -> Self {
        Writer {
            hash,
            out: vec![0; HEADER],
            entries: Vec::new(),
        }
    }

    /// Append one record; duplicates are kept, in order.
    pub fn add(&mut self, key: &[u8], data: &[u8]) -> Result<(), CdbError> {
        let pos = u32::try_from(self.out.len()).map_err(|_| CdbError::TooLarge)?;
        let klen = u32::try_from(key.len()).map_err(|_| CdbError::TooLarge)?;
        let dlen = u32::try_from(data.len()).map_err(|_| CdbError::TooLarge)?;
        let end = (self.out.len() as u64) + 8 + u64::from(klen) + u64::from(dlen);
        if end > u64::from(u32::MAX) {
            return Err(CdbError::TooLarge);
        }
        self.out.extend_from_slice(&klen.to_le_bytes());
        self.out.extend_from_slice(&dlen.to_le_bytes());
        self.out.extend_from_slice(key);
        self.out.extend_from_slice(data);
        self.entries.push((self.hash.of(key), pos));
        Ok(())
    }

    /// Lay out the hash tables and header; returns the file's bytes.
    pub fn finish(mut self) -> Result<Vec<u8>, CdbError> {
        let mut buckets: Vec<Vec<(u32, u32)>> = vec![Vec::new(); 256];
        for &(h, p) in &self.entries {
            buckets[(h & 255) as usize].push((h, p));
        }
        let mut header = Vec::with_capacity(HEADER);
        for bucket in &buckets {
            let pos = u32::try_from(self.out.len()).map_err(|_| CdbError::TooLarge)?;
            let len = bucket.len() * 2;
            let mut table = vec![(0u32, 0u32); len];
            for &(h, p) in bucket {
                let mut slot = (h >> 8) as usize % len;
                while table[slot].1 != 0 {
                    slot = (slot + 1) % len;
                }
                table[slot] = (h, p);
            }
            if (self.out.len() as u64) + (len as u64) * 8 > u64::from(u32::MAX) {
                return Err(CdbError::TooLarge);
            }
            for (h, p) in table {
                self.out.extend_from_slice(&h.to_le_bytes());
                self.out.extend_from_slice(&p.to_le_bytes());
            }
            header.extend_from_slice(&pos.to_le_bytes());
            header.extend_from_slice(&(len as u32).to_le_bytes());
        }
        self.out[..HEADER].copy_from_slice(&header);
        Ok(self.out)
    }
}

/// Write `bytes` to `path` the way cdbmake does: into `tmp`, fsync, then
/// rename over `path`, so readers only ever see a complete file.
pub fn write_atomic(
    path: &std::path::Path,
    tmp: &std::path::Path,
    bytes: &[u8],
) -> std::io::Result<()> {
    use std::io::Write;
    let mut f = std::fs::File::create(tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    drop(f);
    std::fs::rename(tmp, path)
}

#[cfg(test)]
mod tests;
