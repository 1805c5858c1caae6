//! Payments and their gateway calls (transactions).
//!
//! Every call to Stripe is first written as a `pending` transaction (its id is the Stripe
//! idempotency key), then finished with what Stripe answered. A payment being worked on carries
//! the transaction in `busy_txn`, so a second capture, void or refund waits its turn.

use crate::sql;

use crate::{now_millis, Page, StorageError, Store};

#[derive(Debug, Clone, Default)]
pub struct PaymentRecord {
    pub id: String,
    pub client_no: i64,
    pub acct_no: i64,
    pub gateway_id: i64,
    pub pm_no: Option<i64>,
    pub status: String,
    pub currency: String,
    pub amount: i64,
    pub amount_authorized: i64,
    pub amount_captured: i64,
    pub amount_refunded: i64,
    pub recurring_model: i64,
    pub processor_payment_id: Option<String>,
    pub auth_no: Option<String>,
    pub initial_auth_txn_id: Option<String>,
    pub descriptor: Option<String>,
    /// JSON: what was sent, the decline, 3-D Secure and fraud results.
    pub details: String,
    pub busy_txn: Option<String>,
    /// The card's Stripe fingerprint, or its PaymentMethod id: for duplicate protection.
    pub card_key: Option<String>,
    pub version: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Debug, Clone, Default)]
