//! `getWorkspaces`: the workspaces the caller is a member of, default first.

use super::{Reply, ServerState};
use crate::error::OperationError;
use crate::storage::Caller;

pub async fn run(state: &ServerState, caller: &Caller) -> Result<Reply, OperationError> {
    Reply::json(state.store.workspaces_of(caller.user_id).await?)
}
