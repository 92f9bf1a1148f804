//! `adminListUsers`: every user not deleted, with logical and stored usage.

use nimbus_protocol::admin::AdminUser;

use super::{Reply, ServerState};
use crate::error::OperationError;
use crate::storage::UserUsage;

pub async fn run(state: &ServerState) -> Result<Reply, OperationError> {
    let users: Vec<AdminUser> = state
        .store
        .list_users()
        .await?
        .into_iter()
        .map(admin_user)
        .collect();
    Reply::json(users)
}

pub(super) fn admin_user(usage: UserUsage) -> AdminUser {
    let user = usage.user;
    AdminUser {
        user_id: user.id,
        username: user.username,
        email: user.email,
        is_admin: user.is_admin,
        disabled: user.disabled,
        logical_bytes: usage.logical_bytes,
        stored_bytes: usage.stored_bytes,
        quota_bytes: user.quota_limit,
        created_at: user.created_at,
    }
}
