//! `oauthRequestInfo`: which application a request token is for, so the
//! authorize page can ask the user about it by name.

use nimbus_protocol::rpc::OAuthRequestInfo;

use super::oauth::refused;
use super::{Reply, ServerState};
use crate::error::OperationError;

pub async fn run(state: &ServerState, request_token: &str) -> Result<Reply, OperationError> {
    let token = super::oauth::request_token(state, request_token).await?;
    let consumer = state
        .store
        .oauth_consumer(&token.consumer_key)
        .await?
        .ok_or_else(|| refused("the application was removed"))?;
    Reply::json(OAuthRequestInfo {
        consumer_name: consumer.name,
    })
}
