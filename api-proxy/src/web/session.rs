//! Browser sessions. Signing in logs the user in over the metadata RPC as a
//! new device ("Web browser …") whose token expires after
//! [`SESSION_TTL_SECS`]; the token is the session cookie (HttpOnly,
//! SameSite=Lax, Secure and `__Host-` when the public URL is https). Every
//! request checks it with `getAccount`, so a revoked or expired session ends
//! at once; signing out revokes the device.
//!
//! CSRF: the token of a session is derived from its secret (keyed BLAKE3 of
//! the device token), so it needs no storage, cannot be computed without the
//! HttpOnly cookie, and does not reveal it. Pages put it in every form and
//! in a `<meta>` tag that `app.js` copies into the `X-CSRF-Token` header of
//! htmx requests; every state-changing handler compares it in constant time.
//! The sign-in form, which has no session yet, uses a double-submit nonce:
//! a random value in a short-lived SameSite=Strict cookie and in the form.

use std::time::Duration;

use actix_web::cookie::{Cookie, SameSite};
use actix_web::dev::Payload;
use actix_web::http::Method;
use actix_web::{FromRequest, HttpRequest, web};
use futures::future::LocalBoxFuture;
use nimbus_protocol::rpc::{Account, DeviceToken};
use subtle::ConstantTimeEq;

use super::error::WebError;
use crate::state::RestState;

/// How long a browser session lasts.
pub const SESSION_TTL_SECS: u64 = 7 * 24 * 3600;
/// How long a sign-in form stays valid.
const SIGN_IN_FORM_TTL: Duration = Duration::from_secs(3600);

const SESSION_COOKIE: &str = "nimbus_session";
const SECURE_SESSION_COOKIE: &str = "__Host-nimbus_session";
/// Both names, so that signing out clears whichever the browser holds.
pub const SESSION_COOKIES: [&str; 2] = [SESSION_COOKIE, SECURE_SESSION_COOKIE];
const SIGN_IN_COOKIE: &str = "nimbus_signin";
const SECURE_SIGN_IN_COOKIE: &str = "__Host-nimbus_signin";

/// The header htmx requests carry the CSRF token in.
pub const CSRF_HEADER: &str = "x-csrf-token";
const CSRF_CONTEXT: &str = "nimbus web UI 2026-12 CSRF token";

/// How cookies are set for this deployment.
#[derive(Debug, Clone, Copy)]
pub struct CookiePolicy {
    /// The public URL is https: cookies are `Secure` and `__Host-` prefixed.
    pub secure: bool,
}

impl CookiePolicy {
    pub fn of(state: &RestState) -> Self {
        Self {
            secure: state.public_url.starts_with("https://"),
        }
    }

    pub fn session_name(self) -> &'static str {
        if self.secure {
            SECURE_SESSION_COOKIE
        } else {
            SESSION_COOKIE
        }
    }

    fn sign_in_name(self) -> &'static str {
        if self.secure {
            SECURE_SIGN_IN_COOKIE
        } else {
            SIGN_IN_COOKIE
        }
    }

    fn build(self, name: &'static str, value: String, max_age: Duration) -> Cookie<'static> {
        Cookie::build(name, value)
            .path("/")
            .http_only(true)
            .secure(self.secure)
            .same_site(SameSite::Lax)
            .max_age(actix_web::cookie::time::Duration::seconds(
                max_age.as_secs() as i64,
            ))
            .finish()
    }

    /// The session cookie holding `token` for `max_age`.
    pub fn session(self, token: &DeviceToken, max_age: Duration) -> Cookie<'static> {
        self.build(self.session_name(), token.0.clone(), max_age)
    }

    /// The cookie half of a sign-in form's nonce.
    pub fn sign_in_nonce(self, nonce: &str) -> Cookie<'static> {
        let mut cookie = self.build(self.sign_in_name(), nonce.to_owned(), SIGN_IN_FORM_TTL);
        cookie.set_same_site(SameSite::Strict);
        cookie
    }

    pub fn sign_in_removal(self) -> Cookie<'static> {
        removal(self.sign_in_name())
    }

    /// Whether the sign-in form's `submitted` nonce is the one its cookie holds.
    pub fn sign_in_nonce_matches(self, req: &HttpRequest, submitted: &str) -> bool {
        req.cookie(self.sign_in_name())
            .is_some_and(|cookie| same_secret(cookie.value(), submitted))
    }
}

