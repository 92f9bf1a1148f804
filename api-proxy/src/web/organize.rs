//! New folder, rename and delete, committed through the metadata servers as
//! any device's changes are (so desktops receive them by push). Deleting
//! keeps every version: a deleted file's content stays restorable.

use actix_web::{HttpRequest, HttpResponse, web};
use nimbus_protocol::rpc::{CommitArgs, CommitItem, Content, ItemOutcome, ItemState};
use serde::Deserialize;
use uuid::Uuid;

use super::browse::{Opened, open_workspace};
use super::error::WebError;
use super::layout::see_other;
use super::session::WebSession;
use crate::error::rest::RestError;
use crate::state::RestState;
use crate::timestamp::now_millis;

#[derive(Deserialize)]
pub struct NameForm {
    csrf: Option<String>,
    #[serde(default)]
    name: String,
    /// For a new folder: the folder it goes in (empty: the top).
    #[serde(default)]
    parent: String,
}

/// Commits `items` to the opened workspace; any item not committed fails
/// the request with the servers' reason (a batch is all or nothing).
async fn commit(
    state: &RestState,
    session: &WebSession,
    opened: &Opened,
    items: Vec<CommitItem>,
) -> Result<(), WebError> {
    crate::rest::require_write(&opened.workspace)?;
    let reply = state
        .rpc
        .commit(
            &session.token,
            Uuid::new_v4(),
            CommitArgs {
                workspace_id: opened.workspace.workspace_id,
                items,
            },
        )
        .await
        .map_err(|e| WebError::from_rpc(e, "/"))?;
    for result in reply.results {
        match result.outcome {
            ItemOutcome::Committed { .. } | ItemOutcome::Unchanged { .. } => {}
            ItemOutcome::Conflict { .. } => {
                return Err(WebError::Conflict(
                    "another device changed this meanwhile, so nothing was changed: reload \
                     the folder and try again"
                        .into(),
                ));
            }
            ItemOutcome::Refused { code, message } => {
                return Err(RestError::from_refusal(code, message).into());
            }
        }
    }
    Ok(())
}

/// The page of `folder` in the opened workspace.
fn folder_url(opened: &Opened, folder: Option<Uuid>) -> String {
    let workspace = opened.workspace.workspace_id;
    match folder {
        Some(id) => format!("/files/{workspace}/{id}"),
        None => format!("/files/{workspace}"),
    }
}

fn checked_name(name: &str, opened: &Opened, parent: Option<Uuid>) -> Result<String, WebError> {
    let name = name.trim();
    if name.is_empty() {
        return Err(WebError::BadRequest("give it a name".into()));
    }
    if opened
        .tree
        .children(parent, false)
        .iter()
        .any(|c| c.name == name)
    {
        return Err(WebError::Conflict(format!(
            "this folder already has something named {name:?}: choose another name"
        )));
    }
    Ok(name.to_owned())
}

/// `POST /files/{workspace}/new-folder` with `name` and `parent`.
pub async fn new_folder(
    req: HttpRequest,
    session: WebSession,
    path: web::Path<String>,
    form: web::Form<NameForm>,
    state: web::Data<RestState>,
) -> Result<HttpResponse, WebError> {
    session.check_csrf(&req, form.csrf.as_deref())?;
    let opened = open_workspace(&state, &session, &path, "/").await?;
    let parent = match form.parent.trim() {
        "" => None,
        raw => {
            let folder = opened.live_item(raw)?;
            if !folder.is_folder {
                return Err(WebError::BadRequest(format!(
                    "{:?} is a file: folders go in folders",
                    folder.name
                )));
            }
            Some(folder.id)
        }
    };
    let name = checked_name(&form.name, &opened, parent)?;
    let item = CommitItem {
        id: Uuid::now_v7(),
        base_version: 0,
        parent_id: parent,
        name,
        is_folder: true,
        deleted: false,
        modified_at: now_millis(),
        content: Content::default(),
    };
    commit(&state, &session, &opened, vec![item]).await?;
    Ok(see_other(&folder_url(&opened, parent)))
}

/// The next version of `item`, in its place, unchanged but for `change`.
fn next_version(item: &ItemState, change: impl FnOnce(&mut CommitItem)) -> CommitItem {
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

/// `POST /files/{workspace}/{item}/rename` with the new `name`.
pub async fn rename(
    req: HttpRequest,
    session: WebSession,
    path: web::Path<(String, String)>,
    form: web::Form<NameForm>,
    state: web::Data<RestState>,
) -> Result<HttpResponse, WebError> {
    session.check_csrf(&req, form.csrf.as_deref())?;
    let (workspace, item) = path.into_inner();
    let opened = open_workspace(&state, &session, &workspace, "/").await?;
    let item = opened.live_item(&item)?;
    if form.name.trim() != item.name {
        let name = checked_name(&form.name, &opened, item.parent_id)?;
        let renamed = next_version(item, |next| next.name = name);
        commit(&state, &session, &opened, vec![renamed]).await?;
    }
    Ok(see_other(&folder_url(&opened, item.parent_id)))
}

#[derive(Deserialize)]
pub struct CsrfForm {
    csrf: Option<String>,
}

/// `POST /files/{workspace}/{item}/delete`: a file, or a folder with
/// everything in it, in one commit (the servers delete a folder only with
/// its contents, so nothing the page did not show can go with it).
pub async fn delete(
    req: HttpRequest,
    session: WebSession,
    path: web::Path<(String, String)>,
    form: web::Form<CsrfForm>,
    state: web::Data<RestState>,
) -> Result<HttpResponse, WebError> {
    session.check_csrf(&req, form.csrf.as_deref())?;
    let (workspace, item) = path.into_inner();
    let opened = open_workspace(&state, &session, &workspace, "/").await?;
    let item = opened.live_item(&item)?;
    let deleted = |state: &ItemState| next_version(state, |next| next.deleted = true);
    // Parents first throughout: folder deletions apply last-listed first.
    let mut items = vec![deleted(item)];
    if item.is_folder {
        items.extend(
            opened
                .tree
                .live_descendants(item.id)
                .into_iter()
                .map(deleted),
        );
    }
    commit(&state, &session, &opened, items).await?;
    Ok(see_other(&folder_url(&opened, item.parent_id)))
}
