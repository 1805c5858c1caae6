//! Payments end to end: Kassa's API → Kassa's Stripe connector → real HTTP → the Stripe emulator.

use kassa_testkit::{Emulator, StatusCode, TestApp, SECRET_KEY};
use serde_json::{json, Value};

fn card(number: &str) -> Value {
    json!({"number": number, "exp_month": 12, "exp_year": 2034, "cvc": if number.starts_with("37") { "1234" } else { "123" }})
}

/// A 4242 card stored on the account: the API's answer.
async fn stored_card(app: &TestApp, acct: i64) -> Value {
    app.post(
        &format!("/v1/accounts/{acct}/payment_methods"),
        &json!({"card": card("4242424242424242")}),
    )
    .await
    .body
}

/// How many PaymentIntents of `amount` the emulator holds.
async fn intents_of(emu: &Emulator, amount: i64) -> usize {
    let list = emu.get(SECRET_KEY, "/v1/payment_intents?limit=100").await;
    list["data"]
        .as_array()
        .map(|a| a.iter().filter(|p| p["amount"] == amount).count())
        .unwrap_or(0)
}

async fn setup() -> (TestApp, Emulator, i64, i64) {
    let app = TestApp::spawn().await;
    let emu = Emulator::spawn().await;
    let (gw, group) = app
        .emulator_gateway(
            &emu,
            json!({"descriptor": "RUNCLUB", "descriptor_suffix": "GOLD"}),
        )
        .await;
    let acct = app.account("C-1", group).await;
    (app, emu, gw, acct)
}

