//! The real [`Remote`]: metadata over the AMQP RPC ([`RpcClient`]), chunks
//! through the proxy's Swift API.
//!
//! * **Upload** streams: a blocking thread cuts the file with
//!   [`nimbus_chunks::Chunker`] and hands sealed chunks to the async side
//!   through a bounded channel; the async side asks `HEAD` for each chunk and
//!   `PUT`s only the missing ones, [`NimbusRemote::concurrency`] at a time.
//!   Small chunks skip the `HEAD`: a conditional `PUT` (`If-None-Match: *`)
//!   stores them or finds them there in one request.
//!   Memory stays bounded by the channel and the requests in flight (a few
//!   MiB), whatever the file size.
//! * **Download** fetches chunks in order, a few ahead, opens each with
//!   [`open_chunk`] (which checks it against its id, a keyed hash of the
//!   plaintext) and appends it to the writer (the engine's temp file). The
//!   file's bytes are therefore exactly the chunks its version lists; sizes
//!   are checked too.
//!   The whole file is also hashed as it is written and compared with the
//!   version's content hash.
//! * Chunks already known to be stored are remembered for the process, so
//!   a rescan or a second version of a file does not `HEAD` them again.

use std::collections::HashSet;
use std::io::{self, Read, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use futures::stream::{FuturesUnordered, StreamExt};
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use nimbus_chunks::{
    Chunker, ChunkerParams, SealedChunk, WorkspaceKeys, content_hash_reader, open_chunk,
};
use nimbus_protocol::RpcClient;
use nimbus_protocol::client::ClientError;
use nimbus_protocol::rpc::{
    ChunkPlace, ChunkRef, CommitArgs, CommitItem, CommitReply, Content, DeviceToken,
    EncryptionMode, ErrorCode, GetChangesArgs, ItemState, Revision, Role, WorkspaceInfo,
};
use reqwest::StatusCode;
use uuid::Uuid;

use crate::remote::{Remote, RemoteError};

/// Sealed chunks up to this size are sent without asking `HEAD` first: if
/// the store has them, sending the bytes costs about as much as the round
/// trip, and a new one (the usual case for a small file) then takes one
/// request instead of two.
const PUT_WITHOUT_HEAD_MAX: usize = 64 * 1024;

/// Counters of what went over the wire, for logs, tests and benchmarks.
#[derive(Debug, Default)]
pub struct TransferStats {
    /// Chunks sent with `PUT` (they were missing).
    pub chunks_put: AtomicU64,
    /// Stored bytes sent with those `PUT`s.
    pub bytes_put: AtomicU64,
    /// Chunks that were already stored (found by `HEAD`, a refused
    /// conditional `PUT`, or remembered).
    pub chunks_skipped: AtomicU64,
    /// Chunks fetched with `GET`.
    pub chunks_got: AtomicU64,
    /// Stored bytes received.
    pub bytes_got: AtomicU64,
}

impl TransferStats {
    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }
}

/// The server of one workspace: RPC for metadata, HTTP for chunks.
pub struct NimbusRemote {
    rpc: RpcClient,
    token: DeviceToken,
    workspace_id: Uuid,
    keys: WorkspaceKeys,
    http: reqwest::Client,
    /// `{storage_url}/{container}`.
    container_url: String,
    /// The account URL of the workspace and its account, to reach the
    /// containers of [`ChunkPlace`]s.
    storage_url: String,
    storage_account: String,
    /// Chunk requests in flight per file.
    pub concurrency: usize,
    stored: Arc<Mutex<HashSet<String>>>,
    stats: Arc<TransferStats>,
    progress: Option<MultiProgress>,
}

/// Maps an RPC failure to what the engine can act on.
pub fn rpc_error(error: ClientError) -> RemoteError {
    match error.rpc_code() {
        Some(ErrorCode::Unauthenticated) => RemoteError::Unauthenticated(error.to_string()),
        _ => RemoteError::Unavailable(error.to_string()),
    }
}

fn http_error(context: &str, error: reqwest::Error) -> RemoteError {
    RemoteError::Unavailable(format!("{context}: {error}"))
}

fn status_error(context: &str, status: StatusCode) -> RemoteError {
    match status {
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
            RemoteError::Unauthenticated(format!("{context}: the object store answered {status}"))
        }
        // Nothing was stored; the upload is retried, and committed only
        // once all its chunks are stored.
        StatusCode::INSUFFICIENT_STORAGE => RemoteError::Unavailable(format!(
            "{context}: the server's object store is full ({status}); its administrator must \
             free space"
        )),
        _ => RemoteError::Unavailable(format!("{context}: the object store answered {status}")),
    }
}

