//! `revokeOauthToken`: the user withdraws an application's access.

use super::{Reply, ServerState};
use crate::error::OperationError;
use crate::storage::Caller;

pub async fn run(
    state: &ServerState,
    caller: &Caller,
    token: &str,
) -> Result<Reply, OperationError> {
    if !state
        .store
        .revoke_access_token(caller.user_id, token)
        .await?
    {
        return Err(OperationError::Forbidden(
            "no such access token among yours",
        ));
    }
    Reply::json(())
}
