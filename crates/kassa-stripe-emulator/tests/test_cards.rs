//! Every test card of stripe-facts §5 behaves as Stripe documents.

mod common;

use common::{start, Api};
use serde_json::Value;

async fn charge(api: &Api, pi: &Value) -> Value {
    let ch = pi["latest_charge"].as_str().unwrap();
    api.get(&format!("/v1/charges/{ch}")).await.body
}

async fn raw_pm(api: &Api, pan: &str) -> String {
    let r = api
        .post(
            "/v1/payment_methods",
            &[
                ("type", "card"),
                ("card[number]", pan),
                ("card[exp_month]", "12"),
                ("card[exp_year]", "2034"),
                ("card[cvc]", "123"),
            ],
        )
        .await;
    assert_eq!(r.status, 200, "{pan}: {}", r.body);
    r.body["id"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn success_cards_by_token() {
    let api = start().await;
    for (tok, brand, funding, last4) in [
        ("pm_card_visa", "visa", "credit", "4242"),
        ("pm_card_visa_debit", "visa", "debit", "5556"),
        ("pm_card_mastercard", "mastercard", "credit", "4444"),
        ("pm_card_mastercard_debit", "mastercard", "debit", "8210"),
        (
            "pm_card_mastercard_prepaid",
            "mastercard",
            "prepaid",
            "5100",
        ),
        ("pm_card_amex", "amex", "credit", "0005"),
        ("pm_card_discover", "discover", "credit", "1117"),
        ("pm_card_diners", "diners", "credit", "0004"),
        ("pm_card_jcb", "jcb", "credit", "0505"),
        ("pm_card_unionpay", "unionpay", "credit", "0005"),
        ("pm_card_gb", "visa", "credit", "0000"),
        ("pm_card_bypassPending", "visa", "credit", "0077"),
    ] {
        let r = api.pay(tok, &[]).await;
        assert_eq!(r.status, 200, "{tok}: {}", r.body);
        assert_eq!(r.body["status"], "succeeded", "{tok}");
        let c = charge(&api, &r.body).await;
        let card = &c["payment_method_details"]["card"];
        assert_eq!(card["brand"], brand, "{tok}");
        assert_eq!(card["funding"], funding, "{tok}");
        assert_eq!(card["last4"], last4, "{tok}");
        assert!(card["network_transaction_id"].is_string(), "{tok}");
        assert_eq!(c["outcome"]["type"], "authorized");
    }
}

#[tokio::test]
async fn decline_cards() {
    let api = start().await;
    let cases = [
        (
            "pm_card_visa_chargeDeclined",
            "4000000000000002",
            "card_declined",
            "generic_decline",
        ),
        (
            "pm_card_chargeDeclined",
            "4000000000000002",
            "card_declined",
            "generic_decline",
        ),
        (
            "pm_card_visa_chargeDeclinedInsufficientFunds",
            "4000000000009995",
            "card_declined",
            "insufficient_funds",
        ),
        (
            "pm_card_chargeDeclinedInsufficientFunds",
            "4000000000009995",
            "card_declined",
            "insufficient_funds",
        ),
        (
            "pm_card_visa_chargeDeclinedLostCard",
            "4000000000009987",
            "card_declined",
            "lost_card",
        ),
        (
            "pm_card_visa_chargeDeclinedStolenCard",
            "4000000000009979",
            "card_declined",
            "stolen_card",
        ),
        (
            "pm_card_chargeDeclinedExpiredCard",
            "4000000000000069",
            "expired_card",
            "expired_card",
        ),
        (
            "pm_card_chargeDeclinedIncorrectCvc",
            "4000000000000127",
            "incorrect_cvc",
            "incorrect_cvc",
        ),
        (
            "pm_card_chargeDeclinedProcessingError",
            "4000000000000119",
            "processing_error",
            "processing_error",
        ),
        (
            "pm_card_visa_chargeDeclinedVelocityLimitExceeded",
            "4000000000006975",
            "card_declined",
            "card_velocity_exceeded",
        ),
        (
            "pm_card_chargeCustomerFail",
            "4000000000000341",
            "card_declined",
            "generic_decline",
        ),
    ];
    for (tok, pan, code, decline) in cases {
        for pm in [tok.to_string(), raw_pm(&api, pan).await] {
            let r = api.pay(&pm, &[]).await;
            assert_eq!(r.status, 402, "{pm}");
            assert_eq!(r.err("type"), "card_error", "{pm}");
            assert_eq!(r.err("code"), code, "{pm}");
            assert_eq!(r.err("decline_code"), decline, "{pm}");
            let pi = r.err("payment_intent");
            assert_eq!(pi["status"], "requires_payment_method", "{pm}");
            assert_eq!(pi["last_payment_error"]["decline_code"], decline);
            let ch_id = r.err("charge").as_str().unwrap().to_string();
            assert_eq!(pi["latest_charge"], ch_id.as_str());
            let c = api.get(&format!("/v1/charges/{ch_id}")).await.body;
            assert_eq!(c["status"], "failed");
            assert_eq!(c["paid"], false);
            assert_eq!(c["failure_code"], code);
            assert_eq!(c["outcome"]["type"], "issuer_declined");
            assert_eq!(c["outcome"]["network_status"], "declined_by_network");
            assert_eq!(c["outcome"]["reason"], decline);
            assert!(c["payment_method_details"]["card"]["network_transaction_id"].is_null());
            // The PaymentIntent can be retried with another card.
            let id = pi["id"].as_str().unwrap();
            let r = api
                .post(
                    &format!("/v1/payment_intents/{id}/confirm"),
                    &[("payment_method", "pm_card_visa")],
                )
                .await;
            assert_eq!(r.body["status"], "succeeded", "{pm}");
        }
    }
}

#[tokio::test]
async fn radar_cards() {
    let api = start().await;
    for tok in [
        "pm_card_radarBlock",
        "pm_card_chargeDeclinedFraudulent",
        "pm_card_riskLevelHighest",
    ] {
        let r = api.pay(tok, &[]).await;
        assert_eq!(r.status, 402, "{tok}");
        assert_eq!(r.err("decline_code"), "fraudulent");
        let ch = r.err("charge").as_str().unwrap().to_string();
        let c = api.get(&format!("/v1/charges/{ch}")).await.body;
        assert_eq!(c["outcome"]["type"], "blocked");
        assert_eq!(c["outcome"]["risk_level"], "highest");
        assert_eq!(c["outcome"]["network_status"], "not_sent_to_network");
        assert!(c["outcome"]["risk_score"].as_i64().unwrap() >= 75);
    }
    for pan in ["4100000000000019", "4000000000004954"] {
        let pm = raw_pm(&api, pan).await;
        assert_eq!(api.pay(&pm, &[]).await.err("decline_code"), "fraudulent");
    }
    for tok in [
        "pm_card_riskLevelElevated",
        "pm_card_cvcCheckFailElevatedRisk",
        "pm_card_avsZipFailElevatedRisk",
    ] {
        let r = api.pay(tok, &[]).await;
        assert_eq!(r.status, 200, "{tok}");
        assert!(r.body["review"].as_str().unwrap().starts_with("prv_"));
        let c = charge(&api, &r.body).await;
        assert_eq!(c["outcome"]["type"], "manual_review", "{tok}");
        assert_eq!(c["outcome"]["risk_level"], "elevated");
        let score = c["outcome"]["risk_score"].as_i64().unwrap();
        assert!((65..75).contains(&score), "{score}");
    }
}

#[tokio::test]
async fn check_cards() {
    let api = start().await;
    for (tok, cvc, line1, zip) in [
        ("pm_card_cvcCheckFail", "fail", Value::Null, Value::Null),
        ("pm_card_avsZipFail", "pass", Value::Null, "fail".into()),
        ("pm_card_avsLine1Fail", "pass", "fail".into(), Value::Null),
        ("pm_card_avsFail", "pass", "fail".into(), "fail".into()),
        (
            "pm_card_avsUnchecked",
            "pass",
            "unavailable".into(),
            "unavailable".into(),
        ),
    ] {
        let r = api.pay(tok, &[]).await;
        assert_eq!(r.status, 200, "{tok}");
        let c = charge(&api, &r.body).await;
        let checks = &c["payment_method_details"]["card"]["checks"];
        assert_eq!(checks["cvc_check"], cvc, "{tok}");
        assert_eq!(checks["address_line1_check"], line1, "{tok}");
        assert_eq!(checks["address_postal_code_check"], zip, "{tok}");
    }
    // Raw card with an address: checks pass unless the card fails them.
    let r = api
        .post(
            "/v1/payment_methods",
            &[
                ("type", "card"),
                ("card[number]", "4000000000000036"),
                ("card[exp_month]", "1"),
                ("card[exp_year]", "2040"),
                ("card[cvc]", "123"),
                ("billing_details[address][line1]", "1 Main"),
                ("billing_details[address][postal_code]", "12345"),
            ],
        )
        .await;
    let pm = r.body["id"].as_str().unwrap();
    let c = charge(&api, &api.pay(pm, &[]).await.body).await;
    let checks = &c["payment_method_details"]["card"]["checks"];
    assert_eq!(checks["address_line1_check"], "pass");
    assert_eq!(checks["address_postal_code_check"], "fail");
}

async fn authenticate(api: &Api, id: &str, outcome: &str) -> common::Resp {
    api.post(
        &format!("/_emulator/payment_intents/{id}/authenticate"),
        &[("outcome", outcome)],
    )
    .await
}

#[tokio::test]
async fn three_d_secure_required_cards() {
    let api = start().await;
    for tok in [
        "pm_card_threeDSecure2Required",
        "pm_card_authenticationRequired",
        "pm_card_authenticationRequiredOnSetup",
        "pm_card_authenticationRequiredSetupForOffSession",
    ] {
        let r = api
            .pay(tok, &[("return_url", "https://shop.test/back")])
            .await;
        assert_eq!(r.status, 200, "{tok}");
        assert_eq!(r.body["status"], "requires_action", "{tok}");
        assert_eq!(r.body["next_action"]["type"], "redirect_to_url");
        assert_eq!(
            r.body["next_action"]["redirect_to_url"]["return_url"],
            "https://shop.test/back"
        );
        assert!(r.body["latest_charge"].is_null());
        let id = r.body["id"].as_str().unwrap();
        let r = authenticate(&api, id, "success").await;
        assert_eq!(r.body["status"], "succeeded", "{tok}");
        let c = charge(&api, &r.body).await;
        let tds = &c["payment_method_details"]["card"]["three_d_secure"];
        assert_eq!(tds["result"], "authenticated");
        assert_eq!(tds["authentication_flow"], "challenge");
    }
    // Without return_url: use_stripe_sdk.
    let r = api.pay("pm_card_threeDSecure2Required", &[]).await;
    assert_eq!(r.body["next_action"]["type"], "use_stripe_sdk");
    let id = r.body["id"].as_str().unwrap();
    let r = authenticate(&api, id, "failure").await;
    assert_eq!(r.body["status"], "requires_payment_method");
    assert_eq!(
        r.body["last_payment_error"]["code"],
        "payment_intent_authentication_failure"
    );
    // error_on_requires_action fails instead.
    let r = api
        .pay(
            "pm_card_threeDSecure2Required",
            &[("error_on_requires_action", "true")],
        )
        .await;
    assert_eq!(r.status, 402);
    assert_eq!(r.err("code"), "authentication_required");
    assert_eq!(r.err("payment_intent")["status"], "requires_payment_method");
    // Authenticate then decline.
    let r = api
        .pay("pm_card_threeDSecureRequiredChargeDeclined", &[])
        .await;
    let id = r.body["id"].as_str().unwrap();
    let r = authenticate(&api, id, "success").await;
    assert_eq!(r.body["status"], "requires_payment_method");
    assert_eq!(r.body["last_payment_error"]["code"], "card_declined");
    let r = api
        .pay(
            "pm_card_authenticationRequiredChargeDeclinedInsufficientFunds",
            &[],
        )
        .await;
    let id = r.body["id"].as_str().unwrap();
    let r = authenticate(&api, id, "success").await;
    assert_eq!(
        r.body["last_payment_error"]["decline_code"],
        "insufficient_funds"
    );
    // Lookup processing error.
    let r = api
        .pay("pm_card_threeDSecureRequiredProcessingError", &[])
        .await;
    assert_eq!(r.status, 402);
    assert_eq!(r.err("code"), "processing_error");
    // authenticate is only for requires_action.
    let r = api.pay("pm_card_visa", &[]).await;
    let id = r.body["id"].as_str().unwrap();
    assert_eq!(
        authenticate(&api, id, "success").await.err("code"),
        "payment_intent_unexpected_state"
    );
}

#[tokio::test]
async fn three_d_secure_optional_cards() {
    let api = start().await;
    let r = api.pay("pm_card_threeDSecureOptional", &[]).await;
    assert_eq!(r.body["status"], "succeeded");
    assert!(
        charge(&api, &r.body).await["payment_method_details"]["card"]["three_d_secure"].is_null()
    );
    let r = api
        .pay(
            "pm_card_threeDSecureOptional",
            &[(
                "payment_method_options[card][request_three_d_secure]",
                "any",
            )],
        )
        .await;
    assert_eq!(r.body["status"], "succeeded");
    let tds =
        charge(&api, &r.body).await["payment_method_details"]["card"]["three_d_secure"].clone();
    assert_eq!(tds["authentication_flow"], "frictionless");
    let r = api
        .pay(
            "pm_card_threeDSecureOptional",
            &[(
                "payment_method_options[card][request_three_d_secure]",
                "challenge",
            )],
        )
        .await;
    assert_eq!(r.body["status"], "requires_action");
    let r = api
        .pay("pm_card_threeDSecureOptionalProcessingError", &[])
        .await;
    assert_eq!(r.body["status"], "succeeded");
    let r = api
        .pay(
            "pm_card_threeDSecureOptionalProcessingError",
            &[(
                "payment_method_options[card][request_three_d_secure]",
                "any",
            )],
        )
        .await;
    assert_eq!(r.err("code"), "processing_error");
    // Not enrolled / not supported: never prompted.
    for tok in ["pm_card_visa", "pm_card_amex_threeDSecureNotSupported"] {
        let r = api
            .pay(
                tok,
                &[(
                    "payment_method_options[card][request_three_d_secure]",
                    "challenge",
                )],
            )
            .await;
        assert_eq!(r.body["status"], "succeeded", "{tok}");
    }
}

#[tokio::test]
async fn off_session_authentication() {
    let api = start().await;
    let cus = api.customer().await;
    let attach = |tok: &'static str| {
        let api = &api;
        let cus = cus.clone();
        async move {
            let r = api
                .post(
                    &format!("/v1/payment_methods/{tok}/attach"),
                    &[("customer", &cus)],
                )
                .await;
            r.body["id"].as_str().unwrap().to_string()
        }
    };
    for tok in [
        "pm_card_authenticationRequired",
        "pm_card_threeDSecure2Required",
        "pm_card_authenticationRequiredOnSetup",
    ] {
        let pm = attach(tok).await;
        let r = api
            .pay(&pm, &[("customer", &cus), ("off_session", "true")])
            .await;
        assert_eq!(r.status, 402, "{tok}");
        assert_eq!(r.err("code"), "authentication_required");
        assert_eq!(r.err("decline_code"), "authentication_required");
        assert_eq!(r.err("payment_intent")["status"], "requires_payment_method");
    }
    let pm = attach("pm_card_authenticationRequiredSetupForOffSession").await;
    assert_eq!(
        api.pay(&pm, &[("customer", &cus), ("off_session", "one_off")])
            .await
            .body["status"],
        "succeeded"
    );

    // 3155: set up on-session with 3DS, then off-session works.
    let pm = attach("pm_card_authenticationRequiredOnSetup").await;
    let r = api
        .pay(
            &pm,
            &[("customer", &cus), ("setup_future_usage", "off_session")],
        )
        .await;
    assert_eq!(r.body["status"], "requires_action");
    let id = r.body["id"].as_str().unwrap();
    assert_eq!(
        authenticate(&api, id, "success").await.body["status"],
        "succeeded"
    );
    let r = api
        .pay(&pm, &[("customer", &cus), ("off_session", "recurring")])
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["status"], "succeeded");
    // A Visa MIT authorization hold is shorter.
    let r = api
        .pay(
            &pm,
            &[
                ("customer", &cus),
                ("off_session", "true"),
                ("capture_method", "manual"),
            ],
        )
        .await;
    let c = charge(&api, &r.body).await;
    let hold = c["payment_method_details"]["card"]["capture_before"]
        .as_i64()
        .unwrap()
        - c["created"].as_i64().unwrap();
    assert_eq!(hold, 410_400);
}

