//! The proxy's re-keying job's service calls: `listVersionsToRekey` and
//! `rekeyVersion` (docs/sharing.md, "Chunks until re-keyed"). Only the
//! services' broker user makes them ([`super::require_service`]).

use nimbus_protocol::names::is_valid_chunk_id;
use nimbus_protocol::notify::Notification;
use nimbus_protocol::rpc::{MAX_REKEY_PAGE, RekeyCursor, RekeyOutcome, RekeyVersionArgs};
use uuid::Uuid;

use super::{Reply, ServerState};
use crate::error::OperationError;

pub async fn list(
    state: &ServerState,
    after: Option<RekeyCursor>,
    limit: u32,
) -> Result<Reply, OperationError> {
    if limit == 0 || limit > MAX_REKEY_PAGE {
        return Err(OperationError::BadRequest(format!(
            "a page of versions to re-key holds 1 to {MAX_REKEY_PAGE} versions"
        )));
    }
    Reply::json(state.store.versions_to_rekey(after, limit).await?)
}

pub async fn rekey(
    state: &ServerState,
    request_id: Uuid,
    args: RekeyVersionArgs,
) -> Result<Reply, OperationError> {
    if let Some(bad) = args
        .content
        .chunks
        .iter()
        .find(|c| !is_valid_chunk_id(&c.id))
    {
        return Err(OperationError::BadRequest(format!(
            "{:?} is not a chunk id (64 lowercase hexadecimal digits)",
            bad.id
        )));
    }
    let outcome = state.store.rekey_version(&args).await?;
    let mut reply = Reply::json(outcome)?;
    if let RekeyOutcome::Rekeyed { revision } = outcome {
        let (workspace_id, _) = state
            .store
            .item(args.item_id)
            .await?
            .ok_or_else(|| OperationError::BadRequest("the re-keyed item is gone".into()))?;
        // Devices re-read the item: same version, new chunk list and hash.
        reply.notification = Some(Notification {
            workspace_id,
            revision,
            origin_device: Uuid::nil(),
            request_id,
        });
    }
    Ok(reply)
}
