//! `oauthAccessToken`: OAuth step 3. The consumer, signing with the
//! authorized request token and presenting the verifier, gets an access
//! token. The access token is bound to a new device of the user, named after
//! the application, so it shows (and can be revoked) among the devices.

use nimbus_protocol::oauth1::OAuthRequest;
use nimbus_protocol::rpc::{DeviceArgs, OAuthTokenReply};
use subtle::ConstantTimeEq;

use super::oauth::{refused, verify};
use super::{Reply, ServerState};
use crate::auth::{oauth_device_token, random_secret, token_hash};
use crate::error::OperationError;
use crate::storage::{AccessToken, NewDevice};

pub async fn run(state: &ServerState, request: OAuthRequest) -> Result<Reply, OperationError> {
    let token_id = request
        .token
        .clone()
        .ok_or_else(|| refused("oauth_token (the request token) is missing"))?;
    let request_token = super::oauth::request_token(state, &token_id).await?;
    if request_token.consumer_key != request.consumer_key {
        return Err(refused("the request token belongs to another application"));
    }
    let consumer = verify(state, &request, Some(&request_token.secret)).await?;
    let (Some(user_id), Some(expected)) = (request_token.user_id, &request_token.verifier) else {
        return Err(refused(
            "the user has not authorized this request token yet",
        ));
    };
    let presented = request.verifier.as_deref().unwrap_or("");
    if !bool::from(presented.as_bytes().ct_eq(expected.as_bytes())) {
        return Err(refused("wrong oauth_verifier"));
    }
    let access = AccessToken {
        token: random_secret("oat_"),
        secret: random_secret(""),
        consumer_key: consumer.key,
        user_id,
        device_id: uuid::Uuid::new_v4(),
    };
    let device = DeviceArgs {
        device_name: consumer.name.chars().take(100).collect(),
        os: Some("OAuth application".into()),
        app_version: None,
    };
    let exchanged = state
        .store
        .exchange_request_token(
            &token_id,
            &access,
            NewDevice {
                device_id: Some(access.device_id),
                user_id,
                device: &device,
                token_hash: token_hash(&oauth_device_token(&access.secret)),
                expires_at: None,
            },
        )
        .await?;
    if !exchanged {
        return Err(refused("this request token was already exchanged"));
    }
    Reply::json(OAuthTokenReply {
        token: access.token,
        secret: access.secret,
    })
}
