//! Sharing in the REST API v2: StackSync's `POST /v1/folder/{id}/share`,
//! `POST /v1/folder/{id}/unshare` and `GET /v1/folder/{id}/members`, plus the
//! proposals a share makes (`GET /v1/proposals`,
//! `POST /v1/proposals/{id}/accept`, `POST /v1/proposals/{id}/decline`).
//!
//! The unit of sharing is a whole workspace: `{id}` is the workspace's id,
//! which also addresses its top as a folder (see the module docs of
//! [`super`]). A folder inside a workspace cannot be shared yet, and the
//! default workspace (`0`) never is. Unlike StackSync, sharing makes
//! proposals: nobody becomes a member until they accept. Every call is
//! authorized by the metadata servers, as the caller's device.

use actix_web::{HttpRequest, HttpResponse, web};
use nimbus_protocol::rpc::{
    AcceptProposalArgs, Member, Operation, Proposal, ProposalList, ProposeShareArgs, Role,
    WorkspaceInfo,
};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::json;
use uuid::Uuid;

use super::json::millis_to_rfc3339;
use super::{Parent, Session, parse_id};
use crate::error::rest::RestError;
use crate::state::RestState;

/// `POST /v1/folder/{id}/share` body: StackSync's JSON array of addressees
/// (who become editors, StackSync's only role), or an object naming the role.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum ShareRequest {
    Addressees(Vec<String>),
    Detailed {
        users: Vec<String>,
        #[serde(default = "editor")]
        role: Role,
        #[serde(default)]
        message: Option<String>,
    },
}

fn editor() -> Role {
    Role::Editor
}

/// `POST /v1/folder/{id}/unshare` body: the members to remove (user names or
/// e-mail addresses), or `{"all": true}` to remove every member but the owner.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum UnshareRequest {
    Members(Vec<String>),
    All { all: bool },
}

/// Someone a share reached, in StackSync's shape.
#[derive(Debug, Serialize)]
struct Addressee {
    name: String,
    email: Option<String>,
}

/// A member in StackSync's shape, with the Nimbus role.
#[derive(Debug, Serialize)]
struct MemberJson {
    name: String,
    email: Option<String>,
    is_owner: bool,
    /// RFC 3339, UTC.
    joined_at: String,
    role: Role,
}

fn parse_body<T: DeserializeOwned>(body: &[u8], shape: &str) -> Result<T, RestError> {
    serde_json::from_slice(body)
        .map_err(|e| RestError::BadRequest(format!("the body must be JSON {shape}: {e}")))
}

/// The workspace whose top `raw_id` names, among the caller's: 400 for an
/// item inside one, 404 for an id that names nothing of theirs (as every
/// other item call).
async fn workspace_of(
    state: &RestState,
    session: &Session,
    raw_id: &str,
) -> Result<WorkspaceInfo, RestError> {
    let id = match parse_id(raw_id)? {
        Parent::Root => return session.default_workspace().cloned(),
        Parent::Folder(id) => id,
    };
    if let Some(workspace) = session.workspace_top(id) {
        return Ok(workspace.clone());
    }
    let located = session.locate(state, id).await?;
    if !located.workspace.is_default {
        return Err(RestError::BadRequest(format!(
            "shares do not nest: {id} is inside the workspace {:?}, which is shared only as \
             a whole; share that workspace (folder id {}) instead",
            located.workspace.name, located.workspace.workspace_id
        )));
    }
    Err(RestError::BadRequest(format!(
        "{id} is not the id of one of your workspaces: a whole workspace is shared, \
         addressed by its id (sharing a folder of your own workspace is not available yet)"
    )))
}

async fn rpc<T: DeserializeOwned>(
    state: &RestState,
    session: &Session,
    operation: Operation,
) -> Result<T, RestError> {
    state
        .rpc
        .call(Some(&session.caller.device_token), operation)
        .await
        .map_err(RestError::from_rpc)
}

/// `POST /v1/folder/{id}/share`: proposes the workspace to the addressees.
/// 201 with `{"shared_to": [{"name", "email"}], "proposals": [...]}`.
pub async fn share(
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Bytes,
    state: web::Data<RestState>,
) -> Result<HttpResponse, RestError> {
    let session = Session::start(&state, &req, None).await?;
    let workspace = workspace_of(&state, &session, &path).await?;
    let (addressees, role, message) =
        match parse_body(&body, "[\"user or e-mail\", …] or {\"users\", \"role\"}")? {
            ShareRequest::Addressees(addressees) => (addressees, Role::Editor, None),
            ShareRequest::Detailed {
                users,
                role,
                message,
            } => (users, role, message),
        };
    let proposals: Vec<Proposal> = rpc(
        &state,
        &session,
        Operation::ProposeShare(ProposeShareArgs {
            workspace_id: workspace.workspace_id,
            addressees,
            role,
            message,
        }),
    )
    .await?;
    let shared_to: Vec<Addressee> = proposals
        .iter()
        .map(|p| Addressee {
            name: p.invitee_name.clone(),
            email: p.addressed_as.contains('@').then(|| p.addressed_as.clone()),
        })
        .collect();
    Ok(HttpResponse::Created().json(json!({
        "shared_to": shared_to,
        "proposals": proposals,
    })))
}

