//! The demo's browser pages: the checkout page that shows how a merchant's page obtains a Radar
//! session, and the payment it leads to, end to end against the Stripe emulator.

use kassa_testkit::{Emulator, StatusCode, TestApp, SECRET_KEY};
use serde_json::json;

#[tokio::test]
async fn checkout_page_explains_radar_sessions() {
    let app = TestApp::spawn().await;
    let r = kassa_testkit::reqwest::get(app.url("/demo/checkout"))
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let ct = r.headers()["content-type"].to_str().unwrap().to_string();
    assert!(ct.starts_with("text/html"), "{ct}");
    let page = r.text().await.unwrap();
    for needle in [
        "<html lang=\"en\">",
        "name=\"viewport\"",
        "stripe.createRadarSession()",
        "Stripe.js cannot be reached from this machine",
        "rse_demo_",
        "\"radar_session\"",
        "POST /v1/payments",
        "send_radar_sessions",
        "public_key",
        "<label for=\"radar-session\">",
        "$KASSA_API_KEY",
        "ACCT_NO",
    ] {
        assert!(page.contains(needle), "page lacks {needle:?}");
    }
    // Self-contained: no external scripts, styles or fonts.
    assert!(!page.contains("<script src"), "external script");
    assert!(!page.contains("<link"), "external stylesheet or font");
    assert!(!page.contains("@import"), "external stylesheet or font");
}

#[tokio::test]
async fn a_stand_in_radar_session_goes_through_against_the_emulator() {
    let app = TestApp::spawn().await;
    let emu = Emulator::spawn().await;
    let (_gw, group) = app
        .emulator_gateway(
            &emu,
            json!({"send_radar_sessions": true, "public_key": "pk_test_TYooMQauvdEDq54NiTphI7jx"}),
        )
        .await;
    let acct = app.account("C-1", group).await;
    // What the page's script makes: rse_demo_ and 24 hex digits.
    let session = "rse_demo_0123456789abcdef01234567";
    let r = app
        .post(
            "/v1/payments",
            &json!({"acct_no": acct, "amount": 1999, "currency": "usd", "radar_session": session,
                "card": {"number": "4242424242424242", "exp_month": 12, "exp_year": 2030, "cvc": "123"}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    assert_eq!(r.body["status"], "captured", "{:?}", r.body);
    let pi = r.body["processor_payment_id"]
        .as_str()
        .expect("processor_payment_id");
    let at = emu
        .get(SECRET_KEY, &format!("/v1/payment_intents/{pi}"))
        .await;
    assert_eq!(at["status"], "succeeded", "{at:?}");
}
