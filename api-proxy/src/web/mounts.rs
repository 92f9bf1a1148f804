//! Where a member's shared workspaces sit in their files: each member names
//! and places a workspace's folder on their own, under a folder of their
//! default workspace or at the top (`updateMount`; accepting an invitation
//! takes the same choice, [`super::invitations::accept`]).
//!
//! The proxy only lists the folders to choose from; the servers check that
//! a mount's parent is a live folder of the caller's own default workspace
//! and that the workspace is theirs, and refuse anything else.

use actix_web::{HttpRequest, HttpResponse, web};
use nimbus_protocol::rpc::{Operation, UpdateMountArgs, WorkspaceInfo};
use serde::Deserialize;
use uuid::Uuid;

use super::browse::{no_workspace, workspaces_of};
use super::error::WebError;
use super::layout::see_other;
use super::session::WebSession;
use super::sharing::with_done;
use crate::state::RestState;

/// Most folders offered as a mount's place: a list, not a browser.
const MAX_CHOICES: usize = 1000;

/// A folder of the default workspace a mount may go in.
pub struct MountChoice {
    pub id: Uuid,
    /// Its path from the top, `/` between folders.
    pub path: String,
}

/// The live folders of the caller's default workspace, by path, at most
/// [`MAX_CHOICES`] (the top is always a choice, outside this list).
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
    folders.truncate(MAX_CHOICES);
    Ok(folders)
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
