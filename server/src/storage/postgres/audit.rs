//! The audit log and the administrator's view of users on PostgreSQL.
//!
//! [`insert_audit`] takes the connection of the action's own transaction, so
//! that a record exists exactly when the action it records committed.

use sqlx::{FromRow, PgConnection};
use uuid::Uuid;

use super::{PgStore, UserRow, to_i64, to_u64};
use crate::storage::{Actor, Audit, AuditFilter, AuditRecord, StoreResult, UserUsage};

pub(super) async fn insert_audit(conn: &mut PgConnection, audit: &Audit) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO audit_log (actor_id, actor_name, action, target_name, workspace_id, detail) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(audit.actor.id)
    .bind(&audit.actor.name)
    .bind(audit.action.as_str())
    .bind(&audit.target)
    .bind(audit.workspace_id)
    .bind(&audit.detail)
    .execute(conn)
    .await?;
    Ok(())
}

#[derive(FromRow)]
struct AuditRow {
    id: i64,
    at: i64,
    actor_id: Option<Uuid>,
    actor_name: Option<String>,
    action: String,
    target_name: Option<String>,
    workspace_id: Option<Uuid>,
    detail: String,
}

#[derive(FromRow)]
struct UsageRow {
    #[sqlx(flatten)]
    user: UserRow,
    logical_bytes: i64,
}

impl PgStore {
    pub(super) async fn record_audit_impl(&self, audit: &Audit) -> StoreResult<()> {
        let mut conn = self.pool.acquire().await?;
        insert_audit(&mut conn, audit).await
    }

    pub(super) async fn audit_log_impl(
        &self,
        filter: &AuditFilter,
    ) -> StoreResult<Vec<AuditRecord>> {
        let rows: Vec<AuditRow> = sqlx::query_as(concat!(
            "SELECT id, ",
            millis!("at"),
            " AS at, actor_id, actor_name, action, target_name, workspace_id, detail \
             FROM audit_log \
             WHERE ($1::text IS NULL OR actor_name = $1 OR target_name = $1) \
               AND ($2::bigint IS NULL OR at >= to_timestamp($2::double precision / 1000)) \
             ORDER BY id DESC LIMIT $3"
        ))
        .bind(&filter.user)
        .bind(filter.since)
        .bind(i64::from(filter.limit))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|row| AuditRecord {
                id: row.id,
                at: row.at,
                actor: Actor {
                    id: row.actor_id,
                    name: row.actor_name,
                },
                action: row.action,
                target: row.target_name,
                workspace_id: row.workspace_id,
                detail: row.detail,
            })
            .collect())
    }

    /// Every user not deleted, with the current size of the live files of
    /// the workspaces they own; stored bytes are their `quota_used`, which
    /// commits and removals keep equal to the chunks retained versions
    /// reference.
    pub(super) async fn users_with_usage_impl(&self) -> StoreResult<Vec<UserUsage>> {
        let rows: Vec<UsageRow> = sqlx::query_as(concat!(
            "SELECT ",
            user_columns!(),
            ", (SELECT coalesce(sum(v.size), 0)::bigint FROM workspaces w \
                JOIN items i ON i.workspace_id = w.id AND NOT i.deleted AND NOT i.is_folder ",
            latest_version_join!(),
            " WHERE w.owner_id = users.id) AS logical_bytes \
             FROM users WHERE deleted_at IS NULL ORDER BY username"
        ))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|row| UserUsage {
                stored_bytes: to_u64(row.user.quota_used),
                logical_bytes: to_u64(row.logical_bytes),
                user: row.user.into(),
            })
            .collect())
    }

    pub(super) async fn set_user_quota_impl(
        &self,
        username: &str,
        quota_bytes: u64,
        audit: &Audit,
    ) -> StoreResult<bool> {
        let mut tx = self.pool.begin().await?;
        let updated = sqlx::query(
            "UPDATE users SET quota_limit = $2 WHERE username = $1 AND deleted_at IS NULL",
        )
        .bind(username)
        .bind(to_i64(quota_bytes))
        .execute(&mut *tx)
        .await?;
        if updated.rows_affected() != 1 {
            return Ok(false);
        }
        insert_audit(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(true)
    }
}
