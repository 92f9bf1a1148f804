//! Where object bytes live: a [`BlobStore`] keyed by opaque blob keys, and its
//! opendal implementation (`fs` by default; Swift or S3 when configured).
//!
//! Blob keys are fresh UUIDs, never derived from object names, so no object
//! name can escape the store's root and an upload in progress is invisible:
//! an object only points at a blob once the index row is committed.

use std::io;
use std::ops::Range;

use async_trait::async_trait;
use bytes::Bytes;
use futures::StreamExt;
use futures::stream::BoxStream;
use opendal::Operator;
use uuid::Uuid;

use crate::config::StorageSettings;

/// A stream of an object's bytes.
pub type ByteStream = BoxStream<'static, io::Result<Bytes>>;

#[derive(Debug, thiserror::Error)]
#[error("object store: {0}")]
pub struct BlobError(#[from] opendal::Error);

/// Receives the bytes of one new blob.
#[async_trait]
pub trait BlobWriter: Send {
    async fn write(&mut self, chunk: Bytes) -> Result<(), BlobError>;
    /// Makes the blob complete and durable.
    async fn finish(self: Box<Self>) -> Result<(), BlobError>;
    /// Discards whatever was written.
    async fn abort(self: Box<Self>);
}

/// Storage of immutable blobs.
#[async_trait]
pub trait BlobStore: Send + Sync {
    async fn create(&self, key: &str) -> Result<Box<dyn BlobWriter>, BlobError>;
    async fn read(&self, key: &str, range: Range<u64>) -> Result<ByteStream, BlobError>;
    async fn delete(&self, key: &str) -> Result<(), BlobError>;
}

/// A fresh key for a new blob, fanned out over 256 directories.
pub fn new_blob_key() -> String {
    let id = Uuid::now_v7().simple().to_string();
    format!("{}/{id}", &id[id.len() - 2..])
}

/// Size of the parts opendal uploads to remote services (S3 needs ≥ 5 MiB).
const REMOTE_PART_SIZE: usize = 8 * 1024 * 1024;

/// [`BlobStore`] on an opendal [`Operator`].
#[derive(Clone)]
pub struct OpendalBlobStore {
    operator: Operator,
    part_size: Option<usize>,
}

impl OpendalBlobStore {
    /// Builds the operator the settings name. Call it before the HTTP server
    /// starts: the operator stays bound to the runtime that created it.
    pub fn from_settings(settings: &StorageSettings) -> Result<Self, BlobError> {
        let operator = Operator::via_iter(
            &settings.scheme,
            settings.options.iter().map(|(k, v)| (k.clone(), v.clone())),
        )?;
        let part_size =
            (!matches!(settings.scheme.as_str(), "fs" | "memory")).then_some(REMOTE_PART_SIZE);
        Ok(Self {
            operator,
            part_size,
        })
    }
}

struct OpendalWriter {
    writer: opendal::Writer,
}

#[async_trait]
impl BlobWriter for OpendalWriter {
    async fn write(&mut self, chunk: Bytes) -> Result<(), BlobError> {
        Ok(self.writer.write(chunk).await?)
    }

    async fn finish(mut self: Box<Self>) -> Result<(), BlobError> {
        self.writer.close().await?;
        Ok(())
    }

    async fn abort(mut self: Box<Self>) {
        if let Err(error) = self.writer.abort().await {
            tracing::warn!(%error, "aborting a blob upload failed");
        }
    }
}

#[async_trait]
impl BlobStore for OpendalBlobStore {
    async fn create(&self, key: &str) -> Result<Box<dyn BlobWriter>, BlobError> {
        let mut writer = self.operator.writer_with(key);
        if let Some(part_size) = self.part_size {
            writer = writer.chunk(part_size);
        }
        Ok(Box::new(OpendalWriter {
            writer: writer.await?,
        }))
    }

    async fn read(&self, key: &str, range: Range<u64>) -> Result<ByteStream, BlobError> {
        if range.is_empty() {
            return Ok(futures::stream::empty().boxed());
        }
        let stream = self
            .operator
            .reader(key)
            .await?
            .into_bytes_stream(range)
            .await?;
        Ok(stream.boxed())
    }

    async fn delete(&self, key: &str) -> Result<(), BlobError> {
        Ok(self.operator.delete(key).await?)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use futures::TryStreamExt;

    use super::*;

    #[tokio::test]
    async fn blobs_round_trip_with_ranges() {
        let dir = tempfile::tempdir().unwrap();
        let store = OpendalBlobStore::from_settings(&StorageSettings {
            scheme: "fs".into(),
            options: BTreeMap::from([("root".into(), dir.path().display().to_string())]),
        })
        .unwrap();
        let key = new_blob_key();
        let mut writer = store.create(&key).await.unwrap();
        writer.write(Bytes::from_static(b"hello ")).await.unwrap();
        writer.write(Bytes::from_static(b"world")).await.unwrap();
        writer.finish().await.unwrap();

        let read = |range| async {
            let stream = store.read(&key, range).await.map_err(|e| e.to_string())?;
            let parts: Vec<Bytes> = stream.try_collect().await.map_err(|e| e.to_string())?;
            Ok::<_, String>(parts.concat())
        };
        assert_eq!(read(0..11).await.unwrap(), b"hello world");
        assert_eq!(read(6..11).await.unwrap(), b"world");
        assert_eq!(read(3..3).await.unwrap(), b"");

        store.delete(&key).await.unwrap();
        assert!(read(0..1).await.is_err());
    }
}
