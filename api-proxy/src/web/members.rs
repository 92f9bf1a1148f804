//! The forms of a workspace's sharing page that change its members: a
//! member's role, removing a member, handing ownership over, stopping all
//! sharing (the owner's), and leaving (a member's).
//!
//! The workspace is looked up among the caller's own, so another user's id
//! is "not found"; what a member may do is then the servers' decision,
//! whose refusal (403, in their words) the error page shows. Ending access
//! never deletes anything: the files stay in the owner's workspace.

use actix_web::{HttpRequest, HttpResponse, web};
use nimbus_protocol::rpc::{Member, Operation, Role, WorkspaceInfo};
use serde::Deserialize;
use uuid::Uuid;

use super::browse::find_workspace;
use super::error::WebError;
use super::layout::see_other;
use super::organize::CsrfForm;
use super::session::WebSession;
use super::sharing::{call, sharing_url, with_done};
use crate::state::RestState;

#[derive(Deserialize)]
pub struct MemberForm {
    csrf: Option<String>,
    /// For a role change: `editor` or `viewer` (the servers refuse `owner`).
    role: Option<Role>,
}

/// The caller's workspace and the user id of the member the path names,
/// after checking the form's CSRF token.
async fn member_of(
    req: &HttpRequest,
    session: &WebSession,
    state: &RestState,
    form: &MemberForm,
    path: (String, String),
) -> Result<(WorkspaceInfo, Uuid), WebError> {
    session.check_csrf(req, form.csrf.as_deref())?;
    let (workspace, user) = path;
    let workspace = find_workspace(state, session, &workspace, "/").await?;
    let user_id = Uuid::parse_str(&user)
        .map_err(|_| WebError::NotFound(format!("there is no member {user:?}")))?;
    Ok((workspace, user_id))
}

/// `POST /files/{workspace}/members/{user}/role` with the new `role`.
pub async fn set_role(
    req: HttpRequest,
    session: WebSession,
    path: web::Path<(String, String)>,
    form: web::Form<MemberForm>,
    state: web::Data<RestState>,
) -> Result<HttpResponse, WebError> {
    let (workspace, user_id) = member_of(&req, &session, &state, &form, path.into_inner()).await?;
    let role = form.role.ok_or_else(|| {
        WebError::BadRequest("choose a role (editor or viewer), so nothing was changed".into())
    })?;
    let workspace_id = workspace.workspace_id;
    let _: Member = call(
        &state,
        &session,
        Operation::SetMemberRole {
            workspace_id,
            user_id,
            role,
        },
    )
    .await?;
    Ok(see_other(&with_done(
        &sharing_url(workspace_id),
        "role-changed",
    )))
}

/// `POST /files/{workspace}/members/{user}/remove`.
pub async fn remove(
    req: HttpRequest,
    session: WebSession,
    path: web::Path<(String, String)>,
    form: web::Form<MemberForm>,
    state: web::Data<RestState>,
) -> Result<HttpResponse, WebError> {
    let (workspace, user_id) = member_of(&req, &session, &state, &form, path.into_inner()).await?;
    let workspace_id = workspace.workspace_id;
    let () = call(
        &state,
        &session,
        Operation::RemoveMember {
            workspace_id,
            user_id,
        },
    )
    .await?;
    Ok(see_other(&with_done(&sharing_url(workspace_id), "removed")))
}

/// `POST /files/{workspace}/members/{user}/transfer`: the member becomes the
/// owner (if their quota has room), the caller an editor.
pub async fn transfer(
    req: HttpRequest,
    session: WebSession,
    path: web::Path<(String, String)>,
    form: web::Form<MemberForm>,
    state: web::Data<RestState>,
) -> Result<HttpResponse, WebError> {
    let (workspace, user_id) = member_of(&req, &session, &state, &form, path.into_inner()).await?;
    let workspace_id = workspace.workspace_id;
    let _: Vec<Member> = call(
        &state,
        &session,
        Operation::TransferOwnership {
            workspace_id,
            user_id,
        },
    )
    .await?;
    Ok(see_other(&with_done(
        &sharing_url(workspace_id),
        "transferred",
    )))
}

/// `POST /files/{workspace}/sharing/unshare`: every other member's access
/// and every pending invitation end.
pub async fn unshare(
    req: HttpRequest,
    session: WebSession,
    path: web::Path<String>,
    form: web::Form<CsrfForm>,
    state: web::Data<RestState>,
) -> Result<HttpResponse, WebError> {
    session.check_csrf(&req, form.csrf.as_deref())?;
    let workspace = find_workspace(&state, &session, &path, "/").await?;
    let workspace_id = workspace.workspace_id;
    let () = call(
        &state,
        &session,
        Operation::UnshareWorkspace { workspace_id },
    )
    .await?;
    Ok(see_other(&with_done(
        &sharing_url(workspace_id),
        "unshared",
    )))
}

/// `POST /files/{workspace}/sharing/leave`: the caller's own access ends
/// (the owner hands the workspace over instead, the servers say).
pub async fn leave(
    req: HttpRequest,
    session: WebSession,
    path: web::Path<String>,
    form: web::Form<CsrfForm>,
    state: web::Data<RestState>,
) -> Result<HttpResponse, WebError> {
    session.check_csrf(&req, form.csrf.as_deref())?;
    let workspace = find_workspace(&state, &session, &path, "/").await?;
    let () = call(
        &state,
        &session,
        Operation::LeaveWorkspace {
            workspace_id: workspace.workspace_id,
        },
    )
    .await?;
    Ok(see_other(&with_done("/sharing", "left")))
}
