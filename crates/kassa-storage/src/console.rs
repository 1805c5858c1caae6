//! Operator console sessions.

use crate::sql;
use crate::{now_millis, StorageError, Store};

#[derive(Debug, Clone)]
pub struct ConsoleSession {
    pub client_no: i64,
    pub api_key_id: i64,
    pub key_label: String,
    pub csrf: String,
    pub expires_at: i64,
}

impl Store {
    pub async fn create_console_session(
        &self,
        id_hash: &str,
        s: &ConsoleSession,
    ) -> Result<(), StorageError> {
        sql::query(
            "INSERT INTO console_sessions (id_hash, client_no, api_key_id, key_label, csrf, expires_at, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(id_hash)
        .bind(s.client_no)
        .bind(s.api_key_id)
        .bind(&s.key_label)
        .bind(&s.csrf)
        .bind(s.expires_at)
        .bind(now_millis())
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    /// A live session, if its key has not been revoked since.
    pub async fn find_console_session(
        &self,
        id_hash: &str,
    ) -> Result<Option<ConsoleSession>, StorageError> {
        let row = sql::query(
            "SELECT s.client_no, s.api_key_id, s.key_label, s.csrf, s.expires_at
             FROM console_sessions s JOIN api_keys k ON k.id = s.api_key_id
             WHERE s.id_hash = $1 AND s.expires_at > $2 AND k.revoked_at IS NULL",
        )
        .bind(id_hash)
        .bind(now_millis())
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            Ok(ConsoleSession {
                client_no: r.try_get("client_no")?,
                api_key_id: r.try_get("api_key_id")?,
                key_label: r.try_get("key_label")?,
                csrf: r.try_get("csrf")?,
                expires_at: r.try_get("expires_at")?,
            })
        })
        .transpose()
    }

    /// Signs a session out; expired sessions go with it.
    pub async fn delete_console_session(&self, id_hash: &str) -> Result<(), StorageError> {
        sql::query("DELETE FROM console_sessions WHERE id_hash = $1 OR expires_at <= $2")
            .bind(id_hash)
            .bind(now_millis())
            .execute(&self.writer)
            .await?;
        Ok(())
    }
}
