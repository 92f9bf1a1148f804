//! `listOauthTokens`: the applications the caller's user gave access to.

use super::{Reply, ServerState};
use crate::error::OperationError;
use crate::storage::Caller;

pub async fn run(state: &ServerState, caller: &Caller) -> Result<Reply, OperationError> {
    Reply::json(state.store.list_access_tokens(caller.user_id).await?)
}
