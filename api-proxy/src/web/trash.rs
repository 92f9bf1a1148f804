//! `/files/{workspace}/trash`: the deleted files and folders of a workspace,
//! and bringing one back.
//!
//! Deleting keeps every version, so the trash is read from the workspace's
//! tree: an entry is a deleted item that was not deleted together with its
//! folder (one commit gives all its items one revision), so a deleted folder
//! is one entry, restored with what went with it. Restoring is a commit like
//! any device's: the item comes back at its old place, its deleted folders
//! with it, under "name (restored)" when the name is taken meanwhile, never
//! over anything.
//!
//! "Delete forever" (`purgeItem`) removes an entry with everything below it
//! and all their versions at once, after a confirmation step in the row;
//! otherwise the metadata servers remove entries when the deployment's
//! retention policy says, which the page tells.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use futures::{StreamExt, TryStreamExt, stream};
use nimbus_protocol::rpc::{CommitItem, Content, ItemState, Operation, PurgedItem};

use super::browse::{Opened, open_workspace, open_writable};
use super::error::WebError;
use super::format::{human_time, iso_time};
use super::layout::{Layout, render, see_other};
use super::organize::{CsrfForm, commit, folder_url, free_name};
use super::session::WebSession;
use crate::state::RestState;
use crate::tree::Tree;
use crate::versions::History;

/// Most entries the page shows, the most recently deleted first.
const MAX_ENTRIES: usize = 500;
/// Histories read at once when a folder comes back with its files.
const PARALLEL_HISTORIES: usize = 8;

struct TrashRow {
    name: String,
    is_folder: bool,
    /// The folder it was in, from the top of the workspace.
    location: String,
    deleted: String,
    deleted_iso: String,
    /// For a folder: how many items went with it.
    contents: usize,
    restore_action: String,
    purge_action: String,
    versions: Option<String>,
}

#[derive(Template)]
#[template(path = "trash.html")]
struct TrashPage {
    layout: Layout,
    /// Live updates of the workspace, which refresh the list.
    live_url: String,
    workspace_name: String,
    workspace_href: String,
    can_write: bool,
    rows: Vec<TrashRow>,
    total: usize,
    /// Days the deployment keeps deleted items and older versions.
    trash_days: u32,
    version_days: u32,
}

/// Whether `item` shows in the trash: deleted, and not as part of its
/// folder's deletion.
fn is_entry(tree: &Tree, item: &ItemState) -> bool {
    item.deleted
        && match item.parent_id.and_then(|id| tree.get(id)) {
            None => true,
            Some(parent) => !parent.deleted || parent.revision != item.revision,
        }
}

/// The items deleted in the same commit as the folder `folder`, below it,
/// parents before their children.
fn deleted_with(tree: &Tree, folder: &ItemState) -> Vec<ItemState> {
    let mut out = Vec::new();
    let mut stack = vec![folder.id];
    while let Some(parent) = stack.pop() {
        for child in tree.children(Some(parent), true) {
            if child.deleted && child.revision == folder.revision {
                if child.is_folder {
                    stack.push(child.id);
                }
                out.push(child.clone());
            }
        }
    }
    out
}

/// `GET /files/{workspace}/trash`.
pub async fn page(
    req: HttpRequest,
    session: WebSession,
    path: web::Path<String>,
    state: web::Data<RestState>,
) -> Result<HttpResponse, WebError> {
    let opened = open_workspace(&state, &session, &path, req.path()).await?;
    let workspace_id = opened.workspace.workspace_id;
    let mut entries: Vec<&ItemState> = opened
        .tree
        .items
        .values()
        .filter(|item| is_entry(&opened.tree, item))
        .collect();
    entries.sort_by(|a, b| {
        b.committed_at
            .cmp(&a.committed_at)
            .then_with(|| a.name.cmp(&b.name))
    });
    let total = entries.len();
    let rows = entries
        .into_iter()
        .take(MAX_ENTRIES)
        .map(|item| {
            let folders: Vec<&str> = opened
                .ancestry(item.parent_id)
                .iter()
                .map(|a| a.name.as_str())
                .collect();
            TrashRow {
                name: item.name.clone(),
                is_folder: item.is_folder,
                location: format!("{}/{}", opened.workspace.name, folders.join("/")),
                deleted: human_time(item.committed_at),
                deleted_iso: iso_time(item.committed_at),
                contents: if item.is_folder {
                    deleted_with(&opened.tree, item).len()
                } else {
                    0
                },
                restore_action: format!("/files/{workspace_id}/trash/{}/restore", item.id),
                purge_action: format!("/files/{workspace_id}/trash/{}/purge", item.id),
                versions: (!item.is_folder)
                    .then(|| format!("/files/{workspace_id}/{}/versions", item.id)),
            }
        })
        .collect();
    render(
        StatusCode::OK,
        &TrashPage {
            layout: Layout::of(&session),
            live_url: opened.live_url(),
            workspace_name: opened.workspace.name.clone(),
            workspace_href: folder_url(&opened, None),
            can_write: opened.workspace.role.can_write(),
            rows,
            total,
            trash_days: session.account.retention.trash_days,
            version_days: session.account.retention.version_days,
        },
    )
}

