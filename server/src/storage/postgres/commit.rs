//! A commit: the workspace locked, an earlier answer to the same request
//! replayed, the batch planned against the current versions
//! ([`crate::commit_plan`]), the quota charged, the versions written and the
//! answer kept for re-sends, all in one transaction.

use std::collections::HashMap;

use nimbus_protocol::rpc::{CommitArgs, CommitReply, ItemOutcome, ItemResult};
use sqlx::types::Json;
use sqlx::{Postgres, Transaction};
use uuid::Uuid;

use super::{ItemRow, PgStore, fill_chunks, retention, to_i64, to_u64};
use crate::commit_plan::{Plan, Snapshot, plan_commit};
use crate::storage::{CommitContext, CommitOutcome, StoreError, StoreResult};

impl PgStore {
    /// One try of [`crate::storage::MetadataStore::commit`].
    pub(super) async fn commit_once(
        &self,
        context: &CommitContext,
        args: &CommitArgs,
    ) -> StoreResult<CommitOutcome> {
        let mut tx = self.pool.begin().await?;
        // Lock the workspace and look for an earlier answer in one round trip;
        // the lock also serialises re-sends of one request.
        type Locked = (
            i64,
            Uuid,
            Option<Uuid>,
            Option<Uuid>,
            Option<Vec<u8>>,
            Option<Json<CommitReply>>,
        );
        let (
            revision,
            owner_id,
            earlier_device,
            earlier_workspace,
            earlier_fingerprint,
            earlier_reply,
        ): Locked = sqlx::query_as(
            "SELECT w.revision, w.owner_id, p.device_id, p.workspace_id, p.fingerprint, p.response \
                 FROM workspaces w LEFT JOIN processed_requests p ON p.request_id = $2 \
                 WHERE w.id = $1 FOR UPDATE OF w",
        )
        .bind(args.workspace_id)
        .bind(context.request_id)
        .fetch_one(&mut *tx)
        .await?;
        let earlier = match (
            earlier_device,
            earlier_workspace,
            earlier_fingerprint,
            earlier_reply,
        ) {
            (Some(device), Some(workspace), Some(fingerprint), Some(reply)) => {
                Some((device, workspace, fingerprint, reply))
            }
            _ => None,
        };
        if let Some((device_id, workspace_id, fingerprint, Json(reply))) = earlier {
            if device_id != context.device_id
                || workspace_id != args.workspace_id
                || fingerprint != context.fingerprint
            {
                return Err(StoreError::RequestIdReused(context.request_id));
            }
            let written_revision = reply
                .results
                .iter()
                .any(|r| matches!(r.outcome, ItemOutcome::Committed { .. }))
                .then_some(reply.revision);
            return Ok(CommitOutcome {
                reply,
                written_revision,
                replayed: true,
            });
        }

        refuse_collected_chunks(&mut tx, args).await?;
        let snapshot = load_snapshot(&mut tx, args.workspace_id, args).await?;
        let mut plan = plan_commit(snapshot, &args.items);

        let conflicts = plan
            .outcomes
            .iter_mut()
            .filter_map(|outcome| match outcome {
                ItemOutcome::Conflict {
                    current: Some(state),
                } => Some(&mut **state),
                _ => None,
            });
        fill_chunks(&mut tx, conflicts.collect()).await?;

        let written_revision = if plan.writes.is_empty() {
            None
        } else {
            let new_revision = revision + 1;
            let quota_delta = write_plan(
                &mut tx,
                args.workspace_id,
                context.device_id,
                new_revision,
                &plan,
            )
            .await?;
            sqlx::query("UPDATE workspaces SET revision = $2 WHERE id = $1")
                .bind(args.workspace_id)
                .bind(new_revision)
                .execute(&mut *tx)
                .await?;
            if quota_delta != 0 {
                // Charged only if it fits; growing past the limit rolls back.
                let charged: Option<(i64, i64)> = sqlx::query_as(
                    "UPDATE users SET quota_used = quota_used + $2 \
                     WHERE id = $1 AND quota_used + $2 <= quota_limit \
                     RETURNING quota_used, quota_limit",
                )
                .bind(owner_id)
                .bind(quota_delta)
                .fetch_optional(&mut *tx)
                .await?;
                if charged.is_none() {
                    let (used, limit): (i64, i64) =
                        sqlx::query_as("SELECT quota_used, quota_limit FROM users WHERE id = $1")
                            .bind(owner_id)
                            .fetch_one(&mut *tx)
                            .await?;
                    return Err(StoreError::QuotaExceeded {
                        needed: to_u64(quota_delta),
                        available: to_u64(limit - used),
                        owner_id,
                    });
                }
            }
            Some(to_u64(new_revision))
        };

        let reply = CommitReply {
            revision: written_revision.unwrap_or(to_u64(revision)),
            results: args
                .items
                .iter()
                .zip(plan.outcomes)
                .map(|(item, outcome)| ItemResult {
                    id: item.id,
                    outcome,
                })
                .collect(),
        };
        sqlx::query(
            "INSERT INTO processed_requests (request_id, device_id, workspace_id, fingerprint, response) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(context.request_id)
        .bind(context.device_id)
        .bind(args.workspace_id)
        .bind(&context.fingerprint[..])
        .bind(Json(&reply))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(CommitOutcome {
            reply,
            written_revision,
            replayed: false,
        })
    }
}

/// Loads what [`plan_commit`] needs (see [`Snapshot`]).
async fn load_snapshot(
    tx: &mut Transaction<'_, Postgres>,
    workspace_id: Uuid,
    args: &CommitArgs,
) -> StoreResult<Snapshot> {
    let mut seeds: Vec<Uuid> = args.items.iter().map(|i| i.id).collect();
    seeds.extend(args.items.iter().filter_map(|i| i.parent_id));
    seeds.sort_unstable();
    seeds.dedup();
    // `= ANY(ARRAY(...))` rather than a join with the CTE: PostgreSQL cannot
    // estimate the CTE's size and would hash-join a scan of the whole table.
    // For the same reason each step up looks the parent's parent up by key
    // in a scalar subquery: as a join, the step was planned as a hash join
    // over every item of the database. A step past an id that is not stored
    // (a folder new in this batch) adds an id that the final lookup skips.
    let mut rows: Vec<ItemRow> = sqlx::query_as(concat!(
        "WITH RECURSIVE tree AS ( \
           SELECT id, parent_id FROM items WHERE id = ANY($1) \
           UNION \
           SELECT t.parent_id, (SELECT p.parent_id FROM items p WHERE p.id = t.parent_id) \
           FROM tree t WHERE t.parent_id IS NOT NULL) \
         SELECT ",
        item_columns!(),
        " FROM items i",
        latest_version_join!(),
        "WHERE i.id = ANY(ARRAY(SELECT id FROM tree))"
    ))
    .bind(&seeds)
    .fetch_all(&mut **tx)
    .await?;

    let (parents, names): (Vec<Uuid>, Vec<&str>) = args
        .items
        .iter()
        .filter(|i| !i.deleted)
        .map(|i| (i.parent_id.unwrap_or(Uuid::nil()), i.name.as_str()))
        .unzip();
    rows.extend(
        // One probe of `items_live_names` per name, fenced by `OFFSET 0` so
        // that the planner cannot turn it into a join: misled by statistics
        // older than the workspace's growth, it read every live item of the
        // workspace instead.
        sqlx::query_as::<_, ItemRow>(concat!(
            "SELECT hit.* FROM UNNEST($2::uuid[], $3::text[]) AS wanted(parent_id, name) \
             CROSS JOIN LATERAL (SELECT ",
            item_columns!(),
            " FROM items i",
            latest_version_join!(),
            "WHERE i.workspace_id = $1 AND NOT i.deleted \
               AND coalesce(i.parent_id, '00000000-0000-0000-0000-000000000000') = wanted.parent_id \
               AND i.name = wanted.name OFFSET 0) AS hit"
        ))
        .bind(workspace_id)
        .bind(&parents)
        .bind(&names)
        .fetch_all(&mut **tx)
        .await?,
    );

    let deleted_folders: Vec<Uuid> = args
        .items
        .iter()
        .filter(|i| i.deleted && i.is_folder)
        .map(|i| i.id)
        .collect();
    if !deleted_folders.is_empty() {
        rows.extend(
            sqlx::query_as::<_, ItemRow>(concat!(
                "SELECT ",
                item_columns!(),
                " FROM items i",
                latest_version_join!(),
                "WHERE i.parent_id = ANY($1) AND NOT i.deleted"
            ))
            .bind(&deleted_folders)
            .fetch_all(&mut **tx)
            .await?,
        );
    }

    let mut items = HashMap::with_capacity(rows.len());
    for row in rows {
        let item = row.into_snapshot_item()?;
        items.insert(item.state.id, item);
    }
    Ok(Snapshot {
        workspace_id,
        items,
    })
}

/// Writes the plan's versions as workspace revision `revision`; returns the
/// bytes of the chunks new to the workspace, which the quota is charged.
async fn write_plan(
    tx: &mut Transaction<'_, Postgres>,
    workspace_id: Uuid,
    device_id: Uuid,
    revision: i64,
    plan: &Plan,
) -> StoreResult<i64> {
    let writes = &plan.writes;
    let ids: Vec<Uuid> = writes.iter().map(|w| w.item_id).collect();
    let parents: Vec<Option<Uuid>> = writes.iter().map(|w| w.parent_id).collect();
    let names: Vec<&str> = writes.iter().map(|w| w.name.as_str()).collect();
    let folders: Vec<bool> = writes.iter().map(|w| w.is_folder).collect();
    let versions: Vec<i64> = writes.iter().map(|w| to_i64(w.version)).collect();
    let deleted: Vec<bool> = writes.iter().map(|w| w.deleted).collect();

    let upserted = sqlx::query(
        "INSERT INTO items (id, workspace_id, parent_id, name, is_folder, latest_version, deleted, revision) \
         SELECT u.id, $1, u.parent_id, u.name, u.is_folder, u.version, u.deleted, $2 \
         FROM UNNEST($3::uuid[], $4::uuid[], $5::text[], $6::bool[], $7::bigint[], $8::bool[]) \
              WITH ORDINALITY AS u(id, parent_id, name, is_folder, version, deleted, position) \
         ORDER BY u.position \
         ON CONFLICT (id) DO UPDATE SET parent_id = EXCLUDED.parent_id, name = EXCLUDED.name, \
             latest_version = EXCLUDED.latest_version, deleted = EXCLUDED.deleted, \
             revision = EXCLUDED.revision \
         WHERE items.workspace_id = EXCLUDED.workspace_id",
    )
    .bind(workspace_id)
    .bind(revision)
    .bind(&ids)
    .bind(&parents)
    .bind(&names)
    .bind(&folders)
    .bind(&versions)
    .bind(&deleted)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    if upserted != writes.len() as u64 {
        // Only possible when another workspace created the same id concurrently.
        return Err(StoreError::Corrupt(
            "an item id of this commit was taken by another workspace; retry with new ids".into(),
        ));
    }

    let statuses: Vec<&str> = writes.iter().map(|w| w.status.as_str()).collect();
    let sizes: Vec<i64> = writes.iter().map(|w| to_i64(w.content.size)).collect();
    let hashes: Vec<Option<&str>> = writes
        .iter()
        .map(|w| w.content.content_hash.as_deref())
        .collect();
    let chunkers: Vec<Option<&str>> = writes
        .iter()
        .map(|w| w.content.chunker.as_deref())
        .collect();
    let modified: Vec<i64> = writes.iter().map(|w| w.modified_at).collect();
    // Content an earlier version has under another workspace's keys (a
    // restore of a converted folder's version not re-keyed yet) stays read
    // from there, and is re-keyed like it.
    sqlx::query(
        "INSERT INTO item_versions (item_id, version, device_id, status, parent_id, name, deleted, \
                                    size, content_hash, chunker, modified_at, revision, \
                                    chunk_workspace) \
         SELECT u.item_id, u.version, $1, u.status, u.parent_id, u.name, u.deleted, u.size, \
                u.content_hash, u.chunker, u.modified_at, $2, \
                (SELECT o.chunk_workspace FROM item_versions o \
                 WHERE o.item_id = u.item_id AND o.content_hash = u.content_hash \
                   AND o.chunk_workspace IS NOT NULL LIMIT 1) \
         FROM UNNEST($3::uuid[], $4::bigint[], $5::text[], $6::uuid[], $7::text[], $8::bool[], \
                     $9::bigint[], $10::text[], $11::text[], $12::bigint[]) \
              AS u(item_id, version, status, parent_id, name, deleted, size, content_hash, chunker, modified_at)",
    )
    .bind(device_id)
    .bind(revision)
    .bind(&ids)
    .bind(&versions)
    .bind(&statuses)
    .bind(&parents)
    .bind(&names)
    .bind(&deleted)
    .bind(&sizes)
    .bind(&hashes)
    .bind(&chunkers)
    .bind(&modified)
    .execute(&mut **tx)
    .await?;

    let mut chunk_items = Vec::new();
    let mut chunk_versions = Vec::new();
    let mut positions = Vec::new();
    let mut chunk_ids = Vec::new();
    let mut chunk_sizes = Vec::new();
    for write in writes {
        for (position, chunk) in write.content.chunks.iter().enumerate() {
            chunk_items.push(write.item_id);
            chunk_versions.push(to_i64(write.version));
            positions.push(i32::try_from(position).unwrap_or(i32::MAX));
            chunk_ids.push(chunk.id.as_str());
            chunk_sizes.push(i32::try_from(chunk.size).unwrap_or(i32::MAX));
        }
    }
    let charged = retention::unreferenced_bytes(tx, workspace_id, &chunk_ids, &chunk_sizes).await?;
    if !chunk_items.is_empty() {
        sqlx::query(
            "INSERT INTO version_chunks (item_id, version, position, chunk_id, size) \
             SELECT * FROM UNNEST($1::uuid[], $2::bigint[], $3::int[], $4::text[], $5::int[])",
        )
        .bind(&chunk_items)
        .bind(&chunk_versions)
        .bind(&positions)
        .bind(&chunk_ids)
        .bind(&chunk_sizes)
        .execute(&mut **tx)
        .await?;
    }
    Ok(charged)
}

/// Refuses a commit that lists a chunk the object store's collection
/// holds claimed (`collected_chunks`, a claim not lifted): it may be gone,
/// and a version must never list bytes that are not stored. Runs under the
/// workspace's lock, so a collection's claim is either seen here or sees
/// this commit's versions.
async fn refuse_collected_chunks(
    tx: &mut Transaction<'_, Postgres>,
    args: &CommitArgs,
) -> StoreResult<()> {
    let listed: Vec<&str> = args
        .items
        .iter()
        .flat_map(|item| item.content.chunks.iter().map(|chunk| chunk.id.as_str()))
        .collect();
    if listed.is_empty() {
        return Ok(());
    }
    let collected: Vec<String> = sqlx::query_scalar(
        "SELECT chunk_id FROM collected_chunks \
          WHERE workspace_id = $1 AND chunk_id = ANY($2) AND claim > lifted ORDER BY chunk_id",
    )
    .bind(args.workspace_id)
    .bind(&listed)
    .fetch_all(&mut **tx)
    .await?;
    if collected.is_empty() {
        Ok(())
    } else {
        Err(StoreError::ContentMissing(collected))
    }
}
