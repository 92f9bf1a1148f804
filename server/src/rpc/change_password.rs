//! `changePassword`: the caller's user sets a new password, giving the
//! current one. The current password is checked as `login` checks it, with
//! the same per-user slow-down, so a stolen session cannot guess it faster.
//!
//! The caller's own device or session stays signed in; every other device
//! and session of the user is revoked, at once everywhere, as an
//! administrator's reset does: whoever learnt the old password may have
//! signed in with it. Desktop clients then sign in again with the new one.

use nimbus_protocol::rpc::ChangePasswordArgs;

use super::login::{MAX_PASSWORD_LEN, check_password};
use super::{Amqp, Reply, ServerState, bindings};
use crate::admin::validate_password;
use crate::auth::hash_password;
use crate::error::OperationError;
use crate::storage::{Audit, AuditAction, Caller};

pub async fn run(
    state: &ServerState,
    amqp: &Amqp<'_>,
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
    let revoked = state
        .store
        .change_password_hash(
            caller.user_id,
            &password_hash,
            caller.device_id,
            &Audit::by(caller, AuditAction::PasswordChange),
        )
        .await?;
    tracing::info!(
        username = %caller.username,
        device_id = %caller.device_id,
        revoked = revoked.len(),
        "password changed, other devices revoked"
    );
    let mut ended = Vec::with_capacity(revoked.len());
    for device_id in revoked {
        ended.push(bindings::end_device(state, amqp, caller.user_id, device_id).await?);
    }
    Ok(Reply::json(())?.with_events(ended))
}
