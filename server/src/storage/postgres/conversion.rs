//! A folder of a default workspace becomes a workspace of its own
//! (`convertFolder`), and the re-keying job's bookkeeping
//! (`listVersionsToRekey`, `rekeyVersion`). docs/sharing.md says why.

use nimbus_protocol::rpc::{
    ChunkPlace, Content, ConvertedFolder, RekeyCursor, RekeyOutcome, RekeyVersionArgs,
    VersionToRekey,
};
use sqlx::{FromRow, PgConnection};
use uuid::Uuid;

use super::sharing::lock_workspace;
use super::{
    PgStore, fill_contents, member_workspace, refuse_duplicate, storage_account, to_i64, to_u64,
};
use crate::storage::{Conversion, StoreError, StoreResult};

/// The folder to convert, read under its workspace's lock.
#[derive(FromRow)]
struct Folder {
    workspace_id: Uuid,
    parent_id: Option<Uuid>,
    name: String,
    is_folder: bool,
    deleted: bool,
    latest_version: i64,
}

impl PgStore {
    pub(super) async fn convert_folder_impl(
        &self,
        conversion: &Conversion,
    ) -> StoreResult<ConvertedFolder> {
        let mut tx = self.pool.begin().await?;
        let source_id: Option<Uuid> =
            sqlx::query_scalar("SELECT workspace_id FROM items WHERE id = $1")
                .bind(conversion.folder_id)
                .fetch_optional(&mut *tx)
                .await?;
        let Some(source_id) = source_id else {
            return Err(StoreError::Refused(
                "there is no such folder of yours".into(),
            ));
        };
        // The lock a commit takes: the conversion is one step of the
        // source's history, and a re-sent request waits for the first.
        if lock_workspace(&mut tx, source_id).await? != Some(conversion.owner_id) {
            return Err(StoreError::Refused(
                "only the owner of a folder's workspace can turn it into a shared workspace".into(),
            ));
        }
        if let Some(done) = earlier_conversion(&mut tx, conversion).await? {
            tx.commit().await?;
            return Ok(done);
        }
        let (is_default, encryption, revision): (bool, String, i64) =
            sqlx::query_as("SELECT is_default, encryption, revision FROM workspaces WHERE id = $1")
                .bind(source_id)
                .fetch_one(&mut *tx)
                .await?;
        if !is_default {
            return Err(StoreError::Refused(
                "shares do not nest: this folder is inside a workspace that is not your own \
                 folder; share that whole workspace instead"
                    .into(),
            ));
        }
        if encryption != "none" {
            return Err(StoreError::Refused(
                "a folder of an end-to-end encrypted workspace cannot be shared yet: its files \
                 can only be re-encrypted by your own device, which this version does not do"
                    .into(),
            ));
        }
        let folder: Folder = sqlx::query_as(
            "SELECT workspace_id, parent_id, name, is_folder, deleted, latest_version \
             FROM items WHERE id = $1 FOR UPDATE",
        )
        .bind(conversion.folder_id)
        .fetch_one(&mut *tx)
        .await?;
        if folder.workspace_id != source_id {
            return Err(StoreError::Refused(
                "the folder moved while it was being converted; try again".into(),
            ));
        }
        if !folder.is_folder || folder.deleted {
            return Err(StoreError::Refused(
                "only a folder that is not deleted can become a shared workspace".into(),
            ));
        }
        // The folder and everything below it, deleted items too: their
        // history moves with them.
        let subtree: Vec<Uuid> = sqlx::query_scalar(
            "WITH RECURSIVE below (id) AS ( \
                 SELECT $1::uuid \
                 UNION ALL \
                 SELECT c.id FROM items c JOIN below b ON c.parent_id = b.id) \
             SELECT id FROM below",
        )
        .bind(conversion.folder_id)
        .fetch_all(&mut *tx)
        .await?;
        let holds_mount: Option<String> = sqlx::query_scalar(
            "SELECT mount_name FROM workspace_members \
             WHERE user_id = $1 AND mount_parent = ANY($2) LIMIT 1",
        )
        .bind(conversion.owner_id)
        .bind(&subtree)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(mount) = holds_mount {
            return Err(StoreError::Refused(format!(
                "shares do not nest: this folder holds your mount {mount:?} of another \
                 workspace; move that mount out first (updateMount), then share the folder"
            )));
        }

        let created = sqlx::query(
            "INSERT INTO workspaces (id, owner_id, name, encryption, container, revision, \
                                     converted_from_workspace, converted_from_folder) \
             VALUES ($1, $2, $3, $4, $5, 1, $6, $7)",
        )
        .bind(conversion.workspace_id)
        .bind(conversion.owner_id)
        .bind(&folder.name)
        .bind(&encryption)
        .bind(conversion.workspace_id.to_string())
        .bind(source_id)
        .bind(conversion.folder_id)
        .execute(&mut *tx)
        .await;
        refuse_duplicate(created, || {
            StoreError::AlreadyExists(format!(
                "the workspace id {} is already in use; retry with a new random id",
                conversion.workspace_id
            ))
        })?;
        // Mounted where the folder was, so the owner's devices keep it in place.
        let mounted = sqlx::query(
            "INSERT INTO workspace_members (workspace_id, user_id, role, mount_name, mount_parent) \
             VALUES ($1, $2, 'owner', $3, $4)",
        )
        .bind(conversion.workspace_id)
        .bind(conversion.owner_id)
        .bind(&folder.name)
        .bind(folder.parent_id)
        .execute(&mut *tx)
        .await;
        refuse_duplicate(mounted, || {
            StoreError::Refused(format!(
                "you already have a workspace or share named {:?}; rename the folder or \
                 that mount first",
                folder.name
            ))
        })?;
        move_subtree(&mut tx, conversion, source_id, &subtree).await?;

        let source_revision = revision + 1;
        sqlx::query(
            "INSERT INTO item_versions (item_id, version, device_id, status, parent_id, name, \
                                        deleted, size, modified_at, revision, moved_to) \
             VALUES ($1, $2, $3, 'DELETED', $4, $5, true, 0, \
                     (extract(epoch from now()) * 1000)::bigint, $6, $7)",
        )
        .bind(conversion.folder_id)
        .bind(folder.latest_version + 1)
        .bind(conversion.device_id)
        .bind(folder.parent_id)
        .bind(&folder.name)
        .bind(source_revision)
        .bind(conversion.workspace_id)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE items SET latest_version = $2, deleted = true, revision = $3 WHERE id = $1",
        )
        .bind(conversion.folder_id)
        .bind(folder.latest_version + 1)
        .bind(source_revision)
        .execute(&mut *tx)
        .await?;
        sqlx::query("UPDATE workspaces SET revision = $2 WHERE id = $1")
            .bind(source_id)
            .bind(source_revision)
            .execute(&mut *tx)
            .await?;
        let workspace = member_workspace(&mut tx, conversion.owner_id, conversion.workspace_id)
            .await?
            .ok_or_else(|| StoreError::Corrupt("the converted workspace vanished".into()))?;
        tx.commit().await?;
        Ok(ConvertedFolder {
            workspace,
            source_revision: to_u64(source_revision),
        })
    }

    pub(super) async fn versions_to_rekey_impl(
        &self,
        after: Option<RekeyCursor>,
        limit: u32,
    ) -> StoreResult<Vec<VersionToRekey>> {
        let mut connection = self.pool.acquire().await?;
        let after = after.unwrap_or(RekeyCursor {
            item_id: Uuid::nil(),
            version: 0,
        });
        let rows: Vec<RekeyRow> = sqlx::query_as(
            "SELECT v.item_id, v.version, v.size, v.content_hash, v.chunker, \
                    t.id AS target_id, t.container AS target_container, \
                    coalesce(t.container_account, town.account) AS target_account, \
                    s.id AS source_id, s.container AS source_container, \
                    coalesce(s.container_account, sown.account) AS source_account \
             FROM item_versions v \
             JOIN items i ON i.id = v.item_id \
             JOIN workspaces t ON t.id = i.workspace_id JOIN users town ON town.id = t.owner_id \
             JOIN workspaces s ON s.id = v.chunk_workspace JOIN users sown ON sown.id = s.owner_id \
             WHERE v.chunk_workspace IS NOT NULL AND (v.item_id, v.version) > ($1, $2) \
               AND t.encryption = 'none' AND s.encryption = 'none' \
             ORDER BY v.item_id, v.version LIMIT $3",
        )
        .bind(after.item_id)
        .bind(to_i64(after.version))
        .bind(i64::from(limit))
        .fetch_all(&mut *connection)
        .await?;
        let mut versions: Vec<VersionToRekey> =
            rows.into_iter().map(RekeyRow::into_version).collect();
        let contents = versions
            .iter_mut()
            .map(|v| ((v.item_id, v.version), &mut v.content))
            .collect();
        fill_contents(&mut connection, contents).await?;
        Ok(versions)
    }

    pub(super) async fn rekey_version_impl(
        &self,
        args: &RekeyVersionArgs,
    ) -> StoreResult<RekeyOutcome> {
        let mut tx = self.pool.begin().await?;
        let workspace_id: Option<Uuid> =
            sqlx::query_scalar("SELECT workspace_id FROM items WHERE id = $1")
                .bind(args.item_id)
                .fetch_optional(&mut *tx)
                .await?;
        let Some(workspace_id) = workspace_id else {
            return Ok(RekeyOutcome::Stale);
        };
        // The commit's lock: the item's revision below is the next one of
        // its workspace, and a concurrent run of the job waits here.
        lock_workspace(&mut tx, workspace_id).await?;
        let size: Option<i64> = sqlx::query_scalar(
            "SELECT size FROM item_versions \
             WHERE item_id = $1 AND version = $2 AND chunk_workspace = $3 FOR UPDATE",
        )
        .bind(args.item_id)
        .bind(to_i64(args.version))
        .bind(args.chunk_workspace)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(size) = size else {
            return Ok(RekeyOutcome::Stale);
        };
        let chunked: u64 = args.content.chunks.iter().map(|c| u64::from(c.size)).sum();
        if to_u64(size) != args.content.size || chunked != args.content.size {
            return Err(StoreError::Refused(format!(
                "re-keyed content of {} version {} has {} bytes in chunks of {} bytes, the \
                 version {}",
                args.item_id, args.version, args.content.size, chunked, size
            )));
        }
        sqlx::query("DELETE FROM version_chunks WHERE item_id = $1 AND version = $2")
            .bind(args.item_id)
            .bind(to_i64(args.version))
            .execute(&mut *tx)
            .await?;
        let ids: Vec<&str> = args.content.chunks.iter().map(|c| c.id.as_str()).collect();
        let sizes: Vec<i32> = args
            .content
            .chunks
            .iter()
            .map(|c| i32::try_from(c.size).unwrap_or(i32::MAX))
            .collect();
        sqlx::query(
            "INSERT INTO version_chunks (item_id, version, position, chunk_id, size) \
             SELECT $1, $2, (c.position - 1)::integer, c.id, c.size \
             FROM UNNEST($3::text[], $4::integer[]) WITH ORDINALITY AS c(id, size, position)",
        )
        .bind(args.item_id)
        .bind(to_i64(args.version))
        .bind(&ids)
        .bind(&sizes)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE item_versions SET content_hash = $3, chunker = $4, chunk_workspace = NULL \
             WHERE item_id = $1 AND version = $2",
        )
        .bind(args.item_id)
        .bind(to_i64(args.version))
        .bind(&args.content.content_hash)
        .bind(&args.content.chunker)
        .execute(&mut *tx)
        .await?;
        // A new revision of the item, not a new version: devices read the
        // new chunk list and hash without taking it for an edit.
        let revision: i64 = sqlx::query_scalar(
            "UPDATE workspaces SET revision = revision + 1 WHERE id = $1 RETURNING revision",
        )
        .bind(workspace_id)
        .fetch_one(&mut *tx)
        .await?;
        sqlx::query("UPDATE items SET revision = $2 WHERE id = $1")
            .bind(args.item_id)
            .bind(revision)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(RekeyOutcome::Rekeyed {
            revision: to_u64(revision),
        })
    }
}