impl NimbusRemote {
    /// The remote of `workspace`, storing chunks under `storage_url` (the
    /// account URL, `Account::storage_url`) and sealing them with `keys`
    /// (see [`crate::passphrase::unlock`]). Makes sure the container of an owned workspace exists.
    pub async fn connect(
        rpc: RpcClient,
        token: DeviceToken,
        workspace: &WorkspaceInfo,
        storage_url: &str,
        keys: WorkspaceKeys,
    ) -> Result<Self, RemoteError> {
        // Plain keys would upload readable chunks into an encrypted workspace.
        if workspace.encryption == EncryptionMode::Client && !keys.is_encrypted() {
            return Err(RemoteError::Io(io::Error::other(format!(
                "workspace \"{}\" is end-to-end encrypted but was opened without its passphrase's keys",
                workspace.name
            ))));
        }
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(300))
            .build()
            .map_err(|e| http_error("building the HTTP client", e))?;
        let remote = Self {
            rpc,
            token,
            workspace_id: workspace.workspace_id,
            keys,
            http,
            container_url: format!(
                "{}/{}",
                storage_url.trim_end_matches('/'),
                workspace.container
            ),
            storage_url: storage_url.to_owned(),
            storage_account: workspace.storage_account.clone(),
            concurrency: 8,
            stored: Arc::default(),
            stats: Arc::default(),
            progress: None,
        };
        // Members use the owner's container as it is; only its owner makes it.
        if workspace.role == Role::Owner {
            remote.ensure_container().await?;
        }
        Ok(remote)
    }

    /// Shows a progress bar per transfer on `progress`.
    pub fn with_progress(mut self, progress: MultiProgress) -> Self {
        self.progress = Some(progress);
        self
    }

    pub fn stats(&self) -> Arc<TransferStats> {
        self.stats.clone()
    }

    pub fn rpc(&self) -> &RpcClient {
        &self.rpc
    }

    pub fn workspace_id(&self) -> Uuid {
        self.workspace_id
    }

    async fn ensure_container(&self) -> Result<(), RemoteError> {
        let response = self
            .http
            .put(&self.container_url)
            .header("X-Auth-Token", &self.token.0)
            .send()
            .await
            .map_err(|e| http_error("creating the workspace container", e))?;
        match response.status() {
            StatusCode::CREATED | StatusCode::ACCEPTED | StatusCode::NO_CONTENT => Ok(()),
            status => Err(status_error("creating the workspace container", status)),
        }
    }

    fn chunk_url(&self, id: &str) -> String {
        format!("{}/{id}", self.container_url)
    }

    fn bar(&self, length: Option<u64>, message: &'static str) -> ProgressBar {
        let Some(multi) = &self.progress else {
            return ProgressBar::hidden();
        };
        let bar = match length {
            Some(length) => ProgressBar::new(length).with_style(
                ProgressStyle::with_template(
                    "{msg:9} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
            ),
            None => ProgressBar::no_length().with_style(
                ProgressStyle::with_template("{msg:9} {spinner} {bytes} {bytes_per_sec}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            ),
        };
        bar.set_message(message);
        multi.add(bar)
    }

    /// Stores one sealed chunk unless the container has it. Chunks up to
    /// [`PUT_WITHOUT_HEAD_MAX`] go straight to a conditional `PUT`; larger
    /// ones are first looked up with `HEAD`, so that a known chunk is not
    /// sent again.
    async fn store_chunk(&self, chunk: SealedChunk) -> Result<(), RemoteError> {
        if self.stored.lock().expect("chunk cache").contains(&chunk.id) {
            self.stats.chunks_skipped.fetch_add(1, Ordering::Relaxed);
            return Ok(());
        }
        let url = self.chunk_url(&chunk.id);
        let missing =
            chunk.sealed.len() <= PUT_WITHOUT_HEAD_MAX || !self.has_chunk(&chunk.id).await?;
        let stored_now = missing && self.put_if_missing(&url, chunk.sealed).await?;
        if !stored_now {
            self.stats.chunks_skipped.fetch_add(1, Ordering::Relaxed);
        }
        self.stored.lock().expect("chunk cache").insert(chunk.id);
        Ok(())
    }

    /// `PUT`s a chunk with `If-None-Match: *`: a chunk id names its bytes,
    /// so a copy stored meanwhile (by another device) is as good, and is
    /// not overwritten. Returns whether these bytes were stored.
    async fn put_if_missing(&self, url: &str, sealed: Vec<u8>) -> Result<bool, RemoteError> {
        let length = sealed.len() as u64;
        let response = self
            .http
            .put(url)
            .header("X-Auth-Token", &self.token.0)
            .header("Content-Type", "application/octet-stream")
            .header("If-None-Match", "*")
            .body(sealed)
            .send()
            .await
            .map_err(|e| http_error("uploading a chunk", e))?;
        match response.status() {
            StatusCode::CREATED => {
                self.stats.chunks_put.fetch_add(1, Ordering::Relaxed);
                self.stats.bytes_put.fetch_add(length, Ordering::Relaxed);
                Ok(true)
            }
            StatusCode::PRECONDITION_FAILED => Ok(false),
            status => Err(status_error("uploading a chunk", status)),
        }
    }

    /// Whether the store has chunk `id`, asked with `HEAD` (whatever this
    /// process remembers: the store may have lost it since).
    async fn has_chunk(&self, id: &str) -> Result<bool, RemoteError> {
        let head = self
            .http
            .head(self.chunk_url(id))
            .header("X-Auth-Token", &self.token.0)
            .send()
            .await
            .map_err(|e| http_error("checking a chunk", e))?;
        match head.status() {
            StatusCode::OK | StatusCode::NO_CONTENT => Ok(true),
            StatusCode::NOT_FOUND => Ok(false),
            status => Err(status_error("checking a chunk", status)),
        }
    }

    /// Uploads again the chunks of `content` that the store lacks, cut
    /// from `reader`, this device's copy of that content: how a workspace
    /// whose store lost chunks heals (a `content_missing` event). Returns
    /// how many chunks were stored; fails, storing nothing wrong, when the
    /// copy does not give every chunk the version lists (it changed since).
    pub async fn restore(
        &self,
        content: &Content,
        reader: Box<dyn Read + Send>,
    ) -> Result<usize, RemoteError> {
        let params = match content.chunker.as_deref() {
            Some(description) => ChunkerParams::from_description(description)
                .map_err(|e| RemoteError::Corrupt(format!("the version's chunker: {e}")))?,
            None => ChunkerParams::DEFAULT,
        };
        let mut wanted: HashSet<String> = content.chunks.iter().map(|c| c.id.clone()).collect();
        let (sender, mut receiver) = tokio::sync::mpsc::channel::<SealedChunk>(2);
        let keys = self.keys.clone();
        let chunking = tokio::task::spawn_blocking(move || {
            for chunk in Chunker::new(reader, &keys, params) {
                let chunk = chunk.map_err(io::Error::other)?;
                if sender.blocking_send(chunk).is_err() {
                    break;
                }
            }
            Ok::<_, io::Error>(())
        });
        let mut stored = 0;
        while let Some(chunk) = receiver.recv().await {
            if !wanted.remove(&chunk.id) {
                continue;
            }
            if !self.has_chunk(&chunk.id).await?
                && self
                    .put_if_missing(&self.chunk_url(&chunk.id), chunk.sealed)
                    .await?
            {
                stored += 1;
            }
        }
        chunking
            .await
            .map_err(|e| RemoteError::Unavailable(format!("chunker stopped: {e}")))??;
        if !wanted.is_empty() {
            return Err(RemoteError::Corrupt(format!(
                "the local copy lacks {} chunks of the version; it changed since it was scanned",
                wanted.len()
            )));
        }
        Ok(stored)
    }

    /// Where the chunks of a version are and the keys that open them: this
    /// workspace's, or those of `place` (a converted folder's versions not
    /// yet re-keyed: a plain workspace's keys derive from its id).
    fn chunk_source(&self, place: Option<&ChunkPlace>) -> Result<ChunkSource, RemoteError> {
        let Some(place) = place.filter(|p| p.workspace_id != self.workspace_id) else {
            return Ok(ChunkSource {
                container_url: self.container_url.clone(),
                keys: self.keys.clone(),
            });
        };
        if self.keys.is_encrypted() {
            return Err(RemoteError::Corrupt(
                "an encrypted workspace's version lists another workspace's chunks".into(),
            ));
        }
        let account = crate::daemon::account_url(
            &self.storage_url,
            &self.storage_account,
            &place.storage_account,
        )
        .ok_or_else(|| {
            RemoteError::Unavailable(format!(
                "the storage URL {} does not end with the account {}",
                self.storage_url, self.storage_account
            ))
        })?;
        Ok(ChunkSource {
            container_url: format!("{}/{}", account.trim_end_matches('/'), place.container),
            keys: WorkspaceKeys::plain(place.workspace_id),
        })
    }

    async fn fetch_chunk(
        &self,
        chunk: &ChunkRef,
        source: &ChunkSource,
    ) -> Result<Vec<u8>, RemoteError> {
        let response = self
            .http
            .get(format!("{}/{}", source.container_url, chunk.id))
            .header("X-Auth-Token", &self.token.0)
            .send()
            .await
            .map_err(|e| http_error("downloading a chunk", e))?;
        match response.status() {
            StatusCode::OK => {}
            StatusCode::NOT_FOUND => {
                return Err(RemoteError::ContentMissing(format!(
                    "chunk {} is missing from the object store",
                    chunk.id
                )));
            }
            status => return Err(status_error("downloading a chunk", status)),
        }
        let sealed = response
            .bytes()
            .await
            .map_err(|e| http_error("downloading a chunk", e))?;
        self.stats.chunks_got.fetch_add(1, Ordering::Relaxed);
        self.stats
            .bytes_got
            .fetch_add(sealed.len() as u64, Ordering::Relaxed);
        let keys = source.keys.clone();
        let id = chunk.id.clone();
        let plain = tokio::task::spawn_blocking(move || open_chunk(&keys, &id, &sealed))
            .await
            .map_err(|e| RemoteError::Unavailable(format!("chunk decoder stopped: {e}")))?
            .map_err(|e| RemoteError::Corrupt(format!("chunk {}: {e}", chunk.id)))?;
        if plain.len() != chunk.size as usize {
            return Err(RemoteError::Corrupt(format!(
                "chunk {} has {} bytes, the version lists {}",
                chunk.id,
                plain.len(),
                chunk.size
            )));
        }
        Ok(plain)
    }
}

/// The container of a version's chunks and the keys that open them.
struct ChunkSource {
    container_url: String,
    keys: WorkspaceKeys,
}

/// A reader over byte blocks sent from another thread: lets the keyed
/// content hash of a download be computed while it is written.
struct BlockReader {
    blocks: std::sync::mpsc::Receiver<Vec<u8>>,
    current: Vec<u8>,
    offset: usize,
}

impl Read for BlockReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.offset == self.current.len() {
            match self.blocks.recv() {
                Ok(block) => {
                    self.current = block;
                    self.offset = 0;
                }
                Err(_) => return Ok(0),
            }
        }
        let n = buf.len().min(self.current.len() - self.offset);
        buf[..n].copy_from_slice(&self.current[self.offset..self.offset + n]);
        self.offset += n;
        Ok(n)
    }
}

