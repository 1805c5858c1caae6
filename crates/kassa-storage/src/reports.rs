//! Read-only queries behind the reports: aggregated in SQL where the schema allows it (the same
//! statements on SQLite and PostgreSQL), row by row where the figures live in JSON details.
//! Sums are cast to BIGINT: PostgreSQL's `SUM` of a BIGINT is a NUMERIC.

use crate::sql;
use crate::{StorageError, Store};

/// A gateway's volume in one month (`gateway_volume`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VolumeMonth {
    pub gateway_id: i64,
    pub month: String,
    pub gross: i64,
    pub refunded: i64,
    pub transactions: i64,
}

/// A gateway's captured payments in a time range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CapturedTotal {
    pub gateway_id: i64,
    pub captured: i64,
    pub refunded: i64,
    pub payments: i64,
}

/// A chargeback with the card brand of its payment.
#[derive(Debug, Clone)]
pub struct ChargebackRow {
    pub dispute_id: String,
    pub payment_id: String,
    pub gateway_id: i64,
    pub amount: i64,
    pub currency: String,
    pub reason: String,
    pub status: String,
    pub fee: i64,
    pub outcome: Option<String>,
    pub brand: Option<String>,
    /// The payment's details (JSON): the card brand when the card was not stored.
    pub details: String,
    pub created_at: i64,
}

/// A declined payment: its decline details are in `details` (JSON).
#[derive(Debug, Clone)]
pub struct DeclineRow {
    pub gateway_id: i64,
    pub amount: i64,
    pub recurring_model: i64,
    pub details: String,
    pub brand: Option<String>,
}

/// A purchase due for billing, with its product's schedule.
#[derive(Debug, Clone)]
pub struct DueRow {
    pub gateway_id: i64,
    pub next_bill_at: i64,
    pub cycle: i64,
    pub price_override: Option<i64>,
    pub schedule: Option<String>,
    pub currency: String,
}

