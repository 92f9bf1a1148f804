//! `/v1/file`: upload, metadata, download, replace, rename/move, delete.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use nimbus_protocol::rpc::{CommitItem, ItemState, VersionStatus};
use serde::Deserialize;
use uuid::Uuid;

use super::json::{EMPTY_MIMETYPE, Item, mimetype};
use super::{Located, NameAndParent, Session, next_version, parse_id, parse_item_id};
use crate::content::{self, ChunkStore};
use crate::error::rest::RestError;
use crate::state::AppState;
use crate::state::RestState;
use crate::timestamp::now_millis;

#[derive(Debug, Deserialize)]
pub struct UploadQuery {
    pub name: Option<String>,
    pub parent: Option<String>,
}

fn refuse_form(req: &HttpRequest) -> Result<(), RestError> {
    if crate::auth::oauth::is_form(req) {
        return Err(RestError::UnsupportedMediaType(
            "send file content as application/octet-stream (or any type but \
             application/x-www-form-urlencoded, whose body would be OAuth parameters)"
                .into(),
        ));
    }
    Ok(())
}

fn chunk_store(app: &AppState, located: &nimbus_protocol::rpc::WorkspaceInfo) -> ChunkStore {
    ChunkStore::new(app, located)
}

/// `POST /v1/file?name=…&parent=…`: a new file with the body as content.
pub async fn upload(
    req: HttpRequest,
    query: web::Query<UploadQuery>,
    payload: web::Payload,
    state: web::Data<RestState>,
    app: web::Data<AppState>,
) -> Result<HttpResponse, RestError> {
    refuse_form(&req)?;
    let session = Session::start(&state, &req, None).await?;
    let name = query
        .name
        .as_deref()
        .filter(|n| !n.is_empty())
        .ok_or_else(|| RestError::BadRequest("the query parameter name is required".into()))?;
    let parent = parse_id(query.parent.as_deref().unwrap_or(""))?;
    let (workspace, tree, parent_id) = session.target_folder(&state, parent).await?;
    // Before any chunk is stored: a refused upload must leave nothing behind.
    super::require_write(&workspace)?;
    let keys = content::keys_for(&workspace)?;
    if tree
        .children(parent_id, false)
        .iter()
        .any(|c| c.name == name)
    {
        return Err(RestError::NameTaken(format!(
            "{name:?} already exists in this folder"
        )));
    }
    let content = content::upload(&chunk_store(&app, &workspace), keys, payload).await?;
    let item = CommitItem {
        id: Uuid::now_v7(),
        base_version: 0,
        parent_id,
        name: name.to_owned(),
        is_folder: false,
        deleted: false,
        modified_at: now_millis(),
        content,
    };
    let outcome = session
        .commit(&state, &workspace, vec![item.clone()])
        .await?;
    Ok(HttpResponse::Created().json(Item::from_outcome(&item, outcome[0], VersionStatus::New)))
}

/// `GET /v1/file/{id}`: the file's metadata (deleted files too, with status
/// `DELETED`).
pub async fn metadata(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<RestState>,
) -> Result<HttpResponse, RestError> {
    let id = parse_item_id(&path)?;
    let session = Session::start(&state, &req, None).await?;
    let located = session.locate(&state, id).await?;
    if located.item().is_folder {
        return Err(RestError::NotFound(format!("{id} is a folder, not a file")));
    }
    Ok(HttpResponse::Ok().json(Item::from_state(located.item())))
}

/// `GET /v1/file/{id}/data`: the content, streamed.
pub async fn data(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<RestState>,
    app: web::Data<AppState>,
) -> Result<HttpResponse, RestError> {
    let id = parse_item_id(&path)?;
    let session = Session::start(&state, &req, None).await?;
    let located = session.locate_live(&state, id, false).await?;
    stream_content(&app, &located.workspace, located.item())
}

/// The content of one version of a file of `workspace`, streamed, each chunk
/// checked against its id and size.
pub fn stream_content(
    app: &AppState,
    workspace: &nimbus_protocol::rpc::WorkspaceInfo,
    item: &ItemState,
) -> Result<HttpResponse, RestError> {
    let (store, keys) = content::reader_for(app, workspace, item)?;
    let mimetype = if item.content.size == 0 {
        EMPTY_MIMETYPE
    } else {
        mimetype(&item.name)
    };
    let body = content::download(store, keys, &item.content);
    Ok(HttpResponse::Ok()
        .content_type(mimetype)
        .insert_header((header::CACHE_CONTROL, "private, no-cache"))
        .no_chunking(item.content.size)
        .streaming(body))
}

