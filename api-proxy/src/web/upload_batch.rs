//! Many small files in one request and one commit (`upload.js` sends the
//! small files of a pick or a drop this way; big ones go through the
//! resumable sessions of [`super::upload`]). One session's three requests
//! and one commit per file would make a folder of a thousand small files a
//! few thousand round trips and a thousand revisions.
//!
//! * `POST /uploads/clashes` `{workspace, parent, paths}`: which of the paths
//!   are taken, asked before sending any byte so that the user chooses
//!   replace, keep both or skip for each.
//! * `POST /uploads/batch`: the body is one line of JSON ([`Manifest`]: the
//!   workspace, the folder, each file's path, size, date and choice on a
//!   clash, and the empty folders of a dropped or picked folder) then the
//!   files' bytes back to back, in the manifest's order. Each file is read,
//!   chunked and stored in turn, then the files, the empty folders and the
//!   folders of their paths that are missing are one commit. `201
//!   {files: [{path, item, name, outcome}]}`, or `409 name_taken` with the
//!   paths taken meanwhile (`clashes`), nothing committed.
//!
//! Memory is bounded: the manifest line ([`MANIFEST_BYTES`]) and one file
//! ([`SMALL_FILE_BYTES`]) at a time, whatever the batch's total.

use std::collections::{HashMap, HashSet};

use actix_web::{HttpRequest, HttpResponse, web};
use bytes::{Bytes, BytesMut};
use futures::{StreamExt, stream};
use nimbus_chunks::{ChunkerParams, ContentHasher};
use nimbus_protocol::rpc::{CommitItem, Content, ItemState};
use serde::{Deserialize, Serialize};
use serde_json::json;
use uuid::Uuid;

use super::browse::{Opened, open_writable};
use super::error::WebError;
use super::organize::commit;
use super::session::WebSession;
use super::upload::{
    FINISH_ATTEMPTS, OnClash, Placement, UploadError, check_quota, checked, destination,
    path_names, placement,
};
use crate::content::{self, ChunkStore};
use crate::state::{AppState, RestState};

/// Files of at most this size go in batches (the script is told through the
/// folder page).
pub const SMALL_FILE_BYTES: u64 = 1024 * 1024;
/// Most files in one batch.
pub const BATCH_FILES: usize = 250;
/// Most bytes of files in one batch: a request a cut connection loses
/// little of, and a commit of a few hundred items.
pub const BATCH_BYTES: u64 = 4 * 1024 * 1024;
/// Longest manifest line: a batch's paths, at most 255 bytes a name.
const MANIFEST_BYTES: usize = 1024 * 1024;

#[derive(Deserialize)]
pub struct ClashesRequest {
    workspace: String,
    #[serde(default)]
    parent: String,
    paths: Vec<String>,
}

#[derive(Serialize)]
struct Clash<'a> {
    path: &'a str,
    is_folder: bool,
}

/// The workspace a batch request names, open and writable by the caller.
async fn writable(
    state: &RestState,
    session: &WebSession,
    workspace: &str,
) -> Result<Opened, UploadError> {
    let opened = open_writable(state, session, workspace, "/").await?;
    Ok(opened)
}

/// `POST /uploads/clashes`: the paths whose name is taken where they go
/// (by a file, or by a folder, which a file cannot replace).
pub async fn clashes(
    req: HttpRequest,
    session: Result<WebSession, WebError>,
    body: web::Json<ClashesRequest>,
    state: web::Data<RestState>,
) -> Result<HttpResponse, UploadError> {
    let session = checked(&req, session)?;
    let opened = writable(&state, &session, &body.workspace).await?;
    let parent = destination(&opened, &body.parent)?;
    if body.paths.len() > BATCH_FILES {
        return Err(too_many().into());
    }
    let mut siblings = Siblings::new(&opened);
    let mut taken = Vec::new();
    for path in &body.paths {
        let names = path_names(path)?;
        if let Some(existing) = siblings.existing(parent, &names)? {
            taken.push(Clash {
                path,
                is_folder: existing.is_folder,
            });
        }
    }
    Ok(HttpResponse::Ok().json(json!({ "clashes": taken })))
}

fn too_many() -> WebError {
    WebError::BadRequest(format!(
        "a batch holds at most {BATCH_FILES} files and folders, files of at most \
         {SMALL_FILE_BYTES} bytes each, {BATCH_BYTES} bytes in all: send bigger files one by one"
    ))
}

