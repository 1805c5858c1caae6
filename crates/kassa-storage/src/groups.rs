//! Collection groups: numbered per client, each pointing at one of the client's gateways.

use crate::sql;

use crate::audit::{self, AuditEntry};
use crate::{now_millis, Page, PageRequest, StorageError, Store};

#[derive(Debug, Clone)]
pub struct GroupRecord {
    pub id: i64,
    pub client_no: i64,
    pub group_no: i64,
    pub gateway_id: i64,
    pub status: String,
    pub settings: String,
    pub webhook_secrets_sealed: Option<String>,
    pub version: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Debug, Clone)]
pub struct GroupWrite {
    pub gateway_id: i64,
    pub status: String,
    pub settings: String,
    pub webhook_secrets_sealed: Option<String>,
}

const COLUMNS: &str = "id, client_no, group_no, gateway_id, status, settings, webhook_secrets_sealed, version, created_at, updated_at";

fn from_row(r: &sql::Row) -> Result<GroupRecord, StorageError> {
    Ok(GroupRecord {
        id: r.try_get("id")?,
        client_no: r.try_get("client_no")?,
        group_no: r.try_get("group_no")?,
        gateway_id: r.try_get("gateway_id")?,
        status: r.try_get("status")?,
        settings: r.try_get("settings")?,
        webhook_secrets_sealed: r.try_get("webhook_secrets_sealed")?,
        version: r.try_get("version")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

impl Store {
    /// Inserts a group under `group_no`, or under the client's next free number when `None`.
    /// A taken number is a [`StorageError::Conflict`].
    pub async fn insert_group(
        &self,
        client_no: i64,
        group_no: Option<i64>,
        w: &GroupWrite,
        mut audit: AuditEntry,
    ) -> Result<GroupRecord, StorageError> {
        // Two requests may pick the same next number at once on PostgreSQL; the unique key
        // catches it and the insert is tried again with the number after.
        let mut attempts = 0;
        loop {
            attempts += 1;
            let now = now_millis();
            let mut tx = self.writer.begin().await?;
            let inserted = sql::query(&format!(
                "INSERT INTO collection_groups (client_no, group_no, gateway_id, status, settings, webhook_secrets_sealed, version, created_at, updated_at)
                 SELECT $1, CASE WHEN $2 > 0 THEN $2 ELSE COALESCE(MAX(group_no), 0) + 1 END, $3, $4, $5, $6, 1, $7, $7
                 FROM collection_groups WHERE client_no = $1
                 RETURNING {COLUMNS}"
            ))
            .bind(client_no)
            .bind(group_no.unwrap_or(0))
            .bind(w.gateway_id)
            .bind(&w.status)
            .bind(&w.settings)
            .bind(w.webhook_secrets_sealed.as_deref())
            .bind(now)
            .fetch_one(&mut tx)
            .await;
            let row = match inserted {
                Ok(row) => row,
                Err(e) => {
                    let err = e;
                    if matches!(err, StorageError::Conflict(_))
                        && group_no.is_none()
                        && attempts < 5
                    {
                        continue;
                    }
                    if matches!(err, StorageError::Conflict(_)) {
                        return Err(StorageError::Conflict(format!(
                            "collection group {} already exists",
                            group_no.unwrap_or_default()
                        )));
                    }
                    return Err(err);
                }
            };
            let rec = from_row(&row)?;
            audit.object_id = rec.group_no.to_string();
            audit::write(&mut tx, &audit, now).await?;
            tx.commit().await?;
            self.cache.invalidate();
            return Ok(rec);
        }
    }

    pub async fn get_group(
        &self,
        client_no: i64,
        group_no: i64,
    ) -> Result<GroupRecord, StorageError> {
        let row = sql::query(&format!(
            "SELECT {COLUMNS} FROM collection_groups WHERE client_no = $1 AND group_no = $2"
        ))
        .bind(client_no)
        .bind(group_no)
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StorageError::NotFound)?;
        from_row(&row)
    }

    /// [`Store::get_group`] for the payment path, cached like [`Store::get_gateway_cached`].
    pub async fn get_group_cached(
        &self,
        client_no: i64,
        group_no: i64,
    ) -> Result<GroupRecord, StorageError> {
        let c = &self.cache;
        let read = self.get_group(client_no, group_no);
        c.get_or_read(&c.groups, (client_no, group_no), read).await
    }

    /// Groups newest first; the cursor is a `group_no`.
    pub async fn list_groups(
        &self,
        client_no: i64,
        status: Option<&str>,
        gateway_id: Option<i64>,
        page: PageRequest,
    ) -> Result<Page<GroupRecord>, StorageError> {
        let rows = sql::query(&format!(
            "SELECT {COLUMNS} FROM collection_groups
             WHERE client_no = $1 AND group_no < $2
               AND (($3 = '' AND status <> 'archived') OR status = $3)
               AND ($4 = 0 OR gateway_id = $4)
             ORDER BY group_no DESC LIMIT $5"
        ))
        .bind(client_no)
        .bind(page.cursor())
        .bind(status.unwrap_or(""))
        .bind(gateway_id.unwrap_or(0))
        .bind(page.fetch())
        .fetch_all(&self.pool)
        .await?;
        let rows = rows.iter().map(from_row).collect::<Result<Vec<_>, _>>()?;
        Ok(page.finish(rows))
    }

    pub async fn update_group(
        &self,
        client_no: i64,
        group_no: i64,
        expected_version: i64,
        w: &GroupWrite,
        audit: AuditEntry,
    ) -> Result<GroupRecord, StorageError> {
        let now = now_millis();
        let mut tx = self.writer.begin().await?;
        let row = sql::query(&format!(
            "UPDATE collection_groups SET gateway_id = $1, status = $2, settings = $3, webhook_secrets_sealed = $4,
                    version = version + 1, updated_at = $5
             WHERE client_no = $6 AND group_no = $7 AND version = $8
             RETURNING {COLUMNS}"
        ))
        .bind(w.gateway_id)
        .bind(&w.status)
        .bind(&w.settings)
        .bind(w.webhook_secrets_sealed.as_deref())
        .bind(now)
        .bind(client_no)
        .bind(group_no)
        .bind(expected_version)
        .fetch_optional(&mut tx)
        .await?;
        let Some(row) = row else {
            drop(tx);
            self.get_group(client_no, group_no).await?;
            return Err(StorageError::Stale);
        };
        let rec = from_row(&row)?;
        audit::write(&mut tx, &audit, now).await?;
        tx.commit().await?;
        self.cache.invalidate();
        Ok(rec)
    }
}
