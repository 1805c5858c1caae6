//! Gateway accounts. Settings are a JSON document validated by the domain crate before they get
//! here; secrets arrive sealed.

use crate::sql;

use crate::audit::{self, AuditEntry};
use crate::{now_millis, Page, PageRequest, StorageError, Store};

#[derive(Debug, Clone)]
pub struct GatewayRecord {
    pub id: i64,
    pub client_no: i64,
    pub gateway_type: String,
    pub status: String,
    pub settings: String,
    pub secret_key_sealed: Option<String>,
    pub webhook_secrets_sealed: Option<String>,
    pub version: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

/// What a create or an update writes.
#[derive(Debug, Clone)]
pub struct GatewayWrite {
    pub gateway_type: String,
    pub status: String,
    pub settings: String,
    pub secret_key_sealed: Option<String>,
    pub webhook_secrets_sealed: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct GatewayFilter {
    /// Only this status; when unset, every status but `archived`.
    pub status: Option<String>,
    pub gateway_type: Option<String>,
}

const COLUMNS: &str = "id, client_no, gateway_type, status, settings, secret_key_sealed, webhook_secrets_sealed, version, created_at, updated_at";

fn from_row(r: &sql::Row) -> Result<GatewayRecord, StorageError> {
    Ok(GatewayRecord {
        id: r.try_get("id")?,
        client_no: r.try_get("client_no")?,
        gateway_type: r.try_get("gateway_type")?,
        status: r.try_get("status")?,
        settings: r.try_get("settings")?,
        secret_key_sealed: r.try_get("secret_key_sealed")?,
        webhook_secrets_sealed: r.try_get("webhook_secrets_sealed")?,
        version: r.try_get("version")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

impl Store {
    /// Inserts a gateway and its audit entry (whose object id is set to the new id) atomically.
    pub async fn insert_gateway(
        &self,
        client_no: i64,
        w: &GatewayWrite,
        mut audit: AuditEntry,
    ) -> Result<GatewayRecord, StorageError> {
        let now = now_millis();
        let mut tx = self.writer.begin().await?;
        let row = sql::query(&format!(
            "INSERT INTO gateways (client_no, gateway_type, status, settings, secret_key_sealed, webhook_secrets_sealed, version, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, 1, $7, $7) RETURNING {COLUMNS}"
        ))
        .bind(client_no)
        .bind(&w.gateway_type)
        .bind(&w.status)
        .bind(&w.settings)
        .bind(w.secret_key_sealed.as_deref())
        .bind(w.webhook_secrets_sealed.as_deref())
        .bind(now)
        .fetch_one(&mut tx)
        .await?;
        let rec = from_row(&row)?;
        audit.object_id = rec.id.to_string();
        audit::write(&mut tx, &audit, now).await?;
        tx.commit().await?;
        self.cache.invalidate();
        Ok(rec)
    }

    pub async fn get_gateway(
        &self,
        client_no: i64,
        id: i64,
    ) -> Result<GatewayRecord, StorageError> {
        let row = sql::query(&format!(
            "SELECT {COLUMNS} FROM gateways WHERE client_no = $1 AND id = $2"
        ))
        .bind(client_no)
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StorageError::NotFound)?;
        from_row(&row)
    }

    /// [`Store::get_gateway`] for the payment path: served from the cache when this process read
    /// it within the last moment and has not written any gateway since (see [`crate::cache`]).
    pub async fn get_gateway_cached(
        &self,
        client_no: i64,
        id: i64,
    ) -> Result<GatewayRecord, StorageError> {
        let c = &self.cache;
        c.get_or_read(
            &c.gateways,
            (client_no, id),
            self.get_gateway(client_no, id),
        )
        .await
    }

    pub async fn list_gateways(
        &self,
        client_no: i64,
        filter: &GatewayFilter,
        page: PageRequest,
    ) -> Result<Page<GatewayRecord>, StorageError> {
        let rows = sql::query(&format!(
            "SELECT {COLUMNS} FROM gateways
             WHERE client_no = $1 AND id < $2
               AND (($3 = '' AND status <> 'archived') OR status = $3)
               AND ($4 = '' OR gateway_type = $4)
             ORDER BY id DESC LIMIT $5"
        ))
        .bind(client_no)
        .bind(page.cursor())
        .bind(filter.status.as_deref().unwrap_or(""))
        .bind(filter.gateway_type.as_deref().unwrap_or(""))
        .bind(page.fetch())
        .fetch_all(&self.pool)
        .await?;
        let rows = rows.iter().map(from_row).collect::<Result<Vec<_>, _>>()?;
        Ok(page.finish(rows))
    }

    /// A gateway by id alone (for the command line, which acts for whichever client owns it).
    pub async fn get_gateway_by_id(&self, id: i64) -> Result<GatewayRecord, StorageError> {
        let row = sql::query(&format!("SELECT {COLUMNS} FROM gateways WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StorageError::NotFound)?;
        from_row(&row)
    }

    /// Every gateway of a client, archived ones too (webhooks may still arrive for them).
    pub async fn all_gateways(&self, client_no: i64) -> Result<Vec<GatewayRecord>, StorageError> {
        let rows = sql::query(&format!(
            "SELECT {COLUMNS} FROM gateways WHERE client_no = $1 ORDER BY id"
        ))
        .bind(client_no)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(from_row).collect()
    }

    /// Replaces a gateway's data if it is still at `expected_version`, with its audit entry, in
    /// one transaction. A concurrent change in between gives [`StorageError::Stale`].
    pub async fn update_gateway(
        &self,
        client_no: i64,
        id: i64,
        expected_version: i64,
        w: &GatewayWrite,
        audit: AuditEntry,
    ) -> Result<GatewayRecord, StorageError> {
        let now = now_millis();
        let mut tx = self.writer.begin().await?;
        let row = sql::query(&format!(
            "UPDATE gateways SET gateway_type = $1, status = $2, settings = $3, secret_key_sealed = $4,
                    webhook_secrets_sealed = $5, version = version + 1, updated_at = $6
             WHERE client_no = $7 AND id = $8 AND version = $9
             RETURNING {COLUMNS}"
        ))
        .bind(&w.gateway_type)
        .bind(&w.status)
        .bind(&w.settings)
        .bind(w.secret_key_sealed.as_deref())
        .bind(w.webhook_secrets_sealed.as_deref())
        .bind(now)
        .bind(client_no)
        .bind(id)
        .bind(expected_version)
        .fetch_optional(&mut tx)
        .await?;
        let Some(row) = row else {
            drop(tx);
            // Tell a vanished row from a concurrent change.
            self.get_gateway(client_no, id).await?;
            return Err(StorageError::Stale);
        };
        let rec = from_row(&row)?;
        audit::write(&mut tx, &audit, now).await?;
        tx.commit().await?;
        self.cache.invalidate();
        Ok(rec)
    }
}
