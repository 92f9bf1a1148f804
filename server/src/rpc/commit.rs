//! `commit`: a batch of new item states, first commit wins per item.
//!
//! The rules are in [`crate::commit_plan`]; the store applies them in one
//! transaction. A commit is idempotent on its request id: a re-sent commit
//! (a redelivery after a server crash, or a device retrying) returns the first
//! answer and writes nothing. Every reply that carries a committed item also
//! carries a notification, even a replayed one: the original may have been
//! lost with the server that crashed before publishing it.

use nimbus_protocol::notify::Notification;
use nimbus_protocol::rpc::{CommitArgs, MAX_COMMIT_ITEMS};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::{Reply, ServerState, require_role};
use crate::error::OperationError;
use crate::storage::{Caller, CommitContext, StoreError};

pub async fn run(
    state: &ServerState,
    caller: &Caller,
    request_id: Uuid,
    args: CommitArgs,
) -> Result<Reply, OperationError> {
    require_role(state, caller, args.workspace_id, true).await?;
    if args.items.is_empty() {
        return Err(OperationError::BadRequest(
            "a commit needs at least one item".into(),
        ));
    }
    if args.items.len() > MAX_COMMIT_ITEMS {
        return Err(OperationError::BadRequest(format!(
            "a commit holds at most {MAX_COMMIT_ITEMS} items; split the batch"
        )));
    }
    // PostgreSQL text cannot hold a NUL, and the store reads by name before
    // the plan checks names: such a commit is refused whole, first.
    if args.items.iter().any(|item| item.name.contains('\0')) {
        return Err(OperationError::BadRequest(
            "a name cannot contain a NUL character".into(),
        ));
    }
    let encoded = serde_json::to_vec(&args)
        .map_err(|e| OperationError::BadRequest(format!("cannot encode the commit: {e}")))?;
    let context = CommitContext {
        request_id,
        device_id: caller.device_id,
        fingerprint: Sha256::digest(&encoded).into(),
    };
    let outcome = state
        .store
        .commit(&context, &args)
        .await
        .map_err(|error| match error {
            // Members of a shared workspace write on its owner's quota.
            StoreError::QuotaExceeded {
                needed,
                available,
                owner_id,
            } if owner_id != caller.user_id => {
                OperationError::OwnerQuotaExceeded { needed, available }
            }
            other => other.into(),
        })?;
    if outcome.replayed {
        tracing::info!(%request_id, "commit re-sent; answering with the first result");
    }
    let notification = outcome.written_revision.map(|revision| Notification {
        workspace_id: args.workspace_id,
        revision,
        origin_device: caller.device_id,
        request_id,
    });
    state.metrics.observe_commit(
        &outcome.reply,
        outcome.written_revision.is_some(),
        outcome.replayed,
    );
    let mut reply = Reply::json(outcome.reply)?;
    reply.notification = notification;
    Ok(reply)
}
