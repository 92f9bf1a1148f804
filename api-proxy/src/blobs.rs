//! Where object bytes live: a [`BlobStore`] keyed by opaque blob keys, and its
//! opendal implementation (`fs` by default; Swift or S3 when configured).
//!
//! Blob keys are fresh UUIDs, never derived from object names, so no object
//! name can escape the store's root and an upload in progress is invisible:
//! an object only points at a blob once the index row is committed.
//!
//! A blob appears under its key only once complete and durable: on `fs` it is
//! written to a temporary file in `atomic_write_dir` (by default `tmp/` inside
//! the root, on the same file system), fsynced, and renamed into place, and
//! the directory it went into is fsynced too, so that the rename survives a
//! crash ([`FileWriter`]); remote services publish an upload only when it
//! completes. Temporary files a
//! crashed proxy left behind (on Swift: the segments of a large blob whose
//! manifest was never written) are removed by
//! [`BlobStore::remove_partial_uploads`], complete blobs nothing refers to by
//! the [`crate::sweeper`].

use std::fs::File;
use std::io::{self, IoSlice, Write};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::BoxStream;
use futures::{StreamExt, TryStreamExt, future};
use opendal::{HttpTransporter, OperationContext, Operator};
use opendal_http_transport_reqwest::ReqwestTransport;
use uuid::Uuid;

use crate::config::StorageSettings;

/// A stream of an object's bytes.
pub type ByteStream = BoxStream<'static, io::Result<Bytes>>;