/// `PUT /v1/file/{id}/data`: new content, committed as a new version.
pub async fn replace_data(
    req: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
    state: web::Data<RestState>,
    app: web::Data<AppState>,
) -> Result<HttpResponse, RestError> {
    refuse_form(&req)?;
    let id = parse_item_id(&path)?;
    let session = Session::start(&state, &req, None).await?;
    let located = session.locate_live(&state, id, false).await?;
    let keys = content::keys_for(&located.workspace)?;
    super::require_write(&located.workspace)?;
    let content = content::upload(&chunk_store(&app, &located.workspace), keys, payload).await?;
    let current = located.item();
    let item = super::with_new_content(current, content);
    let outcome = session
        .commit(&state, &located.workspace, vec![item.clone()])
        .await?;
    Ok(HttpResponse::Ok().json(Item::from_outcome(&item, outcome[0], current.status)))
}

/// The new state of a renamed and/or moved item; folders may not move into
/// themselves, and items stay in their workspace.
pub async fn renamed(
    session: &Session,
    state: &RestState,
    located: &Located,
    change: NameAndParent,
) -> Result<CommitItem, RestError> {
    let current = located.item();
    let name = change
        .name
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| current.name.clone());
    let parent_id = match change.parent {
        None => current.parent_id,
        Some(raw) => match parse_id(&raw)? {
            super::Parent::Root => {
                if !located.workspace.is_default {
                    return Err(RestError::BadRequest(ACROSS_WORKSPACES.into()));
                }
                None
            }
            super::Parent::Folder(parent) => {
                let target = session.locate_live(state, parent, true).await?;
                if target.workspace.workspace_id != located.workspace.workspace_id {
                    return Err(RestError::BadRequest(ACROSS_WORKSPACES.into()));
                }
                if located.tree.is_within(parent, current.id) {
                    return Err(RestError::BadRequest(
                        "a folder cannot move into itself".into(),
                    ));
                }
                Some(parent)
            }
        },
    };
    Ok(next_version(current, |next| {
        next.parent_id = parent_id;
        next.name = name;
    }))
}

/// Why a move across workspaces is refused, and what to do instead: the
/// copy first, then the delete, which the source's history keeps.
const ACROSS_WORKSPACES: &str = "items cannot move between workspaces: upload a copy into the \
     other workspace first, then delete this one (its history keeps it)";

/// `PUT /v1/file/{id}` with `{"name", "parent"}` (either): rename and/or move.
pub async fn update(
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Bytes,
    state: web::Data<RestState>,
) -> Result<HttpResponse, RestError> {
    rename_or_move(req, path, body, state, false).await
}

/// Renames and/or moves the file or folder `path` names; shared by
/// `PUT /v1/file/{id}` and `PUT /v1/folder/{id}`.
pub(super) async fn rename_or_move(
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Bytes,
    state: web::Data<RestState>,
    is_folder: bool,
) -> Result<HttpResponse, RestError> {
    let id = parse_item_id(&path)?;
    let session = Session::start(&state, &req, super::signed_form(&req, &body)).await?;
    let change = NameAndParent::parse(&req, &body)?;
    let located = session.locate_live(&state, id, is_folder).await?;
    let item = renamed(&session, &state, &located, change).await?;
    let outcome = session
        .commit(&state, &located.workspace, vec![item.clone()])
        .await?;
    Ok(HttpResponse::Ok().json(Item::from_outcome(&item, outcome[0], located.item().status)))
}

/// `DELETE /v1/file/{id}`: a `DELETED` version; the content stays for the
/// version history.
pub async fn delete(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<RestState>,
) -> Result<HttpResponse, RestError> {
    let id = parse_item_id(&path)?;
    let session = Session::start(&state, &req, None).await?;
    let located = session.locate_live(&state, id, false).await?;
    let current = located.item();
    let item = next_version(current, |next| next.deleted = true);
    let outcome = session
        .commit(&state, &located.workspace, vec![item.clone()])
        .await?;
    Ok(HttpResponse::Ok().json(Item::from_outcome(&item, outcome[0], current.status)))
}
