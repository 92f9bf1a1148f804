//! `/admin/overview`: every OAuth application, share invitation and public
//! link (`adminOverview`), and what an administrator does with them:
//! register an application (its consumer secret is shown in the answer,
//! once: the servers keep it for signatures but never tell it again),
//! remove one (every token issued to it ends), and revoke any user's link.
//! The links come a page at a time (`?page=N`; the servers cut the page, as
//! an installation has many) and can be narrowed to one creator
//! (`?user=NAME`). Each form is one `admin*` call that the servers refuse
//! unless the caller is an administrator, and that they write to the audit
//! log.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use nimbus_protocol::admin::{
    ADMIN_LINKS_PAGE, AddOAuthAppArgs, AdminOverview, AdminOverviewQuery, NewOAuthApplication,
};
use nimbus_protocol::rpc::{LinkInfo, Operation};
use serde::Deserialize;
use uuid::Uuid;

use super::admin::admin_call;
use super::error::WebError;
use super::format::human_time;
use super::layout::{Layout, Pager, render, see_other};
use super::links::{LinkRow, link_row};
use super::organize::CsrfForm;
use super::session::WebSession;
use super::sharing::done_message;
use crate::state::RestState;

const HERE: &str = "/admin/overview";

struct ProposalRow {
    workspace: String,
    from: String,
    to: String,
    role: String,
    status: String,
    expires: String,
}

struct ApplicationRow {
    name: String,
    key: String,
    callback: String,
}

#[derive(Template)]
#[template(path = "admin_overview.html")]
struct OverviewPage {
    layout: Layout,
    applications: Vec<ApplicationRow>,
    proposals: Vec<ProposalRow>,
    links: Vec<LinkRow>,
    pager: Pager,
    /// The creator the links are narrowed to; empty: everyone's.
    user: String,
    done: Option<&'static str>,
    /// The application just registered, with its secret: this once only.
    created: Option<NewOAuthApplication>,
}

#[derive(Deserialize)]
pub struct OverviewQuery {
    #[serde(default)]
    user: String,
    /// Of the links, from 1.
    page: Option<u32>,
    done: Option<String>,
}

/// `GET /admin/overview[?user=NAME&page=N]`.
pub async fn overview(
    session: WebSession,
    query: web::Query<OverviewQuery>,
    state: web::Data<RestState>,
) -> Result<HttpResponse, WebError> {
    let query = query.into_inner();
    let done = query.done.as_deref().and_then(done_message);
    let links_page = query.page.unwrap_or(1);
    page(&state, &session, query.user.trim(), links_page, done, None).await
}

/// The address of a page of the links.
fn links_href(user: &str, page: usize) -> String {
    let mut params = form_urlencoded::Serializer::new(String::new());
    if !user.is_empty() {
        params.append_pair("user", user);
    }
    if page > 1 {
        params.append_pair("page", &page.to_string());
    }
    let params = params.finish();
    if params.is_empty() {
        HERE.to_owned()
    } else {
        format!("{HERE}?{params}")
    }
}

async fn page(
    state: &RestState,
    session: &WebSession,
    user: &str,
    links_page: u32,
    done: Option<&'static str>,
    created: Option<NewOAuthApplication>,
) -> Result<HttpResponse, WebError> {
    let query = AdminOverviewQuery {
        links_creator: Some(user.to_owned()).filter(|u| !u.is_empty()),
        links_page,
    };
    let overview: AdminOverview =
        admin_call(state, session, Operation::AdminOverview(query), HERE).await?;
    let to_usize = |n: u64| usize::try_from(n).unwrap_or(usize::MAX);
    let pager = Pager::new(
        to_usize(overview.links_page.max(1).into()),
        to_usize(ADMIN_LINKS_PAGE.into()),
        to_usize(overview.links_total),
        |page| links_href(user, page),
    );
    let lower = |value: &dyn std::fmt::Debug| format!("{value:?}").to_lowercase();
    render(
        if created.is_some() {
            StatusCode::CREATED
        } else {
            StatusCode::OK
        },
        &OverviewPage {
            layout: Layout::of(session),
            applications: overview
                .applications
                .into_iter()
                .map(|a| ApplicationRow {
                    name: a.name,
                    key: a.consumer_key,
                    callback: a.callback_url.unwrap_or_else(|| "out of band only".into()),
                })
                .collect(),
            proposals: overview
                .proposals
                .into_iter()
                .map(|p| ProposalRow {
                    role: lower(&p.role),
                    status: lower(&p.status),
                    expires: human_time(p.expires_at),
                    workspace: p.workspace_name,
                    from: p.proposer_name,
                    to: p.invitee_name,
                })
                .collect(),
            links: overview
                .links
                .into_iter()
                .map(|l| link_row(l.link, Some(l.creator), "/admin/links"))
                .collect(),
            pager,
            user: user.to_owned(),
            done,
            created,
        },
    )
}

#[derive(Deserialize)]
pub struct ApplicationForm {
    csrf: Option<String>,
    #[serde(default)]
    name: String,
    /// Empty: the application shows the user a code instead (out of band).
    #[serde(default)]
    callback: String,
}

/// `POST /admin/applications`: the overview with the new application's
/// key and secret (`201`).
pub async fn add_application(
    req: HttpRequest,
    session: WebSession,
    form: web::Form<ApplicationForm>,
    state: web::Data<RestState>,
) -> Result<HttpResponse, WebError> {
    session.check_csrf(&req, form.csrf.as_deref())?;
    let form = form.into_inner();
    let callback = form.callback.trim();
    let add = Operation::AdminAddOauthApp(AddOAuthAppArgs {
        name: form.name,
        callback_url: (!callback.is_empty()).then(|| callback.to_owned()),
    });
    let created: NewOAuthApplication = admin_call(&state, &session, add, HERE).await?;
    page(&state, &session, "", 1, None, Some(created)).await
}

/// `POST /admin/applications/{key}/remove`.
pub async fn remove_application(
    req: HttpRequest,
    session: WebSession,
    path: web::Path<String>,
    form: web::Form<CsrfForm>,
    state: web::Data<RestState>,
) -> Result<HttpResponse, WebError> {
    session.check_csrf(&req, form.csrf.as_deref())?;
    let remove = Operation::AdminRemoveOauthApp {
        consumer_key: path.into_inner(),
    };
    admin_call::<()>(&state, &session, remove, HERE).await?;
    Ok(see_other("/admin/overview?done=app-removed"))
}

/// `POST /admin/links/{id}/revoke`: any user's link.
pub async fn revoke_link(
    req: HttpRequest,
    session: WebSession,
    path: web::Path<String>,
    form: web::Form<CsrfForm>,
    state: web::Data<RestState>,
) -> Result<HttpResponse, WebError> {
    session.check_csrf(&req, form.csrf.as_deref())?;
    let link_id = Uuid::parse_str(&path)
        .map_err(|_| WebError::NotFound(format!("there is no link {:?}", path.as_str())))?;
    let _: LinkInfo = admin_call(
        &state,
        &session,
        Operation::AdminRevokeLink { link_id },
        HERE,
    )
    .await?;
    Ok(see_other("/admin/overview?done=revoked"))
}
