//! `/signin` and `/signout`.

use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use nimbus_protocol::rpc::{DeviceArgs, ErrorCode, LoginArgs, Password};
use serde::Deserialize;

use super::error::WebError;
use super::layout::{Layout, render, see_other};
use super::session::{
    CookiePolicy, SESSION_COOKIES, SESSION_TTL_SECS, WebSession, is_local_path, new_nonce, removal,
};
use crate::state::RestState;

#[derive(Template)]
#[template(path = "signin.html")]
struct SignInPage<'a> {
    layout: Layout,
    nonce: &'a str,
    next: &'a str,
    username: &'a str,
    error: Option<&'a str>,
}

#[derive(Debug, Deserialize)]
pub struct SignInQuery {
    next: Option<String>,
}

fn local_next(next: Option<&str>) -> &str {
    next.filter(|n| is_local_path(n)).unwrap_or("/")
}

/// The form, with a fresh nonce in it and in a cookie.
fn form(
    policy: CookiePolicy,
    status: StatusCode,
    next: &str,
    username: &str,
    error: Option<&str>,
) -> Result<HttpResponse, WebError> {
    let nonce = new_nonce();
    let mut response = render(
        status,
        &SignInPage {
            layout: Layout::anonymous(),
            nonce: &nonce,
            next,
            username,
            error,
        },
    )?;
    response
        .add_cookie(&policy.sign_in_nonce(&nonce))
        .map_err(|e| WebError::Internal(format!("setting the sign-in cookie: {e}")))?;
    Ok(response)
}

/// `GET /signin?next=/path`.
pub async fn page(
    query: web::Query<SignInQuery>,
    state: web::Data<RestState>,
) -> Result<HttpResponse, WebError> {
    let next = local_next(query.next.as_deref());
    form(CookiePolicy::of(&state), StatusCode::OK, next, "", None)
}

#[derive(Deserialize)]
pub struct SignInForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    nonce: String,
    next: Option<String>,
}

/// A short description of the browser from its `User-Agent`, so that the
/// user recognises the session among their devices.
fn describe_browser(user_agent: &str) -> (String, Option<String>) {
    let browser = [
        ("Edg/", "Edge"),
        ("Firefox/", "Firefox"),
        ("Chrome/", "Chrome"),
        ("Chromium/", "Chromium"),
        ("Safari/", "Safari"),
    ]
    .iter()
    .find(|(mark, _)| user_agent.contains(mark))
    .map(|(_, name)| *name);
    let os = [
        ("Android", "Android"),
        ("iPhone", "iOS"),
        ("iPad", "iPadOS"),
        ("Windows", "Windows"),
        ("Mac OS X", "macOS"),
        ("CrOS", "ChromeOS"),
        ("Linux", "Linux"),
    ]
    .iter()
    .find(|(mark, _)| user_agent.contains(mark))
    .map(|(_, name)| (*name).to_owned());
    let name = match (browser, &os) {
        (Some(browser), Some(os)) => format!("Web browser ({browser} on {os})"),
        (Some(browser), None) => format!("Web browser ({browser})"),
        (None, _) => "Web browser".to_owned(),
    };
    (name, os)
}

/// `POST /signin`: logs in over the RPC as a new device; the server slows
/// repeated failures and its message is shown as it is.
pub async fn submit(
    req: HttpRequest,
    form_data: web::Form<SignInForm>,
    state: web::Data<RestState>,
) -> Result<HttpResponse, WebError> {
    let policy = CookiePolicy::of(&state);
    let SignInForm {
        username,
        password,
        nonce,
        next,
    } = form_data.into_inner();
    let next = local_next(next.as_deref());
    if !policy.sign_in_nonce_matches(&req, &nonce) {
        return form(
            policy,
            StatusCode::FORBIDDEN,
            next,
            &username,
            Some(
                "This sign-in form has expired or your browser did not send its cookie. \
                 Allow cookies for this site and sign in again.",
            ),
        );
    }
    let user_agent = req
        .headers()
        .get("user-agent")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let (device_name, os) = describe_browser(user_agent);
    let login = state
        .rpc
        .login(LoginArgs {
            username: username.trim().to_owned(),
            password: Password(password),
            device: DeviceArgs {
                device_name,
                os,
                app_version: Some(concat!("nimbus-web/", env!("CARGO_PKG_VERSION")).into()),
            },
            token_ttl_secs: Some(SESSION_TTL_SECS),
        })
        .await;
    let reply = match login {
        Ok(reply) => reply,
        Err(nimbus_protocol::ClientError::Rpc(refusal)) => {
            let status = match refusal.code {
                ErrorCode::InvalidCredentials => StatusCode::UNAUTHORIZED,
                ErrorCode::TooManyAttempts => StatusCode::TOO_MANY_REQUESTS,
                ErrorCode::AccountDisabled => StatusCode::FORBIDDEN,
                ErrorCode::BadRequest => StatusCode::BAD_REQUEST,
                _ => return Err(WebError::Unavailable(refusal.message)),
            };
            return form(policy, status, next, &username, Some(&refusal.message));
        }
        Err(other) => return Err(WebError::Unavailable(other.to_string())),
    };
    let now_ms = time::OffsetDateTime::now_utc().unix_timestamp() * 1000;
    let lifetime = reply.expires_at.map_or(SESSION_TTL_SECS, |at| {
        u64::try_from((at - now_ms) / 1000).unwrap_or(0)
    });
    let mut response = see_other(next);
    let cookies = [
        policy.session(&reply.token, Duration::from_secs(lifetime)),
        policy.sign_in_removal(),
    ];
    for cookie in &cookies {
        response
            .add_cookie(cookie)
            .map_err(|e| WebError::Internal(format!("setting the session cookie: {e}")))?;
    }
    Ok(response)
}

#[derive(Deserialize)]
pub struct CsrfForm {
    csrf: Option<String>,
}

/// `POST /signout`: revokes the session's device and clears the cookie.
pub async fn sign_out(
    req: HttpRequest,
    session: WebSession,
    form_data: web::Form<CsrfForm>,
    state: web::Data<RestState>,
) -> Result<HttpResponse, WebError> {
    session.check_csrf(&req, form_data.csrf.as_deref())?;
    if let Err(error) = state.rpc.logout(&session.token).await
        && error.rpc_code() != Some(ErrorCode::Unauthenticated)
    {
        return Err(WebError::from_rpc(error, "/"));
    }
    let mut response = see_other("/signin");
    for name in SESSION_COOKIES {
        response
            .add_cookie(&removal(name))
            .map_err(|e| WebError::Internal(format!("clearing the session cookie: {e}")))?;
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn browsers_are_named_so_users_recognise_them() {
        let chrome = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) \
                      Chrome/156.0.0.0 Safari/537.36";
        assert_eq!(
            describe_browser(chrome),
            ("Web browser (Chrome on Linux)".into(), Some("Linux".into()))
        );
        let firefox =
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:140.0) Gecko/20100101 Firefox/140.0";
        assert_eq!(
            describe_browser(firefox).0,
            "Web browser (Firefox on Windows)"
        );
        assert_eq!(describe_browser("").0, "Web browser");
    }
}