#[async_trait]
impl Remote for NimbusRemote {
    async fn changes(&self, since: Revision) -> Result<(Vec<ItemState>, Revision), RemoteError> {
        let mut items = Vec::new();
        let mut page = None;
        loop {
            let changes = self
                .rpc
                .get_changes(
                    &self.token,
                    GetChangesArgs {
                        workspace_id: self.workspace_id,
                        since,
                        page,
                        limit: None,
                    },
                )
                .await
                .map_err(rpc_error)?;
            items.extend(changes.items);
            match changes.next_page {
                Some(next) => page = Some(next),
                None => return Ok((items, changes.revision)),
            }
        }
    }

    async fn commit(
        &self,
        request_id: Uuid,
        items: Vec<CommitItem>,
    ) -> Result<CommitReply, RemoteError> {
        self.rpc
            .commit(
                &self.token,
                request_id,
                CommitArgs {
                    workspace_id: self.workspace_id,
                    items,
                },
            )
            .await
            .map_err(|error| {
                if error.rpc_code() == Some(ErrorCode::ContentMissing) {
                    // What this process remembers as stored may be gone:
                    // the next upload asks the store again.
                    self.stored.lock().expect("chunk cache").clear();
                    RemoteError::ChunksCollected(error.to_string())
                } else {
                    rpc_error(error)
                }
            })
    }

