//! A folder downloaded as one zip: `/files/{workspace}/zip` (the whole
//! workspace) and `/files/{workspace}/{folder}/zip` for members (viewers
//! included), and the public links' `/s/{token}[/{item}]/zip` ([`super::link`]).
//!
//! The zip is written while the chunks are read, so its first bytes leave at
//! once whatever the folder's size, and memory stays bounded: the entries'
//! list (capped by `zip_max_entries`), the chunks fetched ahead by
//! [`content::download`] and a few pieces of the zip waiting for the client.
//! Entries are STORE (files are sent as they are, never re-compressed), each
//! file's size and CRC follow it in a data descriptor, and files or archives
//! past 4 GiB use zip64. Names are the paths below the folder, UTF-8 (with
//! the UTF-8 flag when not plain ASCII); empty folders are entries too.
//! The archive's length is computed from the listing before a byte is read
//! ([`zip_format::archive_len`]), so the response has a `Content-Length` and
//! browsers show how far the download is.
//!
//! A folder over the caps is refused with a page before a byte is sent. A
//! file that cannot be read mid-stream cuts the response off (the browser
//! sees a failed download, not a short zip that looks whole) and is logged.

use std::collections::HashMap;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use bytes::{Bytes, BytesMut};
use futures::{StreamExt, stream};
use nimbus_chunks::WorkspaceKeys;
use nimbus_protocol::rpc::{ChunkPlace, ChunkRef, Content, ItemState, TimestampMillis};
use tokio::sync::mpsc;
use uuid::Uuid;

use super::browse::{Opened, open_workspace};
use super::download::disposition;
use super::error::WebError;
use super::format::human_size;
use super::session::WebSession;
use super::zip_format::{self, ZipEntry};
use crate::config::Settings;
use crate::content::{self, ChunkStore};
use crate::error::rest::RestError;
use crate::state::{AppState, RestState};

/// Pieces of the zip written ahead of what the client has taken.
const SENT_AHEAD: usize = 4;
/// Headers of folders and empty files are gathered up to this size before
/// they are sent; a file's bytes are sent as each chunk is read.
const GATHER_BYTES: usize = 64 * 1024;

/// How large a zip may be, from the settings.
#[derive(Debug, Clone, Copy)]
pub struct ZipLimits {
    pub max_entries: u32,
    pub max_bytes: u64,
}

impl ZipLimits {
    pub fn of(settings: &Settings) -> Self {
        Self {
            max_entries: settings.zip_max_entries,
            max_bytes: settings.zip_max_bytes,
        }
    }
}

enum EntryKind {
    Folder,
    /// The next `chunks` chunks of the plan's content, `size` bytes.
    File {
        chunks: usize,
        size: u64,
    },
}

struct Entry {
    item_id: Uuid,
    path: String,
    modified: TimestampMillis,
    kind: EntryKind,
}

/// What a zip of a folder holds, in the order it is written: each folder
/// before its contents, names in order.
pub struct ZipPlan {
    entries: Vec<Entry>,
    /// The chunks of every file, file after file.
    content: Content,
    /// For each of those chunks, where it is when not in the workspace's
    /// own container under its keys ([`ItemState::chunk_workspace`]).
    places: Vec<Option<ChunkPlace>>,
}

