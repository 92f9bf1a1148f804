//! Removing versions and trashed items for good: the retention job and
//! "delete forever", and what the quota counts.
//!
//! The quota counts the bytes of the chunks that retained versions of a
//! workspace reference, each chunk once per workspace (its container stores
//! it once): a commit is charged for the chunks new to the workspace, and a
//! removal gives back those no remaining version references.
//!
//! Every removal runs in a transaction that first locks the workspace row, as
//! a commit does: a commit either sees an item before its removal (and a
//! removal then sees the commit's new version, which makes a restored item
//! live and keeps it) or not at all (and then gets a conflict without a
//! current version, so the device keeps its bytes as a conflicted copy).
//! The current version of a live item is never removed.

use std::collections::HashSet;

use nimbus_protocol::rpc::{RetentionPolicy, Revision};
use sqlx::{PgConnection, Postgres, Transaction};
use uuid::Uuid;

use super::{PgStore, to_u64};
use crate::storage::{Removed, StoreError, StoreResult};

/// First key of the advisory locks by which one server at a time applies
/// the retention policy to a workspace ("nimb").
const RETENTION_LOCK: i32 = 0x6e69_6d62;

/// The bytes of the chunks among `chunk_ids` (with their `sizes`) that no
/// version of the workspace references, each chunk once.
pub(super) async fn unreferenced_bytes(
    connection: &mut PgConnection,
    workspace_id: Uuid,
    chunk_ids: &[&str],
    sizes: &[i32],
) -> StoreResult<i64> {
    if chunk_ids.is_empty() {
        return Ok(0);
    }
    // Looks up exactly these ids in `version_chunks_by_chunk`, and each
    // hit's workspace by its item's primary key in a scalar subquery, which
    // the planner cannot turn into a join. Written as an anti-join, it was
    // planned at some table sizes as a hash join over every chunk row of the
    // database, a cost that grew with the tables (docs/scaling.md, issue #12).
    let referenced: Vec<String> = sqlx::query_scalar(
        "SELECT DISTINCT c.chunk_id FROM version_chunks c \
         WHERE c.chunk_id = ANY($2) \
           AND (SELECT i.workspace_id FROM items i WHERE i.id = c.item_id) = $1",
    )
    .bind(workspace_id)
    .bind(chunk_ids)
    .fetch_all(connection)
    .await?;
    let referenced: HashSet<&str> = referenced.iter().map(String::as_str).collect();
    let mut counted = HashSet::new();
    Ok(chunk_ids
        .iter()
        .zip(sizes)
        .filter(|&(id, size)| !referenced.contains(id) && counted.insert((*id, *size)))
        .map(|(_, size)| i64::from(*size))
        .sum())
}

/// Chunk references a removal took away, to give their bytes back.
#[derive(Default)]
struct Released {
    chunk_ids: Vec<String>,
    sizes: Vec<i32>,
}

impl Released {
    fn extend(&mut self, rows: Vec<(String, i32)>) {
        for (chunk_id, size) in rows {
            self.chunk_ids.push(chunk_id);
            self.sizes.push(size);
        }
    }

    /// Takes the bytes no version of the workspace references any more off
    /// its owner's quota; returns them.
    async fn uncharge(
        &self,
        tx: &mut Transaction<'_, Postgres>,
        workspace_id: Uuid,
        owner_id: Uuid,
    ) -> StoreResult<u64> {
        let ids: Vec<&str> = self.chunk_ids.iter().map(String::as_str).collect();
        let freed = unreferenced_bytes(tx, workspace_id, &ids, &self.sizes).await?;
        if freed > 0 {
            sqlx::query("UPDATE users SET quota_used = greatest(0, quota_used - $2) WHERE id = $1")
                .bind(owner_id)
                .bind(freed)
                .execute(&mut **tx)
                .await?;
        }
        Ok(to_u64(freed))
    }
}

