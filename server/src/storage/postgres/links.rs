//! Public links on PostgreSQL. A link's status is computed on every read
//! from the link row, its target, and its creator's membership, so that
//! nothing has to be updated for a link to die when any of them ends.

use nimbus_protocol::rpc::{LinkInfo, LinkStatus};
use sqlx::FromRow;
use uuid::Uuid;

use super::{PgStore, insert_audit, to_i64, to_u64};
use crate::storage::{Audit, LinkRecord, NewLink, StoreError, StoreResult};

/// Links `l` with their target's name and status. Callers append conditions
/// and the order.
macro_rules! links {
    () => {
        concat!(
            "SELECT l.id, l.workspace_id, l.item_id, l.creator_id, u.username AS creator_name, \
                    coalesce(i.name, m.mount_name, w.name) AS name, \
                    coalesce(i.is_folder, true) AS is_folder, l.password_hash, ",
            millis!("l.created_at"),
            " AS created_at, ",
            millis!("l.expires_at"),
            " AS expires_at, l.max_downloads, l.downloads, l.failed_attempts, ",
            millis!("l.last_failed_at"),
            " AS last_failed_at, \
                    CASE WHEN l.revoked_at IS NOT NULL THEN 'revoked' \
                         WHEN l.expires_at <= now() THEN 'expired' \
                         WHEN l.downloads >= l.max_downloads THEN 'used_up' \
                         WHEN i.deleted THEN 'target_deleted' \
                         WHEN m.user_id IS NULL OR u.disabled THEN 'creator_lost_access' \
                         ELSE 'active' END AS status \
             FROM public_links l \
             JOIN workspaces w ON w.id = l.workspace_id \
             JOIN users u ON u.id = l.creator_id \
             LEFT JOIN items i ON i.id = l.item_id \
             LEFT JOIN workspace_members m \
                    ON m.workspace_id = l.workspace_id AND m.user_id = l.creator_id "
        )
    };
}

#[derive(FromRow)]
struct LinkRow {
    id: Uuid,
    workspace_id: Uuid,
    item_id: Option<Uuid>,
    creator_id: Uuid,
    creator_name: String,
    name: String,
    is_folder: bool,
    password_hash: Option<String>,
    created_at: i64,
    expires_at: Option<i64>,
    max_downloads: Option<i64>,
    downloads: i64,
    failed_attempts: i32,
    last_failed_at: Option<i64>,
    status: String,
}

fn parse_status(status: &str) -> StoreResult<LinkStatus> {
    Ok(match status {
        "active" => LinkStatus::Active,
        "revoked" => LinkStatus::Revoked,
        "expired" => LinkStatus::Expired,
        "used_up" => LinkStatus::UsedUp,
        "target_deleted" => LinkStatus::TargetDeleted,
        "creator_lost_access" => LinkStatus::CreatorLostAccess,
        other => return Err(StoreError::Corrupt(format!("unknown link status {other}"))),
    })
}

impl LinkRow {
    fn into_record(self) -> StoreResult<LinkRecord> {
        Ok(LinkRecord {
            info: LinkInfo {
                link_id: self.id,
                workspace_id: self.workspace_id,
                item_id: self.item_id,
                name: self.name,
                is_folder: self.is_folder,
                has_password: self.password_hash.is_some(),
                created_at: self.created_at,
                expires_at: self.expires_at,
                max_downloads: self.max_downloads.map(to_u64),
                downloads: to_u64(self.downloads),
                status: parse_status(&self.status)?,
            },
            creator_id: self.creator_id,
            creator_name: self.creator_name,
            password_hash: self.password_hash,
            failed_attempts: u32::try_from(self.failed_attempts).unwrap_or(0),
            last_failed_at: self.last_failed_at,
        })
    }
}

fn into_infos(rows: Vec<LinkRow>) -> StoreResult<Vec<LinkInfo>> {
    rows.into_iter()
        .map(|row| row.into_record().map(|record| record.info))
        .collect()
}

/// `audit` about a link: its workspace, its creator as the target, its id
/// and what it publishes (never its token).
fn link_audit(audit: &Audit, link: &LinkRow) -> Audit {
    audit
        .clone()
        .workspace(link.workspace_id)
        .target(&link.creator_name)
        .detail(format!(
            "link {} to {:?}{}",
            link.id,
            link.name,
            if link.password_hash.is_some() {
                " with a password"
            } else {
                ""
            }
        ))
}

impl PgStore {
    pub(super) async fn create_link_impl(
        &self,
        link: NewLink<'_>,
        audit: &Audit,
    ) -> StoreResult<LinkInfo> {
        let mut tx = self.pool.begin().await?;
        if let Some(item_id) = link.item_id {
            let live: Option<bool> = sqlx::query_scalar(
                "SELECT NOT deleted FROM items WHERE id = $1 AND workspace_id = $2 FOR SHARE",
            )
            .bind(item_id)
            .bind(link.workspace_id)
            .fetch_optional(&mut *tx)
            .await?;
            if live != Some(true) {
                return Err(StoreError::Refused(format!(
                    "{item_id} is not a live file or folder of this workspace"
                )));
            }
        }
        sqlx::query(
            "INSERT INTO public_links (id, token_hash, creator_id, workspace_id, item_id, \
                 password_hash, expires_at, max_downloads) \
             VALUES ($1, $2, $3, $4, $5, $6, to_timestamp($7::float8 / 1000), $8)",
        )
        .bind(link.id)
        .bind(&link.token_hash[..])
        .bind(link.creator_id)
        .bind(link.workspace_id)
        .bind(link.item_id)
        .bind(link.password_hash)
        .bind(link.expires_at.map(|ms| ms as f64))
        .bind(link.max_downloads.map(to_i64))
        .execute(&mut *tx)
        .await?;
        let row: LinkRow = sqlx::query_as(concat!(links!(), "WHERE l.id = $1"))
            .bind(link.id)
            .fetch_one(&mut *tx)
            .await?;
        insert_audit(&mut tx, &link_audit(audit, &row)).await?;
        tx.commit().await?;
        Ok(row.into_record()?.info)
    }