/// The live children of folders, by name, looked up once per folder.
struct Siblings<'a> {
    opened: &'a Opened,
    folders: HashMap<Option<Uuid>, HashMap<&'a str, &'a ItemState>>,
}

impl<'a> Siblings<'a> {
    fn new(opened: &'a Opened) -> Self {
        Self {
            opened,
            folders: HashMap::new(),
        }
    }

    fn child(&mut self, folder: Option<Uuid>, name: &str) -> Option<&'a ItemState> {
        let opened = self.opened;
        self.folders
            .entry(folder)
            .or_insert_with(|| {
                opened
                    .tree
                    .children(folder, false)
                    .into_iter()
                    .map(|child| (child.name.as_str(), child))
                    .collect()
            })
            .get(name)
            .copied()
    }

    /// What is live at `names` below `parent`; `None` when a folder of the
    /// path is missing or nothing has the name. A file where a folder of the
    /// path should be is an error: nothing can go there.
    fn existing(
        &mut self,
        parent: Option<Uuid>,
        names: &[&str],
    ) -> Result<Option<&'a ItemState>, WebError> {
        let (name, folders) = names.split_last().expect("a path has a name");
        let mut folder = parent;
        for segment in folders {
            match self.child(folder, segment) {
                Some(existing) if existing.is_folder => folder = Some(existing.id),
                Some(_) => return Err(file_in_the_way(segment)),
                None => return Ok(None),
            }
        }
        Ok(self.child(folder, name))
    }
}

fn file_in_the_way(segment: &str) -> WebError {
    WebError::Conflict(format!(
        "a file named {segment:?} is where the folder {segment:?} should go: rename it, or \
         upload elsewhere"
    ))
}

/// One file of a batch, as the manifest lists it.
#[derive(Deserialize)]
struct BatchFile {
    path: String,
    size: u64,
    /// Last modification, milliseconds since 1970.
    modified: i64,
    #[serde(default)]
    on_clash: OnClash,
}

/// The first line of a batch's body.
#[derive(Deserialize)]
struct Manifest {
    workspace: String,
    #[serde(default)]
    parent: String,
    #[serde(default)]
    files: Vec<BatchFile>,
    /// Paths of folders made even though no file goes in them: the empty
    /// folders of a dropped or picked folder (a folder of a file's path is
    /// made anyway). One that exists already is left as it is.
    #[serde(default)]
    folders: Vec<String>,
}

impl Manifest {
    fn check(&self) -> Result<u64, WebError> {
        let total = self.files.iter().map(|f| f.size).sum::<u64>();
        if self.files.is_empty() && self.folders.is_empty() {
            return Err(WebError::BadRequest(
                "a batch needs at least one file or folder".into(),
            ));
        }
        if self.files.len() + self.folders.len() > BATCH_FILES
            || total > BATCH_BYTES
            || self.files.iter().any(|f| f.size > SMALL_FILE_BYTES)
        {
            return Err(too_many());
        }
        let mut paths = HashSet::new();
        for file in &self.files {
            path_names(&file.path)?;
            if !paths.insert(file.path.as_str()) {
                return Err(WebError::BadRequest(format!(
                    "{:?} is twice in the batch: send each file once",
                    file.path
                )));
            }
        }
        for folder in &self.folders {
            path_names(folder)?;
        }
        Ok(total)
    }
}

/// Reads a request body in pieces of known length, holding no more than
/// the piece asked for and what the last read brought beyond it.
struct BodyReader {
    payload: web::Payload,
    buffered: BytesMut,
}

impl BodyReader {
    /// Reads more; `false` at the end of the body.
    async fn more(&mut self) -> Result<bool, WebError> {
        match self.payload.next().await {
            Some(Ok(bytes)) => {
                self.buffered.extend_from_slice(&bytes);
                Ok(true)
            }
            Some(Err(error)) => Err(WebError::BadRequest(format!(
                "the request's body was cut short ({error}): nothing was uploaded, send it again"
            ))),
            None => Ok(false),
        }
    }

    /// The bytes up to the first newline (not included), at most `max`.
    async fn line(&mut self, max: usize) -> Result<Bytes, WebError> {
        let mut searched = 0;
        loop {
            if let Some(at) = self.buffered[searched..].iter().position(|b| *b == b'\n') {
                let line = self.buffered.split_to(searched + at).freeze();
                let _ = self.buffered.split_to(1);
                return Ok(line);
            }
            searched = self.buffered.len();
            if searched > max {
                return Err(WebError::BadRequest(format!(
                    "a batch's manifest is at most {max} bytes"
                )));
            }
            if !self.more().await? {
                return Err(short_body());
            }
        }
    }

