#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("not found")]
    NotFound,
    /// A uniqueness rule was broken; the string names the constraint's subject.
    #[error("already exists: {0}")]
    Conflict(String),
    /// A write that was to claim an idempotency key ([`crate::IdempotencyClaim`]) found the key
    /// taken; nothing was written.
    #[error("the idempotency key is already in use")]
    IdempotencyKeyTaken,
    /// The row changed since it was read (optimistic concurrency).
    #[error("the record was changed by another request; read it again and retry")]
    Stale,
    #[error("database error: {0}")]
    Database(#[source] DbError),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("migration failed: {0}")]
    Migration(String),
}

/// What a database driver reported.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error(transparent)]
    Sqlite(#[from] rusqlite::Error),
    #[error(transparent)]
    Postgres(#[from] crate::sql::PgError),
    /// From the administrative connection tests use to make and drop databases.
    #[error(transparent)]
    PostgresAdmin(#[from] tokio_postgres::Error),
    /// No connection could be had (the server is away, the pool is full or closed), or a
    /// transaction cannot go on.
    #[error("{0}")]
    Pool(String),
}

impl From<DbError> for StorageError {
    fn from(e: DbError) -> Self {
        let unique = match &e {
            // unique_violation
            DbError::Postgres(pg) if pg.code() == Some("23505") => Some(pg.message()),
            DbError::Sqlite(rusqlite::Error::SqliteFailure(f, message))
                if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                    || f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY =>
            {
                Some(message.clone().unwrap_or_else(|| f.to_string()))
            }
            _ => None,
        };
        match unique {
            Some(m) => StorageError::Conflict(m),
            None => StorageError::Database(e),
        }
    }
}

impl From<tokio_postgres::Error> for StorageError {
    fn from(e: tokio_postgres::Error) -> Self {
        DbError::from(e).into()
    }
}

impl From<rusqlite::Error> for StorageError {
    fn from(e: rusqlite::Error) -> Self {
        DbError::from(e).into()
    }
}
