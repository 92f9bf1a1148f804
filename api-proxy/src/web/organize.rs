//! New folder, rename and delete, committed through the metadata servers as
//! any device's changes are (so desktops receive them by push). Deleting
//! keeps every version: a deleted file's content stays restorable. The
//! helpers here (`commit`, names) serve the other organizing
//! pages too: [`super::moving`], [`super::trash`], [`super::versions`] and
//! [`super::conflicts`].

use std::collections::HashSet;

use actix_web::{HttpRequest, HttpResponse, web};
use nimbus_protocol::names::split_extension;
use nimbus_protocol::rpc::{CommitArgs, CommitItem, Content, ItemOutcome, ItemState};
use serde::Deserialize;
use uuid::Uuid;

use super::browse::{Opened, open_workspace};
use super::error::WebError;
use super::layout::see_other;
use super::session::WebSession;
use crate::error::rest::RestError;
use crate::rest::next_version;
use crate::state::RestState;
use crate::timestamp::now_millis;
use crate::tree::Tree;

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
pub async fn commit(
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
pub fn folder_url(opened: &Opened, folder: Option<Uuid>) -> String {
    let workspace = opened.workspace.workspace_id;
    match folder {
        Some(id) => format!("/files/{workspace}/{id}"),
        None => format!("/files/{workspace}"),
    }
}

/// `name` trimmed, if it is free among the live items of `parent`.
pub fn checked_name(name: &str, opened: &Opened, parent: Option<Uuid>) -> Result<String, WebError> {
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

/// `name` if it is free among the live items of `parent`, else the first
/// free one of "stem (label).ext", "stem (label 2).ext", …: what a restored
/// item or a copy is called so that it never replaces another.
pub fn free_name(tree: &Tree, parent: Option<Uuid>, name: &str, label: &str) -> String {
    let taken: HashSet<&str> = tree
        .children(parent, false)
        .into_iter()
        .map(|item| item.name.as_str())
        .collect();
    if !taken.contains(name) {
        return name.to_owned();
    }
    let (stem, extension) = split_extension(name);
    (1..)
        .map(|n| match n {
            1 => format!("{stem} ({label}){extension}"),
            n => format!("{stem} ({label} {n}){extension}"),
        })
        .find(|candidate| !taken.contains(candidate.as_str()))
        .expect("a name among infinitely many is free")
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
    pub csrf: Option<String>,
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

#[cfg(test)]
mod tests {
    use nimbus_protocol::rpc::{Content, VersionStatus};

    use super::*;

    fn live(name: &str) -> ItemState {
        ItemState {
            id: Uuid::new_v4(),
            parent_id: None,
            name: name.into(),
            is_folder: false,
            deleted: false,
            version: 1,
            status: VersionStatus::New,
            revision: 1,
            device_id: Uuid::nil(),
            modified_at: 0,
            committed_at: 0,
            moved_to: None,
            chunk_workspace: None,
            content: Content::default(),
        }
    }

    #[test]
    fn free_names_never_replace_another() {
        let mut tree = Tree::default();
        for name in ["a.txt", "a (copy).txt", "notes"] {
            let item = live(name);
            tree.items.insert(item.id, item);
        }
        assert_eq!(free_name(&tree, None, "b.txt", "copy"), "b.txt");
        assert_eq!(free_name(&tree, None, "a.txt", "copy"), "a (copy 2).txt");
        assert_eq!(
            free_name(&tree, None, "notes", "restored"),
            "notes (restored)"
        );
    }
}
