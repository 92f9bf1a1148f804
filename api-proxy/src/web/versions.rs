//! `/files/{workspace}/{item}/versions`: a file's versions (size, time,
//! device), each downloadable, and restoring one as a new version. Read
//! through [`History`], as the REST API's versions are. Viewers of a shared
//! workspace may list and download, never restore.

use std::collections::HashMap;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use nimbus_protocol::rpc::{DeviceInfo, ItemState, Operation, VersionStatus};
use uuid::Uuid;

use super::browse::{Opened, open_workspace, open_writable};
use super::download::serve_item;
use super::error::WebError;
use super::format::{human_size, human_time, iso_time};
use super::layout::{Layout, render, see_other};
use super::organize::{CsrfForm, commit, folder_url};
use super::session::WebSession;
use super::trash::bring_back;
use crate::state::{AppState, RestState};
use crate::versions::{History, with_content};

struct VersionRow {
    number: u64,
    what: &'static str,
    name: String,
    size: String,
    when: String,
    when_iso: String,
    device: String,
    /// Download and restore URLs; `None` for a version recording a deletion.
    url: Option<String>,
    current: bool,
}

#[derive(Template)]
#[template(path = "versions.html")]
struct VersionsPage {
    layout: Layout,
    /// Live updates of the workspace, which refresh the list.
    live_url: String,
    name: String,
    deleted: bool,
    folder_href: String,
    can_write: bool,
    rows: Vec<VersionRow>,
}

/// The file `raw_item` of the opened workspace (deleted or not) and its
/// history.
async fn history_of(
    state: &RestState,
    session: &WebSession,
    opened: &Opened,
    raw_item: &str,
) -> Result<History, WebError> {
    let item = opened.any_item(raw_item)?;
    if item.is_folder {
        return Err(WebError::BadRequest(format!(
            "{:?} is a folder: only files have versions",
            item.name
        )));
    }
    Ok(History::load(
        &state.rpc,
        &session.token,
        std::slice::from_ref(&opened.workspace),
        item.id,
    )
    .await?)
}

fn describe(version: &ItemState) -> &'static str {
    match version.status {
        VersionStatus::New => "created",
        VersionStatus::Changed => "changed",
        VersionStatus::Renamed => "renamed",
        VersionStatus::Moved => "moved",
        VersionStatus::Deleted => "deleted",
    }
}

/// `GET /files/{workspace}/{item}/versions`.
pub async fn page(
    req: HttpRequest,
    session: WebSession,
    path: web::Path<(String, String)>,
    state: web::Data<RestState>,
) -> Result<HttpResponse, WebError> {
    let (workspace, item) = path.into_inner();
    let opened = open_workspace(&state, &session, &workspace, req.path()).await?;
    let history = history_of(&state, &session, &opened, &item).await?;
    // Devices of other members are not the caller's to list: those show as
    // "another device".
    let devices: Vec<DeviceInfo> = state
        .rpc
        .call(Some(&session.token), Operation::ListDevices)
        .await
        .map_err(|e| WebError::from_rpc(e, req.path()))?;
    let device_names: HashMap<Uuid, String> =
        devices.into_iter().map(|d| (d.device_id, d.name)).collect();
    let current = history.current();
    let base = format!("/files/{}/{}", opened.workspace.workspace_id, current.id);
    let rows = history
        .versions
        .iter()
        .map(|v| VersionRow {
            number: v.version,
            what: describe(v),
            name: v.name.clone(),
            size: if v.deleted {
                String::new()
            } else {
                human_size(v.content.size)
            },
            when: human_time(v.committed_at),
            when_iso: iso_time(v.committed_at),
            device: device_names
                .get(&v.device_id)
                .cloned()
                .unwrap_or_else(|| "another device".into()),
            url: (!v.deleted).then(|| format!("{base}/versions/{}", v.version)),
            current: v.version == current.version,
        })
        .collect();
    render(
        StatusCode::OK,
        &VersionsPage {
            layout: Layout::of(&session),
            live_url: opened.live_url(),
            name: current.name.clone(),
            deleted: current.deleted,
            folder_href: folder_url(&opened, current.parent_id),
            can_write: opened.workspace.role.can_write(),
            rows,
        },
    )
}

fn parse_version(raw: &str) -> Result<u64, WebError> {
    raw.parse::<u64>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| WebError::NotFound(format!("there is no version {raw:?}")))
}

/// `GET /files/{workspace}/{item}/versions/{version}/download`.
pub async fn download(
    req: HttpRequest,
    session: WebSession,
    path: web::Path<(String, String, String)>,
    state: web::Data<RestState>,
    app: web::Data<AppState>,
) -> Result<HttpResponse, WebError> {
    let (workspace, item, number) = path.into_inner();
    let number = parse_version(&number)?;
    let opened = open_workspace(&state, &session, &workspace, req.path()).await?;
    let history = history_of(&state, &session, &opened, &item).await?;
    let version = with_content(history.version(number)?)?;
    serve_item(&req, &app, &opened, version, true)
}

/// `POST /files/{workspace}/{item}/versions/{version}/restore`: that
/// version's content becomes the file's newest version. A deleted file comes
/// back as the trash brings it back (its old place, never over another).
pub async fn restore(
    req: HttpRequest,
    session: WebSession,
    path: web::Path<(String, String, String)>,
    form: web::Form<CsrfForm>,
    state: web::Data<RestState>,
) -> Result<HttpResponse, WebError> {
    session.check_csrf(&req, form.csrf.as_deref())?;
    let (workspace, item, number) = path.into_inner();
    let number = parse_version(&number)?;
    let opened = open_writable(&state, &session, &workspace, "/").await?;
    let history = history_of(&state, &session, &opened, &item).await?;
    let version = with_content(history.version(number)?)?;
    let current = history.current();
    let items = if current.deleted {
        bring_back(
            &state,
            &session,
            &opened,
            current,
            Some(version.content.clone()),
        )
        .await?
    } else {
        vec![crate::rest::with_new_content(
            current,
            version.content.clone(),
        )]
    };
    commit(&state, &session, &opened, items).await?;
    Ok(see_other(&format!(
        "/files/{}/{}/versions",
        opened.workspace.workspace_id, current.id
    )))
}
