//! Every field of Stripe's published sample objects (a subset of stripe/openapi
//! `fixtures3.json`, in tests/fixtures/) is present in the emulator's objects, with the same
//! JSON type where both are non-null.

mod common;

use common::start;
use serde_json::Value;

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn compare(ours: &Value, theirs: &Value, path: &str, problems: &mut Vec<String>) {
    match (ours, theirs) {
        (Value::Object(o), Value::Object(t)) => {
            for (k, tv) in t {
                match o.get(k) {
                    None => problems.push(format!("{path}.{k} missing")),
                    Some(ov) => compare(ov, tv, &format!("{path}.{k}"), problems),
                }
            }
        }
        (Value::Null, _) | (_, Value::Null) => {}
        (o, t) if type_name(o) != type_name(t) => problems.push(format!(
            "{path}: {} instead of {}",
            type_name(o),
            type_name(t)
        )),
        _ => {}
    }
}

#[tokio::test]
async fn objects_have_stripes_fields_and_types() {
    let fixtures: Value =
        serde_json::from_str(include_str!("fixtures/stripe_objects.json")).unwrap();
    let api = start().await;
    let cus = api
        .post("/v1/customers", &[("email", "a@example.com")])
        .await
        .body;
    let id = cus["id"].as_str().unwrap();
    let pm = api
        .post(
            "/v1/payment_methods/pm_card_visa/attach",
            &[("customer", id)],
        )
        .await
        .body;
    let pm_id = pm["id"].as_str().unwrap();
    let pi = api.pay(pm_id, &[("customer", id)]).await.body;
    let ch_id = pi["latest_charge"].as_str().unwrap();
    let ch = api.get(&format!("/v1/charges/{ch_id}")).await.body;
    let re = api
        .post("/v1/refunds", &[("charge", ch_id), ("amount", "100")])
        .await
        .body;
    let seti = api
        .post(
            "/v1/setup_intents",
            &[
                ("customer", id),
                ("payment_method", "pm_card_visa"),
                ("confirm", "true"),
            ],
        )
        .await
        .body;
    let att = api
        .get(&format!(
            "/v1/setup_attempts?setup_intent={}",
            seti["id"].as_str().unwrap()
        ))
        .await
        .body["data"][0]
        .clone();
    let risky = api.pay("pm_card_riskLevelElevated", &[]).await.body;
    let review = api
        .get(&format!(
            "/v1/reviews/{}",
            risky["review"].as_str().unwrap()
        ))
        .await
        .body;
    let mut problems = Vec::new();
    for (name, ours) in [
        ("customer", &cus),
        ("payment_method", &pm),
        ("payment_intent", &pi),
        ("charge", &ch),
        ("refund", &re),
        ("setup_intent", &seti),
        ("setup_attempt", &att),
        ("review", &review),
    ] {
        let mut theirs = fixtures[name].clone();
        // Sample data, not a field every object has.
        if name == "payment_method" {
            theirs["metadata"] = serde_json::json!({});
        }
        // Sample values standing in for a wallet card and an error: not on every object.
        if name == "setup_attempt" {
            theirs["payment_method_details"]["card"]["wallet"] = Value::Null;
        }
        if name == "setup_intent" {
            theirs["next_action"] = Value::Null;
            theirs["last_setup_error"] = Value::Null;
            theirs["payment_method_configuration_details"] = Value::Null;
            theirs["automatic_payment_methods"] = Value::Null;
        }
        compare(ours, &theirs, name, &mut problems);
    }
    assert!(problems.is_empty(), "{problems:#?}");
}