/// Locks the workspace row, as a commit does; its owner, `None` when there
/// is no such workspace.
async fn lock_workspace(
    tx: &mut Transaction<'_, Postgres>,
    workspace_id: Uuid,
) -> StoreResult<Option<Uuid>> {
    Ok(
        sqlx::query_scalar("SELECT owner_id FROM workspaces WHERE id = $1 FOR UPDATE")
            .bind(workspace_id)
            .fetch_optional(&mut **tx)
            .await?,
    )
}

/// Deletes the items `ids` with their versions and chunk lists (one
/// statement each, so that a folder and its children go together).
async fn remove_items(
    tx: &mut Transaction<'_, Postgres>,
    ids: &[Uuid],
    removed: &mut Removed,
    released: &mut Released,
) -> StoreResult<()> {
    released.extend(
        sqlx::query_as(
            "DELETE FROM version_chunks WHERE item_id = ANY($1) RETURNING chunk_id, size",
        )
        .bind(ids)
        .fetch_all(&mut **tx)
        .await?,
    );
    removed.versions += sqlx::query("DELETE FROM item_versions WHERE item_id = ANY($1)")
        .bind(ids)
        .execute(&mut **tx)
        .await?
        .rows_affected();
    removed.items += sqlx::query("DELETE FROM items WHERE id = ANY($1)")
        .bind(ids)
        .execute(&mut **tx)
        .await?
        .rows_affected();
    Ok(())
}

/// Records a removal of items in a new workspace revision, so that cached
/// trees read the workspace again ([`nimbus_protocol::rpc::Changes`]).
async fn record_purge(
    tx: &mut Transaction<'_, Postgres>,
    workspace_id: Uuid,
) -> StoreResult<Revision> {
    let revision: i64 = sqlx::query_scalar(
        "UPDATE workspaces SET revision = revision + 1, purged_revision = revision + 1 \
         WHERE id = $1 RETURNING revision",
    )
    .bind(workspace_id)
    .fetch_one(&mut **tx)
    .await?;
    Ok(to_u64(revision))
}

impl PgStore {
    pub(super) async fn purge_item_impl(
        &self,
        workspace_id: Uuid,
        item_id: Uuid,
    ) -> StoreResult<Removed> {
        let mut tx = self.pool.begin().await?;
        let owner_id = lock_workspace(&mut tx, workspace_id)
            .await?
            .ok_or_else(|| StoreError::Refused("this workspace no longer exists".into()))?;
        let subtree: Vec<(Uuid, String, bool)> = sqlx::query_as(
            "WITH RECURSIVE tree AS ( \
               SELECT id FROM items WHERE id = $1 AND workspace_id = $2 \
               UNION \
               SELECT c.id FROM items c JOIN tree t ON c.parent_id = t.id) \
             SELECT id, name, deleted FROM items WHERE id = ANY(ARRAY(SELECT id FROM tree))",
        )
        .bind(item_id)
        .bind(workspace_id)
        .fetch_all(&mut *tx)
        .await?;
        let Some((_, name, deleted)) = subtree.iter().find(|(id, _, _)| *id == item_id) else {
            return Err(StoreError::Refused(
                "this item is gone already: it was deleted forever meanwhile".into(),
            ));
        };
        if !deleted {
            return Err(StoreError::Refused(format!(
                "{name:?} is not in the trash: delete it first, then delete it forever from the \
                 trash"
            )));
        }
        // A deleted folder holds only deleted items; a live one would be lost.
        if let Some((_, live, _)) = subtree.iter().find(|(_, _, deleted)| !deleted) {
            return Err(StoreError::Refused(format!(
                "{live:?} below {name:?} is not deleted; restore or move it first"
            )));
        }
        let ids: Vec<Uuid> = subtree.iter().map(|(id, _, _)| *id).collect();
        let mut removed = Removed::default();
        let mut released = Released::default();
        remove_items(&mut tx, &ids, &mut removed, &mut released).await?;
        removed.freed_bytes = released.uncharge(&mut tx, workspace_id, owner_id).await?;
        removed.revision = Some(record_purge(&mut tx, workspace_id).await?);
        tx.commit().await?;
        Ok(removed)
    }

    pub(super) async fn workspace_ids_impl(&self) -> StoreResult<Vec<Uuid>> {
        Ok(sqlx::query_scalar("SELECT id FROM workspaces ORDER BY id")
            .fetch_all(&self.pool)
            .await?)
    }

