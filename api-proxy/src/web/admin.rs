//! `/admin`: the administration pages, for administrators of the
//! installation only. The proxy decides nothing here: every page and form
//! is one `admin*` call with the session's token, and the metadata server
//! refuses it unless the user is an administrator (`is_admin`), so a page
//! is refused exactly when its call is. The pages:
//!
//! * `/admin`: users with logical and stored usage, quota and state; add a
//!   user, disable or enable one, set a quota, set a new password;
//! * `/admin/users/{name}/delete`: deleting a user ([`super::admin_delete`]);
//! * `/admin/overview`: OAuth applications, share proposals, public links
//!   ([`super::admin_overview`]);
//! * `/admin/audit`: the audit log, filtered by user;
//! * `/admin/health`: the metadata servers consuming the request queue and
//!   its depth.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use nimbus_protocol::admin::{
    AdminAddUserArgs, AdminUpdateUserArgs, AdminUser, AuditEntry, AuditQuery, ServiceHealth,
};
use nimbus_protocol::rpc::{Operation, Password};
use serde::Deserialize;

use super::error::WebError;
use super::format::{human_size, human_time, iso_time};
use super::layout::{Layout, render, see_other};
use super::session::WebSession;
use super::sharing::{DoneQuery, with_done};
use crate::state::RestState;

/// Audit records one page shows.
const AUDIT_PAGE: u32 = 200;

/// Calls an administration operation for the page at `here`.
pub(super) async fn admin_call<T: serde::de::DeserializeOwned>(
    state: &RestState,
    session: &WebSession,
    operation: Operation,
    here: &str,
) -> Result<T, WebError> {
    state
        .rpc
        .call(Some(&session.token), operation)
        .await
        .map_err(|e| WebError::from_rpc(e, here))
}

struct UserRow {
    name: String,
    email: String,
    is_admin: bool,
    disabled: bool,
    logical: String,
    stored: String,
    quota: String,
    quota_gib: u64,
    created: String,
}

#[derive(Template)]
#[template(path = "admin_users.html")]
struct UsersPage {
    layout: Layout,
    users: Vec<UserRow>,
    done: Option<&'static str>,
}

/// `GET /admin`.
pub async fn users(
    session: WebSession,
    query: web::Query<DoneQuery>,
    state: web::Data<RestState>,
) -> Result<HttpResponse, WebError> {
    let users: Vec<AdminUser> =
        admin_call(&state, &session, Operation::AdminListUsers, "/admin").await?;
    render(
        StatusCode::OK,
        &UsersPage {
            layout: Layout::of(&session),
            users: users
                .into_iter()
                .map(|u| UserRow {
                    email: u.email.unwrap_or_default(),
                    is_admin: u.is_admin,
                    disabled: u.disabled,
                    logical: human_size(u.logical_bytes),
                    stored: human_size(u.stored_bytes),
                    quota: human_size(u.quota_bytes),
                    quota_gib: u.quota_bytes >> 30,
                    created: human_time(u.created_at),
                    name: u.username,
                })
                .collect(),
            done: query.message(),
        },
    )
}

#[derive(Deserialize)]
pub struct AddUserForm {
    csrf: Option<String>,
    #[serde(default)]
    username: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    quota_gib: String,
    /// A checkbox: present when ticked.
    admin: Option<String>,
}

/// `POST /admin/users`.
pub async fn add_user(
    req: HttpRequest,
    session: WebSession,
    form: web::Form<AddUserForm>,
    state: web::Data<RestState>,
) -> Result<HttpResponse, WebError> {
    session.check_csrf(&req, form.csrf.as_deref())?;
    let form = form.into_inner();
    let add = Operation::AdminAddUser(AdminAddUserArgs {
        username: form.username.trim().to_owned(),
        password: Password(form.password),
        email: Some(form.email),
        quota_bytes: gib(&form.quota_gib)?,
        is_admin: form.admin.is_some(),
    });
    admin_call::<AdminUser>(&state, &session, add, "/admin").await?;
    Ok(see_other(&with_done("/admin", "user-added")))
}

