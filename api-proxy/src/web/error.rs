//! Every way a web UI request can fail, and the one place that turns a
//! failure into what the browser sees: a page saying what went wrong and
//! what to do, or, when the session is missing, expired or revoked, the way
//! to the sign-in page.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpResponse, ResponseError};
use askama::Template;
use nimbus_protocol::ClientError;
use nimbus_protocol::rpc::ErrorCode;

use super::layout::Layout;
use super::session::{SESSION_COOKIES, removal};
use crate::error::rest::RestError;

#[derive(Debug, thiserror::Error)]
pub enum WebError {
    /// No session cookie, or one whose device token is expired or revoked.
    /// `next` is the local path to return to after signing in.
    #[error("sign in to continue")]
    SignInRequired { next: String, htmx: bool },
    /// A state-changing request without the session's CSRF token.
    #[error(
        "this form is out of date or did not come from this site, so nothing was changed: \
         reload the page and try again"
    )]
    CsrfMismatch,
    /// Unknown, or not the caller's: the two are not told apart.
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    Conflict(String),
    /// The object store is out of space; the message says that nothing
    /// was changed.
    #[error("{0}")]
    InsufficientStorage(String),
    #[error("the metadata servers are unavailable ({0}); try again in a moment")]
    Unavailable(String),
    #[error(
        "something went wrong on the server ({0}); try again, and tell the administrator if it persists"
    )]
    Internal(String),
}

impl WebError {
    /// Maps a failed RPC made with the session's token.
    pub fn from_rpc(error: ClientError, next: &str) -> Self {
        match error.rpc_code() {
            Some(ErrorCode::Unauthenticated) => WebError::SignInRequired {
                next: next.to_owned(),
                htmx: false,
            },
            _ => RestError::from_rpc(error).into(),
        }
    }

    fn title(&self) -> &'static str {
        match self {
            WebError::SignInRequired { .. } => "Sign in",
            WebError::CsrfMismatch => "Form out of date",
            WebError::NotFound(_) => "Not found",
            WebError::BadRequest(_) => "Cannot do that",
            WebError::Forbidden(_) => "Not allowed",
            WebError::Conflict(_) => "Changed meanwhile",
            WebError::InsufficientStorage(_) => "Storage full",
            WebError::Unavailable(_) => "Service unavailable",
            WebError::Internal(_) => "Server error",
        }
    }
}

impl From<RestError> for WebError {
    fn from(error: RestError) -> Self {
        let message = error.to_string();
        match error {
            RestError::Unauthorized(_) => WebError::SignInRequired {
                next: "/".into(),
                htmx: false,
            },
            RestError::Forbidden(_)
            | RestError::EncryptedWorkspace(_)
            | RestError::QuotaExceeded(_) => WebError::Forbidden(message),
            RestError::NotFound(_) => WebError::NotFound(message),
            RestError::BadRequest(_)
            | RestError::UnsupportedMediaType(_)
            | RestError::MethodNotAllowed { .. }
            | RestError::RequestTimeout => WebError::BadRequest(message),
            RestError::NameTaken(_) | RestError::Conflict(_) => WebError::Conflict(message),
            RestError::InsufficientStorage(_) => WebError::InsufficientStorage(message),
            RestError::Unavailable(text) => WebError::Unavailable(text),
            RestError::TooManyRequests { message, .. } => WebError::Unavailable(message),
            RestError::Internal(text) => WebError::Internal(text),
        }
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    layout: Layout,
    title: &'a str,
    message: String,
}

/// Where the sign-in page is, returning to `next` afterwards.
pub fn sign_in_url(next: &str) -> String {
    if next == "/" {
        return "/signin".into();
    }
    let next: String = form_urlencoded::byte_serialize(next.as_bytes()).collect();
    format!("/signin?next={next}")
}

impl ResponseError for WebError {
    fn status_code(&self) -> StatusCode {
        match self {
            WebError::SignInRequired { htmx: true, .. } => StatusCode::UNAUTHORIZED,
            WebError::SignInRequired { .. } => StatusCode::SEE_OTHER,
            WebError::CsrfMismatch | WebError::Forbidden(_) => StatusCode::FORBIDDEN,
            WebError::NotFound(_) => StatusCode::NOT_FOUND,
            WebError::BadRequest(_) => StatusCode::BAD_REQUEST,
            WebError::Conflict(_) => StatusCode::CONFLICT,
            WebError::InsufficientStorage(_) => StatusCode::INSUFFICIENT_STORAGE,
            WebError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            WebError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status_code());
        if let WebError::SignInRequired { next, htmx } = self {
            for name in SESSION_COOKIES {
                response.cookie(removal(name));
            }
            let location = sign_in_url(next);
            // htmx follows redirects inside its request; this header makes it
            // load the sign-in page as a whole page instead.
            let header = if *htmx { "hx-redirect" } else { "location" };
            return response.insert_header((header, location)).finish();
        }
        if let WebError::Internal(cause) = self {
            tracing::error!(%cause, "web UI request failed");
        }
        let page = ErrorPage {
            layout: Layout::anonymous(),
            title: self.title(),
            message: self.to_string(),
        };
        match page.render() {
            Ok(html) => response.content_type("text/html; charset=utf-8").body(html),
            Err(error) => {
                tracing::error!(%error, "rendering the error page failed");
                response
                    .insert_header((header::CONTENT_TYPE, "text/plain; charset=utf-8"))
                    .body(self.to_string())
            }
        }
    }
}
