//! Streaming a reader into sealed chunks.

use std::borrow::Cow;
use std::io::{ErrorKind, Read};

use fastcdc::v2020::{Normalization, cut_gear, get_gear_with_seed, select_masks};
use zeroize::Zeroize;

use crate::format::Sealer;
use crate::{ChunkError, ChunkerParams, SealedChunk, WorkspaceKeys};

/// The input buffer holds this many maximum-size chunks. The buffer is
/// compacted (its tail moved to the front) only when less than one maximum
/// chunk remains, so at most 1/3 of the input is copied once, and reads are
/// large.
const BUFFER_CHUNKS: usize = 4;

/// Streams a reader into sealed chunks, in constant memory.
///
/// An [`Iterator`] of [`SealedChunk`]s in file order: FastCDC v2020 cuts the
/// input with the workspace's gear seed, each chunk is named by its keyed
/// BLAKE3, compressed, and in encrypted workspaces encrypted. Alongside, it
/// keeps the keyed BLAKE3 of the whole input and its length, returned by
/// [`finish`](Self::finish).
///
/// Memory: an input buffer of 4 × `max` (4 MiB by default) plus the chunk
/// being sealed. CPU bound and synchronous: run it on a blocking thread and
/// hand chunks to the uploader through a bounded channel.
///
/// After an error the iterator ends (`None`); the error is the last item.
/// Invalid [`ChunkerParams`] are reported as the first item.
///
/// ```
/// use nimbus_chunks::{Chunker, ChunkerParams, WorkspaceKeys, content_hash, open_chunk};
///
/// let keys = WorkspaceKeys::plain(uuid::Uuid::from_u128(42));
/// let data = vec![7u8; 3_000_000];
/// let mut chunker = Chunker::new(&data[..], &keys, ChunkerParams::DEFAULT);
/// let mut rebuilt = Vec::new();
/// for chunk in chunker.by_ref() {
///     let chunk = chunk?;
///     rebuilt.extend(open_chunk(&keys, &chunk.id, &chunk.sealed)?);
/// }
/// let (hash, size) = chunker.finish();
/// assert_eq!((hash, size), (content_hash(&keys, &data), 3_000_000));
/// assert_eq!(rebuilt, data);
/// # Ok::<(), nimbus_chunks::ChunkError>(())
/// ```
pub struct Chunker<R: Read> {
    reader: R,
    keys: WorkspaceKeys,
    params: ChunkerParams,
    state: State,
    gear: Cow<'static, [u64]>,
    gear_ls: Cow<'static, [u64]>,
    mask_s: u64,
    mask_l: u64,
    /// Input buffer; `buf[start..end]` is read but not yet chunked.
    buf: Vec<u8>,
    start: usize,
    end: usize,
    eof: bool,
    sealer: Option<Sealer>,
    /// `None` when the caller hashes the file itself
    /// ([`Self::without_content_hash`]).
    file_hasher: Option<blake3::Hasher>,
    total: u64,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    Running,
    Done,
}

impl<R: Read> Chunker<R> {
    /// Prepares to chunk `reader`. Cheap: nothing is read or allocated until
    /// the first call to `next`.
    pub fn new(reader: R, keys: &WorkspaceKeys, params: ChunkerParams) -> Self {
        let (gear, gear_ls) = get_gear_with_seed(keys.gear_seed());
        let (mask_s, mask_l) = select_masks(params.avg as usize, Normalization::Level1);
        Self {
            reader,
            keys: keys.clone(),
            params,
            state: State::Running,
            gear,
            gear_ls,
            mask_s,
            mask_l,
            buf: Vec::new(),
            start: 0,
            end: 0,
            eof: false,
            sealer: None,
            file_hasher: Some(blake3::Hasher::new_keyed(keys.content_hash_key())),
            total: 0,
        }
    }

    /// Skips the content hash of the whole input, for a caller that sees
    /// only part of a file (a resumable upload's request) and so keeps the
    /// file's [`ContentHasher`] itself: one BLAKE3 pass over every byte
    /// fewer. [`Self::finish`] then reports an empty hash.
    #[must_use]
    pub fn without_content_hash(mut self) -> Self {
        self.file_hasher = None;
        self
    }

    /// The parameters this chunker cuts with.
    pub fn params(&self) -> ChunkerParams {
        self.params
    }

    /// Call after the iterator is exhausted: `"blake3:<64 hex>"`, the keyed
    /// content hash of the whole plaintext (as [`content_hash`] computes
    /// it), and the total size in bytes.
    ///
    /// Called earlier, or after an error, it covers only the bytes chunked so
    /// far; after [`Self::without_content_hash`] the hash is empty.
    pub fn finish(self) -> (String, u64) {
        let hash = self
            .file_hasher
            .as_ref()
            .map_or_else(String::new, |hasher| {
                format!("blake3:{}", hasher.finalize().to_hex())
            });
        (hash, self.total)
    }

