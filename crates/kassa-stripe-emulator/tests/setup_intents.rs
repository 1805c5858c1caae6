//! SetupIntents (saving a card, with 3DS when the issuer asks), setup attempts, Radar reviews,
//! dispute funds events and the 3DS 1 test card.

mod common;

use common::{start, Api};
use serde_json::Value;

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

async fn setup(api: &Api, pm: &str, extra: &[(&str, &str)]) -> (common::Resp, String) {
    let cus = api.customer().await;
    let mut form = vec![
        ("customer", cus.as_str()),
        ("payment_method", pm),
        ("confirm", "true"),
        ("usage", "off_session"),
    ];
    form.extend_from_slice(extra);
    (api.post("/v1/setup_intents", &form).await, cus)
}

async fn event_types(api: &Api, object_id: &str) -> Vec<String> {
    let evs = api.get("/v1/events?limit=100").await.body;
    let mut kinds: Vec<String> = evs["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["data"]["object"]["id"] == object_id)
        .map(|e| e["type"].as_str().unwrap().to_string())
        .collect();
    kinds.reverse();
    kinds
}

#[tokio::test]
async fn a_plain_card_is_set_up_and_attached_without_a_challenge() {
    let api = start().await;
    let (r, cus) = setup(&api, "pm_card_visa", &[]).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let si = &r.body;
    assert_eq!(si["object"], "setup_intent");
    assert!(si["id"].as_str().unwrap().starts_with("seti_"));
    assert_eq!(si["status"], "succeeded");
    assert_eq!(si["usage"], "off_session");
    assert_eq!(si["customer"], cus.as_str());
    let pm = si["payment_method"].as_str().unwrap();
    let pm = api.get(&format!("/v1/payment_methods/{pm}")).await.body;
    assert_eq!(pm["customer"], cus.as_str(), "attached on success");
    let att = si["latest_attempt"].as_str().unwrap();
    assert!(att.starts_with("setatt_"));
    let atts = api
        .get(&format!(
            "/v1/setup_attempts?setup_intent={}",
            si["id"].as_str().unwrap()
        ))
        .await
        .body;
    assert_eq!(atts["data"][0]["id"], att);
    assert_eq!(atts["data"][0]["status"], "succeeded");
    assert_eq!(
        atts["data"][0]["payment_method_details"]["card"]["last4"],
        "4242"
    );
    assert!(atts["data"][0]["payment_method_details"]["card"]["three_d_secure"].is_null());
    let kinds = event_types(&api, si["id"].as_str().unwrap()).await;
    assert_eq!(kinds, ["setup_intent.created", "setup_intent.succeeded"]);
}

#[tokio::test]
async fn a_challenge_card_waits_for_the_shopper_then_succeeds_through_the_hosted_page() {
    let api = start().await;
    let (r, cus) = setup(
        &api,
        "pm_card_authenticationRequiredOnSetup",
        &[("return_url", "https://shop.example/saved?x=1")],
    )
    .await;
    assert_eq!(r.body["status"], "requires_action", "{}", r.body);
    let id = r.body["id"].as_str().unwrap().to_string();
    let secret = r.body["client_secret"].as_str().unwrap().to_string();
    let url = r.body["next_action"]["redirect_to_url"]["url"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        r.body["next_action"]["redirect_to_url"]["return_url"],
        "https://shop.example/saved?x=1"
    );
    let pm = r.body["payment_method"].as_str().unwrap().to_string();
    // Not attached while authentication is pending.
    let before = api.get(&format!("/v1/payment_methods/{pm}")).await.body;
    assert!(before["customer"].is_null());
    // An off-session payment before the setup finished needs authentication.
    let http = no_redirects();
    let page = http.get(&url).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("Saving a card"), "{page}");
    let resp = http
        .post(format!("{}/_emulator/3ds/{id}", api.base))
        .form(&[("client_secret", secret.as_str()), ("outcome", "success")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 303);
    let loc = resp.headers()["location"].to_str().unwrap().to_string();
    assert!(
        loc.starts_with("https://shop.example/saved?x=1&setup_intent=")
            && loc.contains("setup_intent_client_secret=")
            && loc.ends_with("redirect_status=succeeded"),
        "{loc}"
    );
    let si = api
        .get(&format!("/v1/setup_intents/{id}?expand[]=latest_attempt"))
        .await
        .body;
    assert_eq!(si["status"], "succeeded");
    let tds = &si["latest_attempt"]["payment_method_details"]["card"]["three_d_secure"];
    assert_eq!(tds["result"], "authenticated");
    assert_eq!(tds["authentication_flow"], "challenge");
    assert_eq!(tds["version"], "2.2.0");
    let after = api.get(&format!("/v1/payment_methods/{pm}")).await.body;
    assert_eq!(after["customer"], cus.as_str());
    // Set up for off-session use: an off-session payment now goes through without a challenge.
    let pay = api
        .pay(&pm, &[("customer", &cus), ("off_session", "true")])
        .await;
    assert_eq!(pay.body["status"], "succeeded", "{}", pay.body);
    let kinds = event_types(&api, &id).await;
    assert_eq!(
        kinds,
        [
            "setup_intent.created",
            "setup_intent.requires_action",
            "setup_intent.succeeded"
        ]
    );
}

#[tokio::test]
async fn without_the_setup_the_same_card_fails_off_session() {
    let api = start().await;
    let cus = api.customer().await;
    let pm = api
        .post(
            "/v1/payment_methods/pm_card_authenticationRequiredOnSetup/attach",
            &[("customer", &cus)],
        )
        .await
        .body;
    let pay = api
        .pay(
            pm["id"].as_str().unwrap(),
            &[("customer", &cus), ("off_session", "true")],
        )
        .await;
    assert_eq!(pay.status, 402);
    assert_eq!(pay.err("code"), "authentication_required");
}

#[tokio::test]
async fn a_failed_challenge_leaves_the_card_unattached() {
    let api = start().await;
    let (r, _) = setup(&api, "pm_card_threeDSecure2Required", &[]).await;
    assert_eq!(r.body["status"], "requires_action");
    assert_eq!(r.body["next_action"]["type"], "use_stripe_sdk");
    let id = r.body["id"].as_str().unwrap();
    let done = api
        .post(
            &format!("/_emulator/setup_intents/{id}/authenticate"),
            &[("outcome", "failure")],
        )
        .await;
    assert_eq!(done.status, 200, "{}", done.body);
    assert_eq!(done.body["status"], "requires_payment_method");
    assert_eq!(
        done.body["last_setup_error"]["code"],
        "setup_intent_authentication_failure"
    );
    let pm = done.body["payment_method"].as_str().unwrap();
    let pm = api.get(&format!("/v1/payment_methods/{pm}")).await.body;
    assert!(pm["customer"].is_null());
    let kinds = event_types(&api, id).await;
    assert_eq!(kinds.last().unwrap(), "setup_intent.setup_failed");
    // A second authentication is refused: nothing is waiting.
    let again = api
        .post(
            &format!("/_emulator/setup_intents/{id}/authenticate"),
            &[("outcome", "success")],
        )
        .await;
    assert_eq!(again.status, 400);
    assert_eq!(again.err("code"), "setup_intent_unexpected_state");
}

#[tokio::test]
async fn decline_cards_fail_the_setup_with_their_decline() {
    let api = start().await;
    for (pm, decline) in [
        ("pm_card_visa_chargeDeclined", "generic_decline"),
        (
            "pm_card_visa_chargeDeclinedInsufficientFunds",
            "insufficient_funds",
        ),
        ("pm_card_radarBlock", "fraudulent"),
    ] {
        let (r, _) = setup(&api, pm, &[]).await;
        assert_eq!(r.status, 402, "{pm}: {}", r.body);
        assert_eq!(r.err("type"), "card_error");
        assert_eq!(r.err("decline_code"), decline, "{pm}");
        let si = r.err("setup_intent");
        assert_eq!(si["status"], "requires_payment_method");
        assert_eq!(si["last_setup_error"]["decline_code"], decline);
    }
    // The card that attaches fine and fails when charged sets up fine.
    let (r, _) = setup(&api, "pm_card_chargeCustomerFail", &[]).await;
    assert_eq!(r.body["status"], "succeeded", "{}", r.body);
}

#[tokio::test]
async fn optional_3ds_is_frictionless_when_asked_and_challenged_on_request() {
    let api = start().await;
    let any = [(
        "payment_method_options[card][request_three_d_secure]",
        "any",
    )];
    let (r, _) = setup(&api, "pm_card_threeDSecureOptional", &any).await;
    assert_eq!(r.body["status"], "succeeded", "{}", r.body);
    let att = api
        .get(&format!(
            "/v1/setup_intents/{}?expand[]=latest_attempt",
            r.body["id"].as_str().unwrap()
        ))
        .await
        .body;
    let tds = &att["latest_attempt"]["payment_method_details"]["card"]["three_d_secure"];
    assert_eq!(tds["authentication_flow"], "frictionless");
    assert_eq!(
        att["payment_method_options"]["card"]["request_three_d_secure"],
        "any"
    );
    let challenge = [(
        "payment_method_options[card][request_three_d_secure]",
        "challenge",
    )];
    let (r, _) = setup(&api, "pm_card_threeDSecureOptional", &challenge).await;
    assert_eq!(r.body["status"], "requires_action");
}

#[tokio::test]
async fn the_state_machine_refuses_what_stripe_refuses() {
    let api = start().await;
    let cus = api.customer().await;
    let r = api
        .post("/v1/setup_intents", &[("customer", cus.as_str())])
        .await;
    assert_eq!(r.body["status"], "requires_payment_method");
    let id = r.body["id"].as_str().unwrap().to_string();
    // Confirming without a payment method.
    let c = api
        .post(&format!("/v1/setup_intents/{id}/confirm"), &[])
        .await;
    assert_eq!(c.status, 400);
    assert_eq!(c.err("code"), "setup_intent_unexpected_state");
    // Unknown parameters and bad enum values name the parameter.
    let bad = api.post("/v1/setup_intents", &[("amount", "100")]).await;
    assert_eq!(bad.err("code"), "parameter_unknown");
    assert_eq!(bad.err("param"), "amount");
    let bad = api
        .post("/v1/setup_intents", &[("usage", "sometimes")])
        .await;
    assert_eq!(bad.err("param"), "usage");
    // Cancel, then nothing more.
    let u = api
        .post(
            &format!("/v1/setup_intents/{id}"),
            &[("payment_method", "pm_card_visa")],
        )
        .await;
    assert_eq!(u.body["status"], "requires_confirmation");
    let x = api
        .post(
            &format!("/v1/setup_intents/{id}/cancel"),
            &[("cancellation_reason", "abandoned")],
        )
        .await;
    assert_eq!(x.body["status"], "canceled");
    assert_eq!(x.body["cancellation_reason"], "abandoned");
    let again = api
        .post(&format!("/v1/setup_intents/{id}/confirm"), &[])
        .await;
    assert_eq!(again.err("code"), "setup_intent_unexpected_state");
    let list = api
        .get(&format!("/v1/setup_intents?customer={cus}"))
        .await
        .body;
    assert_eq!(list["data"][0]["id"], id.as_str());
    let kinds = event_types(&api, &id).await;
    assert_eq!(kinds, ["setup_intent.created", "setup_intent.canceled"]);
}

#[tokio::test]
async fn the_3ds1_card_authenticates_on_version_1() {
    let api = start().await;
    let r = api
        .pay(
            "pm_card_threeDSecureRequired",
            &[("return_url", "https://shop.example/r")],
        )
        .await;
    assert_eq!(r.body["status"], "requires_action", "{}", r.body);
    let id = r.body["id"].as_str().unwrap();
    let done = api
        .post(
            &format!("/_emulator/payment_intents/{id}/authenticate"),
            &[("outcome", "success"), ("expand[]", "latest_charge")],
        )
        .await;
    let tds = &done.body["latest_charge"]["payment_method_details"]["card"]["three_d_secure"];
    assert_eq!(tds["version"], "1.0.2", "{}", done.body);
    assert_eq!(tds["result"], "authenticated");
    // The 3DS 2 card reports 2.2.0.
    let r = api.pay("pm_card_threeDSecure2Required", &[]).await;
    let id = r.body["id"].as_str().unwrap();
    let done = api
        .post(
            &format!("/_emulator/payment_intents/{id}/authenticate"),
            &[("outcome", "success"), ("expand[]", "latest_charge")],
        )
        .await;
    assert_eq!(
        done.body["latest_charge"]["payment_method_details"]["card"]["three_d_secure"]["version"],
        "2.2.0"
    );
}

#[tokio::test]
async fn elevated_risk_opens_a_review_that_approval_or_a_refund_closes() {
    let api = start().await;
    let r = api.pay("pm_card_riskLevelElevated", &[]).await;
    assert_eq!(r.body["status"], "succeeded", "{}", r.body);
    let review = r.body["review"].as_str().unwrap().to_string();
    assert!(review.starts_with("prv_"));
    let rv = api.get(&format!("/v1/reviews/{review}")).await.body;
    assert_eq!(rv["object"], "review");
    assert_eq!(rv["open"], true);
    assert_eq!(rv["opened_reason"], "rule");
    assert_eq!(rv["payment_intent"], r.body["id"]);
    let open: Value = api.get("/v1/reviews").await.body;
    assert_eq!(open["data"][0]["id"], review.as_str());
    let ok = api
        .post(&format!("/v1/reviews/{review}/approve"), &[])
        .await;
    assert_eq!(ok.body["open"], false);
    assert_eq!(ok.body["closed_reason"], "approved");
    let again = api
        .post(&format!("/v1/reviews/{review}/approve"), &[])
        .await;
    assert_eq!(again.status, 400);
    assert_eq!(
        event_types(&api, &review).await,
        ["review.opened", "review.closed"]
    );
    // A refund closes the review of another payment as refunded.
    let r = api.pay("pm_card_riskLevelElevated", &[]).await;
    let review = r.body["review"].as_str().unwrap().to_string();
    api.post(
        "/v1/refunds",
        &[("payment_intent", r.body["id"].as_str().unwrap())],
    )
    .await;
    let rv = api.get(&format!("/v1/reviews/{review}")).await.body;
    assert_eq!(rv["closed_reason"], "refunded");
    // Normal risk: no review.
    let r = api.pay("pm_card_visa", &[]).await;
    assert!(r.body["review"].is_null());
}

#[tokio::test]
async fn a_chargeback_withdraws_funds_and_a_won_one_reinstates_them() {
    let api = start().await;
    let r = api.pay("pm_card_visa", &[]).await;
    let ch = r.body["latest_charge"].as_str().unwrap();
    let dp = api
        .post(
            &format!("/_emulator/charges/{ch}/dispute"),
            &[("reason", "fraudulent")],
        )
        .await;
    assert_eq!(dp.status, 200, "{}", dp.body);
    let dp_id = dp.body["id"].as_str().unwrap().to_string();
    let won = api
        .post(
            &format!("/_emulator/disputes/{dp_id}/close"),
            &[("status", "won")],
        )
        .await;
    assert_eq!(won.body["status"], "won", "{}", won.body);
    assert_eq!(
        event_types(&api, &dp_id).await,
        [
            "charge.dispute.created",
            "charge.dispute.funds_withdrawn",
            "charge.dispute.closed",
            "charge.dispute.funds_reinstated"
        ]
    );
    // An inquiry moves no funds.
    let r = api.pay("pm_card_visa", &[]).await;
    let ch = r.body["latest_charge"].as_str().unwrap();
    let dp = api
        .post(
            &format!("/_emulator/charges/{ch}/dispute"),
            &[("reason", "general"), ("inquiry", "true")],
        )
        .await;
    let kinds = event_types(&api, dp.body["id"].as_str().unwrap()).await;
    assert_eq!(kinds, ["charge.dispute.created"]);
}
