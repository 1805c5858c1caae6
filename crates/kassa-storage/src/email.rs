//! Autoresponder templates (one per client and kind) and the email outbox.

use crate::sql;

use crate::{now_millis, Page, PageRequest, StorageError, Store};

#[derive(Debug, Clone, Default)]
pub struct EmailTemplateRecord {
    pub client_no: i64,
    pub kind: String,
    pub subject: String,
    pub body: String,
    pub enabled: bool,
    pub updated_at: i64,
}

#[derive(Debug, Clone, Default)]
pub struct OutboxRecord {
    pub id: i64,
    pub client_no: i64,
    pub kind: String,
    /// The event the email is for: a payment's id, a refund's transaction id.
    pub source_ref: String,
    pub payment_id: Option<String>,
    pub acct_no: Option<i64>,
    pub to_address: String,
    pub reply_to: Option<String>,
    pub subject: String,
    pub body: String,
    /// `queued`, `sending`, `sent`, `failed`.
    pub status: String,
    pub attempts: i64,
    pub next_attempt_at: i64,
    pub expires_at: i64,
    pub last_error: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    pub sent_at: Option<i64>,
}

const T: &str = "client_no, kind, subject, body, enabled, updated_at";
const O: &str = "id, client_no, kind, source_ref, payment_id, acct_no, to_address, reply_to, subject, body, status, attempts, next_attempt_at, expires_at, last_error, created_at, updated_at, sent_at";

fn template(r: &sql::Row) -> Result<EmailTemplateRecord, StorageError> {
    Ok(EmailTemplateRecord {
        client_no: r.try_get("client_no")?,
        kind: r.try_get("kind")?,
        subject: r.try_get("subject")?,
        body: r.try_get("body")?,
        enabled: r.try_get::<i64, _>("enabled")? != 0,
        updated_at: r.try_get("updated_at")?,
    })
}

fn outbox(r: &sql::Row) -> Result<OutboxRecord, StorageError> {
    Ok(OutboxRecord {
        id: r.try_get("id")?,
        client_no: r.try_get("client_no")?,
        kind: r.try_get("kind")?,
        source_ref: r.try_get("source_ref")?,
        payment_id: r.try_get("payment_id")?,
        acct_no: r.try_get("acct_no")?,
        to_address: r.try_get("to_address")?,
        reply_to: r.try_get("reply_to")?,
        subject: r.try_get("subject")?,
        body: r.try_get("body")?,
        status: r.try_get("status")?,
        attempts: r.try_get("attempts")?,
        next_attempt_at: r.try_get("next_attempt_at")?,
        expires_at: r.try_get("expires_at")?,
        last_error: r.try_get("last_error")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
        sent_at: r.try_get("sent_at")?,
    })
}

impl Store {
    /// The client's saved templates (kinds never edited have no row).
    pub async fn list_email_templates(
        &self,
        client_no: i64,
    ) -> Result<Vec<EmailTemplateRecord>, StorageError> {
        let rows = sql::query(&format!(
            "SELECT {T} FROM email_templates WHERE client_no = $1 ORDER BY kind"
        ))
        .bind(client_no)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(template).collect()
    }

    pub async fn get_email_template(
        &self,
        client_no: i64,
        kind: &str,
    ) -> Result<Option<EmailTemplateRecord>, StorageError> {
        let row = sql::query(&format!(
            "SELECT {T} FROM email_templates WHERE client_no = $1 AND kind = $2"
        ))
        .bind(client_no)
        .bind(kind)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(template).transpose()
    }

    /// Saves a template (insert or replace).
    pub async fn put_email_template(
        &self,
        t: &EmailTemplateRecord,
    ) -> Result<EmailTemplateRecord, StorageError> {
        let row = sql::query(&format!(
            "INSERT INTO email_templates (client_no, kind, subject, body, enabled, updated_at) VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (client_no, kind) DO UPDATE SET subject = excluded.subject, body = excluded.body, enabled = excluded.enabled, updated_at = excluded.updated_at
             RETURNING {T}"
        ))
        .bind(t.client_no)
        .bind(&t.kind)
        .bind(&t.subject)
        .bind(&t.body)
        .bind(i64::from(t.enabled))
        .bind(now_millis())
        .fetch_one(&self.writer)
        .await?;
        template(&row)
    }

    /// Queues an email, due now; its id, or `None` when one was queued for the same event before.
    pub async fn enqueue_email(&self, e: &OutboxRecord) -> Result<Option<i64>, StorageError> {
        let now = now_millis();
        let row = sql::query(
            "INSERT INTO email_outbox (client_no, kind, source_ref, payment_id, acct_no, to_address, reply_to, subject, body, status, attempts, next_attempt_at, expires_at, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'queued', 0, $10, $11, $10, $10)
             ON CONFLICT (client_no, kind, source_ref) DO NOTHING RETURNING id",
        )
        .bind(e.client_no)
        .bind(&e.kind)
        .bind(&e.source_ref)
        .bind(e.payment_id.as_deref())
        .bind(e.acct_no)
        .bind(&e.to_address)
        .bind(e.reply_to.as_deref())
        .bind(&e.subject)
        .bind(&e.body)
        .bind(now)
        .bind(e.expires_at)
        .fetch_optional(&self.writer)
        .await?;
        Ok(match row {
            Some(r) => Some(r.try_get("id")?),
            None => None,
        })
    }

