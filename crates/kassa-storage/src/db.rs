use crate::sql;
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

/// Whether the write that records a gateway call's outcome waits for the disk before the answer
/// is sent (`--outcome-commit`, `KASSA_OUTCOME_COMMIT`).
///
/// What makes a payment safe is written *before* Stripe is called and always waits for the disk:
/// the payment with its pending transaction, or the claim of an existing one for a capture, void
/// or refund. The outcome written after Stripe answers can be recovered from Stripe: if a crash
/// of the database server loses it, the payment is left exactly as its claim left it — busy with
/// a pending transaction, which the reconciler finishes from Stripe, with the same transaction
/// id, amounts and Stripe ids the answer showed. That is the state a crash of Kassa between the
/// call and the write already leaves. So by default ([`OutcomeCommit::Asynchronous`]) the outcome
/// commits without waiting for the disk on PostgreSQL (asynchronous commit, for that transaction
/// alone): it is lost only if the server crashes within a fraction of a second of it, and any
/// later ordinary commit makes it durable too, since the log is flushed in order.
/// [`OutcomeCommit::Synchronous`] waits, for an operator who wants every answer on disk before it
/// is sent. On SQLite both are the same.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OutcomeCommit {
    #[default]
    Asynchronous,
    Synchronous,
}

/// The database: where reads and writes go, and which backend it is.
///
/// Statements that write go through `writer`, the rest through `pool`. On PostgreSQL both are
/// the same pool. On SQLite, which lets one connection write at a time, `writer` is one
/// connection behind an async lock: writers queue for it (first come, first served) instead of
/// colliding on the file's lock, and readers (WAL) never wait for them. See [`crate::sql`].
#[derive(Clone, Debug)]
pub struct Store {
    pub(crate) pool: sql::Readers,
    pub(crate) writer: sql::Writer,
    backend: Backend,
    pub(crate) cache: Arc<ReadCache>,
    outcome_commit: OutcomeCommit,
}

impl Store {
    /// Connects to `url` (`sqlite://kassa.db`, `postgres://…`). A SQLite file is created when
    /// missing and switched to WAL so readers never wait for the writer.
    pub async fn connect(url: &str) -> Result<Store, StorageError> {
        let backend = Backend::from_url(url)?;
        // KASSA_DB_MAX_CONNECTIONS overrides the pool's size (on SQLite: the readers').
        let max = std::env::var("KASSA_DB_MAX_CONNECTIONS")
            .ok()
            .and_then(|v| v.trim().parse::<u32>().ok())
            .filter(|n| (1..=1000).contains(n));
        let (pool, writer) = match backend {
            Backend::Sqlite => {
                let url = if url.contains('?') {
                    url.to_string()
                } else {
                    format!("{url}?mode=rwc")
                };
                // Statements run on the calling thread, so more readers than the runtime has
                // threads would sit idle.
                sql::sqlite_connect(&url, max.unwrap_or(4) as usize)?
            }
            Backend::Postgres => {
                let pool =
                    sql::PgPool::connect(url, max.unwrap_or(16) as usize, Duration::from_secs(10))
                        .await?;
                (sql::Readers::Pg(pool.clone()), sql::Writer::Pg(pool))
            }
        };
        Ok(Store {
            pool,
            writer,
            backend,
            cache: Arc::new(ReadCache::from_env()),
            outcome_commit: OutcomeCommit::default(),
        })
    }

    /// How outcomes are committed from now on (see [`OutcomeCommit`]).
    pub fn with_outcome_commit(mut self, outcome_commit: OutcomeCommit) -> Store {
        self.outcome_commit = outcome_commit;
        self
    }

    pub fn outcome_commit(&self) -> OutcomeCommit {
        self.outcome_commit
    }

    /// The transaction that records a gateway call's outcome, committed as configured.
    pub(crate) async fn begin_outcome(&self) -> Result<sql::Tx, StorageError> {
        match self.outcome_commit {
            OutcomeCommit::Asynchronous => self.writer.begin_async_commit().await,
            OutcomeCommit::Synchronous => self.writer.begin().await,
        }
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Answers when the database does.
    pub async fn ping(&self) -> Result<(), StorageError> {
        sql::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    pub async fn close(&self) {
        self.pool.close().await;
        self.writer.close().await;
    }

    pub async fn meta_get(&self, key: &str) -> Result<Option<String>, StorageError> {
        let row = sql::query("SELECT value FROM meta WHERE key = $1")
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
        sql::query("INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING")
            .bind(key)
            .bind(value)
            .execute(&self.writer)
            .await?;
        self.meta_get(key)
            .await?
            .ok_or_else(|| StorageError::Corrupt(format!("meta key {key} vanished")))
    }
}