    /// Reads until at least one maximum chunk is buffered or the input ends.
    fn fill(&mut self) -> Result<(), ChunkError> {
        let max = self.params.max as usize;
        if self.buf.is_empty() {
            self.buf = vec![0; BUFFER_CHUNKS * max];
        }
        while !self.eof && self.end - self.start < max {
            if self.end == self.buf.len() {
                self.buf.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.start = 0;
            }
            match self.reader.read(&mut self.buf[self.end..]) {
                Ok(0) => self.eof = true,
                Ok(n) => self.end += n,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    fn next_chunk(&mut self) -> Result<Option<SealedChunk>, ChunkError> {
        if self.sealer.is_none() {
            self.params.validate()?;
            self.sealer = Some(Sealer::new()?);
        }
        self.fill()?;
        if self.start == self.end {
            return Ok(None);
        }
        let p = self.params;
        let (_, len) = cut_gear(
            &self.buf[self.start..self.end],
            p.min as usize,
            p.avg as usize,
            p.max as usize,
            self.mask_s,
            self.mask_l,
            self.mask_s << 1,
            self.mask_l << 1,
            &self.gear,
            &self.gear_ls,
        );
        let chunk = &self.buf[self.start..self.start + len];
        let sealer = self.sealer.as_mut().expect("created above");
        let sealed = sealer.seal(&self.keys, chunk)?;
        if let Some(hasher) = &mut self.file_hasher {
            hasher.update(chunk);
        }
        self.total += len as u64;
        self.start += len;
        Ok(Some(sealed))
    }
}

impl<R: Read> Iterator for Chunker<R> {
    type Item = Result<SealedChunk, ChunkError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.state == State::Done {
            return None;
        }
        match self.next_chunk() {
            Ok(Some(chunk)) => Some(Ok(chunk)),
            Ok(None) => {
                self.state = State::Done;
                None
            }
            Err(e) => {
                self.state = State::Done;
                Some(Err(e))
            }
        }
    }
}

impl<R: Read> std::iter::FusedIterator for Chunker<R> {}

impl<R: Read> Drop for Chunker<R> {
    fn drop(&mut self) {
        // The seeded gear tables reveal the seed (the base tables are public).
        if let Cow::Owned(table) = &mut self.gear {
            table.zeroize();
        }
        if let Cow::Owned(table) = &mut self.gear_ls {
            table.zeroize();
        }
    }
}

/// The content hash of everything `reader` yields, and its length, in
/// constant memory: what [`Chunker::finish`] would report, without chunking
/// or sealing (for noticing whether a local file changed).
pub fn content_hash_reader(
    keys: &WorkspaceKeys,
    mut reader: impl Read,
) -> std::io::Result<(String, u64)> {
    let mut hasher = blake3::Hasher::new_keyed(keys.content_hash_key());
    let size = std::io::copy(&mut reader, &mut hasher)?;
    Ok((format!("blake3:{}", hasher.finalize().to_hex()), size))
}

/// The content hash of a byte slice, as [`Chunker::finish`] computes it:
/// `"blake3:"` and 64 hex digits of the keyed BLAKE3 (content-hash key of the
/// workspace) of the whole plaintext.
pub fn content_hash(keys: &WorkspaceKeys, data: &[u8]) -> String {
    format!(
        "blake3:{}",
        blake3::keyed_hash(keys.content_hash_key(), data).to_hex()
    )
}

/// The content hash of a file fed in pieces, as [`Chunker::finish`] reports
/// it: for a file whose chunking is spread over several requests (a
/// resumable upload), where no one chunker sees every byte. Cloning it
/// keeps the state so far.
#[derive(Clone)]
pub struct ContentHasher {
    hasher: blake3::Hasher,
    len: u64,
}

impl ContentHasher {
    pub fn new(keys: &WorkspaceKeys) -> Self {
        Self {
            hasher: blake3::Hasher::new_keyed(keys.content_hash_key()),
            len: 0,
        }
    }

    pub fn update(&mut self, bytes: &[u8]) {
        self.hasher.update(bytes);
        self.len += bytes.len() as u64;
    }

    /// How many bytes it has hashed.
    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// `"blake3:<64 hex>"` of everything fed, as [`content_hash`] computes it.
    pub fn finish(&self) -> String {
        format!("blake3:{}", self.hasher.finalize().to_hex())
    }
}

impl std::fmt::Debug for ContentHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ContentHasher")
            .field("len", &self.len)
            .finish()
    }
}
