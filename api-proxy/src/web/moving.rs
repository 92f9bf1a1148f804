//! Move with a folder chooser, and copy of a file or a folder.
//!
//! `GET /files/{workspace}/{item}/move?to={folder}` renders the chooser: the
//! folders of one level of the workspace, navigated with htmx (each step
//! swaps only the chooser); `POST …/move` and `POST …/copy` with `parent`
//! commit. A copy is a new item referencing the same chunks: the content is
//! stored already, so nothing is uploaded or read. A folder is copied with
//! everything live in it, in one commit (at most [`MAX_COPIED`] items).

use std::collections::HashMap;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use nimbus_protocol::rpc::{CommitItem, ItemState};
use serde::Deserialize;
use uuid::Uuid;

use super::browse::{Opened, open_writable};
use super::error::WebError;
use super::layout::{Layout, render, see_other};
use super::organize::{checked_name, commit, folder_url, free_name};
use super::session::WebSession;
use crate::rest::next_version;
use crate::state::RestState;
use crate::timestamp::now_millis;

/// Most items a folder's copy holds: one commit, as a zip's cap.
const MAX_COPIED: usize = 10_000;

struct Crumb {
    name: String,
    href: String,
}

struct FolderChoice {
    name: String,
    href: String,
    /// The folder being moved: it cannot go into itself.
    is_self: bool,
}

#[derive(Template)]
#[template(path = "move.html")]
struct MovePage {
    layout: Layout,
    name: String,
    back_href: String,
    crumbs: Vec<Crumb>,
    folders: Vec<FolderChoice>,
    target_id: String,
    target_name: String,
    /// Why the item cannot move to the folder shown.
    refusal: Option<String>,
    move_action: String,
    copy_action: String,
}

#[derive(Deserialize)]
pub struct ChooserQuery {
    /// The folder shown (absent: the top of the workspace).
    to: Option<String>,
}

/// The folder `raw` of the opened workspace (empty: the top).
fn target_folder(opened: &Opened, raw: &str) -> Result<Option<Uuid>, WebError> {
    if raw.trim().is_empty() {
        return Ok(None);
    }
    let folder = opened.live_item(raw.trim())?;
    if !folder.is_folder {
        return Err(WebError::BadRequest(format!(
            "{:?} is a file: choose a folder",
            folder.name
        )));
    }
    Ok(Some(folder.id))
}

/// The live item `raw_id` and the folder `parent` (empty: the top) it is
/// to move or be copied into, refused when it cannot go there.
fn placement<'a>(
    opened: &'a Opened,
    raw_id: &str,
    parent: &str,
) -> Result<(&'a ItemState, Option<Uuid>), WebError> {
    let item = opened.live_item(raw_id)?;
    let target = target_folder(opened, parent)?;
    if let Some(reason) = move_refusal(opened, item, target) {
        return Err(WebError::BadRequest(reason));
    }
    Ok((item, target))
}

/// Why `item` cannot move or be copied into `target`, if it cannot.
fn move_refusal(opened: &Opened, item: &ItemState, target: Option<Uuid>) -> Option<String> {
    let target = target?;
    (item.is_folder && opened.tree.is_within(target, item.id)).then(|| {
        format!(
            "{:?} cannot go into itself or into a folder inside it: choose a folder \
             outside it",
            item.name
        )
    })
}

/// `GET /files/{workspace}/{item}/move?to={folder}`.
pub async fn chooser(
    req: HttpRequest,
    session: WebSession,
    path: web::Path<(String, String)>,
    query: web::Query<ChooserQuery>,
    state: web::Data<RestState>,
) -> Result<HttpResponse, WebError> {
    let (workspace, item) = path.into_inner();
    let opened = open_writable(&state, &session, &workspace, req.path()).await?;
    let item = opened.live_item(&item)?;
    let target = target_folder(&opened, query.to.as_deref().unwrap_or_default())?;
    let base = format!("/files/{}/{}", opened.workspace.workspace_id, item.id);
    let chooser_href = |folder: Option<Uuid>| match folder {
        Some(id) => format!("{base}/move?to={id}"),
        None => format!("{base}/move"),
    };
    let mut crumbs = vec![Crumb {
        name: opened.workspace.name.clone(),
        href: chooser_href(None),
    }];
    crumbs.extend(opened.ancestry(target).iter().map(|folder| Crumb {
        name: folder.name.clone(),
        href: chooser_href(Some(folder.id)),
    }));
    let folders = opened
        .tree
        .children(target, false)
        .into_iter()
        .filter(|child| child.is_folder)
        .map(|folder| FolderChoice {
            name: folder.name.clone(),
            href: chooser_href(Some(folder.id)),
            is_self: folder.id == item.id,
        })
        .collect();
    render(
        StatusCode::OK,
        &MovePage {
            layout: Layout::of(&session),
            name: item.name.clone(),
            back_href: folder_url(&opened, item.parent_id),
            target_name: crumbs.last().map(|c| c.name.clone()).unwrap_or_default(),
            crumbs,
            folders,
            target_id: target.map(|id| id.to_string()).unwrap_or_default(),
            refusal: move_refusal(&opened, item, target),
            move_action: format!("{base}/move"),
            copy_action: format!("{base}/copy"),
        },
    )
}

