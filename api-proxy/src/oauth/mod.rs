//! The OAuth 1.0a provider (RFC 5849) of the REST API.
//!
//! * `POST|GET /oauth/request_token`, signed by the consumer (with
//!   `oauth_callback`: a URL, or `oob`);
//! * `GET /oauth/authorize?oauth_token=…`: an HTML page where the user logs in
//!   and allows (or denies) the application; `POST /oauth/authorize` carries
//!   out the choice and redirects to `callback?oauth_token=…&oauth_verifier=…`,
//!   or shows the verifier when the callback is `oob`;
//! * `POST|GET /oauth/access_token`, signed with the request token and
//!   carrying `oauth_verifier`;
//! * `GET /oauth/tokens` and `DELETE /oauth/tokens/{token}`: the user lists and
//!   revokes the access tokens granted to applications. These take the user's
//!   own token (`X-Auth-Token`, from `/auth/v1.0`), not an OAuth signature:
//!   an application cannot see or revoke the grants of others.
//!
//! The proxy only parses: [`signed_request`] collects the header, query and
//! form-body parameters and builds the signature base string with the base
//! URI taken from the configured public URL ([`crate::state::RestState`]),
//! never from `Host` or `X-Forwarded-*`. The metadata servers hold the
//! secrets and check signature (HMAC-SHA1 in constant time, PLAINTEXT only
//! over https unless allowed), timestamp window and nonce replay; any refusal
//! is a 401 with the server's reason.

mod page;

use actix_web::http::header::{self, ContentType};
use actix_web::{HttpRequest, HttpResponse, web};
use nimbus_protocol::rpc::{
    DeviceToken, ErrorCode, OAuthAuthorizeReply, OAuthRequestInfo, OAuthTokenInfo, OAuthTokenReply,
    Operation, Password,
};
use serde::Deserialize;

use crate::auth::oauth::{is_form, signed_request};
use crate::error::rest::RestError;
use crate::state::RestState;

/// The form body when the request has one.
fn form_body<'a>(req: &HttpRequest, body: &'a web::Bytes) -> Option<&'a [u8]> {
    is_form(req).then_some(&body[..])
}

fn token_reply(reply: &OAuthTokenReply, callback_confirmed: bool) -> HttpResponse {
    let mut form = form_urlencoded::Serializer::new(String::new());
    form.append_pair("oauth_token", &reply.token)
        .append_pair("oauth_token_secret", &reply.secret);
    if callback_confirmed {
        form.append_pair("oauth_callback_confirmed", "true");
    }
    HttpResponse::Ok()
        .content_type("application/x-www-form-urlencoded")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(form.finish())
}

/// `/oauth/request_token`: temporary credentials (RFC 5849 §2.1).
pub async fn request_token(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<RestState>,
) -> Result<HttpResponse, RestError> {
    let request = signed_request(&state.public_url, &req, form_body(&req, &body))?;
    if request.callback.is_none() {
        return Err(RestError::BadRequest(
            "oauth_callback is required: a URL, or \"oob\"".into(),
        ));
    }
    let reply: OAuthTokenReply = state
        .rpc
        .call(None, Operation::OauthRequestToken { request })
        .await
        .map_err(RestError::from_rpc)?;
    Ok(token_reply(&reply, true))
}

/// `/oauth/access_token`: token credentials (RFC 5849 §2.3).
pub async fn access_token(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<RestState>,
) -> Result<HttpResponse, RestError> {
    let request = signed_request(&state.public_url, &req, form_body(&req, &body))?;
    if request.token.is_none() || request.verifier.is_none() {
        return Err(RestError::BadRequest(
            "oauth_token (the request token) and oauth_verifier are required".into(),
        ));
    }
    let reply: OAuthTokenReply = state
        .rpc
        .call(None, Operation::OauthAccessToken { request })
        .await
        .map_err(RestError::from_rpc)?;
    Ok(token_reply(&reply, false))
}

#[derive(Debug, Deserialize)]
pub struct AuthorizeQuery {
    pub oauth_token: Option<String>,
}

/// `GET /oauth/authorize`: the login and consent page.
pub async fn authorize_page(
    query: web::Query<AuthorizeQuery>,
    state: web::Data<RestState>,
) -> HttpResponse {
    let Some(request_token) = query.oauth_token.as_deref().filter(|t| !t.is_empty()) else {
        return page::respond(
            actix_web::http::StatusCode::BAD_REQUEST,
            &page::message(
                "Missing request token",
                "This page must be opened with the oauth_token the application received.",
            ),
        );
    };
    match request_info(&state, request_token).await {
        Ok(info) => page::respond(
            actix_web::http::StatusCode::OK,
            &page::login_form(&info.consumer_name, request_token, None),
        ),
        Err(response) => response,
    }
}

async fn request_info(
    state: &RestState,
    request_token: &str,
) -> Result<OAuthRequestInfo, HttpResponse> {
    state
        .rpc
        .call(
            None,
            Operation::OauthRequestInfo {
                request_token: request_token.to_owned(),
            },
        )
        .await
        .map_err(|error| match RestError::from_rpc(error) {
            RestError::Unavailable(_) | RestError::Internal(_) => page::respond(
                actix_web::http::StatusCode::SERVICE_UNAVAILABLE,
                &page::message("Try again later", "The service is unavailable right now."),
            ),
            _ => page::respond(
                actix_web::http::StatusCode::BAD_REQUEST,
                &page::message(
                    "Unknown request",
                    "This authorization request is unknown, expired or already used. \
                     Start again from the application.",
                ),
            ),
        })
}

