//! `/admin/users/{name}/delete`: deleting a user, never in one click. The
//! page first shows what the user owns (each workspace with its size and
//! members) and what they are a member of (`adminUserWorkspaces`), asks
//! for every workspace they share with others whether it goes to one of
//! its members or is deleted with its files (no choice is made for the
//! administrator), and asks for the user's name typed again. The form is
//! one `adminDeleteUser` call; the servers refuse it unless every shared
//! workspace has its decision (one shared since the page was shown too),
//! and write the audit record.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use nimbus_protocol::admin::{
    AdminUserWorkspaces, AdminWorkspace, DeleteUserArgs, DeletedUserReply, WorkspaceTransfer,
};
use nimbus_protocol::rpc::Operation;
use uuid::Uuid;

use super::admin::admin_call;
use super::browse::role_name;
use super::error::WebError;
use super::format::human_size;
use super::layout::{Layout, render, see_other};
use super::session::WebSession;
use super::sharing::with_done;
use crate::state::RestState;

/// The form field of a shared workspace's decision: `to:MEMBER` or `delete`.
const DECISION_PREFIX: &str = "workspace-";

struct MemberChoice {
    name: String,
    role: &'static str,
}

struct WorkspaceRow {
    id: Uuid,
    name: String,
    size: String,
    /// The members other than the user; empty: the workspace is theirs alone.
    others: Vec<MemberChoice>,
    /// For the workspaces the user is a member of.
    owner: String,
    role: &'static str,
}

impl WorkspaceRow {
    fn of(entry: AdminWorkspace, username: &str) -> Self {
        let owner = entry
            .members
            .iter()
            .find(|m| m.user_id == entry.workspace.owner_id)
            .map_or_else(String::new, |m| m.username.clone());
        WorkspaceRow {
            id: entry.workspace.workspace_id,
            name: entry.workspace.name,
            size: human_size(entry.usage_bytes),
            others: entry
                .members
                .into_iter()
                .filter(|m| m.username != username)
                .map(|m| MemberChoice {
                    role: role_name(m.role),
                    name: m.username,
                })
                .collect(),
            owner,
            role: role_name(entry.workspace.role),
        }
    }
}

#[derive(Template)]
#[template(path = "admin_delete.html")]
struct DeletePage {
    layout: Layout,
    username: String,
    /// Owned and shared with others: each needs a decision.
    shared: Vec<WorkspaceRow>,
    /// Owned and the user's alone: deleted with them.
    own: Vec<WorkspaceRow>,
    member_of: Vec<WorkspaceRow>,
}

/// `GET /admin/users/{name}/delete`: what deleting the user decides about.
pub async fn confirm(
    session: WebSession,
    path: web::Path<String>,
    state: web::Data<RestState>,
) -> Result<HttpResponse, WebError> {
    let username = path.into_inner();
    let workspaces: AdminUserWorkspaces = admin_call(
        &state,
        &session,
        Operation::AdminUserWorkspaces {
            username: username.clone(),
        },
        "/admin",
    )
    .await?;
    let (shared, own) = workspaces
        .owned
        .into_iter()
        .map(|entry| WorkspaceRow::of(entry, &username))
        .partition(|row| !row.others.is_empty());
    render(
        StatusCode::OK,
        &DeletePage {
            layout: Layout::of(&session),
            member_of: workspaces
                .member_of
                .into_iter()
                .map(|entry| WorkspaceRow::of(entry, &username))
                .collect(),
            username,
            shared,
            own,
        },
    )
}

/// The `adminDeleteUser` request a posted form asks for: the user's name
/// typed again as `confirm`, and a decision per shared workspace.
fn deletion(username: &str, form: &[(String, String)]) -> Result<DeleteUserArgs, WebError> {
    let typed = form
        .iter()
        .find(|(key, _)| key == "confirm")
        .map(|(_, value)| value.trim());
    if typed != Some(username) {
        return Err(WebError::BadRequest(format!(
            "type the user name {username:?} to confirm: nothing was deleted"
        )));
    }
    let mut args = DeleteUserArgs {
        username: username.to_owned(),
        transfers: Vec::new(),
        delete_shared: Vec::new(),
    };
    for (key, value) in form {
        let Some(workspace) = key.strip_prefix(DECISION_PREFIX) else {
            continue;
        };
        let workspace_id = Uuid::parse_str(workspace).map_err(|_| {
            WebError::BadRequest(format!("{key:?} names no workspace: nothing was deleted"))
        })?;
        match value.split_once(':') {
            Some(("to", member)) => args.transfers.push(WorkspaceTransfer {
                workspace_id,
                to: member.to_owned(),
            }),
            None if value == "delete" => args.delete_shared.push(workspace_id),
            _ => {
                return Err(WebError::BadRequest(format!(
                    "{value:?} is no decision about a workspace: nothing was deleted"
                )));
            }
        }
    }
    Ok(args)
}

/// `POST /admin/users/{name}/delete`.
pub async fn delete(
    req: HttpRequest,
    session: WebSession,
    path: web::Path<String>,
    form: web::Form<Vec<(String, String)>>,
    state: web::Data<RestState>,
) -> Result<HttpResponse, WebError> {
    let csrf = form
        .iter()
        .find(|(key, _)| key == "csrf")
        .map(|(_, value)| value.as_str());
    session.check_csrf(&req, csrf)?;
    let username = path.into_inner();
    let args = deletion(&username, &form)?;
    let here = format!("/admin/users/{username}/delete");
    let _: DeletedUserReply =
        admin_call(&state, &session, Operation::AdminDeleteUser(args), &here).await?;
    Ok(see_other(&with_done("/admin", "user-deleted")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn a_deletion_needs_the_name_typed_again_and_reads_each_decision() {
        let kept = Uuid::now_v7();
        let gone = Uuid::now_v7();
        let args = deletion(
            "dora",
            &form(&[
                ("csrf", "x"),
                ("confirm", " dora "),
                (&format!("workspace-{kept}"), "to:bob"),
                (&format!("workspace-{gone}"), "delete"),
            ]),
        )
        .unwrap();
        assert_eq!(
            args.transfers,
            vec![WorkspaceTransfer {
                workspace_id: kept,
                to: "bob".into()
            }]
        );
        assert_eq!(args.delete_shared, vec![gone]);
        for refused in [
            form(&[]),
            form(&[("confirm", "bob")]),
            form(&[("confirm", "dora"), ("workspace-nope", "delete")]),
            form(&[("confirm", "dora"), (&format!("workspace-{kept}"), "keep")]),
        ] {
            assert!(
                matches!(deletion("dora", &refused), Err(WebError::BadRequest(_))),
                "{refused:?}"
            );
        }
    }
}