    pub(super) async fn apply_retention_impl(
        &self,
        workspace_id: Uuid,
        policy: &RetentionPolicy,
        batch: u32,
    ) -> StoreResult<Option<Removed>> {
        let mut tx = self.pool.begin().await?;
        // Servers running the job at once share the work out, workspace by workspace.
        let claimed: bool =
            sqlx::query_scalar("SELECT pg_try_advisory_xact_lock($1, hashtext($2::text))")
                .bind(RETENTION_LOCK)
                .bind(workspace_id)
                .fetch_one(&mut *tx)
                .await?;
        if !claimed {
            return Ok(None);
        }
        let Some(owner_id) = lock_workspace(&mut tx, workspace_id).await? else {
            return Ok(Some(Removed::default()));
        };
        let mut removed = Removed::default();
        let mut released = Released::default();

        // Trashed items past the policy with nothing below them: a folder
        // goes in a later batch, after its contents (deleted no later than it).
        let expired: Vec<Uuid> = sqlx::query_scalar(
            "SELECT i.id FROM items i \
             JOIN item_versions v ON v.item_id = i.id AND v.version = i.latest_version \
             WHERE i.workspace_id = $1 AND i.deleted \
               AND v.committed_at < now() - make_interval(days => $2) \
               AND NOT EXISTS (SELECT 1 FROM items c WHERE c.parent_id = i.id) \
             LIMIT $3",
        )
        .bind(workspace_id)
        .bind(i32::try_from(policy.trash_days).unwrap_or(i32::MAX))
        .bind(i64::from(batch))
        .fetch_all(&mut *tx)
        .await?;
        if !expired.is_empty() {
            remove_items(&mut tx, &expired, &mut removed, &mut released).await?;
        }

        // Older versions of live items: beyond the newest `max_versions`, or
        // beyond the newest `min_versions` and older than `version_days`.
        // Place 1 is the newest version before the current one. Versions of
        // trashed items stay with them, for a restore.
        let doomed: Vec<(Uuid, i64)> = sqlx::query_as(
            "SELECT item_id, version FROM ( \
               SELECT v.item_id, v.version, v.committed_at, \
                      row_number() OVER (PARTITION BY v.item_id ORDER BY v.version DESC) AS place \
               FROM item_versions v JOIN items i ON i.id = v.item_id \
               WHERE i.workspace_id = $1 AND NOT i.deleted AND v.version < i.latest_version) old \
             WHERE place >= $3 OR (place >= $2 AND committed_at < now() - make_interval(days => $4)) \
             LIMIT $5",
        )
        .bind(workspace_id)
        .bind(i64::from(policy.min_versions))
        .bind(i64::from(policy.max_versions))
        .bind(i32::try_from(policy.version_days).unwrap_or(i32::MAX))
        .bind(i64::from(batch))
        .fetch_all(&mut *tx)
        .await?;
        if !doomed.is_empty() {
            let (items, versions): (Vec<Uuid>, Vec<i64>) = doomed.into_iter().unzip();
            released.extend(
                sqlx::query_as(
                    "DELETE FROM version_chunks c USING UNNEST($1::uuid[], $2::bigint[]) AS d(item_id, version) \
                     WHERE c.item_id = d.item_id AND c.version = d.version \
                     RETURNING c.chunk_id, c.size",
                )
                .bind(&items)
                .bind(&versions)
                .fetch_all(&mut *tx)
                .await?,
            );
            removed.versions += sqlx::query(
                "DELETE FROM item_versions v USING UNNEST($1::uuid[], $2::bigint[]) AS d(item_id, version) \
                 WHERE v.item_id = d.item_id AND v.version = d.version",
            )
            .bind(&items)
            .bind(&versions)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        }

        removed.freed_bytes = released.uncharge(&mut tx, workspace_id, owner_id).await?;
        if removed.items > 0 {
            removed.revision = Some(record_purge(&mut tx, workspace_id).await?);
        }
        tx.commit().await?;
        Ok(Some(removed))
    }
}
