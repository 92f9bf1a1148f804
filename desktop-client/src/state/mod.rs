//! Local state in SQLite (in the config directory): the three trees, the
//! changes cursor, a commit in flight and status lines. Saves are
//! incremental (only nodes changed since the last save) and transactional.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use async_trait::async_trait;
use nimbus_protocol::rpc::Revision;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{Row, SqliteConnection};

use crate::engine::{Handoff, ItemId, PendingCommit, StateStore, Tree, Trees};
use crate::error::{Error, is_sqlite_full};

const SCHEMA: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS nodes (
        tree TEXT NOT NULL,
        id TEXT NOT NULL,
        node TEXT NOT NULL,
        PRIMARY KEY (tree, id)
    )",
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
];

/// The meta key of the hand-offs not yet taken ([`Handoff`]).
const HANDOFFS_KEY: &str = "handoffs";

/// The state database of one linked folder.
#[derive(Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    path: PathBuf,
}

/// Everything loaded at start.
pub struct Loaded {
    pub trees: Trees,
    pub cursor: Revision,
    pub pending: Option<PendingCommit>,
    /// Folders handed off and not yet taken by their mounts.
    pub handoffs: Vec<Handoff>,
}

impl SqliteStore {
    pub async fn open(path: &Path) -> Result<Self, Error> {
        let fail = |source| state_error(path, source);
        let options = SqliteConnectOptions::from_str(&format!("sqlite://{}", path.display()))
            .map_err(fail)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal);
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options)
            .await
            .map_err(fail)?;
        for statement in SCHEMA {
            sqlx::query(*statement).execute(&pool).await.map_err(fail)?;
        }
        Ok(Self {
            pool,
            path: path.to_owned(),
        })
    }

    fn fail(&self, source: sqlx::Error) -> Error {
        state_error(&self.path, source)
    }

    pub async fn load(&self) -> Result<Loaded, Error> {
        let rows = sqlx::query("SELECT tree, node FROM nodes")
            .fetch_all(&self.pool)
            .await
            .map_err(|e| self.fail(e))?;
        let mut trees = Trees::default();
        for row in rows {
            let tree: String = row.get(0);
            let json: String = row.get(1);
            let node = serde_json::from_str(&json)
                .map_err(|e| self.fail(sqlx::Error::Decode(Box::new(e))))?;
            match tree.as_str() {
                "remote" => trees.remote.insert(node),
                "local" => trees.local.insert(node),
                _ => trees.synced.insert(node),
            }
        }
        trees.remote.clear_dirty();
        trees.local.clear_dirty();
        trees.synced.clear_dirty();
        let cursor = self
            .get("cursor")
            .await?
            .and_then(|c| c.parse().ok())
            .unwrap_or(0);
        let pending = match self.get("pending").await? {
            Some(json) => serde_json::from_str(&json).ok(),
            None => None,
        };
        let handoffs = match self.get(HANDOFFS_KEY).await? {
            Some(json) => serde_json::from_str(&json)
                .map_err(|e| self.fail(sqlx::Error::Decode(Box::new(e))))?,
            None => Vec::new(),
        };
        Ok(Loaded {
            trees,
            cursor,
            pending,
            handoffs,
        })
    }

    pub async fn get(&self, key: &str) -> Result<Option<String>, Error> {
        sqlx::query("SELECT value FROM meta WHERE key = ?")
            .bind(key)
            .fetch_optional(&self.pool)
            .await
            .map(|row| row.map(|r| r.get(0)))
            .map_err(|e| self.fail(e))
    }

    pub async fn put(&self, key: &str, value: &str) -> Result<(), Error> {
        sqlx::query("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value")
            .bind(key)
            .bind(value)
            .execute(&self.pool)
            .await
            .map(|_| ())
            .map_err(|e| self.fail(e))
    }

    pub async fn delete(&self, key: &str) -> Result<(), Error> {
        sqlx::query("DELETE FROM meta WHERE key = ?")
            .bind(key)
            .execute(&self.pool)
            .await
            .map(|_| ())
            .map_err(|e| self.fail(e))
    }

    /// Counts per tree, for `nimbus status`.
    pub async fn counts(&self) -> Result<Vec<(String, i64)>, Error> {
        let rows = sqlx::query("SELECT tree, COUNT(*) FROM nodes GROUP BY tree ORDER BY tree")
            .fetch_all(&self.pool)
            .await
            .map_err(|e| self.fail(e))?;
        Ok(rows.into_iter().map(|r| (r.get(0), r.get(1))).collect())
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// The error of the state database at `path`.
fn state_error(path: &Path, source: sqlx::Error) -> Error {
    if is_sqlite_full(&source) {
        Error::StateDiskFull {
            path: path.to_owned(),
        }
    } else {
        Error::State {
            path: path.to_owned(),
            source,
        }
    }
}

async fn write_tree(
    conn: &mut SqliteConnection,
    name: &str,
    tree: &Tree,
    dirty: &BTreeSet<ItemId>,
) -> Result<(), sqlx::Error> {
    for id in dirty {
        match tree.get(id) {
            Some(node) => {
                let json =
                    serde_json::to_string(node).map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
                sqlx::query("INSERT INTO nodes (tree, id, node) VALUES (?, ?, ?) ON CONFLICT (tree, id) DO UPDATE SET node = excluded.node")
                    .bind(name)
                    .bind(id.to_string())
                    .bind(json)
                    .execute(&mut *conn)
                    .await?;
            }
            None => {
                sqlx::query("DELETE FROM nodes WHERE tree = ? AND id = ?")
                    .bind(name)
                    .bind(id.to_string())
                    .execute(&mut *conn)
                    .await?;
            }
        }
    }
    Ok(())
}

#[async_trait]
impl StateStore for SqliteStore {
    async fn save(&self, trees: &mut Trees, cursor: Revision) -> Result<(), Error> {
        let dirty = [
            trees.remote.take_dirty(),
            trees.local.take_dirty(),
            trees.synced.take_dirty(),
        ];
        let result: Result<(), sqlx::Error> = async {
            let mut tx = self.pool.begin().await?;
            write_tree(&mut tx, "remote", &trees.remote, &dirty[0]).await?;
            write_tree(&mut tx, "local", &trees.local, &dirty[1]).await?;
            write_tree(&mut tx, "synced", &trees.synced, &dirty[2]).await?;
            sqlx::query("INSERT INTO meta (key, value) VALUES ('cursor', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value")
                .bind(cursor.to_string())
                .execute(&mut *tx)
                .await?;
            tx.commit().await
        }
        .await;
        if result.is_err() {
            // Rolled back (a full disk, say): the next save writes them.
            let [remote, local, synced] = dirty;
            trees.remote.restore_dirty(remote);
            trees.local.restore_dirty(local);
            trees.synced.restore_dirty(synced);
        }
        result.map_err(|e| self.fail(e))
    }

    async fn set_pending(&self, pending: Option<&PendingCommit>) -> Result<(), Error> {
        match pending {
            Some(p) => {
                let json = serde_json::to_string(p)
                    .map_err(|e| self.fail(sqlx::Error::Encode(Box::new(e))))?;
                self.put("pending", &json).await
            }
            None => self.delete("pending").await,
        }
    }

    async fn set_handoffs(&self, handoffs: &[Handoff]) -> Result<(), Error> {
        if handoffs.is_empty() {
            return self.delete(HANDOFFS_KEY).await;
        }
        let json = serde_json::to_string(handoffs)
            .map_err(|e| self.fail(sqlx::Error::Encode(Box::new(e))))?;
        self.put(HANDOFFS_KEY, &json).await
    }

    async fn set_status(&self, key: &str, value: &str) -> Result<(), Error> {
        self.put(&format!("status.{key}"), value).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::Node;
    use uuid::Uuid;

    #[tokio::test]
    async fn trees_cursor_and_pending_survive_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.db");
        let store = SqliteStore::open(&path).await.unwrap();
        let mut trees = Trees::default();
        let node = Node {
            id: Uuid::from_u128(7),
            parent: None,
            name: "naïve.txt".into(),
            is_folder: false,
            size: 3,
            hash: Some("blake3:00".into()),
            version: 2,
            mtime: 5,
            inode: 9,
            chunks: vec![],
            chunker: None,
            chunk_workspace: None,
        };
        trees.remote.insert(node.clone());
        trees.synced.insert(node.clone());
        trees.local.insert(node.clone());
        store.save(&mut trees, 42).await.unwrap();
        trees.local.remove(&node.id);
        store.save(&mut trees, 43).await.unwrap();
        let pending = PendingCommit {
            request_id: Uuid::from_u128(1),
            items: vec![],
        };
        store.set_pending(Some(&pending)).await.unwrap();
        store.close().await;

        let reopened = SqliteStore::open(&path).await.unwrap();
        let loaded = reopened.load().await.unwrap();
        assert_eq!(loaded.cursor, 43);
        assert_eq!(loaded.trees.remote.get(&node.id), Some(&node));
        assert!(loaded.trees.local.is_empty());
        assert_eq!(loaded.pending, Some(pending));
    }
}
