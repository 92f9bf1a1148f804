//! `adminUpdateUser`: an administrator disables or enables a user, sets the
//! quota, or sets a new password.
//!
//! Disabling and a new password end the user's access at once everywhere:
//! a `deviceRevoked` event per device makes every proxy drop its cached
//! identity of the device's token, so the next request asks the servers,
//! which refuse a disabled user and a revoked device. A new password revokes
//! the devices for good (their queues go too); disabling keeps them, so
//! enabling the user again lets them in.

use nimbus_protocol::admin::AdminUpdateUserArgs;
use nimbus_protocol::notify::UserEvent;

use super::{Amqp, Reply, ServerState, admin_refusal, bindings};
use crate::admin;
use crate::error::OperationError;
use crate::storage::Actor;

pub async fn run(
    state: &ServerState,
    amqp: &Amqp<'_>,
    actor: &Actor,
    args: AdminUpdateUserArgs,
) -> Result<Reply, OperationError> {
    let store = state.store.as_ref();
    let user = store.user_by_name(&args.username).await?.ok_or_else(|| {
        OperationError::BadRequest(format!("there is no user named {:?}", args.username))
    })?;
    let mut events = Vec::new();
    match (args.disabled, args.quota_bytes, args.password) {
        (Some(disabled), None, None) => {
            if disabled && actor.id == Some(user.id) {
                return Err(OperationError::BadRequest(
                    "administrators cannot disable themselves; ask another administrator".into(),
                ));
            }
            admin::set_disabled(store, actor, &user.username, disabled)
                .await
                .map_err(admin_refusal)?;
            if disabled {
                for device in store.list_devices(user.id).await? {
                    if !device.revoked {
                        let device_id = device.device_id;
                        events.push((user.id, UserEvent::DeviceRevoked { device_id }));
                    }
                }
            }
        }
        (None, Some(quota_bytes), None) => {
            admin::set_quota(store, actor, &user.username, quota_bytes)
                .await
                .map_err(admin_refusal)?;
        }
        (None, None, Some(password)) => {
            let revoked = admin::reset_password(store, actor, &user.username, password.0)
                .await
                .map_err(admin_refusal)?;
            for device_id in revoked {
                events.push(bindings::end_device(state, amqp, user.id, device_id).await?);
            }
        }
        _ => {
            return Err(OperationError::BadRequest(
                "change one thing at a time: disabled, quota_bytes or password".into(),
            ));
        }
    }
    Ok(Reply::json(())?.with_events(events))
}
