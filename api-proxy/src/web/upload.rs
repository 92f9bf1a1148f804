//! Resumable uploads for the browser (`web/static/upload.js`), answered in
//! JSON. A session is made for one file (`POST /uploads`), its bytes are
//! sent in requests of a few MiB at the offset the proxy names
//! (`PUT /uploads/{id}?offset=N`), and finishing (`POST /uploads/{id}/finish`)
//! commits the file, with any folders of its path missing, in one commit.
//!
//! The bytes are cut into chunks as they arrive, with the chunker the REST
//! API and desktop clients use ([`content::store_piece`]), and stored in the
//! workspace's container; only the bytes after the last chunk (at most one
//! chunk after a clean request) are held, in the session's row. So a request
//! costs bounded memory whatever the file's size, finishing has nothing to
//! reassemble, and the state survives a dropped connection and a restart
//! ([`crate::upload_sessions`]).
//!
//! Authentication is the web session's cookie; every request but the status
//! query needs the `X-CSRF-Token` header. A session is its creator's alone:
//! another user's id is "not found".

use std::fmt;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use bytes::Bytes;
use futures::stream;
use nimbus_chunks::{ChunkerParams, ContentHasher};
use nimbus_protocol::rpc::{CommitItem, Content, ItemState, WorkspaceInfo};
use serde::{Deserialize, Serialize};
use serde_json::json;
use uuid::Uuid;

use super::browse::{Opened, open_workspace, open_writable, workspaces_of};
use super::error::WebError;
use super::organize::commit;
use super::session::WebSession;
use crate::content::{self, ChunkStore};
use crate::error::rest::RestError;
use crate::state::{AppState, RestState};
use crate::upload_sessions::{MAX_TAIL, NewSession, SessionRow};

/// The request size the script is told to use: large enough that the
/// per-request costs (authorization, saving progress) vanish, small enough
/// that a cut connection loses little.
pub const REQUEST_BYTES: u64 = 8 * 1024 * 1024;
/// Most folders a path may have above its file.
const MAX_PATH_DEPTH: usize = 64;
/// Longest name of a file or folder, in bytes.
const MAX_NAME_BYTES: usize = 255;

/// A failed upload request: its status, and in JSON a code, the message,
/// and the offset to continue at when the session is known.
#[derive(Debug)]
pub struct UploadError {
    error: WebError,
    code: &'static str,
    offset: Option<u64>,
    /// The paths whose names are taken, for a batch.
    clashes: Option<serde_json::Value>,
}

impl UploadError {
    /// Whether the metadata changed meanwhile (not a name the user must
    /// decide about): trying again on a fresh tree may succeed.
    pub(super) fn is_conflict(&self) -> bool {
        self.code == "conflict"
    }

    /// Whether the user must choose what to do about a taken name.
    pub(super) fn is_name_taken(&self) -> bool {
        self.code == "name_taken"
    }

    /// `error` on a session whose bytes continue at `offset`; a conflict
    /// there is an `offset_mismatch`.
    fn at(error: impl Into<WebError>, offset: u64) -> Self {
        let error = Self::from(error.into());
        Self {
            code: match error.error {
                WebError::Conflict(_) => "offset_mismatch",
                _ => error.code,
            },
            offset: Some(offset),
            ..error
        }
    }

    /// The file's name is taken where it goes: the user chooses.
    fn name_taken(message: String) -> Self {
        Self {
            code: "name_taken",
            ..Self::from(WebError::Conflict(message))
        }
    }

    /// Names of a batch's files are taken: `clashes` lists them.
    pub(super) fn names_taken(message: String, clashes: serde_json::Value) -> Self {
        Self {
            clashes: Some(clashes),
            ..Self::name_taken(message)
        }
    }
}

impl From<RestError> for UploadError {
    fn from(error: RestError) -> Self {
        WebError::from(error).into()
    }
}

