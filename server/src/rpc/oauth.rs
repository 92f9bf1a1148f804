//! What the OAuth operations share: checking a signed request.
//!
//! The proxy parses each signed HTTP request (with the deployment's public
//! URL as base URI) and sends it here; the secrets never leave the metadata
//! servers. A request passes when its consumer exists, its timestamp is
//! within the window, its nonce is new, PLAINTEXT is used only over https
//! (unless the deployment allows it for local trials), and its signature
//! matches.

use nimbus_protocol::oauth1::{OAuthRequest, SignatureMethod};

use super::{ServerState, now_millis};
use crate::error::OperationError;
use crate::storage::{OAuthConsumer, RequestToken};

/// How far a request's timestamp may be from the server's clock.
pub const OAUTH_TIMESTAMP_WINDOW_SECS: u64 = 300;

pub(super) fn refused(why: &str) -> OperationError {
    OperationError::OAuth(why.to_owned())
}

/// The unexpired request token named `token`. A name with a NUL byte (which
/// PostgreSQL text cannot hold, so the lookup would fail as an internal
/// error) is unknown like any other name the server never handed out.
pub(super) async fn request_token(
    state: &ServerState,
    token: &str,
) -> Result<RequestToken, OperationError> {
    let unknown = || refused("unknown or expired request token");
    if token.contains('\0') {
        return Err(unknown());
    }
    state.store.request_token(token).await?.ok_or_else(unknown)
}

/// Verifies `request` with its consumer's secret and `token_secret`;
/// returns the consumer.
pub(super) async fn verify(
    state: &ServerState,
    request: &OAuthRequest,
    token_secret: Option<&str>,
) -> Result<OAuthConsumer, OperationError> {
    let consumer = state
        .store
        .oauth_consumer(&request.consumer_key)
        .await?
        .ok_or_else(|| refused("unknown oauth_consumer_key"))?;
    if request.signature_method == SignatureMethod::Plaintext
        && !request.over_https()
        && !state.oauth_plaintext_over_http
    {
        return Err(refused("PLAINTEXT signatures are accepted over https only"));
    }
    let now_secs = u64::try_from(now_millis() / 1000).unwrap_or(0);
    request
        .check_freshness(now_secs, OAUTH_TIMESTAMP_WINDOW_SECS)
        .map_err(|e| refused(&e.to_string()))?;
    request
        .verify(&consumer.secret, token_secret)
        .map_err(|e| refused(&e.to_string()))?;
    // Only a correctly signed request may use up a nonce.
    let nonce = request
        .nonce
        .as_deref()
        .ok_or_else(|| refused("oauth_nonce is missing"))?;
    if nonce.is_empty() || nonce.len() > 128 {
        return Err(refused("oauth_nonce must have 1 to 128 characters"));
    }
    let token = request.token.as_deref().unwrap_or("");
    if !state
        .store
        .remember_nonce(&consumer.key, token, nonce)
        .await?
    {
        return Err(refused("this nonce was used before (replayed request)"));
    }
    Ok(consumer)
}
