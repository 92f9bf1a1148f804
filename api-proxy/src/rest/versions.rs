//! `/v1/file/{id}/versions`: the version history of a file, the metadata and
//! content of each version, and restoring one as a new version. Read with
//! the metadata servers' `getVersions`: every version keeps its own name,
//! place and chunks.

use actix_web::{HttpRequest, HttpResponse, web};
use nimbus_protocol::rpc::{ErrorCode, ItemHistory, ItemState, Operation, WorkspaceInfo};
use uuid::Uuid;

use super::file::stream_content;
use super::json::Item;
use super::{Session, parse_item_id};
use crate::error::rest::RestError;
use crate::state::AppState;
use crate::state::RestState;

/// The versions of a file, newest first, and the workspace it is in.
struct History {
    workspace: WorkspaceInfo,
    versions: Vec<ItemState>,
}

impl History {
    async fn load(state: &RestState, session: &Session, id: Uuid) -> Result<Self, RestError> {
        let not_found = || RestError::NotFound(format!("no file has the id {id}"));
        let history: ItemHistory = state
            .rpc
            .call(
                Some(&session.caller.device_token),
                Operation::GetVersions { item_id: id },
            )
            .await
            .map_err(|error| match error.rpc_code() {
                // Unknown and other users' items look the same.
                Some(ErrorCode::Forbidden) => not_found(),
                _ => RestError::from_rpc(error),
            })?;
        let current = history.versions.first().ok_or_else(not_found)?;
        if current.is_folder {
            return Err(RestError::BadRequest(format!(
                "{id} is a folder: only files have versions"
            )));
        }
        let workspace = session
            .workspaces
            .iter()
            .find(|w| w.workspace_id == history.workspace_id)
            .cloned()
            .ok_or_else(not_found)?;
        Ok(Self {
            workspace,
            versions: history.versions,
        })
    }

    fn current(&self) -> &ItemState {
        &self.versions[0]
    }

    fn version(&self, number: u64) -> Result<&ItemState, RestError> {
        self.versions
            .iter()
            .find(|v| v.version == number)
            .ok_or_else(|| {
                RestError::NotFound(format!(
                    "the file {} has no version {number} (its latest is {})",
                    self.current().id,
                    self.current().version
                ))
            })
    }
}

/// The file id and version number of a `/version/{n}` path.
fn parse_path(path: &(String, String)) -> Result<(Uuid, u64), RestError> {
    let id = parse_item_id(&path.0)?;
    let number = path
        .1
        .trim()
        .parse::<u64>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| {
            RestError::BadRequest(format!("{:?} is not a version number (1, 2, …)", path.1))
        })?;
    Ok((id, number))
}

/// Refuses a version that records a deletion: it holds no content.
fn with_content(version: &ItemState) -> Result<&ItemState, RestError> {
    if version.deleted {
        return Err(RestError::NotFound(format!(
            "version {} of {} records its deletion and has no content",
            version.version, version.id
        )));
    }
    Ok(version)
}

/// `GET /v1/file/{id}/versions`: the file's metadata with `versions`, newest
/// first.
pub async fn list(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<RestState>,
) -> Result<HttpResponse, RestError> {
    let id = parse_item_id(&path)?;
    let session = Session::start(&state, &req, None).await?;
    let history = History::load(&state, &session, id).await?;
    let mut file = Item::from_state(history.current());
    file.versions = Some(history.versions.iter().map(Item::from_state).collect());
    Ok(HttpResponse::Ok().json(file))
}

/// `GET /v1/file/{id}/version/{n}` (and `/versions/{n}`): that version's
/// metadata.
pub async fn get(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    state: web::Data<RestState>,
) -> Result<HttpResponse, RestError> {
    let (id, number) = parse_path(&path)?;
    let session = Session::start(&state, &req, None).await?;
    let history = History::load(&state, &session, id).await?;
    Ok(HttpResponse::Ok().json(Item::from_state(history.version(number)?)))
}

/// `GET /v1/file/{id}/version/{n}/data`: that version's content, streamed.
pub async fn data(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    state: web::Data<RestState>,
    app: web::Data<AppState>,
) -> Result<HttpResponse, RestError> {
    let (id, number) = parse_path(&path)?;
    let session = Session::start(&state, &req, None).await?;
    let history = History::load(&state, &session, id).await?;
    let version = with_content(history.version(number)?)?;
    stream_content(&app, &history.workspace, version)
}

/// `POST /v1/file/{id}/version/{n}/restore`: version n's content committed as
/// a new version, under the file's current name and place. A deleted file is
/// recreated where it was, if that name is still free there.
pub async fn restore(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    state: web::Data<RestState>,
) -> Result<HttpResponse, RestError> {
    let (id, number) = parse_path(&path)?;
    let session = Session::start(&state, &req, None).await?;
    let history = History::load(&state, &session, id).await?;
    let version = with_content(history.version(number)?)?;
    let current = history.current();
    let item = super::with_new_content(current, version.content.clone());
    let outcome = session
        .commit(&state, &history.workspace, vec![item.clone()])
        .await
        .map_err(|error| match error {
            // Only a refusal maps to 404 here: the folder it was in is gone.
            RestError::NotFound(message) => RestError::BadRequest(format!(
                "the file cannot be restored where it was: {message}"
            )),
            other => other,
        })?;
    Ok(HttpResponse::Ok().json(Item::from_outcome(&item, outcome[0], current.status)))
}
