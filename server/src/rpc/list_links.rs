//! `listLinks`: the public links the caller's user created, with whether
//! each still works; never their tokens.

use super::{Reply, ServerState};
use crate::error::OperationError;
use crate::storage::Caller;

pub async fn run(state: &ServerState, caller: &Caller) -> Result<Reply, OperationError> {
    Reply::json(state.store.links_of(caller.user_id).await?)
}
