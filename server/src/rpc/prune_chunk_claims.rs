//! `pruneChunkClaims`: the proxy's collection raises the floor below which
//! no collection claim is made any more, and the records of chunks whose
//! claims were lifted up to a number below it go (docs/operations.md,
//! "Pruning the claims' records"). A service call, like `collectChunks`.

use super::collect_chunks::validate_claim;
use super::{Reply, ServerState};
use crate::error::OperationError;

pub async fn run(state: &ServerState, floor: i64) -> Result<Reply, OperationError> {
    validate_claim(floor)?;
    let removed = state.store.prune_chunk_claims(floor).await?;
    if removed > 0 {
        tracing::info!(floor, removed, "records of lifted collection claims pruned");
    }
    Reply::json(removed)
}
