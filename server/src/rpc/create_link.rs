//! `createLink`: publishes a file or folder of a workspace the caller can
//! read at `/s/{token}`.
//!
//! The token is 256 random bits, returned in this reply only; the server
//! keeps its SHA-256. A password is stored as Argon2id. Links into end-to-end
//! encrypted workspaces are refused: the server cannot read them, and a
//! link that carried the key would put the key in a URL.

use nimbus_protocol::rpc::{
    CreateLinkArgs, CreatedLink, EncryptionMode, LinkToken, MIN_LINK_PASSWORD_CHARS,
};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::{Reply, ServerState, now_millis};
use crate::auth::{hash_password, random_secret};
use crate::error::OperationError;
use crate::storage::{Audit, AuditAction, Caller, NewLink};

/// Longest password a link takes, in bytes (as for logins).
const MAX_LINK_PASSWORD_LEN: usize = 1024;

pub async fn run(
    state: &ServerState,
    caller: &Caller,
    args: CreateLinkArgs,
) -> Result<Reply, OperationError> {
    let workspace = state
        .store
        .member_workspace(caller.user_id, args.workspace_id)
        .await?
        .ok_or(OperationError::Forbidden(
            "this workspace does not exist or you are not a member of it",
        ))?;
    if workspace.encryption == EncryptionMode::Client {
        return Err(OperationError::BadRequest(
            "this workspace is end-to-end encrypted: the server cannot read it, so it cannot \
             be published at a link"
                .into(),
        ));
    }
    if args.expires_at.is_some_and(|at| at <= now_millis()) {
        return Err(OperationError::BadRequest(
            "expires_at is in the past; give a time in the future".into(),
        ));
    }
    if args.max_downloads == Some(0) {
        return Err(OperationError::BadRequest(
            "max_downloads must be at least 1".into(),
        ));
    }
    let password_hash = match args.password {
        None => None,
        Some(password) => Some(hash_link_password(password.0).await?),
    };
    let token = LinkToken(random_secret(""));
    let link = state
        .store
        .create_link(
            NewLink {
                id: Uuid::new_v4(),
                token_hash: link_token_hash(&token),
                creator_id: caller.user_id,
                workspace_id: args.workspace_id,
                item_id: args.item_id,
                password_hash: password_hash.as_deref(),
                expires_at: args.expires_at,
                max_downloads: args.max_downloads,
            },
            &Audit::by(caller, AuditAction::LinkCreate),
        )
        .await?;
    tracing::info!(link_id = %link.link_id, workspace_id = %link.workspace_id, "link created");
    Reply::json(CreatedLink { link, token })
}

/// What the store keeps of a link's token.
pub(super) fn link_token_hash(token: &LinkToken) -> [u8; 32] {
    Sha256::digest(token.0.as_bytes()).into()
}

/// Refuses a weak password loudly instead of storing it.
async fn hash_link_password(password: String) -> Result<String, OperationError> {
    let chars = password.chars().count();
    if chars < MIN_LINK_PASSWORD_CHARS || password.len() > MAX_LINK_PASSWORD_LEN {
        return Err(OperationError::BadRequest(format!(
            "a link password needs at least {MIN_LINK_PASSWORD_CHARS} characters (and at most \
             {MAX_LINK_PASSWORD_LEN} bytes); this one has {chars}"
        )));
    }
    tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .map_err(|e| OperationError::BadRequest(format!("cannot hash the password: {e}")))?
        .map_err(|e| OperationError::BadRequest(format!("cannot hash the password: {e}")))
}
