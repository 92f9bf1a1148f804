//! `changePassword`: the caller's user sets a new password, giving the
//! current one. The current password is checked as `login` checks it, with
//! the same per-user slow-down, so a stolen session cannot guess it faster.
//!
//! Every device and browser session stays signed in, the caller's included:
//! desktop clients hold device tokens, not the password, and signing them
//! all out would stop their sync. Who suspects a stolen device ends it from
//! the device list (`revokeDevice`).

use nimbus_protocol::rpc::ChangePasswordArgs;

use super::login::{MAX_PASSWORD_LEN, check_password};
use super::{Reply, ServerState};
use crate::admin::validate_password;
use crate::auth::hash_password;
use crate::error::OperationError;
use crate::storage::Caller;

pub async fn run(
    state: &ServerState,
    caller: &Caller,
    args: ChangePasswordArgs,
) -> Result<Reply, OperationError> {
    let new_password = args.new_password.0;
    validate_password(&new_password).map_err(|e| OperationError::BadRequest(e.to_string()))?;
    if new_password.len() > MAX_PASSWORD_LEN {
        return Err(OperationError::BadRequest(format!(
            "the password must have at most {MAX_PASSWORD_LEN} bytes"
        )));
    }
    check_password(state, &caller.username, args.old_password).await?;
    // Argon2 fails only on parameters it cannot use, never on a password.
    let password_hash = tokio::task::spawn_blocking(move || hash_password(&new_password))
        .await
        .ok()
        .and_then(Result::ok)
        .ok_or_else(|| OperationError::BadRequest("the password could not be hashed".into()))?;
    if !state
        .store
        .set_password_hash(&caller.username, &password_hash)
        .await?
    {
        return Err(OperationError::Unauthenticated);
    }
    tracing::info!(username = %caller.username, device_id = %caller.device_id, "password changed");
    Reply::json(())
}