/// The answer of a conversion already made by this request (same folder,
/// same new id, same owner); a different use of the id is refused.
async fn earlier_conversion(
    tx: &mut PgConnection,
    conversion: &Conversion,
) -> StoreResult<Option<ConvertedFolder>> {
    let existing: Option<(Uuid, Option<Uuid>)> =
        sqlx::query_as("SELECT owner_id, converted_from_folder FROM workspaces WHERE id = $1")
            .bind(conversion.workspace_id)
            .fetch_optional(&mut *tx)
            .await?;
    match existing {
        None => Ok(None),
        Some((owner, Some(folder)))
            if owner == conversion.owner_id && folder == conversion.folder_id =>
        {
            let source_revision: i64 = sqlx::query_scalar(
                "SELECT revision FROM item_versions WHERE item_id = $1 AND moved_to = $2",
            )
            .bind(conversion.folder_id)
            .bind(conversion.workspace_id)
            .fetch_one(&mut *tx)
            .await?;
            let workspace = member_workspace(tx, conversion.owner_id, conversion.workspace_id)
                .await?
                .ok_or_else(|| {
                    StoreError::Refused(
                        "that folder's workspace is no longer yours (its ownership was \
                         transferred)"
                            .into(),
                    )
                })?;
            Ok(Some(ConvertedFolder {
                workspace,
                source_revision: to_u64(source_revision),
            }))
        }
        Some(_) => Err(StoreError::AlreadyExists(format!(
            "the workspace id {} is already in use; retry with a new random id",
            conversion.workspace_id
        ))),
    }
}

