//! Where a member's shared workspaces sit in their files: each member names
//! and places a workspace's folder on their own, under a folder of their
//! default workspace or at the top (`updateMount`; accepting an invitation
//! takes the same choice, [`super::invitations::accept`]).
//!
//! The folder is chosen in a list of the default workspace's folders by
//! path: the first [`OFFERED`] and the current one, and, as the user types
//! in the search field above it, those whose path holds what they typed
//! (`GET /sharing/folders`, searched on the proxy, so a user with any
//! number of folders finds each one).
//!
//! The proxy only lists the folders to choose from; the servers check that
//! a mount's parent is a live folder of the caller's own default workspace
//! and that the workspace is theirs, and refuse anything else.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use nimbus_protocol::rpc::{Operation, UpdateMountArgs, WorkspaceInfo};
use serde::Deserialize;
use uuid::Uuid;

use super::browse::{no_workspace, workspaces_of};
use super::error::WebError;
use super::layout::{render, see_other};
use super::session::WebSession;
use super::sharing::with_done;
use crate::state::RestState;

/// Folders a list offers at once: the first by path, or the first that
/// match a search (the rest are counted, and found by typing more).
pub const OFFERED: usize = 50;

/// A folder of the default workspace a mount may go in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountChoice {
    pub id: Uuid,
    /// Its path from the top, `/` between folders.
    pub path: String,
}

/// The options of a mount's folder list (`mount_options.html`).
#[derive(Debug, Clone, Template)]
#[template(path = "mount_options.html")]
pub struct MountOptions {
    /// The folder chosen now; `None`: the top.
    pub selected: Option<Uuid>,
    /// The chosen folder when it is not among `shown`, so the list keeps it.
    pub kept: Option<MountChoice>,
    pub shown: Vec<MountChoice>,
    /// Matching folders beyond `shown`.
    pub more: usize,
}

impl MountOptions {
    /// The first [`OFFERED`] of `folders` whose path holds `search` (any
    /// case), and the `selected` one.
    pub fn of(folders: &[MountChoice], search: &str, selected: Option<Uuid>) -> Self {
        let needle = search.trim().to_lowercase();
        let mut matching = folders
            .iter()
            .filter(|folder| needle.is_empty() || folder.path.to_lowercase().contains(&needle));
        let shown: Vec<MountChoice> = matching.by_ref().take(OFFERED).cloned().collect();
        let more = matching.count();
        let kept = selected
            .filter(|id| !shown.iter().any(|folder| folder.id == *id))
            .and_then(|id| folders.iter().find(|folder| folder.id == id).cloned());
        MountOptions {
            selected,
            kept,
            shown,
            more,
        }
    }

    pub fn is_selected(&self, folder: &MountChoice) -> bool {
        self.selected == Some(folder.id)
    }
}

/// The live folders of the caller's default workspace, by path (the top is
/// always a choice, outside this list).
pub async fn choices(
    state: &RestState,
    session: &WebSession,
    workspaces: &[WorkspaceInfo],
) -> Result<Vec<MountChoice>, WebError> {
    let Some(default) = workspaces.iter().find(|w| w.is_default) else {
        return Ok(Vec::new());
    };
    let tree = state
        .trees
        .load(&state.rpc, &session.token, default.workspace_id)
        .await?;
    let mut folders: Vec<MountChoice> = tree
        .items
        .values()
        .filter(|item| item.is_folder && !item.deleted)
        .filter_map(|folder| {
            let mut names = vec![folder.name.as_str()];
            let mut parent = folder.parent_id;
            while let Some(id) = parent {
                let above = tree.get(id)?;
                // Under a deleted folder, or a loop: not a place to mount.
                if above.deleted || names.len() > tree.items.len() {
                    return None;
                }
                names.push(&above.name);
                parent = above.parent_id;
            }
            names.reverse();
            Some(MountChoice {
                id: folder.id,
                path: names.join("/"),
            })
        })
        .collect();
    folders.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(folders)
}

