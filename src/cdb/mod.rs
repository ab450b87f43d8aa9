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
//! Two readers share one lookup walk: [`Reader`] over bytes in memory
//! (tables read once and kept, tests), and [`FileReader`], which keeps
//! only the header and reads the rest from the open file at each lookup,
//! as qmail's `cdb_seek` does: for the tables opened per connection
//! (validrcptto.cdb, morercpthosts.cdb, tcp.smtp.cdb), which on a big
//! host run to megabytes. Both validate every offset they follow, so a
//! truncated or corrupt file yields [`CdbError`], never a panic or an
//! out-of-bounds read. [`Writer`] builds the exact bytes `cdbmake` and
//! tinycdb's `cdb -c` produce for the same records in the same order.

pub mod make;

use std::borrow::Cow;
use std::fmt;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;

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
    /// Reading the file failed.
    Read(std::io::ErrorKind),
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
            CdbError::Read(kind) => write!(f, "cdb read failed: {kind}"),
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

/// Where a lookup reads from: bytes in memory, or the file itself.
trait Source {
    /// `len` bytes at `pos`; `what` names them in the error.
    fn bytes_at(&self, pos: u64, len: u32, what: &'static str) -> Result<Cow<'_, [u8]>, CdbError>;

    /// Two little-endian u32 at `pos` (a slot, a record header), in one
    /// read.
    fn pair_at(&self, pos: u64, what: &'static str) -> Result<(u32, u32), CdbError> {
        let b = self.bytes_at(pos, 8, what)?;
        Ok((
            u32::from_le_bytes([b[0], b[1], b[2], b[3]]),
            u32::from_le_bytes([b[4], b[5], b[6], b[7]]),
        ))
    }
}

impl Source for [u8] {
    fn bytes_at(&self, pos: u64, len: u32, what: &'static str) -> Result<Cow<'_, [u8]>, CdbError> {
        slice_at(self, pos, len, what).map(Cow::Borrowed)
    }
}

/// One key's walk through its hash table: `cdb_find`, then each step a
/// `cdb_findnext`.
struct Probe {
    hash: u32,
    tpos: u64,
    tlen: u64,
    slot: u64,
    probes: u64,
}

impl Probe {
    /// Start at the table the 2048-byte `header` names for `hash`.
    fn start(header: &[u8], hash: u32) -> Probe {
        let slot_ptr = u64::from(hash & 255) * 8;
        // Header reads cannot fail: the header is known to be complete.
        let tpos = u32_at(header, slot_ptr, "table pointer").unwrap_or(0);
        let tlen = u32_at(header, slot_ptr + 4, "table length").unwrap_or(0);
        Probe {
            hash,
            tpos: u64::from(tpos),
            tlen: u64::from(tlen),
            slot: if tlen == 0 {
                0
            } else {
                u64::from(hash >> 8) % u64::from(tlen)
            },
            probes: 0,
        }
    }

    /// The next record stored under `key`: where its data starts, and its
    /// length. `None` once an empty slot or the whole table is passed.
    fn next(
        &mut self,
        src: &(impl Source + ?Sized),
        key: &[u8],
    ) -> Result<Option<(u64, u32)>, CdbError> {
        while self.probes < self.tlen {
            let at = self.tpos + self.slot * 8;
            let (h, rpos) = src.pair_at(at, "hash slot")?;
            let rpos = u64::from(rpos);
            self.probes += 1;
            self.slot = (self.slot + 1) % self.tlen;
            if rpos == 0 {
                break;
            }
            if h != self.hash {
                continue;
            }
            let (klen, dlen) = src.pair_at(rpos, "record")?;
            if klen as usize != key.len() {
                continue;
            }
            if *src.bytes_at(rpos + 8, klen, "key")? == *key {
                return Ok(Some((rpos + 8 + u64::from(klen), dlen)));
            }
        }
        self.probes = self.tlen;
        Ok(None)
    }
}

/// A key lookup, from memory or from the file: what the tables built on
/// cdb ask of it.
pub trait Lookup {
    /// The first value stored under `key` (`cdb_find`).
    fn lookup(&self, key: &[u8]) -> Result<Option<Cow<'_, [u8]>>, CdbError>;
}

impl<D: AsRef<[u8]>> Lookup for Reader<D> {
    fn lookup(&self, key: &[u8]) -> Result<Option<Cow<'_, [u8]>>, CdbError> {
        Ok(self.get(key)?.map(Cow::Borrowed))
    }
}

/// A cdb read from its open file at each lookup (`cdb_seek`): only the
/// header is held, unless the file is small enough that one read of all
/// of it costs less than the reads of a lookup. The file keeps the inode
/// it was opened on, so a table replaced by rename (`tcprules`,
/// `qmail-newmrh`, a cron job) is seen by the next open, never half by one
/// reader.
pub struct FileReader {
    file: File,
    len: u64,
    /// The header, or the whole file when it is at most [`WHOLE`] bytes.
    held: Vec<u8>,
    hash: Hash,
}

impl fmt::Debug for FileReader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FileReader")
            .field("len", &self.len)
            .field("whole", &(self.held.len() as u64 == self.len))
            .field("hash", &self.hash)
            .finish()
    }
}

