//! Webhook events as received (stored before they are acted on), and the changes events make:
//! card updates with their history, chargebacks, payment states changed outside Kassa.

use crate::sql;

use crate::{now_millis, Page, PageRequest, PaymentRecord, StorageError, Store};

#[derive(Debug, Clone, Default)]
pub struct WebhookEventRecord {
    pub id: i64,
    pub client_no: i64,
    pub group_no: Option<i64>,
    pub gateway_id: Option<i64>,
    pub event_id: String,
    pub event_type: String,
    pub account: Option<String>,
    /// The event's `created` (Unix seconds).
    pub event_created: i64,
    pub payload: String,
    /// `verified with gateway N secret K`, or why it was refused.
    pub verification: String,
    /// `received`, `applying`, `applied`, `ignored`, `failed`, `rejected`.
    pub status: String,
    pub attempts: i64,
    /// JSON: what it changed.
    pub result: Option<String>,
    pub error: Option<String>,
    pub received_at: i64,
    pub applied_at: Option<i64>,
}

const E_COLUMNS: &str = "id, client_no, group_no, gateway_id, event_id, event_type, account, event_created, payload, verification, status, attempts, result, error, received_at, applied_at";

fn event(r: &sql::Row) -> Result<WebhookEventRecord, StorageError> {
    Ok(WebhookEventRecord {
        id: r.try_get("id")?,
        client_no: r.try_get("client_no")?,
        group_no: r.try_get("group_no")?,
        gateway_id: r.try_get("gateway_id")?,
        event_id: r.try_get("event_id")?,
        event_type: r.try_get("event_type")?,
        account: r.try_get("account")?,
        event_created: r.try_get("event_created")?,
        payload: r.try_get("payload")?,
        verification: r.try_get("verification")?,
        status: r.try_get("status")?,
        attempts: r.try_get("attempts")?,
        result: r.try_get("result")?,
        error: r.try_get("error")?,
        received_at: r.try_get("received_at")?,
        applied_at: r.try_get("applied_at")?,
    })
}

/// A chargeback as a dispute event describes it.
#[derive(Debug, Clone, Default)]
pub struct ChargebackWrite {
    pub client_no: i64,
    pub payment_id: String,
    pub gateway_id: i64,
    pub dispute_id: String,
    pub amount: i64,
    pub currency: String,
    pub reason: String,
    pub status: String,
    pub evidence_due_by: Option<i64>,
    pub fee: i64,
    pub outcome: Option<String>,
    pub event_created: i64,
}

#[derive(Debug, Clone)]
pub struct ChargebackRecord {
    pub id: i64,
    pub payment_id: String,
    pub gateway_id: i64,
    pub dispute_id: String,
    pub amount: i64,
    pub currency: String,
    pub reason: String,
    pub status: String,
    pub evidence_due_by: Option<i64>,
    pub fee: i64,
    pub outcome: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// New card details from the network (account updater) or an update.
#[derive(Debug, Clone, Default)]
pub struct CardUpdate {
    pub brand: Option<String>,
    pub last4: Option<String>,
    pub exp_month: Option<i64>,
    pub exp_year: Option<i64>,
    pub fingerprint: Option<String>,
}

/// The payment of a PaymentIntent, else of a charge: two index lookups (`payments_by_processor_id`,
/// `payments_by_auth_no`). Not one `WHERE … OR …`: SQLite answers that by scanning all the
/// client's payments.
pub(crate) const BY_PROCESSOR: &str =
    "SELECT id FROM payments WHERE processor_payment_id = $2 AND client_no = $1 AND $2 <> ''
         UNION ALL
         SELECT id FROM payments WHERE client_no = $1 AND auth_no = $3 AND $3 <> ''
         LIMIT 1";

impl Store {
    /// Stores an event before anything acts on it. `None` when this event id was stored before
    /// (a redelivery): nothing is done twice.
    pub async fn insert_webhook_event(
        &self,
        e: &WebhookEventRecord,
    ) -> Result<Option<i64>, StorageError> {
        let row = sql::query(
            "INSERT INTO webhook_events (client_no, group_no, gateway_id, event_id, event_type, account, event_created, payload, verification, status, attempts, received_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 0, $11)
             ON CONFLICT (client_no, event_id) DO NOTHING RETURNING id",
        )
        .bind(e.client_no)
        .bind(e.group_no)
        .bind(e.gateway_id)
        .bind(&e.event_id)
        .bind(&e.event_type)
        .bind(e.account.as_deref())
        .bind(e.event_created)
        .bind(&e.payload)
        .bind(&e.verification)
        .bind(&e.status)
        .bind(now_millis())
        .fetch_optional(&self.writer)
        .await?;
        Ok(match row {
            Some(r) => Some(r.try_get("id")?),
            None => None,
        })
    }

