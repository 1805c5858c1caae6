//! Kassa's own events to the client's endpoint: signed (Standard Webhooks), queued durably,
//! retried on the schedule kept as data.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode as AxStatus};
use axum::routing::post;
use kassa_storage::testing::execute;
use kassa_testkit::{Emulator, StatusCode, TestApp};
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};

#[derive(Default)]
struct Inbox {
    /// (event type, verified) per delivery.
    got: Vec<(String, bool, Value)>,
    /// Answer 500 to this many deliveries first.
    fail_first: usize,
    secret: String,
}

async fn receive(
    State(inbox): State<Arc<Mutex<Inbox>>>,
    headers: HeaderMap,
    body: Bytes,
) -> AxStatus {
    let mut inbox = inbox.lock().unwrap();
    let h = |k: &str| {
        headers
            .get(k)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    };
    let ts: i64 = h("webhook-timestamp").parse().unwrap_or(0);
    let verified = kassa_secrets::standard_webhooks::verify(
        &inbox.secret,
        &h("webhook-id"),
        ts,
        &body,
        &h("webhook-signature"),
    );
    let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    inbox
        .got
        .push((v["type"].as_str().unwrap_or("").to_string(), verified, v));
    if inbox.fail_first > 0 {
        inbox.fail_first -= 1;
        return AxStatus::INTERNAL_SERVER_ERROR;
    }
    AxStatus::OK
}

async fn receiver() -> (String, Arc<Mutex<Inbox>>) {
    let inbox = Arc::new(Mutex::new(Inbox::default()));
    let app = axum::Router::new()
        .route("/hook", post(receive))
        .with_state(inbox.clone());
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", l.local_addr().unwrap());
    tokio::spawn(async move {
        let _ = axum::serve(l, app).await;
    });
    (url, inbox)
}

fn card(n: &str) -> Value {
    json!({"number": n, "exp_month": 12, "exp_year": 2034, "cvc": "123"})
}

#[tokio::test]
async fn payments_are_notified_signed_and_retried() {
    let app = TestApp::spawn().await;
    let emu = Emulator::spawn().await;
    let (_gw, group) = app.emulator_gateway(&emu, json!({})).await;
    let acct = app.account("C-1", group).await;
    let (url, inbox) = receiver().await;
    let ep = app.post("/v1/notification_endpoints", &json!({"url": url, "enabled_events": ["payment.succeeded", "payment.declined", "payment.refunded"]})).await;
    assert_eq!(ep.status, StatusCode::CREATED, "{:?}", ep.body);
    let secret = ep.body["secret"].as_str().unwrap().to_string();
    assert!(secret.starts_with("whsec_"));
    assert_eq!(
        app.get(&format!("/v1/notification_endpoints/{}", ep.body["id"]))
            .await
            .body["secret"],
        Value::Null,
        "shown once"
    );
    inbox.lock().unwrap().secret = secret;
    inbox.lock().unwrap().fail_first = 1;

    let ok = app.post("/v1/payments", &json!({"acct_no": acct, "card": card("4242424242424242"), "amount": 1000, "currency": "usd"})).await.body;
    let declined = app.post("/v1/payments", &json!({"acct_no": acct, "card": card("4000000000000002"), "amount": 1000, "currency": "usd"})).await;
    assert_eq!(declined.status, StatusCode::PAYMENT_REQUIRED);
    app.post(
        &format!("/v1/payments/{}/refunds", ok["id"].as_str().unwrap()),
        &json!({"amount": 400}),
    )
    .await;
    // An event type the endpoint did not ask for is not queued.
    app.patch(
        &format!("/v1/accounts/{acct}"),
        &json!({"status": "suspended"}),
    )
    .await;

    let state = app.state();
    assert_eq!(
        kassa_api::service::notifications::deliver_due(&state)
            .await
            .unwrap(),
        3
    );
    {
        let got = &inbox.lock().unwrap().got;
        assert_eq!(got.len(), 3);
        assert!(
            got.iter().all(|(_, verified, _)| *verified),
            "every delivery verifies with the endpoint's secret"
        );
        let types: Vec<&str> = got.iter().map(|(t, _, _)| t.as_str()).collect();
        assert_eq!(
            types,
            vec!["payment.succeeded", "payment.declined", "payment.refunded"]
        );
        assert_eq!(got[0].2["data"]["id"], ok["id"]);
        assert_eq!(got[1].2["data"]["decline"]["code"], "card_declined");
    }
    // The first answer was a 500: that one waits for its retry, on the schedule.
    let deliveries = app
        .get(&format!(
            "/v1/notification_endpoints/{}/deliveries",
            ep.body["id"]
        ))
        .await
        .body;
    let first = deliveries["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["event_type"] == "payment.succeeded")
        .unwrap()
        .clone();
    assert_eq!(
        (
            first["status"].as_str(),
            first["attempts"].as_i64(),
            first["last_status"].as_i64()
        ),
        (Some("pending"), Some(1), Some(500))
    );
    assert_eq!(
        kassa_api::service::notifications::deliver_due(&state)
            .await
            .unwrap(),
        0,
        "not due for 5 s"
    );
    execute(
        &app.store,
        "UPDATE notifications SET next_attempt_at = 0 WHERE status = 'pending'",
    )
    .await
    .unwrap();
    assert_eq!(
        kassa_api::service::notifications::deliver_due(&state)
            .await
            .unwrap(),
        1
    );
    let deliveries = app
        .get(&format!(
            "/v1/notification_endpoints/{}/deliveries",
            ep.body["id"]
        ))
        .await
        .body;
    assert!(
        deliveries["data"]
            .as_array()
            .unwrap()
            .iter()
            .all(|d| d["status"] == "delivered"),
        "{deliveries}"
    );
    assert_eq!(inbox.lock().unwrap().got.len(), 4);
}

#[tokio::test]
async fn endpoints_are_validated_and_belong_to_their_client() {
    let app = TestApp::spawn().await;
    for (body, param) in [
        (json!({}), "url"),
        (json!({"url": "http://hooks.example/x"}), "url"),
        (
            json!({"url": "https://hooks.example/x", "enabled_events": ["payment.exploded"]}),
            "enabled_events[0]",
        ),
        (
            json!({"url": "https://hooks.example/x", "colour": "red"}),
            "colour",
        ),
    ] {
        let r = app.post("/v1/notification_endpoints", &body).await;
        assert_eq!(
            (r.status, r.param()),
            (StatusCode::BAD_REQUEST, Some(param)),
            "{body}"
        );
    }
    let ep = app
        .post(
            "/v1/notification_endpoints",
            &json!({"url": "https://hooks.example/x"}),
        )
        .await
        .body;
    assert_eq!(ep["enabled_events"], json!(["*"]));
    let rotated = app
        .patch(
            &format!("/v1/notification_endpoints/{}", ep["id"]),
            &json!({"rotate_secret": true, "status": "disabled"}),
        )
        .await
        .body;
    assert!(rotated["secret"].as_str().unwrap() != ep["secret"].as_str().unwrap());
    assert_eq!(rotated["status"], "disabled");
    let (_, other) = app.new_client("Other").await;
    let r = app
        .send_as(
            &other,
            kassa_testkit::reqwest::Method::GET,
            &format!("/v1/notification_endpoints/{}", ep["id"]),
            None,
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}