/// A cookie that deletes the cookie `name`.
pub fn removal(name: &'static str) -> Cookie<'static> {
    let mut cookie = Cookie::build(name, "")
        .path("/")
        .http_only(true)
        // A `__Host-` cookie is only accepted (and so only cleared) when Secure.
        .secure(name.starts_with("__Host-"))
        .finish();
    cookie.make_removal();
    cookie
}

/// A fresh random nonce for a sign-in form.
pub fn new_nonce() -> String {
    hex::encode(rand::random::<[u8; 32]>())
}

/// The CSRF token of the session whose device token is `token`.
pub fn csrf_token(token: &DeviceToken) -> String {
    hex::encode(blake3::derive_key(CSRF_CONTEXT, token.0.as_bytes()))
}

fn same_secret(a: &str, b: &str) -> bool {
    !a.is_empty() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// A signed-in browser: its device token, account and CSRF token.
pub struct WebSession {
    pub token: DeviceToken,
    pub account: Account,
    pub csrf: String,
}

impl WebSession {
    /// Refuses a state-changing request that carries neither the form field
    /// `submitted` nor the `X-CSRF-Token` header with this session's token.
    pub fn check_csrf(&self, req: &HttpRequest, submitted: Option<&str>) -> Result<(), WebError> {
        let header = req.headers().get(CSRF_HEADER).and_then(|v| v.to_str().ok());
        match submitted.or(header) {
            Some(token) if same_secret(&self.csrf, token) => Ok(()),
            _ => Err(WebError::CsrfMismatch),
        }
    }

    async fn from_http(req: &HttpRequest) -> Result<Self, WebError> {
        let state = req
            .app_data::<web::Data<RestState>>()
            .ok_or_else(|| WebError::Internal("the RPC client is not configured".into()))?;
        // A GET returns to where it was after signing in; a form does not resubmit.
        let next = if req.method() == Method::GET {
            req.uri()
                .path_and_query()
                .map_or("/", |p| p.as_str())
                .to_owned()
        } else {
            "/".to_owned()
        };
        let sign_in = || WebError::SignInRequired {
            next: next.clone(),
            htmx: req.headers().contains_key("hx-request"),
        };
        let cookie = req
            .cookie(CookiePolicy::of(state).session_name())
            .ok_or_else(sign_in)?;
        let token = DeviceToken(cookie.value().to_owned());
        let account = match state.rpc.get_account(&token).await {
            Ok(account) => account,
            Err(error) => {
                return Err(match WebError::from_rpc(error, &next) {
                    WebError::SignInRequired { .. } => sign_in(),
                    other => other,
                });
            }
        };
        Ok(Self {
            csrf: csrf_token(&token),
            token,
            account,
        })
    }
}

impl FromRequest for WebSession {
    type Error = WebError;
    type Future = LocalBoxFuture<'static, Result<Self, WebError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move { Self::from_http(&req).await })
    }
}

/// Whether `next` is a path on this site (not `//host`, not a URL), so that
/// the sign-in page cannot be made to send users elsewhere.
pub fn is_local_path(next: &str) -> bool {
    next.starts_with('/')
        && !next.starts_with("//")
        && !next.starts_with("/\\")
        && !next.chars().any(char::is_control)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csrf_tokens_are_per_session_and_hide_the_session_secret() {
        let a = csrf_token(&DeviceToken("nmb_a".into()));
        let b = csrf_token(&DeviceToken("nmb_b".into()));
        assert_ne!(a, b);
        assert_eq!(a, csrf_token(&DeviceToken("nmb_a".into())));
        assert!(!a.contains("nmb_a"));
        assert!(!same_secret("", ""));
        assert!(same_secret(&a, &a.clone()));
        assert!(!same_secret(&a, &b));
    }

    #[test]
    fn https_deployments_get_secure_host_only_cookies() {
        let token = DeviceToken("nmb_x".into());
        let secure = CookiePolicy { secure: true }
            .session(&token, Duration::from_secs(60))
            .to_string();
        for part in [
            "__Host-nimbus_session=nmb_x",
            "HttpOnly",
            "SameSite=Lax",
            "Secure",
            "Path=/",
        ] {
            assert!(secure.contains(part), "{secure}");
        }
        let plain = CookiePolicy { secure: false }
            .session(&token, Duration::from_secs(60))
            .to_string();
        assert!(
            plain.starts_with("nimbus_session=") && !plain.contains("Secure"),
            "{plain}"
        );
        let nonce = CookiePolicy { secure: true }.sign_in_nonce("n").to_string();
        assert!(
            nonce.contains("SameSite=Strict") && nonce.contains("__Host-"),
            "{nonce}"
        );
    }

    #[test]
    fn only_local_paths_are_followed_after_sign_in() {
        assert!(is_local_path("/files/x?page=2"));
        for bad in [
            "//evil.example",
            "/\\evil.example",
            "https://evil.example",
            "",
            "/a\nb",
        ] {
            assert!(!is_local_path(bad), "{bad}");
        }
    }
}
