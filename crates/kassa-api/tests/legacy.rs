//! Stripe V1 (legacy) gateways keep working the legacy way: the Charges API with the card's data.

use kassa_testkit::{Emulator, StatusCode, TestApp, SECRET_KEY};
use serde_json::{json, Value};

fn card(n: &str) -> Value {
    json!({"number": n, "exp_month": 12, "exp_year": 2034, "cvc": "123"})
}

async fn setup(create_customer: bool) -> (TestApp, Emulator, i64) {
    let app = TestApp::spawn().await;
    let emu = Emulator::spawn().await;
    let (_gw, group) = app
        .emulator_gateway(&emu, json!({"type": "stripe_v1", "legacy_import": true, "create_customer": create_customer, "title": "Old V1"}))
        .await;
    let acct = app.account("C-1", group).await;
    (app, emu, acct)
}

#[tokio::test]
async fn charges_with_card_data() {
    let (app, emu, acct) = setup(true).await;
    let p = app.post("/v1/payments", &json!({"acct_no": acct, "card": card("4242424242424242"), "amount": 2500, "currency": "usd"})).await;
    assert_eq!(p.status, StatusCode::CREATED, "{:?}", p.body);
    assert_eq!(p.body["status"], "captured");
    let ch = p.body["processor_payment_id"].as_str().unwrap();
    assert!(
        ch.starts_with("ch_"),
        "a legacy charge, not a PaymentIntent: {ch}"
    );
    let at = emu.get(SECRET_KEY, &format!("/v1/charges/{ch}")).await;
    assert_eq!(
        (at["amount"].as_i64(), at["captured"].as_bool()),
        (Some(2500), Some(true))
    );
    assert!(
        at["customer"]
            .as_str()
            .is_some_and(|c| c.starts_with("cus_")),
        "create_customer made a Stripe customer: {at}"
    );
    assert_eq!(at["metadata"]["kassa_payment"], p.body["id"]);

    // Authorize, capture part, refund, on the same legacy charge.
    let a = app.post("/v1/payments", &json!({"acct_no": acct, "card": card("5555555555554444"), "amount": 5000, "currency": "usd", "capture": false})).await.body;
    assert_eq!(a["status"], "authorized");
    let id = a["id"].as_str().unwrap();
    assert_eq!(
        app.post(
            &format!("/v1/payments/{id}/capture"),
            &json!({"amount": 4000})
        )
        .await
        .body["status"],
        "partially_captured"
    );
    assert_eq!(
        app.post(
            &format!("/v1/payments/{id}/refunds"),
            &json!({"amount": 1000})
        )
        .await
        .body["status"],
        "partially_refunded"
    );
    let at = emu
        .get(
            SECRET_KEY,
            &format!(
                "/v1/charges/{}",
                a["processor_payment_id"].as_str().unwrap()
            ),
        )
        .await;
    assert_eq!(
        (
            at["amount_captured"].as_i64(),
            at["amount_refunded"].as_i64()
        ),
        (Some(4000), Some(1000)),
        "{at}"
    );
    // A void releases an uncaptured charge.
    let v = app.post("/v1/payments", &json!({"acct_no": acct, "card": card("4242424242424242"), "amount": 700, "currency": "usd", "capture": false})).await.body;
    let voided = app
        .post(
            &format!("/v1/payments/{}/void", v["id"].as_str().unwrap()),
            &json!({}),
        )
        .await;
    assert_eq!(voided.body["status"], "voided", "{:?}", voided.body);
}

#[tokio::test]
async fn declines_and_the_raw_card_data_setting() {
    let (app, emu, acct) = setup(false).await;
    let d = app.post("/v1/payments", &json!({"acct_no": acct, "card": card("4000000000009995"), "amount": 700, "currency": "usd"})).await;
    assert_eq!(d.status, StatusCode::PAYMENT_REQUIRED, "{:?}", d.body);
    assert_eq!(d.body["error"]["decline_code"], "insufficient_funds");
    emu.emulator.set_settings(
        SECRET_KEY,
        kassa_testkit::kassa_stripe_emulator::AccountSettings {
            raw_card_data: false,
            ..emu.emulator.settings(SECRET_KEY)
        },
    );
    let r = app.post("/v1/payments", &json!({"acct_no": acct, "card": card("4242424242424242"), "amount": 700, "currency": "usd"})).await;
    assert_eq!(
        (r.status, r.code()),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("raw_card_data_disabled")
        ),
        "{:?}",
        r.body
    );
    assert!(r.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("Handle card information directly"));
    let last = app.get("/v1/payments?limit=1").await.body;
    assert_eq!(
        last["data"][0]["status"], "declined",
        "the attempt is recorded"
    );
    assert_eq!(last["data"][0]["decline"]["code"], "raw_card_data_disabled");
}
