//! `oauthRequestToken`: OAuth step 1. A consumer-signed request gets a
//! temporary token for the user to authorize.

use nimbus_protocol::oauth1::OAuthRequest;
use nimbus_protocol::rpc::OAuthTokenReply;

use super::oauth::{refused, verify};
use super::{Reply, ServerState};
use crate::auth::random_secret;
use crate::error::OperationError;
use crate::storage::RequestToken;

/// A request token must be authorized and exchanged within ten minutes.
const REQUEST_TOKEN_TTL_SECS: u64 = 600;

pub async fn run(state: &ServerState, request: OAuthRequest) -> Result<Reply, OperationError> {
    if request.token.is_some() {
        return Err(refused("a request token is asked for without oauth_token"));
    }
    let consumer = verify(state, &request, None).await?;
    let callback = request
        .callback
        .clone()
        .ok_or_else(|| refused("oauth_callback is required (a URL, or \"oob\")"))?;
    let allowed = callback == "oob"
        || consumer
            .callback_url
            .as_deref()
            .is_some_and(|registered| callback.starts_with(registered));
    if !allowed {
        return Err(refused(
            "oauth_callback must be \"oob\" or start with the URL registered for this application",
        ));
    }
    let token = RequestToken {
        token: random_secret("ort_"),
        secret: random_secret(""),
        consumer_key: consumer.key,
        callback,
        verifier: None,
        user_id: None,
    };
    state
        .store
        .create_request_token(&token, REQUEST_TOKEN_TTL_SECS)
        .await?;
    Reply::json(OAuthTokenReply {
        token: token.token,
        secret: token.secret,
    })
}