impl From<WebError> for UploadError {
    fn from(error: WebError) -> Self {
        let code = match &error {
            WebError::SignInRequired { .. } => "sign_in_required",
            WebError::CsrfMismatch => "csrf_mismatch",
            WebError::NotFound(_) => "not_found",
            WebError::BadRequest(_) => "bad_request",
            WebError::Forbidden(_) => "forbidden",
            WebError::Conflict(_) => "conflict",
            WebError::TooManyRequests(_) => "too_many_requests",
            WebError::InsufficientStorage(_) => "insufficient_storage",
            WebError::Unavailable(_) => "unavailable",
            WebError::Internal(_) => "internal",
        };
        Self {
            error,
            code,
            offset: None,
            clashes: None,
        }
    }
}

impl fmt::Display for UploadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.error.fmt(f)
    }
}

impl ResponseError for UploadError {
    fn status_code(&self) -> StatusCode {
        match self.error {
            // A script cannot follow a redirect to a page: it is told to
            // send the user there.
            WebError::SignInRequired { .. } => StatusCode::UNAUTHORIZED,
            ref other => other.status_code(),
        }
    }

    fn error_response(&self) -> HttpResponse {
        if let WebError::Internal(cause) = &self.error {
            tracing::error!(%cause, "upload request failed");
        }
        HttpResponse::build(self.status_code()).json(json!({
            "error": self.code,
            "message": self.to_string(),
            "offset": self.offset,
            "clashes": self.clashes,
        }))
    }
}

fn database(error: sqlx::Error) -> UploadError {
    WebError::Internal(format!("the upload sessions database: {error}")).into()
}

/// The signed-in session of a request that changes something.
pub(super) fn checked(
    req: &HttpRequest,
    session: Result<WebSession, WebError>,
) -> Result<WebSession, UploadError> {
    let session = session?;
    session.check_csrf(req, None)?;
    Ok(session)
}

fn no_session() -> UploadError {
    WebError::NotFound(
        "there is no such upload: it was finished, cancelled or expired; start it again".into(),
    )
    .into()
}

/// The caller's session `raw_id`.
async fn session_row(
    app: &AppState,
    session: &WebSession,
    raw_id: &str,
) -> Result<SessionRow, UploadError> {
    let id = Uuid::parse_str(raw_id).map_err(|_| no_session())?;
    app.uploads
        .get(id, session.account.user_id)
        .await
        .map_err(database)?
        .ok_or_else(no_session)
}

/// The workspace of a session, still the caller's and writable.
async fn writable_workspace(
    state: &RestState,
    session: &WebSession,
    row: &SessionRow,
) -> Result<WorkspaceInfo, UploadError> {
    let workspace = workspaces_of(state, session, "/")
        .await?
        .into_iter()
        .find(|w| w.workspace_id == row.workspace_id)
        .ok_or_else(|| {
            WebError::NotFound("the workspace of this upload is no longer yours".into())
        })?;
    crate::rest::require_write(&workspace)?;
    Ok(workspace)
}

/// The names of a `/`-separated relative path, checked.
pub(super) fn path_names(path: &str) -> Result<Vec<&str>, WebError> {
    let names: Vec<&str> = path.split('/').collect();
    if names.len() > MAX_PATH_DEPTH + 1 {
        return Err(WebError::BadRequest(format!(
            "folders nest at most {MAX_PATH_DEPTH} deep here"
        )));
    }
    for name in &names {
        if name.is_empty() || *name == "." || *name == ".." {
            return Err(WebError::BadRequest(format!(
                "{path:?} is not a relative path of names"
            )));
        }
        if name.len() > MAX_NAME_BYTES || name.chars().any(char::is_control) {
            return Err(WebError::BadRequest(format!(
                "{name:?} cannot be a name: at most {MAX_NAME_BYTES} bytes, no control characters"
            )));
        }
    }
    Ok(names)
}

