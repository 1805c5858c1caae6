//! Webhook endpoints, signed delivery with retries (to a receiver that verifies the signature
//! itself), and the events API.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use common::{start, start_emu, Api};
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;

#[derive(Clone, Default)]
struct Receiver {
    secret: Arc<Mutex<String>>,
    /// Verified events, in arrival order.
    events: Arc<Mutex<Vec<Value>>>,
    /// Answer 500 to this many deliveries first.
    fail_first: Arc<Mutex<u32>>,
    attempts: Arc<Mutex<u32>>,
}

fn verify(secret: &str, header: &str, body: &[u8]) -> bool {
    let mut t = None;
    let mut sigs = Vec::new();
    for item in header.split(',') {
        match item.split_once('=') {
            Some(("t", v)) => t = Some(v.to_string()),
            Some(("v1", v)) => sigs.push(v.to_string()),
            _ => {}
        }
    }
    let Some(t) = t else { return false };
    let age = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
        - t.parse::<i64>().unwrap();
    if age.abs() > 300 {
        return false;
    }
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(t.as_bytes());
    mac.update(b".");
    mac.update(body);
    let expected: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    sigs.contains(&expected)
}

async fn receive(State(rx): State<Receiver>, headers: HeaderMap, body: Bytes) -> StatusCode {
    *rx.attempts.lock().unwrap() += 1;
    {
        let mut fail = rx.fail_first.lock().unwrap();
        if *fail > 0 {
            *fail -= 1;
            return StatusCode::INTERNAL_SERVER_ERROR;
        }
    }
    assert_eq!(headers["content-type"], "application/json; charset=utf-8");
    let sig = headers["stripe-signature"].to_str().unwrap();
    let secret = rx.secret.lock().unwrap().clone();
    if !verify(&secret, sig, &body) {
        return StatusCode::BAD_REQUEST;
    }
    rx.events
        .lock()
        .unwrap()
        .push(serde_json::from_slice(&body).unwrap());
    StatusCode::OK
}

async fn receiver() -> (String, Receiver) {
    let rx = Receiver::default();
    let app = axum::Router::new()
        .route("/hook", axum::routing::post(receive))
        .with_state(rx.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}/hook"), rx)
}

