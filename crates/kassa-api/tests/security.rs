//! Security properties over the whole API: another client's objects are not found on every
//! endpoint the OpenAPI document lists (walked from `/openapi.json`, so a new endpoint is covered
//! or this test fails), and wrong API keys are rate-limited per address. (Secrets in logs:
//! `crates/kassa/tests/logs.rs`; in the database: `conventions.rs`.)

use std::collections::HashMap;
use std::time::Duration;

use kassa_testkit::reqwest::Method;
use kassa_testkit::{Emulator, StatusCode, TestApp};
use serde_json::{json, Value};

/// One of each kind of object, made by the first client.
async fn one_of_everything(app: &TestApp, emu: &Emulator) -> HashMap<&'static str, String> {
    // Kassa sends the receipts (so an email is queued in the outbox).
    let (gw, group) = app
        .emulator_gateway(emu, json!({"disable_email_receipt": true}))
        .await;
    kassa_api::service::webhooks::register(&app.state(), gw, None)
        .await
        .unwrap();
    let acct = app.account("C-1", group).await;
    let (campaign, product) = app
        .recurring_product(
            gw,
            json!({"prices": [500, 1500], "interval_unit": "days", "interval_count": 30}),
        )
        .await;
    let order = app
        .order_with_card(campaign, acct, product, "4242424242424242")
        .await;
    let pm = app
        .get(&format!("/v1/accounts/{acct}/payment_methods"))
        .await
        .body["data"][0]["payment_method_no"]
        .clone();
    let auth = app
        .post(
            "/v1/payments",
            &json!({"acct_no": acct, "amount": 700, "currency": "usd", "capture": false,
                    "card": {"number": "4242424242424242", "exp_month": 12, "exp_year": 2034, "cvc": "123"}}),
        )
        .await
        .body;
    let recycle = app
        .post(
            "/v1/recycle_profiles",
            &json!({"name": "R", "reattempts": [{"wait_days": 3}]}),
        )
        .await;
    let endpoint = app
        .post(
            "/v1/notification_endpoints",
            &json!({"url": "https://hooks.example/kassa", "enabled_events": ["*"]}),
        )
        .await;
    let mut event = Value::Null;
    for _ in 0..100 {
        event = app.get("/v1/webhook_events").await.body["data"][0]["id"].clone();
        if !event.is_null() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    let outbox = app.get("/v1/email_outbox").await.body["data"][0]["id"].clone();
    let text = |v: &Value| match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let mut ids = HashMap::new();
    ids.insert("gateways", gw.to_string());
    ids.insert("collection_groups", group.to_string());
    ids.insert("accounts", acct.to_string());
    ids.insert("pm_no", text(&pm));
    ids.insert("campaigns", campaign.to_string());
    ids.insert("product_id", product.to_string());
    ids.insert("orders", text(&order["id"]));
    ids.insert("purchases", text(&order["purchases"][0]["id"]));
    ids.insert("payments", text(&auth["id"]));
    ids.insert("authorizations", text(&auth["auth_no"]));
    ids.insert("recycle_profiles", text(&recycle.body["id"]));
    ids.insert("notification_endpoints", text(&endpoint.body["id"]));
    ids.insert("webhook_events", text(&event));
    ids.insert("email_outbox", text(&outbox));
    for (k, v) in &ids {
        assert!(!v.is_empty() && v != "null", "no {k} was made: {ids:?}");
    }
    ids
}

/// The path with its `{…}` parameters filled from `ids` (a parameter named for an object, else
/// the collection it follows), or `None` for paths whose parameter is not an object's id.
fn fill(path: &str, ids: &HashMap<&'static str, String>, missing: bool) -> Option<String> {
    let mut out = Vec::new();
    let mut collection = "";
    for seg in path.split('/') {
        if seg.starts_with('{') {
            let name = seg.trim_matches(|c| c == '{' || c == '}');
            if collection == "reports" || collection == "email_templates" {
                // A report's name or a template's kind: every client has its own.
                return None;
            }
            let key = if ids.contains_key(name) {
                name
            } else {
                collection
            };
            let id = ids.get(key).unwrap_or_else(|| {
                panic!("{path}: no object for {{{name}}}; add one to one_of_everything")
            });
            out.push(if missing {
                // The same kind of id, but one nobody has.
                if id.chars().all(|c| c.is_ascii_digit()) {
                    "987654".to_string()
                } else {
                    format!("{}x", &id[..id.len() - 1])
                }
            } else {
                id.clone()
            });
        } else {
            collection = seg;
            out.push(seg.to_string());
        }
    }
    Some(out.join("/"))
}

#[tokio::test]
async fn every_endpoint_hides_another_clients_objects() {
    let app = TestApp::spawn().await;
    let emu = Emulator::spawn().await;
    let ids = one_of_everything(&app, &emu).await;
    let (_, other) = app.new_client("Other").await;
    let doc = app.get("/openapi.json").await.body;
    let mut checked = 0;
    for (path, ops) in doc["paths"].as_object().unwrap() {
        if !path.contains('{') {
            continue;
        }
        let (Some(theirs), Some(nobodys)) = (fill(path, &ids, false), fill(path, &ids, true))
        else {
            continue;
        };
        for method in ops.as_object().unwrap().keys() {
            let m = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let body = (m != Method::GET && m != Method::DELETE).then(|| json!({}));
            let a = app
                .send_as(&other, m.clone(), &theirs, body.as_ref(), &[])
                .await;
            let b = app
                .send_as(&other, m.clone(), &nobodys, body.as_ref(), &[])
                .await;
            assert_eq!(
                a.status,
                StatusCode::NOT_FOUND,
                "{method} {theirs}: {:?}",
                a.body
            );
            assert_eq!(
                a.body["error"]["code"], "resource_missing",
                "{method} {theirs}"
            );
            assert_eq!(
                (a.status, &a.body),
                (b.status, &b.body),
                "{method} {theirs} must look exactly like a missing object"
            );
            checked += 1;
        }
    }
    assert!(checked >= 40, "only {checked} operations were checked");
    // And the owner still has everything, untouched.
    let p = app.get(&format!("/v1/payments/{}", ids["payments"])).await;
    assert_eq!(p.body["status"], "authorized");
    let g = app.get(&format!("/v1/gateways/{}", ids["gateways"])).await;
    assert_eq!(g.body["status"], "active");
}

#[tokio::test]
async fn wrong_api_keys_are_rate_limited_per_address() {
    let app = TestApp::spawn().await;
    for i in 0..kassa_api::auth_limit::MAX_FAILURES {
        let r = app
            .send_as(
                &format!("kassa_sk_guess{i:04}"),
                Method::GET,
                "/v1/gateways",
                None,
                &[],
            )
            .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "guess {i}");
    }
    let r = app
        .send_as("kassa_sk_guess9999", Method::GET, "/v1/gateways", None, &[])
        .await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(r.body["error"]["code"], "rate_limited");
    let wait: u64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=60).contains(&wait), "{wait}");
    // Locked out for the window: a right key from the same address gains nothing either, on the
    // API, through the idempotency layer, and on the console's sign-in.
    let r = app.get("/v1/gateways").await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    let r = app
        .send(
            Method::POST,
            "/v1/campaigns",
            Some(&json!({"name": "x", "currency": "usd"})),
            &[("Idempotency-Key", "k1")],
        )
        .await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    // Right keys never count: a fresh server takes any number of them.
    let fresh = TestApp::spawn().await;
    for _ in 0..(kassa_api::auth_limit::MAX_FAILURES * 2) {
        assert_eq!(fresh.get("/v1/gateways").await.status, StatusCode::OK);
    }
}
