//! What the connector puts on the wire, seen by a real HTTP server on loopback that records each
//! request (end-to-end flows against the Stripe emulator arrive with the payments issue).

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use kassa_domain::keys::StripeSecretKey;
use kassa_stripe::{Form, RequestOptions, RetryPolicy, StripeClient, StripeError, API_VERSION};
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Default)]
struct Seen {
    requests: Vec<(HeaderMap, String)>,
    fail_first: usize,
}

async fn record(
    State(seen): State<Arc<Mutex<Seen>>>,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, HeaderMap, String) {
    let mut s = seen.lock().unwrap();
    s.requests
        .push((headers, String::from_utf8_lossy(&body).into_owned()));
    let mut out = HeaderMap::new();
    out.insert("request-id", "req_test".parse().unwrap());
    if s.requests.len() <= s.fail_first {
        return (
            StatusCode::INTERNAL_SERVER_ERROR,
            out,
            r#"{"error":{"type":"api_error","message":"boom"}}"#.into(),
        );
    }
    if body.starts_with(b"decline") {
        return (
            StatusCode::PAYMENT_REQUIRED,
            out,
            r#"{"error":{"type":"card_error","code":"card_declined","decline_code":"generic_decline","message":"Your card was declined."}}"#.into(),
        );
    }
    (
        StatusCode::OK,
        out,
        r#"{"id":"pi_123","object":"payment_intent"}"#.into(),
    )
}

async fn server(fail_first: usize) -> (String, Arc<Mutex<Seen>>) {
    let seen = Arc::new(Mutex::new(Seen {
        fail_first,
        ..Default::default()
    }));
    let app = Router::new()
        .route("/v1/payment_intents", post(record))
        .with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (format!("http://{addr}"), seen)
}

fn client(base: &str) -> StripeClient {
    let key = StripeSecretKey::parse("sk_test_wirewirewire1234").unwrap();
    StripeClient::new(StripeClient::http_client().unwrap(), base, key).with_retry(RetryPolicy {
        max_attempts: 3,
        first_backoff: Duration::from_millis(5),
        max_backoff: Duration::from_millis(20),
    })
}

#[tokio::test]
async fn sends_stripe_headers_and_form_body() {
    let (base, seen) = server(0).await;
    let mut form = Form::new();
    form.add("amount", 2000)
        .add("currency", "usd")
        .add_map("metadata", [("kassa_attempt", "att_1")]);
    let opts = RequestOptions {
        idempotency_key: Some("att_1".into()),
        stripe_account: Some("acct_1032D82eZvKYlo2C".into()),
    };
    let pi = client(&base)
        .post::<serde_json::Value>("/v1/payment_intents", &form, &opts)
        .await
        .unwrap();
    assert_eq!(pi["id"], "pi_123");
    let s = seen.lock().unwrap();
    let (h, body) = &s.requests[0];
    assert_eq!(h["authorization"], "Bearer sk_test_wirewirewire1234");
    assert_eq!(h["stripe-version"], API_VERSION);
    assert_eq!(h["stripe-account"], "acct_1032D82eZvKYlo2C");
    assert_eq!(h["idempotency-key"], "att_1");
    assert_eq!(h["content-type"], "application/x-www-form-urlencoded");
    assert_eq!(
        body,
        "amount=2000&currency=usd&metadata%5Bkassa_attempt%5D=att_1"
    );
}

#[tokio::test]
async fn a_success_whose_body_cannot_be_read_leaves_the_outcome_unknown() {
    // Stripe answered 200 (it did the work) with a body that is not the object asked for: the
    // call is not sent again, and what it did is not known, so nothing may record it as failed.
    let (base, seen) = server(0).await;
    let opts = RequestOptions {
        idempotency_key: Some("att_3".into()),
        stripe_account: None,
    };
    let e = client(&base)
        .post::<kassa_stripe::objects::PaymentIntent>("/v1/payment_intents", &Form::new(), &opts)
        .await
        .unwrap_err();
    assert!(
        matches!(e, StripeError::Malformed { status: 200, .. }),
        "{e:?}"
    );
    assert!(e.outcome_unknown() && !e.is_retryable(), "{e:?}");
    assert_eq!(seen.lock().unwrap().requests.len(), 1);
}

#[tokio::test]
async fn retries_server_errors_with_the_same_idempotency_key() {
    let (base, seen) = server(2).await;
    let opts = RequestOptions {
        idempotency_key: Some("att_2".into()),
        stripe_account: None,
    };
    let pi = client(&base)
        .post::<serde_json::Value>("/v1/payment_intents", &Form::new(), &opts)
        .await
        .unwrap();
    assert_eq!(pi["id"], "pi_123");
    let s = seen.lock().unwrap();
    assert_eq!(s.requests.len(), 3);
    assert!(s
        .requests
        .iter()
        .all(|(h, _)| h["idempotency-key"] == "att_2"));
}

#[tokio::test]
async fn never_retries_a_post_of_unknown_outcome_without_a_key() {
    let (base, seen) = server(5).await;
    let err = client(&base)
        .post::<serde_json::Value>(
            "/v1/payment_intents",
            &Form::new(),
            &RequestOptions::default(),
        )
        .await
        .unwrap_err();
    assert!(err.outcome_unknown(), "{err:?}");
    assert_eq!(seen.lock().unwrap().requests.len(), 1, "one attempt only");
}

#[tokio::test]
async fn card_errors_come_back_typed_and_are_not_retried() {
    let (base, seen) = server(0).await;
    let mut form = Form::new();
    form.add("decline", 1);
    let err = client(&base)
        .post::<serde_json::Value>(
            "/v1/payment_intents",
            &form,
            &RequestOptions {
                idempotency_key: Some("k".into()),
                stripe_account: None,
            },
        )
        .await
        .unwrap_err();
    match err {
        StripeError::Api(e) => {
            assert_eq!(e.status, 402);
            assert_eq!(e.code.as_deref(), Some("card_declined"));
            assert_eq!(e.decline_code.as_deref(), Some("generic_decline"));
            assert_eq!(e.request_id.as_deref(), Some("req_test"));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(seen.lock().unwrap().requests.len(), 1);
}

#[tokio::test]
async fn unreachable_stripe_is_not_sent() {
    // A port nothing listens on: the connection is refused, so the request never left.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let err = client(&format!("http://{addr}"))
        .post::<serde_json::Value>(
            "/v1/payment_intents",
            &Form::new(),
            &RequestOptions::default(),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StripeError::NotSent(_)), "{err:?}");
    assert!(!err.outcome_unknown());
}