/// `POST /v1/folder/{id}/unshare`: ends the access of the named members (or
/// of all). Unknown addressees are ignored, as StackSync does; 400 when none
/// is a member, or when the owner is named. `{"unshared_to": [...]}`.
pub async fn unshare(
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Bytes,
    state: web::Data<RestState>,
) -> Result<HttpResponse, RestError> {
    let session = Session::start(&state, &req, None).await?;
    let workspace = workspace_of(&state, &session, &path).await?;
    if workspace.is_default {
        return Err(RestError::BadRequest(
            "your default workspace (0) is never shared: there is nobody to remove".into(),
        ));
    }
    let workspace_id = workspace.workspace_id;
    let members: Vec<Member> =
        rpc(&state, &session, Operation::ListMembers { workspace_id }).await?;
    let removed: Vec<&Member> =
        match parse_body(&body, "[\"user or e-mail\", …] or {\"all\": true}")? {
            UnshareRequest::All { all: true } => {
                rpc::<()>(
                    &state,
                    &session,
                    Operation::UnshareWorkspace { workspace_id },
                )
                .await?;
                members.iter().filter(|m| m.role != Role::Owner).collect()
            }
            UnshareRequest::All { all: false } => {
                return Err(RestError::BadRequest(
                    "{\"all\": false} removes nobody; name the members to remove".into(),
                ));
            }
            UnshareRequest::Members(addressees) => {
                let named: Vec<&Member> = members
                    .iter()
                    .filter(|m| addressees.iter().any(|a| names(m, a)))
                    .collect();
                if named.iter().any(|m| m.role == Role::Owner) {
                    return Err(RestError::BadRequest(
                        "the owner cannot be removed from their workspace".into(),
                    ));
                }
                if named.is_empty() {
                    return Err(RestError::BadRequest(
                        "none of these users is a member of this workspace".into(),
                    ));
                }
                for member in &named {
                    rpc::<()>(
                        &state,
                        &session,
                        Operation::RemoveMember {
                            workspace_id,
                            user_id: member.user_id,
                        },
                    )
                    .await?;
                }
                named
            }
        };
    let unshared_to: Vec<Addressee> = removed
        .into_iter()
        .map(|m| Addressee {
            name: m.username.clone(),
            email: m.email.clone(),
        })
        .collect();
    Ok(HttpResponse::Ok().json(json!({ "unshared_to": unshared_to })))
}

/// Whether `addressee` names `member`: the user name, or the e-mail address
/// in any case.
fn names(member: &Member, addressee: &str) -> bool {
    let addressee = addressee.trim();
    member.username == addressee
        || member
            .email
            .as_deref()
            .is_some_and(|email| email.eq_ignore_ascii_case(addressee))
}

/// `GET /v1/folder/{id}/members`: StackSync's
/// `[{"name", "email", "is_owner", "joined_at"}]`, with each member's role.
pub async fn members(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<RestState>,
) -> Result<HttpResponse, RestError> {
    let session = Session::start(&state, &req, None).await?;
    let workspace = workspace_of(&state, &session, &path).await?;
    let members: Vec<Member> = rpc(
        &state,
        &session,
        Operation::ListMembers {
            workspace_id: workspace.workspace_id,
        },
    )
    .await?;
    let members: Vec<MemberJson> = members
        .into_iter()
        .map(|m| MemberJson {
            name: m.username,
            email: m.email,
            is_owner: m.role == Role::Owner,
            joined_at: millis_to_rfc3339(m.joined_at),
            role: m.role,
        })
        .collect();
    Ok(HttpResponse::Ok().json(members))
}

/// `GET /v1/proposals`: `{"incoming": [...], "outgoing": [...]}`.
pub async fn proposals(
    req: HttpRequest,
    state: web::Data<RestState>,
) -> Result<HttpResponse, RestError> {
    let session = Session::start(&state, &req, None).await?;
    let list: ProposalList = rpc(&state, &session, Operation::ListProposals).await?;
    Ok(HttpResponse::Ok().json(list))
}

/// `POST /v1/proposals/{id}/accept` with an optional JSON body
/// `{"name": mount name, "parent": folder id of the default workspace}`:
/// the workspace's top, as `GET /v1/folder/{id}` would name it.
#[derive(Debug, Default, Deserialize)]
struct AcceptRequest {
    name: Option<String>,
    parent: Option<Uuid>,
}

pub async fn accept(
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Bytes,
    state: web::Data<RestState>,
) -> Result<HttpResponse, RestError> {
    let proposal_id = parse_proposal_id(&path)?;
    let session = Session::start(&state, &req, None).await?;
    let request: AcceptRequest = if body.iter().all(u8::is_ascii_whitespace) {
        AcceptRequest::default()
    } else {
        parse_body(&body, "{\"name\", \"parent\"}")?
    };
    let workspace: WorkspaceInfo = rpc(
        &state,
        &session,
        Operation::AcceptProposal(AcceptProposalArgs {
            proposal_id,
            mount_name: request.name,
            mount_parent: request.parent,
        }),
    )
    .await?;
    Ok(HttpResponse::Ok().json(json!({
        "id": workspace.workspace_id.to_string(),
        "filename": workspace.name,
        "is_folder": true,
        "is_root": true,
        "parent_id": workspace.mount_parent.map(|p| p.to_string()),
        "role": workspace.role,
    })))
}

/// `POST /v1/proposals/{id}/decline`: the proposal, declined.
pub async fn decline(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<RestState>,
) -> Result<HttpResponse, RestError> {
    let proposal_id = parse_proposal_id(&path)?;
    let session = Session::start(&state, &req, None).await?;
    let proposal: Proposal =
        rpc(&state, &session, Operation::DeclineProposal { proposal_id }).await?;
    Ok(HttpResponse::Ok().json(proposal))
}

fn parse_proposal_id(raw: &str) -> Result<Uuid, RestError> {
    Uuid::parse_str(raw.trim())
        .map_err(|_| RestError::BadRequest(format!("{raw:?} is not a proposal id (a UUID)")))
}
