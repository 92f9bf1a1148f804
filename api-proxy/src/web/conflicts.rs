//! `/files/{workspace}/conflicts`: the conflicted copies desktop clients
//! made (`report (conflicted copy laptop 2026-05-01T101500Z).txt`, see
//! [`nimbus_protocol::names::CONFLICT_TAG`]), each next to its original,
//! with a way to keep this one, the other, or both.
//!
//! Nothing is lost either way: the copy that goes is deleted (it stays in
//! the trash with its versions), and keeping the copy makes its content a
//! new version of the original, whose earlier versions stay.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use nimbus_protocol::names::{
    CONFLICT_TAG, conflict_original, split_extension, strip_conflict_tag,
};
use nimbus_protocol::rpc::ItemState;
use serde::Deserialize;

use super::browse::{Opened, open_workspace, open_writable};
use super::error::WebError;
use super::format::{human_size, human_time};
use super::layout::{Layout, render, see_other};
use super::organize::{checked_name, commit, folder_url};
use super::session::WebSession;
use crate::rest::next_version;
use crate::state::RestState;

struct FileSummary {
    name: String,
    size: String,
    modified: String,
    href: String,
}

impl FileSummary {
    fn of(opened: &Opened, item: &ItemState) -> Self {
        Self {
            name: item.name.clone(),
            size: human_size(item.content.size),
            modified: human_time(item.modified_at),
            href: format!(
                "/files/{}/{}/content",
                opened.workspace.workspace_id, item.id
            ),
        }
    }
}

struct ConflictRow {
    copy: FileSummary,
    /// The file the copy was made of, when it is still there.
    original: Option<FileSummary>,
    location: String,
    resolve_action: String,
    folder_href: String,
}

#[derive(Template)]
#[template(path = "conflicts.html")]
struct ConflictsPage {
    layout: Layout,
    /// Live updates of the workspace, which refresh the list.
    live_url: String,
    workspace_name: String,
    workspace_href: String,
    can_write: bool,
    rows: Vec<ConflictRow>,
}

/// The live file named `name` in `parent`.
fn live_file<'a>(
    opened: &'a Opened,
    parent: Option<uuid::Uuid>,
    name: &str,
) -> Option<&'a ItemState> {
    opened
        .tree
        .children(parent, false)
        .into_iter()
        .find(|item| !item.is_folder && item.name == name)
}

/// `GET /files/{workspace}/conflicts`.
pub async fn page(
    req: HttpRequest,
    session: WebSession,
    path: web::Path<String>,
    state: web::Data<RestState>,
) -> Result<HttpResponse, WebError> {
    let opened = open_workspace(&state, &session, &path, req.path()).await?;
    let workspace_id = opened.workspace.workspace_id;
    let mut copies: Vec<(&ItemState, String)> = opened
        .tree
        .items
        .values()
        .filter(|item| !item.deleted && !item.is_folder)
        .filter_map(|item| conflict_original(&item.name).map(|original| (item, original)))
        .collect();
    copies.sort_by(|a, b| a.0.name.cmp(&b.0.name).then_with(|| a.0.id.cmp(&b.0.id)));
    let rows = copies
        .into_iter()
        .map(|(copy, original)| {
            let folders: Vec<&str> = opened
                .ancestry(copy.parent_id)
                .iter()
                .map(|a| a.name.as_str())
                .collect();
            ConflictRow {
                copy: FileSummary::of(&opened, copy),
                original: live_file(&opened, copy.parent_id, &original)
                    .map(|item| FileSummary::of(&opened, item)),
                location: format!("{}/{}", opened.workspace.name, folders.join("/")),
                resolve_action: format!("/files/{workspace_id}/{}/resolve", copy.id),
                folder_href: folder_url(&opened, copy.parent_id),
            }
        })
        .collect();
    render(
        StatusCode::OK,
        &ConflictsPage {
            layout: Layout::of(&session),
            live_url: opened.live_url(),
            workspace_name: opened.workspace.name.clone(),
            workspace_href: folder_url(&opened, None),
            can_write: opened.workspace.role.can_write(),
            rows,
        },
    )
}

#[derive(Clone, Copy, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Keep {
    /// The conflicted copy: its content becomes the original's.
    Copy,
    /// The original: the copy goes to the trash.
    Original,
    /// Both: the copy is renamed so that it no longer reads as a conflict.
    Both,
}

#[derive(Deserialize)]
pub struct ResolveForm {
    csrf: Option<String>,
    keep: Keep,
}

/// The name a kept conflicted copy gets: `report (from laptop
/// 2026-05-01T101500Z).txt`, still saying where it came from.
fn kept_name(copy: &str) -> String {
    let (stem, extension) = split_extension(copy);
    let original = strip_conflict_tag(stem);
    let origin = &stem[original.len() + CONFLICT_TAG.len()..];
    format!("{original} (from {origin}{extension}")
}

/// `POST /files/{workspace}/{item}/resolve` with `keep` = `copy`,
/// `original` or `both`.
pub async fn resolve(
    req: HttpRequest,
    session: WebSession,
    path: web::Path<(String, String)>,
    form: web::Form<ResolveForm>,
    state: web::Data<RestState>,
) -> Result<HttpResponse, WebError> {
    session.check_csrf(&req, form.csrf.as_deref())?;
    let (workspace, item) = path.into_inner();
    let opened = open_writable(&state, &session, &workspace, "/").await?;
    let copy = opened.live_item(&item)?;
    let original_name = conflict_original(&copy.name)
        .filter(|_| !copy.is_folder)
        .ok_or_else(|| WebError::BadRequest(format!("{:?} is not a conflicted copy", copy.name)))?;
    let original = live_file(&opened, copy.parent_id, &original_name);
    let items = match (form.keep, original) {
        (Keep::Copy, Some(original)) => vec![
            crate::rest::with_new_content(original, copy.content.clone()),
            next_version(copy, |next| next.deleted = true),
        ],
        (Keep::Copy, None) => {
            let name = checked_name(&original_name, &opened, copy.parent_id)?;
            vec![next_version(copy, |next| next.name = name)]
        }
        (Keep::Original, Some(_)) => vec![next_version(copy, |next| next.deleted = true)],
        (Keep::Original, None) => {
            return Err(WebError::Conflict(format!(
                "{original_name:?} is no longer there, so there is no other file to keep: \
                 keep this copy or both"
            )));
        }
        (Keep::Both, _) => {
            let name = checked_name(&kept_name(&copy.name), &opened, copy.parent_id)?;
            vec![next_version(copy, |next| next.name = name)]
        }
    };
    commit(&state, &session, &opened, items).await?;
    Ok(see_other(&format!(
        "/files/{}/conflicts",
        opened.workspace.workspace_id
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kept_copy_says_where_it_came_from_and_is_no_longer_a_conflict() {
        let kept = kept_name("report (conflicted copy laptop 2026-05-01T103500Z).txt");
        assert_eq!(kept, "report (from laptop 2026-05-01T103500Z).txt");
        assert_eq!(conflict_original(&kept), None);
        assert_eq!(
            kept_name(".bashrc (conflicted copy pc 2026-05-01T103500Z 2)"),
            ".bashrc (from pc 2026-05-01T103500Z 2)"
        );
    }
}
