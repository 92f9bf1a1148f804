//! `/files/{workspace}/sharing`: who a workspace is shared with, and sharing
//! it: the members with their roles, the offers waiting for an answer, and
//! (for the owner) the form that proposes it to users by name or e-mail.
//! `/files/{workspace}/{folder}/share`: sharing a folder of the default
//! workspace, which becomes a workspace of its own in the same place
//! (`convertFolder`, then `proposeShare`: [`crate::rest::sharing::share_folder`],
//! which the REST API uses too). Also `POST /workspaces`, which makes a
//! workspace to share (the default one is never shared as a whole).
//!
//! The page decides nothing: every change is a metadata RPC made with the
//! session's device token, and the servers say who may (only the owner
//! proposes or changes roles; nobody grants more than they have). A refusal
//! is shown as the servers word it. Managing the members is in
//! [`super::members`], answering invitations in [`super::invitations`].

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use nimbus_protocol::rpc::{
    CreateWorkspaceArgs, EncryptionMode, Member, Operation, Proposal, ProposalList, ProposalStatus,
    Role, WorkspaceInfo,
};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use uuid::Uuid;

use super::browse::{Opened, find_workspace, open_workspace, role_name};
use super::error::WebError;
use super::format::{human_time, iso_time};
use super::layout::{Layout, render, see_other};
use super::session::WebSession;
use crate::rest::sharing::{Offer, converted_from_folder, nesting_refused, share_folder};
use crate::state::RestState;

/// A metadata RPC as the session's device: the servers authorize it.
pub async fn call<T: DeserializeOwned>(
    state: &RestState,
    session: &WebSession,
    operation: Operation,
) -> Result<T, WebError> {
    state
        .rpc
        .call(Some(&session.token), operation)
        .await
        .map_err(|e| WebError::from_rpc(e, "/"))
}

/// The invitations to the caller still waiting for an answer, and all
/// proposals to and from them.
pub async fn proposals(state: &RestState, session: &WebSession) -> Result<ProposalList, WebError> {
    call(state, session, Operation::ListProposals).await
}

/// How many invitations wait for the caller's answer.
pub fn pending_invitations(list: &ProposalList) -> usize {
    list.incoming
        .iter()
        .filter(|p| p.status == ProposalStatus::Pending)
        .count()
}

/// The sharing page of a workspace.
pub fn sharing_url(workspace_id: Uuid) -> String {
    format!("/files/{workspace_id}/sharing")
}

/// What was just done (`?done=…`), for the status line of the page it
/// returns to: one of these fixed texts, so nothing of the URL is echoed.
pub(super) fn done_message(done: &str) -> Option<&'static str> {
    Some(match done {
        "proposed" => {
            "Sent. Each person sees the invitation under Sharing and becomes a member when \
             they accept."
        }
        "folder-shared" => {
            "The folder is now a shared workspace, in the same place for you and your devices. \
             Each person sees the invitation under Sharing and becomes a member when they \
             accept."
        }
        "cancelled" => "The invitation was cancelled.",
        "role-changed" => "The role was changed; it applies at once on every device.",
        "removed" => {
            "The member was removed: their access ended at once. Nothing was deleted: the \
             files stay here."
        }
        "transferred" => {
            "Ownership was handed over: the new owner's quota is charged from now on, and you \
             stay as an editor."
        }
        "unshared" => "Nobody else has access any more; the files stay yours, in place.",
        "left" => "You left the workspace; its files stay with its owner.",
        "declined" => "The invitation was declined.",
        "mounted" => "The workspace's folder has its new name and place, on all your devices.",
        "revoked" => "The link was revoked: it stops working at once.",
        "user-added" => "The user was added, with a workspace of their own.",
        "user-disabled" => {
            "The user was disabled: every device and session of theirs stops at once."
        }
        "user-enabled" => "The user was enabled again: their devices work again.",
        "quota-set" => "The quota was set.",
        "user-deleted" => {
            "The user was deleted: their devices and sessions ended, and each workspace they \
             shared went where you chose."
        }
        "app-removed" => "The application was removed: every token issued to it stopped working.",
        "password-reset" => {
            "The password was set: every device and session of the user was signed out."
        }
        _ => return None,
    })
}

#[derive(Deserialize)]
pub struct DoneQuery {
    done: Option<String>,
}

impl DoneQuery {
    pub fn message(&self) -> Option<&'static str> {
        self.done.as_deref().and_then(done_message)
    }
}

/// `?done=…` for a redirect.
pub fn with_done(path: &str, done: &str) -> String {
    format!("{path}?done={done}")
}

pub struct MemberRow {
    pub user_id: Uuid,
    pub name: String,
    pub email: String,
    pub role: &'static str,
    pub is_owner: bool,
    pub is_me: bool,
    pub joined: String,
    pub joined_iso: String,
}