#[tokio::test]
async fn store_a_card_and_charge_it() {
    let (app, emu, gw, acct) = setup().await;
    let r = app
        .post(
            &format!("/v1/accounts/{acct}/payment_methods"),
            &json!({"card": card("4242424242424242")}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let pm = r.body.clone();
    assert_eq!(pm["brand"], "visa");
    assert_eq!(pm["last4"], "4242");
    assert_eq!(pm["gateway_id"], gw);
    assert_eq!(pm["pay_method_type"], 13);
    let token = pm["token"].as_str().unwrap();
    let (pm_id, cus_id) = token.split_once(':').unwrap();
    assert!(
        pm_id.starts_with("pm_") && cus_id.starts_with("cus_"),
        "{token}"
    );
    // The card really is attached to the customer at Stripe.
    let at_stripe = emu
        .get(SECRET_KEY, &format!("/v1/payment_methods/{pm_id}"))
        .await;
    assert_eq!(at_stripe["customer"], cus_id);

    let r = app.post("/v1/payments", &json!({"acct_no": acct, "payment_method_no": pm["payment_method_no"], "amount": 2500, "currency": "usd"})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let p = &r.body;
    assert_eq!(p["status"], "captured");
    assert_eq!(p["amount_captured"], 2500);
    assert_eq!(p["recurring_processing_model_ind"], 0);
    assert_eq!(p["descriptor"], "GOLD");
    assert!(p["processor_payment_id"]
        .as_str()
        .unwrap()
        .starts_with("pi_"));
    assert!(p["auth_no"].as_str().unwrap().starts_with("ch_"));
    let pi = emu
        .get(
            SECRET_KEY,
            &format!(
                "/v1/payment_intents/{}",
                p["processor_payment_id"].as_str().unwrap()
            ),
        )
        .await;
    assert_eq!(pi["status"], "succeeded");
    assert_eq!(pi["amount"], 2500);
    assert_eq!(pi["statement_descriptor_suffix"], "GOLD");
    assert_eq!(pi["metadata"]["kassa_payment"], p["id"]);
}

#[tokio::test]
async fn authorize_capture_partially_then_refund_twice() {
    let (app, _emu, _gw, acct) = setup().await;
    let pm = app
        .post(
            &format!("/v1/accounts/{acct}/payment_methods"),
            &json!({"card": card("5555555555554444")}),
        )
        .await
        .body;
    let r = app.post("/v1/payments", &json!({"acct_no": acct, "payment_method_no": pm["payment_method_no"], "amount": 5000, "currency": "usd", "capture": false})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    assert_eq!(r.body["status"], "authorized");
    assert_eq!(r.body["amount_authorized"], 5000);
    let id = r.body["id"].as_str().unwrap().to_string();

    let over = app
        .post(
            &format!("/v1/payments/{id}/capture"),
            &json!({"amount": 5001}),
        )
        .await;
    assert_eq!(over.status, StatusCode::BAD_REQUEST, "{:?}", over.body);
    let c = app
        .post(
            &format!("/v1/payments/{id}/capture"),
            &json!({"amount": 3500}),
        )
        .await;
    assert_eq!(c.status, StatusCode::OK, "{:?}", c.body);
    assert_eq!(c.body["status"], "partially_captured");
    assert_eq!(c.body["amount_captured"], 3500);

    let r1 = app
        .post(
            &format!("/v1/payments/{id}/refunds"),
            &json!({"amount": 1000}),
        )
        .await;
    assert_eq!(r1.status, StatusCode::OK, "{:?}", r1.body);
    assert_eq!(r1.body["status"], "partially_refunded");
    let too_much = app
        .post(
            &format!("/v1/payments/{id}/refunds"),
            &json!({"amount": 2501}),
        )
        .await;
    assert_eq!(too_much.status, StatusCode::BAD_REQUEST);
    let r2 = app
        .post(&format!("/v1/payments/{id}/refunds"), &json!({}))
        .await;
    assert_eq!(r2.body["status"], "refunded");
    assert_eq!(r2.body["amount_refunded"], 3500);
    let kinds: Vec<(String, String)> = r2.body["transactions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["kind"].as_str().unwrap().to_string(),
                t["status"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        kinds,
        vec![
            ("authorize".into(), "succeeded".into()),
            ("capture".into(), "succeeded".into()),
            ("refund".into(), "succeeded".into()),
            ("refund".into(), "succeeded".into())
        ]
    );
    let void = app
        .post(&format!("/v1/payments/{id}/void"), &json!({}))
        .await;
    assert_eq!(void.status, StatusCode::CONFLICT);
}

#[tokio::test]
async fn void_an_authorization_by_auth_no() {
    let (app, emu, _gw, acct) = setup().await;
    let pm = app
        .post(
            &format!("/v1/accounts/{acct}/payment_methods"),
            &json!({"card": card("378282246310005")}),
        )
        .await
        .body;
    assert_eq!(pm["brand"], "amex", "{pm}");
    let p = app.post("/v1/payments", &json!({"acct_no": acct, "payment_method_no": pm["payment_method_no"], "amount": 100, "currency": "usd", "capture": false})).await.body;
    let auth_no = p["auth_no"].as_str().unwrap();
    let v = app
        .post(&format!("/v1/authorizations/{auth_no}/void"), &json!({}))
        .await;
    assert_eq!(v.status, StatusCode::OK, "{:?}", v.body);
    assert_eq!(v.body["status"], "voided");
    let pi = emu
        .get(
            SECRET_KEY,
            &format!(
                "/v1/payment_intents/{}",
                p["processor_payment_id"].as_str().unwrap()
            ),
        )
        .await;
    assert_eq!(pi["status"], "canceled");
}

#[tokio::test]
async fn declines_are_recorded_and_answered_402() {
    let (app, _emu, _gw, acct) = setup().await;
    let r = app.post("/v1/payments", &json!({"acct_no": acct, "card": card("4000000000009995"), "amount": 700, "currency": "usd"})).await;
    assert_eq!(r.status, StatusCode::PAYMENT_REQUIRED, "{:?}", r.body);
    assert_eq!(r.body["error"]["type"], "card_error");
    assert_eq!(r.body["error"]["decline_code"], "insufficient_funds");
    let id = r.body["error"]["payment_id"].as_str().unwrap();
    let p = app.get(&format!("/v1/payments/{id}")).await.body;
    assert_eq!(p["status"], "declined");
    assert_eq!(
        p["recurring_processing_model_ind"], 1,
        "a new card is a CIT with model 1"
    );
    assert_eq!(p["decline"]["decline_code"], "insufficient_funds");
    assert_eq!(p["decline"]["class"], "soft");
    let r = app.post("/v1/payments", &json!({"acct_no": acct, "card": card("4000000000009979"), "amount": 700, "currency": "usd"})).await;
    let id = r.body["error"]["payment_id"].as_str().unwrap();
    assert_eq!(
        app.get(&format!("/v1/payments/{id}")).await.body["decline"]["class"],
        "hard"
    );
}

#[tokio::test]
async fn tokens_are_checked() {
    let (app, emu, _gw, acct) = setup().await;
    for bad in ["pm_123", "cus_1:pm_1", "nonsense"] {
        let r = app
            .post(
                &format!("/v1/accounts/{acct}/payment_methods"),
                &json!({"token": bad}),
            )
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
        assert_eq!(
            r.body["error"]["message"],
            "Invalid token. The valid token format is payment_method_id:customer_id."
        );
        assert_eq!(r.param(), Some("token"));
    }
    let r = app
        .post(
            "/v1/payments",
            &json!({"acct_no": acct, "token": "garbage", "amount": 700, "currency": "usd"}),
        )
        .await;
    assert_eq!(
        r.body["error"]["message"],
        "Invalid token. The valid token format is payment_method_id:customer_id."
    );
    // A well-formed token for a payment method Stripe does not have is refused before storing.
    let r = app
        .post(
            &format!("/v1/accounts/{acct}/payment_methods"),
            &json!({"token": "pm_nothere:cus_nothere"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{:?}", r.body);
    // A token made outside Kassa (customer and card created straight at Stripe) is accepted.
    let token = emu.outside_token(SECRET_KEY).await;
    let r = app
        .post(
            &format!("/v1/accounts/{acct}/payment_methods"),
            &json!({"token": token}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    assert_eq!(r.body["token"], token);
    let p = app.post("/v1/payments", &json!({"acct_no": acct, "token": token, "amount": 900, "currency": "usd", "recurring_processing_model_ind": 3})).await;
    assert_eq!(p.status, StatusCode::CREATED, "{:?}", p.body);
    assert_eq!(p.body["status"], "captured");
}

#[tokio::test]
async fn merchant_initiated_rebill_on_a_stored_card() {
    let (app, emu, _gw, acct) = setup().await;
    // CIT with a new card that is stored for later.
    let first = app.post("/v1/payments", &json!({"acct_no": acct, "card": card("4242424242424242"), "store": true, "amount": 100, "currency": "usd"})).await;
    assert_eq!(first.status, StatusCode::CREATED, "{:?}", first.body);
    assert_eq!(first.body["recurring_processing_model_ind"], 1);
    let pm_no = first.body["payment_method_no"]
        .as_i64()
        .expect("the card was stored");
    let ntid = first.body["initial_auth_txn_id"].clone();
    let pi1 = emu
        .get(
            SECRET_KEY,
            &format!(
                "/v1/payment_intents/{}",
                first.body["processor_payment_id"].as_str().unwrap()
            ),
        )
        .await;
    assert_eq!(pi1["setup_future_usage"], "off_session");

    let rebill = app.post("/v1/payments", &json!({"acct_no": acct, "payment_method_no": pm_no, "amount": 1999, "currency": "usd", "recurring_processing_model_ind": 2})).await;
    assert_eq!(rebill.status, StatusCode::CREATED, "{:?}", rebill.body);
    assert_eq!(rebill.body["recurring_processing_model_ind"], 2);
    assert_eq!(
        rebill.body["initial_auth_txn_id"], ntid,
        "the first CIT's network transaction id comes back on every MIT"
    );
    let pi = emu
        .get(
            SECRET_KEY,
            &format!(
                "/v1/payment_intents/{}",
                rebill.body["processor_payment_id"].as_str().unwrap()
            ),
        )
        .await;
    assert_eq!(pi["status"], "succeeded");
    // A new card cannot be merchant-initiated.
    let r = app.post("/v1/payments", &json!({"acct_no": acct, "card": card("4242424242424242"), "amount": 100, "currency": "usd", "recurring_processing_model_ind": 2})).await;
    assert_eq!(r.param(), Some("recurring_processing_model_ind"));
}

#[tokio::test]
async fn local_card_checks_name_the_field() {
    let (app, _emu, _gw, acct) = setup().await;
    let cases = [
        (json!({"card": card("4242424242424241")}), "card.number"),
        (
            json!({"card": {"number": "4242424242424242", "exp_month": 13, "exp_year": 2030}}),
            "card.exp_month",
        ),
        (
            json!({"card": {"number": "4242424242424242", "exp_month": 1, "exp_year": 2020}}),
            "card.exp_year",
        ),
        (
            json!({"card": {"number": "4242424242424242", "exp_month": 1, "exp_year": 2030, "cvc": "12"}}),
            "card.cvc",
        ),
        (
            json!({"card": card("4242424242424242"), "token": "pm_1:cus_1"}),
            "card",
        ),
        (json!({}), "card"),
    ];
    for (body, param) in cases {
        let r = app
            .post(&format!("/v1/accounts/{acct}/payment_methods"), &body)
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{body} → {:?}", r.body);
        assert_eq!(r.param(), Some(param), "{body} → {:?}", r.body);
    }
    assert_eq!(
        app.get(&format!("/v1/accounts/{acct}/payment_methods"))
            .await
            .body["data"],
        json!([])
    );
}

#[tokio::test]
async fn detached_cards_are_never_charged() {
    let (app, emu, _gw, acct) = setup().await;
    let pm = app
        .post(
            &format!("/v1/accounts/{acct}/payment_methods"),
            &json!({"card": card("4242424242424242")}),
        )
        .await
        .body;
    let no = pm["payment_method_no"].as_i64().unwrap();
    let d = app
        .send(
            kassa_testkit::reqwest::Method::DELETE,
            &format!("/v1/accounts/{acct}/payment_methods/{no}"),
            None,
            &[],
        )
        .await;
    assert_eq!(d.status, StatusCode::OK, "{:?}", d.body);
    assert_eq!(d.body["status"], "detached");
    let pm_id = pm["token"].as_str().unwrap().split(':').next().unwrap();
    assert_eq!(
        emu.get(SECRET_KEY, &format!("/v1/payment_methods/{pm_id}"))
            .await["customer"],
        Value::Null
    );
    let r = app
        .post(
            "/v1/payments",
            &json!({"acct_no": acct, "payment_method_no": no, "amount": 100, "currency": "usd"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn idempotent_payment_charges_once() {
    let (app, emu, _gw, acct) = setup().await;
    let pm = stored_card(&app, acct).await;
    let body = json!({"acct_no": acct, "payment_method_no": pm["payment_method_no"], "amount": 4200, "currency": "usd"});
    let key = [("Idempotency-Key", "order-77")];
    let a = app
        .send(
            kassa_testkit::reqwest::Method::POST,
            "/v1/payments",
            Some(&body),
            &key,
        )
        .await;
    let b = app
        .send(
            kassa_testkit::reqwest::Method::POST,
            "/v1/payments",
            Some(&body),
            &key,
        )
        .await;
    assert_eq!(a.body["id"], b.body["id"]);
    assert_eq!(b.header("idempotent-replayed"), Some("true"));
    assert_eq!(
        intents_of(&emu, 4200).await,
        1,
        "one PaymentIntent at Stripe"
    );
}

/// A payment claims its key with its own first write: the same request sent many times at once
/// under one key charges once, and each copy is answered with the payment or a 409 — a copy
/// whose write found the key taken is run again with the key claimed first, never answered by
/// its refused write. A new card (made at Stripe before the payment is written) claims first;
/// a decline is saved and replayed like a success.
#[tokio::test]
async fn one_key_sent_many_times_at_once_charges_once() {
    let (app, emu, _gw, acct) = setup().await;
    let pm = stored_card(&app, acct).await;
    let body = json!({"acct_no": acct, "payment_method_no": pm["payment_method_no"], "amount": 4400, "currency": "usd"});
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let (http, url, key, body) = (
            app.http.clone(),
            app.url("/v1/payments"),
            app.api_key.clone(),
            body.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let resp = http
                .post(url)
                .bearer_auth(key)
                .header("Idempotency-Key", "order-79")
                .json(&body)
                .send()
                .await
                .unwrap();
            kassa_testkit::read(resp).await
        }));
    }
    let mut ids = std::collections::BTreeSet::new();
    for t in tasks {
        let r = t.await.unwrap();
        match r.status {
            StatusCode::CREATED => {
                assert_eq!(r.body["status"], "captured", "{}", r.body);
                ids.insert(r.body["id"].as_str().unwrap().to_string());
            }
            StatusCode::CONFLICT => {
                assert_eq!(r.body["error"]["type"], "idempotency_error", "{}", r.body)
            }
            other => panic!("unexpected {other}: {}", r.body),
        }
    }
    assert_eq!(ids.len(), 1, "one payment: {ids:?}");
    assert_eq!(
        intents_of(&emu, 4400).await,
        1,
        "one PaymentIntent at Stripe"
    );
    let after = app
        .send(
            kassa_testkit::reqwest::Method::POST,
            "/v1/payments",
            Some(&body),
            &[("Idempotency-Key", "order-79")],
        )
        .await;
    assert_eq!(after.header("idempotent-replayed"), Some("true"));
    assert!(ids.contains(after.body["id"].as_str().unwrap()));

    // A new card, and a decline: each answered once, then replayed.
    for (number, amount, status) in [
        ("4242424242424242", 4500, StatusCode::CREATED),
        ("4000000000000002", 4600, StatusCode::PAYMENT_REQUIRED),
    ] {
        let body =
            json!({"acct_no": acct, "card": card(number), "amount": amount, "currency": "usd"});
        let key = format!("order-card-{amount}");
        let headers = [("Idempotency-Key", key.as_str())];
        let send = || {
            app.send(
                kassa_testkit::reqwest::Method::POST,
                "/v1/payments",
                Some(&body),
                &headers,
            )
        };
        let first = send().await;
        assert_eq!(first.status, status, "{}", first.body);
        assert_eq!(first.header("idempotent-replayed"), None);
        let again = send().await;
        assert_eq!(again.status, status);
        assert_eq!(again.header("idempotent-replayed"), Some("true"));
        assert_eq!(again.body, first.body);
        assert_eq!(intents_of(&emu, amount).await, 1, "{number}");
    }
}

/// A key whose payment was made but whose row is gone (forgotten after its retention) or was
/// released, used again for the same request: the payment made under it is the answer, never a
/// second charge nor a 409.
#[tokio::test]
async fn a_key_used_again_after_it_was_forgotten_or_released_finds_its_payment() {
    let (app, emu, _gw, acct) = setup().await;
    let pm = stored_card(&app, acct).await;
    let body = json!({"acct_no": acct, "payment_method_no": pm["payment_method_no"], "amount": 4300, "currency": "usd"});
    let key = [("Idempotency-Key", "order-78")];
    let pay = || {
        app.send(
            kassa_testkit::reqwest::Method::POST,
            "/v1/payments",
            Some(&body),
            &key,
        )
    };
    let first = pay().await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.body);
    // Forgotten: the next request with the key is a first attempt, and its payment id is taken.
    kassa_storage::testing::execute(&app.store, "DELETE FROM idempotency_keys")
        .await
        .unwrap();
    let again = pay().await;
    assert_eq!(again.body["id"], first.body["id"], "{}", again.body);
    assert_eq!(again.body["status"], first.body["status"]);
    // Released (as after an error): the retry looks for what the earlier attempt did.
    kassa_storage::testing::execute(
        &app.store,
        "UPDATE idempotency_keys SET state = 'released', response_status = NULL, response_body = NULL",
    )
    .await
    .unwrap();
    let resumed = pay().await;
    assert_eq!(resumed.body["id"], first.body["id"], "{}", resumed.body);
    assert_eq!(
        intents_of(&emu, 4300).await,
        1,
        "one PaymentIntent at Stripe"
    );
}

mod reconciler {
    use super::*;
    use kassa_api::service::reconcile::{run_once, Policy};
    use kassa_storage::testing::execute;

    const NOW: Policy = Policy {
        min_age_ms: 0,
        not_found_after_ms: 10 * 60_000,
    };

    /// The reconciler works on the app's database with the app's master key, as the one started
    /// by `serve` does.
    async fn state(app: &TestApp) -> kassa_api::AppState {
        app.state()
    }

    #[tokio::test]
    async fn an_answer_lost_after_stripe_charged_is_recovered_not_repeated() {
        let (app, emu, _gw, acct) = setup().await;
        let pm = app
            .post(
                &format!("/v1/accounts/{acct}/payment_methods"),
                &json!({"card": card("4242424242424242")}),
            )
            .await
            .body;
        let p = app.post("/v1/payments", &json!({"acct_no": acct, "payment_method_no": pm["payment_method_no"], "amount": 3100, "currency": "usd"})).await.body;
        let id = p["id"].as_str().unwrap();
        let txn = app.get(&format!("/v1/payments/{id}")).await.body["transactions"][0]["id"]
            .as_str()
            .unwrap()
            .to_string();
        // What a crash between Stripe's answer and our write leaves: the payment pending and busy,
        // and nothing known of the PaymentIntent.
        execute(&app.store, &format!("UPDATE payments SET status = 'pending', amount_authorized = 0, amount_captured = 0, processor_payment_id = NULL, auth_no = NULL, busy_txn = '{txn}' WHERE id = '{id}'")).await.unwrap();
        execute(
            &app.store,
            &format!("UPDATE payment_transactions SET status = 'pending' WHERE id = '{txn}'"),
        )
        .await
        .unwrap();
        assert_eq!(
            app.get(&format!("/v1/payments/{id}")).await.body["status"],
            "pending"
        );
        // While busy, nothing else may touch it.
        assert_eq!(
            app.post(&format!("/v1/payments/{id}/refunds"), &json!({}))
                .await
                .status,
            StatusCode::CONFLICT
        );

        let report = run_once(&state(&app).await, NOW).await.unwrap();
        assert_eq!(report.resolved, 1, "{report:?}");
        let after = app.get(&format!("/v1/payments/{id}")).await.body;
        assert_eq!(after["status"], "captured");
        assert_eq!(after["amount_captured"], 3100);
        assert_eq!(after["processor_payment_id"], p["processor_payment_id"]);
        assert_eq!(after["transactions"][0]["status"], "succeeded");
        let at_stripe = emu.get(SECRET_KEY, "/v1/payment_intents?limit=100").await;
        assert_eq!(
            at_stripe["data"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|x| x["amount"] == 3100)
                .count(),
            1,
            "charged once"
        );
    }

    #[tokio::test]
    async fn a_request_that_never_reached_stripe_ends_declined_only_after_the_wait() {
        let (app, _emu, gw, acct) = setup().await;
        let rec = kassa_storage::PaymentRecord {
            id: "pay_00000000000crashedbeforesend".into(),
            client_no: app.client_no,
            acct_no: acct,
            gateway_id: gw,
            status: "pending".into(),
            currency: "usd".into(),
            amount: 800,
            details: "{}".into(),
            ..Default::default()
        };
        let txn = kassa_storage::TransactionRecord {
            id: "txn_00000000000crashedbeforesend".into(),
            payment_id: rec.id.clone(),
            client_no: app.client_no,
            kind: "authorize".into(),
            amount: 800,
            ..Default::default()
        };
        app.store.insert_payment(&rec, &txn).await.unwrap();
        let report = run_once(&state(&app).await, NOW).await.unwrap();
        assert_eq!(
            report,
            kassa_api::service::reconcile::Report {
                resolved: 0,
                still_unknown: 1
            },
            "too early to call it"
        );
        assert_eq!(
            app.get(&format!("/v1/payments/{}", rec.id)).await.body["status"],
            "pending"
        );
        let report = run_once(
            &state(&app).await,
            Policy {
                min_age_ms: 0,
                not_found_after_ms: 0,
            },
        )
        .await
        .unwrap();
        assert_eq!(report.resolved, 1);
        let p = app.get(&format!("/v1/payments/{}", rec.id)).await.body;
        assert_eq!(p["status"], "declined");
        assert_eq!(p["decline"]["code"], "not_processed");
    }

    #[tokio::test]
    async fn a_capture_whose_answer_was_lost() {
        let (app, emu, _gw, acct) = setup().await;
        let pm = app
            .post(
                &format!("/v1/accounts/{acct}/payment_methods"),
                &json!({"card": card("4242424242424242")}),
            )
            .await
            .body;
        let p = app.post("/v1/payments", &json!({"acct_no": acct, "payment_method_no": pm["payment_method_no"], "amount": 5000, "currency": "usd", "capture": false})).await.body;
        let id = p["id"].as_str().unwrap();
        let rec = app.store.get_payment(app.client_no, id).await.unwrap();
        let txn = kassa_storage::TransactionRecord {
            id: "txn_00000000000capturelost00000".into(),
            payment_id: id.into(),
            client_no: app.client_no,
            kind: "capture".into(),
            amount: 2000,
            ..Default::default()
        };
        app.store
            .claim_payment(app.client_no, id, rec.version, &txn)
            .await
            .unwrap();
        // The capture reached Stripe; its answer did not reach us.
        let pi = p["processor_payment_id"].as_str().unwrap();
        let resp = kassa_testkit::reqwest::Client::new()
            .post(format!("{}/v1/payment_intents/{pi}/capture", emu.url))
            .bearer_auth(SECRET_KEY)
            .form(&[("amount_to_capture", "2000")])
            .send()
            .await
            .unwrap();
        assert!(resp.status().is_success());
        let report = run_once(&state(&app).await, NOW).await.unwrap();
        assert_eq!(report.resolved, 1, "{report:?}");
        let after = app.get(&format!("/v1/payments/{id}")).await.body;
        assert_eq!(after["status"], "partially_captured");
        assert_eq!(after["amount_captured"], 2000);
        // And released: a refund now goes through.
        assert_eq!(
            app.post(
                &format!("/v1/payments/{id}/refunds"),
                &json!({"amount": 500})
            )
            .await
            .body["status"],
            "partially_refunded"
        );
    }
}

mod on_the_wire {
    use super::*;

    async fn pi(emu: &Emulator, key: &str, p: &Value) -> Value {
        emu.get(
            key,
            &format!(
                "/v1/payment_intents/{}",
                p["processor_payment_id"].as_str().unwrap()
            ),
        )
        .await
    }

    #[tokio::test]
    async fn descriptor_priority_request_group_gateway() {
        let app = TestApp::spawn().await;
        let emu = Emulator::spawn().await;
        let (gw, group) = app
            .emulator_gateway(
                &emu,
                json!({"descriptor": "RUNCLUB", "descriptor_suffix": "GATEWAY"}),
            )
            .await;
        // The descriptor the operator entered is the one Stripe gave the account.
        let mut account = emu.emulator.settings(SECRET_KEY);
        account.statement_descriptor = "RUNCLUB".into();
        account.statement_descriptor_prefix = "RUNCLUB".into();
        emu.emulator.set_settings(SECRET_KEY, account);
        let acct = app.account("C-1", group).await;
        let pay = |extra: Value| {
            let mut b = json!({"acct_no": acct, "card": card("4242424242424242"), "amount": 1000, "currency": "usd"});
            if let (Some(m), Value::Object(e)) = (b.as_object_mut(), extra) {
                m.extend(e);
            }
            b
        };
        let p = app.post("/v1/payments", &pay(json!({}))).await.body;
        assert_eq!(p["descriptor"], "GATEWAY");
        assert_eq!(
            pi(&emu, SECRET_KEY, &p).await["statement_descriptor_suffix"],
            "GATEWAY"
        );
        app.patch(
            &format!("/v1/collection_groups/{group}"),
            &json!({"soft_descriptor": "GROUPSFX"}),
        )
        .await;
        let p = app.post("/v1/payments", &pay(json!({}))).await.body;
        assert_eq!(p["descriptor"], "GROUPSFX");
        let p = app
            .post(
                "/v1/payments",
                &pay(json!({"soft_descriptor": "REQUEST SUFFIX THAT IS FAR TOO LONG"})),
            )
            .await
            .body;
        assert_eq!(
            p["descriptor"], "REQUEST SUFFI",
            "cut to what fits after `RUNCLUB* ` in 22 characters"
        );
        let r = app
            .post("/v1/payments", &pay(json!({"soft_descriptor": "BAD*ONE"})))
            .await;
        assert_eq!(
            (r.status, r.param()),
            (StatusCode::BAD_REQUEST, Some("soft_descriptor"))
        );
        // The product name is appended when the gateway says so; nothing is sent with do_not_send_descriptor.
        app.patch(
            &format!("/v1/gateways/{gw}"),
            &json!({"send_product_as_suffix": true}),
        )
        .await;
        app.patch(
            &format!("/v1/collection_groups/{group}"),
            &json!({"soft_descriptor": null}),
        )
        .await;
        let p = app
            .post(
                "/v1/payments",
                &pay(json!({"products": [{"name": "Widget", "amount": 1000}]})),
            )
            .await
            .body;
        assert_eq!(
            p["descriptor"], "GATEWAY Widge",
            "13 characters fit after `RUNCLUB* `"
        );
        assert_eq!(
            pi(&emu, SECRET_KEY, &p).await["statement_descriptor_suffix"],
            "GATEWAY Widge"
        );
        app.patch(
            &format!("/v1/gateways/{gw}"),
            &json!({"do_not_send_descriptor": true}),
        )
        .await;
        let p = app
            .post("/v1/payments", &pay(json!({"soft_descriptor": "IGNORED"})))
            .await
            .body;
        assert_eq!(p["descriptor"], Value::Null);
        assert_eq!(
            pi(&emu, SECRET_KEY, &p).await["statement_descriptor_suffix"],
            Value::Null
        );
    }

    #[tokio::test]
    async fn level23_goes_with_the_payment() {
        let (app, emu, _gw, acct) = setup().await;
        let l23 = json!({"order_reference": "ORD-1001", "customer_reference": "CUST-9", "tax_amount": 80, "shipping_amount": 500, "shipping_to_zip": "10001",
            "line_items": [{"product_name": "Widget", "product_code": "W-1", "quantity": 2, "unit_cost": 1000}]});
        let r = app.post("/v1/payments", &json!({"acct_no": acct, "card": card("4242424242424242"), "amount": 2580, "currency": "usd", "level23": l23})).await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
        let at = pi(&emu, SECRET_KEY, &r.body).await;
        assert_eq!(at["payment_details"]["order_reference"], "ORD-1001", "{at}");
        assert_eq!(at["amount_details"]["tax"]["total_tax_amount"], 80);
        assert_eq!(at["amount_details"]["shipping"]["amount"], 500);
        // Arithmetic that does not add up is refused before Stripe, naming the field.
        let r = app.post("/v1/payments", &json!({"acct_no": acct, "card": card("4242424242424242"), "amount": 2500, "currency": "usd", "level23": l23})).await;
        assert_eq!(
            (r.status, r.param()),
            (StatusCode::BAD_REQUEST, Some("level23.line_items"))
        );
        // Products become line items when level23 has none.
        let r = app
            .post("/v1/payments", &json!({"acct_no": acct, "card": card("4242424242424242"), "amount": 1500, "currency": "usd",
                "products": [{"name": "Gadget", "amount": 500, "quantity": 3, "sku": "G-3"}], "level23": {"order_reference": "ORD-2"}}))
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    }

    #[tokio::test]
    async fn gateway_flags_change_what_is_sent() {
        let app = TestApp::spawn().await;
        let emu = Emulator::spawn().await;
        let (_gw, group) = app.emulator_gateway(&emu, json!({"disable_email": true, "disable_phone": true, "do_not_send_address": true, "send_product_name": true})).await;
        let acct = app.account("C-1", group).await;
        let pm = app
            .post(
                &format!("/v1/accounts/{acct}/payment_methods"),
                &json!({"card": card("4242424242424242")}),
            )
            .await
            .body;
        let cus_id = pm["token"]
            .as_str()
            .unwrap()
            .split(':')
            .nth(1)
            .unwrap()
            .to_string();
        let cus = emu
            .get(SECRET_KEY, &format!("/v1/customers/{cus_id}"))
            .await;
        assert_eq!(cus["email"], Value::Null, "{cus}");
        assert_eq!(cus["phone"], Value::Null);
        assert_eq!(cus["address"], Value::Null);
        assert_eq!(cus["name"], "Ada Lovelace");
        let p = app.post("/v1/payments", &json!({"acct_no": acct, "payment_method_no": pm["payment_method_no"], "amount": 1000, "currency": "usd", "products": [{"name": "Widget"}, {"name": "Gizmo"}]})).await.body;
        let at = pi(&emu, SECRET_KEY, &p).await;
        assert_eq!(at["receipt_email"], Value::Null);
        assert_eq!(at["description"], "Widget, Gizmo");
    }

    #[tokio::test]
    async fn receipts_go_unless_disabled() {
        let (app, emu, gw, acct) = setup().await;
        let p = app.post("/v1/payments", &json!({"acct_no": acct, "card": card("4242424242424242"), "amount": 1000, "currency": "usd"})).await.body;
        assert_eq!(
            pi(&emu, SECRET_KEY, &p).await["receipt_email"],
            "ada@example.com"
        );
        app.patch(
            &format!("/v1/gateways/{gw}"),
            &json!({"disable_email_receipt": true}),
        )
        .await;
        let p = app.post("/v1/payments", &json!({"acct_no": acct, "card": card("4242424242424242"), "amount": 1000, "currency": "usd"})).await.body;
        assert_eq!(pi(&emu, SECRET_KEY, &p).await["receipt_email"], Value::Null);
    }

    #[tokio::test]
    async fn connected_accounts_use_the_stripe_account_header() {
        let app = TestApp::spawn().await;
        let emu = Emulator::spawn().await;
        let (_gw, group) = app
            .emulator_gateway(
                &emu,
                json!({"connected_account": true, "mid_number": "acct_1032D82eZvKYlo2C"}),
            )
            .await;
        let acct = app.account("C-1", group).await;
        let p = app.post("/v1/payments", &json!({"acct_no": acct, "card": card("4242424242424242"), "amount": 1000, "currency": "usd"})).await.body;
        let id = p["processor_payment_id"].as_str().unwrap();
        // The PaymentIntent lives in the connected account, not the platform.
        let platform = emu
            .get(SECRET_KEY, &format!("/v1/payment_intents/{id}"))
            .await;
        assert_eq!(platform["error"]["code"], "resource_missing", "{platform}");
        let connected: Value = kassa_testkit::reqwest::Client::new()
            .get(format!("{}/v1/payment_intents/{id}", emu.url))
            .bearer_auth(SECRET_KEY)
            .header("Stripe-Account", "acct_1032D82eZvKYlo2C")
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(connected["status"], "succeeded", "{connected}");
    }

    #[tokio::test]
    async fn cit_and_mit_flags() {
        let (app, emu, _gw, acct) = setup().await;
        let first = app.post("/v1/payments", &json!({"acct_no": acct, "card": card("4242424242424242"), "store": true, "amount": 100, "currency": "usd"})).await.body;
        let at = pi(&emu, SECRET_KEY, &first).await;
        assert_eq!(at["setup_future_usage"], "off_session");
        assert_eq!(
            at["payment_method_options"]["card"]["setup_credential_usage"], "recurring",
            "{at}"
        );
        let pm_no = first["payment_method_no"].clone();
        for (model, usage) in [(2, "recurring"), (3, "unscheduled")] {
            let p = app.post("/v1/payments", &json!({"acct_no": acct, "payment_method_no": pm_no, "amount": 500, "currency": "usd", "recurring_processing_model_ind": model})).await.body;
            let at = pi(&emu, SECRET_KEY, &p).await;
            assert_eq!(
                at["payment_method_options"]["card"]["stored_credential_usage"], usage,
                "{at}"
            );
            assert_eq!(at["setup_future_usage"], Value::Null);
        }
        let p = app.post("/v1/payments", &json!({"acct_no": acct, "payment_method_no": pm_no, "amount": 500, "currency": "usd"})).await.body;
        assert_eq!(p["recurring_processing_model_ind"], 0);
        let at = pi(&emu, SECRET_KEY, &p).await;
        assert_eq!(
            at["payment_method_options"]["card"]["stored_credential_usage"],
            Value::Null
        );
    }

    #[tokio::test]
    async fn imported_cards_send_their_network_transaction_id_where_enabled() {
        let app = TestApp::spawn().await;
        let emu = Emulator::spawn().await;
        let (gw, group) = app
            .emulator_gateway(&emu, json!({"send_mit_exemption": true}))
            .await;
        emu.emulator.set_settings(
            SECRET_KEY,
            kassa_testkit::kassa_stripe_emulator::AccountSettings {
                mit_exemption: true,
                ..emu.emulator.settings(SECRET_KEY)
            },
        );
        let acct = app.account("C-1", group).await;
        let token = emu.outside_token(SECRET_KEY).await;
        let stored = app
            .post(
                &format!("/v1/accounts/{acct}/payment_methods"),
                &json!({"token": token, "initial_txn_id": "MCC123456789"}),
            )
            .await;
        assert_eq!(stored.status, StatusCode::CREATED, "{:?}", stored.body);
        let p = app.post("/v1/payments", &json!({"acct_no": acct, "payment_method_no": stored.body["payment_method_no"], "amount": 900, "currency": "usd", "recurring_processing_model_ind": 2})).await;
        assert_eq!(p.status, StatusCode::CREATED, "{:?}", p.body);
        assert_eq!(p.body["initial_auth_txn_id"], "MCC123456789");
        let at = pi(&emu, SECRET_KEY, &p.body).await;
        assert_eq!(
            at["payment_method_options"]["card"]["mit_exemption"]["network_transaction_id"],
            "MCC123456789",
            "{at}"
        );
        // Without the gateway flag it is not sent (Stripe would refuse the gated parameter).
        app.patch(
            &format!("/v1/gateways/{gw}"),
            &json!({"send_mit_exemption": false}),
        )
        .await;
        let p = app.post("/v1/payments", &json!({"acct_no": acct, "payment_method_no": stored.body["payment_method_no"], "amount": 901, "currency": "usd", "recurring_processing_model_ind": 2})).await;
        let at = pi(&emu, SECRET_KEY, &p.body).await;
        assert_eq!(
            at["payment_method_options"]["card"]["mit_exemption"],
            Value::Null
        );
    }

    #[tokio::test]
    async fn mit_needing_authentication_is_reported_as_such() {
        let (app, _emu, _gw, acct) = setup().await;
        let pm = app
            .post(
                &format!("/v1/accounts/{acct}/payment_methods"),
                &json!({"card": card("4000002760003184")}),
            )
            .await;
        assert_eq!(pm.status, StatusCode::CREATED, "{:?}", pm.body);
        let r = app.post("/v1/payments", &json!({"acct_no": acct, "payment_method_no": pm.body["payment_method_no"], "amount": 1000, "currency": "usd", "recurring_processing_model_ind": 2})).await;
        assert_eq!(r.status, StatusCode::PAYMENT_REQUIRED, "{:?}", r.body);
        assert_eq!(r.body["error"]["code"], "authentication_required");
        let p = app
            .get(&format!(
                "/v1/payments/{}",
                r.body["error"]["payment_id"].as_str().unwrap()
            ))
            .await
            .body;
        assert_eq!(p["status"], "declined");
        assert_eq!(p["decline"]["code"], "authentication_required");
    }

    #[tokio::test]
    async fn raw_card_data_refusal_tells_the_operator_the_fix() {
        let (app, emu, _gw, acct) = setup().await;
        emu.emulator.set_settings(
            SECRET_KEY,
            kassa_testkit::kassa_stripe_emulator::AccountSettings {
                raw_card_data: false,
                ..emu.emulator.settings(SECRET_KEY)
            },
        );
        let r = app
            .post(
                &format!("/v1/accounts/{acct}/payment_methods"),
                &json!({"card": card("4242424242424242")}),
            )
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", r.body);
        assert_eq!(r.code(), Some("raw_card_data_disabled"));
        let msg = r.body["error"]["message"].as_str().unwrap();
        assert!(
            msg.contains("Handle card information directly")
                && msg.contains("Settings > Integration"),
            "{msg}"
        );
    }

    #[tokio::test]
    async fn payments_belong_to_their_client() {
        let (app, _emu, _gw, acct) = setup().await;
        let p = app.post("/v1/payments", &json!({"acct_no": acct, "card": card("4242424242424242"), "amount": 1000, "currency": "usd", "capture": false})).await.body;
        let id = p["id"].as_str().unwrap();
        let (_, other) = app.new_client("Other").await;
        use kassa_testkit::reqwest::Method;
        for (m, path) in [
            (Method::GET, format!("/v1/payments/{id}")),
            (Method::POST, format!("/v1/payments/{id}/capture")),
            (Method::POST, format!("/v1/payments/{id}/void")),
        ] {
            assert_eq!(
                app.send_as(&other, m, &path, Some(&json!({})), &[])
                    .await
                    .status,
                StatusCode::NOT_FOUND,
                "{path}"
            );
        }
        let r = app.send_as(&other, Method::POST, "/v1/payments", Some(&json!({"acct_no": acct, "card": card("4242424242424242"), "amount": 1000, "currency": "usd"})), &[]).await;
        assert_eq!(r.param(), Some("acct_no"));
        assert_eq!(
            app.send_as(&other, Method::GET, "/v1/payments", None, &[])
                .await
                .body["data"],
            json!([])
        );
    }
}

/// Every Stripe test card through Kassa's API: the outcome Kassa records for each.
#[tokio::test]
async fn test_cards_through_kassa() {
    let (app, _emu, _gw, acct) = setup().await;
    // (number, `captured` or the decline code)
    let cases = [
        ("4242424242424242", "captured"),
        ("4000056655665556", "captured"),
        ("5555555555554444", "captured"),
        ("2223003122003222", "captured"),
        ("5200828282828210", "captured"),
        ("5105105105105100", "captured"),
        ("378282246310005", "captured"),
        ("6011111111111117", "captured"),
        ("3056930009020004", "captured"),
        ("36227206271667", "captured"),
        ("3566002020360505", "captured"),
        ("6200000000000005", "captured"),
        ("4000000000000002", "generic_decline"),
        ("4000000000009995", "insufficient_funds"),
        ("4000000000009987", "lost_card"),
        ("4000000000009979", "stolen_card"),
        ("4000000000000069", "expired_card"),
        ("4000000000000127", "incorrect_cvc"),
        ("4000000000000119", "processing_error"),
        ("4000000000006975", "card_velocity_exceeded"),
        ("4100000000000019", "fraudulent"),
        ("4000000000004954", "fraudulent"),
    ];
    for (number, expect) in cases {
        let r = app
            .post(
                "/v1/payments",
                &json!({"acct_no": acct, "card": card(number), "amount": 1234, "currency": "usd"}),
            )
            .await;
        if expect == "captured" {
            assert_eq!(r.status, StatusCode::CREATED, "{number}: {:?}", r.body);
            assert_eq!(r.body["status"], "captured", "{number}");
            assert_eq!(r.body["outcome"]["type"], "authorized", "{number}");
        } else {
            assert_eq!(
                r.status,
                StatusCode::PAYMENT_REQUIRED,
                "{number}: {:?}",
                r.body
            );
            let code = r.body["error"]["decline_code"]
                .as_str()
                .or(r.body["error"]["code"].as_str())
                .unwrap_or("");
            assert_eq!(code, expect, "{number}: {:?}", r.body);
            let id = r.body["error"]["payment_id"].as_str().unwrap();
            assert_eq!(
                app.get(&format!("/v1/payments/{id}")).await.body["status"],
                "declined",
                "{number}"
            );
        }
    }
    // Radar's elevated-risk card goes through, flagged for review.
    let r = app.post("/v1/payments", &json!({"acct_no": acct, "card": card("4000000000009235"), "amount": 1234, "currency": "usd"})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    assert_eq!(r.body["outcome"]["type"], "manual_review");
    assert_eq!(r.body["outcome"]["risk_level"], "elevated");
    // A card that requires 3-D Secure waits for the shopper.
    let r = app.post("/v1/payments", &json!({"acct_no": acct, "card": card("4000000000003220"), "amount": 1234, "currency": "usd"})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    assert_eq!(r.body["status"], "requires_action");
    // Stored cards keep their brand.
    for (number, brand) in [
        ("378282246310005", "amex"),
        ("3566002020360505", "jcb"),
        ("6200000000000005", "unionpay"),
        ("36227206271667", "diners"),
    ] {
        let pm = app
            .post(
                &format!("/v1/accounts/{acct}/payment_methods"),
                &json!({"card": card(number)}),
            )
            .await;
        assert_eq!(pm.body["brand"], brand, "{number}: {:?}", pm.body);
    }
}

/// The monthly cap is hard, and the usage endpoint shows where the month stands.
#[tokio::test]
async fn monthly_cap_is_never_exceeded() {
    let app = TestApp::spawn().await;
    let emu = Emulator::spawn().await;
    let (gw, group) = app
        .emulator_gateway(
            &emu,
            json!({"limits": {"monthly_cap": 10_000, "include_refunds": true}}),
        )
        .await;
    let acct = app.account("C-1", group).await;
    let pm = app
        .post(
            &format!("/v1/accounts/{acct}/payment_methods"),
            &json!({"card": card("4242424242424242")}),
        )
        .await
        .body;
    // Twelve payments of 1,000 at once against a 10,000 cap: exactly ten go through.
    let mut tasks = Vec::new();
    for _ in 0..12 {
        let http = app.http.clone();
        let url = app.url("/v1/payments");
        let key = app.api_key.clone();
        let body = json!({"acct_no": acct, "payment_method_no": pm["payment_method_no"], "amount": 1000, "currency": "usd"});
        tasks.push(tokio::spawn(async move {
            http.post(url)
                .bearer_auth(key)
                .json(&body)
                .send()
                .await
                .unwrap()
                .status()
        }));
    }
    let mut ok = 0;
    let mut capped = 0;
    for t in tasks {
        match t.await.unwrap() {
            StatusCode::CREATED => ok += 1,
            StatusCode::UNPROCESSABLE_ENTITY => capped += 1,
            other => panic!("{other}"),
        }
    }
    assert_eq!((ok, capped), (10, 2));
    let usage = app.get(&format!("/v1/gateways/{gw}/usage")).await.body;
    assert_eq!(
        (
            usage["gross"].as_i64(),
            usage["headroom"].as_i64(),
            usage["transactions"].as_i64()
        ),
        (Some(10_000), Some(0), Some(10)),
        "{usage}"
    );
    let r = app.post("/v1/payments", &json!({"acct_no": acct, "payment_method_no": pm["payment_method_no"], "amount": 1, "currency": "usd"})).await;
    assert_eq!(r.code(), Some("gateway_cap_reached"));
    // A refund frees room under a net cap; a decline never used any.
    let list = app.get("/v1/payments?limit=1").await.body;
    let id = list["data"][0]["id"].as_str().unwrap().to_string();
    app.post(
        &format!("/v1/payments/{id}/refunds"),
        &json!({"amount": 500}),
    )
    .await;
    let usage = app.get(&format!("/v1/gateways/{gw}/usage")).await.body;
    assert_eq!(
        (usage["refunded"].as_i64(), usage["headroom"].as_i64()),
        (Some(500), Some(500))
    );
    let declined = app.post("/v1/payments", &json!({"acct_no": acct, "card": card("4000000000000002"), "amount": 400, "currency": "usd"})).await;
    assert_eq!(declined.status, StatusCode::PAYMENT_REQUIRED);
    assert_eq!(
        app.get(&format!("/v1/gateways/{gw}/usage")).await.body["headroom"],
        500
    );
}

/// The same card, amount and gateway within the window is refused before Stripe, unless forced.
#[tokio::test]
async fn duplicate_transactions_are_refused_unless_forced() {
    let app = TestApp::spawn().await;
    let emu = Emulator::spawn().await;
    let (_gw, group) = app
        .emulator_gateway(&emu, json!({"duplicate_window_minutes": 10}))
        .await;
    let acct = app.account("C-1", group).await;
    let pm = app
        .post(
            &format!("/v1/accounts/{acct}/payment_methods"),
            &json!({"card": card("4242424242424242")}),
        )
        .await
        .body;
    let pay = |extra: Value| {
        let mut b = json!({"acct_no": acct, "payment_method_no": pm["payment_method_no"], "amount": 1999, "currency": "usd"});
        if let (Some(m), Value::Object(e)) = (b.as_object_mut(), extra) {
            m.extend(e);
        }
        b
    };
    let first = app.post("/v1/payments", &pay(json!({}))).await;
    assert_eq!(first.status, StatusCode::CREATED);
    let again = app.post("/v1/payments", &pay(json!({}))).await;
    assert_eq!(
        (again.status, again.code()),
        (StatusCode::CONFLICT, Some("duplicate_transaction"))
    );
    assert!(again.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains(first.body["id"].as_str().unwrap()));
    // The same card as a new card number (same fingerprint at Stripe) is a duplicate too.
    let as_new = app.post("/v1/payments", &json!({"acct_no": acct, "card": card("4242424242424242"), "amount": 1999, "currency": "usd"})).await;
    assert_eq!(
        as_new.code(),
        Some("duplicate_transaction"),
        "{:?}",
        as_new.body
    );
    // A different amount (the seed's 50-cent difference for cycle 2), or force, goes through.
    assert_eq!(
        app.post("/v1/payments", &pay(json!({"amount": 2049})))
            .await
            .status,
        StatusCode::CREATED
    );
    assert_eq!(
        app.post("/v1/payments", &pay(json!({"force": true})))
            .await
            .status,
        StatusCode::CREATED
    );
    let intents = emu.get(SECRET_KEY, "/v1/payment_intents?limit=100").await;
    assert_eq!(
        intents["data"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["amount"] == 1999)
            .count(),
        2,
        "the refused ones never reached Stripe"
    );
}