impl ZipPlan {
    /// The zip of what is below `root` (`None`: the top of the workspace),
    /// out of `items` (which may hold more than that, and deleted items);
    /// refused when over `limits`.
    pub fn of<'a>(
        items: impl IntoIterator<Item = &'a ItemState>,
        root: Option<Uuid>,
        limits: ZipLimits,
    ) -> Result<Self, WebError> {
        let mut children: HashMap<Option<Uuid>, Vec<&ItemState>> = HashMap::new();
        for item in items.into_iter().filter(|item| !item.deleted) {
            children.entry(item.parent_id).or_default().push(item);
        }
        for list in children.values_mut() {
            // Reversed, since the walk pops from the end.
            list.sort_by(|a, b| b.name.cmp(&a.name).then_with(|| b.id.cmp(&a.id)));
        }
        let mut plan = ZipPlan {
            entries: Vec::new(),
            content: Content::default(),
            places: Vec::new(),
        };
        let mut bytes = 0u64;
        // Items still to write, each with the path of its folder.
        let mut stack: Vec<(String, &ItemState)> = Vec::new();
        let push_children = |folder, prefix: &str, stack: &mut Vec<(String, &'a ItemState)>| {
            for child in children.get(&folder).into_iter().flatten() {
                stack.push((prefix.to_owned(), *child));
            }
        };
        push_children(root, "", &mut stack);
        while let Some((prefix, item)) = stack.pop() {
            // The cap also ends the walk of a tree that is not one.
            if plan.entries.len() >= limits.max_entries as usize {
                return Err(WebError::BadRequest(format!(
                    "This folder holds more than {} files and folders, more than a zip may \
                     hold. Download its subfolders one by one, or sync it with the desktop app.",
                    limits.max_entries
                )));
            }
            let path = format!("{prefix}{}", item.name);
            let kind = if item.is_folder {
                push_children(Some(item.id), &format!("{path}/"), &mut stack);
                EntryKind::Folder
            } else {
                let size: u64 = item.content.chunks.iter().map(|c| u64::from(c.size)).sum();
                bytes += size;
                if bytes > limits.max_bytes {
                    return Err(WebError::BadRequest(format!(
                        "This folder holds more than {}, more than a zip may hold. Download \
                         its subfolders one by one, or sync it with the desktop app.",
                        human_size(limits.max_bytes)
                    )));
                }
                plan.content
                    .chunks
                    .extend(item.content.chunks.iter().cloned());
                plan.places.extend(
                    std::iter::repeat_n(&item.chunk_workspace, item.content.chunks.len()).cloned(),
                );
                EntryKind::File {
                    chunks: item.content.chunks.len(),
                    size,
                }
            };
            plan.entries.push(Entry {
                item_id: item.id,
                path,
                modified: item.modified_at,
                kind,
            });
        }
        plan.content.size = bytes;
        Ok(plan)
    }
}

/// Why a zip stopped before its end.
#[derive(Debug, thiserror::Error)]
enum Cut {
    #[error("the client went away")]
    ClientGone,
    #[error("reading the file {item_id}: {source}")]
    Read { item_id: Uuid, source: RestError },
    #[error("the zip came to {written} bytes, not the {announced} announced")]
    Length { written: u64, announced: u64 },
}

/// Sends the zip's pieces to the response, counting them.
struct Sink<'a> {
    to: &'a mpsc::Sender<Result<Bytes, std::io::Error>>,
    /// Headers gathered before they are sent.
    pending: BytesMut,
    written: u64,
}

impl Sink<'_> {
    async fn send(&mut self, bytes: Bytes) -> Result<(), Cut> {
        self.written += bytes.len() as u64;
        self.to.send(Ok(bytes)).await.map_err(|_| Cut::ClientGone)
    }

    /// Sends the gathered headers once they are at least `at_least` bytes.
    async fn flush(&mut self, at_least: usize) -> Result<(), Cut> {
        if self.pending.is_empty() || self.pending.len() < at_least {
            return Ok(());
        }
        let bytes = self.pending.split().freeze();
        self.send(bytes).await
    }
}

impl Entry {
    fn zip_entry(&self) -> ZipEntry<'_> {
        let (is_folder, size) = match self.kind {
            EntryKind::Folder => (true, 0),
            EntryKind::File { size, .. } => (false, size),
        };
        ZipEntry {
            name: &self.path,
            modified: self.modified,
            is_folder,
            size,
        }
    }
}

impl ZipPlan {
    /// The zip's length, known before a byte is read.
    fn len(&self) -> u64 {
        zip_format::archive_len(self.entries.iter().map(Entry::zip_entry))
    }
}

