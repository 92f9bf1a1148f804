//! The state of the web UI's resumable uploads, kept in the proxy's
//! database (`upload_sessions`, `upload_session_chunks`) so that an upload
//! survives a dropped connection, a page reload and a proxy restart, and is
//! shared by every proxy on the same database.
//!
//! A session holds the chunks stored so far (their ids and sizes, in file
//! order; the chunk objects themselves are in the workspace's container) and
//! the bytes received after the last of them, not yet cut into a chunk (at
//! most [`MAX_TAIL`]). Progress is saved with a compare-and-set on that
//! position, so two requests racing on one session cannot both advance it.
//!
//! The keyed content hash of the file cannot be saved (BLAKE3 has no
//! serializable state), so each proxy keeps the hasher of the sessions whose
//! bytes it saw, and finishing a session it does not have the hasher of (the
//! proxy restarted, or another proxy took the earlier requests) reads the
//! stored chunks back once to compute it.
//!
//! Sessions expire [`UploadSessions::ttl`] after their last progress; expired
//! ones are refused at once and deleted, with their unchunked bytes, by
//! [`expire_periodically`].
//!
//! Finishing a session is exclusive ([`UploadSessions::claim`]): its row
//! stays locked from before the commit until the result is recorded, so a
//! second finish of the same session (a retry whose first answer was lost,
//! or a second tab) waits, then answers the recorded result instead of
//! committing the file again.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use nimbus_chunks::ContentHasher;
use nimbus_protocol::rpc::ChunkRef;
use sqlx::postgres::PgPoolOptions;
use sqlx::{PgPool, Postgres, Transaction};
use uuid::Uuid;

/// The most unchunked bytes a session keeps. After a clean request they are
/// at most one chunk; a request cut short may leave more received, of which
/// only this much is kept (any prefix is a valid place to continue from).
pub const MAX_TAIL: usize = 4 * 1024 * 1024;

/// What a browser asks to upload.
#[derive(Debug, Clone)]
pub struct NewSession {
    pub user_id: Uuid,
    pub workspace_id: Uuid,
    pub parent_id: Option<Uuid>,
    pub path: String,
    pub size: u64,
    pub modified_at: i64,
}

/// A session as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SessionRow {
    pub id: Uuid,
    pub workspace_id: Uuid,
    pub parent_id: Option<Uuid>,
    pub path: String,
    pub size: i64,
    pub modified_at: i64,
    pub chunked: i64,
    pub tail: Vec<u8>,
    /// Set once finishing committed the file: the item and its final name.
    pub finished_item: Option<Uuid>,
    pub finished_name: Option<String>,
}

impl SessionRow {
    pub fn size(&self) -> u64 {
        u64::try_from(self.size).unwrap_or(0)
    }

    pub fn chunked(&self) -> u64 {
        u64::try_from(self.chunked).unwrap_or(0)
    }

    /// Where the next bytes go: everything before is saved.
    pub fn offset(&self) -> u64 {
        self.chunked() + self.tail.len() as u64
    }
}

/// A session claimed for finishing: its row locked until the claim is
/// recorded ([`UploadSessions::finished`], [`UploadSessions::skipped`]) or
/// dropped (the transaction rolls back, and the next finish may try).
pub struct FinishClaim {
    tx: Transaction<'static, Postgres>,
    /// The session as it is now that no other finish can change it.
    pub row: SessionRow,
}

/// The columns of a [`SessionRow`], for `concat!` (queries are static text).
macro_rules! columns {
    () => {
        "id, workspace_id, parent_id, path, size, modified_at, chunked, tail, finished_item, \
         finished_name"
    };
}

pub struct UploadSessions {
    pool: PgPool,
    ttl: Duration,
    /// This proxy's content hashers, by session, each covering the session's
    /// chunked bytes.
    hashers: Mutex<HashMap<Uuid, ContentHasher>>,
}

