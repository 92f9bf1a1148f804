//! `getAccount`: who the caller is, its quota, where its objects are stored,
//! and how long deleted items and old versions are kept.

use nimbus_protocol::rpc::Account;

use super::{Reply, ServerState};
use crate::error::OperationError;
use crate::storage::Caller;
use crate::storage::postgres::storage_account;

pub async fn run(state: &ServerState, caller: &Caller) -> Result<Reply, OperationError> {
    let account = storage_account(&caller.account);
    Reply::json(Account {
        user_id: caller.user_id,
        username: caller.username.clone(),
        email: caller.email.clone(),
        is_admin: caller.is_admin,
        device_id: caller.device_id,
        quota_limit: caller.quota_limit,
        quota_used: caller.quota_used,
        storage_url: format!("{}/v1/{account}", state.storage_url.trim_end_matches('/')),
        storage_account: account,
        account_admin: caller.account_admin,
        membership_only_containers: state.store.transferred_containers(&caller.account).await?,
        token_expires_at: caller.token_expires_at,
        retention: state.retention,
    })
}