#[derive(Debug, thiserror::Error)]
#[error("object store: {0}")]
pub struct BlobError(#[from] opendal::Error);

impl BlobError {
    /// Whether the store ran out of room: its file system is full (`ENOSPC`)
    /// or over a disk quota (`EDQUOT`). opendal reports both as unexpected
    /// errors, keeping the system's error as their source.
    pub fn is_storage_full(&self) -> bool {
        std::iter::successors(
            Some(&self.0 as &(dyn std::error::Error + 'static)),
            |error| error.source(),
        )
        .filter_map(|error| error.downcast_ref::<io::Error>())
        .any(|error| {
            matches!(
                error.kind(),
                io::ErrorKind::StorageFull | io::ErrorKind::QuotaExceeded
            )
        })
    }
}

/// Whether a read failed because the blob is not in the store.
pub fn is_missing(error: &io::Error) -> bool {
    // Opening the blob fails with a `BlobError`; reading it, with the
    // `io::Error` opendal's byte stream makes of its own.
    let inner = error.get_ref();
    let opendal_error = inner
        .and_then(|inner| inner.downcast_ref::<BlobError>())
        .map(|blob| &blob.0)
        .or_else(|| inner.and_then(|inner| inner.downcast_ref::<opendal::Error>()));
    match opendal_error {
        Some(error) => error.kind() == opendal::ErrorKind::NotFound,
        None => error.kind() == io::ErrorKind::NotFound,
    }
}

/// Receives the bytes of one new blob.
#[async_trait]
pub trait BlobWriter: Send {
    async fn write(&mut self, chunk: Bytes) -> Result<(), BlobError>;
    /// Makes the blob complete and durable, or discards it if that fails.
    async fn finish(self: Box<Self>) -> Result<(), BlobError>;
    /// Discards whatever was written.
    async fn abort(self: Box<Self>);
}

/// A complete blob, as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedBlob {
    pub key: String,
    /// When it was last written, if the store says.
    pub modified: Option<SystemTime>,
}

/// Storage of immutable blobs.
#[async_trait]
pub trait BlobStore: Send + Sync {
    /// Whether the store answers now: lists its root (`/readyz`).
    async fn check(&self) -> Result<(), BlobError>;
    async fn create(&self, key: &str) -> Result<Box<dyn BlobWriter>, BlobError>;
    async fn read(&self, key: &str, range: Range<u64>) -> Result<ByteStream, BlobError>;
    async fn delete(&self, key: &str) -> Result<(), BlobError>;
    /// Every complete blob, in no particular order. Whatever else the store
    /// holds (keys not made by [`new_blob_key`]) is left out.
    async fn list(&self) -> Result<BoxStream<'static, Result<ListedBlob, BlobError>>, BlobError>;
    /// Removes the partial uploads last written before `written_before` (an
    /// upload cut short by a crash leaves one) and returns how many files or
    /// objects went: on `fs` temporary files, on Swift the segments of large
    /// blobs that never became (or no longer are) a complete blob, one count
    /// per segment.
    async fn remove_partial_uploads(&self, written_before: SystemTime) -> Result<usize, BlobError>;
}

/// A fresh key for a new blob, fanned out over 256 directories.
pub fn new_blob_key() -> String {
    let id = Uuid::now_v7().simple().to_string();
    format!("{}/{id}", &id[id.len() - 2..])
}

/// Length of every key [`new_blob_key`] gives: fan-out, `/`, 32 hex digits.
const BLOB_KEY_LEN: usize = 2 + 1 + 32;

/// Whether `key` has the shape [`new_blob_key`] gives.
fn is_blob_key(key: &str) -> bool {
    key.split_once('/').is_some_and(|(fan_out, id)| {
        id.len() == 32
            && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
            && id.ends_with(fan_out)
            && fan_out.len() == 2
    })
}

/// Where `fs` keeps uploads in progress unless `atomic_write_dir` is set:
/// inside the root, so that completing one is a rename within one file system.
/// No blob key starts with it.
const PARTIAL_UPLOADS_DIR: &str = "tmp";

/// Size of the parts opendal uploads to remote services (S3 needs ≥ 5 MiB).
const REMOTE_PART_SIZE: usize = 8 * 1024 * 1024;

/// Where opendal's Swift service puts the segments of large objects:
/// `.segments/<key><upload id>/<part>`.
const SWIFT_SEGMENTS_DIR: &str = ".segments/";

/// The key of the blob a Swift segment (`.segments/<key><upload id>/<part>`)
/// belongs to, if the key has the shape [`new_blob_key`] gives.
fn segment_blob_key(path: &str) -> Option<&str> {
    let in_dir = path.strip_prefix(SWIFT_SEGMENTS_DIR)?;
    let key = in_dir.get(..BLOB_KEY_LEN)?;
    let upload = &in_dir[BLOB_KEY_LEN..];
    (is_blob_key(key) && upload.contains('/')).then_some(key)
}

/// Whether a listed entry is a file last written before `cutoff`.
fn is_file_written_before(metadata: &opendal::Metadata, cutoff: SystemTime) -> bool {
    metadata.is_file()
        && metadata
            .last_modified()
            .is_some_and(|modified| SystemTime::from(modified) < cutoff)
}

/// Bytes read from a file at a time.
const FILE_READ_CHUNK: usize = 1024 * 1024;

/// The kinds of opendal services, which want different write and read styles.
#[derive(Clone)]
enum Backend {
    /// Remote services (S3): multipart uploads of [`REMOTE_PART_SIZE`].
    Remote,
    /// OpenStack Swift: as [`Backend::Remote`], but opendal stores a blob of
    /// several parts as a static large object whose segments live beside it
    /// under [`SWIFT_SEGMENTS_DIR`], and deleting the manifest leaves them.
    Swift,
    /// `fs`: reads, listings and deletes through opendal, writes through a
    /// [`FileWriter`] of its own.
    File(Arc<FileDirs>),
    /// `memory`, for tests.
    Memory,
}

/// [`BlobStore`] on an opendal [`Operator`].
#[derive(Clone)]
pub struct OpendalBlobStore {
    operator: Operator,
    backend: Backend,
    /// On `fs`: the directory of uploads in progress.
    partial_uploads: Option<Operator>,
}

impl OpendalBlobStore {
    /// Builds the operator the settings name. Call it before the HTTP server
    /// starts: the operator stays bound to the runtime that created it.
    pub fn from_settings(settings: &StorageSettings) -> Result<Self, BlobError> {
        let mut options = settings.options.clone();
        let mut partial_uploads = None;
        let mut file_dirs = None;
        if settings.scheme == "fs"
            && let Some(root) = options.get("root").cloned()
        {
            let dir = options
                .entry("atomic_write_dir".to_owned())
                .or_insert_with(|| {
                    Path::new(&root)
                        .join(PARTIAL_UPLOADS_DIR)
                        .display()
                        .to_string()
                })
                .clone();
            partial_uploads = Some(Operator::via_iter(
                "fs",
                [("root".to_owned(), dir.clone())],
            )?);
            file_dirs = Some(Arc::new(FileDirs {
                root: root.into(),
                partial: dir.into(),
            }));
        }
        let backend = match (settings.scheme.as_str(), file_dirs) {
            ("fs", Some(dirs)) => Backend::File(dirs),
            ("memory", _) => Backend::Memory,
            ("swift", _) => Backend::Swift,
            // Also `fs` without a root, which opendal refuses below.
            _ => Backend::Remote,
        };
        let mut operator = Operator::via_iter(&settings.scheme, options)?;
        if matches!(backend, Backend::Swift | Backend::Remote) {
            // opendal's default HTTP client is one per process, whose pooled
            // connections are driven by tasks of the runtime that opened
            // them: once that runtime is gone, every operator sharing the
            // pool fails. An operator of its own keeps them to its users.
            let transport = ReqwestTransport::new(reqwest::Client::new());
            operator = operator.with_context(
                OperationContext::new().with_http_transport(HttpTransporter::new(transport)),
            );
        }
        Ok(Self {
            operator,
            backend,
            partial_uploads,
        })
    }

    /// Swift: removes the segments of uploads whose blob does not exist and
    /// that wrote no segment since `written_before`, which an upload cut
    /// short before its manifest (or a [`BlobStore::delete`] cut short after
    /// it) leaves. An upload still in progress writes a segment every
    /// [`REMOTE_PART_SIZE`] bytes, so its segments are kept however old its
    /// first ones are. Segments of keys not made by [`new_blob_key`] are left
    /// alone.
    async fn remove_orphaned_segments(
        &self,
        written_before: SystemTime,
    ) -> Result<usize, BlobError> {
        // Swift lists by name, so the segments of one upload come together.
        let mut entries = self
            .operator
            .lister_with(SWIFT_SEGMENTS_DIR)
            .recursive(true)
            .await?;
        let mut upload: Option<SegmentedUpload> = None;
        let mut removed = 0;
        while let Some(entry) = entries.try_next().await? {
            let Some(key) = segment_blob_key(entry.path()) else {
                continue;
            };
            let dir = entry.path().rsplit_once('/').map_or("", |(dir, _)| dir);
            if let Some(done) = upload.take_if(|u| u.dir != dir) {
                removed += self.remove_if_orphaned(done).await?;
            }
            let current = upload.get_or_insert_with(|| SegmentedUpload {
                dir: dir.to_owned(),
                key: key.to_owned(),
                segments: Vec::new(),
                all_written_before: true,
            });
            current.all_written_before &= is_file_written_before(entry.metadata(), written_before);
            current.segments.push(entry.path().to_owned());
        }
        if let Some(done) = upload {
            removed += self.remove_if_orphaned(done).await?;
        }
        Ok(removed)
    }

    /// Deletes the segments of `upload` if it is idle and its blob missing.
    async fn remove_if_orphaned(&self, upload: SegmentedUpload) -> Result<usize, BlobError> {
        if !upload.all_written_before || self.operator.exists(&upload.key).await? {
            return Ok(0);
        }
        let count = upload.segments.len();
        for segment in upload.segments {
            self.operator.delete(&segment).await?;
        }
        Ok(count)
    }
}

/// The segments of one upload to Swift, as listed.
struct SegmentedUpload {
    /// `.segments/<key><upload id>`.
    dir: String,
    key: String,
    segments: Vec<String>,
    all_written_before: bool,
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
        match self.writer.close().await {
            Ok(_) => Ok(()),
            Err(error) => {
                self.abort().await;
                Err(error.into())
            }
        }
    }

    async fn abort(mut self: Box<Self>) {
        if let Err(error) = self.writer.abort().await {
            tracing::warn!(%error, "aborting a blob upload failed");
        }
    }
}

/// Where `fs` keeps blobs and uploads in progress.
struct FileDirs {
    root: PathBuf,
    partial: PathBuf,
}

/// Bytes a [`FileWriter`] gathers before writing them out: a chunk (up to
/// about 1 MiB sealed) is written whole when it is finished.
const FILE_WRITE_BATCH: usize = 2 * 1024 * 1024;

/// A new blob on `fs`, written with the standard library from tokio's
/// blocking pool, never blocking an async worker. opendal's streaming
/// writer went through that pool about ten times per blob (directories, an
/// existence check, the open, each write, the flush, the sync, the rename, a
/// stat) and copied every write into a buffer of its own. Here the parts a
/// request body arrived in are written as they are, in one vectored write
/// per [`FILE_WRITE_BATCH`], and a chunk costs two trips: creating its
/// temporary file, then writing, syncing and renaming it.
struct FileWriter {
    dirs: Arc<FileDirs>,
    key: String,
    partial: PathBuf,
    /// `None` only while a blocking call holds it.
    file: Option<File>,
    pending: Vec<Bytes>,
    pending_len: usize,
}

impl FileWriter {
    async fn create(dirs: &Arc<FileDirs>, key: &str) -> Result<Self, BlobError> {
        // Keys are the store's own, never a client's name: the checked shape
        // keeps every path under the root.
        if !is_blob_key(key) {
            return Err(
                opendal::Error::new(opendal::ErrorKind::Unexpected, "not a blob key").into(),
            );
        }
        let partial_dir = dirs.partial.clone();
        let partial = partial_dir.join(key.replace('/', "-"));
        let path = partial.clone();
        let file = blocking(move || match File::create_new(&path) {
            Err(error) if error.kind() == io::ErrorKind::NotFound => {
                std::fs::create_dir_all(&partial_dir)?;
                File::create_new(&path)
            }
            opened => opened,
        })
        .await?;
        Ok(Self {
            dirs: Arc::clone(dirs),
            key: key.to_owned(),
            partial,
            file: Some(file),
            pending: Vec::new(),
            pending_len: 0,
        })
    }

    /// Writes what is pending, from the blocking pool.
    async fn write_pending(&mut self) -> Result<(), BlobError> {
        let parts = std::mem::take(&mut self.pending);
        self.pending_len = 0;
        let file = self.file.take().ok_or_else(interrupted)?;
        self.file = Some(
            blocking(move || {
                write_parts(&file, &parts)?;
                Ok(file)
            })
            .await?,
        );
        Ok(())
    }
}

/// The error of a writer that a failed blocking call left without its file.
fn interrupted() -> BlobError {
    opendal::Error::new(opendal::ErrorKind::Unexpected, "an earlier write failed").into()
}

/// Runs `work` on tokio's blocking pool.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> io::Result<T> + Send + 'static,
) -> Result<T, BlobError> {
    match tokio::task::spawn_blocking(work).await {
        Ok(done) => done.map_err(file_error),
        Err(error) => Err(file_error(io::Error::other(error))),
    }
}

