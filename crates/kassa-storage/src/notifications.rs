//! Client notification endpoints and the durable queue of notifications to them.

use crate::sql;

use crate::{now_millis, StorageError, Store};

#[derive(Debug, Clone, Default)]
pub struct EndpointRecord {
    pub id: i64,
    pub client_no: i64,
    pub url: String,
    /// JSON list of event types, `["*"]` for all.
    pub enabled_events: String,
    pub description: Option<String>,
    pub secret_sealed: String,
    /// `active` or `disabled`.
    pub status: String,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Debug, Clone, Default)]
pub struct NotificationRecord {
    pub id: String,
    pub client_no: i64,
    pub endpoint_id: i64,
    pub event_type: String,
    pub payload: String,
    /// `pending`, `sending`, `delivered`, `failed`.
    pub status: String,
    pub attempts: i64,
    pub next_attempt_at: i64,
    pub last_status: Option<i64>,
    pub last_error: Option<String>,
    pub created_at: i64,
    pub delivered_at: Option<i64>,
}

const EP: &str = "id, client_no, url, enabled_events, description, secret_sealed, status, created_at, updated_at";
const N: &str = "id, client_no, endpoint_id, event_type, payload, status, attempts, next_attempt_at, last_status, last_error, created_at, delivered_at";

fn endpoint(r: &sql::Row) -> Result<EndpointRecord, StorageError> {
    Ok(EndpointRecord {
        id: r.try_get("id")?,
        client_no: r.try_get("client_no")?,
        url: r.try_get("url")?,
        enabled_events: r.try_get("enabled_events")?,
        description: r.try_get("description")?,
        secret_sealed: r.try_get("secret_sealed")?,
        status: r.try_get("status")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

fn notification(r: &sql::Row) -> Result<NotificationRecord, StorageError> {
    Ok(NotificationRecord {
        id: r.try_get("id")?,
        client_no: r.try_get("client_no")?,
        endpoint_id: r.try_get("endpoint_id")?,
        event_type: r.try_get("event_type")?,
        payload: r.try_get("payload")?,
        status: r.try_get("status")?,
        attempts: r.try_get("attempts")?,
        next_attempt_at: r.try_get("next_attempt_at")?,
        last_status: r.try_get("last_status")?,
        last_error: r.try_get("last_error")?,
        created_at: r.try_get("created_at")?,
        delivered_at: r.try_get("delivered_at")?,
    })
}

impl Store {
    pub async fn insert_endpoint(
        &self,
        e: &EndpointRecord,
    ) -> Result<EndpointRecord, StorageError> {
        let now = now_millis();
        let row = sql::query(&format!(
            "INSERT INTO notification_endpoints (client_no, url, enabled_events, description, secret_sealed, status, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $7) RETURNING {EP}"
        ))
        .bind(e.client_no)
        .bind(&e.url)
        .bind(&e.enabled_events)
        .bind(e.description.as_deref())
        .bind(&e.secret_sealed)
        .bind(&e.status)
        .bind(now)
        .fetch_one(&self.writer)
        .await?;
        self.cache.invalidate();
        endpoint(&row)
    }

    pub async fn get_endpoint(
        &self,
        client_no: i64,
        id: i64,
    ) -> Result<EndpointRecord, StorageError> {
        let row = sql::query(&format!(
            "SELECT {EP} FROM notification_endpoints WHERE client_no = $1 AND id = $2"
        ))
        .bind(client_no)
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StorageError::NotFound)?;
        endpoint(&row)
    }

    pub async fn list_endpoints(
        &self,
        client_no: i64,
    ) -> Result<Vec<EndpointRecord>, StorageError> {
        let rows = sql::query(&format!("SELECT {EP} FROM notification_endpoints WHERE client_no = $1 AND status <> 'deleted' ORDER BY id"))
            .bind(client_no)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(endpoint).collect()
    }

    /// [`Store::list_endpoints`] for each payment's notifications, cached like
    /// [`Store::get_gateway_cached`]: an endpoint added on another node is used within a second.
    pub async fn list_endpoints_cached(
        &self,
        client_no: i64,
    ) -> Result<Vec<EndpointRecord>, StorageError> {
        let c = &self.cache;
        c.get_or_read(&c.endpoints, client_no, self.list_endpoints(client_no))
            .await
    }

    pub async fn update_endpoint(
        &self,
        e: &EndpointRecord,
    ) -> Result<EndpointRecord, StorageError> {
        let row = sql::query(&format!(
            "UPDATE notification_endpoints SET url = $1, enabled_events = $2, description = $3, secret_sealed = $4, status = $5, updated_at = $6
             WHERE client_no = $7 AND id = $8 RETURNING {EP}"
        ))
        .bind(&e.url)
        .bind(&e.enabled_events)
        .bind(e.description.as_deref())
        .bind(&e.secret_sealed)
        .bind(&e.status)
        .bind(now_millis())
        .bind(e.client_no)
        .bind(e.id)
        .fetch_optional(&self.writer)
        .await?
        .ok_or(StorageError::NotFound)?;
        self.cache.invalidate();
        endpoint(&row)
    }

    /// Queues a notification (status `pending`, due now).
    pub async fn insert_notification(&self, n: &NotificationRecord) -> Result<(), StorageError> {
        let now = now_millis();
        sql::query(
            "INSERT INTO notifications (id, client_no, endpoint_id, event_type, payload, status, attempts, next_attempt_at, created_at)
             VALUES ($1, $2, $3, $4, $5, 'pending', 0, $6, $6)",
        )
        .bind(&n.id)
        .bind(n.client_no)
        .bind(n.endpoint_id)
        .bind(&n.event_type)
        .bind(&n.payload)
        .bind(now)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    /// Takes up to `limit` notifications that are due, marking them `sending`; sending ones whose
    /// worker died (older than `stale_before`) are taken again.
    pub async fn claim_due_notifications(
        &self,
        now: i64,
        stale_before: i64,
        limit: i64,
    ) -> Result<Vec<NotificationRecord>, StorageError> {
        let rows = sql::query(&format!(
            "SELECT {N} FROM notifications WHERE (status = 'pending' AND next_attempt_at <= $1) OR (status = 'sending' AND next_attempt_at <= $2)
             ORDER BY next_attempt_at LIMIT $3"
        ))
        .bind(now)
        .bind(stale_before)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        let mut out = Vec::new();
        for r in rows {
            let n = notification(&r)?;
            // The claim is the update: two workers cannot both take one.
            let claimed = sql::query("UPDATE notifications SET status = 'sending', next_attempt_at = $1 WHERE id = $2 AND status = $3 AND next_attempt_at = $4")
                .bind(now)
                .bind(&n.id)
                .bind(&n.status)
                .bind(n.next_attempt_at)
                .execute(&self.writer)
                .await?;
            if claimed.rows_affected() == 1 {
                out.push(n);
            }
        }
        Ok(out)
    }

    /// Records one delivery attempt: delivered, or retried at `next_attempt_at`, or failed for good.
    pub async fn record_notification_attempt(
        &self,
        id: &str,
        delivered: bool,
        next_attempt_at: Option<i64>,
        http_status: Option<i64>,
        error: Option<&str>,
    ) -> Result<(), StorageError> {
        let now = now_millis();
        let status = if delivered {
            "delivered"
        } else if next_attempt_at.is_some() {
            "pending"
        } else {
            "failed"
        };
        sql::query(
            "UPDATE notifications SET status = $1, attempts = attempts + 1, next_attempt_at = $2, last_status = $3, last_error = $4,
                    delivered_at = CASE WHEN $5 = 1 THEN $6 ELSE delivered_at END
             WHERE id = $7",
        )
        .bind(status)
        .bind(next_attempt_at.unwrap_or(now))
        .bind(http_status)
        .bind(error)
        .bind(i64::from(delivered))
        .bind(now)
        .bind(id)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    pub async fn list_notifications(
        &self,
        client_no: i64,
        endpoint_id: i64,
        limit: i64,
    ) -> Result<Vec<NotificationRecord>, StorageError> {
        let rows = sql::query(&format!("SELECT {N} FROM notifications WHERE client_no = $1 AND endpoint_id = $2 ORDER BY created_at DESC, id DESC LIMIT $3"))
            .bind(client_no)
            .bind(endpoint_id)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(notification).collect()
    }
}
