//! What the API returns: one view per object, secrets only in redacted form.

use kassa_domain::gateway::{GatewaySettings, GatewayStatus, GatewayType};
use kassa_domain::group::{FraudOverrides, ThreeDsOverrides};
use serde::Serialize;
use utoipa::ToSchema;

/// RFC 3339 in UTC for a Unix-milliseconds time.
pub fn timestamp(millis: i64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(millis) * 1_000_000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// A page of a list, newest first.
#[derive(Serialize, ToSchema)]
pub struct ListView<T> {
    /// Always `list`.
    pub object: &'static str,
    pub data: Vec<T>,
    /// Whether another page follows: pass the last id as `starting_after` to get it.
    pub has_more: bool,
}

impl<T> ListView<T> {
    pub fn new(data: Vec<T>, has_more: bool) -> Self {
        ListView {
            object: "list",
            data,
            has_more,
        }
    }
}

/// A gateway account.
#[derive(Serialize, ToSchema, Clone)]
pub struct GatewayView {
    /// Always `gateway`.
    pub object: &'static str,
    pub id: i64,
    #[serde(rename = "type")]
    pub gateway_type: GatewayType,
    pub status: GatewayStatus,
    /// The secret key, redacted (`sk_test_…4242`).
    pub secret_key: Option<String>,
    /// The webhook signing secrets, redacted.
    pub webhook_secrets: Vec<String>,
    #[serde(flatten)]
    pub settings: GatewaySettings,
    pub created_at: String,
    pub updated_at: String,
}

/// A collection group.
#[derive(Serialize, ToSchema, Clone)]
pub struct GroupView {
    /// Always `collection_group`.
    pub object: &'static str,
    pub group_no: i64,
    pub status: GatewayStatus,
    pub name: String,
    pub client_group_id: Option<String>,
    pub gateway_id: i64,
    pub soft_descriptor: Option<String>,
    pub fraud: FraudOverrides,
    pub three_ds: ThreeDsOverrides,
    /// The group's own webhook signing secrets, redacted (empty: the gateway's are used).
    pub webhook_secrets: Vec<String>,
    pub created_at: String,
    pub updated_at: String,
}

/// One recorded change to a gateway or a collection group.
#[derive(Serialize, ToSchema)]
pub struct AuditEventView {
    /// Always `audit_event`.
    pub object: &'static str,
    pub id: i64,
    /// Who: `api_key:kassa_sk_…abcd`, or `cli`.
    pub actor: String,
    pub request_id: Option<String>,
    /// `gateway` or `collection_group`.
    pub object_type: String,
    pub object_id: String,
    /// `create`, `update`, `duplicate`, `archive`.
    pub action: String,
    /// Changed fields as `{"path": {"from": …, "to": …}}`; secrets redacted.
    #[schema(value_type = Object)]
    pub changes: serde_json::Value,
    pub created_at: String,
}

/// A billing account.
#[derive(Serialize, ToSchema, Clone)]
pub struct AccountView {
    /// Always `account`.
    pub object: &'static str,
    pub acct_no: i64,
    pub status: kassa_domain::account::AccountStatus,
    #[serde(flatten)]
    pub profile: kassa_domain::billing_account::AccountProfile,
    pub created_at: String,
    pub updated_at: String,
}

/// One change of an account's status, and why.
#[derive(Serialize, ToSchema)]
pub struct StatusHistoryView {
    /// Always `account_status_change`.
    pub object: &'static str,
    pub id: i64,
    pub from_status: Option<String>,
    pub to_status: String,
    /// `created`, `api`, or the fraud result that caused it.
    pub reason: String,
    /// The payment that caused the change, if one did.
    pub payment_id: Option<String>,
    pub actor: String,
    pub created_at: String,
}

#[cfg(test)]
mod tests {
    #[test]
    fn timestamps_are_rfc3339_utc() {
        assert_eq!(super::timestamp(0), "1970-01-01T00:00:00Z");
        assert_eq!(
            super::timestamp(1_700_000_000_123),
            "2023-11-14T22:13:20.123Z"
        );
    }
}
