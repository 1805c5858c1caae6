//! 3-D Secure in three steps, Radar fraud scoring and its account status changes, the fraud-score
//! call, Radar sessions and one-click upsells — end to end against the Stripe emulator.

use kassa_testkit::{Emulator, StatusCode, TestApp, SECRET_KEY};
use serde_json::{json, Value};

fn card(number: &str) -> Value {
    json!({"number": number, "exp_month": 12, "exp_year": 2034, "cvc": "123"})
}

const TERMINATION: &str = "https://shop.example/3ds/done";

async fn setup(gateway: Value) -> (TestApp, Emulator, i64, i64) {
    let app = TestApp::spawn().await;
    let emu = Emulator::spawn().await;
    let (gw, group) = app.emulator_gateway(&emu, gateway).await;
    let acct = app.account("C-1", group).await;
    (app, emu, gw, acct)
}

async fn challenge(emu: &Emulator, pi: &str, outcome: &str) {
    let r = kassa_testkit::reqwest::Client::new()
        .post(format!(
            "{}/_emulator/payment_intents/{pi}/authenticate",
            emu.url
        ))
        .bearer_auth(SECRET_KEY)
        .form(&[("outcome", outcome)])
        .send()
        .await
        .unwrap();
    assert!(
        r.status().is_success(),
        "{}",
        r.text().await.unwrap_or_default()
    );
}

