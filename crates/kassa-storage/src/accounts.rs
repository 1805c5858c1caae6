//! Billing accounts and their status history.

use crate::sql;

use crate::audit::{self, AuditEntry};
use crate::{now_millis, Page, PageRequest, StorageError, Store};

#[derive(Debug, Clone)]
pub struct AccountRecord {
    pub acct_no: i64,
    pub client_no: i64,
    pub client_acct_id: String,
    pub status: String,
    pub collection_group_no: Option<i64>,
    pub email: Option<String>,
    /// The profile document (JSON).
    pub profile: String,
    pub version: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

/// What a create or an update writes. The searchable fields are copied out of the profile by the
/// caller into their own columns.
#[derive(Debug, Clone)]
pub struct AccountWrite {
    pub client_acct_id: String,
    pub status: String,
    pub collection_group_no: Option<i64>,
    pub email: Option<String>,
    pub profile: String,
}

/// A status change to record with the write.
#[derive(Debug, Clone)]
pub struct StatusChange {
    pub reason: String,
    pub payment_id: Option<String>,
    pub actor: String,
}

#[derive(Debug, Clone)]
pub struct StatusHistoryRecord {
    pub id: i64,
    pub from_status: Option<String>,
    pub to_status: String,
    pub reason: String,
    pub payment_id: Option<String>,
    pub actor: String,
    pub created_at: i64,
}

#[derive(Debug, Clone, Default)]
pub struct AccountFilter {
    pub status: Option<String>,
    pub email: Option<String>,
    pub client_acct_id: Option<String>,
    pub collection_group_no: Option<i64>,
}

const COLUMNS: &str = "acct_no, client_no, client_acct_id, status, collection_group_no, email, profile, version, created_at, updated_at";

/// One account (`$1` the client, `$2` its number).
pub(crate) fn by_no_sql() -> String {
    format!("SELECT {COLUMNS} FROM accounts WHERE client_no = $1 AND acct_no = $2")
}

pub(crate) fn from_row(r: &sql::Row) -> Result<AccountRecord, StorageError> {
    Ok(AccountRecord {
        acct_no: r.try_get("acct_no")?,
        client_no: r.try_get("client_no")?,
        client_acct_id: r.try_get("client_acct_id")?,
        status: r.try_get("status")?,
        collection_group_no: r.try_get("collection_group_no")?,
        email: r.try_get("email")?,
        profile: r.try_get("profile")?,
        version: r.try_get("version")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

async fn record_status(
    tx: &mut sql::Tx,
    rec: &AccountRecord,
    from: Option<&str>,
    change: &StatusChange,
    now: i64,
) -> Result<(), StorageError> {
    sql::query(
        "INSERT INTO account_status_history (acct_no, client_no, from_status, to_status, reason, payment_id, actor, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(rec.acct_no)
    .bind(rec.client_no)
    .bind(from)
    .bind(&rec.status)
    .bind(&change.reason)
    .bind(change.payment_id.as_deref())
    .bind(&change.actor)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

fn conflict(e: StorageError, client_acct_id: &str) -> StorageError {
    match e {
        StorageError::Conflict(_) => StorageError::Conflict(format!(
            "an account with client_acct_id `{client_acct_id}` already exists"
        )),
        other => other,
    }
}

impl Store {
    /// Inserts an account with its first status-history entry and audit entry, atomically.
    pub async fn insert_account(
        &self,
        client_no: i64,
        w: &AccountWrite,
        change: &StatusChange,
        mut audit: AuditEntry,
    ) -> Result<AccountRecord, StorageError> {
        let now = now_millis();
        let mut tx = self.writer.begin().await?;
        let row = sql::query(&format!(
            "INSERT INTO accounts (client_no, client_acct_id, status, collection_group_no, email, profile, version, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, 1, $7, $7) RETURNING {COLUMNS}"
        ))
        .bind(client_no)
        .bind(&w.client_acct_id)
        .bind(&w.status)
        .bind(w.collection_group_no)
        .bind(w.email.as_deref())
        .bind(&w.profile)
        .bind(now)
        .fetch_one(&mut tx)
        .await
        .map_err(|e| conflict(e, &w.client_acct_id))?;
        let rec = from_row(&row)?;
        record_status(&mut tx, &rec, None, change, now).await?;
        audit.object_id = rec.acct_no.to_string();
        audit::write(&mut tx, &audit, now).await?;
        tx.commit().await?;
        Ok(rec)
    }

    pub async fn get_account(
        &self,
        client_no: i64,
        acct_no: i64,
    ) -> Result<AccountRecord, StorageError> {
        let row = sql::query(&by_no_sql())
            .bind(client_no)
            .bind(acct_no)
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StorageError::NotFound)?;
        from_row(&row)
    }

    pub async fn list_accounts(
        &self,
        client_no: i64,
        f: &AccountFilter,
        page: PageRequest,
    ) -> Result<Page<AccountRecord>, StorageError> {
        let rows = sql::query(&format!(
            "SELECT {COLUMNS} FROM accounts
             WHERE client_no = $1 AND acct_no < $2
               AND ($3 = '' OR status = $3)
               AND ($4 = '' OR email = $4)
               AND ($5 = '' OR client_acct_id = $5)
               AND ($6 = 0 OR collection_group_no = $6)
             ORDER BY acct_no DESC LIMIT $7"
        ))
        .bind(client_no)
        .bind(page.cursor())
        .bind(f.status.as_deref().unwrap_or(""))
        .bind(f.email.as_deref().unwrap_or(""))
        .bind(f.client_acct_id.as_deref().unwrap_or(""))
        .bind(f.collection_group_no.unwrap_or(0))
        .bind(page.fetch())
        .fetch_all(&self.pool)
        .await?;
        let rows = rows.iter().map(from_row).collect::<Result<Vec<_>, _>>()?;
        Ok(page.finish(rows))
    }

    /// Replaces an account if it is still at `expected_version`; a status change is recorded in
    /// its history in the same transaction, as is the audit entry.
    pub async fn update_account(
        &self,
        client_no: i64,
        acct_no: i64,
        expected_version: i64,
        w: &AccountWrite,
        change: &StatusChange,
        audit: AuditEntry,
    ) -> Result<AccountRecord, StorageError> {
        let now = now_millis();
        let mut tx = self.writer.begin().await?;
        let old_status: Option<String> = sql::query("UPDATE accounts SET updated_at = updated_at WHERE client_no = $1 AND acct_no = $2 AND version = $3 RETURNING status")
            .bind(client_no)
            .bind(acct_no)
            .bind(expected_version)
            .fetch_optional(&mut tx)
            .await?
            .map(|r| r.try_get("status"))
            .transpose()?;
        let Some(old_status) = old_status else {
            drop(tx);
            self.get_account(client_no, acct_no).await?;
            return Err(StorageError::Stale);
        };
        let row = sql::query(&format!(
            "UPDATE accounts SET client_acct_id = $1, status = $2, collection_group_no = $3, email = $4, profile = $5,
                    version = version + 1, updated_at = $6
             WHERE client_no = $7 AND acct_no = $8
             RETURNING {COLUMNS}"
        ))
        .bind(&w.client_acct_id)
        .bind(&w.status)
        .bind(w.collection_group_no)
        .bind(w.email.as_deref())
        .bind(&w.profile)
        .bind(now)
        .bind(client_no)
        .bind(acct_no)
        .fetch_one(&mut tx)
        .await
        .map_err(|e| conflict(e, &w.client_acct_id))?;
        let rec = from_row(&row)?;
        if old_status != rec.status {
            record_status(&mut tx, &rec, Some(&old_status), change, now).await?;
        }
        audit::write(&mut tx, &audit, now).await?;
        tx.commit().await?;
        Ok(rec)
    }

    /// Moves an account to `status` for a reason (a fraud result, with the payment that caused
    /// it), recording the change in its history. No change when it already has that status.
    pub async fn set_account_status(
        &self,
        client_no: i64,
        acct_no: i64,
        status: &str,
        change: &StatusChange,
    ) -> Result<Option<String>, StorageError> {
        let now = now_millis();
        let mut tx = self.writer.begin().await?;
        let old: Option<String> = sql::query("UPDATE accounts SET updated_at = updated_at WHERE client_no = $1 AND acct_no = $2 RETURNING status")
            .bind(client_no)
            .bind(acct_no)
            .fetch_optional(&mut tx)
            .await?
            .map(|r| r.try_get("status"))
            .transpose()?;
        let Some(old) = old else {
            return Err(StorageError::NotFound);
        };
        if old == status {
            return Ok(None);
        }
        let row = sql::query(&format!(
            "UPDATE accounts SET status = $1, version = version + 1, updated_at = $2 WHERE client_no = $3 AND acct_no = $4 RETURNING {COLUMNS}"
        ))
        .bind(status)
        .bind(now)
        .bind(client_no)
        .bind(acct_no)
        .fetch_one(&mut tx)
        .await?;
        let rec = from_row(&row)?;
        record_status(&mut tx, &rec, Some(&old), change, now).await?;
        tx.commit().await?;
        Ok(Some(old))
    }

    /// An account's status history, oldest first.
    pub async fn account_status_history(
        &self,
        client_no: i64,
        acct_no: i64,
    ) -> Result<Vec<StatusHistoryRecord>, StorageError> {
        let rows = sql::query(
            "SELECT id, from_status, to_status, reason, payment_id, actor, created_at FROM account_status_history
             WHERE client_no = $1 AND acct_no = $2 ORDER BY id",
        )
        .bind(client_no)
        .bind(acct_no)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(StatusHistoryRecord {
                    id: r.try_get("id")?,
                    from_status: r.try_get("from_status")?,
                    to_status: r.try_get("to_status")?,
                    reason: r.try_get("reason")?,
                    payment_id: r.try_get("payment_id")?,
                    actor: r.try_get("actor")?,
                    created_at: r.try_get("created_at")?,
                })
            })
            .collect()
    }
}