#[derive(Deserialize)]
pub struct TargetForm {
    csrf: Option<String>,
    /// The folder to move or copy to (empty: the top of the workspace).
    #[serde(default)]
    parent: String,
}

/// `POST /files/{workspace}/{item}/move` with `parent`. A name taken there
/// is refused: nothing is overwritten or renamed behind the user's back.
pub async fn move_item(
    req: HttpRequest,
    session: WebSession,
    path: web::Path<(String, String)>,
    form: web::Form<TargetForm>,
    state: web::Data<RestState>,
) -> Result<HttpResponse, WebError> {
    session.check_csrf(&req, form.csrf.as_deref())?;
    let (workspace, item) = path.into_inner();
    let opened = open_writable(&state, &session, &workspace, "/").await?;
    let (item, target) = placement(&opened, &item, &form.parent)?;
    if target != item.parent_id {
        checked_name(&item.name, &opened, target)?;
        let moved = next_version(item, |next| next.parent_id = target);
        commit(&state, &session, &opened, vec![moved]).await?;
    }
    Ok(see_other(&folder_url(&opened, target)))
}

/// The items of a copy of `item` in `target`: new ids, the same content and
/// structure, the copy named "name (copy)" when the name is taken there;
/// parents before their children.
fn copied(
    opened: &Opened,
    item: &ItemState,
    target: Option<Uuid>,
) -> Result<Vec<CommitItem>, WebError> {
    let below = if item.is_folder {
        opened.tree.live_descendants(item.id)
    } else {
        Vec::new()
    };
    if below.len() >= MAX_COPIED {
        return Err(WebError::BadRequest(format!(
            "{:?} holds more than {MAX_COPIED} files and folders, more than one copy may: \
             copy its subfolders one by one",
            item.name
        )));
    }
    let top = CommitItem {
        id: Uuid::now_v7(),
        base_version: 0,
        parent_id: target,
        name: free_name(&opened.tree, target, &item.name, "copy"),
        is_folder: item.is_folder,
        deleted: false,
        modified_at: now_millis(),
        content: item.content.clone(),
    };
    let mut new_ids = HashMap::from([(item.id, top.id)]);
    let mut items = vec![top];
    for original in below {
        let id = Uuid::now_v7();
        new_ids.insert(original.id, id);
        items.push(CommitItem {
            id,
            base_version: 0,
            parent_id: original.parent_id.map(|parent| new_ids[&parent]),
            name: original.name.clone(),
            is_folder: original.is_folder,
            deleted: false,
            modified_at: original.modified_at,
            content: original.content.clone(),
        });
    }
    Ok(items)
}

/// `POST /files/{workspace}/{item}/copy` with `parent`: a new file or
/// folder with the same contents ([`copied`]).
pub async fn copy(
    req: HttpRequest,
    session: WebSession,
    path: web::Path<(String, String)>,
    form: web::Form<TargetForm>,
    state: web::Data<RestState>,
) -> Result<HttpResponse, WebError> {
    session.check_csrf(&req, form.csrf.as_deref())?;
    let (workspace, item) = path.into_inner();
    let opened = open_writable(&state, &session, &workspace, "/").await?;
    let (item, target) = placement(&opened, &item, &form.parent)?;
    let items = copied(&opened, item, target)?;
    commit(&state, &session, &opened, items).await?;
    Ok(see_other(&folder_url(&opened, target)))
}
