//! The StackSync REST API v2 for web and mobile clients: `/v1/file` and
//! `/v1/folder`, for requests carrying `StackSync-API: v2`, signed with OAuth
//! 1.0a access tokens ([`crate::oauth`]).
//!
//! Every call authenticates the signature with the metadata servers
//! (`oauthAuthenticate`), which answer with the device bound to the access
//! token; the proxy then acts as that device over the same RPC as a desktop
//! client: it reads trees with `getChanges` ([`crate::tree`]) and version history
//! with `getVersions` ([`versions`]), stores content in the desktop chunk
//! format ([`crate::content`]) and commits through `commit`, so
//! desktops receive API changes by push like any other device's.
//!
//! # Deviations from StackSync, on purpose
//!
//! * **Ids are UUIDs** (strings in paths and JSON), not integers: items are
//!   named by the ids devices choose. `0`, an empty or an absent parent means
//!   the top of the user's default workspace; `GET /v1/folder/0` is that
//!   root, with `"id": null` and `"is_root": true`. The top of any other
//!   workspace of the caller (one they created, or one shared with them) is
//!   addressed by the workspace's id as a folder id: `GET /v1/folder/{id}`
//!   lists it (`"is_root": true`, the caller's mount name as `filename`),
//!   `parent={id}` creates in it, and sharing addresses it ([`sharing`]).
//! * `checksum` is the keyed content hash (`blake3:…`), not Adler-32; `chunks`
//!   are chunk ids of the Nimbus format.
//! * Deleting a file keeps its chunks: old versions stay restorable.
//!   `GET /v1/file/{id}/version/{n}` is served as well as StackSync's routed
//!   `/versions/{n}`, and `POST /v1/file/{id}/version/{n}/restore` commits
//!   version n's content as a new version ([`versions`]).
//! * `PUT /v1/file/{id}/data` answers `200` with the item (StackSync's spec),
//!   not its code's empty `201`.
//! * Items of an end-to-end encrypted workspace can be listed, renamed, moved
//!   and deleted, but their content is refused (`403`, code
//!   `encrypted_workspace`): only devices with the passphrase can read it.
//! * A form-encoded body is part of the OAuth signature (RFC 5849
//!   §3.4.1.3.1): folder and rename calls accept `name`/`parent` as a form as
//!   well as JSON, and file content must not be sent form-encoded (`415`).

pub mod file;
pub mod folder;
pub mod json;
pub mod links;
pub mod openapi;
pub mod sharing;
pub mod versions;

use std::sync::Arc;

use actix_web::guard::{self, GuardContext};
use actix_web::{HttpRequest, HttpResponse, web};
use nimbus_protocol::rpc::{
    CommitArgs, CommitItem, CommitReply, Content, ItemOutcome, ItemState, VersionStatus,
    WorkspaceInfo,
};
use serde::Deserialize;
use uuid::Uuid;

use crate::auth::oauth::{self, Caller};
use crate::error::rest::RestError;
use crate::state::RestState;
use crate::timestamp::now_millis;
use crate::tree::Tree;

/// `StackSync-API: v2` (header name and value in any case).
pub fn is_api_v2(ctx: &GuardContext<'_>) -> bool {
    ctx.head()
        .headers()
        .get("stacksync-api")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("v2"))
}

