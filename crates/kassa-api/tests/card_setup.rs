//! Saving a card with 3-D Secure (`attempt_3d_secure` on `POST …/payment_methods`, the seed's
//! update_payment_method): a Stripe SetupIntent in the same three steps as a payment — end to end
//! against the Stripe emulator.

use kassa_testkit::{Emulator, StatusCode, TestApp, SECRET_KEY};
use serde_json::{json, Value};

const TERMINATION: &str = "https://shop.example/card-saved";

fn card(number: &str) -> Value {
    json!({"number": number, "exp_month": 12, "exp_year": 2034, "cvc": "123"})
}

async fn setup(gateway: Value) -> (TestApp, Emulator, i64) {
    let app = TestApp::spawn().await;
    let emu = Emulator::spawn().await;
    let (_gw, group) = app.emulator_gateway(&emu, gateway).await;
    let acct = app.account("C-1", group).await;
    (app, emu, acct)
}

async fn save(app: &TestApp, acct: i64, number: &str) -> kassa_testkit::Reply {
    app.post(
        &format!("/v1/accounts/{acct}/payment_methods"),
        &json!({"card": card(number), "attempt_3d_secure": true}),
    )
    .await
}

/// The SetupIntent behind a challenge, from the issuer URL (`…/_emulator/3ds/{seti}?…`).
fn seti_of(redirect: &str) -> String {
    let tail = redirect.split("/_emulator/3ds/").nth(1).unwrap();
    tail.split('?').next().unwrap().to_string()
}

async fn challenge(emu: &Emulator, seti: &str, outcome: &str) {
    let r = kassa_testkit::reqwest::Client::new()
        .post(format!(
            "{}/_emulator/setup_intents/{seti}/authenticate",
            emu.url
        ))
        .bearer_auth(SECRET_KEY)
        .form(&[("outcome", outcome)])
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
}