    pub async fn get_outbox_email(
        &self,
        client_no: i64,
        id: i64,
    ) -> Result<OutboxRecord, StorageError> {
        let row = sql::query(&format!(
            "SELECT {O} FROM email_outbox WHERE client_no = $1 AND id = $2"
        ))
        .bind(client_no)
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StorageError::NotFound)?;
        outbox(&row)
    }

    /// The client's outbox, newest first, optionally of one status and kind.
    pub async fn list_outbox(
        &self,
        client_no: i64,
        status: Option<&str>,
        kind: Option<&str>,
        page: PageRequest,
    ) -> Result<Page<OutboxRecord>, StorageError> {
        let rows = sql::query(&format!(
            "SELECT {O} FROM email_outbox
             WHERE client_no = $1 AND id < $2 AND ($3 = '' OR status = $3) AND ($4 = '' OR kind = $4)
             ORDER BY id DESC LIMIT $5"
        ))
        .bind(client_no)
        .bind(page.cursor())
        .bind(status.unwrap_or(""))
        .bind(kind.unwrap_or(""))
        .bind(page.fetch())
        .fetch_all(&self.pool)
        .await?;
        let rows = rows.iter().map(outbox).collect::<Result<Vec<_>, _>>()?;
        Ok(page.finish(rows))
    }

    /// Takes up to `limit` due emails, marking them `sending`; sending ones whose worker died
    /// (claimed before `stale_before`) are taken again. The claim is a conditional update, so two
    /// workers on one PostgreSQL never both take one.
    pub async fn claim_due_emails(
        &self,
        now: i64,
        stale_before: i64,
        limit: i64,
    ) -> Result<Vec<OutboxRecord>, StorageError> {
        let rows = sql::query(&format!(
            "SELECT {O} FROM email_outbox WHERE (status = 'queued' AND next_attempt_at <= $1) OR (status = 'sending' AND next_attempt_at <= $2)
             ORDER BY next_attempt_at, id LIMIT $3"
        ))
        .bind(now)
        .bind(stale_before)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        let mut out = Vec::new();
        for r in rows {
            let e = outbox(&r)?;
            let claimed = sql::query("UPDATE email_outbox SET status = 'sending', next_attempt_at = $1, updated_at = $1 WHERE id = $2 AND status = $3 AND next_attempt_at = $4")
                .bind(now)
                .bind(e.id)
                .bind(&e.status)
                .bind(e.next_attempt_at)
                .execute(&self.writer)
                .await?;
            if claimed.rows_affected() == 1 {
                out.push(e);
            }
        }
        Ok(out)
    }

    /// Records one send attempt: sent, or queued again for `next_attempt_at`, or failed for good.
    /// `counts` is false when nothing was tried (an expired email): attempts stay as they are.
    pub async fn record_email_attempt(
        &self,
        id: i64,
        sent: bool,
        next_attempt_at: Option<i64>,
        error: Option<&str>,
        counts: bool,
    ) -> Result<(), StorageError> {
        let now = now_millis();
        let status = if sent {
            "sent"
        } else if next_attempt_at.is_some() {
            "queued"
        } else {
            "failed"
        };
        sql::query(
            "UPDATE email_outbox SET status = $1, attempts = attempts + $2, next_attempt_at = $3, last_error = $4, updated_at = $5,
                    sent_at = CASE WHEN $6 = 1 THEN $5 ELSE sent_at END
             WHERE id = $7 AND status = 'sending'",
        )
        .bind(status)
        .bind(i64::from(counts))
        .bind(next_attempt_at.unwrap_or(now))
        .bind(error)
        .bind(now)
        .bind(i64::from(sent))
        .bind(id)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    /// Puts a failed or queued email back in the queue, due now and for `expires_at`. `false` when
    /// it was sent or is being sent.
    pub async fn retry_email(
        &self,
        client_no: i64,
        id: i64,
        expires_at: i64,
    ) -> Result<bool, StorageError> {
        let now = now_millis();
        let done = sql::query(
            "UPDATE email_outbox SET status = 'queued', next_attempt_at = $1, expires_at = $2, updated_at = $1
             WHERE client_no = $3 AND id = $4 AND status IN ('queued', 'failed')",
        )
        .bind(now)
        .bind(expires_at)
        .bind(client_no)
        .bind(id)
        .execute(&self.writer)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// The order a payment was the first charge of, if any.
    pub async fn order_id_for_payment(
        &self,
        client_no: i64,
        payment_id: &str,
    ) -> Result<Option<String>, StorageError> {
        let row = sql::query("SELECT id FROM orders WHERE client_no = $1 AND payment_id = $2")
            .bind(client_no)
            .bind(payment_id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(match row {
            Some(r) => Some(r.try_get("id")?),
            None => None,
        })
    }
}
