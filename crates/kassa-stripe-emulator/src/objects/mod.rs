//! Stored objects and their JSON shapes (field names as in Stripe's fixtures3.json).

mod charge;
mod customer;
mod dispute;
mod payment_intent;
mod payment_method;
mod review;
mod setup_intent;
mod webhook_endpoint;

pub use charge::{Charge, Refund};
pub use customer::Customer;
pub use dispute::{Dispute, EVIDENCE_FIELDS};
pub use payment_intent::{PaymentIntent, PiStatus};
pub use payment_method::PaymentMethod;
pub use review::Review;
pub use setup_intent::{SetiStatus, SetupAttempt, SetupIntent};
pub use webhook_endpoint::WebhookEndpoint;

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

use crate::error::{ApiError, ApiResult};
use crate::form::{Node, Params, Spec};

pub type Metadata = BTreeMap<String, String>;

/// A JSON value that is set once and read rarely (a charge's card details and outcome, billing
/// details), kept as its compact text behind an `Arc`. A `serde_json::Value` object costs a B-tree
/// node (about 600 bytes) per nesting level plus an allocation per key; the text costs a few bytes
/// per field, and clones (event snapshots) share it. [`Frozen::value`] parses it back.
#[derive(Debug, Clone)]
pub struct Frozen(std::sync::Arc<str>);

impl Frozen {
    pub fn new(v: &Value) -> Self {
        Frozen(v.to_string().into())
    }

    /// The value (parsed from the stored text).
    pub fn value(&self) -> Value {
        serde_json::from_str(&self.0).unwrap_or(Value::Null)
    }
}

impl From<Value> for Frozen {
    fn from(v: Value) -> Self {
        Frozen::new(&v)
    }
}

impl serde::Serialize for Frozen {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.value().serialize(s)
    }
}

pub static ADDRESS: &[(&str, Spec)] = &[
    ("city", Spec::Scalar),
    ("country", Spec::Scalar),
    ("line1", Spec::Scalar),
    ("line2", Spec::Scalar),
    ("postal_code", Spec::Scalar),
    ("state", Spec::Scalar),
];

pub static SHIPPING: &[(&str, Spec)] = &[
    ("address", Spec::Obj(ADDRESS)),
    ("carrier", Spec::Scalar),
    ("name", Spec::Scalar),
    ("phone", Spec::Scalar),
    ("tracking_number", Spec::Scalar),
];

pub static BILLING_DETAILS: &[(&str, Spec)] = &[
    ("address", Spec::Obj(ADDRESS)),
    ("email", Spec::Scalar),
    ("name", Spec::Scalar),
    ("phone", Spec::Scalar),
    ("tax_id", Spec::Scalar),
];

fn leaf(node: Option<&Node>, key: &str) -> Value {
    match node {
        Some(Node::Map(m)) => match m.get(key) {
            Some(Node::Str(s)) if !s.is_empty() => json!(s),
            _ => Value::Null,
        },
        _ => Value::Null,
    }
}

fn child<'a>(node: Option<&'a Node>, key: &str) -> Option<&'a Node> {
    match node {
        Some(Node::Map(m)) => m.get(key),
        _ => None,
    }
}

/// An address object with all six keys.
pub fn address_json(node: Option<&Node>) -> Value {
    json!({
        "city": leaf(node, "city"),
        "country": leaf(node, "country"),
        "line1": leaf(node, "line1"),
        "line2": leaf(node, "line2"),
        "postal_code": leaf(node, "postal_code"),
        "state": leaf(node, "state"),
    })
}

/// Shipping details: `None` = not sent, `Some(None)` = unset (`shipping=`).
pub fn shipping_param(p: &Params, path: &[&str]) -> ApiResult<Option<Option<Value>>> {
    let name = crate::form::path_name(path);
    match p.get(path) {
        None => Ok(None),
        Some(Node::Str(_)) => Ok(Some(None)),
        node @ Some(Node::Map(_)) => {
            if leaf(node, "name").is_null() {
                return Err(ApiError::missing_param(&format!("{name}[name]")));
            }
            let addr = child(node, "address");
            if addr.is_none() {
                return Err(ApiError::missing_param(&format!("{name}[address]")));
            }
            Ok(Some(Some(json!({
                "address": address_json(addr),
                "carrier": leaf(node, "carrier"),
                "name": leaf(node, "name"),
                "phone": leaf(node, "phone"),
                "tracking_number": leaf(node, "tracking_number"),
            }))))
        }
    }
}

