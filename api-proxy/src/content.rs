//! File content through the REST API, in the desktop client's chunk format
//! (`nimbus-chunks`): uploads are cut, named, compressed and stored as chunk
//! objects in the workspace's container exactly as a desktop client stores
//! them through the Swift API, and downloads open and join those chunks.
//!
//! Both directions stream in bounded memory: the request body goes to a
//! blocking thread that runs the [`Chunker`] through a bounded channel, and
//! sealed chunks come back through another; a download fetches a few chunks
//! ahead. Chunks the container already has are not stored again. Chunks are
//! written through the proxy's own object index and blob store, never over
//! HTTP to itself.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::io::Read;
use std::sync::Arc;

use actix_web::error::PayloadError;
use bytes::Bytes;
use futures::stream::FuturesOrdered;
use futures::{Stream, StreamExt, TryStreamExt, stream};
use nimbus_chunks::{
    Chunker, ChunkerParams, ContentHasher, SealedChunk, WorkspaceKeys, open_chunk,
};
use nimbus_protocol::RpcClient;
use nimbus_protocol::rpc::{
    ChunkPlace, ChunkRef, Content, EncryptionMode, ItemState, WorkspaceInfo,
};
use tokio::sync::mpsc;

use crate::blobs::BlobStore;
use crate::chunk_collection;
use crate::error::rest::RestError;
use crate::index::{ContainerUpdate, ObjectIndex, ObjectRecord, PutOutcome};
use crate::state::AppState;
use crate::swift::body::{self, Piece, Source};
use crate::timestamp::Timestamp;

/// Chunks fetched ahead of the one being sent.
const DOWNLOAD_AHEAD: usize = 4;
/// Chunks of an upload stored at once. Storing one is mostly waiting (an
/// index lookup, a blob written and fsynced, its index row committed), so
/// that they overlap, as a desktop client's chunk `PUT`s do.
const STORES_IN_FLIGHT: usize = 8;
/// Body bytes handed to the chunker's thread at once. A request body arrives
/// in parts of some KiB; passing each alone woke that thread for every part,
/// and on a busy machine each wake-up waits for a core.
const FEED_BATCH: usize = 1024 * 1024;
/// Batches queued for the chunker's thread.
const FEED_QUEUE: usize = 4;

/// The chunk keys of a workspace whose content the proxy may handle.
pub fn keys_for(workspace: &WorkspaceInfo) -> Result<WorkspaceKeys, RestError> {
    match workspace.encryption {
        EncryptionMode::None | EncryptionMode::Server => {
            Ok(WorkspaceKeys::plain(workspace.workspace_id))
        }
        EncryptionMode::Client => Err(RestError::EncryptedWorkspace(workspace.name.clone())),
    }
}

/// Where the chunks of `item`, a file version of `workspace`, are read,
/// and the keys that open them: the workspace's own, or, while the version
/// is one of a converted folder not re-keyed yet
/// ([`ItemState::chunk_workspace`]), those of the workspace whose keys made
/// them, in its container. That one is always plain: conversion refuses
/// end-to-end encrypted workspaces.
pub fn reader_for(
    app: &AppState,
    workspace: &WorkspaceInfo,
    item: &ItemState,
) -> Result<(ChunkStore, WorkspaceKeys), RestError> {
    let keys = keys_for(workspace)?;
    Ok(match &item.chunk_workspace {
        Some(place) => place_reader(app, place),
        None => (ChunkStore::new(app, workspace), keys),
    })
}

/// The chunks of `place` with its plain keys.
pub fn place_reader(app: &AppState, place: &ChunkPlace) -> (ChunkStore, WorkspaceKeys) {
    (
        ChunkStore::in_container(app, &place.storage_account, &place.container),
        WorkspaceKeys::plain(place.workspace_id),
    )
}

/// Where a workspace's chunks live.
#[derive(Clone)]
pub struct ChunkStore {
    pub index: Arc<dyn ObjectIndex>,
    pub blobs: Arc<dyn BlobStore>,
    /// To lift collection claims on the chunks stored or found.
    pub rpc: RpcClient,
    /// Chunks up to this size are kept in their index rows.
    pub inline_max: u64,
    pub account: String,
    pub container: String,
}

