//! `adminRemoveOauthApp`: an administrator removes an OAuth application;
//! every token issued to it ends with it.

use super::{Reply, ServerState};
use crate::error::OperationError;
use crate::storage::{Actor, Audit, AuditAction};

pub async fn run(
    state: &ServerState,
    actor: &Actor,
    consumer_key: &str,
) -> Result<Reply, OperationError> {
    let audit = Audit::new(actor.clone(), AuditAction::OAuthAppRemove).detail(consumer_key);
    if !state
        .store
        .remove_oauth_consumer(consumer_key, &audit)
        .await?
    {
        return Err(OperationError::BadRequest(format!(
            "there is no application with consumer key {consumer_key:?}"
        )));
    }
    tracing::info!(%consumer_key, "OAuth application removed");
    Reply::json(())
}