#[derive(Deserialize)]
pub struct UpdateUserForm {
    csrf: Option<String>,
    /// `disable`, `enable`, `quota` or `password`.
    #[serde(default)]
    change: String,
    #[serde(default)]
    quota_gib: String,
    #[serde(default)]
    password: String,
}

/// `POST /admin/users/{name}`: one change of a user.
pub async fn update_user(
    req: HttpRequest,
    session: WebSession,
    path: web::Path<String>,
    form: web::Form<UpdateUserForm>,
    state: web::Data<RestState>,
) -> Result<HttpResponse, WebError> {
    session.check_csrf(&req, form.csrf.as_deref())?;
    let form = form.into_inner();
    let mut args = AdminUpdateUserArgs {
        username: path.into_inner(),
        disabled: None,
        quota_bytes: None,
        password: None,
    };
    let done = match form.change.as_str() {
        "disable" => {
            args.disabled = Some(true);
            "user-disabled"
        }
        "enable" => {
            args.disabled = Some(false);
            "user-enabled"
        }
        "quota" => {
            args.quota_bytes = Some(gib(&form.quota_gib)?);
            "quota-set"
        }
        "password" => {
            args.password = Some(Password(form.password));
            "password-reset"
        }
        other => {
            return Err(WebError::BadRequest(format!(
                "{other:?} is no change of a user: disable, enable, quota or password"
            )));
        }
    };
    admin_call::<()>(&state, &session, Operation::AdminUpdateUser(args), "/admin").await?;
    Ok(see_other(&with_done("/admin", done)))
}

/// Bytes from a form's whole number of GiB.
fn gib(text: &str) -> Result<u64, WebError> {
    text.trim()
        .parse::<u64>()
        .ok()
        .and_then(|g| g.checked_mul(1 << 30))
        .ok_or_else(|| {
            WebError::BadRequest(format!(
                "{text:?} is not a quota: give a whole number of GiB, e.g. 10"
            ))
        })
}

#[derive(Deserialize)]
pub struct AuditPageQuery {
    #[serde(default)]
    user: String,
}

struct AuditRow {
    at: String,
    at_iso: String,
    actor: String,
    action: String,
    target: String,
    detail: String,
}

#[derive(Template)]
#[template(path = "admin_audit.html")]
struct AuditPage {
    layout: Layout,
    user: String,
    entries: Vec<AuditRow>,
    limit: u32,
}

/// `GET /admin/audit[?user=NAME]`.
pub async fn audit(
    session: WebSession,
    query: web::Query<AuditPageQuery>,
    state: web::Data<RestState>,
) -> Result<HttpResponse, WebError> {
    let user = query.user.trim().to_owned();
    let read = Operation::AdminAuditLog(AuditQuery {
        user: Some(user.clone()).filter(|u| !u.is_empty()),
        since: None,
        limit: AUDIT_PAGE,
    });
    let entries: Vec<AuditEntry> = admin_call(&state, &session, read, "/admin/audit").await?;
    let dash = |value: Option<String>| value.unwrap_or_else(|| "–".into());
    render(
        StatusCode::OK,
        &AuditPage {
            layout: Layout::of(&session),
            user,
            limit: AUDIT_PAGE,
            entries: entries
                .into_iter()
                .map(|e| AuditRow {
                    at: human_time(e.at),
                    at_iso: iso_time(e.at),
                    actor: dash(e.actor),
                    action: e.action,
                    target: dash(e.target),
                    detail: e.detail,
                })
                .collect(),
        },
    )
}

#[derive(Template)]
#[template(path = "admin_health.html")]
struct HealthPage {
    layout: Layout,
    health: ServiceHealth,
}

/// `GET /admin/health`.
pub async fn health(
    session: WebSession,
    state: web::Data<RestState>,
) -> Result<HttpResponse, WebError> {
    let health: ServiceHealth =
        admin_call(&state, &session, Operation::AdminHealth, "/admin/health").await?;
    render(
        StatusCode::OK,
        &HealthPage {
            layout: Layout::of(&session),
            health,
        },
    )
}