impl ChunkStore {
    pub fn new(app: &AppState, workspace: &WorkspaceInfo) -> Self {
        Self::in_container(app, &workspace.storage_account, &workspace.container)
    }

    /// The chunks of `container` in the Swift account `account`.
    pub fn in_container(app: &AppState, account: &str, container: &str) -> Self {
        Self {
            index: Arc::clone(&app.index),
            blobs: Arc::clone(&app.blobs),
            rpc: app.rpc.clone(),
            inline_max: app.settings.inline_object_max_bytes,
            account: account.to_owned(),
            container: container.to_owned(),
        }
    }

    /// Stores `chunk` unless the container has it; returns whether it was
    /// new. Either way the chunk is confirmed ([`chunk_collection::confirm`]),
    /// as the upload will commit a version listing it.
    pub async fn put(&self, chunk: SealedChunk) -> Result<bool, RestError> {
        let id = chunk.id.clone();
        let path = (self.account.as_str(), self.container.as_str(), id.as_str());
        let index = self.index.as_ref();
        match self.store(chunk).await? {
            Some(claim_held) => {
                chunk_collection::stored(index, &self.rpc, path, claim_held).await;
                Ok(true)
            }
            None => {
                chunk_collection::confirm(index, &self.rpc, path).await;
                Ok(false)
            }
        }
    }

    /// Stores `chunk` unless the container has it (`None`); when stored,
    /// whether a collection claim may hold it
    /// ([`crate::index::PutResult::claim_held`]).
    async fn store(&self, chunk: SealedChunk) -> Result<Option<bool>, RestError> {
        // Checking first spares writing a blob; a chunk bound for the index
        // row is refused by the insert itself, one round trip fewer.
        let inline = chunk.sealed.len() as u64 <= self.inline_max;
        if !inline
            && self
                .index
                .object(&self.account, &self.container, &chunk.id)
                .await?
                .is_some()
        {
            return Ok(None);
        }
        let sealed = Bytes::from(chunk.sealed);
        let stored = body::store_whole(self.blobs.as_ref(), sealed, self.inline_max)
            .await
            .map_err(|e| RestError::from_store(&format!("chunk {}", chunk.id), e))?;
        let record = ObjectRecord {
            name: chunk.id,
            content: stored.content,
            size: stored.size,
            etag: stored.etag,
            content_type: "application/octet-stream".into(),
            meta: Default::default(),
            modified: Timestamp::now(),
            manifest: None,
            delete_at: None,
            symlink: None,
        };
        let result = self
            .index
            .put_object(&self.account, &self.container, &record, false)
            .await;
        if !matches!(&result, Ok(put) if put.outcome == PutOutcome::Stored) {
            body::discard(self.blobs.as_ref(), &record.content).await;
        }
        let result = result?;
        match result.outcome {
            PutOutcome::Stored => Ok(Some(result.claim_held)),
            // Stored meanwhile by another upload: same id, same content.
            PutOutcome::AlreadyExists => Ok(None),
            PutOutcome::ContainerMissing => Err(RestError::Internal(format!(
                "the container of workspace chunks {} is missing",
                self.container
            ))),
        }
    }

    /// The sealed bytes of one chunk.
    async fn get(&self, id: &str) -> Result<Bytes, RestError> {
        let record = self
            .index
            .object(&self.account, &self.container, id)
            .await?
            .filter(|r| r.manifest.is_none() && r.symlink.is_none())
            .ok_or_else(|| {
                RestError::Internal(format!("chunk {id} is missing from the object store"))
            })?;
        let source = Source::of(&record.content)
            .ok_or_else(|| RestError::Internal(format!("chunk {id} was read without its bytes")))?;
        let whole = [Piece::whole(source, record.size)];
        let parts: Vec<Bytes> = body::stream_range(Arc::clone(&self.blobs), &whole, 0..record.size)
            .try_collect()
            .await
            .map_err(|e| RestError::Internal(format!("reading chunk {id}: {e}")))?;
        Ok(parts.concat().into())
    }
}