    pub(super) async fn links_of_impl(&self, creator_id: Uuid) -> StoreResult<Vec<LinkInfo>> {
        let rows: Vec<LinkRow> = sqlx::query_as(concat!(
            links!(),
            "WHERE l.creator_id = $1 ORDER BY l.created_at DESC, l.id"
        ))
        .bind(creator_id)
        .fetch_all(&self.pool)
        .await?;
        into_infos(rows)
    }

    pub(super) async fn all_links_impl(&self) -> StoreResult<Vec<LinkRecord>> {
        let rows: Vec<LinkRow> =
            sqlx::query_as(concat!(links!(), "ORDER BY l.created_at DESC, l.id"))
                .fetch_all(&self.pool)
                .await?;
        rows.into_iter().map(LinkRow::into_record).collect()
    }

    pub(super) async fn count_links_impl(&self, creator: Option<&str>) -> StoreResult<u64> {
        let count: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM public_links l JOIN users u ON u.id = l.creator_id \
             WHERE $1::text IS NULL OR u.username = $1",
        )
        .bind(creator)
        .fetch_one(&self.pool)
        .await?;
        Ok(to_u64(count))
    }

    pub(super) async fn links_page_impl(
        &self,
        creator: Option<&str>,
        offset: u64,
        limit: u32,
    ) -> StoreResult<Vec<LinkRecord>> {
        let rows: Vec<LinkRow> = sqlx::query_as(concat!(
            links!(),
            "WHERE $1::text IS NULL OR u.username = $1 \
             ORDER BY l.created_at DESC, l.id OFFSET $2 LIMIT $3"
        ))
        .bind(creator)
        .bind(to_i64(offset))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(LinkRow::into_record).collect()
    }

    pub(super) async fn revoke_link_impl(
        &self,
        link_id: Uuid,
        creator_id: Option<Uuid>,
        audit: &Audit,
    ) -> StoreResult<Option<LinkInfo>> {
        let mut tx = self.pool.begin().await?;
        let found: Option<Uuid> = sqlx::query_scalar(
            "UPDATE public_links SET revoked_at = coalesce(revoked_at, now()) \
             WHERE id = $1 AND ($2::uuid IS NULL OR creator_id = $2) RETURNING id",
        )
        .bind(link_id)
        .bind(creator_id)
        .fetch_optional(&mut *tx)
        .await?;
        if found.is_none() {
            return Ok(None);
        }
        let row: LinkRow = sqlx::query_as(concat!(links!(), "WHERE l.id = $1"))
            .bind(link_id)
            .fetch_one(&mut *tx)
            .await?;
        insert_audit(&mut tx, &link_audit(audit, &row)).await?;
        tx.commit().await?;
        row.into_record().map(|record| Some(record.info))
    }

    pub(super) async fn link_by_token_impl(
        &self,
        token_hash: &[u8; 32],
    ) -> StoreResult<Option<LinkRecord>> {
        let row: Option<LinkRow> = sqlx::query_as(concat!(links!(), "WHERE l.token_hash = $1"))
            .bind(&token_hash[..])
            .fetch_optional(&self.pool)
            .await?;
        row.map(LinkRow::into_record).transpose()
    }

    pub(super) async fn record_link_failure_impl(&self, link_id: Uuid) -> StoreResult<()> {
        sqlx::query(
            "UPDATE public_links SET failed_attempts = failed_attempts + 1, \
                 last_failed_at = now() WHERE id = $1",
        )
        .bind(link_id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub(super) async fn clear_link_failures_impl(&self, link_id: Uuid) -> StoreResult<()> {
        sqlx::query(
            "UPDATE public_links SET failed_attempts = 0, last_failed_at = NULL \
             WHERE id = $1 AND failed_attempts > 0",
        )
        .bind(link_id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub(super) async fn count_link_download_impl(&self, link_id: Uuid) -> StoreResult<bool> {
        let counted = sqlx::query(
            "UPDATE public_links SET downloads = downloads + 1 \
             WHERE id = $1 AND revoked_at IS NULL \
               AND (max_downloads IS NULL OR downloads < max_downloads)",
        )
        .bind(link_id)
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(counted == 1)
    }

    pub(super) async fn is_within_impl(
        &self,
        workspace_id: Uuid,
        root: Option<Uuid>,
        item_id: Uuid,
    ) -> StoreResult<bool> {
        // Walks up from the item through live folders; a deleted folder on
        // the way means the item is not reachable from the link.
        let within: bool = sqlx::query_scalar(
            "WITH RECURSIVE up (id, parent_id) AS ( \
                 SELECT id, parent_id FROM items \
                 WHERE id = $2 AND workspace_id = $1 AND NOT deleted \
                 UNION ALL \
                 SELECT i.id, i.parent_id FROM items i JOIN up ON i.id = up.parent_id \
                 WHERE NOT i.deleted AND up.id IS DISTINCT FROM $3 \
             ) \
             SELECT CASE WHEN $3::uuid IS NULL \
                         THEN EXISTS (SELECT 1 FROM up WHERE parent_id IS NULL) \
                         ELSE EXISTS (SELECT 1 FROM up WHERE id = $3) END",
        )
        .bind(workspace_id)
        .bind(item_id)
        .bind(root)
        .fetch_one(&self.pool)
        .await?;
        Ok(within)
    }
}
