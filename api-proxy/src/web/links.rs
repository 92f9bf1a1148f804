//! The creator's side of public links (the visitor's is [`super::link`]):
//! `/links/new` to publish a file, a folder or a workspace's top with an
//! optional password, expiry and download limit; `/links`, the caller's
//! links with their state, each revocable.
//!
//! The metadata servers keep only a hash of a link's token, so its address
//! exists once: in the answer to the form that made it, with a button that
//! copies it (`web/static/copy.js`). Any member may publish what they can
//! read; the servers decide, and check again on every visit.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use nimbus_protocol::ClientError;
use nimbus_protocol::rpc::{
    CreateLinkArgs, CreatedLink, ErrorCode, LinkInfo, LinkStatus, MIN_LINK_PASSWORD_CHARS,
    Operation, Password,
};
use serde::Deserialize;
use uuid::Uuid;

use super::browse::{Opened, open_workspace};
use super::error::WebError;
use super::format::{human_time, iso_time};
use super::layout::{Layout, render, see_other};
use super::organize::CsrfForm;
use super::session::WebSession;
use super::sharing::{DoneQuery, call, with_done};
use crate::state::RestState;
use crate::timestamp::now_millis;

/// Longest expiry offered, in days.
const MAX_EXPIRY_DAYS: u32 = 3650;
const DAY_MILLIS: i64 = 24 * 3600 * 1000;

/// A link as `link_card.html` shows it, here and on the administration's
/// overview.
pub(super) struct LinkRow {
    pub(super) name: String,
    pub(super) is_folder: bool,
    /// Shown when the page lists other users' links too.
    pub(super) creator: Option<String>,
    pub(super) status: &'static str,
    pub(super) active: bool,
    pub(super) has_password: bool,
    pub(super) created: String,
    pub(super) created_iso: String,
    pub(super) expires: Option<String>,
    pub(super) downloads: String,
    /// Where its "Revoke" form posts.
    pub(super) revoke_action: String,
}

#[derive(Template)]
#[template(path = "links.html")]
struct LinksPage {
    layout: Layout,
    links: Vec<LinkRow>,
    /// The address of the link just made: shown this once.
    created: Option<String>,
    done: Option<&'static str>,
}

#[derive(Template)]
#[template(path = "link_new.html")]
struct NewLinkPage {
    layout: Layout,
    workspace_id: Uuid,
    /// Empty for the workspace's top.
    item_id: String,
    name: String,
    is_folder: bool,
    back_href: String,
    min_password: usize,
    max_days: u32,
}

pub(super) fn status_text(status: LinkStatus) -> &'static str {
    match status {
        LinkStatus::Active => "active",
        LinkStatus::Revoked => "revoked",
        LinkStatus::Expired => "expired",
        LinkStatus::UsedUp => "download limit reached",
        LinkStatus::TargetDeleted => "its file or folder was deleted",
        LinkStatus::CreatorLostAccess => "you are no longer a member",
    }
}

/// `link`'s card; `revoke_in` is where its revoke form's path starts
/// (`/links` or `/admin/links`).
pub(super) fn link_row(link: LinkInfo, creator: Option<String>, revoke_in: &str) -> LinkRow {
    LinkRow {
        revoke_action: format!("{revoke_in}/{}/revoke", link.link_id),
        creator,
        status: status_text(link.status),
        active: link.status == LinkStatus::Active,
        has_password: link.has_password,
        created: human_time(link.created_at),
        created_iso: iso_time(link.created_at),
        expires: link.expires_at.map(human_time),
        downloads: match link.max_downloads {
            Some(most) => format!("{} of {most}", link.downloads),
            None => link.downloads.to_string(),
        },
        is_folder: link.is_folder,
        name: link.name,
    }
}

async fn links_page(
    state: &RestState,
    session: &WebSession,
    status: StatusCode,
    created: Option<String>,
    done: Option<&'static str>,
) -> Result<HttpResponse, WebError> {
    let links: Vec<LinkInfo> = call(state, session, Operation::ListLinks).await?;
    render(
        status,
        &LinksPage {
            layout: Layout::of(session),
            links: links
                .into_iter()
                .map(|link| link_row(link, None, "/links"))
                .collect(),
            created,
            done,
        },
    )
}

/// `GET /links`.
pub async fn page(
    session: WebSession,
    query: web::Query<DoneQuery>,
    state: web::Data<RestState>,
) -> Result<HttpResponse, WebError> {
    links_page(&state, &session, StatusCode::OK, None, query.message()).await
}

/// What a link is made to: a workspace of the caller's and, unless it is
/// its top, a live item of it.
#[derive(Deserialize)]
pub struct TargetQuery {
    #[serde(default)]
    workspace: String,
    #[serde(default)]
    item: String,
}