/// A file system error as opendal's `fs` service reports it, keeping the
/// system's error as its source ([`BlobError::is_storage_full`] looks there).
fn file_error(error: io::Error) -> BlobError {
    let kind = match error.kind() {
        io::ErrorKind::NotFound => opendal::ErrorKind::NotFound,
        io::ErrorKind::PermissionDenied => opendal::ErrorKind::PermissionDenied,
        io::ErrorKind::AlreadyExists => opendal::ErrorKind::AlreadyExists,
        _ => opendal::ErrorKind::Unexpected,
    };
    opendal::Error::new(kind, error.kind().to_string())
        .set_source(error)
        .into()
}

/// Writes all of `parts` to `file`, as few system calls as it takes.
fn write_parts(mut file: &File, parts: &[Bytes]) -> io::Result<()> {
    let mut all: Vec<IoSlice<'_>> = parts.iter().map(|part| IoSlice::new(part)).collect();
    let mut slices = all.as_mut_slice();
    IoSlice::advance_slices(&mut slices, 0);
    while !slices.is_empty() {
        match file.write_vectored(slices) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(written) => IoSlice::advance_slices(&mut slices, written),
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => return Err(error),
        }
    }
    Ok(())
}

/// Makes the rename of a blob into `dir` durable, and `dir` itself when it
/// was just made (a fan-out directory's first blob).
fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

