//! `transferredContainers`: the containers of an account that hold a
//! workspace whose ownership moved to another account. A service call: the
//! proxy asks it where no caller's identity tells it, for TempURL requests
//! (which carry no token) and for the account's listing, so that neither the
//! account's keys nor its administrators reach such a container.

use super::{Reply, ServerState};
use crate::error::OperationError;
use crate::storage::postgres::STORAGE_ACCOUNT_PREFIX;

pub async fn run(state: &ServerState, storage_account: &str) -> Result<Reply, OperationError> {
    // Not a Nimbus user's account: it holds no workspace.
    let Some(account) = storage_account.strip_prefix(STORAGE_ACCOUNT_PREFIX) else {
        return Reply::json(Vec::<String>::new());
    };
    Reply::json(state.store.transferred_containers(account).await?)
}