pub struct WaitingRow {
    pub proposal_id: Uuid,
    pub addressed_as: String,
    pub invitee: String,
    pub role: &'static str,
    pub sent: String,
    pub sent_iso: String,
}

#[derive(Template)]
#[template(path = "sharing.html")]
struct SharingPage {
    layout: Layout,
    workspace_id: Uuid,
    workspace_name: String,
    workspace_href: String,
    is_default: bool,
    is_owner: bool,
    members: Vec<MemberRow>,
    waiting: Vec<WaitingRow>,
    done: Option<&'static str>,
    /// Where the form proposing the workspace posts.
    share_action: String,
}

fn member_row(member: Member, me: Uuid) -> MemberRow {
    MemberRow {
        user_id: member.user_id,
        is_owner: member.role == Role::Owner,
        is_me: member.user_id == me,
        role: role_name(member.role),
        email: member.email.unwrap_or_default(),
        joined: human_time(member.joined_at),
        joined_iso: iso_time(member.joined_at),
        name: member.username,
    }
}

/// `GET /files/{workspace}/sharing`.
pub async fn page(
    req: HttpRequest,
    session: WebSession,
    path: web::Path<String>,
    query: web::Query<DoneQuery>,
    state: web::Data<RestState>,
) -> Result<HttpResponse, WebError> {
    let workspace = find_workspace(&state, &session, &path, req.path()).await?;
    let workspace_id = workspace.workspace_id;
    let (members, list) = futures::try_join!(
        call::<Vec<Member>>(&state, &session, Operation::ListMembers { workspace_id }),
        proposals(&state, &session),
    )?;
    let me = session.account.user_id;
    let waiting = list
        .outgoing
        .iter()
        .filter(|p| p.workspace_id == workspace_id && p.status == ProposalStatus::Pending)
        .map(|p| WaitingRow {
            proposal_id: p.proposal_id,
            addressed_as: p.addressed_as.clone(),
            invitee: p.invitee_name.clone(),
            role: role_name(p.role),
            sent: human_time(p.created_at),
            sent_iso: iso_time(p.created_at),
        })
        .collect();
    render(
        StatusCode::OK,
        &SharingPage {
            layout: Layout::of(&session).with_invitations(pending_invitations(&list)),
            workspace_id,
            workspace_href: format!("/files/{workspace_id}"),
            is_default: workspace.is_default,
            is_owner: workspace.role == Role::Owner,
            members: members.into_iter().map(|m| member_row(m, me)).collect(),
            waiting,
            done: query.message(),
            share_action: format!("/files/{workspace_id}/sharing/propose"),
            workspace_name: workspace.name,
        },
    )
}

#[derive(Deserialize)]
pub struct ProposeForm {
    csrf: Option<String>,
    /// User names or e-mail addresses, separated by commas, semicolons or
    /// new lines.
    #[serde(default)]
    addressees: String,
    role: Option<Role>,
    #[serde(default)]
    message: String,
}

/// The addressees a person typed, one per name.
fn split_addressees(typed: &str) -> Vec<String> {
    typed
        .split([',', ';', '\n'])
        .map(str::trim)
        .filter(|a| !a.is_empty())
        .map(str::to_owned)
        .collect()
}

impl ProposeForm {
    /// The share the form asks for; refused when it names nobody or no role.
    fn offer(&self) -> Result<Offer, WebError> {
        let addressees = split_addressees(&self.addressees);
        if addressees.is_empty() {
            return Err(WebError::BadRequest(
                "nobody was named, so nothing was shared: type at least one user name or e-mail \
                 address"
                    .into(),
            ));
        }
        let role = self.role.ok_or_else(|| {
            WebError::BadRequest("choose a role (editor or viewer), so nothing was shared".into())
        })?;
        let message = Some(self.message.trim().to_owned()).filter(|m| !m.is_empty());
        Ok(Offer {
            addressees,
            role,
            message,
        })
    }
}

/// `POST /files/{workspace}/sharing/propose` with `addressees`, `role` and
/// an optional `message`.
pub async fn propose(
    req: HttpRequest,
    session: WebSession,
    path: web::Path<String>,
    form: web::Form<ProposeForm>,
    state: web::Data<RestState>,
) -> Result<HttpResponse, WebError> {
    session.check_csrf(&req, form.csrf.as_deref())?;
    let workspace = find_workspace(&state, &session, &path, "/").await?;
    let _: Vec<Proposal> = form
        .offer()?
        .propose(&state, &session.token, workspace.workspace_id)
        .await?;
    Ok(see_other(&with_done(
        &sharing_url(workspace.workspace_id),
        "proposed",
    )))
}

#[derive(Template)]
#[template(path = "share_folder.html")]
struct ShareFolderPage {
    layout: Layout,
    folder_name: String,
    folder_href: String,
    /// A folder of a workspace other than the default one: that workspace's
    /// name and sharing page, which is what can be shared instead.
    nested_in: Option<(String, String)>,
    share_action: String,
}

