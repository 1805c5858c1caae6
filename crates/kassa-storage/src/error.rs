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
    Database(#[source] sqlx::Error),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("migration failed: {0}")]
    Migration(String),
}

impl From<sqlx::Error> for StorageError {
    fn from(e: sqlx::Error) -> Self {
        if let sqlx::Error::Database(db) = &e {
            if db.is_unique_violation() {
                return StorageError::Conflict(db.message().to_string());
            }
        }
        StorageError::Database(e)
    }
}
