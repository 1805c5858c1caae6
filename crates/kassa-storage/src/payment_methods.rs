//! Stored payment methods and each account's Stripe customer per gateway.

use crate::sql;

use crate::{now_millis, StorageError, Store};

#[derive(Debug, Clone, Default)]
pub struct PaymentMethodRecord {
    pub pm_no: i64,
    pub client_no: i64,
    pub acct_no: i64,
    pub gateway_id: Option<i64>,
    /// `card` or `bank_account`.
    pub kind: String,
    /// `active` or `detached`.
    pub status: String,
    /// `payment_method_id:customer_id` for cards.
    pub token: Option<String>,
    pub brand: Option<String>,
    pub last4: Option<String>,
    pub exp_month: Option<i64>,
    pub exp_year: Option<i64>,
    pub fingerprint: Option<String>,
    pub funding: Option<String>,
    /// The network transaction id of the first approved customer-initiated authorization.
    pub initial_txn_id: Option<String>,
    /// The initial id came with a card imported from another processor (not from a Stripe
    /// authorization), so merchant-initiated payments must send it (`mit_exemption`).
    pub initial_txn_imported: bool,
    pub bank_sealed: Option<String>,
    pub holder_type: Option<String>,
    pub holder_name: Option<String>,
    /// Cards saved with 3-D Secure: the unguessable reference in the shopper's return URL.
    pub setup_ref: Option<String>,
    /// The Stripe SetupIntent that saved the card.
    pub setup_intent_id: Option<String>,
    /// The 3-D Secure state and result as JSON (`version`, `authentication_flow`, `result`,
    /// `redirect_issuer_url`, `termination_url`).
    pub three_ds: Option<String>,
    pub version: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

const COLUMNS: &str = "pm_no, client_no, acct_no, gateway_id, kind, status, token, brand, last4, exp_month, exp_year, fingerprint, funding, initial_txn_id, initial_txn_imported, bank_sealed, holder_type, holder_name, setup_ref, setup_intent_id, three_ds, version, created_at, updated_at";

/// One payment method of an account (`$1` the client, `$2` the account, `$3` its number).
fn by_no_sql() -> String {
    format!("SELECT {COLUMNS} FROM payment_methods WHERE client_no = $1 AND acct_no = $2 AND pm_no = $3")
}

fn from_row(r: &sql::Row) -> Result<PaymentMethodRecord, StorageError> {
    Ok(PaymentMethodRecord {
        pm_no: r.try_get("pm_no")?,
        client_no: r.try_get("client_no")?,
        acct_no: r.try_get("acct_no")?,
        gateway_id: r.try_get("gateway_id")?,
        kind: r.try_get("kind")?,
        status: r.try_get("status")?,
        token: r.try_get("token")?,
        brand: r.try_get("brand")?,
        last4: r.try_get("last4")?,
        exp_month: r.try_get("exp_month")?,
        exp_year: r.try_get("exp_year")?,
        fingerprint: r.try_get("fingerprint")?,
        funding: r.try_get("funding")?,
        initial_txn_id: r.try_get("initial_txn_id")?,
        initial_txn_imported: r.try_get::<i64, _>("initial_txn_imported")? != 0,
        bank_sealed: r.try_get("bank_sealed")?,
        holder_type: r.try_get("holder_type")?,
        holder_name: r.try_get("holder_name")?,
        setup_ref: r.try_get("setup_ref")?,
        setup_intent_id: r.try_get("setup_intent_id")?,
        three_ds: r.try_get("three_ds")?,
        version: r.try_get("version")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

impl Store {
    /// The account's Stripe customer on a gateway, if it has one.
    pub async fn processor_customer(
        &self,
        acct_no: i64,
        gateway_id: i64,
    ) -> Result<Option<String>, StorageError> {
        let row = sql::query(
            "SELECT customer_id FROM processor_customers WHERE acct_no = $1 AND gateway_id = $2",
        )
        .bind(acct_no)
        .bind(gateway_id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(match row {
            Some(r) => Some(r.try_get("customer_id")?),
            None => None,
        })
    }

    /// Records the account's Stripe customer on a gateway; when another request recorded one
    /// first, that one is kept and returned.
    pub async fn save_processor_customer(
        &self,
        client_no: i64,
        acct_no: i64,
        gateway_id: i64,
        customer_id: &str,
    ) -> Result<String, StorageError> {
        sql::query(
            "INSERT INTO processor_customers (client_no, acct_no, gateway_id, customer_id, created_at) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (acct_no, gateway_id) DO NOTHING",
        )
        .bind(client_no)
        .bind(acct_no)
        .bind(gateway_id)
        .bind(customer_id)
        .bind(now_millis())
        .execute(&self.writer)
        .await?;
        self.processor_customer(acct_no, gateway_id)
            .await?
            .ok_or_else(|| StorageError::Corrupt("processor customer vanished".into()))
    }

    pub async fn insert_payment_method(
        &self,
        p: &PaymentMethodRecord,
    ) -> Result<PaymentMethodRecord, StorageError> {
        let now = now_millis();
        let row = sql::query(&format!(
            "INSERT INTO payment_methods (client_no, acct_no, gateway_id, kind, status, token, brand, last4, exp_month, exp_year, fingerprint, funding,
                                          initial_txn_id, initial_txn_imported, bank_sealed, holder_type, holder_name, setup_ref, setup_intent_id, three_ds,
                                          version, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, 1, $21, $21) RETURNING {COLUMNS}"
        ))
        .bind(p.client_no)
        .bind(p.acct_no)
        .bind(p.gateway_id)
        .bind(&p.kind)
        .bind(&p.status)
        .bind(p.token.as_deref())
        .bind(p.brand.as_deref())
        .bind(p.last4.as_deref())
        .bind(p.exp_month)
        .bind(p.exp_year)
        .bind(p.fingerprint.as_deref())
        .bind(p.funding.as_deref())
        .bind(p.initial_txn_id.as_deref())
        .bind(i64::from(p.initial_txn_imported))
        .bind(p.bank_sealed.as_deref())
        .bind(p.holder_type.as_deref())
        .bind(p.holder_name.as_deref())
        .bind(p.setup_ref.as_deref())
        .bind(p.setup_intent_id.as_deref())
        .bind(p.three_ds.as_deref())
        .bind(now)
        .fetch_one(&self.writer)
        .await?;
        from_row(&row)
    }

    pub async fn get_payment_method(
        &self,
        client_no: i64,
        acct_no: i64,
        pm_no: i64,
    ) -> Result<PaymentMethodRecord, StorageError> {
        let row = sql::query(&by_no_sql())
            .bind(client_no)
            .bind(acct_no)
            .bind(pm_no)
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StorageError::NotFound)?;
        from_row(&row)
    }

    /// An account and, if `pm_no` is given, one of its payment methods, read together (one
    /// round trip on PostgreSQL): what a payment starts from. `None` for what is not there.
    pub async fn account_and_payment_method(
        &self,
        client_no: i64,
        acct_no: i64,
        pm_no: Option<i64>,
    ) -> Result<(Option<crate::AccountRecord>, Option<PaymentMethodRecord>), StorageError> {
        let account_sql = crate::accounts::by_no_sql();
        let pm_sql = by_no_sql();
        let mut batch = sql::Batch::new();
        let a = batch.fetch_optional(sql::query(&account_sql).bind(client_no).bind(acct_no));
        let m = pm_no.map(|no| {
            batch.fetch_optional(sql::query(&pm_sql).bind(client_no).bind(acct_no).bind(no))
        });
        let mut answers = batch.run(&self.pool).await?;
        let account = answers
            .optional(a)
            .map(|r| crate::accounts::from_row(&r))
            .transpose()?;
        let pm = m
            .and_then(|i| answers.optional(i))
            .map(|r| from_row(&r))
            .transpose()?;
        Ok((account, pm))
    }

    pub async fn list_payment_methods(
        &self,
        client_no: i64,
        acct_no: i64,
    ) -> Result<Vec<PaymentMethodRecord>, StorageError> {
        let rows = sql::query(&format!("SELECT {COLUMNS} FROM payment_methods WHERE client_no = $1 AND acct_no = $2 ORDER BY pm_no DESC"))
            .bind(client_no)
            .bind(acct_no)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(from_row).collect()
    }

    pub async fn set_payment_method_status(
        &self,
        client_no: i64,
        pm_no: i64,
        status: &str,
    ) -> Result<(), StorageError> {
        sql::query("UPDATE payment_methods SET status = $1, version = version + 1, updated_at = $2 WHERE client_no = $3 AND pm_no = $4")
            .bind(status)
            .bind(now_millis())
            .bind(client_no)
            .bind(pm_no)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    /// A card being saved with 3-D Secure, by the reference in the shopper's return URL.
    pub async fn get_payment_method_by_setup_ref(
        &self,
        setup_ref: &str,
    ) -> Result<PaymentMethodRecord, StorageError> {
        let row = sql::query(&format!(
            "SELECT {COLUMNS} FROM payment_methods WHERE setup_ref = $1"
        ))
        .bind(setup_ref)
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StorageError::NotFound)?;
        from_row(&row)
    }

    /// Moves a card being saved with 3-D Secure on, if it is still at `version` (a concurrent
    /// return and `authorize_3ds` settle it once). Returns the record, or `Stale` when another
    /// request moved it first.
    pub async fn settle_card_setup(
        &self,
        pm_no: i64,
        version: i64,
        status: &str,
        setup_intent_id: Option<&str>,
        three_ds: &str,
    ) -> Result<PaymentMethodRecord, StorageError> {
        let row = sql::query(&format!(
            "UPDATE payment_methods SET status = $1, setup_intent_id = COALESCE($2, setup_intent_id), three_ds = $3,
                    version = version + 1, updated_at = $4
             WHERE pm_no = $5 AND version = $6 RETURNING {COLUMNS}"
        ))
        .bind(status)
        .bind(setup_intent_id)
        .bind(three_ds)
        .bind(now_millis())
        .bind(pm_no)
        .bind(version)
        .fetch_optional(&self.writer)
        .await?
        .ok_or(StorageError::Stale)?;
        from_row(&row)
    }

    /// Removes a card whose saving was declined before it was ever usable.
    pub async fn delete_unsaved_card(&self, pm_no: i64) -> Result<(), StorageError> {
        sql::query("DELETE FROM payment_methods WHERE pm_no = $1 AND status = 'setup_pending'")
            .bind(pm_no)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    /// Keeps the first customer-initiated network transaction id of a card; later ones are ignored.
    pub async fn set_initial_txn_id(&self, pm_no: i64, txn_id: &str) -> Result<(), StorageError> {
        sql::query("UPDATE payment_methods SET initial_txn_id = $1, updated_at = $2 WHERE pm_no = $3 AND initial_txn_id IS NULL")
            .bind(txn_id)
            .bind(now_millis())
            .bind(pm_no)
            .execute(&self.writer)
            .await?;
        Ok(())
    }
}