    async fn upload(&self, reader: Box<dyn Read + Send>) -> Result<Content, RemoteError> {
        let concurrency = self.concurrency.max(1);
        let (sender, mut receiver) = tokio::sync::mpsc::channel::<SealedChunk>(concurrency);
        let keys = self.keys.clone();
        let chunking = tokio::task::spawn_blocking(move || {
            let mut chunker = Chunker::new(reader, &keys, ChunkerParams::DEFAULT);
            for chunk in chunker.by_ref() {
                let chunk = chunk.map_err(io::Error::other)?;
                if sender.blocking_send(chunk).is_err() {
                    // The uploader stopped (an upload failed): stop reading.
                    return Err(io::Error::other("upload stopped"));
                }
            }
            Ok::<_, io::Error>(chunker.finish())
        });
        let bar = self.bar(None, "upload");
        let mut chunks = Vec::new();
        let mut in_flight = FuturesUnordered::new();
        let mut seen: HashSet<String> = HashSet::new();
        let mut failure = None;
        loop {
            tokio::select! {
                next = receiver.recv(), if in_flight.len() < concurrency && failure.is_none() => {
                    let Some(chunk) = next else { break };
                    chunks.push(ChunkRef { id: chunk.id.clone(), size: chunk.plain_len });
                    bar.inc(u64::from(chunk.plain_len));
                    if seen.insert(chunk.id.clone()) {
                        in_flight.push(self.store_chunk(chunk));
                    }
                }
                Some(result) = in_flight.next(), if !in_flight.is_empty() => {
                    if let Err(error) = result {
                        failure.get_or_insert(error);
                        receiver.close();
                    }
                }
                else => break,
            }
        }
        while let Some(result) = in_flight.next().await {
            if let Err(error) = result {
                failure.get_or_insert(error);
            }
        }
        drop(receiver);
        bar.finish_and_clear();
        let hashed = chunking
            .await
            .map_err(|e| RemoteError::Unavailable(format!("chunker stopped: {e}")));
        if let Some(error) = failure {
            return Err(error);
        }
        let (content_hash, size) = hashed??;
        Ok(Content {
            size,
            content_hash: Some(content_hash),
            chunks,
            chunker: Some(ChunkerParams::DEFAULT.describe()),
        })
    }