crate::routes::route_table! {
    GET "/openapi.json" => openapi::serve,
    POST "/v1/file" => file::upload,
    GET "/v1/file/{id}" => file::metadata,
    PUT "/v1/file/{id}" => file::update,
    DELETE "/v1/file/{id}" => file::delete,
    GET "/v1/file/{id}/data" => file::data,
    PUT "/v1/file/{id}/data" => file::replace_data,
    GET "/v1/file/{id}/versions" => versions::list,
    GET "/v1/file/{id}/versions/{n}" => versions::get,
    GET "/v1/file/{id}/version/{n}" => versions::get,
    GET "/v1/file/{id}/version/{n}/data" => versions::data,
    POST "/v1/file/{id}/version/{n}/restore" => versions::restore,
    POST "/v1/folder" => folder::create,
    GET "/v1/folder/{id}" => folder::get,
    GET "/v1/folder/{id}/contents" => folder::contents,
    PUT "/v1/folder/{id}" => folder::update,
    DELETE "/v1/folder/{id}" => folder::delete,
    POST "/v1/folder/{id}/share" => sharing::share,
    POST "/v1/folder/{id}/unshare" => sharing::unshare,
    GET "/v1/folder/{id}/members" => sharing::members,
    GET "/v1/proposals" => sharing::proposals,
    POST "/v1/proposals/{id}/accept" => sharing::accept,
    POST "/v1/proposals/{id}/decline" => sharing::decline,
    POST "/v1/link" => links::create,
    GET "/v1/links" => links::list,
    DELETE "/v1/link/{id}" => links::revoke,
}

/// The prefix of the API's routes, served to `StackSync-API: v2` requests only.
const API_PREFIX: &str = "/v1";

/// Mounts `/v1/file` and `/v1/folder` for `StackSync-API: v2` requests, and
/// the OpenAPI document at `/openapi.json`; a path served with another
/// method gets a JSON 405 ([`crate::routes::json_resources`]). Register
/// before the Swift dispatcher.
pub fn configure(config: &mut web::ServiceConfig) {
    let (api_routes, other_routes): (Vec<_>, Vec<_>) = ROUTES
        .iter()
        .zip(handlers())
        .partition(|(route, _)| route.path.starts_with(API_PREFIX));
    let mut api = web::scope(API_PREFIX).guard(guard::fn_guard(is_api_v2));
    for resource in crate::routes::json_resources(api_routes, |path| {
        path.strip_prefix(API_PREFIX)
            .expect("partitioned by prefix")
    }) {
        api = api.service(resource);
    }
    for resource in crate::routes::json_resources(other_routes, |path| path) {
        config.service(resource);
    }
    config.service(api.default_service(web::to(unknown_endpoint)));
    // Signed with OAuth, a request is for this API even without its header
    // (Swift requests carry tokens, not signatures): it gets the API's
    // refusal rather than the Swift API's.
    config.service(
        web::scope(API_PREFIX)
            .guard(guard::fn_guard(is_oauth_signed))
            .default_service(web::to(missing_api_header)),
    );
}

/// `Authorization: OAuth …`.
fn is_oauth_signed(ctx: &GuardContext<'_>) -> bool {
    ctx.head()
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim_start().get(..6))
        .is_some_and(|scheme| scheme.eq_ignore_ascii_case("oauth "))
}

async fn missing_api_header() -> Result<HttpResponse, RestError> {
    Err(RestError::BadRequest(
        "requests of the REST API v2 carry the header StackSync-API: v2 (see /openapi.json)".into(),
    ))
}

async fn unknown_endpoint(req: HttpRequest) -> Result<HttpResponse, RestError> {
    Err(RestError::BadRequest(format!(
        "{} {} is not an endpoint of the REST API v2 (see /openapi.json)",
        req.method(),
        req.path()
    )))
}

/// An authenticated call: the caller and their workspaces.
pub struct Session {
    pub caller: Caller,
    pub workspaces: Vec<WorkspaceInfo>,
}

/// An item found in one of the caller's workspaces.
pub struct Located {
    pub workspace: WorkspaceInfo,
    pub tree: Arc<Tree>,
    pub id: Uuid,
}

impl Located {
    pub fn item(&self) -> &nimbus_protocol::rpc::ItemState {
        self.tree
            .get(self.id)
            .expect("located items are in their tree")
    }
}

/// A folder reference: the top of the default workspace, or a folder.
pub enum Parent {
    Root,
    Folder(Uuid),
}

/// Parses a path or parameter id: `0` or empty is the root.
pub fn parse_id(raw: &str) -> Result<Parent, RestError> {
    match raw.trim() {
        "" | "0" | "null" => Ok(Parent::Root),
        id => Uuid::parse_str(id).map(Parent::Folder).map_err(|_| {
            RestError::BadRequest(format!(
                "{id:?} is not an item id: ids are UUIDs, and 0 is the root folder"
            ))
        }),
    }
}

