//! `/s/{token}`: public links, for anyone who holds the token, signed in or
//! not (no session is read or made).
//!
//! Every request asks a metadata server (`openLink`), which checks all that
//! ends a link, so a revoked, expired, used-up link, one whose target was
//! deleted or whose creator lost access answers 404 at once, on every
//! proxy. A file is streamed from the chunk store through
//! [`download::stream_file`] (ranges supported, always as an attachment under
//! the sandbox policy): no object URL ever reaches the visitor. A folder
//! shows its files, each under `/s/{token}/{item}`.
//!
//! A link with a password shows a form (401); a right password earns an
//! `unlock` cookie scoped to the link's path, valid for an hour. Wrong
//! passwords are slowed down per link by the metadata servers (429 once
//! past the free attempts); wrong passwords and tokens that open nothing
//! count as failures of the client's address ([`crate::sign_in_rate`]), so
//! guessing either is limited per address too. A download is counted when a
//! file is sent from its first byte (a resumed range is not a new download).
//!
//! A folder link's folders download as a streamed zip
//! ([`super::folder_zip`]) at `/s/{token}/zip` and `/s/{token}/{item}/zip`,
//! under the same password and expiry, counted once per zip.

use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use askama::Template;
use nimbus_chunks::WorkspaceKeys;
use nimbus_protocol::rpc::{
    EncryptionMode, ErrorCode, ItemState, LinkToken, OpenLinkArgs, OpenedLink, Operation, Password,
};
use serde::Deserialize;
use uuid::Uuid;

use super::download::stream_file;
use super::error::WebError;
use super::folder_zip::{self, ZipLimits, ZipPlan};
use super::format::{human_size, human_time, iso_time};
use super::layout::{Layout, render, see_other};
use super::session::CookiePolicy;
use crate::content::{self, ChunkStore};
use crate::routes::Route;
use crate::state::AppState;
use crate::state::RestState;
use crate::swift::range::{self, RangeRequest};

crate::routes::route_table! {
    GET "/s/{token}" => open_target,
    POST "/s/{token}" => submit_password,
    // Before `/s/{token}/{item}`, which would take `zip` for an item.
    GET "/s/{token}/zip" => zip_target,
    GET "/s/{token}/{item}" => open_inside,
    GET "/s/{token}/{item}/zip" => zip_inside,
}

/// The routes with their handlers, for [`super::configure`].
pub fn routes() -> impl Iterator<Item = (&'static Route, actix_web::Route)> {
    ROUTES.iter().zip(handlers())
}

const UNLOCK_COOKIE: &str = "nimbus_link_unlock";
/// As long as the unlock the metadata server issues.
const UNLOCK_COOKIE_SECS: i64 = 3600;
/// Longest token the proxy passes on; real ones are 64 hex digits.
const MAX_TOKEN_LEN: usize = 128;

/// What a visit of a link can end in besides its page or file. Not `Debug`:
/// a password refusal holds the link's URL, whose token must not reach a log.
enum Refusal {
    /// Unknown, dead, or not inside the link: all look the same.
    NotFound,
    /// The link has a password, and none or a wrong one came.
    Password {
        action: String,
        wrong: bool,
    },
    TooManyAttempts {
        retry_after_secs: u64,
    },
    Other(WebError),
}

/// What the request log says of a refusal: its kind, never the link's URL.
impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::NotFound => write!(f, "no such link"),
            Refusal::Password { wrong: true, .. } => write!(f, "a wrong link password"),
            Refusal::Password { wrong: false, .. } => write!(f, "the link asks for its password"),
            Refusal::TooManyAttempts { retry_after_secs } => {
                write!(
                    f,
                    "too many link password attempts (retry in {retry_after_secs} s)"
                )
            }
            Refusal::Other(error) => write!(f, "{error}"),
        }
    }
}

impl std::fmt::Debug for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
    }
}

#[derive(Template)]
#[template(path = "link_password.html")]
struct PasswordPage {
    layout: Layout,
    action: String,
    message: Option<&'static str>,
}

struct Row {
    name: String,
    href: String,
    is_folder: bool,
    size: String,
    modified: String,
    modified_iso: String,
}

#[derive(Template)]
#[template(path = "link_folder.html")]
struct FolderPage {
    layout: Layout,
    title: String,
    up: Option<String>,
    zip_href: String,
    rows: Vec<Row>,
}

