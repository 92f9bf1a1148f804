//! Object bytes in motion, in constant memory: [`store`] streams a request
//! body into a new blob while computing its MD5 (or keeps a small body for
//! the index row), and [`stream_range`] / [`multipart_ranges`] stream stored
//! bytes out, across the pieces a large object is made of.

use std::ops::Range;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use futures::{Stream, StreamExt, TryStreamExt, stream};
use md5::{Digest, Md5};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::blobs::{BlobStore, BlobWriter, ByteStream, new_blob_key};
use crate::error::SwiftError;
use crate::index::Content;

/// `max_file_size`: 5 GiB + 2 bytes, as Swift.
pub const MAX_FILE_SIZE: u64 = 5 * 1024 * 1024 * 1024 + 2;

/// Where the bytes of a [`Piece`] are read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Blob(String),
    Inline(Bytes),
}

impl Source {
    /// Where `content` is read from; `None` for inline bytes that were not
    /// loaded (as in listings).
    pub fn of(content: &Content) -> Option<Self> {
        match content {
            Content::Blob(key) => Some(Self::Blob(key.clone())),
            Content::Inline(bytes) => bytes.clone().map(Self::Inline),
        }
    }
}

/// A contiguous part of an object: `len` bytes of a source from `offset` on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Piece {
    pub source: Source,
    pub offset: u64,
    pub len: u64,
}

impl Piece {
    /// A whole source of `len` bytes.
    pub fn whole(source: Source, len: u64) -> Self {
        Self {
            source,
            offset: 0,
            len,
        }
    }
}

/// A completely stored body, not yet referenced by the index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredBody {
    /// A durable blob, or the bytes themselves for a small body.
    pub content: Content,
    pub size: u64,
    /// MD5 of the bytes, lower-case hex.
    pub etag: String,
}

/// Bodies up to this size are hashed inline; larger ones on a blocking thread.
const INLINE_HASH_LIMIT: u64 = 1024 * 1024;

/// Parts queued for the background hasher: bounded, so memory stays constant.
const HASH_QUEUE: usize = 64;

/// The MD5 of a body being stored. MD5 runs at roughly 650 MB/s on one core,
/// which would cap a large upload if it ran between the writes; past
/// [`INLINE_HASH_LIMIT`] it moves to a blocking thread and runs beside them.
/// Small bodies stay inline, where a thread hand-off would cost more than
/// it saves.
enum BodyHasher {
    Inline(Md5),
    Background {
        parts: mpsc::Sender<Bytes>,
        digest: JoinHandle<Md5>,
    },
}

impl BodyHasher {
    /// Hashes on a blocking thread, beside whatever the caller does next.
    fn background(mut md5: Md5) -> Self {
        let (parts, mut received) = mpsc::channel::<Bytes>(HASH_QUEUE);
        let digest = tokio::task::spawn_blocking(move || {
            while let Some(part) = received.blocking_recv() {
                md5.update(&part);
            }
            md5
        });
        Self::Background { parts, digest }
    }

    async fn update(&mut self, part: &Bytes, size_so_far: u64) {
        if let Self::Inline(md5) = self {
            if size_so_far <= INLINE_HASH_LIMIT {
                md5.update(part);
                return;
            }
            *self = Self::background(std::mem::take(md5));
        }
        if let Self::Background { parts, .. } = self {
            // The receiver lives until the sender is dropped.
            let _ = parts.send(part.clone()).await;
        }
    }

    /// The MD5 of everything passed to [`Self::update`], lower-case hex.
    async fn finish(self) -> Result<String, SwiftError> {
        let md5 = match self {
            Self::Inline(md5) => md5,
            Self::Background { parts, digest } => {
                drop(parts);
                digest.await.map_err(SwiftError::HashFailed)?
            }
        };
        Ok(hex::encode(md5.finalize()))
    }
}

async fn copy_into(
    writer: &mut dyn BlobWriter,
    body: &mut (impl Stream<Item = Result<Bytes, SwiftError>> + Unpin),
    hasher: &mut BodyHasher,
    max_size: u64,
) -> Result<u64, SwiftError> {
    let mut size = 0u64;
    while let Some(chunk) = body.next().await {
        let chunk = chunk?;
        size += chunk.len() as u64;
        if size > max_size {
            return Err(SwiftError::TooLarge);
        }
        hasher.update(&chunk, size).await;
        writer.write(chunk).await?;
    }
    Ok(size)
}