/// Parses an item id (not the root).
pub fn parse_item_id(raw: &str) -> Result<Uuid, RestError> {
    match parse_id(raw)? {
        Parent::Folder(id) => Ok(id),
        Parent::Root => Err(RestError::BadRequest(
            "the root folder cannot be changed".into(),
        )),
    }
}

impl Session {
    /// Authenticates the OAuth signature and reads the caller's workspaces.
    pub async fn start(
        state: &RestState,
        req: &HttpRequest,
        form_body: Option<&[u8]>,
    ) -> Result<Self, RestError> {
        let caller = oauth::authenticate(state, req, form_body).await?;
        let mut workspaces = state
            .rpc
            .get_workspaces(&caller.device_token)
            .await
            .map_err(RestError::from_rpc)?;
        // The default workspace is searched first.
        workspaces.sort_by_key(|w| !w.is_default);
        Ok(Self { caller, workspaces })
    }

    /// The caller's workspace whose id is `id`, whose top `id` then names.
    pub fn workspace_top(&self, id: Uuid) -> Option<&WorkspaceInfo> {
        self.workspaces.iter().find(|w| w.workspace_id == id)
    }

    pub fn default_workspace(&self) -> Result<&WorkspaceInfo, RestError> {
        self.workspaces
            .iter()
            .find(|w| w.is_default)
            .ok_or_else(|| RestError::Internal("the user has no default workspace".into()))
    }

    /// Finds `id` in the caller's workspaces; another user's item is not found.
    pub async fn locate(&self, state: &RestState, id: Uuid) -> Result<Located, RestError> {
        for workspace in &self.workspaces {
            let tree = state
                .trees
                .load(
                    &state.rpc,
                    &self.caller.device_token,
                    workspace.workspace_id,
                )
                .await?;
            if tree.get(id).is_some() {
                return Ok(Located {
                    workspace: workspace.clone(),
                    tree,
                    id,
                });
            }
        }
        Err(RestError::NotFound(format!(
            "no file or folder has the id {id}"
        )))
    }

    /// Like [`Self::locate`], for a live item of the given kind.
    pub async fn locate_live(
        &self,
        state: &RestState,
        id: Uuid,
        is_folder: bool,
    ) -> Result<Located, RestError> {
        let located = self.locate(state, id).await?;
        let item = located.item();
        let kind = if is_folder { "folder" } else { "file" };
        if item.is_folder != is_folder {
            return Err(RestError::NotFound(format!("{id} is not a {kind}")));
        }
        if item.deleted {
            return Err(RestError::NotFound(format!("the {kind} {id} is deleted")));
        }
        Ok(located)
    }

    /// The workspace and tree where a new child of `parent` goes, and its
    /// parent id there (`None`: the top of the workspace).
    pub async fn target_folder(
        &self,
        state: &RestState,
        parent: Parent,
    ) -> Result<(WorkspaceInfo, Arc<Tree>, Option<Uuid>), RestError> {
        match parent {
            Parent::Root => {
                let workspace = self.default_workspace()?.clone();
                let tree = state
                    .trees
                    .load(
                        &state.rpc,
                        &self.caller.device_token,
                        workspace.workspace_id,
                    )
                    .await?;
                Ok((workspace, tree, None))
            }
            Parent::Folder(id) => {
                if let Some(workspace) = self.workspace_top(id) {
                    let tree = state
                        .trees
                        .load(
                            &state.rpc,
                            &self.caller.device_token,
                            workspace.workspace_id,
                        )
                        .await?;
                    return Ok((workspace.clone(), tree, None));
                }
                let located = self.locate_live(state, id, true).await?;
                Ok((located.workspace, located.tree, Some(id)))
            }
        }
    }