#[tokio::test]
async fn every_test_pan_as_a_raw_number() {
    let api = start().await;
    let succeed = [
        "4242424242424242",
        "4000056655665556",
        "5555555555554444",
        "2223003122003222",
        "5200828282828210",
        "5105105105105100",
        "378282246310005",
        "371449635398431",
        "6011111111111117",
        "6011000990139424",
        "6011981111111113",
        "3056930009020004",
        "36227206271667",
        "3566002020360505",
        "6200000000000005",
        "6200000000000047",
        "6205500000000000004",
        "4000008260000000",
        "4000000000003055",
        "4000000000003097",
        "4000000000009235",
        "4000000000000101",
        "4000000000000036",
        "4000058400307872",
        "4000058400306072",
        "4000000000000028",
        "4000000000000010",
        "4000000000000044",
        "4000000000000259",
        "4000000000002685",
        "4000000000001976",
        "4000000000005423",
        "4000000404000079",
        "4000000404000038",
        "4000008400000779",
        "4000000000007726",
        "4000000000005126",
        "4000000000000077",
    ];
    for pan in succeed {
        let pm = raw_pm(&api, pan).await;
        let r = api.pay(&pm, &[]).await;
        assert_eq!(r.status, 200, "{pan}: {}", r.body);
        assert_eq!(r.body["status"], "succeeded", "{pan}");
    }
    let action = [
        "4000000000003220",
        "4000008400001629",
        "4000002760003184",
        "4000003800000446",
        "4000008260003178",
        "4000002500003155",
        "4000582600000094",
        "4000582600000045",
        "4000582600000102",
        "4000582600000110",
    ];
    for pan in action {
        let pm = raw_pm(&api, pan).await;
        let r = api.pay(&pm, &[]).await;
        assert_eq!(r.body["status"], "requires_action", "{pan}");
    }
    let declined = [
        ("4000000000000002", "generic_decline"),
        ("4000000000009995", "insufficient_funds"),
        ("4000000000009987", "lost_card"),
        ("4000000000009979", "stolen_card"),
        ("4000000000000069", "expired_card"),
        ("4000000000000127", "incorrect_cvc"),
        ("4000000000000119", "processing_error"),
        ("4000000000006975", "card_velocity_exceeded"),
        ("4000000000000341", "generic_decline"),
        ("4000008400001280", "processing_error"),
        ("4100000000000019", "fraudulent"),
        ("4000000000004954", "fraudulent"),
    ];
    for (pan, code) in declined {
        let pm = raw_pm(&api, pan).await;
        let r = api.pay(&pm, &[]).await;
        assert_eq!(r.status, 402, "{pan}");
        assert_eq!(r.err("decline_code"), code, "{pan}");
    }
    // Without a CVC, 4000000000000127 can't fail the CVC check.
    let r = api
        .post(
            "/v1/payment_methods",
            &[
                ("type", "card"),
                ("card[number]", "4000000000000127"),
                ("card[exp_month]", "12"),
                ("card[exp_year]", "2034"),
            ],
        )
        .await;
    let pm = r.body["id"].as_str().unwrap();
    assert_eq!(api.pay(pm, &[]).await.body["status"], "succeeded");
}