/// The folder uploads go in, from the browser's `raw` id (empty: the top).
pub(super) fn destination(opened: &Opened, raw: &str) -> Result<Option<Uuid>, WebError> {
    match raw.trim() {
        "" => Ok(None),
        raw => {
            let id = Uuid::parse_str(raw)
                .map_err(|_| WebError::NotFound("this workspace has no such folder".into()))?;
            live_folder(opened, Some(id))
        }
    }
}

/// Refuses `bytes` more that do not fit in the owner's quota, when the
/// caller is the owner (a member's uploads are checked by the servers on
/// commit, against the owner's).
pub(super) fn check_quota(
    session: &WebSession,
    opened: &Opened,
    bytes: u64,
) -> Result<(), WebError> {
    let account = &session.account;
    if opened.workspace.owner_id == account.user_id
        && account.quota_used.saturating_add(bytes) > account.quota_limit
    {
        return Err(WebError::InsufficientStorage(format!(
            "{bytes} bytes do not fit in your quota, which has {} bytes left: nothing was \
             uploaded",
            account.quota_limit.saturating_sub(account.quota_used)
        )));
    }
    Ok(())
}

/// The live folder `parent` of the opened workspace (`None`: its top).
pub(super) fn live_folder(opened: &Opened, parent: Option<Uuid>) -> Result<Option<Uuid>, WebError> {
    let Some(id) = parent else { return Ok(None) };
    let folder = opened.live_item(&id.to_string())?;
    if !folder.is_folder {
        return Err(WebError::BadRequest(format!(
            "{:?} is a file: files go in folders",
            folder.name
        )));
    }
    Ok(Some(folder.id))
}

fn live_child<'a>(opened: &'a Opened, parent: Option<Uuid>, name: &str) -> Option<&'a ItemState> {
    opened
        .tree
        .children(parent, false)
        .into_iter()
        .find(|child| child.name == name)
}

/// Where a path's file goes: the folder it names, as far as it exists, and
/// the names of the folders still to create below it.
struct Target<'a> {
    folder: Option<Uuid>,
    missing: Vec<&'a str>,
    name: &'a str,
}

fn target<'a>(
    opened: &Opened,
    parent: Option<Uuid>,
    names: &[&'a str],
) -> Result<Target<'a>, WebError> {
    let (name, folders) = names.split_last().expect("a path has a name");
    let mut folder = parent;
    let mut missing = Vec::new();
    for (depth, segment) in folders.iter().enumerate() {
        match live_child(opened, folder, segment) {
            Some(existing) if existing.is_folder => folder = Some(existing.id),
            Some(_) => {
                return Err(WebError::Conflict(format!(
                    "a file named {segment:?} is where the folder {segment:?} should go"
                )));
            }
            None => {
                missing = folders[depth..].to_vec();
                break;
            }
        }
    }
    Ok(Target {
        folder,
        missing,
        name,
    })
}

#[derive(Deserialize)]
pub struct CreateRequest {
    workspace: String,
    /// The folder it goes in; empty or absent: the top of the workspace.
    #[serde(default)]
    parent: String,
    /// The file's name, after the folders (made when missing) it goes in.
    path: String,
    size: u64,
    /// Last modification, milliseconds since 1970.
    modified: i64,
}

#[derive(Serialize)]
struct SessionAnswer<'a> {
    id: Uuid,
    path: &'a str,
    size: u64,
    offset: u64,
    /// Bytes to send per request.
    request_bytes: u64,
    /// Something live already has the file's name where it goes.
    exists: bool,
    /// That something is a folder, which replacing cannot replace.
    exists_as_folder: bool,
}

fn session_answer<'a>(row: &'a SessionRow, clash: Option<&ItemState>) -> SessionAnswer<'a> {
    SessionAnswer {
        id: row.id,
        path: &row.path,
        size: row.size(),
        offset: row.offset(),
        request_bytes: REQUEST_BYTES,
        exists: clash.is_some(),
        exists_as_folder: clash.is_some_and(|item| item.is_folder),
    }
}

