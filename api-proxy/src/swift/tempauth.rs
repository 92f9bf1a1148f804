//! Swift TempAuth v1.0: `GET /auth/v1.0` with `X-Auth-User: account:user` and
//! `X-Auth-Key` answers the token, its lifetime and the storage URL, plus where
//! the metadata RPC is, so that a desktop client needs only the proxy's URL.

use actix_web::http::header::ContentType;
use actix_web::{HttpRequest, HttpResponse, web};

use crate::auth::LoginOutcome;
use crate::error::SwiftError;
use crate::state::AppState;

/// The realm of TempAuth failures, as Swift names it.
const UNKNOWN_REALM: &str = "unknown";

fn header<'a>(req: &'a HttpRequest, names: &[&str]) -> Option<&'a str> {
    names
        .iter()
        .find_map(|name| req.headers().get(*name))
        .and_then(|value| value.to_str().ok())
}

pub async fn get_token(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, SwiftError> {
    let rejected = || SwiftError::Unauthorized {
        realm: UNKNOWN_REALM.into(),
    };
    let user = header(&req, &["x-auth-user", "x-storage-user"]).ok_or_else(rejected)?;
    let key = header(&req, &["x-auth-key", "x-storage-pass"]).ok_or_else(rejected)?;
    let (account_name, user_name) = user.split_once(':').ok_or_else(rejected)?;
    if let Some(path_account) = req.match_info().get("account")
        && path_account != account_name
    {
        return Err(rejected());
    }
    let outcome = state
        .auth
        .login(account_name, user_name, key, state.settings.token_ttl_secs)
        .await?;
    let LoginOutcome::LoggedIn {
        token,
        expires_in,
        identity,
    } = outcome
    else {
        tracing::info!(account = account_name, user = user_name, "TempAuth refused");
        return Err(rejected());
    };
    let base_url = match &state.settings.public_url {
        Some(url) => url.trim_end_matches('/').to_owned(),
        None => {
            let info = req.connection_info();
            format!("{}://{}", info.scheme(), info.host())
        }
    };
    let storage_url = format!("{base_url}/v1/{}", identity.account);
    let body = serde_json::json!({
        "storage": {"default": "local", "local": storage_url},
    });
    Ok(HttpResponse::Ok()
        .insert_header(("X-Auth-Token", token.0.as_str()))
        .insert_header(("X-Storage-Token", token.0.as_str()))
        .insert_header(("X-Auth-Token-Expires", expires_in.to_string()))
        .insert_header(("X-Storage-Url", storage_url.as_str()))
        .insert_header(("X-Nimbus-Rpc-Url", state.settings.client_amqp_url()))
        .insert_header(("X-Nimbus-Rpc-Prefix", state.settings.queue_prefix.as_str()))
        .content_type(ContentType::json())
        .body(body.to_string()))
}
