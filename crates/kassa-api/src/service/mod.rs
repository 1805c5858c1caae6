//! Use cases behind the routes: parse, check, seal, write with an audit entry, render.

pub mod accounts;
pub mod balance;
pub mod billing;
pub mod card_setup;
pub mod checkout;
pub mod email_events;
pub mod email_sender;
pub mod emails;
pub mod fraud;
pub mod gateway_ctx;
pub mod gateways;
pub mod groups;
pub mod legacy;
pub mod notifications;
pub mod payment_methods;
pub mod payment_ops;
pub mod payments;
pub mod products;
pub mod rebill_run;
pub mod reconcile;
pub mod recycle;
pub mod reports;
pub mod sca;
pub mod upsells;
pub mod volume;
pub mod webhooks;

use kassa_domain::keys::{parse_webhook_secrets, StripeSecretKey, WebhookSecret};
use kassa_secrets::MasterKey;
use kassa_storage::AuditEntry;
use serde_json::{Map, Value};

use crate::auth::Auth;
use crate::ApiError;

pub const PURPOSE_SECRET_KEY: &str = "gateway.secret_key";
pub const PURPOSE_GATEWAY_WEBHOOK: &str = "gateway.webhook_secrets";
pub const PURPOSE_GROUP_WEBHOOK: &str = "collection_group.webhook_secrets";

/// Every column that holds a value sealed under the master key, with its purpose: what
/// `kassa rotate-master-key` re-seals. A new sealed column must be added here.
pub const SEALED_COLUMNS: &[kassa_storage::SealedColumn] = &[
    kassa_storage::SealedColumn {
        table: "gateways",
        key: "id",
        column: "secret_key_sealed",
        purpose: PURPOSE_SECRET_KEY,
    },
    kassa_storage::SealedColumn {
        table: "gateways",
        key: "id",
        column: "webhook_secrets_sealed",
        purpose: PURPOSE_GATEWAY_WEBHOOK,
    },
    kassa_storage::SealedColumn {
        table: "collection_groups",
        key: "id",
        column: "webhook_secrets_sealed",
        purpose: PURPOSE_GROUP_WEBHOOK,
    },
    kassa_storage::SealedColumn {
        table: "payment_methods",
        key: "pm_no",
        column: "bank_sealed",
        purpose: payment_methods::PURPOSE_BANK,
    },
    kassa_storage::SealedColumn {
        table: "notification_endpoints",
        key: "id",
        column: "secret_sealed",
        purpose: notifications::PURPOSE,
    },
];

/// What a request says about one field: nothing, clear it, or set it.
pub enum Patch<T> {
    Keep,
    Clear,
    Set(T),
}

/// Removes `key` from a request body.
pub fn take(body: &mut Map<String, Value>, key: &str) -> Option<Value> {
    body.remove(key)
}

pub fn take_bool(body: &mut Map<String, Value>, key: &str) -> Result<Option<bool>, ApiError> {
    match take(body, key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(b)),
        Some(_) => Err(ApiError::invalid(
            key,
            format!("{key}: must be true or false"),
        )),
    }
}

pub fn take_i64(body: &mut Map<String, Value>, key: &str) -> Result<Option<i64>, ApiError> {
    match take(body, key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_i64()
            .map(Some)
            .ok_or_else(|| ApiError::invalid(key, format!("{key}: must be a whole number"))),
    }
}

pub fn take_string(body: &mut Map<String, Value>, key: &str) -> Result<Patch<String>, ApiError> {
    match take(body, key) {
        None => Ok(Patch::Keep),
        Some(Value::Null) => Ok(Patch::Clear),
        Some(Value::String(s)) => Ok(Patch::Set(s)),
        Some(_) => Err(ApiError::invalid(key, format!("{key}: must be a string"))),
    }
}

pub fn take_secret_key(body: &mut Map<String, Value>) -> Result<Patch<StripeSecretKey>, ApiError> {
    Ok(match take_string(body, "secret_key")? {
        Patch::Keep => Patch::Keep,
        Patch::Clear => Patch::Clear,
        Patch::Set(s) => Patch::Set(StripeSecretKey::parse(&s).map_err(|e| e.under("secret_key"))?),
    })
}