#[async_trait]
impl BlobWriter for FileWriter {
    async fn write(&mut self, chunk: Bytes) -> Result<(), BlobError> {
        self.pending_len += chunk.len();
        self.pending.push(chunk);
        if self.pending_len >= FILE_WRITE_BATCH {
            self.write_pending().await?;
        }
        Ok(())
    }

    async fn finish(mut self: Box<Self>) -> Result<(), BlobError> {
        let parts = std::mem::take(&mut self.pending);
        let file = self.file.take().ok_or_else(interrupted)?;
        let (root, target) = (self.dirs.root.clone(), self.dirs.root.join(&self.key));
        let partial = self.partial.clone();
        let finished = blocking(move || {
            write_parts(&file, &parts)?;
            file.sync_all()?;
            drop(file);
            let dir = target.parent().unwrap_or(&root);
            if let Err(error) = std::fs::rename(&partial, &target) {
                if error.kind() != io::ErrorKind::NotFound || dir.exists() {
                    return Err(error);
                }
                std::fs::create_dir_all(dir)?;
                sync_dir(&root)?;
                std::fs::rename(&partial, &target)?;
            }
            sync_dir(dir)
        })
        .await;
        if finished.is_err() {
            let partial = self.partial.clone();
            // Gone already if the rename happened; a leftover is the
            // sweeper's.
            let _ = blocking(move || std::fs::remove_file(partial)).await;
        }
        finished
    }

