//! `/sharing`: the invitations to the caller (who asks, which workspace,
//! how large, the role and the message), to accept under a name of their
//! choosing or decline; the invitations they sent that wait for an answer,
//! to cancel (an end-to-end encrypted workspace is accepted from a desktop
//! client only: this page cannot ask for its passphrase without sending it
//! to the server); their workspaces with the way to each one's sharing page, and
//! a form making a new workspace to share.
//!
//! A proposal id is only ever acted on by the servers, for the session's
//! user: one that is not the caller's reads as not found.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use nimbus_protocol::ClientError;
use nimbus_protocol::rpc::{
    AcceptProposalArgs, EncryptionMode, ErrorCode, Operation, Proposal, ProposalStatus,
    WorkspaceInfo,
};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use uuid::Uuid;

use super::browse::role_name;
use super::browse::workspaces_of;
use super::error::WebError;
use super::format::{human_size, human_time, iso_time};
use super::layout::{Layout, render, see_other};
use super::mounts::{MountOptions, choices, chosen_parent};
use super::organize::CsrfForm;
use super::session::WebSession;
use super::sharing::{DoneQuery, pending_invitations, proposals, sharing_url, with_done};
use crate::state::RestState;

struct InvitationRow {
    proposal_id: Uuid,
    workspace_name: String,
    proposer: String,
    role: &'static str,
    size: String,
    message: Option<String>,
    sent: String,
    sent_iso: String,
    expires: String,
    expires_iso: String,
    /// Where the workspace's folder goes: the top until the user chooses.
    folders: MountOptions,
    /// End to end: accepted only from a desktop client, which checks the
    /// passphrase (the servers refuse an accept without its key check).
    encrypted: bool,
}

struct SentRow {
    proposal_id: Uuid,
    workspace_name: String,
    sharing_href: String,
    invitee: String,
    addressed_as: String,
    role: &'static str,
}

struct OwnedRow {
    workspace_id: Uuid,
    name: String,
    /// Where its folder is, chosen in its list.
    folders: MountOptions,
    sharing_href: String,
    role: &'static str,
    is_default: bool,
}

#[derive(Template)]
#[template(path = "invitations.html")]
struct InvitationsPage {
    layout: Layout,
    invitations: Vec<InvitationRow>,
    sent: Vec<SentRow>,
    workspaces: Vec<OwnedRow>,
    done: Option<&'static str>,
}

fn invitation_row(p: &Proposal, folders: MountOptions) -> InvitationRow {
    InvitationRow {
        proposal_id: p.proposal_id,
        workspace_name: p.workspace_name.clone(),
        proposer: p.proposer_name.clone(),
        role: role_name(p.role),
        size: human_size(p.workspace_size),
        message: p.message.clone(),
        sent: human_time(p.created_at),
        sent_iso: iso_time(p.created_at),
        expires: human_time(p.expires_at),
        expires_iso: iso_time(p.expires_at),
        folders,
        encrypted: p.encryption == EncryptionMode::Client,
    }
}

/// `GET /sharing`.
pub async fn page(
    session: WebSession,
    query: web::Query<DoneQuery>,
    state: web::Data<RestState>,
) -> Result<HttpResponse, WebError> {
    let (list, workspaces) = futures::try_join!(
        proposals(&state, &session),
        workspaces_of(&state, &session, "/sharing"),
    )?;
    let pending = |p: &&Proposal| p.status == ProposalStatus::Pending;
    let folders = choices(&state, &session, &workspaces).await?;
    let at_top = MountOptions::of(&folders, "", None);
    let invitations = list
        .incoming
        .iter()
        .filter(pending)
        .map(|p| invitation_row(p, at_top.clone()));
    let sent = list.outgoing.iter().filter(pending).map(|p| SentRow {
        proposal_id: p.proposal_id,
        workspace_name: p.workspace_name.clone(),
        sharing_href: sharing_url(p.workspace_id),
        invitee: p.invitee_name.clone(),
        addressed_as: p.addressed_as.clone(),
        role: role_name(p.role),
    });
    let workspaces = workspaces.iter().map(|w: &WorkspaceInfo| OwnedRow {
        workspace_id: w.workspace_id,
        name: w.name.clone(),
        folders: MountOptions::of(&folders, "", w.mount_parent),
        sharing_href: sharing_url(w.workspace_id),
        role: role_name(w.role),
        is_default: w.is_default,
    });
    render(
        StatusCode::OK,
        &InvitationsPage {
            layout: Layout::of(&session).with_invitations(pending_invitations(&list)),
            invitations: invitations.collect(),
            sent: sent.collect(),
            workspaces: workspaces.collect(),
            done: query.message(),
        },
    )
}