#[derive(Deserialize)]
pub struct AuthorizeForm {
    pub oauth_token: String,
    pub username: String,
    pub password: String,
    /// `allow` or `deny`.
    pub action: String,
}

/// `POST /oauth/authorize`: the user's decision.
pub async fn authorize_submit(
    form: web::Form<AuthorizeForm>,
    state: web::Data<RestState>,
) -> HttpResponse {
    let form = form.into_inner();
    let info = match request_info(&state, &form.oauth_token).await {
        Ok(info) => info,
        Err(response) => return response,
    };
    if form.action != "allow" {
        return page::respond(
            actix_web::http::StatusCode::OK,
            &page::message(
                "Access not granted",
                &format!("{} was not given access to your files.", info.consumer_name),
            ),
        );
    }
    let reply: Result<OAuthAuthorizeReply, _> = state
        .rpc
        .call(
            None,
            Operation::OauthAuthorize {
                request_token: form.oauth_token.clone(),
                username: form.username.trim().to_owned(),
                password: Password(form.password),
            },
        )
        .await;
    match reply {
        Ok(reply) if reply.callback == "oob" => page::respond(
            actix_web::http::StatusCode::OK,
            &page::verifier(&info.consumer_name, &reply.verifier),
        ),
        Ok(reply) => HttpResponse::Found()
            .insert_header((header::LOCATION, callback_location(&reply)))
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .finish(),
        Err(error) => {
            let retry = match error.rpc_code() {
                Some(ErrorCode::TooManyAttempts) => Some((
                    actix_web::http::StatusCode::TOO_MANY_REQUESTS,
                    "Too many failed attempts. Wait a while, then try again.",
                )),
                Some(ErrorCode::AccountDisabled) => Some((
                    actix_web::http::StatusCode::FORBIDDEN,
                    "This account is disabled.",
                )),
                Some(ErrorCode::InvalidCredentials) => Some((
                    actix_web::http::StatusCode::UNAUTHORIZED,
                    "Wrong user name or password.",
                )),
                _ => None,
            };
            if let Some((status, text)) = retry {
                return page::respond(
                    status,
                    &page::login_form(&info.consumer_name, &form.oauth_token, Some(text)),
                );
            }
            let other = RestError::from_rpc(error);
            page::respond(
                actix_web::ResponseError::status_code(&other),
                &page::message("Access not granted", &other.to_string()),
            )
        }
    }
}

/// `callback?oauth_token=…&oauth_verifier=…` (RFC 5849 §2.2).
fn callback_location(reply: &OAuthAuthorizeReply) -> String {
    let query = form_urlencoded::Serializer::new(String::new())
        .append_pair("oauth_token", &reply.request_token)
        .append_pair("oauth_verifier", &reply.verifier)
        .finish();
    let separator = if reply.callback.contains('?') {
        '&'
    } else {
        '?'
    };
    format!("{}{separator}{query}", reply.callback)
}

/// The user's own token, for the token management endpoints.
fn user_token(req: &HttpRequest) -> Result<DeviceToken, RestError> {
    req.headers()
        .get("x-auth-token")
        .and_then(|v| v.to_str().ok())
        .filter(|t| !t.is_empty())
        .map(|t| DeviceToken(t.to_owned()))
        .ok_or_else(|| {
            RestError::Unauthorized(
                "send the user's X-Auth-Token (from /auth/v1.0) to manage OAuth grants".into(),
            )
        })
}

/// `GET /oauth/tokens`: the access tokens the user granted.
pub async fn list_tokens(
    req: HttpRequest,
    state: web::Data<RestState>,
) -> Result<HttpResponse, RestError> {
    let token = user_token(&req)?;
    let tokens: Vec<OAuthTokenInfo> = state
        .rpc
        .call(Some(&token), Operation::ListOauthTokens)
        .await
        .map_err(RestError::from_rpc)?;
    let body: Vec<_> = tokens
        .into_iter()
        .map(|t| {
            serde_json::json!({
                "token": t.token,
                "consumer_name": t.consumer_name,
                "device_id": t.device_id,
                "created_at": crate::rest::json::millis_to_rfc3339(t.created_at),
            })
        })
        .collect();
    Ok(HttpResponse::Ok()
        .content_type(ContentType::json())
        .json(body))
}

/// `DELETE /oauth/tokens/{token}`: revokes one grant (and its device).
pub async fn revoke_token(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<RestState>,
) -> Result<HttpResponse, RestError> {
    let token = user_token(&req)?;
    let access_token = path.into_inner();
    let listed: Vec<OAuthTokenInfo> = state
        .rpc
        .call(Some(&token), Operation::ListOauthTokens)
        .await
        .map_err(RestError::from_rpc)?;
    if !listed.iter().any(|t| t.token == access_token) {
        return Err(RestError::NotFound("no such access token".into()));
    }
    let () = state
        .rpc
        .call(Some(&token), Operation::RevokeOauthToken { access_token })
        .await
        .map_err(RestError::from_rpc)?;
    Ok(HttpResponse::NoContent().finish())
}

crate::routes::route_table! {
    POST "/oauth/request_token" => request_token,
    GET "/oauth/request_token" => request_token,
    POST "/oauth/access_token" => access_token,
    GET "/oauth/access_token" => access_token,
    GET "/oauth/authorize" => authorize_page,
    POST "/oauth/authorize" => authorize_submit,
    GET "/oauth/tokens" => list_tokens,
    DELETE "/oauth/tokens/{token}" => revoke_token,
}

/// Mounts the OAuth endpoints.
pub fn configure(config: &mut web::ServiceConfig) {
    for resource in crate::routes::json_resources(ROUTES.iter().zip(handlers()), |path| path) {
        config.service(resource);
    }
}
