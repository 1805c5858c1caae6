//! Clients (tenants) and their API keys.

use crate::sql;
use crate::{now_millis, StorageError, Store};

#[derive(Debug, Clone)]
pub struct ClientRecord {
    pub client_no: i64,
    pub name: String,
    pub created_at: i64,
}

#[derive(Debug, Clone)]
pub struct ApiKeyRecord {
    pub id: i64,
    pub client_no: i64,
    pub label: String,
}

impl Store {
    pub async fn count_clients(&self) -> Result<i64, StorageError> {
        let row = sql::query("SELECT COUNT(*) AS n FROM clients")
            .fetch_one(&self.pool)
            .await?;
        row.try_get::<i64, _>("n")
    }

    /// Creates a client and its first API key (given as its hash and label) in one transaction.
    pub async fn create_client(
        &self,
        name: &str,
        key_hash: &str,
        key_label: &str,
    ) -> Result<(ClientRecord, ApiKeyRecord), StorageError> {
        let now = now_millis();
        let mut tx = self.writer.begin().await?;
        let row = sql::query(
            "INSERT INTO clients (name, created_at) VALUES ($1, $2) RETURNING client_no",
        )
        .bind(name)
        .bind(now)
        .fetch_one(&mut tx)
        .await?;
        let client_no: i64 = row.try_get("client_no")?;
        let row = sql::query(
            "INSERT INTO api_keys (client_no, key_hash, label, created_at) VALUES ($1, $2, $3, $4) RETURNING id",
        )
        .bind(client_no)
        .bind(key_hash)
        .bind(key_label)
        .bind(now)
        .fetch_one(&mut tx)
        .await?;
        let key_id: i64 = row.try_get("id")?;
        tx.commit().await?;
        Ok((
            ClientRecord {
                client_no,
                name: name.to_string(),
                created_at: now,
            },
            ApiKeyRecord {
                id: key_id,
                client_no,
                label: key_label.to_string(),
            },
        ))
    }

    pub async fn client_exists(&self, client_no: i64) -> Result<bool, StorageError> {
        let row = sql::query("SELECT COUNT(*) AS n FROM clients WHERE client_no = $1")
            .bind(client_no)
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get::<i64, _>("n")? > 0)
    }

    /// The live API key with this hash, if any.
    /// (Found keys are cached briefly, see [`crate::cache`].)
    pub async fn find_api_key(&self, key_hash: &str) -> Result<Option<ApiKeyRecord>, StorageError> {
        if let Some(hit) = self.cache.get(&self.cache.api_keys, &key_hash.to_string()) {
            return Ok(Some(hit));
        }
        let generation = self.cache.generation();
        let row = sql::query(
            "SELECT id, client_no, label FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL",
        )
        .bind(key_hash)
        .fetch_optional(&self.pool)
        .await?;
        match row {
            Some(r) => {
                let found = ApiKeyRecord {
                    id: r.try_get("id")?,
                    client_no: r.try_get("client_no")?,
                    label: r.try_get("label")?,
                };
                let c = &self.cache;
                c.put(&c.api_keys, key_hash.to_string(), found.clone(), generation);
                Ok(Some(found))
            }
            None => Ok(None),
        }
    }
}