/// Follows Stripe's redirect back to Kassa, as the shopper's browser would; returns Location.
async fn come_back(return_url: &str) -> String {
    let client = kassa_testkit::reqwest::Client::builder()
        .redirect(kassa_testkit::reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let r = client.get(return_url).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    r.headers()["location"].to_str().unwrap().to_string()
}

async fn pay(app: &TestApp, acct: i64, pm_no: i64, model: i64) -> kassa_testkit::Reply {
    app.post(
        "/v1/payments",
        &json!({"acct_no": acct, "payment_method_no": pm_no, "amount": 1500, "currency": "usd",
                "recurring_processing_model_ind": model}),
    )
    .await
}

#[tokio::test]
async fn a_card_saved_through_a_challenge_in_three_steps_then_rebills_off_session() {
    let (app, emu, acct) = setup(json!({"three_ds": {"termination_url": TERMINATION}})).await;
    // Step 1: the card asks for authentication when it is set up (4000002500003155).
    let r = save(&app, acct, "4000002500003155").await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    assert_eq!(r.body["status"], "requires_action");
    assert_eq!(r.body["three_ds"]["outcome"], "challenge_required");
    assert!(r.body["three_ds"].get("termination_url").is_none());
    let pm_no = r.body["payment_method_no"].as_i64().unwrap();
    let redirect = r.body["redirect_issuer_url"].as_str().unwrap().to_string();
    assert!(redirect.starts_with(&emu.url), "{redirect}");
    let seti = seti_of(&redirect);
    let at = emu
        .get(SECRET_KEY, &format!("/v1/setup_intents/{seti}"))
        .await;
    assert_eq!(at["usage"], "off_session");
    assert_eq!(
        at["payment_method_options"]["card"]["request_three_d_secure"],
        "any"
    );
    let return_url = at["next_action"]["redirect_to_url"]["return_url"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        return_url.starts_with(&app.url("/3ds/return/setup/pmset_")),
        "{return_url}"
    );
    // Not chargeable while the shopper has not authenticated; finishing early is refused.
    let early = pay(&app, acct, pm_no, 0).await;
    assert_eq!(
        early.code(),
        Some("payment_method_not_ready"),
        "{:?}",
        early.body
    );
    let early = app
        .post(
            &format!("/v1/accounts/{acct}/payment_methods/{pm_no}/authorize_3ds"),
            &json!({}),
        )
        .await;
    assert_eq!(
        (early.status, early.code()),
        (StatusCode::CONFLICT, Some("authentication_incomplete"))
    );
    // Step 2: the shopper authenticates; Stripe sends them back; Kassa sends them on.
    challenge(&emu, &seti, "success").await;
    assert_eq!(
        come_back(&return_url).await,
        format!("{TERMINATION}?acct_no={acct}&payment_method_no={pm_no}&three_ds=authenticated")
    );
    // Step 3.
    let done = app
        .post(
            &format!("/v1/accounts/{acct}/payment_methods/{pm_no}/authorize_3ds"),
            &json!({}),
        )
        .await;
    assert_eq!(done.status, StatusCode::OK, "{:?}", done.body);
    assert_eq!(done.body["status"], "active");
    assert_eq!(done.body["three_ds"]["outcome"], "authenticated");
    assert_eq!(done.body["three_ds"]["authentication_flow"], "challenge");
    assert_eq!(done.body["three_ds"]["version"], "2.2.0");
    assert!(done.body["redirect_issuer_url"].is_null());
    // Set up for off-session use: a merchant-initiated rebill goes through with no shopper.
    let mit = pay(&app, acct, pm_no, 2).await;
    assert_eq!(mit.status, StatusCode::CREATED, "{:?}", mit.body);
    assert_eq!(mit.body["status"], "captured");
}

#[tokio::test]
async fn without_the_challenge_the_same_card_cannot_be_rebilled() {
    let (app, _emu, acct) = setup(json!({"three_ds": {"termination_url": TERMINATION}})).await;
    let r = app
        .post(
            &format!("/v1/accounts/{acct}/payment_methods"),
            &json!({"card": card("4000002500003155")}),
        )
        .await;
    assert_eq!(r.body["status"], "active");
    assert!(r.body["three_ds"].is_null());
    let pm_no = r.body["payment_method_no"].as_i64().unwrap();
    let mit = pay(&app, acct, pm_no, 2).await;
    assert_eq!(mit.status, StatusCode::PAYMENT_REQUIRED, "{:?}", mit.body);
    assert_eq!(mit.code(), Some("authentication_required"));
}

#[tokio::test]
async fn a_failed_challenge_leaves_a_card_that_is_never_charged() {
    let (app, emu, acct) = setup(json!({"three_ds": {"termination_url": TERMINATION}})).await;
    let r = save(&app, acct, "4000000000003220").await;
    let pm_no = r.body["payment_method_no"].as_i64().unwrap();
    let seti = seti_of(r.body["redirect_issuer_url"].as_str().unwrap());
    challenge(&emu, &seti, "failure").await;
    let done = app
        .post(
            &format!("/v1/accounts/{acct}/payment_methods/{pm_no}/authorize_3ds"),
            &json!({}),
        )
        .await;
    assert_eq!(done.status, StatusCode::PAYMENT_REQUIRED, "{:?}", done.body);
    assert_eq!(done.code(), Some("setup_intent_authentication_failure"));
    let pm = app
        .get(&format!("/v1/accounts/{acct}/payment_methods/{pm_no}"))
        .await;
    assert_eq!(pm.body["status"], "authentication_failed");
    assert_eq!(pm.body["three_ds"]["outcome"], "failed");
    let charge = pay(&app, acct, pm_no, 0).await;
    assert_eq!(charge.code(), Some("payment_method_not_ready"));
}

#[tokio::test]
async fn cards_not_enrolled_or_frictionless_are_active_at_once() {
    let (app, _emu, acct) = setup(json!({"three_ds": {"termination_url": TERMINATION}})).await;
    // Not enrolled: no challenge, a regular save (the seed: steps 2 and 3 are skipped).
    let r = save(&app, acct, "4242424242424242").await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    assert_eq!(r.body["status"], "active");
    assert_eq!(r.body["three_ds"]["outcome"], "not_performed");
    assert!(r.body["redirect_issuer_url"].is_null());
    // 3DS supported, not required: frictionless authentication.
    let r = save(&app, acct, "4000000000003055").await;
    assert_eq!(r.body["status"], "active", "{:?}", r.body);
    assert_eq!(r.body["three_ds"]["outcome"], "authenticated");
    assert_eq!(r.body["three_ds"]["authentication_flow"], "frictionless");
}

#[tokio::test]
async fn the_3ds1_card_records_version_1() {
    let (app, emu, acct) = setup(json!({"three_ds": {"termination_url": TERMINATION}})).await;
    let r = save(&app, acct, "4000000000003063").await;
    assert_eq!(r.body["status"], "requires_action", "{:?}", r.body);
    let pm_no = r.body["payment_method_no"].as_i64().unwrap();
    challenge(
        &emu,
        &seti_of(r.body["redirect_issuer_url"].as_str().unwrap()),
        "success",
    )
    .await;
    let done = app
        .post(
            &format!("/v1/accounts/{acct}/payment_methods/{pm_no}/authorize_3ds"),
            &json!({}),
        )
        .await;
    assert_eq!(done.body["three_ds"]["version"], "1.0.2", "{:?}", done.body);
}

#[tokio::test]
async fn refused_setups_store_nothing() {
    // No termination URL at the group or the gateway: a validation error, as the seed says.
    let (app, emu, acct) = setup(json!({})).await;
    let r = save(&app, acct, "4000000000003220").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.param(), Some("three_ds.termination_url"));
    let none = emu.get(SECRET_KEY, "/v1/setup_intents").await;
    assert_eq!(none["data"], json!([]));
    // A declined card: the setup fails at Stripe and no card is kept.
    let (app, _emu, acct) = setup(json!({"three_ds": {"termination_url": TERMINATION}})).await;
    let r = save(&app, acct, "4000000000009995").await;
    assert_eq!(r.status, StatusCode::PAYMENT_REQUIRED, "{:?}", r.body);
    assert_eq!(r.body["error"]["decline_code"], "insufficient_funds");
    let list = app
        .get(&format!("/v1/accounts/{acct}/payment_methods"))
        .await;
    assert_eq!(list.body["data"], json!([]));
    // Only a new card is authenticated when saved.
    let r = app
        .post(
            &format!("/v1/accounts/{acct}/payment_methods"),
            &json!({"token": "pm_x:cus_y", "attempt_3d_secure": true}),
        )
        .await;
    assert_eq!(r.param(), Some("attempt_3d_secure"));
    // A card saved without 3-D Secure has nothing to authorize.
    let plain = app
        .post(
            &format!("/v1/accounts/{acct}/payment_methods"),
            &json!({"card": card("4242424242424242")}),
        )
        .await;
    let pm_no = plain.body["payment_method_no"].as_i64().unwrap();
    let r = app
        .post(
            &format!("/v1/accounts/{acct}/payment_methods/{pm_no}/authorize_3ds"),
            &json!({}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
}

/// The shopper never comes back and the merchant never finishes: Stripe's `setup_intent.*`
/// event settles the card all the same.
#[tokio::test]
async fn the_setup_intent_event_settles_the_card() {
    let app = TestApp::spawn().await;
    let emu = Emulator::spawn().await;
    let (gw, group) = app
        .emulator_gateway(&emu, json!({"three_ds": {"termination_url": TERMINATION}}))
        .await;
    let acct = app.account("C-1", group).await;
    kassa_api::service::webhooks::register(&app.state(), gw, None)
        .await
        .unwrap();
    let r = save(&app, acct, "4000000000003220").await;
    assert_eq!(r.body["status"], "requires_action");
    let pm_no = r.body["payment_method_no"].as_i64().unwrap();
    challenge(
        &emu,
        &seti_of(r.body["redirect_issuer_url"].as_str().unwrap()),
        "success",
    )
    .await;
    let mut pm = Value::Null;
    for _ in 0..100 {
        pm = app
            .get(&format!("/v1/accounts/{acct}/payment_methods/{pm_no}"))
            .await
            .body;
        if pm["status"] == "active" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(30)).await;
    }
    assert_eq!(pm["status"], "active", "{pm}");
    assert_eq!(pm["three_ds"]["outcome"], "authenticated");
    // The event is marked applied just after its effect is written: wait for that too.
    let mut events = Value::Null;
    let mut applied = false;
    for _ in 0..100 {
        events = app.get("/v1/webhook_events?limit=100").await.body;
        applied = events["data"].as_array().is_some_and(|a| {
            a.iter()
                .any(|e| e["event_type"] == "setup_intent.succeeded" && e["status"] == "applied")
        });
        if applied {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(30)).await;
    }
    assert!(applied, "{events}");
}
