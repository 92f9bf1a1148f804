//! `/v1/folder`: create, contents, rename/move, delete.

use actix_web::{HttpRequest, HttpResponse, web};
use nimbus_protocol::rpc::{CommitItem, Content, ItemState, VersionStatus};
use serde::Deserialize;
use uuid::Uuid;

use super::json::{FOLDER_MIMETYPE, Item, Root};
use super::{NameAndParent, Parent, Session, next_version, parse_id, parse_item_id};
use crate::error::rest::RestError;
use crate::state::RestState;
use crate::timestamp::now_millis;

/// `POST /v1/folder` with `{"name", "parent"}`.
pub async fn create(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<RestState>,
) -> Result<HttpResponse, RestError> {
    let session = Session::start(&state, &req, super::signed_form(&req, &body)).await?;
    let request = NameAndParent::parse(&req, &body)?;
    let name = request
        .name
        .filter(|n| !n.is_empty())
        .ok_or_else(|| RestError::BadRequest("the folder needs a name".into()))?;
    let parent = parse_id(request.parent.as_deref().unwrap_or(""))?;
    let (workspace, tree, parent_id) = session.target_folder(&state, parent).await?;
    if let Some(existing) = tree
        .children(parent_id, false)
        .iter()
        .find(|c| c.name == name)
    {
        return Err(RestError::NameTaken(if existing.is_folder {
            "Folder already exists.".to_owned()
        } else {
            format!("a file named {name:?} already exists in this folder")
        }));
    }
    let item = CommitItem {
        id: Uuid::now_v7(),
        base_version: 0,
        parent_id,
        name,
        is_folder: true,
        deleted: false,
        modified_at: now_millis(),
        content: Content::default(),
    };
    let outcome = session
        .commit(&state, &workspace, vec![item.clone()])
        .await?;
    Ok(HttpResponse::Created().json(Item::from_outcome(&item, outcome[0], VersionStatus::New)))
}

#[derive(Debug, Deserialize)]
pub struct ContentsQuery {
    pub include_deleted: Option<String>,
}

async fn listing(
    req: &HttpRequest,
    raw_id: &str,
    state: &RestState,
    include_deleted: bool,
) -> Result<HttpResponse, RestError> {
    let parent = parse_id(raw_id)?;
    let session = Session::start(state, req, None).await?;
    let (id, filename) = match parent {
        Parent::Root => (None, "root".to_owned()),
        Parent::Folder(id) => match session.workspace_top(id) {
            Some(workspace) => (Some(id), workspace.name.clone()),
            None => return folder_listing(&session, state, id, include_deleted).await,
        },
    };
    let (_, tree, _) = session.target_folder(state, parent).await?;
    Ok(HttpResponse::Ok().json(Root {
        id: id.map(|id| id.to_string()),
        filename,
        is_folder: true,
        is_root: true,
        mimetype: FOLDER_MIMETYPE.into(),
        size: 0,
        contents: tree
            .children(None, include_deleted)
            .into_iter()
            .map(Item::from_state)
            .collect(),
    }))
}

/// A folder inside a workspace and its children.
async fn folder_listing(
    session: &Session,
    state: &RestState,
    id: Uuid,
    include_deleted: bool,
) -> Result<HttpResponse, RestError> {
    let located = session.locate(state, id).await?;
    if !located.item().is_folder {
        return Err(RestError::NotFound(format!("{id} is a file, not a folder")));
    }
    let mut folder = Item::from_state(located.item());
    folder.contents = Some(
        located
            .tree
            .children(Some(id), include_deleted)
            .into_iter()
            .map(Item::from_state)
            .collect(),
    );
    Ok(HttpResponse::Ok().json(folder))
}

/// `GET /v1/folder/{id}`: the folder and its live children (`0`: the root).
pub async fn get(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<RestState>,
) -> Result<HttpResponse, RestError> {
    listing(&req, &path, &state, false).await
}

/// `GET /v1/folder/{id}/contents?include_deleted=true`.
pub async fn contents(
    req: HttpRequest,
    path: web::Path<String>,
    query: web::Query<ContentsQuery>,
    state: web::Data<RestState>,
) -> Result<HttpResponse, RestError> {
    let include_deleted = match query.include_deleted.as_deref() {
        None => false,
        Some(v)
            if ["true", "1", "yes"]
                .iter()
                .any(|t| v.eq_ignore_ascii_case(t)) =>
        {
            true
        }
        Some(v)
            if ["false", "0", "no"]
                .iter()
                .any(|t| v.eq_ignore_ascii_case(t)) =>
        {
            false
        }
        Some(other) => {
            return Err(RestError::BadRequest(format!(
                "include_deleted must be true or false, not {other:?}"
            )));
        }
    };
    listing(&req, &path, &state, include_deleted).await
}

/// `PUT /v1/folder/{id}` with `{"name", "parent"}` (either): rename and/or move.
pub async fn update(
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Bytes,
    state: web::Data<RestState>,
) -> Result<HttpResponse, RestError> {
    super::file::rename_or_move(req, path, body, state, true).await
}

/// `DELETE /v1/folder/{id}`: the folder and everything live in it, in one
/// commit (the metadata servers delete a folder only with its contents).
pub async fn delete(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<RestState>,
) -> Result<HttpResponse, RestError> {
    let id = parse_item_id(&path)?;
    let session = Session::start(&state, &req, None).await?;
    let located = session.locate_live(&state, id, true).await?;
    let deleted = |item: &ItemState| next_version(item, |next| next.deleted = true);
    // Parents first throughout: folder deletions are applied last-listed first.
    let mut items = vec![deleted(located.item())];
    items.extend(located.tree.live_descendants(id).into_iter().map(deleted));
    let outcome = session
        .commit(&state, &located.workspace, items.clone())
        .await?;
    Ok(HttpResponse::Ok().json(Item::from_outcome(
        &items[0],
        outcome[0],
        located.item().status,
    )))
}