#[derive(Deserialize)]
pub struct FolderSearch {
    /// What the user typed.
    #[serde(default)]
    q: String,
    /// The folder chosen now, kept in the answer.
    #[serde(default)]
    parent: String,
}

/// `GET /sharing/folders?q=…&parent=…`: the options of a folder list for
/// what the user typed (htmx swaps them into the list).
pub async fn search(
    session: WebSession,
    query: web::Query<FolderSearch>,
    state: web::Data<RestState>,
) -> Result<HttpResponse, WebError> {
    let workspaces = workspaces_of(&state, &session, "/sharing").await?;
    let folders = choices(&state, &session, &workspaces).await?;
    let selected = chosen_parent(&query.parent)?;
    render(
        StatusCode::OK,
        &MountOptions::of(&folders, &query.q, selected),
    )
}

/// The folder a form chose (`""`: the top of the caller's files).
pub fn chosen_parent(raw: &str) -> Result<Option<Uuid>, WebError> {
    match raw.trim() {
        "" => Ok(None),
        raw => Uuid::parse_str(raw).map(Some).map_err(|_| {
            WebError::BadRequest(format!(
                "{raw:?} is not a folder of yours: choose one from the list"
            ))
        }),
    }
}

#[derive(Deserialize)]
pub struct MountForm {
    csrf: Option<String>,
    name: String,
    #[serde(default)]
    parent: String,
}

/// `POST /workspaces/{workspace}/mount` (`name`, `parent`): renames or
/// moves the caller's own folder of a workspace.
pub async fn update(
    req: HttpRequest,
    session: WebSession,
    path: web::Path<String>,
    form: web::Form<MountForm>,
    state: web::Data<RestState>,
) -> Result<HttpResponse, WebError> {
    session.check_csrf(&req, form.csrf.as_deref())?;
    // Any of the caller's workspaces, encrypted ones too: only its name and
    // place change.
    let workspace = workspaces_of(&state, &session, "/sharing")
        .await?
        .into_iter()
        .find(|w| w.workspace_id.to_string() == path.as_str())
        .ok_or_else(no_workspace)?;
    let name = form.name.trim();
    if name.is_empty() {
        return Err(WebError::BadRequest(
            "a workspace's folder needs a name: nothing was changed".into(),
        ));
    }
    let _: WorkspaceInfo = state
        .rpc
        .call(
            Some(&session.token),
            Operation::UpdateMount(UpdateMountArgs {
                workspace_id: workspace.workspace_id,
                mount_name: name.to_owned(),
                mount_parent: chosen_parent(&form.parent)?,
            }),
        )
        .await
        .map_err(|e| WebError::from_rpc(e, "/sharing"))?;
    Ok(see_other(&with_done("/sharing", "mounted")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn folder(path: &str) -> MountChoice {
        MountChoice {
            id: Uuid::now_v7(),
            path: path.into(),
        }
    }

    #[test]
    fn a_search_offers_the_first_matches_counts_the_rest_and_keeps_the_chosen_one() {
        let mut folders: Vec<MountChoice> = (0..3 * OFFERED)
            .map(|n| folder(&format!("Archive/{n:04}")))
            .collect();
        folders.push(folder("Projects/2027 plans"));
        let chosen = folders[2 * OFFERED].clone();

        let first = MountOptions::of(&folders, "", Some(chosen.id));
        assert_eq!(first.shown.len(), OFFERED);
        assert_eq!(first.more, folders.len() - OFFERED);
        assert_eq!(
            first.kept,
            Some(chosen.clone()),
            "the chosen one stays a choice"
        );

        let found = MountOptions::of(&folders, " 2027 PLANS ", None);
        assert_eq!(found.shown, vec![folders[3 * OFFERED].clone()]);
        assert_eq!((found.more, found.kept), (0, None));

        let narrowed = MountOptions::of(&folders, &chosen.path, Some(chosen.id));
        assert_eq!(narrowed.shown, vec![chosen.clone()]);
        assert!(narrowed.kept.is_none() && narrowed.is_selected(&chosen));
    }
}
