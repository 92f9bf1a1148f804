//! `getChanges`: the delta of a workspace after a revision cursor, paginated.
//!
//! Unlike StackSync, which sent the whole tree on every call, a device asks
//! only for what changed after the revision it has, in pages of at most
//! [`MAX_CHANGES_PAGE`] items.

use nimbus_protocol::rpc::{DEFAULT_CHANGES_PAGE, GetChangesArgs, MAX_CHANGES_PAGE};

use super::{Reply, ServerState, require_role};
use crate::error::OperationError;
use crate::storage::Caller;

pub async fn run(
    state: &ServerState,
    caller: &Caller,
    args: GetChangesArgs,
) -> Result<Reply, OperationError> {
    require_role(state, caller, args.workspace_id, false).await?;
    let limit = args
        .limit
        .unwrap_or(DEFAULT_CHANGES_PAGE)
        .clamp(1, MAX_CHANGES_PAGE);
    if args.page.is_some_and(|page| page.revision < args.since) {
        return Err(OperationError::BadRequest(
            "the page cursor lies before `since`; pass the `next_page` of the previous reply"
                .into(),
        ));
    }
    Reply::json(
        state
            .store
            .changes(args.workspace_id, args.since, args.page, limit)
            .await?,
    )
}