    /// The next `len` bytes.
    async fn exact(&mut self, len: usize) -> Result<Bytes, WebError> {
        while self.buffered.len() < len {
            if !self.more().await? {
                return Err(short_body());
            }
        }
        Ok(self.buffered.split_to(len).freeze())
    }

    /// Whether the body ends here.
    async fn at_end(&mut self) -> Result<bool, WebError> {
        Ok(self.buffered.is_empty() && !self.more().await?)
    }
}

fn short_body() -> WebError {
    WebError::BadRequest(
        "the body holds fewer bytes than the manifest lists: nothing was uploaded".into(),
    )
}

/// Chunks and stores one whole file, as a desktop client would cut it.
async fn store_file(
    store: &ChunkStore,
    keys: &nimbus_chunks::WorkspaceKeys,
    bytes: Bytes,
) -> Result<Content, UploadError> {
    let size = bytes.len() as u64;
    let piece = content::store_piece(
        store,
        keys.clone(),
        Bytes::new(),
        stream::iter([Ok(bytes)]),
        None,
        Some(ContentHasher::new(keys)),
    )
    .await;
    if let Some(failure) = piece.failure {
        return Err(failure.into());
    }
    let hasher = piece.hasher.expect("given one");
    Ok(Content {
        size,
        content_hash: Some(hasher.finish()),
        chunks: piece.chunks,
        chunker: Some(ChunkerParams::DEFAULT.describe()),
    })
}

/// What became of one file of a batch.
#[derive(Serialize)]
struct Outcome {
    path: String,
    /// The file's item, unless skipped.
    item: Option<Uuid>,
    /// Its name where it went (another one when both were kept).
    name: Option<String>,
    /// `committed`, `unchanged` (the same bytes were already there under
    /// the name) or `skipped`.
    outcome: &'static str,
}

/// The items of a batch's commit, as they are added.
struct Plan<'a> {
    siblings: Siblings<'a>,
    /// Folders this commit creates, by their parent and name.
    created: HashMap<(Option<Uuid>, &'a str), Uuid>,
    /// Names this commit gives, by folder.
    named: HashSet<(Option<Uuid>, String)>,
    items: Vec<CommitItem>,
}

impl<'a> Plan<'a> {
    /// The folder `folders` name below `parent`, made by this commit where
    /// missing, and whether it is new (so nothing is in it yet).
    fn folder(
        &mut self,
        parent: Option<Uuid>,
        folders: &[&'a str],
    ) -> Result<(Option<Uuid>, bool), WebError> {
        let mut folder = parent;
        let mut folder_is_new = false;
        for segment in folders {
            if let Some(id) = self.created.get(&(folder, *segment)) {
                folder = Some(*id);
                folder_is_new = true;
                continue;
            }
            match (!folder_is_new)
                .then(|| self.siblings.child(folder, segment))
                .flatten()
            {
                Some(existing) if existing.is_folder => folder = Some(existing.id),
                Some(_) => return Err(file_in_the_way(segment)),
                None => {
                    let id = Uuid::now_v7();
                    self.items.push(CommitItem {
                        id,
                        base_version: 0,
                        parent_id: folder,
                        name: (*segment).to_owned(),
                        is_folder: true,
                        deleted: false,
                        modified_at: crate::timestamp::now_millis(),
                        content: Content::default(),
                    });
                    self.created.insert((folder, *segment), id);
                    self.named.insert((folder, (*segment).to_owned()));
                    folder = Some(id);
                    folder_is_new = true;
                }
            }
        }
        Ok((folder, folder_is_new))
    }
}

/// The commit of a batch on the workspace as `opened` shows it, and what
/// becomes of each file.
fn plan<'a>(
    opened: &'a Opened,
    parent: Option<Uuid>,
    files: &'a [(BatchFile, Content)],
    folders: &'a [String],
) -> Result<(Vec<CommitItem>, Vec<Outcome>), UploadError> {
    let mut plan = Plan {
        siblings: Siblings::new(opened),
        created: HashMap::new(),
        named: HashSet::new(),
        items: Vec::new(),
    };
    for path in folders {
        plan.folder(parent, &path_names(path)?)?;
    }
    let mut outcomes = Vec::new();
    let mut asked = Vec::new();
    for (file, content) in files {
        let names = path_names(&file.path)?;
        let (name, folders) = names.split_last().expect("a path has a name");
        let (folder, folder_is_new) = plan.folder(parent, folders)?;
        let clash = (!folder_is_new)
            .then(|| plan.siblings.child(folder, name))
            .flatten();
        let unchanged = clash.is_some_and(|existing| {
            !existing.is_folder
                && existing.content.size == content.size
                && existing.content.content_hash == content.content_hash
        });
        if unchanged {
            let existing = clash.expect("checked");
            outcomes.push(Outcome {
                path: file.path.clone(),
                item: Some(existing.id),
                name: Some(existing.name.clone()),
                outcome: "unchanged",
            });
            continue;
        }
        let mut taken = |candidate: &str| {
            plan.named.contains(&(folder, candidate.to_owned()))
                || (!folder_is_new && plan.siblings.child(folder, candidate).is_some())
        };
        let placed = match placement(clash, file.on_clash, name, &mut taken) {
            Err(error) if error.is_name_taken() => {
                asked.push(Clash {
                    path: &file.path,
                    is_folder: clash.is_some_and(|c| c.is_folder),
                });
                continue;
            }
            other => other?,
        };
        let Some(placed) = placed else {
            outcomes.push(Outcome {
                path: file.path.clone(),
                item: None,
                name: None,
                outcome: "skipped",
            });
            continue;
        };
        let (id, base_version, name) = match placed {
            Placement::New => (Uuid::now_v7(), 0, (*name).to_owned()),
            Placement::Replace { id, version } => (id, version, (*name).to_owned()),
            Placement::Renamed(name) => (Uuid::now_v7(), 0, name),
        };
        plan.named.insert((folder, name.clone()));
        plan.items.push(CommitItem {
            id,
            base_version,
            parent_id: folder,
            name: name.clone(),
            is_folder: false,
            deleted: false,
            modified_at: file.modified,
            content: content.clone(),
        });
        outcomes.push(Outcome {
            path: file.path.clone(),
            item: Some(id),
            name: Some(name),
            outcome: "committed",
        });
    }
    if !asked.is_empty() {
        return Err(UploadError::names_taken(
            format!(
                "{} of these names are taken meanwhile: replace, keep both, or skip each",
                asked.len()
            ),
            json!(asked),
        ));
    }
    Ok((plan.items, outcomes))
}