impl Store {
    /// Volume per gateway and month, `from` to `to` (`YYYY-MM`, both included).
    pub async fn report_volume(
        &self,
        client_no: i64,
        from: &str,
        to: &str,
    ) -> Result<Vec<VolumeMonth>, StorageError> {
        let rows = sql::query(
            "SELECT v.gateway_id, v.month, v.gross, v.refunded, v.transactions
             FROM gateway_volume v JOIN gateways g ON g.id = v.gateway_id
             WHERE g.client_no = $1 AND v.month >= $2 AND v.month <= $3
             ORDER BY v.month, v.gateway_id",
        )
        .bind(client_no)
        .bind(from)
        .bind(to)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(VolumeMonth {
                    gateway_id: r.try_get("gateway_id")?,
                    month: r.try_get("month")?,
                    gross: r.try_get("gross")?,
                    refunded: r.try_get("refunded")?,
                    transactions: r.try_get("transactions")?,
                })
            })
            .collect()
    }

    /// Captured (and refunded) amounts and counts of captured payments per gateway, created in
    /// `[from, to)` (Unix milliseconds).
    pub async fn report_captured(
        &self,
        client_no: i64,
        from: i64,
        to: i64,
    ) -> Result<Vec<CapturedTotal>, StorageError> {
        let rows = sql::query(
            "SELECT gateway_id, CAST(SUM(amount_captured) AS BIGINT) AS captured,
                    CAST(SUM(amount_refunded) AS BIGINT) AS refunded, COUNT(*) AS payments
             FROM payments
             WHERE client_no = $1 AND created_at >= $2 AND created_at < $3 AND amount_captured > 0
             GROUP BY gateway_id ORDER BY gateway_id",
        )
        .bind(client_no)
        .bind(from)
        .bind(to)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(CapturedTotal {
                    gateway_id: r.try_get("gateway_id")?,
                    captured: r.try_get("captured")?,
                    refunded: r.try_get("refunded")?,
                    payments: r.try_get("payments")?,
                })
            })
            .collect()
    }

    /// Chargebacks opened in `[from, to)`, oldest first.
    pub async fn report_chargebacks(
        &self,
        client_no: i64,
        from: i64,
        to: i64,
    ) -> Result<Vec<ChargebackRow>, StorageError> {
        let rows = sql::query(
            "SELECT c.dispute_id, c.payment_id, c.gateway_id, c.amount, c.currency, c.reason, c.status, c.fee,
                    c.outcome, c.created_at, m.brand, p.details
             FROM chargebacks c JOIN payments p ON p.id = c.payment_id
             LEFT JOIN payment_methods m ON m.pm_no = p.pm_no
             WHERE c.client_no = $1 AND c.created_at >= $2 AND c.created_at < $3
             ORDER BY c.created_at, c.id",
        )
        .bind(client_no)
        .bind(from)
        .bind(to)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(ChargebackRow {
                    dispute_id: r.try_get("dispute_id")?,
                    payment_id: r.try_get("payment_id")?,
                    gateway_id: r.try_get("gateway_id")?,
                    amount: r.try_get("amount")?,
                    currency: r.try_get("currency")?,
                    reason: r.try_get("reason")?,
                    status: r.try_get("status")?,
                    fee: r.try_get("fee")?,
                    outcome: r.try_get("outcome")?,
                    brand: r.try_get("brand")?,
                    details: r.try_get("details")?,
                    created_at: r.try_get("created_at")?,
                })
            })
            .collect()
    }

    /// Declined payments created in `[from, to)`.
    pub async fn report_declines(
        &self,
        client_no: i64,
        from: i64,
        to: i64,
    ) -> Result<Vec<DeclineRow>, StorageError> {
        let rows = sql::query(
            "SELECT p.gateway_id, p.amount, p.recurring_model, p.details, m.brand
             FROM payments p LEFT JOIN payment_methods m ON m.pm_no = p.pm_no
             WHERE p.client_no = $1 AND p.status = 'declined' AND p.created_at >= $2 AND p.created_at < $3",
        )
        .bind(client_no)
        .bind(from)
        .bind(to)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(DeclineRow {
                    gateway_id: r.try_get("gateway_id")?,
                    amount: r.try_get("amount")?,
                    recurring_model: r.try_get("recurring_model")?,
                    details: r.try_get("details")?,
                    brand: r.try_get("brand")?,
                })
            })
            .collect()
    }

    /// Recycle-billing attempts (retries after a declined rebill) made in `[from, to)`: how
    /// many there were and how many were approved.
    pub async fn report_recycle(
        &self,
        client_no: i64,
        from: i64,
        to: i64,
    ) -> Result<(i64, i64), StorageError> {
        let row = sql::query(
            "SELECT COUNT(*) AS attempts,
                    CAST(COALESCE(SUM(CASE WHEN a.status = 'approved' THEN 1 ELSE 0 END), 0) AS BIGINT) AS recovered
             FROM purchase_attempts a JOIN purchases p ON p.id = a.purchase_id
             WHERE p.client_no = $1 AND a.attempt > 1 AND a.created_at >= $2 AND a.created_at < $3",
        )
        .bind(client_no)
        .bind(from)
        .bind(to)
        .fetch_one(&self.pool)
        .await?;
        Ok((row.try_get("attempts")?, row.try_get("recovered")?))
    }

    /// Purchases of live campaigns due in `[from, to)`.
    pub async fn report_due(
        &self,
        client_no: i64,
        from: i64,
        to: i64,
    ) -> Result<Vec<DueRow>, StorageError> {
        let rows = sql::query(
            "SELECT p.gateway_id, p.next_bill_at, p.cycle, p.price_override, p.currency, cp.schedule
             FROM purchases p
             JOIN campaign_products cp ON cp.id = p.product_id
             JOIN campaigns c ON c.id = cp.campaign_id
             WHERE p.client_no = $1 AND c.deleted_at IS NULL
               AND p.status IN ('active', 'trial', 'recycle_billing')
               AND p.next_bill_at >= $2 AND p.next_bill_at < $3
             ORDER BY p.next_bill_at",
        )
        .bind(client_no)
        .bind(from)
        .bind(to)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(DueRow {
                    gateway_id: r.try_get("gateway_id")?,
                    next_bill_at: r.try_get("next_bill_at")?,
                    cycle: r.try_get("cycle")?,
                    price_override: r.try_get("price_override")?,
                    schedule: r.try_get("schedule")?,
                    currency: r.try_get("currency")?,
                })
            })
            .collect()
    }
}