/// `POST /uploads` with [`CreateRequest`] as JSON: a session for one file,
/// or the caller's unfinished one for the same file, to resume at its
/// offset.
pub async fn create(
    req: HttpRequest,
    session: Result<WebSession, WebError>,
    body: web::Json<CreateRequest>,
    state: web::Data<RestState>,
    app: web::Data<AppState>,
) -> Result<HttpResponse, UploadError> {
    let session = checked(&req, session)?;
    let opened = open_writable(&state, &session, &body.workspace, "/").await?;
    let parent = destination(&opened, &body.parent)?;
    let names = path_names(&body.path)?;
    let target = target(&opened, parent, &names)?;
    check_quota(&session, &opened, body.size)?;
    let account = &session.account;
    // Stored chunks need the container; making it now keeps requests simple.
    content::prepare(&ChunkStore::new(&app, &opened.workspace)).await?;
    let row = app
        .uploads
        .open(&NewSession {
            user_id: account.user_id,
            workspace_id: opened.workspace.workspace_id,
            parent_id: parent,
            path: names.join("/"),
            size: body.size,
            modified_at: body.modified,
        })
        .await
        .map_err(database)?;
    let clash = target
        .missing
        .is_empty()
        .then(|| live_child(&opened, target.folder, target.name))
        .flatten();
    Ok(HttpResponse::Created().json(session_answer(&row, clash)))
}

/// `GET /uploads/{id}`: where the session is (`offset`: send from there).
pub async fn status(
    session: Result<WebSession, WebError>,
    path: web::Path<String>,
    app: web::Data<AppState>,
) -> Result<HttpResponse, UploadError> {
    let row = session_row(&app, &session?, &path).await?;
    Ok(HttpResponse::Ok().json(json!({
        "id": row.id,
        "path": row.path,
        "size": row.size(),
        "offset": row.offset(),
        "finished": row.finished_item.is_some(),
    })))
}

#[derive(Deserialize)]
pub struct OffsetQuery {
    offset: u64,
}

/// `PUT /uploads/{id}?offset=N` with the file's bytes from `N` as the body
/// (any number, up to the file's end). Answers the offset to continue at.
/// Whatever part of the body was chunked and stored is kept even when the
/// body is cut short.
pub async fn append(
    req: HttpRequest,
    session: Result<WebSession, WebError>,
    path: web::Path<String>,
    query: web::Query<OffsetQuery>,
    payload: web::Payload,
    state: web::Data<RestState>,
    app: web::Data<AppState>,
) -> Result<HttpResponse, UploadError> {
    let session = checked(&req, session)?;
    let row = session_row(&app, &session, &path).await?;
    let offset = row.offset();
    if row.finished_item.is_some() {
        return Err(UploadError::at(
            WebError::Conflict("this upload is finished".into()),
            offset,
        ));
    }
    if query.offset != offset {
        return Err(UploadError::at(
            WebError::Conflict(format!(
                "this upload continues at byte {offset}, not {}",
                query.offset
            )),
            offset,
        ));
    }
    let workspace = writable_workspace(&state, &session, &row).await?;
    let keys = content::keys_for(&workspace)?;
    let store = ChunkStore::new(&app, &workspace);
    let piece = content::store_piece(
        &store,
        keys,
        Bytes::from(row.tail.clone()),
        payload,
        Some(row.size() - offset),
        app.uploads.hasher(&row),
    )
    .await;
    let mut tail = piece.rest;
    tail.truncate(MAX_TAIL);
    let progressed = !piece.chunks.is_empty() || tail.len() != row.tail.len();
    let saved = !progressed
        || app
            .uploads
            .advance(&row, &piece.chunks, &tail)
            .await
            .map_err(database)?;
    if !saved {
        return Err(UploadError::at(
            WebError::Conflict("another request sent this upload's bytes meanwhile".into()),
            offset,
        ));
    }
    let chunked = row.chunked() + piece.chunks.iter().map(|c| u64::from(c.size)).sum::<u64>();
    match piece.hasher.filter(|hasher| hasher.len() == chunked) {
        Some(hasher) => app.uploads.keep_hasher(row.id, hasher),
        None => app.uploads.forget_hasher(row.id),
    }
    let now_at = chunked + tail.len() as u64;
    if let Some(failure) = piece.failure {
        return Err(UploadError::at(failure, now_at));
    }
    Ok(HttpResponse::Ok().json(json!({ "offset": now_at })))
}