/// Writes the zip of `plan` to `to`, reading its files' chunks from `store`;
/// it must come to `announced` bytes.
async fn write_zip(
    chunks: Vec<(ChunkStore, WorkspaceKeys, ChunkRef)>,
    plan: ZipPlan,
    announced: u64,
    to: &mpsc::Sender<Result<Bytes, std::io::Error>>,
) -> Result<(), Cut> {
    let mut sink = Sink {
        to,
        pending: BytesMut::new(),
        written: 0,
    };
    // Where each entry starts and its CRC, for the central directory.
    let mut written = Vec::with_capacity(plan.entries.len());
    // One stream over all the files' chunks, so reading ahead crosses from
    // one small file to the next.
    let mut chunks = std::pin::pin!(content::download_chunks(chunks));
    for entry in &plan.entries {
        let head = entry.zip_entry();
        let offset = sink.written + sink.pending.len() as u64;
        zip_format::local_header(&head, &mut sink.pending);
        let mut crc = crc32fast::Hasher::new();
        if let EntryKind::File { chunks: count, .. } = entry.kind {
            for _ in 0..count {
                let read = |source| Cut::Read {
                    item_id: entry.item_id,
                    source,
                };
                let bytes = chunks
                    .next()
                    .await
                    .ok_or_else(|| read(RestError::Internal("a chunk is missing".into())))?
                    .map_err(read)?;
                crc.update(&bytes);
                sink.flush(1).await?;
                sink.send(bytes).await?;
            }
        }
        let crc = crc.finalize();
        zip_format::data_descriptor(&head, crc, &mut sink.pending);
        written.push((offset, crc));
        sink.flush(GATHER_BYTES).await?;
    }
    let directory = sink.written + sink.pending.len() as u64;
    for (entry, (offset, crc)) in plan.entries.iter().zip(written) {
        zip_format::central_header(&entry.zip_entry(), crc, offset, &mut sink.pending);
        sink.flush(GATHER_BYTES).await?;
    }
    let size = sink.written + sink.pending.len() as u64 - directory;
    zip_format::end(
        plan.entries.len() as u64,
        directory,
        size,
        &mut sink.pending,
    );
    let total = sink.written + sink.pending.len() as u64;
    if total != announced {
        return Err(Cut::Length {
            written: total,
            announced,
        });
    }
    sink.flush(1).await
}

/// The response streaming `plan` as `{name}.zip`, its `Content-Length`
/// computed from the plan. `what` names the folder in the log if the zip is
/// cut off.
pub fn respond(
    app: &AppState,
    (store, keys): (ChunkStore, WorkspaceKeys),
    mut plan: ZipPlan,
    name: &str,
    what: String,
) -> HttpResponse {
    let length = plan.len();
    let chunks = std::mem::take(&mut plan.places)
        .iter()
        .zip(&plan.content.chunks)
        .map(|(place, chunk)| {
            let (store, keys) = place.as_ref().map_or_else(
                || (store.clone(), keys.clone()),
                |place| content::place_reader(app, place),
            );
            (store, keys, chunk.clone())
        })
        .collect();
    let (sender, receiver) = mpsc::channel(SENT_AHEAD);
    tokio::spawn(async move {
        match write_zip(chunks, plan, length, &sender).await {
            Ok(()) => {}
            Err(Cut::ClientGone) => tracing::info!(zip = %what, "a zip download was cancelled"),
            Err(cause) => {
                tracing::error!(zip = %what, %cause, "a zip download was cut off");
                // An error instead of the body's end: the connection is
                // closed before the announced length, so the client sees a
                // failed download.
                let _ = sender.send(Err(std::io::Error::other(cause))).await;
            }
        }
    });
    let body = stream::unfold(receiver, |mut receiver| async move {
        receiver.recv().await.map(|piece| (piece, receiver))
    });
    HttpResponse::Ok()
        .content_type("application/zip")
        .insert_header((
            header::CONTENT_DISPOSITION,
            disposition("attachment", &format!("{name}.zip")),
        ))
        .insert_header((header::CACHE_CONTROL, "private, no-store"))
        .no_chunking(length)
        .streaming(body)
}

/// The zip of `folder` (`None`: the whole workspace) of an opened workspace.
fn zip_of(
    app: &AppState,
    opened: &Opened,
    folder: Option<&ItemState>,
) -> Result<HttpResponse, WebError> {
    let keys = content::keys_for(&opened.workspace)?;
    let plan = ZipPlan::of(
        opened.tree.items.values(),
        folder.map(|f| f.id),
        ZipLimits::of(&app.settings),
    )?;
    let store = ChunkStore::new(app, &opened.workspace);
    let workspace_id = opened.workspace.workspace_id;
    let (name, what) = match folder {
        Some(folder) => (
            &folder.name,
            format!("folder {} of workspace {workspace_id}", folder.id),
        ),
        None => (&opened.workspace.name, format!("workspace {workspace_id}")),
    };
    Ok(respond(app, (store, keys), plan, name, what))
}

