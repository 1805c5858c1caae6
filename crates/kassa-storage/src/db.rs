use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, Executor, Row};
use std::sync::Arc;
use std::time::Duration;

use crate::cache::ReadCache;
use crate::StorageError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn from_url(url: &str) -> Result<Self, StorageError> {
        if url.starts_with("sqlite:") {
            Ok(Backend::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Backend::Postgres)
        } else {
            Err(StorageError::Migration(format!(
                "unsupported database URL `{}`: use sqlite://FILE or postgres://…",
                redact_url(url)
            )))
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

/// A database URL with any password replaced, for messages and logs.
pub fn redact_url(url: &str) -> String {
    if let Some((scheme, rest)) = url.split_once("://") {
        if let Some((cred, host)) = rest.split_once('@') {
            if let Some((user, _)) = cred.split_once(':') {
                return format!("{scheme}://{user}:***@{host}");
            }
        }
    }
    url.to_string()
}

/// The database: connection pools and which backend it is.
///
/// Statements that write go through `writer`, the rest through `pool`. On PostgreSQL they are the
/// same pool. On SQLite, which lets one connection write at a time, `writer` is a pool of one
/// connection: writers queue in the pool (first come, first served) instead of colliding on the
/// file's lock and sleeping in SQLite's busy handler, and readers (WAL) never wait for them.
#[derive(Clone, Debug)]
pub struct Store {
    pub(crate) pool: AnyPool,
    pub(crate) writer: AnyPool,
    backend: Backend,
    pub(crate) cache: Arc<ReadCache>,
}

impl Store {
    /// Connects to `url` (`sqlite://kassa.db`, `postgres://…`). A SQLite file is created when
    /// missing and switched to WAL so readers never wait for the writer.
    pub async fn connect(url: &str) -> Result<Store, StorageError> {
        sqlx::any::install_default_drivers();
        let backend = Backend::from_url(url)?;
        let (url, max) = match backend {
            Backend::Sqlite => {
                let url = if url.contains('?') {
                    url.to_string()
                } else {
                    format!("{url}?mode=rwc")
                };
                (url, 8)
            }
            Backend::Postgres => (url.to_string(), 16),
        };
        // KASSA_DB_MAX_CONNECTIONS overrides the pool's size (on SQLite: the readers' pool).
        let max = std::env::var("KASSA_DB_MAX_CONNECTIONS")
            .ok()
            .and_then(|v| v.trim().parse::<u32>().ok())
            .filter(|n| (1..=1000).contains(n))
            .unwrap_or(max);
        let options = |max: u32| {
            AnyPoolOptions::new()
                .max_connections(max)
                .acquire_timeout(Duration::from_secs(10))
                .after_connect(move |conn, _| {
                    Box::pin(async move {
                        if backend == Backend::Sqlite {
                            conn.execute("PRAGMA journal_mode = WAL").await?;
                            conn.execute("PRAGMA synchronous = NORMAL").await?;
                            conn.execute("PRAGMA foreign_keys = ON").await?;
                            // Other processes on the same file (a worker beside the server).
                            conn.execute("PRAGMA busy_timeout = 10000").await?;
                        }
                        Ok(())
                    })
                })
        };
        // The writer first: it creates the file and switches it to WAL.
        let (writer, pool) = match backend {
            Backend::Sqlite => {
                let writer = options(1).connect(&url).await?;
                (writer, options(max).connect(&url).await?)
            }
            Backend::Postgres => {
                let pool = options(max).connect(&url).await?;
                (pool.clone(), pool)
            }
        };
        Ok(Store {
            pool,
            writer,
            backend,
            cache: Arc::new(ReadCache::from_env()),
        })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Answers when the database does.
    pub async fn ping(&self) -> Result<(), StorageError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    pub async fn close(&self) {
        self.pool.close().await;
        self.writer.close().await;
    }

    pub async fn meta_get(&self, key: &str) -> Result<Option<String>, StorageError> {
        let row: Option<AnyRow> = sqlx::query("SELECT value FROM meta WHERE key = $1")
            .bind(key)
            .fetch_optional(&self.pool)
            .await?;
        Ok(match row {
            Some(r) => Some(r.try_get::<String, _>("value")?),
            None => None,
        })
    }

    /// Sets `key` unless it is set already; returns the value now stored.
    pub async fn meta_set_if_absent(&self, key: &str, value: &str) -> Result<String, StorageError> {
        sqlx::query("INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING")
            .bind(key)
            .bind(value)
            .execute(&self.writer)
            .await?;
        self.meta_get(key)
            .await?
            .ok_or_else(|| StorageError::Corrupt(format!("meta key {key} vanished")))
    }
}