/// What to do when the file's name is taken where it goes.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum OnClash {
    /// Refuse (409, `name_taken`), so that the user can choose.
    #[default]
    Ask,
    /// A new version of the file that has the name.
    Replace,
    /// Commit under the first free name "name (2).ext", "name (3).ext"…
    KeepBoth,
    /// Commit nothing and end the session.
    Skip,
}

#[derive(Deserialize)]
pub struct FinishRequest {
    #[serde(default)]
    on_clash: OnClash,
}

/// `name (n).ext` for the first `n` from 2 that no sibling has.
fn free_name(name: &str, mut taken: impl FnMut(&str) -> bool) -> String {
    let (stem, extension) = match name.rfind('.') {
        Some(dot) if dot > 0 => name.split_at(dot),
        _ => (name, ""),
    };
    (2..)
        .map(|n| format!("{stem} ({n}){extension}"))
        .find(|candidate| !taken(candidate))
        .expect("some number is free")
}

/// How a finished file is committed.
pub(super) enum Placement {
    New,
    /// A new version of the file that has its name.
    Replace {
        id: Uuid,
        version: u64,
    },
    /// A new file under another name.
    Renamed(String),
}

/// How the user's `choice` settles a `clash` with the file's `name`
/// (`taken`: whether a name is taken beside it); `None`: skip it.
pub(super) fn placement(
    clash: Option<&ItemState>,
    choice: OnClash,
    name: &str,
    taken: impl FnMut(&str) -> bool,
) -> Result<Option<Placement>, UploadError> {
    let Some(existing) = clash else {
        return Ok(Some(Placement::New));
    };
    match choice {
        OnClash::Ask => Err(UploadError::name_taken(format!(
            "this folder already has {}{:?}: replace it, keep both, or skip",
            if existing.is_folder { "a folder " } else { "" },
            existing.name
        ))),
        OnClash::Replace if existing.is_folder => Err(WebError::Conflict(format!(
            "{:?} is a folder, which a file cannot replace: keep both or skip",
            existing.name
        ))
        .into()),
        OnClash::Replace => Ok(Some(Placement::Replace {
            id: existing.id,
            version: existing.version,
        })),
        OnClash::KeepBoth => Ok(Some(Placement::Renamed(free_name(name, taken)))),
        OnClash::Skip => Ok(None),
    }
}

/// The keyed content hash of the session's file: this proxy's hasher when it
/// has it, else computed by reading the stored chunks back.
async fn hasher_of(
    app: &AppState,
    store: &ChunkStore,
    keys: &nimbus_chunks::WorkspaceKeys,
    row: &SessionRow,
    chunks: &[nimbus_protocol::rpc::ChunkRef],
) -> Result<ContentHasher, UploadError> {
    if let Some(hasher) = app.uploads.hasher(row) {
        return Ok(hasher);
    }
    use futures::TryStreamExt;
    let stored = Content {
        chunks: chunks.to_vec(),
        ..Content::default()
    };
    let mut hasher = ContentHasher::new(keys);
    let mut plain = std::pin::pin!(content::download(store.clone(), keys.clone(), &stored));
    while let Some(bytes) = plain.try_next().await? {
        hasher.update(&bytes);
    }
    Ok(hasher)
}

fn finished_answer(item: Uuid, name: &str) -> HttpResponse {
    HttpResponse::Created().json(json!({ "item": item, "name": name, "skipped": false }))
}