impl ResponseError for Refusal {
    fn status_code(&self) -> StatusCode {
        match self {
            Refusal::NotFound => StatusCode::NOT_FOUND,
            Refusal::Password { .. } => StatusCode::UNAUTHORIZED,
            Refusal::TooManyAttempts { .. } => StatusCode::TOO_MANY_REQUESTS,
            Refusal::Other(error) => error.status_code(),
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            Refusal::NotFound => WebError::NotFound(
                "This link does not exist or no longer works: it may have been revoked, have \
                 expired or been used up, or what it showed was deleted."
                    .into(),
            )
            .error_response(),
            Refusal::Password { action, wrong } => {
                let page = PasswordPage {
                    layout: Layout::anonymous(),
                    action: action.clone(),
                    message: wrong.then_some("That password is not right."),
                };
                render(StatusCode::UNAUTHORIZED, &page)
                    .unwrap_or_else(|error| error.error_response())
            }
            Refusal::TooManyAttempts { retry_after_secs } => {
                let mut response = WebError::BadRequest(format!(
                    "Too many wrong passwords for this link. Try again in {retry_after_secs} s."
                ))
                .error_response();
                *response.status_mut() = StatusCode::TOO_MANY_REQUESTS;
                if let Ok(value) = retry_after_secs.to_string().parse() {
                    response.headers_mut().insert(header::RETRY_AFTER, value);
                }
                response
            }
            Refusal::Other(error) => error.error_response(),
        }
    }
}

fn link_path(token: &str) -> String {
    format!("/s/{token}")
}

/// Asks a metadata server what the link shows.
async fn open(app: &AppState, args: OpenLinkArgs) -> Result<OpenedLink, Refusal> {
    let action = link_path(&args.link_token.0);
    let sent_password = args.password.is_some();
    app.rpc
        .call(None, Operation::OpenLink(args))
        .await
        .map_err(|error| match error.rpc_code() {
            Some(ErrorCode::Forbidden) => Refusal::NotFound,
            Some(ErrorCode::InvalidCredentials) => Refusal::Password {
                action,
                wrong: sent_password,
            },
            Some(ErrorCode::TooManyAttempts) => Refusal::TooManyAttempts {
                retry_after_secs: match &error {
                    nimbus_protocol::ClientError::Rpc(rpc) => rpc.retry_after_secs.unwrap_or(1),
                    _ => 1,
                },
            },
            _ => Refusal::Other(WebError::from_rpc(error, "/")),
        })
}

fn checked_token(token: String) -> Result<LinkToken, Refusal> {
    if token.is_empty()
        || token.len() > MAX_TOKEN_LEN
        || !token.bytes().all(|b| b.is_ascii_alphanumeric())
    {
        return Err(Refusal::NotFound);
    }
    Ok(LinkToken(token))
}

/// The link and the item of `/s/{token}/{item}[/zip]`; either malformed is
/// a link that does not exist.
fn item_path((token, item): (String, String)) -> Result<(LinkToken, Uuid), Refusal> {
    let item = Uuid::parse_str(&item).map_err(|_| Refusal::NotFound)?;
    Ok((checked_token(token)?, item))
}

/// `GET /s/{token}`: the link's file or folder.
async fn open_target(
    req: HttpRequest,
    token: web::Path<String>,
    app: web::Data<AppState>,
) -> Result<HttpResponse, Refusal> {
    visit(&req, &app, checked_token(token.into_inner())?, None).await
}

/// `GET /s/{token}/{item}`: a file or folder inside a folder link.
async fn open_inside(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    app: web::Data<AppState>,
) -> Result<HttpResponse, Refusal> {
    let (token, item) = item_path(path.into_inner())?;
    visit(&req, &app, token, Some(item)).await
}

/// A look at `item_id` (`None`: the link's target) with the unlock the
/// visitor holds, counting nothing.
fn visit_args(req: &HttpRequest, token: LinkToken, item_id: Option<Uuid>) -> OpenLinkArgs {
    OpenLinkArgs {
        link_token: token,
        password: None,
        unlock: req
            .cookie(UNLOCK_COOKIE)
            .map(|cookie| LinkToken(cookie.value().to_owned())),
        item_id,
        count_download: false,
        subtree_max: None,
    }
}

/// Where the opened link's chunks are, and their keys; an end-to-end
/// encrypted workspace has nothing the proxy could send.
fn link_store(app: &AppState, opened: &OpenedLink) -> Result<(ChunkStore, WorkspaceKeys), Refusal> {
    if opened.storage.encryption == EncryptionMode::Client {
        return Err(Refusal::NotFound);
    }
    let store = ChunkStore::in_container(
        app,
        &opened.storage.storage_account,
        &opened.storage.container,
    );
    Ok((store, WorkspaceKeys::plain(opened.storage.workspace_id)))
}

async fn visit(
    req: &HttpRequest,
    app: &AppState,
    token: LinkToken,
    item_id: Option<Uuid>,
) -> Result<HttpResponse, Refusal> {
    let args = visit_args(req, token.clone(), item_id);
    let opened = open(app, args.clone()).await?;
    let Some(item) = opened.item.clone().filter(|item| !item.is_folder) else {
        return folder_page(&token, item_id.is_some(), opened);
    };
    let resumed = matches!(
        range::resolve(
            req.headers()
                .get(header::RANGE)
                .and_then(|v| v.to_str().ok()),
            item.content.size
        ),
        RangeRequest::Partial(ranges) if ranges.first().is_some_and(|r| r.start > 0)
    );
    if !resumed {
        open(
            app,
            OpenLinkArgs {
                count_download: true,
                ..args
            },
        )
        .await?;
    }
    let own = link_store(app, &opened)?;
    let (store, keys) = item
        .chunk_workspace
        .as_ref()
        .map_or(own, |place| content::place_reader(app, place));
    Ok(stream_file(req, store, keys, &item, true))
}

