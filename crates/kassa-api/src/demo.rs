//! The demo set-up of `kassa serve --demo`: a Stripe V2 gateway on the built-in emulator and a
//! collection group, made through the same services as the API (so they are validated and
//! audited like any other).

use serde_json::{json, Map, Value};

use crate::auth::Auth;
use crate::{service, ApiError, AppState};

/// What the demo made.
#[derive(Debug, Clone)]
pub struct Demo {
    pub gateway_id: i64,
    pub group_no: i64,
}

/// The test key the demo gateway uses at the emulator (any `sk_test_…` is an account there).
pub const DEMO_SECRET_KEY: &str = "sk_test_kassaDemoAccount000000000001";

fn object(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

/// Creates the demo gateway and group for `client_no`, acting as `api_key_id`.
pub async fn seed(
    state: &AppState,
    client_no: i64,
    api_key_id: i64,
    key_label: &str,
    emulator_url: &str,
) -> Result<Demo, ApiError> {
    let auth = Auth {
        client_no,
        api_key_id,
        key_label: key_label.to_string(),
        request_id: Some("demo-setup".into()),
    };
    let gateway = service::gateways::create(
        state,
        &auth,
        object(json!({
            "type": "stripe_v2",
            "title": "Demo Stripe (built-in emulator)",
            "secret_key": DEMO_SECRET_KEY,
            "api_base_url": emulator_url,
            "descriptor": "KASSA DEMO",
            "descriptor_suffix": "DEMO",
            "customer_service": {"phone": "+1 800 555 0100", "email": "support@demo.example", "url": "https://demo.example/help"},
            "limits": {"monthly_cap": 10_000_000, "discount_rate": "2.9", "transaction_fee": 30, "reserve_rate": "5", "chargeback_fee": 1500, "currency": "usd"},
            "fraud": {"send_fraud_scoring_request": true, "change_status_on_fraud_scoring_failure": true, "status_on_fraud_scoring_failure": "fraud_blocked", "change_status_on_fraud_scoring_review": true, "status_on_fraud_scoring_review": "fraud_review"},
            "three_ds": {"termination_url": format!("{}/demo/3ds-complete", state.config.public_url)}
        })),
    )
    .await?;
    let group = service::groups::create(
        state,
        &auth,
        object(json!({"name": "Demo collection group", "gateway_id": gateway.id, "soft_descriptor": "DEMO GROUP"})),
    )
    .await?;
    Ok(Demo {
        gateway_id: gateway.id,
        group_no: group.group_no,
    })
}