    /// Commits `items` to `workspace` and returns the version and status of
    /// each (no status: unchanged, nothing was stored), or the error of the
    /// first that was not committed.
    pub async fn commit(
        &self,
        state: &RestState,
        workspace: &WorkspaceInfo,
        items: Vec<CommitItem>,
    ) -> Result<Vec<(u64, Option<VersionStatus>)>, RestError> {
        require_write(workspace)?;
        let reply: CommitReply = state
            .rpc
            .commit(
                &self.caller.device_token,
                Uuid::new_v4(),
                CommitArgs {
                    workspace_id: workspace.workspace_id,
                    items,
                },
            )
            .await
            .map_err(RestError::from_rpc)?;
        reply
            .results
            .into_iter()
            .map(|result| match result.outcome {
                ItemOutcome::Committed { version, status } => Ok((version, Some(status))),
                ItemOutcome::Unchanged { version } => Ok((version, None)),
                ItemOutcome::Conflict { .. } => Err(RestError::Conflict(format!(
                    "{} was changed by another device meanwhile; nothing was changed, \
                     read it again and retry",
                    result.id
                ))),
                ItemOutcome::Refused { code, message } => {
                    Err(RestError::from_refusal(code, message))
                }
            })
            .collect()
    }
}

/// `{"name", "parent"}` of folder creation and of rename/move, as JSON or as
/// a form.
#[derive(Debug, Default, Deserialize)]
pub struct NameAndParent {
    pub name: Option<String>,
    /// A UUID, `0`/`null` for the root; JSON numbers (`0`) are accepted.
    #[serde(default, deserialize_with = "id_or_number")]
    pub parent: Option<String>,
}

fn id_or_number<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let value = Option::<serde_json::Value>::deserialize(d)?;
    Ok(match value {
        None | Some(serde_json::Value::Null) => None,
        Some(serde_json::Value::String(s)) => Some(s),
        Some(other) => Some(other.to_string()),
    })
}

impl NameAndParent {
    /// Reads the body: a form (already signed) or JSON.
    pub fn parse(req: &HttpRequest, body: &[u8]) -> Result<Self, RestError> {
        if oauth::is_form(req) {
            return serde_urlencoded_form(body);
        }
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(Self::default());
        }
        serde_json::from_slice(body).map_err(|e| {
            RestError::BadRequest(format!(
                "the body must be JSON {{\"name\", \"parent\"}}: {e}"
            ))
        })
    }
}

fn serde_urlencoded_form(body: &[u8]) -> Result<NameAndParent, RestError> {
    let mut out = NameAndParent::default();
    for (key, value) in form_urlencoded::parse(body) {
        match key.as_ref() {
            "name" => out.name = Some(value.into_owned()),
            "parent" => out.parent = Some(value.into_owned()),
            _ => {}
        }
    }
    Ok(out)
}

/// The form body of `req`, when it is one (for the signature).
pub fn signed_form<'a>(req: &HttpRequest, body: &'a [u8]) -> Option<&'a [u8]> {
    oauth::is_form(req).then_some(body)
}

/// Refuses changes to a workspace shared with the caller read-only (checked
/// before content is stored, and again by every commit).
pub fn require_write(workspace: &WorkspaceInfo) -> Result<(), RestError> {
    if workspace.role.can_write() {
        return Ok(());
    }
    Err(RestError::Forbidden(format!(
        "the workspace {:?} is shared with you read-only",
        workspace.name
    )))
}

/// The next version of `item`, in its place, unchanged but for `change`
/// (the REST API's and the web pages' renames, moves, deletions, new
/// contents).
pub fn next_version(item: &ItemState, change: impl FnOnce(&mut CommitItem)) -> CommitItem {
    let mut next = CommitItem {
        id: item.id,
        base_version: item.version,
        parent_id: item.parent_id,
        name: item.name.clone(),
        is_folder: item.is_folder,
        deleted: false,
        modified_at: item.modified_at,
        content: item.content.clone(),
    };
    change(&mut next);
    next
}

/// A new version of the file `current` with `content`, in its current place.
pub fn with_new_content(current: &ItemState, content: Content) -> CommitItem {
    next_version(current, |next| {
        next.modified_at = now_millis();
        next.content = content;
    })
}