/// `GET /s/{token}/zip`: the link's folder as a zip.
async fn zip_target(
    req: HttpRequest,
    token: web::Path<String>,
    app: web::Data<AppState>,
) -> Result<HttpResponse, Refusal> {
    zip_visit(&req, &app, checked_token(token.into_inner())?, None).await
}

/// `GET /s/{token}/{item}/zip`: a folder inside a folder link as a zip.
async fn zip_inside(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    app: web::Data<AppState>,
) -> Result<HttpResponse, Refusal> {
    let (token, item) = item_path(path.into_inner())?;
    zip_visit(&req, &app, token, Some(item)).await
}

/// Lists everything below the folder (one more than the cap, to tell a
/// folder over it), checks the caps, and only then counts the download.
async fn zip_visit(
    req: &HttpRequest,
    app: &AppState,
    token: LinkToken,
    item_id: Option<Uuid>,
) -> Result<HttpResponse, Refusal> {
    let limits = ZipLimits::of(&app.settings);
    let args = visit_args(req, token, item_id);
    let opened = open(
        app,
        OpenLinkArgs {
            subtree_max: Some(limits.max_entries.saturating_add(1)),
            ..args.clone()
        },
    )
    .await?;
    if !opened.is_folder() {
        return Err(Refusal::Other(WebError::BadRequest(
            "This link shows a file, not a folder: open the link to download it.".into(),
        )));
    }
    let own = link_store(app, &opened)?;
    let root = opened.item.as_ref().map(|item| item.id);
    let plan = ZipPlan::of(&opened.children, root, limits).map_err(Refusal::Other)?;
    open(
        app,
        OpenLinkArgs {
            count_download: true,
            ..args
        },
    )
    .await?;
    let name = opened.item.as_ref().map_or(&opened.name, |item| &item.name);
    let what = format!("link {}", opened.link_id);
    Ok(folder_zip::respond(app, own, plan, name, what))
}

fn folder_page(
    token: &LinkToken,
    inside: bool,
    opened: OpenedLink,
) -> Result<HttpResponse, Refusal> {
    let base = link_path(&token.0);
    let title = opened
        .item
        .as_ref()
        .map_or_else(|| opened.name.clone(), |item| item.name.clone());
    // The link's own folder has no way up; the others go to their parent.
    let up = opened
        .item
        .as_ref()
        .filter(|_| inside)
        .map(|item| match item.parent_id {
            Some(parent) => format!("{base}/{parent}"),
            None => base.clone(),
        });
    let zip_href = match opened.item.as_ref().filter(|_| inside) {
        Some(item) => format!("{base}/{}/zip", item.id),
        None => format!("{base}/zip"),
    };
    let rows = opened
        .children
        .iter()
        .map(|child: &ItemState| Row {
            name: child.name.clone(),
            href: format!("{base}/{}", child.id),
            is_folder: child.is_folder,
            size: if child.is_folder {
                String::new()
            } else {
                human_size(child.content.size)
            },
            modified: human_time(child.modified_at),
            modified_iso: iso_time(child.modified_at),
        })
        .collect();
    let page = FolderPage {
        layout: Layout::anonymous(),
        title,
        up,
        zip_href,
        rows,
    };
    render(StatusCode::OK, &page).map_err(Refusal::Other)
}

#[derive(Deserialize)]
struct PasswordForm {
    password: String,
}

/// `POST /s/{token}`: the password form. A right password sets the unlock
/// cookie and goes back to the link.
async fn submit_password(
    token: web::Path<String>,
    form: web::Form<PasswordForm>,
    app: web::Data<AppState>,
    rest: web::Data<RestState>,
) -> Result<HttpResponse, Refusal> {
    let token = checked_token(token.into_inner())?;
    let opened = open(
        &app,
        OpenLinkArgs {
            link_token: token.clone(),
            password: Some(Password(form.into_inner().password)),
            unlock: None,
            item_id: None,
            count_download: false,
            subtree_max: None,
        },
    )
    .await?;
    let path = link_path(&token.0);
    let mut response = see_other(&path);
    if let Some(unlock) = opened.unlock {
        let cookie = Cookie::build(UNLOCK_COOKIE, unlock.0)
            .path(path.clone())
            .http_only(true)
            .secure(CookiePolicy::of(&rest).secure)
            .same_site(SameSite::Lax)
            .max_age(actix_web::cookie::time::Duration::seconds(
                UNLOCK_COOKIE_SECS,
            ))
            .finish();
        response
            .add_cookie(&cookie)
            .map_err(|e| Refusal::Other(WebError::Internal(format!("the unlock cookie: {e}"))))?;
    }
    Ok(response)
}