/// Moves the folder's contents into the new workspace with their ids and
/// versions: its children become the top, every item is at revision 1, and
/// every file version keeps its chunks where they are, under the source's
/// keys, until re-keyed. Public links follow their targets.
async fn move_subtree(
    tx: &mut PgConnection,
    conversion: &Conversion,
    source_id: Uuid,
    subtree: &[Uuid],
) -> StoreResult<()> {
    let below: Vec<Uuid> = subtree
        .iter()
        .copied()
        .filter(|id| *id != conversion.folder_id)
        .collect();
    sqlx::query(
        "UPDATE items SET workspace_id = $2, revision = 1, \
             parent_id = CASE WHEN parent_id = $3 THEN NULL ELSE parent_id END \
         WHERE id = ANY($1)",
    )
    .bind(&below)
    .bind(conversion.workspace_id)
    .bind(conversion.folder_id)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "UPDATE item_versions v SET chunk_workspace = $2 FROM items i \
         WHERE v.item_id = i.id AND i.id = ANY($1) AND NOT i.is_folder \
           AND NOT v.deleted AND v.chunk_workspace IS NULL AND (v.content_hash IS NOT NULL OR v.size > 0)",
    )
    .bind(&below)
    .bind(source_id)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "UPDATE public_links SET workspace_id = $2, \
             item_id = CASE WHEN item_id = $3 THEN NULL ELSE item_id END \
         WHERE item_id = ANY($1)",
    )
    .bind(subtree)
    .bind(conversion.workspace_id)
    .bind(conversion.folder_id)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

#[derive(FromRow)]
struct RekeyRow {
    item_id: Uuid,
    version: i64,
    size: i64,
    content_hash: Option<String>,
    chunker: Option<String>,
    target_id: Uuid,
    target_container: String,
    target_account: String,
    source_id: Uuid,
    source_container: String,
    source_account: String,
}

impl RekeyRow {
    fn into_version(self) -> VersionToRekey {
        VersionToRekey {
            item_id: self.item_id,
            version: to_u64(self.version),
            target: ChunkPlace {
                workspace_id: self.target_id,
                storage_account: storage_account(&self.target_account),
                container: self.target_container,
            },
            source: ChunkPlace {
                workspace_id: self.source_id,
                storage_account: storage_account(&self.source_account),
                container: self.source_container,
            },
            content: Content {
                size: to_u64(self.size),
                content_hash: self.content_hash,
                chunks: Vec::new(),
                chunker: self.chunker,
            },
        }
    }
}
