//! Deleting a user on PostgreSQL, in one transaction: nothing of the user
//! outlives it half-way, and nobody else's data goes without the
//! administrator's decision for it.

use uuid::Uuid;

use super::sharing::{lock_workspace, proposals_by_id, transfer_ownership};
use super::{PgStore, STORAGE_ACCOUNT_PREFIX, insert_audit};
use crate::storage::{Audit, AuditAction, DeletedUser, StoreError, StoreResult, UserDeletion};

impl PgStore {
    pub(super) async fn delete_user_impl(
        &self,
        deletion: UserDeletion<'_>,
        audit: &Audit,
    ) -> StoreResult<DeletedUser> {
        let user_id = deletion.user_id;
        let mut tx = self.pool.begin().await?;
        let username: Option<String> = sqlx::query_scalar(
            "SELECT username FROM users WHERE id = $1 AND deleted_at IS NULL FOR UPDATE",
        )
        .bind(user_id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(username) = username else {
            return Err(StoreError::Refused("there is no such user".into()));
        };
        let mut deleted = DeletedUser::default();
        for &(workspace_id, to) in deletion.transfers {
            let transfer = Audit::new(audit.actor.clone(), AuditAction::OwnershipTransfer)
                .detail(format!("from {username}, who is being deleted"));
            let cancelled =
                transfer_ownership(&mut tx, workspace_id, user_id, to, &transfer).await?;
            deleted.cancelled.extend(cancelled);
            deleted.transferred.push((workspace_id, to));
        }

        // What they still own goes; a shared one only by decision.
        let owned: Vec<(Uuid, String, Vec<Uuid>)> = sqlx::query_as(
            "SELECT w.id, coalesce(om.mount_name, w.name), \
                    coalesce(array_agg(m.user_id) FILTER (WHERE m.user_id <> w.owner_id), '{}') \
             FROM workspaces w \
             LEFT JOIN workspace_members om ON om.workspace_id = w.id AND om.user_id = w.owner_id \
             LEFT JOIN workspace_members m ON m.workspace_id = w.id \
             WHERE w.owner_id = $1 GROUP BY w.id, om.mount_name ORDER BY w.id",
        )
        .bind(user_id)
        .fetch_all(&mut *tx)
        .await?;
        let undecided: Vec<String> = owned
            .iter()
            .filter(|(id, _, members)| !members.is_empty() && !deletion.delete_shared.contains(id))
            .map(|(id, name, _)| format!("{name:?} ({id})"))
            .collect();
        if !undecided.is_empty() {
            return Err(StoreError::Refused(format!(
                "{username} owns workspaces shared with others; choose for each whether to \
                 transfer it to a member or to delete it: {}",
                undecided.join(", ")
            )));
        }
        let owned_ids: Vec<Uuid> = owned.iter().map(|(id, _, _)| *id).collect();
        for &id in &owned_ids {
            lock_workspace(&mut tx, id).await?;
        }
        let joined: Vec<Uuid> = sqlx::query_scalar(
            "SELECT workspace_id FROM workspace_members WHERE user_id = $1 AND role <> 'owner' \
             ORDER BY workspace_id",
        )
        .bind(user_id)
        .fetch_all(&mut *tx)
        .await?;
        for &id in &joined {
            lock_workspace(&mut tx, id).await?;
        }

        let cancelled: Vec<Uuid> = sqlx::query_scalar(
            "UPDATE share_proposals SET status = 'cancelled', answered_at = now() \
             WHERE status = 'pending' \
               AND (proposer_id = $1 OR invitee_id = $1 OR workspace_id = ANY($2)) \
             RETURNING id",
        )
        .bind(user_id)
        .bind(&owned_ids)
        .fetch_all(&mut *tx)
        .await?;
        deleted
            .cancelled
            .extend(proposals_by_id(&mut tx, &cancelled).await?);

        sqlx::query(
            "INSERT INTO deleted_containers (account, container) \
             SELECT $2 || coalesce(w.container_account, u.account), w.container \
             FROM workspaces w JOIN users u ON u.id = w.owner_id WHERE w.id = ANY($1) \
             ON CONFLICT DO NOTHING",
        )
        .bind(&owned_ids)
        .bind(STORAGE_ACCOUNT_PREFIX)
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM workspaces WHERE id = ANY($1)")
            .bind(&owned_ids)
            .execute(&mut *tx)
            .await?;
        for (id, name, members) in owned {
            let record = Audit::new(audit.actor.clone(), AuditAction::WorkspaceDelete)
                .target(&username)
                .workspace(id)
                .detail(format!("{name:?}, with {} other member(s)", members.len()));
            insert_audit(&mut tx, &record).await?;
            deleted.deleted_workspaces.push((id, members));
        }

        sqlx::query("DELETE FROM workspace_members WHERE user_id = $1")
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        deleted.left_workspaces = joined;
        sqlx::query(
            "UPDATE public_links SET revoked_at = now() \
             WHERE creator_id = $1 AND revoked_at IS NULL",
        )
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
        deleted.revoked_devices = sqlx::query_scalar(
            "UPDATE devices SET revoked_at = now() \
             WHERE user_id = $1 AND revoked_at IS NULL RETURNING id",
        )
        .bind(user_id)
        .fetch_all(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM oauth_access_tokens WHERE user_id = $1")
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM oauth_request_tokens WHERE user_id = $1")
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "UPDATE users SET disabled = true, deleted_at = now(), quota_used = 0 WHERE id = $1",
        )
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
        insert_audit(&mut tx, &audit.clone().target(&username)).await?;
        tx.commit().await?;
        Ok(deleted)
    }

    pub(super) async fn is_deleted_container_impl(
        &self,
        storage_account: &str,
        container: &str,
    ) -> StoreResult<bool> {
        Ok(sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM deleted_containers WHERE account = $1 AND container = $2)",
        )
        .bind(storage_account)
        .bind(container)
        .fetch_one(&self.pool)
        .await?)
    }
}