/// `POST /uploads/batch`: a [`Manifest`] line, then the files' bytes.
pub async fn batch(
    req: HttpRequest,
    session: Result<WebSession, WebError>,
    payload: web::Payload,
    state: web::Data<RestState>,
    app: web::Data<AppState>,
) -> Result<HttpResponse, UploadError> {
    let session = checked(&req, session)?;
    let mut body = BodyReader {
        payload,
        buffered: BytesMut::new(),
    };
    let line = body.line(MANIFEST_BYTES).await?;
    let manifest: Manifest = serde_json::from_slice(&line).map_err(|error| {
        WebError::BadRequest(format!(
            "the batch's first line is not its manifest: {error}"
        ))
    })?;
    let total = manifest.check()?;
    let mut opened = writable(&state, &session, &manifest.workspace).await?;
    let parent = destination(&opened, &manifest.parent)?;
    check_quota(&session, &opened, total)?;
    let keys = content::keys_for(&opened.workspace)?;
    let store = ChunkStore::new(&app, &opened.workspace);
    content::prepare(&store).await?;
    let mut files = Vec::with_capacity(manifest.files.len());
    for file in manifest.files {
        let bytes = body.exact(file.size as usize).await?;
        let content = store_file(&store, &keys, bytes).await?;
        files.push((file, content));
    }
    if !body.at_end().await? {
        return Err(WebError::BadRequest(
            "the body holds more bytes than the manifest lists: nothing was uploaded".into(),
        )
        .into());
    }
    // Batches of one dropped folder go side by side, and each creates the
    // folders of its paths that are missing: when another one created them
    // first, the commit conflicts, and the batch is placed again.
    let mut attempts = 0;
    loop {
        attempts += 1;
        let (items, outcomes) = plan(&opened, parent, &files, &manifest.folders)?;
        let committed = if items.is_empty() {
            Ok(())
        } else {
            commit(&state, &session, &opened, items).await
        };
        match committed.map_err(UploadError::from) {
            Ok(()) => return Ok(HttpResponse::Created().json(json!({ "files": outcomes }))),
            Err(error) if attempts < FINISH_ATTEMPTS && error.is_conflict() => {
                opened = writable(&state, &session, &manifest.workspace).await?;
            }
            Err(error) => return Err(error),
        }
    }
}
