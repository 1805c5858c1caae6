//! Isolated databases for tests.
//!
//! `KASSA_TEST_DATABASE_URL` picks the backend: unset or `sqlite`, a fresh SQLite file in a
//! temporary folder; `postgres://…/db`, a fresh PostgreSQL database on that server, cloned from a
//! template that is migrated once per schema version (so each test starts in milliseconds). The
//! database is dropped when the [`TestDb`] is.
//!
//! When `KASSA_TEST_PG_MARKER` names a file, every PostgreSQL database made appends a line to it,
//! so a CI script can prove the PostgreSQL run happened.

use crate::sql;
use std::io::Write;

use crate::{StorageError, Store};

pub struct TestDb {
    pub url: String,
    admin_url: Option<String>,
    name: Option<String>,
    _dir: Option<tempfile::TempDir>,
}

fn random_suffix() -> String {
    let mut b = [0u8; 8];
    let _ = getrandom::getrandom(&mut b);
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// One connection to the server for administration (CREATE / DROP DATABASE), outside any pool.
struct Admin {
    client: tokio_postgres::Client,
    task: tokio::task::JoinHandle<()>,
}

impl Admin {
    async fn connect(url: &str) -> Result<Admin, StorageError> {
        let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls).await?;
        let task = tokio::spawn(async move {
            let _ = connection.await;
        });
        Ok(Admin { client, task })
    }

    async fn execute(&self, sql: &str) -> Result<(), StorageError> {
        Ok(self.client.batch_execute(sql).await?)
    }

    async fn close(self) {
        drop(self.client);
        let _ = self.task.await;
    }
}

fn with_db(url: &str, db: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, format!("?{q}")),
        None => (url, String::new()),
    };
    let root = match base.rfind('/') {
        Some(i) if i > "postgres://".len() => &base[..i],
        _ => base,
    };
    format!("{root}/{db}{query}")
}

impl TestDb {
    /// The backend the suite runs against.
    pub fn configured_url() -> Option<String> {
        std::env::var("KASSA_TEST_DATABASE_URL")
            .ok()
            .filter(|u| u.starts_with("postgres"))
    }

    pub async fn create() -> Result<TestDb, StorageError> {
        match Self::configured_url() {
            None => {
                let dir =
                    tempfile::tempdir().map_err(|e| StorageError::Migration(e.to_string()))?;
                let url = format!("sqlite://{}/kassa.db", dir.path().display());
                let store = Store::connect(&url).await?;
                store.migrate().await?;
                store.close().await;
                Ok(TestDb {
                    url,
                    admin_url: None,
                    name: None,
                    _dir: Some(dir),
                })
            }
            Some(admin_url) => Self::create_postgres(admin_url).await,
        }
    }

    /// A fresh, migrated PostgreSQL database on the server `admin_url` reaches, made without
    /// the template (for a test's own short-lived cluster).
    pub async fn create_postgres_untemplated(admin_url: String) -> Result<TestDb, StorageError> {
        let name = format!("kassa_t_{}", random_suffix());
        let admin = Admin::connect(&admin_url).await?;
        admin.execute(&format!("CREATE DATABASE {name}")).await?;
        admin.close().await;
        let url = with_db(&admin_url, &name);
        let store = Store::connect(&url).await?;
        store.migrate().await?;
        store.close().await;
        Ok(TestDb {
            url,
            admin_url: Some(admin_url),
            name: Some(name),
            _dir: None,
        })
    }

    async fn create_postgres(admin_url: String) -> Result<TestDb, StorageError> {
        let template = format!("kassa_tpl_{}", crate::migrate::fingerprint());
        let name = format!("kassa_t_{}", random_suffix());
        let admin = Admin::connect(&admin_url).await?;
        admin.execute("SELECT pg_advisory_lock(7365420)").await?;
        let exists = admin
            .client
            .query_one(
                "SELECT COUNT(*) AS n FROM pg_database WHERE datname = $1",
                &[&template],
            )
            .await?
            .try_get::<_, i64>("n")?
            > 0;
        if !exists {
            let building = format!("{template}_building");
            admin
                .execute(&format!("DROP DATABASE IF EXISTS {building}"))
                .await?;
            admin
                .execute(&format!("CREATE DATABASE {building}"))
                .await?;
            let store = Store::connect(&with_db(&admin_url, &building)).await?;
            store.migrate().await?;
            store.close().await;
            admin
                .execute(&format!("ALTER DATABASE {building} RENAME TO {template}"))
                .await?;
        }
        let created = admin
            .execute(&format!("CREATE DATABASE {name} TEMPLATE {template}"))
            .await;
        admin.execute("SELECT pg_advisory_unlock(7365420)").await?;
        created?;
        admin.close().await;
        if let Ok(marker) = std::env::var("KASSA_TEST_PG_MARKER") {
            if let Ok(mut f) = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(marker)
            {
                let _ = writeln!(f, "{name}");
            }
        }
        Ok(TestDb {
            url: with_db(&admin_url, &name),
            admin_url: Some(admin_url),
            name: Some(name),
            _dir: None,
        })
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let (Some(admin_url), Some(name)) = (self.admin_url.take(), self.name.take()) else {
            return;
        };
        // Drop runs outside any async context we could borrow; use a small runtime of its own.
        let _ = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async move {
                if let Ok(admin) = Admin::connect(&admin_url).await {
                    let _ = admin
                        .execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .await;
                    admin.close().await;
                }
            });
        })
        .join();
    }
}

/// Every row of every Kassa table as text, as a database dump would show it: for tests that
/// check what is (not) stored in the clear.
pub async fn dump(store: &Store) -> Result<String, StorageError> {
    let tables = [
        "meta",
        "clients",
        "api_keys",
        "gateways",
        "collection_groups",
        "audit_events",
        "idempotency_keys",
    ];
    let mut out = String::new();
    for t in tables {
        let rows = sql::query(&format!("SELECT * FROM {t}"))
            .fetch_all(&store.pool)
            .await?;
        for row in rows {
            out.push_str(t);
            for (col, value) in row.columns().iter().zip(row.values()) {
                let text = match value {
                    sql::Value::Null => String::new(),
                    sql::Value::Int(n) => n.to_string(),
                    sql::Value::Real(x) => x.to_string(),
                    sql::Value::Text(s) => s.clone(),
                    sql::Value::Blob(b) => String::from_utf8_lossy(b).into_owned(),
                };
                out.push_str(&format!(" {col}={text}"));
            }
            out.push('\n');
        }
    }
    Ok(out)
}

/// Runs one SQL statement: for tests that stage what a crash would leave behind.
pub async fn execute(store: &Store, sql: &str) -> Result<u64, StorageError> {
    let n = sql::query(sql)
        .execute(&store.writer)
        .await?
        .rows_affected();
    // It may have changed a cached table.
    store.cache.invalidate();
    Ok(n)
}

/// The one number a test's `SELECT COUNT(*) AS n …` (or other `n`) answers.
pub async fn scalar(store: &Store, sql: &str) -> Result<i64, StorageError> {
    let row = sql::query(sql).fetch_one(&store.pool).await?;
    row.try_get::<i64, _>("n")
}

#[cfg(test)]
mod tests {
    use super::with_db;

    #[test]
    fn swaps_database_name() {
        assert_eq!(
            with_db("postgres://postgres@127.0.0.1:5432/test", "x"),
            "postgres://postgres@127.0.0.1:5432/x"
        );
        assert_eq!(
            with_db("postgres://u:p@h/test?sslmode=disable", "x"),
            "postgres://u:p@h/x?sslmode=disable"
        );
    }
}
