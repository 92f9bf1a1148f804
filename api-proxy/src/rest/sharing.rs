//! Sharing in the REST API v2: StackSync's `POST /v1/folder/{id}/share`,
//! `POST /v1/folder/{id}/unshare` and `GET /v1/folder/{id}/members`, plus the
//! proposals a share makes (`GET /v1/proposals`,
//! `POST /v1/proposals/{id}/accept`, `POST /v1/proposals/{id}/decline`).
//!
//! The unit of sharing is a whole workspace: `{id}` is the workspace's id,
//! which also addresses its top as a folder (see the module docs of
//! [`super`]). Sharing a folder of the caller's default workspace first
//! makes it a workspace of its own (`convertFolder`: same item ids and
//! history, mounted where the folder was), then proposes that, in one call
//! ([`share_folder`], which the web UI uses too); the folder's old id keeps
//! naming the share. A folder inside any other workspace is refused (shares
//! do not nest), and the default workspace (`0`) is never shared. Unlike
//! StackSync, sharing makes proposals: nobody becomes a member until they
//! accept. Every call is authorized by the metadata servers, as the
//! caller's device: the proxy sends the folder's id, and the servers decide
//! which workspace holds it and whether the caller may convert it.

use actix_web::{HttpRequest, HttpResponse, web};
use nimbus_protocol::rpc::{
    AcceptProposalArgs, ConvertFolderArgs, ConvertedFolder, DeviceToken, Member, Operation,
    Proposal, ProposalList, ProposeShareArgs, Role, WorkspaceInfo,
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

/// What the `{id}` of a sharing call names.
enum Target {
    /// A workspace of the caller's: its top, or a folder that became it.
    Workspace(WorkspaceInfo),
    /// A live folder of the caller's default workspace, not shared yet.
    Folder { id: Uuid, name: String },
}

/// The workspace the folder `folder_id` became (`convertFolder`), if it did.
pub fn converted_from_folder(
    workspaces: &[WorkspaceInfo],
    folder_id: Uuid,
) -> Option<&WorkspaceInfo> {
    workspaces
        .iter()
        .find(|w| w.converted_from.is_some_and(|c| c.folder_id == folder_id))
}

/// Refuses sharing a folder of a workspace other than the default one.
pub fn nesting_refused(folder_id: Uuid, holder: &WorkspaceInfo) -> RestError {
    RestError::BadRequest(format!(
        "shares do not nest: {folder_id} is inside the workspace {:?}, which is shared only as \
         a whole; share that workspace (folder id {}) instead",
        holder.name, holder.workspace_id
    ))
}

/// What `raw_id` names among the caller's things: 400 for an item inside a
/// workspace other than the default one (shares do not nest) and for a
/// file, 404 for an id that names nothing of theirs (as every other item
/// call).
async fn target(state: &RestState, session: &Session, raw_id: &str) -> Result<Target, RestError> {
    let id = match parse_id(raw_id)? {
        Parent::Root => return session.default_workspace().cloned().map(Target::Workspace),
        Parent::Folder(id) => id,
    };
    if let Some(workspace) = session
        .workspace_top(id)
        .or_else(|| converted_from_folder(&session.workspaces, id))
    {
        return Ok(Target::Workspace(workspace.clone()));
    }
    let located = session.locate(state, id).await?;
    if !located.workspace.is_default {
        return Err(nesting_refused(id, &located.workspace));
    }
    let item = located.item();
    if !item.is_folder {
        return Err(RestError::BadRequest(format!(
            "{id} is a file: folders and workspaces are shared, files by public links \
             (POST /v1/link)"
        )));
    }
    if item.deleted {
        return Err(RestError::NotFound(format!("the folder {id} is deleted")));
    }
    Ok(Target::Folder {
        id,
        name: item.name.clone(),
    })
}

/// The shared workspace `raw_id` names, for the calls on a share.
async fn workspace_of(
    state: &RestState,
    session: &Session,
    raw_id: &str,
) -> Result<WorkspaceInfo, RestError> {
    match target(state, session, raw_id).await? {
        Target::Workspace(workspace) => Ok(workspace),
        Target::Folder { id, name } => Err(RestError::BadRequest(format!(
            "{name:?} ({id}) is a folder that is not shared: POST /v1/folder/{id}/share makes \
             it a workspace of its own and shares it"
        ))),
    }
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

/// A share to propose: to whom, with which role, and an optional message.
pub struct Offer {
    /// User names or e-mail addresses.
    pub addressees: Vec<String>,
    pub role: Role,
    pub message: Option<String>,
}

impl Offer {
    /// Refuses, before a folder is converted, what the servers would refuse
    /// only when proposing.
    fn check(&self) -> Result<(), RestError> {
        if self.addressees.iter().all(|a| a.trim().is_empty()) {
            return Err(RestError::BadRequest(
                "nobody was named, so nothing was shared: name at least one user or e-mail \
                 address"
                    .into(),
            ));
        }
        if self.role == Role::Owner {
            return Err(RestError::BadRequest(
                "a share is offered as editor or viewer; ownership moves only by handing it \
                 over to a member"
                    .into(),
            ));
        }
        Ok(())
    }

    /// `proposeShare` of `workspace_id` as the device `token`.
    pub async fn propose(
        self,
        state: &RestState,
        token: &DeviceToken,
        workspace_id: Uuid,
    ) -> Result<Vec<Proposal>, RestError> {
        state
            .rpc
            .call(
                Some(token),
                Operation::ProposeShare(ProposeShareArgs {
                    workspace_id,
                    addressees: self.addressees,
                    role: self.role,
                    message: self.message,
                }),
            )
            .await
            .map_err(RestError::from_rpc)
    }
}

/// Shares the folder `folder_id` (named `folder_name`) of the caller's
/// default workspace as the device `token`: the servers make it a
/// workspace of its own (`convertFolder`: same item ids and history, its
/// owner's devices keep it in place, nothing downloaded again), then it is
/// proposed. The servers decide which workspace holds the folder and refuse
/// what cannot be converted (not the owner, a folder holding a mount, an
/// end-to-end encrypted workspace, a name taken among the mounts) in their
/// own words; the offer is checked first, so a refusal of the offer changes
/// nothing.
pub async fn share_folder(
    state: &RestState,
    token: &DeviceToken,
    folder_id: Uuid,
    folder_name: &str,
    offer: Offer,
) -> Result<(WorkspaceInfo, Vec<Proposal>), RestError> {
    offer.check()?;
    // A new workspace id per call: a call repeated after a lost answer
    // finds the folder converted (`converted_from_folder`) and proposes
    // that workspace instead of converting again.
    let converted: ConvertedFolder = state
        .rpc
        .call(
            Some(token),
            Operation::ConvertFolder(ConvertFolderArgs {
                item_id: folder_id,
                workspace_id: Uuid::new_v4(),
            }),
        )
        .await
        .map_err(RestError::from_rpc)?;
    let proposals = offer
        .propose(state, token, converted.workspace.workspace_id)
        .await
        .map_err(|error| nobody_invited(error, folder_name))?;
    Ok((converted.workspace, proposals))
}

/// A proposal refused after its folder was converted: the conversion
/// stands (nothing was lost or moved), and the message says so.
fn nobody_invited(error: RestError, folder_name: &str) -> RestError {
    let note = |message: String| {
        format!(
            "{folder_name:?} is now a workspace of its own, in the same place, but nobody was \
             invited: {message}"
        )
    };
    match error {
        RestError::BadRequest(message) => RestError::BadRequest(note(message)),
        RestError::Forbidden(message) => RestError::Forbidden(note(message)),
        RestError::NotFound(message) => RestError::NotFound(note(message)),
        other => other,
    }
}

/// A workspace as the folder its member sees: its top, named by the
/// workspace's id, under the member's mount name and place.
fn workspace_folder(workspace: &WorkspaceInfo) -> serde_json::Value {
    json!({
        "id": workspace.workspace_id.to_string(),
        "filename": workspace.name,
        "is_folder": true,
        "is_root": true,
        "parent_id": workspace.mount_parent.map(|p| p.to_string()),
        "role": workspace.role,
    })
}

/// `POST /v1/folder/{id}/share`: proposes the workspace `{id}` names to the
/// addressees; a folder of the default workspace becomes a workspace of its
/// own first ([`share_folder`]). 201 with `{"shared_to": [{"name",
/// "email"}], "proposals": [...], "folder": the workspace's top}`.
pub async fn share(
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Bytes,
    state: web::Data<RestState>,
) -> Result<HttpResponse, RestError> {
    let session = Session::start(&state, &req, None).await?;
    let offer = match parse_body(&body, "[\"user or e-mail\", …] or {\"users\", \"role\"}")? {
        ShareRequest::Addressees(addressees) => Offer {
            addressees,
            role: Role::Editor,
            message: None,
        },
        ShareRequest::Detailed {
            users,
            role,
            message,
        } => Offer {
            addressees: users,
            role,
            message,
        },
    };
    let token = &session.caller.device_token;
    let (workspace, proposals) = match target(&state, &session, &path).await? {
        Target::Workspace(workspace) => {
            let proposals = offer.propose(&state, token, workspace.workspace_id).await?;
            (workspace, proposals)
        }
        Target::Folder { id, name } => share_folder(&state, token, id, &name, offer).await?,
    };
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
        "folder": workspace_folder(&workspace),
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
            key_check: None,
        }),
    )
    .await?;
    Ok(HttpResponse::Ok().json(workspace_folder(&workspace)))
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