/// Stores `body`: a body of at most `inline_max` bytes is returned as
/// [`Content::Inline`], for the index row to keep (one durable commit instead
/// of a file flush and a commit); a larger one streams into a fresh blob. On
/// any failure the partial blob is removed and nothing is left behind.
pub async fn store(
    blobs: &dyn BlobStore,
    mut body: impl Stream<Item = Result<Bytes, SwiftError>> + Unpin,
    max_size: u64,
    inline_max: u64,
) -> Result<StoredBody, SwiftError> {
    let mut head = BytesMut::new();
    while let Some(chunk) = body.next().await {
        let chunk = chunk?;
        if (head.len() + chunk.len()) as u64 > inline_max.min(max_size) {
            let start = [head.freeze(), chunk].into_iter().filter(|b| !b.is_empty());
            let body = stream::iter(start.map(Ok)).chain(body);
            return store_blob(blobs, body, max_size, BodyHasher::Inline(Md5::new())).await;
        }
        head.extend_from_slice(&chunk);
    }
    let bytes = head.freeze();
    Ok(StoredBody {
        size: bytes.len() as u64,
        etag: hex::encode(Md5::digest(&bytes)),
        content: Content::Inline(Some(bytes)),
    })
}

/// Stores `bytes`, a body already whole in memory (a sealed chunk), as
/// [`store`] does, but a blob's MD5 is computed on a blocking thread from
/// the first byte: a request storing several chunks at once would otherwise
/// hash them one after another on its own task.
pub async fn store_whole(
    blobs: &dyn BlobStore,
    bytes: Bytes,
    inline_max: u64,
) -> Result<StoredBody, SwiftError> {
    let inline = bytes.len() as u64 <= inline_max;
    let body = stream::iter([Ok(bytes)]);
    if inline {
        return store(blobs, body, MAX_FILE_SIZE, inline_max).await;
    }
    store_blob(
        blobs,
        body,
        MAX_FILE_SIZE,
        BodyHasher::background(Md5::new()),
    )
    .await
}

async fn store_blob(
    blobs: &dyn BlobStore,
    mut body: impl Stream<Item = Result<Bytes, SwiftError>> + Unpin,
    max_size: u64,
    mut hasher: BodyHasher,
) -> Result<StoredBody, SwiftError> {
    let key = new_blob_key();
    let mut writer = blobs.create(&key).await?;
    let size = match copy_into(writer.as_mut(), &mut body, &mut hasher, max_size).await {
        Ok(size) => size,
        Err(error) => {
            writer.abort().await;
            return Err(error);
        }
    };
    let content = Content::Blob(key);
    // Both run concurrently: the hash of the last parts and the flush.
    let (etag, finished) = futures::join!(hasher.finish(), writer.finish());
    if let Err(error) = finished {
        discard(blobs, &content).await;
        return Err(error.into());
    }
    let etag = match etag {
        Ok(etag) => etag,
        Err(error) => {
            discard(blobs, &content).await;
            return Err(error);
        }
    };
    Ok(StoredBody {
        content,
        size,
        etag,
    })
}

/// Removes the blob behind `content`, which nothing refers to any more;
/// failures are only logged (the sweeper retries). Inline bytes went with
/// their index row.
pub async fn discard(blobs: &dyn BlobStore, content: &Content) {
    let Some(key) = content.blob_key() else {
        return;
    };
    if let Err(error) = blobs.delete(key).await {
        tracing::warn!(%error, key, "could not remove an unreferenced blob");
    }
}

/// Streams `range` of the concatenation of `pieces`.
pub fn stream_range(blobs: Arc<dyn BlobStore>, pieces: &[Piece], range: Range<u64>) -> ByteStream {
    let mut offset = 0;
    let mut parts = Vec::new();
    for piece in pieces {
        let (start, end) = (offset, offset + piece.len);
        offset = end;
        let (from, to) = (range.start.max(start), range.end.min(end));
        if from < to {
            let within = piece.offset + (from - start)..piece.offset + (to - start);
            parts.push((piece.source.clone(), within));
        }
    }
    stream::iter(parts)
        .then(move |(source, part)| {
            let blobs = Arc::clone(&blobs);
            async move {
                match source {
                    Source::Blob(key) => {
                        blobs.read(&key, part).await.map_err(std::io::Error::other)
                    }
                    Source::Inline(bytes) => {
                        let part = bytes.slice(part.start as usize..part.end as usize);
                        Ok(stream::iter([Ok(part)]).boxed())
                    }
                }
            }
        })
        .try_flatten()
        .boxed()
}

