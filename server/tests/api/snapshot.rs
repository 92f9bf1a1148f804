//! Every row of every table of a database, to show that a refused request
//! changed nothing. The tables come from the database itself, so a table
//! added later is compared too. Shared with the proxy's tests (`#[path]`),
//! which compare its object index the same way.

use std::collections::{BTreeMap, BTreeSet};

use sqlx::{Connection, PgConnection};

/// Columns that change on reads, by design: a device's `last_seen_at`, and
/// the failed-login counters that throttle password guessing.
const VOLATILE_COLUMNS: &[&str] = &["last_seen_at", "failed_logins", "last_failed_login_at"];

/// Tables of bookkeeping that a refused request may write: OAuth nonces are
/// recorded before the signature is judged, so that a replay is refused;
/// the audit log records refused sign-ins (tests/api/audit.rs shows that
/// other refusals leave no record).
const BOOKKEEPING_TABLES: &[&str] = &["_sqlx_migrations", "audit_log", "oauth_nonces"];

/// Table name → its rows as JSON (without [`VOLATILE_COLUMNS`]), sorted.
pub type DatabaseSnapshot = BTreeMap<String, Vec<String>>;

pub async fn database_snapshot(database_url: &str) -> DatabaseSnapshot {
    let mut connection = PgConnection::connect(database_url)
        .await
        .expect("connect to the database to snapshot");
    let tables: Vec<(String,)> = sqlx::query_as(
        "SELECT table_name::text FROM information_schema.tables \
         WHERE table_schema = 'public' AND table_type = 'BASE TABLE' \
           AND NOT (table_name = ANY($1)) \
         ORDER BY table_name",
    )
    .bind(BOOKKEEPING_TABLES)
    .fetch_all(&mut connection)
    .await
    .expect("list the tables");
    let mut snapshot = DatabaseSnapshot::new();
    for (table,) in tables {
        let rows: Vec<(String,)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            r#"SELECT (to_jsonb(t) - $1::text[])::text FROM "{table}" t"#
        )))
        .bind(VOLATILE_COLUMNS)
        .fetch_all(&mut connection)
        .await
        .expect("read a table");
        let mut rows: Vec<String> = rows.into_iter().map(|(row,)| row).collect();
        rows.sort();
        snapshot.insert(table, rows);
    }
    snapshot
}

/// Panics with the rows that differ, naming `what` changed them.
pub fn assert_unchanged(before: &DatabaseSnapshot, after: &DatabaseSnapshot, what: &str) {
    let tables: BTreeSet<&String> = before.keys().chain(after.keys()).collect();
    let mut changes = Vec::new();
    for table in tables {
        let rows = |snapshot: &DatabaseSnapshot| -> BTreeSet<String> {
            snapshot.get(table).into_iter().flatten().cloned().collect()
        };
        let (old, new) = (rows(before), rows(after));
        changes.extend(old.difference(&new).map(|row| format!("{table}: - {row}")));
        changes.extend(new.difference(&old).map(|row| format!("{table}: + {row}")));
    }
    assert!(
        changes.is_empty(),
        "{what} was refused but changed:\n{}",
        changes.join("\n")
    );
}