/// `deleted` live again, as `name`, with `content`.
fn revived(deleted: &ItemState, name: String, content: Content) -> CommitItem {
    CommitItem {
        id: deleted.id,
        base_version: deleted.version,
        parent_id: deleted.parent_id,
        name,
        is_folder: deleted.is_folder,
        deleted: false,
        modified_at: deleted.modified_at,
        content,
    }
}

/// The commit that brings the deleted `item` back: its deleted folders
/// first, then it (with `content`, else its last content), then, for a
/// folder, what was deleted with it, each file with its last content. Only
/// the outermost item can meet a name taken meanwhile (a deleted folder
/// holds nothing live); it then comes back as "name (restored)".
pub async fn bring_back(
    state: &RestState,
    session: &WebSession,
    opened: &Opened,
    item: &ItemState,
    content: Option<Content>,
) -> Result<Vec<CommitItem>, WebError> {
    let mut folders: Vec<&ItemState> = Vec::new();
    let mut parent = item.parent_id;
    while let Some(folder) = parent.and_then(|id| opened.tree.get(id)) {
        if !folder.deleted || folders.len() > opened.tree.items.len() {
            break;
        }
        folders.push(folder);
        parent = folder.parent_id;
    }
    folders.reverse();
    let mut states: Vec<ItemState> = folders.into_iter().cloned().collect();
    states.push(item.clone());
    if item.is_folder {
        states.extend(deleted_with(&opened.tree, item));
    }
    let workspaces = std::slice::from_ref(&opened.workspace);
    let contents: Vec<Content> = stream::iter(states.iter().map(|state_of| {
        let given = (state_of.id == item.id).then(|| content.clone()).flatten();
        async move {
            if state_of.is_folder {
                return Ok(Content::default());
            }
            if let Some(given) = given {
                return Ok(given);
            }
            let history =
                History::load(&state.rpc, &session.token, workspaces, state_of.id).await?;
            Ok::<_, WebError>(history.latest_with_content()?.content.clone())
        }
    }))
    .buffered(PARALLEL_HISTORIES)
    .try_collect()
    .await?;
    Ok(states
        .iter()
        .zip(contents)
        .enumerate()
        .map(|(position, (deleted, content))| {
            let name = if position == 0 {
                free_name(&opened.tree, deleted.parent_id, &deleted.name, "restored")
            } else {
                deleted.name.clone()
            };
            revived(deleted, name, content)
        })
        .collect())
}

/// The workspace and the deleted item a trash form acts on, once the form's
/// CSRF token and the caller's right to change the workspace are checked.
async fn trashed_item(
    req: &HttpRequest,
    session: &WebSession,
    path: web::Path<(String, String)>,
    form: &CsrfForm,
    state: &RestState,
) -> Result<(Opened, ItemState), WebError> {
    session.check_csrf(req, form.csrf.as_deref())?;
    let (workspace, item) = path.into_inner();
    let opened = open_writable(state, session, &workspace, "/").await?;
    let item = opened.any_item(&item)?.clone();
    if !item.deleted {
        return Err(WebError::NotFound(format!(
            "{:?} is not in the trash",
            item.name
        )));
    }
    Ok((opened, item))
}

/// `POST /files/{workspace}/trash/{item}/purge`: deletes the item forever,
/// with everything below it and all their versions.
pub async fn purge(
    req: HttpRequest,
    session: WebSession,
    path: web::Path<(String, String)>,
    form: web::Form<CsrfForm>,
    state: web::Data<RestState>,
) -> Result<HttpResponse, WebError> {
    let (opened, item) = trashed_item(&req, &session, path, &form, &state).await?;
    let trash = format!("/files/{}/trash", opened.workspace.workspace_id);
    let _: PurgedItem = state
        .rpc
        .call(
            Some(&session.token),
            Operation::PurgeItem { item_id: item.id },
        )
        .await
        .map_err(|e| WebError::from_rpc(e, &trash))?;
    Ok(see_other(&trash))
}

/// `POST /files/{workspace}/trash/{item}/restore`.
pub async fn restore(
    req: HttpRequest,
    session: WebSession,
    path: web::Path<(String, String)>,
    form: web::Form<CsrfForm>,
    state: web::Data<RestState>,
) -> Result<HttpResponse, WebError> {
    let (opened, item) = trashed_item(&req, &session, path, &form, &state).await?;
    let items = bring_back(&state, &session, &opened, &item, None).await?;
    let back_in = items.first().and_then(|first| first.parent_id);
    commit(&state, &session, &opened, items).await?;
    Ok(see_other(&folder_url(&opened, back_in)))
}