/// Reads what the request handler feeds through a channel: batches of
/// parts of the body, then `None` at its end. A channel closed before that
/// end is a body cut short, an error, so that its unfinished tail is not
/// taken for the last chunk of a file.
struct ChannelReader {
    receiver: mpsc::Receiver<Option<Vec<Bytes>>>,
    /// The parts of the batch being read, last first.
    batch: Vec<Bytes>,
    current: Bytes,
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.current.is_empty() {
            if let Some(part) = self.batch.pop() {
                self.current = part;
                continue;
            }
            match self.receiver.blocking_recv() {
                Some(Some(mut batch)) => {
                    batch.reverse();
                    self.batch = batch;
                }
                Some(None) => return Ok(0),
                None => {
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::UnexpectedEof,
                        "the body was cut short",
                    ));
                }
            }
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current.split_to(n));
        Ok(n)
    }
}

/// Makes the workspace's container, which chunks are stored in, when it
/// does not exist yet.
pub async fn prepare(store: &ChunkStore) -> Result<(), RestError> {
    store
        .index
        .put_container(
            &store.account,
            &store.container,
            &ContainerUpdate::default(),
        )
        .await?;
    Ok(())
}

/// Cuts `body` into chunks, stores the new ones, and returns the content to
/// commit. Nothing is committed here; whole chunks stored before a failure
/// stay (like a desktop client's) and are reused by the next upload, but
/// the tail of a body cut short is not stored.
pub async fn upload(
    store: &ChunkStore,
    keys: WorkspaceKeys,
    body: impl Stream<Item = Result<Bytes, PayloadError>> + Unpin,
) -> Result<Content, RestError> {
    prepare(store).await?;
    let hasher = ContentHasher::new(&keys);
    let piece = store_piece(store, keys, Bytes::new(), body, None, Some(hasher)).await;
    if let Some(failure) = piece.failure {
        return Err(failure);
    }
    let hasher = piece.hasher.expect("given one");
    Ok(Content {
        size: hasher.len(),
        content_hash: Some(hasher.finish()),
        chunks: piece.chunks,
        chunker: Some(ChunkerParams::DEFAULT.describe()),
    })
}

/// What [`store_piece`] stored of a piece of a file.
pub struct StoredPiece {
    /// The chunks stored, in file order.
    pub chunks: Vec<ChunkRef>,
    /// The bytes after them (of the prefix and the body), not stored.
    pub rest: Vec<u8>,
    /// The hasher given, having hashed the stored chunks' bytes.
    pub hasher: Option<ContentHasher>,
    /// Why the piece stopped short; `chunks` and `rest` are still right.
    pub failure: Option<RestError>,
}

/// The bytes received and not yet part of a stored chunk, in order.
#[derive(Default)]
struct Unstored {
    parts: VecDeque<Bytes>,
}

impl Unstored {
    /// Takes the first `len` bytes, which a chunk just stored covers, into
    /// `hasher`.
    fn take(&mut self, mut len: usize, hasher: &mut Option<ContentHasher>) {
        while len > 0 {
            let Some(front) = self.parts.front_mut() else {
                return;
            };
            let n = len.min(front.len());
            if let Some(hasher) = hasher {
                hasher.update(&front[..n]);
            }
            let _ = front.split_to(n);
            if front.is_empty() {
                self.parts.pop_front();
            }
            len -= n;
        }
    }

    fn into_vec(self) -> Vec<u8> {
        let mut all = Vec::with_capacity(self.parts.iter().map(Bytes::len).sum());
        for part in &self.parts {
            all.extend_from_slice(part);
        }
        all
    }
}

