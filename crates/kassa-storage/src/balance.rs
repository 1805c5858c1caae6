//! Account balances: signed entries of what an account owes (failed rebills, explicit charges:
//! positive) and what paid it (settle and collect payments: negative).

use crate::sql;

use crate::{now_millis, StorageError, Store};

#[derive(Debug, Clone, Default)]
pub struct BalanceEntryRecord {
    pub id: i64,
    pub client_no: i64,
    pub acct_no: i64,
    pub currency: String,
    /// Minor units: positive owed, negative paid.
    pub amount: i64,
    /// `charge`, `rebill` (a failed rebill's cycle), `settle`, `collect`.
    pub kind: String,
    /// `applied`; `pending` while its payment's outcome is unknown (it counts, so the same
    /// balance is never charged twice); `void` (the payment failed, or the debt was withdrawn).
    pub status: String,
    pub purchase_id: Option<String>,
    pub cycle: Option<i64>,
    pub payment_id: Option<String>,
    pub description: Option<String>,
    pub created_at: i64,
}

const B: &str = "id, client_no, acct_no, currency, amount, kind, status, purchase_id, cycle, payment_id, description, created_at";

fn entry(r: &sql::Row) -> Result<BalanceEntryRecord, StorageError> {
    Ok(BalanceEntryRecord {
        id: r.try_get("id")?,
        client_no: r.try_get("client_no")?,
        acct_no: r.try_get("acct_no")?,
        currency: r.try_get("currency")?,
        amount: r.try_get("amount")?,
        kind: r.try_get("kind")?,
        status: r.try_get("status")?,
        purchase_id: r.try_get("purchase_id")?,
        cycle: r.try_get("cycle")?,
        payment_id: r.try_get("payment_id")?,
        description: r.try_get("description")?,
        created_at: r.try_get("created_at")?,
    })
}

impl Store {
    /// Adds an entry; `None` when an entry for the same purchase cycle or payment exists.
    pub async fn insert_balance_entry(
        &self,
        e: &BalanceEntryRecord,
    ) -> Result<Option<BalanceEntryRecord>, StorageError> {
        let now = now_millis();
        let row = sql::query(&format!(
            "INSERT INTO balance_entries (client_no, acct_no, currency, amount, kind, status, purchase_id, cycle, payment_id, description, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11) ON CONFLICT DO NOTHING RETURNING {B}"
        ))
        .bind(e.client_no)
        .bind(e.acct_no)
        .bind(&e.currency)
        .bind(e.amount)
        .bind(&e.kind)
        .bind(&e.status)
        .bind(e.purchase_id.as_deref())
        .bind(e.cycle)
        .bind(e.payment_id.as_deref())
        .bind(e.description.as_deref())
        .bind(now)
        .fetch_optional(&self.writer)
        .await?;
        row.as_ref().map(entry).transpose()
    }

    /// Every entry of an account, newest first.
    pub async fn list_balance_entries(
        &self,
        client_no: i64,
        acct_no: i64,
    ) -> Result<Vec<BalanceEntryRecord>, StorageError> {
        let rows = sql::query(&format!(
            "SELECT {B} FROM balance_entries WHERE client_no = $1 AND acct_no = $2 ORDER BY id DESC LIMIT 500"
        ))
        .bind(client_no)
        .bind(acct_no)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(entry).collect()
    }