    async fn download(
        &self,
        content: &Content,
        place: Option<&ChunkPlace>,
        mut writer: Box<dyn Write + Send>,
    ) -> Result<(), RemoteError> {
        let source = self.chunk_source(place)?;
        let listed: u64 = content.chunks.iter().map(|c| u64::from(c.size)).sum();
        if listed != content.size {
            return Err(RemoteError::Corrupt(format!(
                "the version lists chunks of {listed} bytes for a file of {}",
                content.size
            )));
        }
        let bar = self.bar(Some(content.size), "download");
        // Each chunk is checked against its id when opened; the whole file
        // is checked against the version's content hash alongside.
        let (blocks, received) = std::sync::mpsc::sync_channel::<Vec<u8>>(4);
        let keys = source.keys.clone();
        let hashing = tokio::task::spawn_blocking(move || {
            content_hash_reader(
                &keys,
                BlockReader {
                    blocks: received,
                    current: Vec::new(),
                    offset: 0,
                },
            )
        });
        let written: Result<(), RemoteError> = async {
            let mut fetched = futures::stream::iter(content.chunks.clone())
                .map(|chunk| {
                    let source = &source;
                    async move { self.fetch_chunk(&chunk, source).await }
                })
                .buffered(self.concurrency.max(1));
            while let Some(plain) = fetched.next().await {
                let plain = plain?;
                writer.write_all(&plain)?;
                bar.inc(plain.len() as u64);
                let blocks = blocks.clone();
                tokio::task::spawn_blocking(move || blocks.send(plain))
                    .await
                    .map_err(|e| RemoteError::Unavailable(format!("hasher stopped: {e}")))?
                    .map_err(|_| RemoteError::Unavailable("hasher stopped".into()))?;
            }
            Ok(())
        }
        .await
        .map_err(|error| match error {
            // A member has no grant on the container of the owner's folder
            // the workspace was converted from: the version arrives once the
            // proxies have re-keyed it into the workspace's own container.
            RemoteError::Unauthenticated(why) if place.is_some() => RemoteError::Unavailable(
                format!("{why}; its chunks are still being moved into the shared folder"),
            ),
            other => other,
        });
        drop(blocks);
        bar.finish_and_clear();
        let hashed = hashing
            .await
            .map_err(|e| RemoteError::Unavailable(format!("hasher stopped: {e}")))?;
        written?;
        let (hash, size) = hashed?;
        if Some(&hash) != content.content_hash.as_ref() || size != content.size {
            return Err(RemoteError::Corrupt(format!(
                "the downloaded bytes hash to {hash} ({size} bytes), the version says {:?} ({} bytes)",
                content.content_hash, content.size
            )));
        }
        // A temporary file's writer syncs on flush: a blocking call, and
        // downloads running side by side then sync side by side.
        tokio::task::spawn_blocking(move || writer.flush())
            .await
            .map_err(|e| RemoteError::Unavailable(format!("file writer stopped: {e}")))??;
        Ok(())
    }

    fn hash_content(&self, reader: &mut dyn Read) -> io::Result<String> {
        content_hash_reader(&self.keys, reader).map(|(hash, _)| hash)
    }
}