/// Follows Stripe's redirect back to Kassa, as the shopper's browser would; returns Location.
async fn come_back(app: &TestApp, payment_id: &str) -> String {
    let client = kassa_testkit::reqwest::Client::builder()
        .redirect(kassa_testkit::reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let r = client
        .get(app.url(&format!("/3ds/return/{payment_id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    r.headers()["location"].to_str().unwrap().to_string()
}

#[tokio::test]
async fn challenge_success_in_three_steps() {
    let (app, emu, _gw, acct) = setup(json!({"three_ds": {"termination_url": TERMINATION}})).await;
    // Step 1.
    let r = app.post("/v1/payments", &json!({"acct_no": acct, "card": card("4000000000003220"), "amount": 4900, "currency": "usd", "attempt_3d_secure": true})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    assert_eq!(r.body["status"], "requires_action");
    let id = r.body["id"].as_str().unwrap().to_string();
    let pi = r.body["processor_payment_id"].as_str().unwrap().to_string();
    let redirect = r.body["redirect_issuer_url"]
        .as_str()
        .expect("redirect_issuer_url");
    assert!(redirect.starts_with(&emu.url), "{redirect}");
    let at = emu
        .get(SECRET_KEY, &format!("/v1/payment_intents/{pi}"))
        .await;
    assert_eq!(
        at["payment_method_options"]["card"]["request_three_d_secure"],
        "any"
    );
    assert_eq!(
        at["next_action"]["redirect_to_url"]["return_url"],
        app.url(&format!("/3ds/return/{id}"))
    );
    // Finishing before the shopper did is refused, and changes nothing.
    let early = app
        .post(&format!("/v1/payments/{id}/authorize_3ds"), &json!({}))
        .await;
    assert_eq!(
        (early.status, early.code()),
        (StatusCode::CONFLICT, Some("authentication_incomplete"))
    );
    // Step 2: the shopper authenticates; Stripe sends them back; Kassa sends them on.
    challenge(&emu, &pi, "success").await;
    let location = come_back(&app, &id).await;
    assert_eq!(
        location,
        format!("{TERMINATION}?payment_id={id}&three_ds=authenticated")
    );
    // Step 3.
    let done = app
        .post(&format!("/v1/payments/{id}/authorize_3ds"), &json!({}))
        .await;
    assert_eq!(done.status, StatusCode::OK, "{:?}", done.body);
    assert_eq!(done.body["status"], "captured");
    assert_eq!(done.body["three_ds"]["authentication_flow"], "challenge");
    assert_eq!(done.body["three_ds"]["result"], "authenticated");
    assert!(done.body["three_ds"]["version"]
        .as_str()
        .unwrap()
        .starts_with('2'));
    let kinds: Vec<&str> = done.body["transactions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, vec!["authorize", "authenticate", "authenticate"]);
}

#[tokio::test]
async fn challenge_failure_declines() {
    let (app, emu, _gw, acct) = setup(json!({"three_ds": {"termination_url": TERMINATION}})).await;
    let r = app.post("/v1/payments", &json!({"acct_no": acct, "card": card("4000000000003220"), "amount": 4900, "currency": "usd", "attempt_3d_secure": true, "capture": false})).await;
    let id = r.body["id"].as_str().unwrap().to_string();
    challenge(
        &emu,
        r.body["processor_payment_id"].as_str().unwrap(),
        "failure",
    )
    .await;
    assert!(come_back(&app, &id).await.ends_with("&three_ds=failed"));
    let done = app
        .post(&format!("/v1/payments/{id}/authorize_3ds"), &json!({}))
        .await;
    assert_eq!(done.status, StatusCode::PAYMENT_REQUIRED, "{:?}", done.body);
    assert_eq!(done.body["error"]["payment_id"], id.as_str());
    let p = app.get(&format!("/v1/payments/{id}")).await.body;
    assert_eq!(p["status"], "declined");
    assert!(p["decline"]["code"].as_str().is_some());
}

#[tokio::test]
async fn frictionless_and_not_enrolled_skip_steps_two_and_three() {
    let (app, _emu, _gw, acct) = setup(json!({"three_ds": {"termination_url": TERMINATION}})).await;
    let r = app.post("/v1/payments", &json!({"acct_no": acct, "card": card("4000000000003055"), "amount": 100, "currency": "usd", "attempt_3d_secure": true})).await;
    assert_eq!(r.body["status"], "captured", "{:?}", r.body);
    assert_eq!(r.body["three_ds"]["authentication_flow"], "frictionless");
    let r = app.post("/v1/payments", &json!({"acct_no": acct, "card": card("4242424242424242"), "amount": 100, "currency": "usd", "attempt_3d_secure": true})).await;
    assert_eq!(r.body["status"], "captured", "{:?}", r.body);
    // attempt_3d_secure false: a regular authorization, even on a card that supports 3DS.
    let r = app.post("/v1/payments", &json!({"acct_no": acct, "card": card("4000000000003055"), "amount": 100, "currency": "usd"})).await;
    assert_eq!(r.body["status"], "captured");
    assert_eq!(r.body["three_ds"], Value::Null);
}

#[tokio::test]
async fn no_termination_url_fails_validation() {
    let (app, _emu, _gw, acct) = setup(json!({})).await;
    let r = app.post("/v1/payments", &json!({"acct_no": acct, "card": card("4000000000003220"), "amount": 100, "currency": "usd", "attempt_3d_secure": true})).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.param(), Some("three_ds.termination_url"));
    assert_eq!(
        app.get("/v1/payments").await.body["data"],
        json!([]),
        "nothing was recorded or sent"
    );
}

#[tokio::test]
async fn radar_results_and_account_status() {
    let fraud = json!({"fraud": {"send_fraud_scoring_request": true, "change_status_on_fraud_scoring_failure": true, "status_on_fraud_scoring_failure": "fraud_blocked",
        "change_status_on_fraud_scoring_review": true, "status_on_fraud_scoring_review": "fraud_review"}});
    let (app, _emu, _gw, acct) = setup(fraud).await;
    let ok = app.post("/v1/payments", &json!({"acct_no": acct, "card": card("4242424242424242"), "amount": 100, "currency": "usd"})).await.body;
    assert_eq!(ok["fraud_score_result"], "Authorized");
    assert_eq!(ok["risk_level"], "normal");
    assert!(ok["fraud_score"].as_i64().is_some());
    assert_eq!(
        app.get(&format!("/v1/accounts/{acct}")).await.body["status"],
        "active"
    );

    let review = app.post("/v1/payments", &json!({"acct_no": acct, "card": card("4000000000009235"), "amount": 100, "currency": "usd"})).await.body;
    assert_eq!(review["fraud_score_result"], "Manual_Review");
    assert_eq!(
        app.get(&format!("/v1/accounts/{acct}")).await.body["status"],
        "fraud_review"
    );

    let blocked = app.post("/v1/payments", &json!({"acct_no": acct, "card": card("4100000000000019"), "amount": 100, "currency": "usd"})).await;
    assert_eq!(blocked.status, StatusCode::PAYMENT_REQUIRED);
    let blocked_id = blocked.body["error"]["payment_id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        app.get(&format!("/v1/payments/{blocked_id}")).await.body["fraud_score_result"],
        "Blocked"
    );
    assert_eq!(
        app.get(&format!("/v1/accounts/{acct}")).await.body["status"],
        "fraud_blocked"
    );

    let history = app
        .get(&format!("/v1/accounts/{acct}/status_history"))
        .await
        .body;
    let entries = history["data"].as_array().unwrap();
    assert_eq!(entries.len(), 3, "{history}");
    assert_eq!(
        (
            entries[1]["to_status"].as_str(),
            entries[1]["reason"].as_str()
        ),
        (Some("fraud_review"), Some("fraud_scoring_review"))
    );
    assert_eq!(entries[1]["payment_id"], review["id"]);
    assert_eq!(
        (
            entries[2]["to_status"].as_str(),
            entries[2]["payment_id"].as_str()
        ),
        (Some("fraud_blocked"), Some(blocked_id.as_str()))
    );
}

#[tokio::test]
async fn fraud_scoring_follows_request_group_gateway() {
    let (app, _emu, _gw, acct) = setup(json!({})).await;
    let p = app.post("/v1/payments", &json!({"acct_no": acct, "card": card("4242424242424242"), "amount": 100, "currency": "usd"})).await.body;
    assert_eq!(p["fraud_score_result"], Value::Null, "off on the gateway");
    let p = app.post("/v1/payments", &json!({"acct_no": acct, "card": card("4242424242424242"), "amount": 100, "currency": "usd", "send_fraud_scoring_request": true})).await.body;
    assert_eq!(p["fraud_score_result"], "Authorized", "on in the request");
    app.patch(
        "/v1/collection_groups/1",
        &json!({"fraud": {"send_fraud_scoring_request": true}}),
    )
    .await;
    let p = app.post("/v1/payments", &json!({"acct_no": acct, "card": card("4242424242424242"), "amount": 100, "currency": "usd"})).await.body;
    assert_eq!(p["fraud_score_result"], "Authorized", "on in the group");
}

#[tokio::test]
async fn the_fraud_score_call_leaves_nothing_charged() {
    let fraud = json!({"fraud": {"change_status_on_fraud_scoring_failure": true, "status_on_fraud_scoring_failure": "suspended"}});
    let (app, emu, _gw, acct) = setup(fraud).await;
    let r = app.post("/v1/fraud_scores", &json!({"acct_no": acct, "card": card("4242424242424242"), "amount": 5000, "currency": "usd"})).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["fraud_score_result"], "Authorized");
    assert_eq!(r.body["payment_status"], "voided");
    assert_eq!(r.body["account_status"], "active");
    let p = app
        .get(&format!(
            "/v1/payments/{}",
            r.body["payment_id"].as_str().unwrap()
        ))
        .await
        .body;
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
    assert_eq!(pi["amount_received"], 0);
    let r = app.post("/v1/fraud_scores", &json!({"acct_no": acct, "card": card("4000000000004954"), "amount": 5000, "currency": "usd", "recurring_processing_model_ind": 1})).await;
    assert_eq!(r.body["fraud_score_result"], "Blocked", "{:?}", r.body);
    assert_eq!(r.body["risk_level"], "highest");
    assert_eq!(r.body["account_status"], "suspended");
}

#[tokio::test]
async fn radar_sessions_need_the_gateway_flag() {
    let (app, _emu, gw, acct) = setup(json!({})).await;
    let r = app.post("/v1/payments", &json!({"acct_no": acct, "card": card("4242424242424242"), "amount": 100, "currency": "usd", "radar_session": "rse_1"})).await;
    assert_eq!(r.param(), Some("radar_session"));
    let on = app
        .patch(
            &format!("/v1/gateways/{gw}"),
            &json!({"send_radar_sessions": true, "public_key": "pk_test_TYooMQauvdEDq54NiTphI7jx"}),
        )
        .await;
    assert_eq!(on.status, StatusCode::OK, "{:?}", on.body);
    let r = app.post("/v1/payments", &json!({"acct_no": acct, "card": card("4242424242424242"), "amount": 100, "currency": "usd", "radar_session": "rse_1"})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
}

#[tokio::test]
async fn one_click_upsell_only_where_enabled() {
    let (app, emu, gw, acct) = setup(json!({"three_ds": {"termination_url": TERMINATION}})).await;
    let first = app.post("/v1/payments", &json!({"acct_no": acct, "card": card("4000002500003155"), "store": true, "amount": 2900, "currency": "usd", "attempt_3d_secure": true})).await.body;
    let id = first["id"].as_str().unwrap().to_string();
    challenge(
        &emu,
        first["processor_payment_id"].as_str().unwrap(),
        "success",
    )
    .await;
    assert_eq!(
        app.post(&format!("/v1/payments/{id}/authorize_3ds"), &json!({}))
            .await
            .body["status"],
        "captured"
    );

    let refused = app
        .post(
            &format!("/v1/payments/{id}/upsell"),
            &json!({"amount": 1500}),
        )
        .await;
    assert_eq!(
        (refused.status, refused.code()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("upsell_disabled"))
    );
    app.patch(
        &format!("/v1/gateways/{gw}"),
        &json!({"send_upsell_token": true}),
    )
    .await;
    let up = app
        .post(
            &format!("/v1/payments/{id}/upsell"),
            &json!({"amount": 1500, "products": [{"name": "Extra"}]}),
        )
        .await;
    assert_eq!(up.status, StatusCode::CREATED, "{:?}", up.body);
    assert_eq!(up.body["status"], "captured", "no new challenge");
    assert_eq!(up.body["recurring_processing_model_ind"], 3);
    let pi = emu
        .get(
            SECRET_KEY,
            &format!(
                "/v1/payment_intents/{}",
                up.body["processor_payment_id"].as_str().unwrap()
            ),
        )
        .await;
    assert_eq!(pi["metadata"]["kassa_upsell_of"], id.as_str());
    assert_eq!(
        pi["payment_method_options"]["card"]["stored_credential_usage"], "unscheduled",
        "a merchant-initiated charge"
    );
}