    /// The account's balance per currency (applied and pending entries), by currency.
    pub async fn account_balances(
        &self,
        client_no: i64,
        acct_no: i64,
    ) -> Result<Vec<(String, i64)>, StorageError> {
        let rows = sql::query(
            "SELECT currency, CAST(SUM(amount) AS BIGINT) AS total FROM balance_entries WHERE client_no = $1 AND acct_no = $2 AND status IN ('applied', 'pending')
             GROUP BY currency ORDER BY currency",
        )
        .bind(client_no)
        .bind(acct_no)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("currency")?, r.try_get::<i64, _>("total")?)))
            .collect()
    }

    /// Records a payment against the balance before it is made, as a `pending` entry of
    /// `-amount` (with `amount` none: the whole balance owed in `currency`). The account's row is
    /// locked first, so two settles of one account are serialized and the second sees the
    /// first's entry. Returns the amount claimed, or `None` when nothing is owed.
    pub async fn claim_balance_payment(
        &self,
        e: &BalanceEntryRecord,
        amount: Option<i64>,
    ) -> Result<Option<i64>, StorageError> {
        let now = now_millis();
        let mut tx = self.writer.begin().await?;
        let locked = sql::query(
            "UPDATE accounts SET updated_at = updated_at WHERE client_no = $1 AND acct_no = $2",
        )
        .bind(e.client_no)
        .bind(e.acct_no)
        .execute(&mut tx)
        .await?;
        if locked.rows_affected() != 1 {
            return Err(StorageError::NotFound);
        }
        let claim = match amount {
            Some(a) => a,
            None => {
                let row = sql::query(
                    "SELECT CAST(COALESCE(SUM(amount), 0) AS BIGINT) AS total FROM balance_entries WHERE client_no = $1 AND acct_no = $2 AND currency = $3 AND status IN ('applied', 'pending')",
                )
                .bind(e.client_no)
                .bind(e.acct_no)
                .bind(&e.currency)
                .fetch_one(&mut tx)
                .await?;
                row.try_get::<i64, _>("total")?
            }
        };
        if claim <= 0 {
            return Ok(None);
        }
        sql::query(
            "INSERT INTO balance_entries (client_no, acct_no, currency, amount, kind, status, purchase_id, cycle, payment_id, description, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, 'pending', NULL, NULL, $6, $7, $8, $8)",
        )
        .bind(e.client_no)
        .bind(e.acct_no)
        .bind(&e.currency)
        .bind(-claim)
        .bind(&e.kind)
        .bind(e.payment_id.as_deref())
        .bind(e.description.as_deref())
        .bind(now)
        .execute(&mut tx)
        .await?;
        tx.commit().await?;
        Ok(Some(claim))
    }

    /// Settles a pending payment entry: `applied` or `void`.
    pub async fn finish_balance_payment(
        &self,
        payment_id: &str,
        status: &str,
    ) -> Result<(), StorageError> {
        sql::query("UPDATE balance_entries SET status = $1, updated_at = $2 WHERE payment_id = $3 AND status = 'pending'")
            .bind(status)
            .bind(now_millis())
            .bind(payment_id)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    /// Removes a pending payment entry whose payment was never made (the request was refused).
    pub async fn drop_balance_payment(&self, payment_id: &str) -> Result<(), StorageError> {
        sql::query("DELETE FROM balance_entries WHERE payment_id = $1 AND status = 'pending'")
            .bind(payment_id)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    /// Whether a failed rebill's debt may have been paid: a settle or collect of the account (in
    /// the debt's currency) was made, or is under way, after the debt was entered.
    pub async fn rebill_debt_paid(
        &self,
        purchase_id: &str,
        cycle: i64,
    ) -> Result<bool, StorageError> {
        let row = sql::query(
            "SELECT COUNT(*) AS n FROM balance_entries d JOIN balance_entries s
               ON s.client_no = d.client_no AND s.acct_no = d.acct_no AND s.currency = d.currency
             WHERE d.purchase_id = $1 AND d.cycle = $2 AND d.kind = 'rebill' AND d.status = 'applied'
               AND s.kind IN ('settle', 'collect') AND s.status IN ('applied', 'pending') AND s.id > d.id",
        )
        .bind(purchase_id)
        .bind(cycle)
        .fetch_one(&self.pool)
        .await?;
        Ok(row.try_get::<i64, _>("n")? > 0)
    }

    /// Withdraws a failed rebill's debt (the cycle was billed after all).
    pub async fn void_rebill_debt(
        &self,
        purchase_id: &str,
        cycle: i64,
    ) -> Result<(), StorageError> {
        sql::query("UPDATE balance_entries SET status = 'void', updated_at = $1 WHERE purchase_id = $2 AND cycle = $3 AND kind = 'rebill' AND status = 'applied'")
            .bind(now_millis())
            .bind(purchase_id)
            .bind(cycle)
            .execute(&self.writer)
            .await?;
        Ok(())
    }
}