/// The navigation's count of invitations waiting.
#[derive(Template)]
#[template(path = "invitation_badge.html")]
struct Badge {
    pending: usize,
}

/// `GET /sharing/badge`: the navigation's badge, which every page loads
/// after itself (htmx) and refreshes, so that no page waits for the count.
pub async fn badge(
    session: WebSession,
    state: web::Data<RestState>,
) -> Result<HttpResponse, WebError> {
    let list = proposals(&state, &session).await?;
    render(
        StatusCode::OK,
        &Badge {
            pending: pending_invitations(&list),
        },
    )
}

/// A proposal operation as the session's user; a proposal that is not
/// theirs (the servers refuse it as if it did not exist) is not found.
async fn on_proposal<T: DeserializeOwned>(
    state: &RestState,
    session: &WebSession,
    operation: Operation,
) -> Result<T, WebError> {
    state
        .rpc
        .call(Some(&session.token), operation)
        .await
        .map_err(|error| match &error {
            ClientError::Rpc(refusal) if refusal.code == ErrorCode::Forbidden => {
                WebError::NotFound(format!(
                    "{}: it may have been cancelled or answered already",
                    refusal.message
                ))
            }
            _ => WebError::from_rpc(error, "/sharing"),
        })
}

fn proposal_id(raw: &str) -> Result<Uuid, WebError> {
    Uuid::parse_str(raw).map_err(|_| WebError::NotFound(format!("there is no invitation {raw:?}")))
}

#[derive(Deserialize)]
pub struct AcceptForm {
    csrf: Option<String>,
    /// The caller's name for the workspace's folder; empty: the owner's.
    #[serde(default)]
    name: String,
    /// The folder of the caller's default workspace it goes in; empty: the top.
    #[serde(default)]
    parent: String,
}

/// `POST /sharing/{proposal}/accept` with an optional mount `name`: the
/// workspace opens.
pub async fn accept(
    req: HttpRequest,
    session: WebSession,
    path: web::Path<String>,
    form: web::Form<AcceptForm>,
    state: web::Data<RestState>,
) -> Result<HttpResponse, WebError> {
    session.check_csrf(&req, form.csrf.as_deref())?;
    let name = form.name.trim();
    let workspace: WorkspaceInfo = on_proposal(
        &state,
        &session,
        Operation::AcceptProposal(AcceptProposalArgs {
            proposal_id: proposal_id(&path)?,
            mount_name: (!name.is_empty()).then(|| name.to_owned()),
            mount_parent: chosen_parent(&form.parent)?,
            key_check: None,
        }),
    )
    .await?;
    Ok(see_other(&format!("/files/{}", workspace.workspace_id)))
}

/// `POST /sharing/{proposal}/decline`.
pub async fn decline(
    req: HttpRequest,
    session: WebSession,
    path: web::Path<String>,
    form: web::Form<CsrfForm>,
    state: web::Data<RestState>,
) -> Result<HttpResponse, WebError> {
    session.check_csrf(&req, form.csrf.as_deref())?;
    let proposal_id = proposal_id(&path)?;
    let _: Proposal =
        on_proposal(&state, &session, Operation::DeclineProposal { proposal_id }).await?;
    Ok(see_other(&with_done("/sharing", "declined")))
}

/// `POST /sharing/{proposal}/cancel`: back to the workspace's sharing page.
pub async fn cancel(
    req: HttpRequest,
    session: WebSession,
    path: web::Path<String>,
    form: web::Form<CsrfForm>,
    state: web::Data<RestState>,
) -> Result<HttpResponse, WebError> {
    session.check_csrf(&req, form.csrf.as_deref())?;
    let proposal_id = proposal_id(&path)?;
    let cancelled: Proposal =
        on_proposal(&state, &session, Operation::CancelProposal { proposal_id }).await?;
    Ok(see_other(&with_done(
        &sharing_url(cancelled.workspace_id),
        "cancelled",
    )))
}