fn as_sql(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

impl UploadSessions {
    /// Connects to the proxy's database, whose migrations the object index
    /// applies.
    pub async fn connect(database_url: &str, ttl: Duration) -> Result<Self, sqlx::Error> {
        let pool = PgPoolOptions::new()
            .max_connections(4)
            .connect(database_url)
            .await?;
        Ok(Self {
            pool,
            ttl,
            hashers: Mutex::new(HashMap::new()),
        })
    }

    /// How long a session lasts after its last progress.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    fn ttl_secs(&self) -> f64 {
        self.ttl.as_secs_f64()
    }

    /// The caller's unexpired, unfinished session for the same file (same
    /// place, size and modification time), so that picking the file again
    /// after a reload resumes it, or else a new one.
    pub async fn open(&self, new: &NewSession) -> Result<SessionRow, sqlx::Error> {
        let existing = sqlx::query_as::<_, SessionRow>(concat!(
            "SELECT ",
            columns!(),
            " FROM upload_sessions \
             WHERE user_id = $1 AND workspace_id = $2 AND parent_id IS NOT DISTINCT FROM $3 \
               AND path = $4 AND size = $5 AND modified_at = $6 \
               AND finished_item IS NULL AND expires_at > now() \
             ORDER BY chunked DESC LIMIT 1"
        ))
        .bind(new.user_id)
        .bind(new.workspace_id)
        .bind(new.parent_id)
        .bind(&new.path)
        .bind(as_sql(new.size))
        .bind(new.modified_at)
        .fetch_optional(&self.pool)
        .await?;
        if let Some(row) = existing {
            return Ok(row);
        }
        sqlx::query_as::<_, SessionRow>(concat!(
            "INSERT INTO upload_sessions \
               (id, user_id, workspace_id, parent_id, path, size, modified_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, now() + make_interval(secs => $8)) \
             RETURNING ",
            columns!()
        ))
        .bind(Uuid::now_v7())
        .bind(new.user_id)
        .bind(new.workspace_id)
        .bind(new.parent_id)
        .bind(&new.path)
        .bind(as_sql(new.size))
        .bind(new.modified_at)
        .bind(self.ttl_secs())
        .fetch_one(&self.pool)
        .await
    }

    /// The unexpired session `id` of `user_id`; another user's is `None`
    /// like one that does not exist.
    pub async fn get(&self, id: Uuid, user_id: Uuid) -> Result<Option<SessionRow>, sqlx::Error> {
        sqlx::query_as::<_, SessionRow>(concat!(
            "SELECT ",
            columns!(),
            " FROM upload_sessions WHERE id = $1 AND user_id = $2 AND expires_at > now()"
        ))
        .bind(id)
        .bind(user_id)
        .fetch_optional(&self.pool)
        .await
    }

    /// The chunks stored so far, in file order.
    pub async fn chunks(&self, id: Uuid) -> Result<Vec<ChunkRef>, sqlx::Error> {
        let rows: Vec<(String, i64)> = sqlx::query_as(
            "SELECT chunk_id, size FROM upload_session_chunks WHERE session_id = $1 ORDER BY seq",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(id, size)| ChunkRef {
                id,
                size: u32::try_from(size).unwrap_or(0),
            })
            .collect())
    }

    /// Saves progress made from `from`: `chunks` stored after its chunked
    /// bytes, then `tail`. Returns false, saving nothing, when the session
    /// is no longer at `from` (another request advanced it, or it is gone).
    pub async fn advance(
        &self,
        from: &SessionRow,
        chunks: &[ChunkRef],
        tail: &[u8],
    ) -> Result<bool, sqlx::Error> {
        let added: u64 = chunks.iter().map(|c| u64::from(c.size)).sum();
        let mut tx = self.pool.begin().await?;
        let updated = sqlx::query(
            "UPDATE upload_sessions \
             SET chunked = chunked + $2, tail = $3, expires_at = now() + make_interval(secs => $4) \
             WHERE id = $1 AND chunked = $5 AND length(tail) = $6 AND finished_item IS NULL \
               AND expires_at > now()",
        )
        .bind(from.id)
        .bind(as_sql(added))
        .bind(tail)
        .bind(self.ttl_secs())
        .bind(from.chunked)
        .bind(as_sql(from.tail.len() as u64))
        .execute(&mut *tx)
        .await?;
        if updated.rows_affected() != 1 {
            return Ok(false);
        }
        let first: i32 = sqlx::query_scalar(
            "SELECT coalesce(max(seq) + 1, 0) FROM upload_session_chunks WHERE session_id = $1",
        )
        .bind(from.id)
        .fetch_one(&mut *tx)
        .await?;
        let ids: Vec<&str> = chunks.iter().map(|c| c.id.as_str()).collect();
        let sizes: Vec<i64> = chunks.iter().map(|c| i64::from(c.size)).collect();
        sqlx::query(
            "INSERT INTO upload_session_chunks (session_id, seq, chunk_id, size) \
             SELECT $1, $2 + c.n::integer - 1, c.chunk_id, c.size \
             FROM unnest($3::text[], $4::bigint[]) WITH ORDINALITY AS c (chunk_id, size, n)",
        )
        .bind(from.id)
        .bind(first)
        .bind(&ids)
        .bind(&sizes)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Claims the unexpired session `id` of `user_id` for finishing, waiting
    /// while another finish holds it; `None` when there is no such session
    /// (any more). Another finish holds it for one commit to the metadata
    /// servers; after 30 s of waiting this fails with PostgreSQL's
    /// `lock_not_available` rather than hold the request longer.
    pub async fn claim(&self, id: Uuid, user_id: Uuid) -> Result<Option<FinishClaim>, sqlx::Error> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("SET LOCAL lock_timeout = '30s'")
            .execute(&mut *tx)
            .await?;
        let row = sqlx::query_as::<_, SessionRow>(concat!(
            "SELECT ",
            columns!(),
            " FROM upload_sessions WHERE id = $1 AND user_id = $2 AND expires_at > now() \
             FOR UPDATE"
        ))
        .bind(id)
        .bind(user_id)
        .fetch_optional(&mut *tx)
        .await?;
        Ok(row.map(|row| FinishClaim { tx, row }))
    }

    /// Records that the claimed session's file was committed as `item`
    /// named `name`, dropping what it no longer needs, and ends the claim;
    /// finishing again answers the same.
    pub async fn finished(
        &self,
        claim: FinishClaim,
        item: Uuid,
        name: &str,
    ) -> Result<(), sqlx::Error> {
        let FinishClaim { mut tx, row } = claim;
        sqlx::query("DELETE FROM upload_session_chunks WHERE session_id = $1")
            .bind(row.id)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "UPDATE upload_sessions SET finished_item = $2, finished_name = $3, tail = '\\x' \
             WHERE id = $1",
        )
        .bind(row.id)
        .bind(item)
        .bind(name)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        self.forget_hasher(row.id);
        Ok(())
    }

    /// Ends the claimed session without committing its file (the user
    /// skipped it).
    pub async fn skipped(&self, claim: FinishClaim) -> Result<(), sqlx::Error> {
        let FinishClaim { mut tx, row } = claim;
        sqlx::query("DELETE FROM upload_sessions WHERE id = $1")
            .bind(row.id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        self.forget_hasher(row.id);
        Ok(())
    }

    /// Deletes the session `id` of `user_id`; false when there is none.
    pub async fn delete(&self, id: Uuid, user_id: Uuid) -> Result<bool, sqlx::Error> {
        let deleted = sqlx::query("DELETE FROM upload_sessions WHERE id = $1 AND user_id = $2")
            .bind(id)
            .bind(user_id)
            .execute(&self.pool)
            .await?;
        self.forget_hasher(id);
        Ok(deleted.rows_affected() == 1)
    }

    /// Deletes the expired sessions with what they kept; returns how many.
    pub async fn delete_expired(&self) -> Result<u64, sqlx::Error> {
        let ids: Vec<Uuid> = sqlx::query_scalar(
            "DELETE FROM upload_sessions WHERE expires_at <= now() RETURNING id",
        )
        .fetch_all(&self.pool)
        .await?;
        for id in &ids {
            self.forget_hasher(*id);
        }
        Ok(ids.len() as u64)
    }

    /// This proxy's hasher of session `row`, when it covers exactly its
    /// chunked bytes.
    pub fn hasher(&self, row: &SessionRow) -> Option<ContentHasher> {
        self.lock_hashers()
            .get(&row.id)
            .filter(|hasher| hasher.len() == row.chunked())
            .cloned()
    }

    pub fn keep_hasher(&self, id: Uuid, hasher: ContentHasher) {
        self.lock_hashers().insert(id, hasher);
    }

    pub fn forget_hasher(&self, id: Uuid) {
        self.lock_hashers().remove(&id);
    }

    fn lock_hashers(&self) -> std::sync::MutexGuard<'_, HashMap<Uuid, ContentHasher>> {
        // A panic while holding it cannot leave a map half-updated.
        self.hashers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Deletes expired sessions every `every`, until the task is dropped.
pub async fn expire_periodically(sessions: Arc<UploadSessions>, every: Duration) {
    let mut ticks = tokio::time::interval(every);
    loop {
        ticks.tick().await;
        match sessions.delete_expired().await {
            Ok(0) => {}
            Ok(expired) => tracing::info!(expired, "deleted expired upload sessions"),
            Err(error) => tracing::warn!(%error, "deleting expired upload sessions failed"),
        }
    }
}