/// `GET /files/{workspace}/zip`: the whole workspace as a zip.
pub async fn workspace(
    req: HttpRequest,
    session: WebSession,
    path: web::Path<String>,
    state: web::Data<RestState>,
    app: web::Data<AppState>,
) -> Result<HttpResponse, WebError> {
    let opened = open_workspace(&state, &session, &path, req.path()).await?;
    zip_of(&app, &opened, None)
}

/// `GET /files/{workspace}/{folder}/zip`: a folder as a zip.
pub async fn folder(
    req: HttpRequest,
    session: WebSession,
    path: web::Path<(String, String)>,
    state: web::Data<RestState>,
    app: web::Data<AppState>,
) -> Result<HttpResponse, WebError> {
    let (workspace, folder) = path.into_inner();
    let opened = open_workspace(&state, &session, &workspace, req.path()).await?;
    let item = opened.live_item(&folder)?;
    if !item.is_folder {
        return Err(WebError::BadRequest(format!(
            "{:?} is a file, not a folder: download it as it is",
            item.name
        )));
    }
    zip_of(&app, &opened, Some(item))
}

#[cfg(test)]
mod tests {
    use nimbus_protocol::rpc::ChunkRef;

    use super::*;

    fn item(name: &str, parent: Option<Uuid>, chunk_sizes: Option<&[u32]>) -> ItemState {
        let chunks: Vec<ChunkRef> = chunk_sizes
            .unwrap_or_default()
            .iter()
            .map(|&size| ChunkRef {
                id: format!("{name}-{size}"),
                size,
            })
            .collect();
        ItemState {
            id: Uuid::now_v7(),
            parent_id: parent,
            name: name.into(),
            is_folder: chunk_sizes.is_none(),
            deleted: false,
            version: 1,
            status: nimbus_protocol::rpc::VersionStatus::New,
            revision: 1,
            device_id: Uuid::nil(),
            modified_at: 1_700_000_000_000,
            committed_at: 1_700_000_000_000,
            moved_to: None,
            chunk_workspace: None,
            content: Content {
                size: chunks.iter().map(|c| u64::from(c.size)).sum(),
                chunks,
                ..Content::default()
            },
        }
    }

    const ROOMY: ZipLimits = ZipLimits {
        max_entries: 100,
        max_bytes: 1000,
    };

    fn paths(plan: &ZipPlan) -> Vec<&str> {
        plan.entries.iter().map(|e| e.path.as_str()).collect()
    }

    #[test]
    fn a_plan_holds_the_folder_below_its_root_in_order_with_its_chunks() {
        let top = item("top", None, None);
        let b = item("b", Some(top.id), None);
        let z = item("z.txt", Some(top.id), Some(&[10, 20]));
        let a = item("a.txt", Some(b.id), Some(&[5]));
        let empty = item("empty", Some(b.id), None);
        let mut gone = item("gone.txt", Some(top.id), Some(&[7]));
        gone.deleted = true;
        let outside = item("outside.txt", None, Some(&[1]));
        let items = [&z, &outside, &a, &top, &gone, &empty, &b];
        let plan = ZipPlan::of(items, Some(top.id), ROOMY).unwrap();
        assert_eq!(paths(&plan), ["b", "b/a.txt", "b/empty", "z.txt"]);
        let sizes: Vec<u32> = plan.content.chunks.iter().map(|c| c.size).collect();
        assert_eq!(sizes, [5, 10, 20], "file after file, in zip order");
        assert_eq!(plan.content.size, 35);
        let whole = ZipPlan::of(items, None, ROOMY).unwrap();
        assert_eq!(paths(&whole)[..2], ["outside.txt", "top"]);
    }

    #[test]
    fn a_plan_over_a_cap_is_refused() {
        let top = item("top", None, None);
        let files: Vec<ItemState> = (0..3)
            .map(|n| item(&format!("{n}"), Some(top.id), Some(&[400])))
            .collect();
        let entries = ZipLimits {
            max_entries: 2,
            ..ROOMY
        };
        let refused = ZipPlan::of(&files, Some(top.id), entries).err().unwrap();
        assert!(
            refused.to_string().contains("more than 2 files"),
            "{refused}"
        );
        let refused = ZipPlan::of(&files, Some(top.id), ROOMY).err().unwrap();
        assert!(
            refused.to_string().contains("more than 1000 B"),
            "{refused}"
        );
        assert!(ZipPlan::of(&files[..2], Some(top.id), ROOMY).is_ok());
    }
}