/// A finish that waited too long for another finish of the same session.
fn claim_failed(error: sqlx::Error) -> UploadError {
    match &error {
        sqlx::Error::Database(cause) if cause.code().as_deref() == Some("55P03") => {
            WebError::Conflict(
                "another request is finishing this upload: ask again in a moment".into(),
            )
            .into()
        }
        _ => database(error),
    }
}

/// `POST /uploads/{id}/finish` with `{"on_clash": "ask" | "replace" |
/// "keep-both" | "skip"}`: chunks what is left, then commits the file (and
/// the folders of its path that are missing) in one commit. The session
/// then records the result, so that finishing again answers it instead of
/// committing twice; finishes of one session racing (a retry whose answer
/// was lost, another tab) take turns, and the later ones answer the first
/// one's result.
pub async fn finish(
    req: HttpRequest,
    session: Result<WebSession, WebError>,
    path: web::Path<String>,
    body: web::Json<FinishRequest>,
    state: web::Data<RestState>,
    app: web::Data<AppState>,
) -> Result<HttpResponse, UploadError> {
    let session = checked(&req, session)?;
    let row = session_row(&app, &session, &path).await?;
    if let (Some(item), Some(name)) = (row.finished_item, &row.finished_name) {
        return Ok(finished_answer(item, name));
    }
    if row.offset() != row.size() {
        return Err(UploadError::at(
            WebError::Conflict(format!(
                "{} of the file's {} bytes arrived: send the rest first",
                row.offset(),
                row.size()
            )),
            row.offset(),
        ));
    }
    let opened = open_writable(&state, &session, &row.workspace_id.to_string(), "/").await?;
    // Chunking the tail and hashing may run twice when finishes race:
    // storing a chunk again stores nothing new.
    let content = stored_content(&app, &opened, &row).await?;
    // One finish at a time commits; a later one waits here for its result.
    let claim = app
        .uploads
        .claim(row.id, session.account.user_id)
        .await
        .map_err(claim_failed)?
        .ok_or_else(no_session)?;
    if let (Some(item), Some(name)) = (claim.row.finished_item, &claim.row.finished_name) {
        return Ok(finished_answer(item, name));
    }
    // Uploads of one folder finish side by side, and each creates the folders
    // of its path that are missing: when another one created them (or took
    // the name) first, the commit conflicts, and the place is looked up again.
    let mut opened = opened;
    let mut attempts = 0;
    let (item, name) = loop {
        attempts += 1;
        let placed = place_and_commit(
            &state,
            &session,
            &opened,
            &claim.row,
            &content,
            body.on_clash,
        )
        .await;
        match placed {
            Ok(Some(placed)) => break placed,
            Ok(None) => {
                app.uploads.skipped(claim).await.map_err(database)?;
                return Ok(HttpResponse::Ok().json(json!({ "skipped": true })));
            }
            Err(error) if attempts < FINISH_ATTEMPTS && error.is_conflict() => {
                opened =
                    open_workspace(&state, &session, &row.workspace_id.to_string(), "/").await?;
            }
            Err(error) => return Err(error),
        }
    };
    app.uploads
        .finished(claim, item, &name)
        .await
        .map_err(database)?;
    Ok(finished_answer(item, &name))
}

/// Finishes placing a session's file after conflicting commits this often.
pub(super) const FINISH_ATTEMPTS: usize = 4;

/// The session's file as stored: its chunks and the tail chunked now.
async fn stored_content(
    app: &AppState,
    opened: &Opened,
    row: &SessionRow,
) -> Result<Content, UploadError> {
    let keys = content::keys_for(&opened.workspace)?;
    let store = ChunkStore::new(app, &opened.workspace);
    let mut chunks = app.uploads.chunks(row.id).await.map_err(database)?;
    let hasher = hasher_of(app, &store, &keys, row, &chunks).await?;
    let last = content::store_piece(
        &store,
        keys,
        Bytes::from(row.tail.clone()),
        stream::empty(),
        Some(0),
        Some(hasher),
    )
    .await;
    if let Some(failure) = last.failure {
        return Err(failure.into());
    }
    chunks.extend(last.chunks);
    let hasher = last.hasher.expect("given one");
    if hasher.len() != row.size() {
        return Err(WebError::Internal(format!(
            "upload {} holds {} bytes, not {}",
            row.id,
            hasher.len(),
            row.size()
        ))
        .into());
    }
    Ok(Content {
        size: row.size(),
        content_hash: Some(hasher.finish()),
        chunks,
        chunker: Some(ChunkerParams::DEFAULT.describe()),
    })
}