    /// Takes an event for applying; false when another worker has it or it is done.
    pub async fn claim_webhook_event(
        &self,
        id: i64,
        retry_failed: bool,
    ) -> Result<bool, StorageError> {
        let r = sql::query(
            "UPDATE webhook_events SET status = 'applying', attempts = attempts + 1
             WHERE id = $1 AND (status = 'received' OR ($2 = 1 AND status = 'failed'))",
        )
        .bind(id)
        .bind(i64::from(retry_failed))
        .execute(&self.writer)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    pub async fn finish_webhook_event(
        &self,
        id: i64,
        status: &str,
        result: Option<&str>,
        error: Option<&str>,
    ) -> Result<(), StorageError> {
        sql::query("UPDATE webhook_events SET status = $1, result = $2, error = $3, applied_at = $4 WHERE id = $5")
            .bind(status)
            .bind(result)
            .bind(error)
            .bind(now_millis())
            .bind(id)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    pub async fn get_webhook_event(
        &self,
        client_no: i64,
        id: i64,
    ) -> Result<WebhookEventRecord, StorageError> {
        let row = sql::query(&format!(
            "SELECT {E_COLUMNS} FROM webhook_events WHERE client_no = $1 AND id = $2"
        ))
        .bind(client_no)
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StorageError::NotFound)?;
        event(&row)
    }

    pub async fn get_webhook_event_unscoped(
        &self,
        id: i64,
    ) -> Result<WebhookEventRecord, StorageError> {
        let row = sql::query(&format!(
            "SELECT {E_COLUMNS} FROM webhook_events WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StorageError::NotFound)?;
        event(&row)
    }

    pub async fn list_webhook_events(
        &self,
        client_no: i64,
        status: Option<&str>,
        event_type: Option<&str>,
        page: PageRequest,
    ) -> Result<Page<WebhookEventRecord>, StorageError> {
        let rows = sql::query(&format!(
            "SELECT {E_COLUMNS} FROM webhook_events
             WHERE client_no = $1 AND id < $2 AND ($3 = '' OR status = $3) AND ($4 = '' OR event_type = $4)
             ORDER BY id DESC LIMIT $5"
        ))
        .bind(client_no)
        .bind(page.cursor())
        .bind(status.unwrap_or(""))
        .bind(event_type.unwrap_or(""))
        .bind(page.fetch())
        .fetch_all(&self.pool)
        .await?;
        let rows = rows.iter().map(event).collect::<Result<Vec<_>, _>>()?;
        Ok(page.finish(rows))
    }

    /// Events stored but not applied: received before `older_than`, or stuck `applying` (a crash
    /// mid-way) since before `stuck_before`.
    pub async fn unapplied_webhook_events(
        &self,
        older_than: i64,
        stuck_before: i64,
        limit: i64,
    ) -> Result<Vec<WebhookEventRecord>, StorageError> {
        let rows = sql::query(&format!(
            "SELECT {E_COLUMNS} FROM webhook_events
             WHERE (status = 'received' AND received_at <= $1) OR (status = 'applying' AND received_at <= $2)
             ORDER BY event_created, id LIMIT $3"
        ))
        .bind(older_than)
        .bind(stuck_before)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(event).collect()
    }

    /// Puts a stuck `applying` event back to `received`.
    pub async fn release_webhook_event(&self, id: i64) -> Result<(), StorageError> {
        sql::query(
            "UPDATE webhook_events SET status = 'received' WHERE id = $1 AND status = 'applying'",
        )
        .bind(id)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    /// The client's stored payment methods for a Stripe PaymentMethod id.
    pub async fn payment_methods_by_stripe_id(
        &self,
        client_no: i64,
        stripe_pm: &str,
    ) -> Result<Vec<crate::PaymentMethodRecord>, StorageError> {
        let rows = sql::query(
            "SELECT pm_no, acct_no FROM payment_methods WHERE client_no = $1 AND token LIKE $2",
        )
        .bind(client_no)
        .bind(format!("{stripe_pm}:%"))
        .fetch_all(&self.pool)
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            out.push(
                self.get_payment_method(client_no, r.try_get("acct_no")?, r.try_get("pm_no")?)
                    .await?,
            );
        }
        Ok(out)
    }

    /// Applies a card update unless a newer event already did; the old and new values go to the
    /// card's history. Returns whether it applied.
    pub async fn update_card(
        &self,
        client_no: i64,
        pm_no: i64,
        u: &CardUpdate,
        changes: &str,
        source: &str,
        event_created: i64,
    ) -> Result<bool, StorageError> {
        let now = now_millis();
        let mut tx = self.writer.begin().await?;
        let r = sql::query(
            "UPDATE payment_methods SET brand = COALESCE($1, brand), last4 = COALESCE($2, last4), exp_month = COALESCE($3, exp_month),
                    exp_year = COALESCE($4, exp_year), fingerprint = COALESCE($5, fingerprint), last_event_at = $6,
                    version = version + 1, updated_at = $7
             WHERE client_no = $8 AND pm_no = $9 AND (last_event_at IS NULL OR last_event_at <= $6)",
        )
        .bind(u.brand.as_deref())
        .bind(u.last4.as_deref())
        .bind(u.exp_month)
        .bind(u.exp_year)
        .bind(u.fingerprint.as_deref())
        .bind(event_created)
        .bind(now)
        .bind(client_no)
        .bind(pm_no)
        .execute(&mut tx)
        .await?;
        if r.rows_affected() == 0 {
            return Ok(false);
        }
        sql::query("INSERT INTO payment_method_history (client_no, pm_no, changes, source, created_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(client_no)
            .bind(pm_no)
            .bind(changes)
            .bind(source)
            .bind(now)
            .execute(&mut tx)
            .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// A card's update history, oldest first: `(changes JSON, source, created_at)`.
    pub async fn payment_method_history(
        &self,
        client_no: i64,
        pm_no: i64,
    ) -> Result<Vec<(String, String, i64)>, StorageError> {
        let rows = sql::query("SELECT changes, source, created_at FROM payment_method_history WHERE client_no = $1 AND pm_no = $2 ORDER BY id")
            .bind(client_no)
            .bind(pm_no)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get("changes")?,
                    r.try_get("source")?,
                    r.try_get("created_at")?,
                ))
            })
            .collect()
    }

    /// The payment a Stripe PaymentIntent or charge belongs to, for a client.
    pub async fn find_payment_by_processor(
        &self,
        client_no: i64,
        payment_intent: Option<&str>,
        charge: Option<&str>,
    ) -> Result<Option<PaymentRecord>, StorageError> {
        let row = sql::query(BY_PROCESSOR)
            .bind(client_no)
            .bind(payment_intent.unwrap_or(""))
            .bind(charge.unwrap_or(""))
            .fetch_optional(&self.pool)
            .await?;
        match row {
            Some(r) => Ok(Some(
                self.get_payment(client_no, &r.try_get::<String, _>("id")?)
                    .await?,
            )),
            None => Ok(None),
        }
    }

    /// A refund Stripe reports as failed after it was answered `succeeded`: its transaction turns
    /// `failed` and the payment gets the amount back, in one database transaction. Returns the
    /// refund's amount, or `None` when there is no succeeded refund `refund_id` on the payment
    /// (already applied, or not Kassa's). `Err(Stale)` while a gateway call is under way.
    pub async fn fail_refund(
        &self,
        rec: &PaymentRecord,
        refund_id: &str,
        reason: &str,
    ) -> Result<Option<i64>, StorageError> {
        let now = now_millis();
        let error =
            serde_json::json!({"refund_failed": refund_id, "failure_reason": reason}).to_string();
        let mut tx = self.writer.begin().await?;
        // The write comes first, so the transaction holds the write lock before it reads (SQLite
        // cannot upgrade a read snapshot another writer has moved past). A refund whose own call
        // is still being recorded has no processor id yet: its payment is busy, and the event
        // waits instead of finding nothing.
        let marked = sql::query(
            "UPDATE payment_transactions SET status = 'failed', error = $1, updated_at = $2
             WHERE client_no = $3 AND payment_id = $4 AND kind = 'refund' AND processor_id = $5 AND status = 'succeeded'
               AND NOT EXISTS (SELECT 1 FROM payments WHERE id = $4 AND busy_txn IS NOT NULL)",
        )
        .bind(&error)
        .bind(now)
        .bind(rec.client_no)
        .bind(&rec.id)
        .bind(refund_id)
        .execute(&mut tx)
        .await?;
        if marked.rows_affected() != 1 {
            let busy: Option<String> =
                sql::query("SELECT busy_txn FROM payments WHERE client_no = $1 AND id = $2")
                    .bind(rec.client_no)
                    .bind(&rec.id)
                    .fetch_one(&mut tx)
                    .await?
                    .try_get("busy_txn")?;
            return if busy.is_some() {
                Err(StorageError::Stale)
            } else {
                Ok(None)
            };
        }
        let amount: i64 = sql::query(
            "SELECT amount FROM payment_transactions WHERE client_no = $1 AND payment_id = $2 AND kind = 'refund' AND processor_id = $3",
        )
        .bind(rec.client_no)
        .bind(&rec.id)
        .bind(refund_id)
        .fetch_one(&mut tx)
        .await?
        .try_get("amount")?;
        let p = sql::query(
            "SELECT amount_authorized, amount_captured, amount_refunded, version FROM payments WHERE client_no = $1 AND id = $2",
        )
        .bind(rec.client_no)
        .bind(&rec.id)
        .fetch_one(&mut tx)
        .await?;
        let version: i64 = p.try_get("version")?;
        let (authorized, captured, refunded): (i64, i64, i64) = (
            p.try_get("amount_authorized")?,
            p.try_get("amount_captured")?,
            p.try_get("amount_refunded")?,
        );
        let refunded = (refunded - amount).max(0);
        let status = if refunded > 0 {
            "partially_refunded"
        } else if captured >= authorized {
            "captured"
        } else {
            "partially_captured"
        };
        // Guarded: a gateway call that claimed the payment meanwhile makes this miss, and
        // nothing is written.
        let pay = sql::query("UPDATE payments SET status = $1, amount_refunded = $2, version = version + 1, updated_at = $3 WHERE client_no = $4 AND id = $5 AND version = $6 AND busy_txn IS NULL")
            .bind(status)
            .bind(refunded)
            .bind(now)
            .bind(rec.client_no)
            .bind(&rec.id)
            .bind(version)
            .execute(&mut tx)
            .await?;
        if pay.rows_affected() != 1 {
            return Err(StorageError::Stale);
        }
        tx.commit().await?;
        Ok(Some(amount))
    }

    /// Records a state Stripe reports for a payment changed outside Kassa, unless the payment is
    /// being worked on or a newer event was applied.
    pub async fn apply_external_payment_state(
        &self,
        rec: &PaymentRecord,
        status: &str,
        captured: i64,
        refunded: i64,
        event_created: i64,
    ) -> Result<bool, StorageError> {
        let r = sql::query(
            "UPDATE payments SET status = $1, amount_captured = $2, amount_refunded = $3, last_event_at = $4, version = version + 1, updated_at = $5
             WHERE client_no = $6 AND id = $7 AND version = $8 AND busy_txn IS NULL AND (last_event_at IS NULL OR last_event_at <= $4)",
        )
        .bind(status)
        .bind(captured)
        .bind(refunded)
        .bind(event_created)
        .bind(now_millis())
        .bind(rec.client_no)
        .bind(&rec.id)
        .bind(rec.version)
        .execute(&self.writer)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    /// Creates or updates a chargeback from a dispute event, unless a newer event already did.
    pub async fn upsert_chargeback(&self, c: &ChargebackWrite) -> Result<bool, StorageError> {
        let now = now_millis();
        let inserted = sql::query(
            "INSERT INTO chargebacks (client_no, payment_id, gateway_id, dispute_id, amount, currency, reason, status, evidence_due_by, fee, outcome, event_created, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $13)
             ON CONFLICT (client_no, dispute_id) DO NOTHING",
        )
        .bind(c.client_no)
        .bind(&c.payment_id)
        .bind(c.gateway_id)
        .bind(&c.dispute_id)
        .bind(c.amount)
        .bind(&c.currency)
        .bind(&c.reason)
        .bind(&c.status)
        .bind(c.evidence_due_by)
        .bind(c.fee)
        .bind(c.outcome.as_deref())
        .bind(c.event_created)
        .bind(now)
        .execute(&self.writer)
        .await?;
        if inserted.rows_affected() == 1 {
            return Ok(true);
        }
        let r = sql::query(
            "UPDATE chargebacks SET amount = $1, reason = $2, status = $3, evidence_due_by = $4, outcome = COALESCE($5, outcome), event_created = $6, updated_at = $7
             WHERE client_no = $8 AND dispute_id = $9 AND event_created <= $6",
        )
        .bind(c.amount)
        .bind(&c.reason)
        .bind(&c.status)
        .bind(c.evidence_due_by)
        .bind(c.outcome.as_deref())
        .bind(c.event_created)
        .bind(now)
        .bind(c.client_no)
        .bind(&c.dispute_id)
        .execute(&self.writer)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    /// Every chargeback on an account's payments, newest first (the customer profile).
    pub async fn chargebacks_for_account(
        &self,
        client_no: i64,
        acct_no: i64,
    ) -> Result<Vec<ChargebackRecord>, StorageError> {
        let rows = sql::query(&format!(
            "SELECT {CB} FROM chargebacks WHERE client_no = $1 AND payment_id IN
               (SELECT id FROM payments WHERE client_no = $1 AND acct_no = $2)
             ORDER BY created_at DESC, id DESC"
        ))
        .bind(client_no)
        .bind(acct_no)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(chargeback).collect()
    }
}

const CB: &str = "id, payment_id, gateway_id, dispute_id, amount, currency, reason, status, evidence_due_by, fee, outcome, created_at, updated_at";

/// A payment's chargebacks, oldest first (`$1` the client, `$2` the payment).
pub(crate) fn chargebacks_of_payment_sql() -> String {
    format!("SELECT {CB} FROM chargebacks WHERE client_no = $1 AND payment_id = $2 ORDER BY id")
}

pub(crate) fn chargeback(r: &sql::Row) -> Result<ChargebackRecord, StorageError> {
    Ok(ChargebackRecord {
        id: r.try_get("id")?,
        payment_id: r.try_get("payment_id")?,
        gateway_id: r.try_get("gateway_id")?,
        dispute_id: r.try_get("dispute_id")?,
        amount: r.try_get("amount")?,
        currency: r.try_get("currency")?,
        reason: r.try_get("reason")?,
        status: r.try_get("status")?,
        evidence_due_by: r.try_get("evidence_due_by")?,
        fee: r.try_get("fee")?,
        outcome: r.try_get("outcome")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}
