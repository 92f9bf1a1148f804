//! `/account`: quota, the devices and browser sessions signed in to the
//! account, and the applications allowed to use it, each revocable; and
//! changing the password (`changePassword`: every device and session stays
//! signed in, this one included, and the page says how to end the others).

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use nimbus_protocol::ClientError;
use nimbus_protocol::rpc::{
    ChangePasswordArgs, DeviceInfo, ErrorCode, OAuthTokenInfo, Operation, Password,
};
use serde::Deserialize;
use uuid::Uuid;

use super::error::WebError;
use super::format::{human_size, human_time};
use super::layout::{Layout, render, see_other};
use super::session::{SESSION_COOKIES, WebSession, removal};
use crate::state::RestState;

struct DeviceRow {
    id: Uuid,
    name: String,
    kind: &'static str,
    details: String,
    last_seen: String,
    current: bool,
}

struct ApplicationRow {
    token: String,
    name: String,
    since: String,
}

#[derive(Template)]
#[template(path = "account.html")]
struct AccountPage {
    layout: Layout,
    email: String,
    used: String,
    left: String,
    limit: String,
    /// Per mille of the quota used, for the meter.
    used_permille: u64,
    devices: Vec<DeviceRow>,
    applications: Vec<ApplicationRow>,
    /// Just back from changing the password.
    password_changed: bool,
    /// Days the deployment keeps deleted items and older versions.
    trash_days: u32,
    version_days: u32,
}

#[derive(Deserialize)]
pub struct AccountQuery {
    password: Option<String>,
}

/// `GET /account`.
pub async fn page(
    session: WebSession,
    query: web::Query<AccountQuery>,
    state: web::Data<RestState>,
) -> Result<HttpResponse, WebError> {
    let devices: Vec<DeviceInfo> = state
        .rpc
        .call(Some(&session.token), Operation::ListDevices)
        .await
        .map_err(|e| WebError::from_rpc(e, "/account"))?;
    let applications: Vec<OAuthTokenInfo> = state
        .rpc
        .call(Some(&session.token), Operation::ListOauthTokens)
        .await
        .map_err(|e| WebError::from_rpc(e, "/account"))?;
    let account = &session.account;
    let application_devices: Vec<Uuid> = applications.iter().map(|a| a.device_id).collect();
    let mut devices: Vec<DeviceRow> = devices
        .into_iter()
        .filter(|d| !d.revoked)
        .map(|d| DeviceRow {
            current: d.device_id == account.device_id,
            kind: if application_devices.contains(&d.device_id) {
                "Application"
            } else if d.name.starts_with("Web browser") {
                "Browser session"
            } else {
                "Device"
            },
            details: [d.os, d.app_version]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(", "),
            last_seen: human_time(d.last_seen_at),
            id: d.device_id,
            name: d.name,
        })
        .collect();
    devices.sort_by(|a, b| b.current.cmp(&a.current).then_with(|| a.name.cmp(&b.name)));
    let limit = account.quota_limit;
    render(
        StatusCode::OK,
        &AccountPage {
            layout: Layout::of(&session),
            email: account.email.clone().unwrap_or_default(),
            used: human_size(account.quota_used),
            left: human_size(limit.saturating_sub(account.quota_used)),
            limit: human_size(limit),
            used_permille: account
                .quota_used
                .saturating_mul(1000)
                .checked_div(limit)
                .unwrap_or(0)
                .min(1000),
            trash_days: account.retention.trash_days,
            version_days: account.retention.version_days,
            devices,
            applications: applications
                .into_iter()
                .map(|a| ApplicationRow {
                    token: a.token,
                    name: a.consumer_name,
                    since: human_time(a.created_at),
                })
                .collect(),
            password_changed: query.password.as_deref() == Some("changed"),
        },
    )
}

#[derive(Deserialize)]
pub struct RevokeForm {
    csrf: Option<String>,
    /// For applications: the access token to revoke.
    token: Option<String>,
}

/// `POST /account/devices/{id}/revoke`. Revoking this browser's own session
/// signs it out.
pub async fn revoke_device(
    req: HttpRequest,
    session: WebSession,
    path: web::Path<String>,
    form: web::Form<RevokeForm>,
    state: web::Data<RestState>,
) -> Result<HttpResponse, WebError> {
    session.check_csrf(&req, form.csrf.as_deref())?;
    let device_id = Uuid::parse_str(&path)
        .map_err(|_| WebError::NotFound(format!("there is no device {:?}", path.as_str())))?;
    state
        .rpc
        .call::<()>(Some(&session.token), Operation::RevokeDevice { device_id })
        .await
        .map_err(|e| WebError::from_rpc(e, "/account"))?;
    if device_id != session.account.device_id {
        return Ok(see_other("/account"));
    }
    let mut response = see_other("/signin");
    for name in SESSION_COOKIES {
        response
            .add_cookie(&removal(name))
            .map_err(|e| WebError::Internal(format!("clearing the session cookie: {e}")))?;
    }
    Ok(response)
}

/// `POST /account/applications/revoke` with the application's `token`.
pub async fn revoke_application(
    req: HttpRequest,
    session: WebSession,
    form: web::Form<RevokeForm>,
    state: web::Data<RestState>,
) -> Result<HttpResponse, WebError> {
    session.check_csrf(&req, form.csrf.as_deref())?;
    let access_token = form
        .token
        .clone()
        .filter(|t| !t.is_empty())
        .ok_or_else(|| WebError::BadRequest("no application was named".into()))?;
    state
        .rpc
        .call::<()>(
            Some(&session.token),
            Operation::RevokeOauthToken { access_token },
        )
        .await
        .map_err(|e| WebError::from_rpc(e, "/account"))?;
    Ok(see_other("/account"))
}

#[derive(Deserialize)]
pub struct PasswordForm {
    csrf: Option<String>,
    #[serde(default)]
    old: String,
    #[serde(default)]
    new: String,
    #[serde(default)]
    repeat: String,
}

/// `POST /account/password` with the current password (`old`) and the new
/// one twice (`new`, `repeat`).
pub async fn change_password(
    req: HttpRequest,
    session: WebSession,
    form: web::Form<PasswordForm>,
    state: web::Data<RestState>,
) -> Result<HttpResponse, WebError> {
    session.check_csrf(&req, form.csrf.as_deref())?;
    if form.new != form.repeat {
        return Err(WebError::BadRequest(
            "the two new passwords differ, so the password was not changed: type the same \
             one twice"
                .into(),
        ));
    }
    let change = Operation::ChangePassword(ChangePasswordArgs {
        old_password: Password(form.old.clone()),
        new_password: Password(form.new.clone()),
    });
    state
        .rpc
        .call::<()>(Some(&session.token), change)
        .await
        .map_err(|error| match &error {
            // The current password, not the session: this browser stays
            // signed in.
            ClientError::Rpc(refusal) if refusal.code == ErrorCode::InvalidCredentials => {
                WebError::Forbidden(
                    "the current password is wrong, so the password was not changed".into(),
                )
            }
            ClientError::Rpc(refusal)
                if matches!(
                    refusal.code,
                    ErrorCode::TooManyAttempts | ErrorCode::BadRequest
                ) =>
            {
                WebError::BadRequest(format!("{}: the password was not changed", refusal.message))
            }
            _ => WebError::from_rpc(error, "/account"),
        })?;
    Ok(see_other("/account?password=changed"))
}
