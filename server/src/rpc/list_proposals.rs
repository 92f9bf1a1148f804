//! `listProposals`: the offers made to the caller's user and by it, newest
//! first, with the names a person needs to decide. A pending proposal past
//! its expiry is listed as expired.

use super::{Reply, ServerState};
use crate::error::OperationError;
use crate::storage::Caller;

pub async fn run(state: &ServerState, caller: &Caller) -> Result<Reply, OperationError> {
    Reply::json(state.store.proposals_of(caller.user_id).await?)
}
