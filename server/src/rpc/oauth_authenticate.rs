//! `oauthAuthenticate`: verifies a REST request signed with an access token
//! and answers who signed it, with the bound device's token for the RPC calls
//! the proxy makes on the user's behalf.

use nimbus_protocol::oauth1::OAuthRequest;
use nimbus_protocol::rpc::OAuthIdentity;

use super::oauth::{refused, verify};
use super::{Reply, ServerState};
use crate::auth::oauth_device_token;
use crate::error::OperationError;

pub async fn run(state: &ServerState, request: OAuthRequest) -> Result<Reply, OperationError> {
    let token_id = request
        .token
        .as_deref()
        .ok_or_else(|| refused("oauth_token is missing"))?;
    let access = state
        .store
        .access_token(token_id)
        .await?
        .ok_or_else(|| refused("unknown or revoked access token"))?;
    if access.consumer_key != request.consumer_key {
        return Err(refused("the access token belongs to another application"));
    }
    verify(state, &request, Some(&access.secret)).await?;
    Reply::json(OAuthIdentity {
        user_id: access.user_id,
        consumer_key: access.consumer_key,
        device_token: oauth_device_token(&access.secret),
    })
}