    async fn abort(mut self: Box<Self>) {
        drop(self.file.take());
        let partial = self.partial.clone();
        if let Err(error) = blocking(move || std::fs::remove_file(partial)).await {
            tracing::warn!(%error, "aborting a blob upload failed");
        }
    }
}

#[async_trait]
impl BlobStore for OpendalBlobStore {
    async fn check(&self) -> Result<(), BlobError> {
        Ok(self.operator.check().await?)
    }

    async fn create(&self, key: &str) -> Result<Box<dyn BlobWriter>, BlobError> {
        let writer = self.operator.writer_with(key);
        let writer = match &self.backend {
            Backend::Remote | Backend::Swift => writer.chunk(REMOTE_PART_SIZE),
            Backend::File(dirs) => return Ok(Box::new(FileWriter::create(dirs, key).await?)),
            Backend::Memory => writer,
        };
        Ok(Box::new(OpendalWriter {
            writer: writer.await?,
        }))
    }

    async fn read(&self, key: &str, range: Range<u64>) -> Result<ByteStream, BlobError> {
        if range.is_empty() {
            return Ok(futures::stream::empty().boxed());
        }
        let reader = self.operator.reader_with(key);
        let reader = match self.backend {
            // The next chunk is read while the current one is sent.
            Backend::File(_) if range.end - range.start > FILE_READ_CHUNK as u64 => {
                reader.chunk(FILE_READ_CHUNK).concurrent(2)
            }
            // One read of a small file; one streamed request to a service.
            Backend::File(_) | Backend::Remote | Backend::Swift | Backend::Memory => reader,
        };
        let stream = reader.await?.into_bytes_stream(range).await?;
        Ok(stream.boxed())
    }