/// Cuts `prefix` and then `body` into chunks, as one stream, and stores the
/// new ones. With `file_end` `None` the body ends the file; with `Some(n)`
/// the file ends after `n` more body bytes (a longer body is refused), and
/// when the body stops before, the last chunk is not stored, because its end
/// is where the body stopped rather than a boundary the chunker would find
/// in the whole file: its bytes are returned in `rest`, to be the prefix of
/// the next piece. So a file sent in pieces is cut exactly as if sent whole.
///
/// `hasher`, when given, hashes the bytes of the stored chunks.
///
/// Memory is bounded whatever the size: the chunker's buffer, two bounded
/// channels, the chunks being stored and the last chunk held back.
pub async fn store_piece(
    store: &ChunkStore,
    keys: WorkspaceKeys,
    prefix: Bytes,
    body: impl Stream<Item = Result<Bytes, PayloadError>> + Unpin,
    file_end: Option<u64>,
    hasher: Option<ContentHasher>,
) -> StoredPiece {
    let unstored = RefCell::new(Unstored::default());
    let hasher = RefCell::new(hasher);
    // The channel ends move into the tasks below, so that either one
    // stopping early closes its channel and stops the chunker.
    let (unstored_ref, hasher_ref) = (&unstored, &hasher);
    let (bytes_tx, bytes_rx) = mpsc::channel::<Option<Vec<Bytes>>>(FEED_QUEUE);
    let (chunk_tx, mut chunk_rx) = mpsc::channel(4);
    let chunker = tokio::task::spawn_blocking(move || {
        let reader = ChannelReader {
            receiver: bytes_rx,
            batch: Vec::new(),
            current: Bytes::new(),
        };
        // The file's hash is `hasher`'s, over the stored chunks only.
        let mut chunker =
            Chunker::new(reader, &keys, ChunkerParams::DEFAULT).without_content_hash();
        for chunk in chunker.by_ref() {
            if chunk_tx.blocking_send(chunk).is_err() {
                return false;
            }
        }
        true
    });
    let feed = async move {
        let mut body = body;
        let mut received = 0u64;
        let mut batch = Vec::new();
        let mut batched = 0;
        if !prefix.is_empty() {
            batched = prefix.len();
            unstored_ref.borrow_mut().parts.push_back(prefix.clone());
            batch.push(prefix);
        }
        // Sends the batch gathered so far; false when the chunker stopped,
        // whose error is then the one to report.
        let send = async |batch: &mut Vec<Bytes>, batched: &mut usize| {
            *batched = 0;
            batch.is_empty() || bytes_tx.send(Some(std::mem::take(batch))).await.is_ok()
        };
        loop {
            let bytes = match body.next().await {
                Some(Ok(bytes)) => bytes,
                // What arrived before the body broke off is still chunked.
                Some(Err(error)) => {
                    send(&mut batch, &mut batched).await;
                    return Err(error.into());
                }
                None => break,
            };
            received += bytes.len() as u64;
            if file_end.is_some_and(|end| received > end) {
                return Err(RestError::BadRequest(
                    "the body has more bytes than the file has left".into(),
                ));
            }
            batched += bytes.len();
            unstored_ref.borrow_mut().parts.push_back(bytes.clone());
            batch.push(bytes);
            if batched >= FEED_BATCH && !send(&mut batch, &mut batched).await {
                return Ok(false);
            }
        }
        if !send(&mut batch, &mut batched).await {
            return Ok(false);
        }
        let _ = bytes_tx.send(None).await;
        Ok::<_, RestError>(file_end.is_none_or(|end| received == end))
    };
    let mut chunks = Vec::new();
    // A stored chunk's bytes leave the unstored ones for the hasher, in
    // file order.
    let record = |reference: ChunkRef, chunks: &mut Vec<ChunkRef>| {
        unstored_ref
            .borrow_mut()
            .take(reference.size as usize, &mut hasher_ref.borrow_mut());
        chunks.push(reference);
    };
    let store_one = async |chunk: SealedChunk| {
        let reference = ChunkRef {
            id: chunk.id.clone(),
            size: chunk.plain_len,
        };
        store.put(chunk).await.map(|_| reference)
    };
    let (record, store_one) = (&record, &store_one);
    let chunks_ref = &mut chunks;
    let consume = async move {
        // Each chunk is stored once the next one shows it was not the last,
        // [`STORES_IN_FLIGHT`] at a time, and recorded in file order.
        let mut held: Option<SealedChunk> = None;
        let mut storing = FuturesOrdered::new();
        let mut failure = None;
        loop {
            tokio::select! {
                Some(stored) = storing.next(), if !storing.is_empty() => match stored {
                    Ok(reference) => record(reference, chunks_ref),
                    Err(error) => {
                        failure = Some(error);
                        break;
                    }
                },
                chunk = chunk_rx.recv(), if storing.len() < STORES_IN_FLIGHT => match chunk {
                    None => break,
                    Some(Err(error)) => {
                        failure = Some(RestError::Internal(format!("chunking: {error}")));
                        break;
                    }
                    Some(Ok(chunk)) => {
                        if let Some(previous) = held.replace(chunk) {
                            storing.push_back(store_one(previous));
                        }
                    }
                },
            }
        }
        // The stores under way finish (none is cut off halfway); those
        // after a failure are not recorded, so the chunks kept stay a
        // prefix of the file.
        while let Some(stored) = storing.next().await {
            match stored {
                Ok(reference) if failure.is_none() => record(reference, chunks_ref),
                Ok(_) => {}
                Err(error) => {
                    failure.get_or_insert(error);
                }
            }
        }
        match failure {
            Some(error) => Err(error),
            None => Ok(held),
        }
    };
    let (fed, held) = futures::join!(feed, consume);
    let chunked = chunker
        .await
        .map_err(|e| RestError::Internal(format!("the chunker stopped: {e}")));
    let failure = match (fed, held, chunked) {
        (Err(error), _, _) | (_, Err(error), _) | (_, _, Err(error)) => Some(error),
        (Ok(_), Ok(_), Ok(false)) => Some(RestError::Internal("the chunker stopped early".into())),
        (Ok(complete), Ok(held), Ok(true)) => match held {
            Some(last) if complete => match store_one(last).await {
                Ok(reference) => {
                    record(reference, &mut chunks);
                    None
                }
                Err(error) => Some(error),
            },
            _ => None,
        },
    };
    StoredPiece {
        chunks,
        rest: unstored.into_inner().into_vec(),
        hasher: hasher.into_inner(),
        failure,
    }
}