/// The workspace the folder `raw_id` of `opened` became when it was shared.
fn converted(opened: &Opened, raw_id: &str) -> Option<Uuid> {
    let id = Uuid::parse_str(raw_id).ok()?;
    converted_from_folder(&opened.mounted, id).map(|w| w.workspace_id)
}

/// `GET /files/{workspace}/{folder}/share`: the form that shares a folder
/// of the default workspace; a folder of another workspace says why it is
/// not shared alone, and a folder shared already is its workspace's
/// sharing page.
pub async fn folder_page(
    req: HttpRequest,
    session: WebSession,
    path: web::Path<(String, String)>,
    state: web::Data<RestState>,
) -> Result<HttpResponse, WebError> {
    let (workspace, folder) = path.into_inner();
    let opened = open_workspace(&state, &session, &workspace, req.path()).await?;
    if let Some(shared) = converted(&opened, &folder) {
        return Ok(see_other(&sharing_url(shared)));
    }
    let item = opened.live_item(&folder)?;
    if !item.is_folder {
        return Err(WebError::NotFound(format!(
            "{:?} is a file: folders are shared, files by public links",
            item.name
        )));
    }
    let workspace_id = opened.workspace.workspace_id;
    let folder_href = format!("/files/{workspace_id}/{}", item.id);
    render(
        StatusCode::OK,
        &ShareFolderPage {
            layout: Layout::of(&session),
            folder_name: item.name.clone(),
            nested_in: (!opened.workspace.is_default)
                .then(|| (opened.workspace.name.clone(), sharing_url(workspace_id))),
            share_action: format!("{folder_href}/share"),
            folder_href,
        },
    )
}

/// `POST /files/{workspace}/{folder}/share` with `addressees`, `role` and
/// an optional `message`: the folder becomes a workspace of its own, in
/// the same place, and is proposed; then its sharing page. The folder is
/// looked up in the caller's own tree (another user's reads as not found);
/// which workspace holds it, and whether it may be converted, the servers
/// decide.
pub async fn share_folder_form(
    req: HttpRequest,
    session: WebSession,
    path: web::Path<(String, String)>,
    form: web::Form<ProposeForm>,
    state: web::Data<RestState>,
) -> Result<HttpResponse, WebError> {
    session.check_csrf(&req, form.csrf.as_deref())?;
    let offer = form.offer()?;
    let (workspace, folder) = path.into_inner();
    let opened = open_workspace(&state, &session, &workspace, "/").await?;
    // Sent twice (a second click, a reload): the folder is that workspace now.
    if let Some(shared) = converted(&opened, &folder) {
        let _: Vec<Proposal> = offer.propose(&state, &session.token, shared).await?;
        return Ok(see_other(&with_done(&sharing_url(shared), "proposed")));
    }
    let item = opened.live_item(&folder)?;
    if !item.is_folder {
        return Err(WebError::BadRequest(format!(
            "{:?} is a file: folders are shared, files by public links; nothing was shared",
            item.name
        )));
    }
    if !opened.workspace.is_default {
        return Err(nesting_refused(item.id, &opened.workspace).into());
    }
    let (shared, _) = share_folder(&state, &session.token, item.id, &item.name, offer).await?;
    Ok(see_other(&with_done(
        &sharing_url(shared.workspace_id),
        "folder-shared",
    )))
}

#[derive(Deserialize)]
pub struct NewWorkspaceForm {
    csrf: Option<String>,
    #[serde(default)]
    name: String,
}

/// `POST /workspaces` with a `name`: a new workspace of the caller's (not
/// end-to-end encrypted: that needs a passphrase only a desktop client
/// keeps), opened on its sharing page.
pub async fn create_workspace(
    req: HttpRequest,
    session: WebSession,
    form: web::Form<NewWorkspaceForm>,
    state: web::Data<RestState>,
) -> Result<HttpResponse, WebError> {
    session.check_csrf(&req, form.csrf.as_deref())?;
    let name = form.name.trim();
    if name.is_empty() {
        return Err(WebError::BadRequest(
            "give the new workspace a name, so nothing was created".into(),
        ));
    }
    let created: WorkspaceInfo = state
        .rpc
        .create_workspace(
            &session.token,
            CreateWorkspaceArgs {
                workspace_id: Uuid::new_v4(),
                name: name.to_owned(),
                encryption: EncryptionMode::None,
                key_check: None,
            },
        )
        .await
        .map_err(|e| WebError::from_rpc(e, "/"))?;
    Ok(see_other(&sharing_url(created.workspace_id)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addressees_are_split_on_commas_semicolons_and_lines() {
        assert_eq!(
            split_addressees(" bob, Carol@Example.org;\n\ndave ,"),
            ["bob", "Carol@Example.org", "dave"]
        );
        assert!(split_addressees(" , ;\n").is_empty());
    }
}