pub fn take_webhook_secrets(
    body: &mut Map<String, Value>,
) -> Result<Patch<Vec<WebhookSecret>>, ApiError> {
    match take(body, "webhook_secrets") {
        None => Ok(Patch::Keep),
        Some(Value::Null) => Ok(Patch::Clear),
        Some(Value::Array(items)) => {
            let mut strings = Vec::with_capacity(items.len());
            for (i, item) in items.into_iter().enumerate() {
                match item {
                    Value::String(s) => strings.push(s),
                    _ => {
                        return Err(ApiError::invalid(
                            format!("webhook_secrets[{i}]"),
                            format!("webhook_secrets[{i}]: must be a string"),
                        ))
                    }
                }
            }
            Ok(Patch::Set(
                parse_webhook_secrets(&strings).map_err(|e| e.under("webhook_secrets"))?,
            ))
        }
        Some(_) => Err(ApiError::invalid(
            "webhook_secrets",
            "webhook_secrets: must be a list of whsec_… strings",
        )),
    }
}

pub fn seal_webhook_secrets(
    key: &MasterKey,
    purpose: &str,
    secrets: &[WebhookSecret],
) -> Result<Option<String>, ApiError> {
    if secrets.is_empty() {
        return Ok(None);
    }
    let plain: Vec<&str> = secrets.iter().map(WebhookSecret::expose).collect();
    let json = serde_json::to_string(&plain).map_err(ApiError::internal)?;
    Ok(Some(key.seal(purpose, &json)?))
}

pub fn open_webhook_secrets(
    key: &MasterKey,
    purpose: &str,
    sealed: Option<&str>,
) -> Result<Vec<String>, ApiError> {
    match sealed {
        None => Ok(Vec::new()),
        Some(s) => {
            let json = key.open(purpose, s)?;
            serde_json::from_str(&json).map_err(ApiError::internal)
        }
    }
}

/// Flattens a JSON document into `path → value` for leaves.
fn flatten(prefix: &str, v: &Value, out: &mut Vec<(String, Value)>) {
    match v {
        Value::Object(map) if !map.is_empty() => {
            for (k, v) in map {
                let path = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&path, v, out);
            }
        }
        other => out.push((prefix.to_string(), other.clone())),
    }
}

/// The fields that differ between two views, as `{"path": {"from": …, "to": …}}`. Views hold
/// only redacted secrets, so neither can the diff.
pub fn diff(before: &Value, after: &Value, ignore: &[&str]) -> Value {
    let mut a = Vec::new();
    let mut b = Vec::new();
    flatten("", before, &mut a);
    flatten("", after, &mut b);
    let mut changes = Map::new();
    let lookup = |list: &Vec<(String, Value)>, k: &str| {
        list.iter().find(|(p, _)| p == k).map(|(_, v)| v.clone())
    };
    let mut keys: Vec<&String> = a
        .iter()
        .map(|(k, _)| k)
        .chain(b.iter().map(|(k, _)| k))
        .collect();
    keys.sort();
    keys.dedup();
    for k in keys {
        if ignore.contains(&k.as_str()) || k.is_empty() {
            continue;
        }
        let from = lookup(&a, k).unwrap_or(Value::Null);
        let to = lookup(&b, k).unwrap_or(Value::Null);
        if from != to {
            changes.insert(k.clone(), serde_json::json!({"from": from, "to": to}));
        }
    }
    Value::Object(changes)
}

pub fn audit_entry(
    auth: &Auth,
    object_type: &'static str,
    object_id: String,
    action: &'static str,
    changes: Value,
) -> AuditEntry {
    AuditEntry {
        client_no: auth.client_no,
        actor: auth.actor(),
        api_key_id: (auth.api_key_id > 0).then_some(auth.api_key_id),
        request_id: auth.request_id.clone(),
        object_type,
        object_id,
        action,
        changes,
    }
}

#[cfg(test)]
mod tests {
    use super::diff;
    use serde_json::json;

    #[test]
    fn diff_lists_changed_leaves_only() {
        let a = json!({"title": "A", "limits": {"cap": 1, "fee": 2}, "updated_at": "x"});
        let b =
            json!({"title": "A", "limits": {"cap": 5, "fee": 2}, "new": true, "updated_at": "y"});
        assert_eq!(
            diff(&a, &b, &["updated_at"]),
            json!({"limits.cap": {"from": 1, "to": 5}, "new": {"from": null, "to": true}})
        );
    }
}