/// The caller's workspace and item `target` names (`None`: the top).
async fn open_target(
    state: &RestState,
    session: &WebSession,
    target: &TargetQuery,
    next: &str,
) -> Result<(Opened, Option<Uuid>), WebError> {
    let opened = open_workspace(state, session, target.workspace.trim(), next).await?;
    let item = match target.item.trim() {
        "" => None,
        raw => Some(opened.live_item(raw)?.id),
    };
    Ok((opened, item))
}

/// `GET /links/new?workspace={id}[&item={id}]`: the form.
pub async fn new(
    req: HttpRequest,
    session: WebSession,
    query: web::Query<TargetQuery>,
    state: web::Data<RestState>,
) -> Result<HttpResponse, WebError> {
    let next = req.uri().path_and_query().map_or("/", |p| p.as_str());
    let (opened, item) = open_target(&state, &session, &query, next).await?;
    let workspace_id = opened.workspace.workspace_id;
    let (name, is_folder, parent) = match item.and_then(|id| opened.tree.get(id)) {
        Some(item) => (item.name.clone(), item.is_folder, item.parent_id),
        None => (opened.workspace.name.clone(), true, None),
    };
    render(
        StatusCode::OK,
        &NewLinkPage {
            layout: Layout::of(&session),
            workspace_id,
            item_id: item.map(|id| id.to_string()).unwrap_or_default(),
            name,
            is_folder,
            back_href: super::organize::folder_url(&opened, parent),
            min_password: MIN_LINK_PASSWORD_CHARS,
            max_days: MAX_EXPIRY_DAYS,
        },
    )
}

#[derive(Deserialize)]
pub struct CreateForm {
    csrf: Option<String>,
    #[serde(default)]
    workspace: String,
    #[serde(default)]
    item: String,
    #[serde(default)]
    password: String,
    /// Days until it stops working; empty: never.
    #[serde(default)]
    expires_days: String,
    /// File downloads after which it stops working; empty: no limit.
    #[serde(default)]
    max_downloads: String,
}

/// An optional whole number a person typed in `field`, at least 1.
fn optional_count(typed: &str, field: &str) -> Result<Option<u64>, WebError> {
    match typed.trim() {
        "" => Ok(None),
        text => text
            .parse::<u64>()
            .ok()
            .filter(|n| *n >= 1)
            .map(Some)
            .ok_or_else(|| {
                WebError::BadRequest(format!(
                    "{field} must be a whole number of at least 1 (or empty), not {text:?}: \
                     no link was made"
                ))
            }),
    }
}

/// `POST /links` with the target (`workspace`, `item`) and the optional
/// `password`, `expires_days` and `max_downloads`: the links page with the
/// new link's address, shown this once.
pub async fn create(
    req: HttpRequest,
    session: WebSession,
    form: web::Form<CreateForm>,
    state: web::Data<RestState>,
) -> Result<HttpResponse, WebError> {
    session.check_csrf(&req, form.csrf.as_deref())?;
    let expires_days = optional_count(&form.expires_days, "the number of days")?;
    if expires_days.is_some_and(|days| days > u64::from(MAX_EXPIRY_DAYS)) {
        return Err(WebError::BadRequest(format!(
            "a link expires within {MAX_EXPIRY_DAYS} days at most (or never): no link was made"
        )));
    }
    let max_downloads = optional_count(&form.max_downloads, "the download limit")?;
    let target = TargetQuery {
        workspace: form.workspace.clone(),
        item: form.item.clone(),
    };
    let (opened, item_id) = open_target(&state, &session, &target, "/links").await?;
    let created: CreatedLink = call(
        &state,
        &session,
        Operation::CreateLink(CreateLinkArgs {
            workspace_id: opened.workspace.workspace_id,
            item_id,
            expires_at: expires_days.map(|days| now_millis() + days as i64 * DAY_MILLIS),
            password: (!form.password.is_empty()).then(|| Password(form.password.clone())),
            max_downloads,
        }),
    )
    .await?;
    let url = format!("{}/s/{}", state.public_url, created.token.0);
    links_page(&state, &session, StatusCode::CREATED, Some(url), None).await
}

/// `POST /links/{id}/revoke`; another user's link is not found.
pub async fn revoke(
    req: HttpRequest,
    session: WebSession,
    path: web::Path<String>,
    form: web::Form<CsrfForm>,
    state: web::Data<RestState>,
) -> Result<HttpResponse, WebError> {
    session.check_csrf(&req, form.csrf.as_deref())?;
    let not_yours = || WebError::NotFound(format!("{:?} is not one of your links", path.as_str()));
    let link_id = Uuid::parse_str(&path).map_err(|_| not_yours())?;
    state
        .rpc
        .call::<LinkInfo>(Some(&session.token), Operation::RevokeLink { link_id })
        .await
        .map_err(|error| match &error {
            ClientError::Rpc(refusal) if refusal.code == ErrorCode::Forbidden => not_yours(),
            _ => WebError::from_rpc(error, "/links"),
        })?;
    Ok(see_other(&with_done("/links", "revoked")))
}
