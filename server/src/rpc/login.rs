//! `login`: user name + password + device description → a new device token.
//!
//! Failed attempts are counted per user in the database, so the slow-down
//! holds across all metadata servers: after a few failures each further
//! attempt has to wait, doubling up to a cap. A user that does not exist
//! costs the same password verification as one that does.

use std::time::Duration;

use nimbus_protocol::rpc::{DeviceArgs, LoginArgs, LoginReply, Password};

use super::register_device::{issue_device, validate_device};
use super::{Reply, ServerState, now_millis};
use crate::auth::{decoy_password_hash, login_delay, verify_password};
use crate::error::OperationError;
use crate::storage::{Actor, Audit, AuditAction, User};

const MAX_USERNAME_LEN: usize = 64;
pub(super) const MAX_PASSWORD_LEN: usize = 1024;
/// Longest lifetime of an expiring (Swift TempAuth) token: 30 days.
const MAX_TOKEN_TTL_SECS: u64 = 30 * 24 * 3600;

pub async fn run(state: &ServerState, args: LoginArgs) -> Result<Reply, OperationError> {
    validate_device(&args.device)?;
    let ttl = match args.token_ttl_secs {
        Some(0) => {
            return Err(OperationError::BadRequest(
                "token_ttl_secs must be positive".into(),
            ));
        }
        Some(secs) => Some(secs.min(MAX_TOKEN_TTL_SECS)),
        None => None,
    };
    let user = sign_in(
        state,
        &args.username,
        args.password,
        &describe_device(&args.device),
    )
    .await?;
    let expires_at = ttl.map(|secs| now_millis() + i64::try_from(secs * 1000).unwrap_or(i64::MAX));
    let (device_id, token) = issue_device(state, user.id, &args.device, expires_at).await?;
    tracing::info!(username = %user.username, %device_id, "login");
    Reply::json(LoginReply {
        user_id: user.id,
        device_id,
        token,
        expires_at,
    })
}

/// The device or browser a sign-in came from, for the audit log.
fn describe_device(device: &DeviceArgs) -> String {
    let mut description = format!("device {:?}", device.device_name);
    for part in [&device.os, &device.app_version].into_iter().flatten() {
        description.push_str(&format!(", {part}"));
    }
    description
}

/// [`check_password`] for a sign-in (`login`, the OAuth authorize page),
/// recorded in the audit log whatever its outcome; `how` says from what.
pub(super) async fn sign_in(
    state: &ServerState,
    username: &str,
    password: Password,
    how: &str,
) -> Result<User, OperationError> {
    let outcome = check_password(state, username, password).await;
    let audit = match &outcome {
        Ok(user) => {
            Audit::new(Actor::user(user.id, &user.username), AuditAction::SignIn).detail(how)
        }
        Err(error) => {
            let known = state.store.user_by_name(username).await?;
            let actor = match &known {
                Some(user) => Actor::user(user.id, &user.username),
                None => Actor {
                    id: None,
                    name: Some(username.chars().take(MAX_USERNAME_LEN).collect()),
                },
            };
            Audit::new(actor, AuditAction::SignInFailed).detail(format!("{how}: {error}"))
        }
    };
    state.store.record_audit(&audit).await?;
    outcome
}

/// The user whose password this is, with the per-user slow-down applied;
/// shared by sign-ins and `changePassword`.
pub(super) async fn check_password(
    state: &ServerState,
    username: &str,
    password: Password,
) -> Result<User, OperationError> {
    if username.len() > MAX_USERNAME_LEN || password.0.len() > MAX_PASSWORD_LEN {
        return Err(OperationError::InvalidCredentials);
    }
    let user = state.store.user_by_name(username).await?;
    let stored_hash = user.as_ref().map_or_else(
        || decoy_password_hash().to_owned(),
        |u| u.password_hash.clone(),
    );
    if let Some(last_failure) = user.as_ref().and_then(|u| u.last_failed_login_at) {
        let wait = login_delay(user.as_ref().map_or(0, |u| u.failed_logins));
        let elapsed =
            Duration::from_millis(u64::try_from(now_millis() - last_failure).unwrap_or(0));
        if elapsed < wait {
            return Err(OperationError::TooManyAttempts(wait - elapsed));
        }
    }
    let password = password.0;
    let matches = tokio::task::spawn_blocking(move || verify_password(&password, &stored_hash))
        .await
        .unwrap_or(false);
    let Some(user) = user else {
        return Err(OperationError::InvalidCredentials);
    };
    if !matches {
        state.store.record_login_failure(user.id).await?;
        tracing::info!(username = %user.username, "failed login");
        return Err(OperationError::InvalidCredentials);
    }
    if user.disabled {
        return Err(OperationError::AccountDisabled);
    }
    if user.failed_logins > 0 {
        state.store.clear_login_failures(user.id).await?;
    }
    Ok(user)
}
