//! Kassa's storage layer.
//!
//! One schema and one set of SQL statements serve both backends through one small query API
//! (`sql`: rusqlite on SQLite, tokio-postgres on PostgreSQL): statements use `$1`-style parameters (PostgreSQL's, which SQLite also reads), portable types
//! (`BIGINT`, `TEXT`), `INSERT … RETURNING` and `ON CONFLICT DO NOTHING`, which both support. The
//! only dialect difference, how an auto-numbered key column is declared, is a token in the
//! migration text (see [`migrate`]).
//!
//! Times are stored as Unix milliseconds (`BIGINT`); JSON documents as `TEXT`; secrets only as
//! values sealed by `kassa-secrets`.

mod accounts;
mod audit;
mod balance;
mod billing;
mod cache;
mod clients;
mod console;
mod db;
mod email;
mod error;
mod gateways;
mod groups;
mod idempotency;
pub mod migrate;
mod notifications;
mod payment_methods;
mod payments;
#[cfg(test)]
mod plans;
mod recycle;
mod rekey;
mod reports;
mod sql;
mod upsells;
mod volume;
mod webhooks;

pub use accounts::{AccountFilter, AccountRecord, AccountWrite, StatusChange, StatusHistoryRecord};
pub use audit::{AuditEntry, AuditRecord};
pub use balance::BalanceEntryRecord;
pub use billing::{
    AttemptRecord, CampaignRecord, OrderRecord, ProductRecord, PurchaseRecord, RoutingProfileRecord,
};
pub use clients::{ApiKeyRecord, ClientRecord};
pub use console::ConsoleSession;
pub use db::{redact_url, Backend, OutcomeCommit, Store};
pub use email::{EmailTemplateRecord, OutboxRecord};
pub use error::{DbError, StorageError};
pub use gateways::{GatewayFilter, GatewayRecord, GatewayWrite};
pub use groups::{GroupRecord, GroupWrite};
pub use idempotency::{IdempotencyBegin, IdempotencyClaim, StoredResponse};
pub use notifications::{EndpointRecord, NotificationRecord};
pub use payment_methods::PaymentMethodRecord;
pub use payments::{
    PaymentFilter, PaymentHistory, PaymentRecord, PaymentUpdate, TransactionRecord, TxnOutcome,
};
pub use recycle::RecycleProfileRecord;
pub use rekey::SealedColumn;
pub use reports::{CapturedTotal, ChargebackRow, DeclineRow, DueRow, VolumeMonth};
pub use volume::{Volume, VolumeReserve, VolumeSettle};
pub use webhooks::{CardUpdate, ChargebackRecord, ChargebackWrite, WebhookEventRecord};

/// Current time as Unix milliseconds.
pub fn now_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// One page of a list: the rows and whether more follow.
#[derive(Debug, Clone)]
pub struct Page<T> {
    pub data: Vec<T>,
    pub has_more: bool,
}

/// Cursor pagination, newest first: at most `limit` rows with ids below `starting_after`.
#[derive(Debug, Clone, Copy)]
pub struct PageRequest {
    pub limit: i64,
    pub starting_after: Option<i64>,
}

impl PageRequest {
    /// Fetch one more than asked to learn whether more follow.
    pub(crate) fn fetch(&self) -> i64 {
        self.limit + 1
    }

    pub(crate) fn cursor(&self) -> i64 {
        self.starting_after.unwrap_or(i64::MAX)
    }

    pub(crate) fn finish<T>(&self, mut rows: Vec<T>) -> Page<T> {
        let has_more = rows.len() as i64 > self.limit;
        rows.truncate(self.limit as usize);
        Page {
            data: rows,
            has_more,
        }
    }
}

#[cfg(feature = "testing")]
pub mod testing;
