//! `createWorkspace`: a new workspace owned by the caller.
//!
//! The owner is the token's user, never a field of the request. Modes `none`
//! and `client` (end to end) can be created; `server` needs a server-side key
//! that no Nimbus component holds yet, so it is refused rather than silently
//! stored unencrypted. A `client` workspace records the key check its creator
//! derived from the passphrase, so other devices can tell a wrong passphrase
//! before they write anything.

use nimbus_protocol::names::validate_name;
use nimbus_protocol::rpc::{
    CreateWorkspaceArgs, EncryptionMode, KEY_CHECK_HEX_LEN, is_valid_key_check,
};

use super::{Reply, ServerState};
use crate::error::OperationError;
use crate::storage::Caller;

pub async fn run(
    state: &ServerState,
    caller: &Caller,
    args: CreateWorkspaceArgs,
) -> Result<Reply, OperationError> {
    validate(&args)?;
    Reply::json(state.store.create_workspace(caller.user_id, &args).await?)
}

fn validate(args: &CreateWorkspaceArgs) -> Result<(), OperationError> {
    let bad = |message: String| Err(OperationError::BadRequest(message));
    if args.workspace_id.is_nil() {
        return bad("the new workspace needs a random id, not the nil UUID".into());
    }
    if let Err(error) = validate_name(&args.name) {
        return bad(format!("{:?} cannot name a workspace: {error}", args.name));
    }
    match (args.encryption, args.key_check.as_deref()) {
        (EncryptionMode::None, None) => Ok(()),
        (EncryptionMode::None, Some(_)) => {
            bad("a key check belongs only to end-to-end encrypted workspaces (mode client)".into())
        }
        (EncryptionMode::Server, _) => bad(
            "encryption mode server is not available: this deployment has no server-side key. \
             Create the workspace with mode client (end to end, with a passphrase) or none"
                .into(),
        ),
        (EncryptionMode::Client, None) => bad(
            "an end-to-end encrypted workspace (mode client) needs the key check derived from \
             its passphrase"
                .into(),
        ),
        (EncryptionMode::Client, Some(check)) if !is_valid_key_check(check) => bad(format!(
            "the key check must be {KEY_CHECK_HEX_LEN} lowercase hexadecimal digits"
        )),
        (EncryptionMode::Client, Some(_)) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use uuid::Uuid;

    use super::*;

    fn args(encryption: EncryptionMode, key_check: Option<&str>) -> CreateWorkspaceArgs {
        CreateWorkspaceArgs {
            workspace_id: Uuid::from_u128(7),
            name: "Secrets".into(),
            encryption,
            key_check: key_check.map(str::to_owned),
        }
    }

    #[test]
    fn modes_and_key_checks_must_agree() {
        let check = "ab".repeat(16);
        assert!(validate(&args(EncryptionMode::None, None)).is_ok());
        assert!(validate(&args(EncryptionMode::Client, Some(&check))).is_ok());
        let refused = [
            args(EncryptionMode::None, Some(&check)),
            args(EncryptionMode::Server, None),
            args(EncryptionMode::Client, None),
            args(EncryptionMode::Client, Some("abc")),
            args(EncryptionMode::Client, Some(&"AB".repeat(16))),
        ];
        for request in refused {
            assert!(
                matches!(validate(&request), Err(OperationError::BadRequest(_))),
                "{request:?}"
            );
        }
        let server = validate(&args(EncryptionMode::Server, None)).unwrap_err();
        assert!(
            server.to_string().contains("no server-side key"),
            "{server}"
        );
    }

    #[test]
    fn names_and_ids_are_checked() {
        let mut request = args(EncryptionMode::None, None);
        request.name = "a/b".into();
        assert!(
            validate(&request)
                .unwrap_err()
                .to_string()
                .contains("\"/\"")
        );
        request.name = "Photos".into();
        request.workspace_id = Uuid::nil();
        assert!(validate(&request).is_err());
    }
}
