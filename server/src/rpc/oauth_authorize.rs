//! `oauthAuthorize`: OAuth step 2. The user logs in on the authorize page
//! and allows the application; the reply carries the verifier and where to
//! send the user.

use nimbus_protocol::rpc::{OAuthAuthorizeReply, Password};

use super::login::sign_in;
use super::oauth::refused;
use super::{Reply, ServerState};
use crate::auth::random_secret;
use crate::error::OperationError;

pub async fn run(
    state: &ServerState,
    request_token: &str,
    username: &str,
    password: Password,
) -> Result<Reply, OperationError> {
    let token = super::oauth::request_token(state, request_token).await?;
    let user = sign_in(
        state,
        username,
        password,
        &format!("OAuth authorization of {:?}", token.consumer_key),
    )
    .await?;
    let verifier = random_secret("")[..32].to_owned();
    if !state
        .store
        .authorize_request_token(request_token, user.id, &verifier)
        .await?
    {
        return Err(refused("this request token was already authorized"));
    }
    tracing::info!(username = %user.username, consumer = %token.consumer_key, "OAuth access allowed");
    Reply::json(OAuthAuthorizeReply {
        request_token: token.token,
        verifier,
        callback: token.callback,
    })
}