pub struct TransactionRecord {
    pub id: String,
    pub payment_id: String,
    pub client_no: i64,
    /// `authorize`, `capture`, `void`, `refund`.
    pub kind: String,
    pub amount: i64,
    /// `pending` (sent, answer not known), `succeeded`, `failed`.
    pub status: String,
    pub processor_id: Option<String>,
    /// JSON error, when it failed.
    pub error: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// What Stripe answered to one gateway call.
#[derive(Debug, Clone, Default)]
pub struct TxnOutcome {
    /// `succeeded`, `failed`, or `pending` while the answer is still unknown.
    pub status: String,
    pub processor_id: Option<String>,
    /// JSON error, when it failed.
    pub error: Option<String>,
}

/// What finishing a transaction writes to its payment.
#[derive(Debug, Clone, Default)]
pub struct PaymentUpdate {
    pub status: String,
    pub amount_authorized: i64,
    pub amount_captured: i64,
    pub amount_refunded: i64,
    pub processor_payment_id: Option<String>,
    pub auth_no: Option<String>,
    pub initial_auth_txn_id: Option<String>,
    pub details: String,
    /// The card brand Stripe reported, when it did.
    pub card_brand: Option<String>,
    /// The payment's volume reservation, settled in the same transaction (its `details` record
    /// that it was).
    pub settle: Option<crate::VolumeSettle>,
}

/// What `list_payments` keeps (every field optional).
#[derive(Debug, Clone, Default)]
pub struct PaymentFilter {
    pub acct_no: Option<i64>,
    pub status: Option<String>,
    pub gateway_id: Option<i64>,
    pub card_brand: Option<String>,
    /// `Some(true)`: merchant-initiated only (`recurring_processing_model_ind` 2, 3); `Some(false)`:
    /// cardholder-initiated only.
    pub merchant_initiated: Option<bool>,
    /// `[created_from, created_to)`, Unix milliseconds.
    pub created_from: Option<i64>,
    pub created_to: Option<i64>,
}

const P_COLUMNS: &str = "id, client_no, acct_no, gateway_id, pm_no, status, currency, amount, amount_authorized, amount_captured, amount_refunded, recurring_model, processor_payment_id, auth_no, initial_auth_txn_id, descriptor, details, busy_txn, card_key, version, created_at, updated_at";
const T_COLUMNS: &str =
    "id, payment_id, client_no, kind, amount, status, processor_id, error, created_at, updated_at";

fn payment(r: &sql::Row) -> Result<PaymentRecord, StorageError> {
    Ok(PaymentRecord {
        id: r.try_get("id")?,
        client_no: r.try_get("client_no")?,
        acct_no: r.try_get("acct_no")?,
        gateway_id: r.try_get("gateway_id")?,
        pm_no: r.try_get("pm_no")?,
        status: r.try_get("status")?,
        currency: r.try_get("currency")?,
        amount: r.try_get("amount")?,
        amount_authorized: r.try_get("amount_authorized")?,
        amount_captured: r.try_get("amount_captured")?,
        amount_refunded: r.try_get("amount_refunded")?,
        recurring_model: r.try_get("recurring_model")?,
        processor_payment_id: r.try_get("processor_payment_id")?,
        auth_no: r.try_get("auth_no")?,
        initial_auth_txn_id: r.try_get("initial_auth_txn_id")?,
        descriptor: r.try_get("descriptor")?,
        details: r.try_get("details")?,
        busy_txn: r.try_get("busy_txn")?,
        card_key: r.try_get("card_key")?,
        version: r.try_get("version")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

fn transaction(r: &sql::Row) -> Result<TransactionRecord, StorageError> {
    Ok(TransactionRecord {
        id: r.try_get("id")?,
        payment_id: r.try_get("payment_id")?,
        client_no: r.try_get("client_no")?,
        kind: r.try_get("kind")?,
        amount: r.try_get("amount")?,
        status: r.try_get("status")?,
        processor_id: r.try_get("processor_id")?,
        error: r.try_get("error")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

/// A payment's transactions, oldest first (`$1` the payment).
fn transactions_sql() -> String {
    format!("SELECT {T_COLUMNS} FROM payment_transactions WHERE payment_id = $1 ORDER BY created_at, id")
}

/// A payment by its authorization number (index `payments_by_auth_no`).
pub(crate) const BY_AUTH_NO: &str = "FROM payments WHERE client_no = $1 AND auth_no = $2";

/// The reconciler's queue, oldest first (index `payment_transactions_pending`).
pub(crate) const PENDING_QUEUE: &str = "FROM payment_transactions WHERE status = 'pending' AND created_at <= $1 ORDER BY created_at LIMIT $2";

/// The statement writing a new transaction (`pending`) — only if its payment is busy with it
/// (claimed for it, or inserted with it, earlier in the same flight).
fn insert_txn(t: &TransactionRecord, now: i64) -> sql::Query<'_> {
    sql::query(
        "INSERT INTO payment_transactions (id, payment_id, client_no, kind, amount, status, processor_id, error, created_at, updated_at)
         SELECT $1, $2, $3, $4, $5, 'pending', NULL, NULL, $6, $6
          WHERE EXISTS (SELECT 1 FROM payments WHERE id = $2 AND busy_txn = $1)",
    )
    .bind(&t.id)
    .bind(&t.payment_id)
    .bind(t.client_no)
    .bind(&t.kind)
    .bind(t.amount)
    .bind(now)
}

/// A payment's transactions and chargebacks, oldest first.
pub type PaymentHistory = (Vec<TransactionRecord>, Vec<crate::ChargebackRecord>);

/// Where a payment's history is in a batch's answers.
struct HistoryReads {
    transactions: usize,
    chargebacks: usize,
}

/// Adds the reads of a payment's history to `batch` (`txns` and `cbs`: the two statements' text).
fn history_reads<'q>(
    batch: &mut sql::Batch<'q>,
    client_no: i64,
    payment_id: &'q str,
    txns: &'q str,
    cbs: &'q str,
) -> HistoryReads {
    HistoryReads {
        transactions: batch.fetch_all(sql::query(txns).bind(payment_id)),
        chargebacks: batch.fetch_all(sql::query(cbs).bind(client_no).bind(payment_id)),
    }
}

impl HistoryReads {
    fn take(self, answers: &mut sql::Answers) -> Result<PaymentHistory, StorageError> {
        Ok((
            answers
                .all(self.transactions)
                .iter()
                .map(transaction)
                .collect::<Result<_, _>>()?,
            answers
                .all(self.chargebacks)
                .iter()
                .map(crate::webhooks::chargeback)
                .collect::<Result<_, _>>()?,
        ))
    }
}

/// A fresh value for `payments.last_write`: the mark by which a flight's later statements know
/// that its payment update took effect (no other write can carry it). It only has to be
/// unique, not unguessable: 64 random bits drawn once per process (another process — a
/// `kassa worker`, another node — draws its own) and a count, so a mark costs no system call.
fn write_mark() -> Result<String, StorageError> {
    static PROCESS: std::sync::OnceLock<Option<u64>> = std::sync::OnceLock::new();
    static COUNT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let prefix = PROCESS
        .get_or_init(|| {
            let mut b = [0u8; 8];
            getrandom::getrandom(&mut b)
                .ok()
                .map(|_| u64::from_le_bytes(b))
        })
        .ok_or_else(|| {
            StorageError::Database(crate::error::DbError::Pool(
                "no randomness for the process's write marks".into(),
            ))
        })?;
    let n = COUNT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    Ok(format!("{prefix:016x}{n:016x}"))
}

impl Store {
    /// Writes a new payment (status `pending`, busy with its first transaction) and that
    /// transaction, before anything is sent to Stripe.
    pub async fn insert_payment(
        &self,
        p: &PaymentRecord,
        first_txn: &TransactionRecord,
    ) -> Result<PaymentRecord, StorageError> {
        self.insert_payment_reserving(p, first_txn, None)
            .await?
            .ok_or(StorageError::Stale)
    }

    /// [`Store::insert_payment`] with the volume it reserves under its gateway's monthly cap, in
    /// the same transaction (a crash cannot leave a reservation without its payment). `None`, and
    /// nothing written, when the cap does not allow the amount.
    pub async fn insert_payment_reserving(
        &self,
        p: &PaymentRecord,
        first_txn: &TransactionRecord,
        reserve: Option<&crate::VolumeReserve>,
    ) -> Result<Option<PaymentRecord>, StorageError> {
        self.insert_payment_claiming(p, first_txn, reserve, None)
            .await
    }

    /// [`Store::insert_payment_reserving`] that also claims the request's idempotency key, first
    /// in the same transaction: [`StorageError::IdempotencyKeyTaken`], and nothing written, when
    /// another request holds or held the key.
    pub async fn insert_payment_claiming(
        &self,
        p: &PaymentRecord,
        first_txn: &TransactionRecord,
        reserve: Option<&crate::VolumeReserve>,
        claim: Option<&crate::IdempotencyClaim>,
    ) -> Result<Option<PaymentRecord>, StorageError> {
        let now = now_millis();
        // With a reservation, the payment is inserted only where the reservation was made.
        let condition = match reserve {
            Some(_) => format!("WHERE {}", crate::volume::reserved_for("$4", "$15")),
            None => String::new(),
        };
        let insert = format!(
            "INSERT INTO payments (id, client_no, acct_no, gateway_id, pm_no, status, currency, amount, amount_authorized, amount_captured, amount_refunded,
                                   recurring_model, processor_payment_id, auth_no, initial_auth_txn_id, descriptor, details, busy_txn, card_key, version, created_at, updated_at)
             SELECT $1, $2, $3, $4, $5, $6, $7, $8, 0, 0, 0, $9, NULL, NULL, NULL, $10, $11, $12, $14, 1, $13, $13 {condition}
             RETURNING {P_COLUMNS}"
        );
        // One flight, with the commit: the reservation (which locks the gateway's month row, as
        // every payment through the gateway does, until the commit right behind it), the payment
        // where the reservation was made, its transaction where the payment was inserted.
        let mut batch = sql::Batch::new();
        if let Some(c) = claim {
            batch.execute(c.insert(now));
        }
        if let Some(r) = reserve {
            batch.execute(crate::volume::reserve_for_query(r, &p.id));
        }
        let mut q = sql::query(&insert)
            .bind(&p.id)
            .bind(p.client_no)
            .bind(p.acct_no)
            .bind(p.gateway_id)
            .bind(p.pm_no)
            .bind(&p.status)
            .bind(&p.currency)
            .bind(p.amount)
            .bind(p.recurring_model)
            .bind(p.descriptor.as_deref())
            .bind(&p.details)
            .bind(&first_txn.id)
            .bind(now)
            .bind(p.card_key.as_deref());
        if let Some(r) = reserve {
            q = q.bind(&r.month);
        }
        let payment_row = batch.fetch_optional(q);
        batch.execute(insert_txn(first_txn, now));
        let mut answers = match batch.commit(self.writer.begin().await?).await {
            Err(e) if claim.is_some() => return Err(crate::IdempotencyClaim::refused(e)),
            other => other?,
        };
        match answers.optional(payment_row) {
            Some(row) => Ok(Some(payment(&row)?)),
            // The cap did not allow the amount: nothing was written.
            None if reserve.is_some() => Ok(None),
            None => Err(StorageError::Corrupt(
                "INSERT … RETURNING gave no row".into(),
            )),
        }
    }

    pub async fn get_payment(
        &self,
        client_no: i64,
        id: &str,
    ) -> Result<PaymentRecord, StorageError> {
        let row = sql::query(&format!(
            "SELECT {P_COLUMNS} FROM payments WHERE client_no = $1 AND id = $2"
        ))
        .bind(client_no)
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StorageError::NotFound)?;
        payment(&row)
    }

    /// Replaces a payment's details document (what the 3-D Secure return records).
    pub async fn set_payment_details(&self, id: &str, details: &str) -> Result<(), StorageError> {
        sql::query("UPDATE payments SET details = $1, updated_at = $2 WHERE id = $3")
            .bind(details)
            .bind(now_millis())
            .bind(id)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    /// Links a payment to the payment method its card was stored as.
    pub async fn set_payment_method_of_payment(
        &self,
        client_no: i64,
        id: &str,
        pm_no: i64,
    ) -> Result<(), StorageError> {
        sql::query("UPDATE payments SET pm_no = $1 WHERE client_no = $2 AND id = $3")
            .bind(pm_no)
            .bind(client_no)
            .bind(id)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    /// An earlier payment of `amount` with the same card on the same gateway since `since`
    /// (Unix ms) that went through or may still: a duplicate.
    pub async fn recent_duplicate(
        &self,
        client_no: i64,
        gateway_id: i64,
        card_key: &str,
        amount: i64,
        since: i64,
    ) -> Result<Option<String>, StorageError> {
        let row = sql::query(
            "SELECT id FROM payments WHERE client_no = $1 AND gateway_id = $2 AND card_key = $3 AND amount = $4 AND created_at >= $5
               AND status IN ('pending', 'requires_action', 'authorized', 'captured', 'partially_captured', 'partially_refunded')
             ORDER BY created_at DESC LIMIT 1",
        )
        .bind(client_no)
        .bind(gateway_id)
        .bind(card_key)
        .bind(amount)
        .bind(since)
        .fetch_optional(&self.pool)
        .await?;
        Ok(match row {
            Some(r) => Some(r.try_get("id")?),
            None => None,
        })
    }

    /// A payment by id alone, for the 3-D Secure return, where the shopper's browser (not a
    /// client) calls: the id is random and unguessable.
    pub async fn get_payment_by_id(&self, id: &str) -> Result<PaymentRecord, StorageError> {
        let row = sql::query(&format!("SELECT {P_COLUMNS} FROM payments WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StorageError::NotFound)?;
        payment(&row)
    }

    /// The payment an authorization number belongs to.
    pub async fn find_payment_by_auth_no(
        &self,
        client_no: i64,
        auth_no: &str,
    ) -> Result<PaymentRecord, StorageError> {
        let row = sql::query(&format!("SELECT {P_COLUMNS} {BY_AUTH_NO}"))
            .bind(client_no)
            .bind(auth_no)
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StorageError::NotFound)?;
        payment(&row)
    }

    /// Payments newest first; `starting_after` is a payment id.
    pub async fn list_payments(
        &self,
        client_no: i64,
        f: &PaymentFilter,
        limit: i64,
        starting_after: Option<&str>,
    ) -> Result<Page<PaymentRecord>, StorageError> {
        let initiator = match f.merchant_initiated {
            None => 0,
            Some(false) => 1,
            Some(true) => 2,
        };
        let rows = sql::query(&format!(
            "SELECT {P_COLUMNS} FROM payments
             WHERE client_no = $1 AND ($2 = '' OR id < $2) AND ($3 = 0 OR acct_no = $3) AND ($4 = '' OR status = $4)
               AND ($6 = 0 OR gateway_id = $6) AND ($7 = '' OR card_brand = $7)
               AND ($8 = 0 OR ($8 = 1 AND recurring_model < 2) OR ($8 = 2 AND recurring_model >= 2))
               AND created_at >= $9 AND created_at < $10
             ORDER BY id DESC LIMIT $5"
        ))
        .bind(client_no)
        .bind(starting_after.unwrap_or(""))
        .bind(f.acct_no.unwrap_or(0))
        .bind(f.status.as_deref().unwrap_or(""))
        .bind(limit + 1)
        .bind(f.gateway_id.unwrap_or(0))
        .bind(f.card_brand.as_deref().unwrap_or(""))
        .bind(initiator)
        .bind(f.created_from.unwrap_or(0))
        .bind(f.created_to.unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await?;
        let mut data = rows.iter().map(payment).collect::<Result<Vec<_>, _>>()?;
        let has_more = data.len() as i64 > limit;
        data.truncate(limit as usize);
        Ok(Page { data, has_more })
    }

    /// Claims a payment for one more gateway call: only when it is at `expected_version` and no
    /// other call is under way. The transaction is written in the same step.
    pub async fn claim_payment(
        &self,
        client_no: i64,
        id: &str,
        expected_version: i64,
        txn: &TransactionRecord,
    ) -> Result<(), StorageError> {
        let now = now_millis();
        let mut batch = sql::Batch::new();
        let claimed = batch.execute(
            sql::query(
                "UPDATE payments SET busy_txn = $1, version = version + 1, updated_at = $2
                 WHERE client_no = $3 AND id = $4 AND version = $5 AND busy_txn IS NULL",
            )
            .bind(&txn.id)
            .bind(now)
            .bind(client_no)
            .bind(id)
            .bind(expected_version),
        );
        batch.execute(insert_txn(txn, now));
        let answers = batch.commit(self.writer.begin().await?).await?;
        if answers.rows_affected(claimed) != 1 {
            return Err(StorageError::Stale); // and the transaction was not written either
        }
        Ok(())
    }

    /// Finishes a transaction with Stripe's answer and writes its effect on the payment, which is
    /// released for the next call. `txn_status` `pending` keeps the payment claimed (the answer is
    /// still unknown; the reconciler finishes it).
    pub async fn finish_transaction(
        &self,
        client_no: i64,
        payment_id: &str,
        txn_id: &str,
        outcome: &TxnOutcome,
        update: &PaymentUpdate,
    ) -> Result<PaymentRecord, StorageError> {
        Ok(self
            .finish(client_no, payment_id, txn_id, outcome, update, false)
            .await?
            .0)
    }

    /// [`Store::finish_transaction`], and then the payment's history as
    /// [`Store::payment_history`] reads it, in the same flight: what the answer to a capture,
    /// void or refund shows.
    pub async fn finish_transaction_with_history(
        &self,
        client_no: i64,
        payment_id: &str,
        txn_id: &str,
        outcome: &TxnOutcome,
        update: &PaymentUpdate,
    ) -> Result<(PaymentRecord, PaymentHistory), StorageError> {
        let (rec, history) = self
            .finish(client_no, payment_id, txn_id, outcome, update, true)
            .await?;
        Ok((rec, history.unwrap_or_default()))
    }

    async fn finish(
        &self,
        client_no: i64,
        payment_id: &str,
        txn_id: &str,
        outcome: &TxnOutcome,
        update: &PaymentUpdate,
        with_history: bool,
    ) -> Result<(PaymentRecord, Option<PaymentHistory>), StorageError> {
        let now = now_millis();
        let release = outcome.status != "pending";
        let mark = write_mark()?;
        let update_payment = format!(
            "UPDATE payments SET status = $1, amount_authorized = $2, amount_captured = $3, amount_refunded = $4,
                    processor_payment_id = COALESCE($5, processor_payment_id), auth_no = COALESCE($6, auth_no),
                    initial_auth_txn_id = COALESCE($7, initial_auth_txn_id), details = $8,
                    busy_txn = CASE WHEN $9 = 1 THEN NULL ELSE busy_txn END, version = version + 1, updated_at = $10,
                    card_brand = COALESCE($14, card_brand), last_write = $15
             WHERE client_no = $11 AND id = $12 AND busy_txn = $13
             RETURNING {P_COLUMNS}"
        );
        // One flight, with the commit: the payment (only if busy with this call), then the
        // transaction and the volume — each only where the payment carries this flight's mark,
        // that is, where the payment's update took effect. The volume last, like the
        // reservation in `insert_payment_reserving`.
        let mut batch = sql::Batch::new();
        let payment_row = batch.fetch_optional(
            sql::query(&update_payment)
                .bind(&update.status)
                .bind(update.amount_authorized)
                .bind(update.amount_captured)
                .bind(update.amount_refunded)
                .bind(update.processor_payment_id.as_deref())
                .bind(update.auth_no.as_deref())
                .bind(update.initial_auth_txn_id.as_deref())
                .bind(&update.details)
                .bind(i64::from(release))
                .bind(now)
                .bind(client_no)
                .bind(payment_id)
                .bind(txn_id)
                .bind(update.card_brand.as_deref())
                .bind(&mark),
        );
        batch.execute(
            sql::query(
                "UPDATE payment_transactions SET status = $1, processor_id = COALESCE($2, processor_id), error = $3, updated_at = $4
                  WHERE id = $5 AND EXISTS (SELECT 1 FROM payments WHERE id = $6 AND last_write = $7)",
            )
            .bind(&outcome.status)
            .bind(outcome.processor_id.as_deref())
            .bind(outcome.error.as_deref())
            .bind(now)
            .bind(txn_id)
            .bind(payment_id)
            .bind(&mark),
        );
        let settle_sql = crate::volume::settle_sql(
            "EXISTS (SELECT 1 FROM payments WHERE id = $5 AND last_write = $6)",
        );
        if let Some(s) = &update.settle {
            batch.execute(
                crate::volume::settle_query(s, &settle_sql)
                    .bind(payment_id)
                    .bind(&mark),
            );
        }
        // The history's statements are only built when they are asked for.
        let texts = with_history.then(|| {
            (
                transactions_sql(),
                crate::webhooks::chargebacks_of_payment_sql(),
            )
        });
        let history = texts
            .as_ref()
            .map(|(txns, cbs)| history_reads(&mut batch, client_no, payment_id, txns, cbs));
        let mut answers = batch.commit(self.begin_outcome().await?).await?;
        // Not this call's to finish: nothing was written.
        let row = answers.optional(payment_row).ok_or(StorageError::Stale)?;
        let history = history.map(|h| h.take(&mut answers)).transpose()?;
        Ok((payment(&row)?, history))
    }

    /// A payment's transactions and chargebacks, oldest first: read together (one round trip on
    /// PostgreSQL), for the payment's full view.
    pub async fn payment_history(
        &self,
        client_no: i64,
        payment_id: &str,
    ) -> Result<PaymentHistory, StorageError> {
        let (txns, cbs) = (
            transactions_sql(),
            crate::webhooks::chargebacks_of_payment_sql(),
        );
        let mut batch = sql::Batch::new();
        let reads = history_reads(&mut batch, client_no, payment_id, &txns, &cbs);
        reads.take(&mut batch.run(&self.pool).await?)
    }

    pub async fn list_transactions(
        &self,
        payment_id: &str,
    ) -> Result<Vec<TransactionRecord>, StorageError> {
        let rows = sql::query(&transactions_sql())
            .bind(payment_id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(transaction).collect()
    }

    pub async fn get_transaction(
        &self,
        client_no: i64,
        id: &str,
    ) -> Result<TransactionRecord, StorageError> {
        let row = sql::query(&format!(
            "SELECT {T_COLUMNS} FROM payment_transactions WHERE client_no = $1 AND id = $2"
        ))
        .bind(client_no)
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StorageError::NotFound)?;
        transaction(&row)
    }

    /// Transactions still `pending` that were written before `older_than` — for the reconciler.
    pub async fn pending_transactions(
        &self,
        older_than: i64,
        limit: i64,
    ) -> Result<Vec<TransactionRecord>, StorageError> {
        let rows = sql::query(&format!("SELECT {T_COLUMNS} {PENDING_QUEUE}"))
            .bind(older_than)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(transaction).collect()
    }
}