    async fn delete(&self, key: &str) -> Result<(), BlobError> {
        self.operator.delete(key).await?;
        if matches!(self.backend, Backend::Swift) {
            // Keys have a fixed length, so this prefix matches only the
            // segments of this blob's uploads.
            let segments = self
                .operator
                .lister_with(&format!("{SWIFT_SEGMENTS_DIR}{key}"))
                .recursive(true)
                .await?
                .try_filter_map(|entry| {
                    future::ready(Ok(entry
                        .metadata()
                        .is_file()
                        .then(|| entry.path().to_owned())))
                });
            self.operator.delete_try_stream(segments).await?;
        }
        Ok(())
    }

    async fn list(&self) -> Result<BoxStream<'static, Result<ListedBlob, BlobError>>, BlobError> {
        let entries = self.operator.lister_with("").recursive(true).await?;
        let blobs = entries.map_err(BlobError::from).try_filter_map(|entry| {
            let metadata = entry.metadata();
            let blob = (metadata.is_file() && is_blob_key(entry.path())).then(|| ListedBlob {
                key: entry.path().to_owned(),
                modified: metadata.last_modified().map(SystemTime::from),
            });
            future::ready(Ok(blob))
        });
        Ok(blobs.boxed())
    }

    async fn remove_partial_uploads(&self, written_before: SystemTime) -> Result<usize, BlobError> {
        if let Some(partial_uploads) = &self.partial_uploads {
            let mut entries = partial_uploads.lister_with("").recursive(true).await?;
            let mut removed = 0;
            while let Some(entry) = entries.try_next().await? {
                if is_file_written_before(entry.metadata(), written_before) {
                    partial_uploads.delete(entry.path()).await?;
                    removed += 1;
                }
            }
            return Ok(removed);
        }
        match self.backend {
            Backend::Swift => self.remove_orphaned_segments(written_before).await,
            Backend::File(_) | Backend::Remote | Backend::Memory => Ok(0),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use futures::TryStreamExt;

    use super::*;

    fn fs_store(root: &Path) -> OpendalBlobStore {
        OpendalBlobStore::from_settings(&StorageSettings {
            scheme: "fs".into(),
            options: BTreeMap::from([("root".into(), root.display().to_string())]),
        })
        .unwrap()
    }

    async fn store_blob(store: &OpendalBlobStore, bytes: &'static [u8]) -> String {
        let key = new_blob_key();
        let mut writer = store.create(&key).await.unwrap();
        writer.write(Bytes::from_static(bytes)).await.unwrap();
        writer.finish().await.unwrap();
        key
    }

    async fn read_bytes(
        store: &OpendalBlobStore,
        key: &str,
        range: Range<u64>,
    ) -> Result<Vec<u8>, String> {
        let stream = store.read(key, range).await.map_err(|e| e.to_string())?;
        let parts: Vec<Bytes> = stream.try_collect().await.map_err(|e| e.to_string())?;
        Ok(parts.concat())
    }

    /// Files under `dir`, relative to it, sorted.
    fn files_under(dir: &Path) -> Vec<String> {
        fn walk(base: &Path, dir: &Path, found: &mut Vec<String>) {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    walk(base, &path, found);
                } else {
                    let relative = path.strip_prefix(base).unwrap();
                    found.push(relative.display().to_string());
                }
            }
        }
        let mut found = Vec::new();
        walk(dir, dir, &mut found);
        found.sort();
        found
    }

    #[tokio::test]
    async fn blobs_round_trip_with_ranges() {
        let dir = tempfile::tempdir().unwrap();
        let store = fs_store(dir.path());
        let key = new_blob_key();
        let mut writer = store.create(&key).await.unwrap();
        writer.write(Bytes::from_static(b"hello ")).await.unwrap();
        writer.write(Bytes::from_static(b"world")).await.unwrap();
        writer.finish().await.unwrap();

        let read = |range| read_bytes(&store, &key, range);
        assert_eq!(read(0..11).await.unwrap(), b"hello world");
        assert_eq!(read(6..11).await.unwrap(), b"world");
        assert_eq!(read(3..3).await.unwrap(), b"");

        store.delete(&key).await.unwrap();
        assert!(read(0..1).await.is_err());
    }

    #[tokio::test]
    async fn uploads_appear_only_when_finished_and_aborts_leave_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = fs_store(dir.path());
        let key = new_blob_key();
        let mut writer = store.create(&key).await.unwrap();
        writer.write(Bytes::from_static(b"partial")).await.unwrap();
        writer
            .write(Bytes::from_static(b" and more"))
            .await
            .unwrap();
        let in_progress = files_under(dir.path());
        assert_eq!(in_progress.len(), 1, "{in_progress:?}");
        assert!(in_progress[0].starts_with("tmp/"), "{in_progress:?}");
        assert!(read_bytes(&store, &key, 0..1).await.is_err());
        writer.abort().await;
        assert!(files_under(dir.path()).is_empty());

        let kept = store_blob(&store, b"complete").await;
        assert_eq!(files_under(dir.path()), [kept]);
    }

    #[tokio::test]
    async fn listing_shows_complete_blobs_only_and_stale_partial_uploads_go() {
        let dir = tempfile::tempdir().unwrap();
        let store = fs_store(dir.path());
        let mut keys = vec![
            store_blob(&store, b"one").await,
            store_blob(&store, b"two").await,
        ];
        std::fs::write(dir.path().join("notes.txt"), b"not a blob").unwrap();
        let mut unfinished = store.create(&new_blob_key()).await.unwrap();
        unfinished.write(Bytes::from_static(b"cut")).await.unwrap();

        let listed: Vec<ListedBlob> = store.list().await.unwrap().try_collect().await.unwrap();
        let mut listed_keys: Vec<String> = listed.iter().map(|b| b.key.clone()).collect();
        listed_keys.sort();
        keys.sort();
        assert_eq!(listed_keys, keys);
        assert!(listed.iter().all(|b| b.modified.is_some()));

        let an_hour_ago = SystemTime::now() - std::time::Duration::from_secs(3600);
        assert_eq!(store.remove_partial_uploads(an_hour_ago).await.unwrap(), 0);
        let later = SystemTime::now() + std::time::Duration::from_secs(1);
        assert_eq!(store.remove_partial_uploads(later).await.unwrap(), 1);
        let mut remaining = files_under(dir.path());
        remaining.retain(|file| file.starts_with("tmp/"));
        assert!(remaining.is_empty(), "{remaining:?}");
    }

    #[test]
    fn only_generated_keys_are_blob_keys() {
        assert!(is_blob_key(&new_blob_key()));
        assert!(!is_blob_key("notes.txt"));
        assert!(!is_blob_key("tmp/0123456789abcdef0123456789abcdef"));
        assert!(!is_blob_key("ef/0123456789abcdef0123456789abcdef/x"));
        assert!(!is_blob_key("ef/0123456789ABCDEF0123456789abcdef"));
    }

    #[test]
    fn segments_name_their_blob() {
        let key = new_blob_key();
        let upload = Uuid::new_v4();
        let segment = format!("{SWIFT_SEGMENTS_DIR}{key}{upload}/00000001");
        assert_eq!(segment_blob_key(&segment), Some(key.as_str()));
        assert_eq!(segment_blob_key(&format!("{key}{upload}/00000001")), None);
        assert_eq!(
            segment_blob_key(&format!("{SWIFT_SEGMENTS_DIR}{key}")),
            None
        );
        assert_eq!(
            segment_blob_key(&format!("{SWIFT_SEGMENTS_DIR}blob/large{upload}/00000001")),
            None
        );
        let split_char = format!("{SWIFT_SEGMENTS_DIR}{}é{upload}/00000001", "a".repeat(34));
        assert_eq!(segment_blob_key(&split_char), None);
    }
}