async fn wait_for(rx: &Receiver, n: usize) -> Vec<Value> {
    for _ in 0..200 {
        let evs = rx.events.lock().unwrap().clone();
        if evs.len() >= n {
            return evs;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("only {:?} events arrived", rx.events.lock().unwrap());
}

fn types(evs: &[Value]) -> Vec<String> {
    let mut t: Vec<String> = evs
        .iter()
        .map(|e| e["type"].as_str().unwrap().to_string())
        .collect();
    t.sort();
    t
}

async fn event_types(api: &Api, query: &str) -> Vec<String> {
    let r = api.get(&format!("/v1/events?limit=100{query}")).await;
    assert_eq!(r.status, 200, "{}", r.body);
    types(r.body["data"].as_array().unwrap())
}

#[tokio::test]
async fn signed_delivery_of_a_payment_with_retries() {
    let (api, emu) = start_emu().await;
    emu.set_webhook_retry(30, 4);
    let (url, rx) = receiver().await;
    let r = api
        .post(
            "/v1/webhook_endpoints",
            &[
                ("url", &url),
                ("enabled_events[]", "payment_intent.succeeded"),
                ("enabled_events[]", "charge.succeeded"),
                ("description", "kassa"),
            ],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["object"], "webhook_endpoint");
    assert_eq!(r.body["status"], "enabled");
    let secret = r.body["secret"].as_str().unwrap().to_string();
    assert!(secret.starts_with("whsec_"));
    let we = r.body["id"].as_str().unwrap().to_string();
    *rx.secret.lock().unwrap() = secret;
    // The secret is shown on create only.
    let r = api.get(&format!("/v1/webhook_endpoints/{we}")).await;
    assert!(r.body.get("secret").is_none());
    assert_eq!(r.body["enabled_events"][1], "charge.succeeded");
    // The receiver fails the first two attempts; the retries get through.
    *rx.fail_first.lock().unwrap() = 2;
    let r = api
        .post_idem(
            "/v1/payment_intents",
            &[
                ("amount", "2500"),
                ("currency", "eur"),
                ("payment_method", "pm_card_visa"),
                ("confirm", "true"),
            ],
            "idem-webhook-1",
        )
        .await;
    assert_eq!(r.status, 200);
    let pi = r.body["id"].as_str().unwrap().to_string();
    let request_id = r.headers["request-id"].to_str().unwrap().to_string();
    let evs = wait_for(&rx, 2).await;
    assert_eq!(
        types(&evs),
        ["charge.succeeded", "payment_intent.succeeded"]
    );
    assert!(*rx.attempts.lock().unwrap() >= 4);
    let ev = evs
        .iter()
        .find(|e| e["type"] == "payment_intent.succeeded")
        .unwrap();
    assert!(ev["id"].as_str().unwrap().starts_with("evt_"));
    assert_eq!(ev["object"], "event");
    assert_eq!(ev["livemode"], false);
    assert_eq!(ev["data"]["object"]["id"], pi.as_str());
    assert_eq!(ev["data"]["object"]["status"], "succeeded");
    assert_eq!(ev["request"]["id"], request_id.as_str());
    assert_eq!(ev["request"]["idempotency_key"], "idem-webhook-1");
    assert!(ev.get("account").is_none());
    // Stored events: all types, a pending count that drops to 0 after delivery.
    let all = event_types(&api, "").await;
    assert_eq!(
        all,
        [
            "charge.succeeded",
            "payment_intent.created",
            "payment_intent.succeeded"
        ]
    );
    let id = ev["id"].as_str().unwrap();
    let r = api.get(&format!("/v1/events/{id}")).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["pending_webhooks"], 0);
    assert_eq!(r.body["data"]["object"]["id"], pi.as_str());
    let r = api.get("/v1/events?type=payment_intent.created").await;
    assert_eq!(r.body["data"][0]["pending_webhooks"], 0);
    assert_eq!(api.get("/v1/events/evt_nope").await.status, 404);
    // Disabled endpoints get nothing; deleted ones are gone.
    let r = api
        .post(
            &format!("/v1/webhook_endpoints/{we}"),
            &[("disabled", "true")],
        )
        .await;
    assert_eq!(r.body["status"], "disabled");
    api.pay("pm_card_visa", &[]).await;
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert_eq!(rx.events.lock().unwrap().len(), 2);
    let r = api.delete(&format!("/v1/webhook_endpoints/{we}")).await;
    assert_eq!(r.body["deleted"], true);
    assert_eq!(
        api.get(&format!("/v1/webhook_endpoints/{we}")).await.status,
        404
    );
}

#[tokio::test]
async fn wildcard_endpoint_gets_everything_and_connected_accounts_are_marked() {
    let (api, emu) = start_emu().await;
    emu.set_webhook_retry(10, 2);
    let api = api.with_account("acct_123");
    let (url, rx) = receiver().await;
    let r = api
        .post(
            "/v1/webhook_endpoints",
            &[("url", &url), ("enabled_events[]", "*")],
        )
        .await;
    *rx.secret.lock().unwrap() = r.body["secret"].as_str().unwrap().to_string();
    let cus = api.customer().await;
    let evs = wait_for(&rx, 1).await;
    assert_eq!(evs[0]["type"], "customer.created");
    assert_eq!(evs[0]["account"], "acct_123");
    assert_eq!(evs[0]["data"]["object"]["id"], cus.as_str());
    let r = api.get("/v1/webhook_endpoints").await;
    assert_eq!(r.body["data"].as_array().unwrap().len(), 1);
    // Another account sees none of it.
    let other = api.with_key("sk_test_two");
    assert!(event_types(&other, "").await.is_empty());
    assert_eq!(
        api.post("/v1/webhook_endpoints", &[("url", &url)])
            .await
            .err("param"),
        "enabled_events"
    );
    assert_eq!(
        api.post(
            "/v1/webhook_endpoints",
            &[("url", "nope"), ("enabled_events[]", "*")]
        )
        .await
        .err("param"),
        "url"
    );
}

#[tokio::test]
async fn events_for_payment_lifecycle() {
    let api = start().await;
    // Decline.
    let r = api.pay("pm_card_chargeDeclined", &[]).await;
    assert_eq!(r.status, 402);
    assert_eq!(
        event_types(&api, "").await,
        [
            "charge.failed",
            "payment_intent.created",
            "payment_intent.payment_failed"
        ]
    );
    // 3DS, then manual capture, partial refund.
    let r = api
        .pay(
            "pm_card_authenticationRequired",
            &[
                ("capture_method", "manual"),
                ("return_url", "https://shop.example/back"),
            ],
        )
        .await;
    assert_eq!(r.body["status"], "requires_action");
    let pi = r.body["id"].as_str().unwrap().to_string();
    assert_eq!(
        event_types(&api, "&type=payment_intent.requires_action").await,
        ["payment_intent.requires_action"]
    );
    let r = api
        .post(
            &format!("/_emulator/payment_intents/{pi}/authenticate"),
            &[("outcome", "success")],
        )
        .await;
    assert_eq!(r.body["status"], "requires_capture", "{}", r.body);
    let r = api
        .get("/v1/events?type=payment_intent.amount_capturable_updated")
        .await;
    assert_eq!(
        r.body["data"][0]["data"]["object"]["amount_capturable"],
        2000
    );
    assert_eq!(r.body["data"][0]["request"]["id"], Value::Null);
    let r = api
        .post(&format!("/v1/payment_intents/{pi}/capture"), &[])
        .await;
    assert_eq!(r.body["status"], "succeeded");
    let r = api.get("/v1/events?type=charge.captured").await;
    assert_eq!(r.body["data"][0]["data"]["object"]["captured"], true);
    assert_eq!(
        r.body["data"][0]["data"]["previous_attributes"]["captured"],
        false
    );
    let r = api
        .post("/v1/refunds", &[("payment_intent", &pi), ("amount", "500")])
        .await;
    assert_eq!(r.status, 200);
    let r = api.get("/v1/events?type=charge.refunded").await;
    assert_eq!(r.body["data"][0]["data"]["object"]["amount_refunded"], 500);
    assert_eq!(
        r.body["data"][0]["data"]["previous_attributes"]["amount_refunded"],
        0
    );
    // The capture's event, read after the refund, still tells what the capture changed, only.
    let r = api.get("/v1/events?type=charge.captured").await;
    let prev = &r.body["data"][0]["data"]["previous_attributes"];
    assert_eq!(prev["captured"], false, "{prev}");
    assert!(prev.get("amount_refunded").is_none(), "{prev}");
    // Cancel.
    let r = api
        .post(
            "/v1/payment_intents",
            &[("amount", "900"), ("currency", "usd")],
        )
        .await;
    let pi2 = r.body["id"].as_str().unwrap().to_string();
    api.post(&format!("/v1/payment_intents/{pi2}/cancel"), &[])
        .await;
    assert_eq!(
        event_types(&api, "&type=payment_intent.canceled")
            .await
            .len(),
        1
    );
    // Wildcard type filter and pagination.
    let charge_events = event_types(&api, "&type=charge.*").await;
    assert_eq!(
        charge_events,
        [
            "charge.captured",
            "charge.failed",
            "charge.refunded",
            "charge.succeeded"
        ]
    );
    let page = api.get("/v1/events?limit=2").await;
    assert_eq!(page.body["has_more"], true);
    let last = page.body["data"][1]["id"].as_str().unwrap();
    let next = api
        .get(&format!("/v1/events?limit=2&starting_after={last}"))
        .await;
    assert_ne!(next.body["data"][0]["id"], page.body["data"][0]["id"]);
}

#[tokio::test]
async fn events_for_customers_and_payment_methods() {
    let api = start().await;
    let cus = api.customer().await;
    let r = api
        .post(
            &format!("/v1/customers/{cus}"),
            &[("name", "Ada"), ("metadata[k]", "v")],
        )
        .await;
    assert_eq!(r.status, 200);
    let r = api.get("/v1/events?type=customer.updated").await;
    let ev = &r.body["data"][0];
    assert_eq!(ev["data"]["object"]["name"], "Ada");
    assert_eq!(ev["data"]["previous_attributes"]["name"], Value::Null);
    assert_eq!(
        ev["data"]["previous_attributes"]["metadata"],
        serde_json::json!({ "k": null })
    );
    let r = api
        .post(
            "/v1/payment_methods",
            &[("type", "card"), ("card[token]", "tok_visa")],
        )
        .await;
    let pm = r.body["id"].as_str().unwrap().to_string();
    api.post(
        &format!("/v1/payment_methods/{pm}/attach"),
        &[("customer", &cus)],
    )
    .await;
    let r = api
        .post(
            &format!("/v1/payment_methods/{pm}"),
            &[("card[exp_month]", "3")],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = api.get("/v1/events?type=payment_method.updated").await;
    assert_eq!(r.body["data"][0]["data"]["object"]["card"]["exp_month"], 3);
    assert!(r.body["data"][0]["data"]["previous_attributes"]["card"]["exp_month"].is_i64());
    api.post(&format!("/v1/payment_methods/{pm}/detach"), &[])
        .await;
    let r = api.get("/v1/events?type=payment_method.detached").await;
    assert_eq!(r.body["data"][0]["data"]["object"]["customer"], Value::Null);
    api.delete(&format!("/v1/customers/{cus}")).await;
    let r = api.get("/v1/events?type=customer.deleted").await;
    assert_eq!(r.body["data"][0]["data"]["object"]["id"], cus.as_str());
    assert_eq!(
        event_types(&api, "&type=payment_method.*").await,
        [
            "payment_method.attached",
            "payment_method.detached",
            "payment_method.updated"
        ]
    );
}

/// `pm_card_refundFail`: the refund is answered `succeeded`; right after, it fails on its own
/// (no request behind it) with `refund.updated`, `charge.refund.updated`, `refund.failed`, and
/// the charge gets its amount back.
#[tokio::test]
async fn a_refund_of_the_refund_fail_card_fails_after_the_answer() {
    let api = start().await;
    let r = api.pay("pm_card_refundFail", &[]).await;
    assert_eq!(r.body["status"], "succeeded", "{}", r.body);
    let pi = r.body["id"].as_str().unwrap().to_string();
    let ch = r.body["latest_charge"].as_str().unwrap().to_string();
    let r = api
        .post("/v1/refunds", &[("payment_intent", &pi), ("amount", "300")])
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["status"], "succeeded");
    let re = r.body["id"].as_str().unwrap().to_string();
    let r = api.get(&format!("/v1/refunds/{re}")).await;
    assert_eq!(r.body["status"], "failed");
    assert_eq!(r.body["failure_reason"], "expired_or_canceled_card");
    let r = api.get(&format!("/v1/charges/{ch}")).await;
    assert_eq!(r.body["amount_refunded"], 0, "{}", r.body);
    assert_eq!(r.body["refunded"], false);
    assert_eq!(
        event_types(&api, "&type=refund.*").await,
        ["refund.created", "refund.failed", "refund.updated"]
    );
    let r = api.get("/v1/events?type=refund.failed").await;
    let ev = &r.body["data"][0];
    assert_eq!(ev["data"]["object"]["id"], re.as_str());
    assert_eq!(ev["data"]["object"]["status"], "failed");
    assert_eq!(ev["request"]["id"], Value::Null, "Stripe's own change");
    let r = api.get("/v1/events?type=charge.refund.updated").await;
    assert_eq!(
        r.body["data"][0]["data"]["previous_attributes"]["status"],
        "succeeded"
    );
    // An ordinary card's refund stays succeeded.
    let r = api.pay("pm_card_visa", &[]).await;
    let pi = r.body["id"].as_str().unwrap().to_string();
    let r = api.post("/v1/refunds", &[("payment_intent", &pi)]).await;
    let r = api
        .get(&format!("/v1/refunds/{}", r.body["id"].as_str().unwrap()))
        .await;
    assert_eq!(r.body["status"], "succeeded");
    assert!(r.body.get("failure_reason").is_none());
}
