#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("not found")]
    NotFound,
    /// A uniqueness rule was broken; the string names the constraint's subject.
    #[error("already exists: {0}")]
    Conflict(String),
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
    Postgres(#[from] sqlx::Error),
}

impl From<DbError> for StorageError {
    fn from(e: DbError) -> Self {
        let unique = match &e {
            DbError::Postgres(sqlx::Error::Database(db)) if db.is_unique_violation() => {
                Some(db.message().to_string())
            }
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

impl From<sqlx::Error> for StorageError {
    fn from(e: sqlx::Error) -> Self {
        DbError::from(e).into()
    }
}

impl From<rusqlite::Error> for StorageError {
    fn from(e: rusqlite::Error) -> Self {
        DbError::from(e).into()
    }
}
