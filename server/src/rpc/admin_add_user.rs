//! `adminAddUser`: an administrator adds a user (with a default workspace),
//! under the rules of `nimbus-server user add`.

use nimbus_protocol::admin::AdminAddUserArgs;

use super::admin_list_users::admin_user;
use super::{Reply, ServerState, admin_refusal};
use crate::admin::{self, AddUser};
use crate::error::OperationError;
use crate::storage::{Actor, UserUsage};

pub async fn run(
    state: &ServerState,
    actor: &Actor,
    args: AdminAddUserArgs,
) -> Result<Reply, OperationError> {
    let email = args
        .email
        .map(|e| e.trim().to_owned())
        .filter(|e| !e.is_empty());
    let user = admin::add_user(
        state.store.as_ref(),
        actor,
        AddUser {
            username: args.username,
            password: args.password.0,
            email,
            quota_bytes: args.quota_bytes,
            is_admin: args.is_admin,
            account: None,
            account_admin: true,
        },
    )
    .await
    .map_err(admin_refusal)?;
    tracing::info!(username = %user.username, "user added");
    Reply::json(admin_user(UserUsage {
        user,
        logical_bytes: 0,
        stored_bytes: 0,
    }))
}