/// A `multipart/byteranges` body of several ranges and its exact length.
pub fn multipart_ranges(
    blobs: Arc<dyn BlobStore>,
    pieces: &[Piece],
    ranges: &[Range<u64>],
    size: u64,
    content_type: &str,
    boundary: &str,
) -> (ByteStream, u64) {
    let mut length = 0;
    let mut parts = Vec::new();
    for range in ranges {
        let head = format!(
            "--{boundary}\r\nContent-Type: {content_type}\r\nContent-Range: bytes {}-{}/{size}\r\n\r\n",
            range.start,
            range.end - 1
        );
        length += head.len() as u64 + (range.end - range.start) + 2;
        parts.push(
            stream::once(async move { Ok(Bytes::from(head)) })
                .chain(stream_range(Arc::clone(&blobs), pieces, range.clone()))
                .chain(stream::once(async { Ok(Bytes::from_static(b"\r\n")) }))
                .boxed(),
        );
    }
    let tail = format!("--{boundary}--");
    length += tail.len() as u64;
    parts.push(stream::once(async move { Ok(Bytes::from(tail)) }).boxed());
    (stream::iter(parts).flatten().boxed(), length)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::blobs::OpendalBlobStore;
    use crate::config::StorageSettings;

    fn memory_store() -> Arc<dyn BlobStore> {
        Arc::new(
            OpendalBlobStore::from_settings(&StorageSettings {
                scheme: "memory".into(),
                options: BTreeMap::new(),
            })
            .unwrap(),
        )
    }

    fn chunks(parts: &[&'static [u8]]) -> impl Stream<Item = Result<Bytes, SwiftError>> + Unpin {
        stream::iter(
            parts
                .iter()
                .map(|p| Ok(Bytes::from_static(p)))
                .collect::<Vec<_>>(),
        )
    }

    /// Where a stored body is read from.
    fn source(stored: &StoredBody) -> Source {
        Source::of(&stored.content).unwrap()
    }

    async fn collect(stream: ByteStream) -> Vec<u8> {
        let parts: Vec<Bytes> = stream.try_collect().await.unwrap();
        parts.concat()
    }

    #[tokio::test]
    async fn a_large_body_hashed_beside_the_writes_has_the_md5_of_all_its_bytes() {
        let blobs = memory_store();
        let bytes: Vec<u8> = (0..3 * INLINE_HASH_LIMIT + 12_345)
            .map(|i| (i * 31 % 251) as u8)
            .collect();
        let parts = bytes
            .chunks(64 * 1024)
            .map(|part| Ok(Bytes::copy_from_slice(part)))
            .collect::<Vec<_>>();
        let stored = store(blobs.as_ref(), stream::iter(parts), MAX_FILE_SIZE, 0)
            .await
            .unwrap();
        assert_eq!(stored.size, bytes.len() as u64);
        assert_eq!(stored.etag, hex::encode(Md5::digest(&bytes)));
        let whole = [Piece::whole(source(&stored), stored.size)];
        assert!(collect(stream_range(blobs, &whole, 0..stored.size)).await == bytes);
    }

    #[tokio::test]
    async fn store_hashes_and_pieces_concatenate() {
        let blobs = memory_store();
        // One piece in a blob, one inline.
        let first = store(blobs.as_ref(), chunks(&[b"hello", b" "]), MAX_FILE_SIZE, 0)
            .await
            .unwrap();
        let second = store(blobs.as_ref(), chunks(&[b"world"]), MAX_FILE_SIZE, 5)
            .await
            .unwrap();
        assert!(matches!(first.content, Content::Blob(_)));
        assert_eq!(
            second.content,
            Content::Inline(Some(Bytes::from_static(b"world")))
        );
        assert_eq!(first.size, 6);
        let empty = store(blobs.as_ref(), chunks(&[]), MAX_FILE_SIZE, 0)
            .await
            .unwrap();
        assert_eq!(empty.etag, "d41d8cd98f00b204e9800998ecf8427e");
        let pieces = [
            Piece::whole(source(&first), 6),
            Piece::whole(source(&second), 5),
        ];
        assert_eq!(
            collect(stream_range(blobs.clone(), &pieces, 0..11)).await,
            b"hello world"
        );
        assert_eq!(
            collect(stream_range(blobs.clone(), &pieces, 4..8)).await,
            b"o wo"
        );
        let middles = [
            Piece {
                source: source(&first),
                offset: 1,
                len: 3,
            },
            Piece {
                source: source(&second),
                offset: 2,
                len: 2,
            },
        ];
        assert_eq!(
            collect(stream_range(blobs.clone(), &middles, 0..5)).await,
            b"ellrl"
        );
        assert_eq!(
            collect(stream_range(blobs.clone(), &middles, 2..4)).await,
            b"lr"
        );

        let (body, length) = multipart_ranges(
            blobs.clone(),
            &pieces,
            &[0..2, 9..11],
            11,
            "text/plain",
            "b0",
        );
        let body = collect(body).await;
        assert_eq!(body.len() as u64, length);
        let text = String::from_utf8(body).unwrap();
        assert!(
            text.contains("Content-Range: bytes 0-1/11\r\n\r\nhe\r\n"),
            "{text}"
        );
        assert!(
            text.contains("Content-Range: bytes 9-10/11\r\n\r\nld\r\n--b0--"),
            "{text}"
        );
    }

    fn files_under(dir: &std::path::Path) -> usize {
        std::fs::read_dir(dir)
            .unwrap()
            .map(|entry| {
                let path = entry.unwrap().path();
                if path.is_dir() { files_under(&path) } else { 1 }
            })
            .sum()
    }

    fn fs_store(root: &std::path::Path) -> OpendalBlobStore {
        OpendalBlobStore::from_settings(&StorageSettings {
            scheme: "fs".into(),
            options: BTreeMap::from([("root".into(), root.display().to_string())]),
        })
        .unwrap()
    }

    #[tokio::test]
    async fn oversized_or_broken_uploads_leave_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = fs_store(dir.path());
        let too_big = store(&blobs, chunks(&[b"12345"]), 4, 1024).await;
        assert!(matches!(too_big, Err(SwiftError::TooLarge)));
        let broken = stream::iter(vec![
            Ok(Bytes::from_static(b"partial")),
            Err(SwiftError::ClientDisconnect),
        ]);
        let result = store(&blobs, broken, MAX_FILE_SIZE, 0).await;
        assert!(matches!(result, Err(SwiftError::ClientDisconnect)));
        assert_eq!(files_under(dir.path()), 0);
        store(&blobs, chunks(&[b"kept"]), MAX_FILE_SIZE, 0)
            .await
            .unwrap();
        assert_eq!(files_under(dir.path()), 1);
    }

    #[tokio::test]
    async fn bodies_up_to_the_inline_limit_stay_out_of_the_blob_store() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = fs_store(dir.path());
        let small = store(&blobs, chunks(&[b"abc", b"def"]), MAX_FILE_SIZE, 6)
            .await
            .unwrap();
        assert_eq!(
            small.content,
            Content::Inline(Some(Bytes::from_static(b"abcdef")))
        );
        assert_eq!(small.etag, hex::encode(Md5::digest(b"abcdef")));
        assert_eq!(files_under(dir.path()), 0);

        // One byte over: the buffered start goes to the blob with the rest.
        let large = store(&blobs, chunks(&[b"abc", b"def", b"g"]), MAX_FILE_SIZE, 6)
            .await
            .unwrap();
        assert!(matches!(large.content, Content::Blob(_)));
        assert_eq!(large.etag, hex::encode(Md5::digest(b"abcdefg")));
        let blobs: Arc<dyn BlobStore> = Arc::new(blobs);
        let whole = [Piece::whole(source(&large), large.size)];
        assert_eq!(collect(stream_range(blobs, &whole, 0..7)).await, b"abcdefg");
        assert_eq!(files_under(dir.path()), 1);
    }
}