/// Files up to this size are read whole at open.
const WHOLE: u64 = 16 * 1024;

impl FileReader {
    /// Open a standard cdb: the I/O error of opening (absent, unreadable)
    /// outside, what is wrong with the file inside.
    pub fn open(path: &Path) -> std::io::Result<Result<Self, CdbError>> {
        Ok(Self::from_file(File::open(path)?, Hash::Standard))
    }

    /// Use an open cdb file built with `hash`.
    pub fn from_file(file: File, hash: Hash) -> Result<Self, CdbError> {
        Self::holding(file, hash, WHOLE)
    }

    /// [`FileReader::from_file`], reading the file whole if it is at most
    /// `whole` bytes.
    fn holding(file: File, hash: Hash, whole: u64) -> Result<Self, CdbError> {
        let len = file.metadata().map_err(|e| CdbError::Read(e.kind()))?.len();
        let mut r = FileReader {
            file,
            len,
            held: Vec::new(),
            hash,
        };
        if len < HEADER as u64 {
            return Err(CdbError::TruncatedHeader(len as usize));
        }
        let first = if len <= whole {
            len as u32
        } else {
            HEADER as u32
        };
        r.held = r.bytes_at(0, first, "header")?.into_owned();
        Ok(r)
    }

    /// The first value stored under `key` (`cdb_find`).
    pub fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, CdbError> {
        let mut probe = Probe::start(&self.held, self.hash.of(key));
        match probe.next(self, key)? {
            Some((pos, len)) => Ok(Some(self.bytes_at(pos, len, "data")?.into_owned())),
            None => Ok(None),
        }
    }

    /// True when `key` is present.
    pub fn contains(&self, key: &[u8]) -> Result<bool, CdbError> {
        let mut probe = Probe::start(&self.held, self.hash.of(key));
        Ok(probe.next(self, key)?.is_some())
    }
}

impl Source for FileReader {
    fn bytes_at(&self, pos: u64, len: u32, what: &'static str) -> Result<Cow<'_, [u8]>, CdbError> {
        let end = pos.checked_add(u64::from(len));
        if end.is_none_or(|e| e > self.len) {
            return Err(CdbError::OutOfBounds(what, pos));
        }
        if self.held.len() as u64 == self.len {
            return self.held.bytes_at(pos, len, what);
        }
        let mut buf = vec![0; len as usize];
        match self.file.read_exact_at(&mut buf, pos) {
            Ok(()) => Ok(Cow::Owned(buf)),
            // Truncated since it was opened.
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                Err(CdbError::OutOfBounds(what, pos))
            }
            Err(e) => Err(CdbError::Read(e.kind())),
        }
    }
}

impl Lookup for FileReader {
    fn lookup(&self, key: &[u8]) -> Result<Option<Cow<'_, [u8]>>, CdbError> {
        Ok(self.get(key)?.map(Cow::Owned))
    }
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
        let data = self.data.as_ref();
        Find {
            data,
            key,
            probe: Probe::start(data, self.hash.of(key)),
            done: false,
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
    probe: Probe,
    done: bool,
}

impl<'a> Find<'a, '_> {
    fn step(&mut self) -> Result<Option<&'a [u8]>, CdbError> {
        match self.probe.next(self.data, self.key)? {
            Some((pos, len)) => slice_at(self.data, pos, len, "data").map(Some),
            None => {
                self.done = true;
                Ok(None)
            }
        }
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
