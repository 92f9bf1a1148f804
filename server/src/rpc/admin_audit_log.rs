//! `adminAuditLog`: the audit log for an administrator, newest first.

use nimbus_protocol::admin::{AuditEntry, AuditQuery, MAX_AUDIT_ENTRIES};

use super::{Reply, ServerState};
use crate::error::OperationError;
use crate::storage::AuditFilter;

pub async fn run(state: &ServerState, query: AuditQuery) -> Result<Reply, OperationError> {
    let records = state
        .store
        .audit_log(&AuditFilter {
            user: query.user.filter(|u| !u.is_empty()),
            since: query.since,
            limit: query.limit.min(MAX_AUDIT_ENTRIES),
        })
        .await?;
    let entries: Vec<AuditEntry> = records
        .into_iter()
        .map(|r| AuditEntry {
            at: r.at,
            actor: r.actor.name,
            action: r.action,
            target: r.target,
            workspace_id: r.workspace_id,
            detail: r.detail,
        })
        .collect();
    Reply::json(entries)
}