/// Commits the file (and the missing folders of its path) where the opened
/// tree says it goes; `None` when the user chose to skip a taken name.
async fn place_and_commit(
    state: &RestState,
    session: &WebSession,
    opened: &Opened,
    row: &SessionRow,
    content: &Content,
    on_clash: OnClash,
) -> Result<Option<(Uuid, String)>, UploadError> {
    let parent = live_folder(opened, row.parent_id).map_err(|_| {
        WebError::Conflict("the folder this upload goes in was deleted or moved away".into())
    })?;
    let names = path_names(&row.path)?;
    let target = target(opened, parent, &names)?;
    let clash = target
        .missing
        .is_empty()
        .then(|| live_child(opened, target.folder, target.name))
        .flatten();
    let Some(placement) = placement(clash, on_clash, target.name, |candidate| {
        live_child(opened, target.folder, candidate).is_some()
    })?
    else {
        return Ok(None);
    };
    let mut items = Vec::new();
    let mut folder = target.folder;
    for name in &target.missing {
        let id = Uuid::now_v7();
        items.push(CommitItem {
            id,
            base_version: 0,
            parent_id: folder,
            name: (*name).to_owned(),
            is_folder: true,
            deleted: false,
            modified_at: crate::timestamp::now_millis(),
            content: Content::default(),
        });
        folder = Some(id);
    }
    let (id, base_version, name) = match placement {
        Placement::New => (Uuid::now_v7(), 0, target.name.to_owned()),
        Placement::Replace { id, version } => (id, version, target.name.to_owned()),
        Placement::Renamed(name) => (Uuid::now_v7(), 0, name),
    };
    items.push(CommitItem {
        id,
        base_version,
        parent_id: folder,
        name: name.clone(),
        is_folder: false,
        deleted: false,
        modified_at: row.modified_at,
        content: content.clone(),
    });
    commit(state, session, opened, items).await?;
    Ok(Some((id, name)))
}

/// `DELETE /uploads/{id}`: ends the session. The chunks it stored stay as
/// any interrupted upload's do, for a later upload of the same bytes.
pub async fn cancel(
    req: HttpRequest,
    session: Result<WebSession, WebError>,
    path: web::Path<String>,
    app: web::Data<AppState>,
) -> Result<HttpResponse, UploadError> {
    let session = checked(&req, session)?;
    let row = session_row(&app, &session, &path).await?;
    app.uploads
        .delete(row.id, session.account.user_id)
        .await
        .map_err(database)?;
    Ok(HttpResponse::NoContent().finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kept_copies_get_the_first_free_number_before_the_extension() {
        let taken = |name: &str| ["report (2).pdf", "notes (2)"].contains(&name);
        assert_eq!(free_name("report.pdf", taken), "report (3).pdf");
        assert_eq!(free_name("notes", taken), "notes (3)");
        assert_eq!(free_name(".bashrc", taken), ".bashrc (2)");
        assert_eq!(free_name("a.tar.gz", taken), "a.tar (2).gz");
    }

    #[test]
    fn paths_are_relative_names_without_dot_segments() {
        assert_eq!(path_names("a/b/c.txt").unwrap(), ["a", "b", "c.txt"]);
        for bad in ["", "/a", "a//b", "a/../b", "./a", "a/", "a\nb"] {
            assert!(path_names(bad).is_err(), "{bad:?}");
        }
        assert!(path_names(&"d/".repeat(MAX_PATH_DEPTH + 1)).is_err());
    }
}
