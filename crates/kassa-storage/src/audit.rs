//! The audit log: who changed which gateway or group setting, when.

use crate::sql;

use crate::{Page, PageRequest, StorageError, Store};

/// An audit entry to write together with the change it describes.
#[derive(Debug, Clone)]
pub struct AuditEntry {
    pub client_no: i64,
    /// `api_key:<label>` or `cli`.
    pub actor: String,
    pub api_key_id: Option<i64>,
    pub request_id: Option<String>,
    pub object_type: &'static str,
    /// Filled in by the insert for objects that get their id there.
    pub object_id: String,
    pub action: &'static str,
    /// What changed, secrets already redacted by the caller: `{"field": {"from": …, "to": …}}`.
    pub changes: serde_json::Value,
}

#[derive(Debug, Clone)]
pub struct AuditRecord {
    pub id: i64,
    pub client_no: i64,
    pub actor: String,
    pub request_id: Option<String>,
    pub object_type: String,
    pub object_id: String,
    pub action: String,
    pub changes: serde_json::Value,
    pub created_at: i64,
}

fn from_row(r: &sql::Row) -> Result<AuditRecord, StorageError> {
    let changes: String = r.try_get("changes")?;
    Ok(AuditRecord {
        id: r.try_get("id")?,
        client_no: r.try_get("client_no")?,
        actor: r.try_get("actor")?,
        request_id: r.try_get("request_id")?,
        object_type: r.try_get("object_type")?,
        object_id: r.try_get("object_id")?,
        action: r.try_get("action")?,
        changes: serde_json::from_str(&changes)
            .map_err(|e| StorageError::Corrupt(e.to_string()))?,
        created_at: r.try_get("created_at")?,
    })
}

pub(crate) async fn write(
    tx: &mut sql::Tx,
    entry: &AuditEntry,
    now: i64,
) -> Result<(), StorageError> {
    sql::query(
        "INSERT INTO audit_events (client_no, actor, api_key_id, request_id, object_type, object_id, action, changes, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(entry.client_no)
    .bind(&entry.actor)
    .bind(entry.api_key_id)
    .bind(entry.request_id.as_deref())
    .bind(entry.object_type)
    .bind(&entry.object_id)
    .bind(entry.action)
    .bind(entry.changes.to_string())
    .bind(now)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

impl Store {
    /// A client's audit events, newest first, optionally for one object.
    pub async fn list_audit(
        &self,
        client_no: i64,
        object: Option<(&str, &str)>,
        page: PageRequest,
    ) -> Result<Page<AuditRecord>, StorageError> {
        let (otype, oid) = object.unwrap_or(("", ""));
        let rows = sql::query(
            "SELECT id, client_no, actor, request_id, object_type, object_id, action, changes, created_at
             FROM audit_events
             WHERE client_no = $1 AND id < $2 AND ($3 = '' OR (object_type = $3 AND object_id = $4))
             ORDER BY id DESC LIMIT $5",
        )
        .bind(client_no)
        .bind(page.cursor())
        .bind(otype)
        .bind(oid)
        .bind(page.fetch())
        .fetch_all(&self.pool)
        .await?;
        let rows = rows.iter().map(from_row).collect::<Result<Vec<_>, _>>()?;
        Ok(page.finish(rows))
    }
}
