//! Object bytes in motion, in constant memory: [`store`] streams a request
//! body into a new blob while computing its MD5, and [`stream_range`] /
//! [`multipart_ranges`] stream stored bytes out, across the pieces a large
//! object is made of.

use std::ops::Range;
use std::sync::Arc;

use bytes::Bytes;
use futures::{Stream, StreamExt, TryStreamExt, stream};
use md5::{Digest, Md5};

use crate::blobs::{BlobStore, BlobWriter, ByteStream, new_blob_key};
use crate::error::SwiftError;

/// `max_file_size`: 5 GiB + 2 bytes, as Swift.
pub const MAX_FILE_SIZE: u64 = 5 * 1024 * 1024 * 1024 + 2;

/// A contiguous part of an object: `len` bytes of a blob from `offset` on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Piece {
    pub blob_key: String,
    pub offset: u64,
    pub len: u64,
}

impl Piece {
    /// A whole blob of `len` bytes.
    pub fn whole(blob_key: &str, len: u64) -> Self {
        Self {
            blob_key: blob_key.to_owned(),
            offset: 0,
            len,
        }
    }
}

/// A completely written blob, not yet referenced by the index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredBlob {
    pub key: String,
    pub size: u64,
    /// MD5 of the bytes, lower-case hex.
    pub etag: String,
}

async fn copy_into(
    writer: &mut dyn BlobWriter,
    body: &mut (impl Stream<Item = Result<Bytes, SwiftError>> + Unpin),
    md5: &mut Md5,
    max_size: u64,
) -> Result<u64, SwiftError> {
    let mut size = 0u64;
    while let Some(chunk) = body.next().await {
        let chunk = chunk?;
        size += chunk.len() as u64;
        if size > max_size {
            return Err(SwiftError::TooLarge);
        }
        md5.update(&chunk);
        writer.write(chunk).await?;
    }
    Ok(size)
}

/// Streams `body` into a fresh blob. On any failure the partial blob is
/// removed and nothing is left behind.
pub async fn store(
    blobs: &dyn BlobStore,
    mut body: impl Stream<Item = Result<Bytes, SwiftError>> + Unpin,
    max_size: u64,
) -> Result<StoredBlob, SwiftError> {
    let key = new_blob_key();
    let mut writer = blobs.create(&key).await?;
    let mut md5 = Md5::new();
    let size = match copy_into(writer.as_mut(), &mut body, &mut md5, max_size).await {
        Ok(size) => size,
        Err(error) => {
            writer.abort().await;
            return Err(error);
        }
    };
    if let Err(error) = writer.finish().await {
        discard(blobs, &key).await;
        return Err(error.into());
    }
    Ok(StoredBlob {
        key,
        size,
        etag: hex::encode(md5.finalize()),
    })
}

/// Removes a blob nothing refers to any more; failures are only logged.
pub async fn discard(blobs: &dyn BlobStore, key: &str) {
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
            parts.push((piece.blob_key.clone(), within));
        }
    }
    stream::iter(parts)
        .then(move |(key, part)| {
            let blobs = Arc::clone(&blobs);
            async move { blobs.read(&key, part).await.map_err(std::io::Error::other) }
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

    async fn collect(stream: ByteStream) -> Vec<u8> {
        let parts: Vec<Bytes> = stream.try_collect().await.unwrap();
        parts.concat()
    }

    #[tokio::test]
    async fn store_hashes_and_pieces_concatenate() {
        let blobs = memory_store();
        let first = store(blobs.as_ref(), chunks(&[b"hello", b" "]), MAX_FILE_SIZE)
            .await
            .unwrap();
        let second = store(blobs.as_ref(), chunks(&[b"world"]), MAX_FILE_SIZE)
            .await
            .unwrap();
        assert_eq!(first.size, 6);
        let empty = store(blobs.as_ref(), chunks(&[]), MAX_FILE_SIZE)
            .await
            .unwrap();
        assert_eq!(empty.etag, "d41d8cd98f00b204e9800998ecf8427e");
        let pieces = [Piece::whole(&first.key, 6), Piece::whole(&second.key, 5)];
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
                blob_key: first.key.clone(),
                offset: 1,
                len: 3,
            },
            Piece {
                blob_key: second.key.clone(),
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

    #[tokio::test]
    async fn oversized_or_broken_uploads_leave_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = OpendalBlobStore::from_settings(&StorageSettings {
            scheme: "fs".into(),
            options: BTreeMap::from([("root".into(), dir.path().display().to_string())]),
        })
        .unwrap();
        let too_big = store(&blobs, chunks(&[b"12345"]), 4).await;
        assert!(matches!(too_big, Err(SwiftError::TooLarge)));
        let broken = stream::iter(vec![
            Ok(Bytes::from_static(b"partial")),
            Err(SwiftError::ClientDisconnect),
        ]);
        let result = store(&blobs, broken, MAX_FILE_SIZE).await;
        assert!(matches!(result, Err(SwiftError::ClientDisconnect)));
        assert_eq!(files_under(dir.path()), 0);
        store(&blobs, chunks(&[b"kept"]), MAX_FILE_SIZE)
            .await
            .unwrap();
        assert_eq!(files_under(dir.path()), 1);
    }
}