/// Billing details, merged over `current` (update semantics).
pub fn billing_details(p: &Params, path: &[&str], current: Option<&Value>) -> Value {
    let node = p.get(path);
    let mut out = current.cloned().unwrap_or_else(|| {
        json!({
            "address": address_json(None),
            "email": null, "name": null, "phone": null, "tax_id": null,
        })
    });
    let Some(Node::Map(m)) = node else {
        return out;
    };
    if let Value::Object(obj) = &mut out {
        for key in ["email", "name", "phone", "tax_id"] {
            if m.contains_key(key) {
                obj.insert(key.into(), leaf(node, key));
            }
        }
        if let Some(Node::Map(a)) = m.get("address") {
            let addr = obj.entry("address").or_insert_with(|| address_json(None));
            if let Value::Object(addr) = addr {
                for (k, v) in a {
                    if let Node::Str(s) = v {
                        let val = if s.is_empty() { Value::Null } else { json!(s) };
                        addr.insert(k.clone(), val);
                    }
                }
            }
        }
    }
    out
}

/// Applies `metadata[...]` with Stripe's rules: empty value unsets a key, `metadata=` unsets all;
/// ≤ 50 keys, key ≤ 40 chars, value ≤ 500 chars.
pub fn apply_metadata(meta: &mut Metadata, p: &Params) -> ApiResult<()> {
    match p.get(&["metadata"]) {
        None => {}
        Some(Node::Str(s)) if s.is_empty() => meta.clear(),
        Some(Node::Str(_)) => {
            return Err(
                ApiError::invalid("Invalid metadata: metadata must be a hash").param("metadata"),
            )
        }
        Some(Node::Map(m)) => {
            for (k, v) in m {
                let Node::Str(v) = v else {
                    return Err(ApiError::invalid(format!(
                        "Invalid value for metadata[{k}]: must be a string"
                    ))
                    .param(format!("metadata[{k}]")));
                };
                if k.chars().count() > 40 {
                    return Err(ApiError::invalid(format!(
                        "Invalid metadata: metadata keys must be at most 40 characters long, but '{k}' is longer"
                    ))
                    .param(format!("metadata[{k}]")));
                }
                if v.chars().count() > 500 {
                    return Err(ApiError::invalid(format!(
                        "Invalid metadata: metadata values must be at most 500 characters long, but the value for '{k}' is longer"
                    ))
                    .param(format!("metadata[{k}]")));
                }
                if v.is_empty() {
                    meta.remove(k);
                } else {
                    meta.insert(k.clone(), v.clone());
                }
            }
            if meta.len() > 50 {
                return Err(ApiError::invalid(
                    "Invalid metadata: metadata can have at most 50 keys",
                )
                .param("metadata"));
            }
        }
    }
    Ok(())
}

pub fn metadata_json(meta: &Metadata) -> Value {
    Value::Object(
        meta.iter()
            .map(|(k, v)| (k.clone(), json!(v)))
            .collect::<Map<_, _>>(),
    )
}

/// A string with a maximum length (in characters), empty = unset.
pub fn bounded_str(p: &Params, path: &[&str], max: usize) -> ApiResult<Option<Option<String>>> {
    match p.str(path)? {
        None => Ok(None),
        Some("") => Ok(Some(None)),
        Some(s) if s.chars().count() > max => {
            let name = crate::form::path_name(path);
            Err(ApiError::invalid(format!(
                "Invalid string: {}...; must be at most {max} characters",
                s.chars().take(20).collect::<String>()
            ))
            .param(name))
        }
        Some(s) => Ok(Some(Some(s.to_string()))),
    }
}

pub fn email_param(p: &Params, path: &[&str]) -> ApiResult<Option<Option<String>>> {
    match bounded_str(p, path, 512)? {
        Some(Some(e)) => {
            let ok = e
                .split_once('@')
                .is_some_and(|(a, b)| !a.is_empty() && b.contains('.') && !b.starts_with('.'));
            if !ok {
                return Err(ApiError::invalid(format!("Invalid email address: {e}"))
                    .code("email_invalid")
                    .param(crate::form::path_name(path)));
            }
            Ok(Some(Some(e)))
        }
        other => Ok(other),
    }
}
