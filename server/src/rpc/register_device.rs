//! `registerDevice`: a logged-in user adds another device and gets its token.

use nimbus_protocol::rpc::{DeviceArgs, DeviceToken, LoginReply, TimestampMillis};
use uuid::Uuid;

use super::{Reply, ServerState};
use crate::auth::new_token;
use crate::error::OperationError;
use crate::storage::{Caller, NewDevice};

const MAX_DEVICE_FIELD_LEN: usize = 100;

pub async fn run(
    state: &ServerState,
    caller: &Caller,
    args: DeviceArgs,
) -> Result<Reply, OperationError> {
    validate_device(&args)?;
    let (device_id, token) = issue_device(state, caller.user_id, &args, None).await?;
    Reply::json(LoginReply {
        user_id: caller.user_id,
        device_id,
        token,
        expires_at: None,
    })
}

/// Device descriptions are shown to people: short, printable text.
pub(super) fn validate_device(args: &DeviceArgs) -> Result<(), OperationError> {
    let name = args.device_name.trim();
    if name.is_empty() {
        return Err(OperationError::BadRequest("a device needs a name".into()));
    }
    let fields = [
        Some(&args.device_name),
        args.os.as_ref(),
        args.app_version.as_ref(),
    ];
    for field in fields.into_iter().flatten() {
        if field.len() > MAX_DEVICE_FIELD_LEN || field.chars().any(char::is_control) {
            return Err(OperationError::BadRequest(format!(
                "device name, OS and app version are at most {MAX_DEVICE_FIELD_LEN} printable characters"
            )));
        }
    }
    Ok(())
}

/// Creates a device with a fresh token; only the token's hash is stored.
pub(super) async fn issue_device(
    state: &ServerState,
    user_id: Uuid,
    device: &DeviceArgs,
    expires_at: Option<TimestampMillis>,
) -> Result<(Uuid, DeviceToken), OperationError> {
    let (token, token_hash) = new_token();
    let device_id = state
        .store
        .create_device(NewDevice {
            device_id: None,
            user_id,
            device,
            token_hash,
            expires_at,
        })
        .await?;
    Ok((device_id, token))
}