/// The plaintext of `content`, chunk by chunk, each checked against its id
/// and listed size.
pub fn download(
    store: ChunkStore,
    keys: WorkspaceKeys,
    content: &Content,
) -> impl Stream<Item = Result<Bytes, RestError>> + 'static {
    let chunks = content
        .chunks
        .iter()
        .map(|chunk| (store.clone(), keys.clone(), chunk.clone()))
        .collect();
    download_chunks(chunks)
}

/// The plaintext of `chunks`, each read from its own store with its own
/// keys (the files of a zip need not all be under the same keys).
pub fn download_chunks(
    chunks: Vec<(ChunkStore, WorkspaceKeys, ChunkRef)>,
) -> impl Stream<Item = Result<Bytes, RestError>> + 'static {
    stream::iter(chunks)
        .map(move |(store, keys, chunk)| async move {
            let sealed = store.get(&chunk.id).await?;
            let id = chunk.id.clone();
            let plain = tokio::task::spawn_blocking(move || open_chunk(&keys, &id, &sealed))
                .await
                .map_err(|e| RestError::Internal(format!("the chunk decoder stopped: {e}")))?
                .map_err(|e| RestError::Internal(format!("chunk {}: {e}", chunk.id)))?;
            if plain.len() != chunk.size as usize {
                return Err(RestError::Internal(format!(
                    "chunk {} has {} bytes, the version lists {}",
                    chunk.id,
                    plain.len(),
                    chunk.size
                )));
            }
            Ok(Bytes::from(plain))
        })
        .buffered(DOWNLOAD_AHEAD)
}

#[cfg(test)]
mod tests {
    use actix_web::ResponseError;
    use nimbus_protocol::rpc::Role;
    use uuid::Uuid;

    use super::*;

    fn workspace(encryption: EncryptionMode) -> WorkspaceInfo {
        WorkspaceInfo {
            workspace_id: Uuid::from_u128(9),
            name: "Secrets".into(),
            owner_id: Uuid::from_u128(1),
            role: Role::Owner,
            encryption,
            revision: 0,
            container: Uuid::from_u128(9).to_string(),
            storage_account: "AUTH_alice".into(),
            mount_parent: None,
            is_default: false,
            key_check: (encryption == EncryptionMode::Client).then(|| "ab".repeat(16)),
            converted_from: None,
        }
    }

    #[test]
    fn content_of_end_to_end_encrypted_workspaces_is_refused_clearly() {
        let error = keys_for(&workspace(EncryptionMode::Client)).unwrap_err();
        assert_eq!(error.status_code(), 403);
        assert_eq!(error.code(), "encrypted_workspace");
        let text = error.to_string();
        assert!(
            text.contains("\"Secrets\"") && text.contains("passphrase"),
            "{text}"
        );
        for mode in [EncryptionMode::None, EncryptionMode::Server] {
            let keys = keys_for(&workspace(mode)).unwrap();
            assert!(!keys.is_encrypted());
        }
    }
}
