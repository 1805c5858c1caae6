//! The legacy Charges API (`POST /v1/charges`, capture).

mod common;

use common::start;
use serde_json::Value;

#[tokio::test]
async fn charge_with_token_source_and_test_card_outcomes() {
    let api = start().await;
    let r = api
        .post(
            "/v1/charges",
            &[
                ("amount", "1234"),
                ("currency", "usd"),
                ("source", "tok_visa"),
                ("description", "legacy"),
                ("statement_descriptor_suffix", "ORDER 7"),
                ("metadata[order]", "7"),
                ("receipt_email", "a@example.com"),
            ],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body["id"].as_str().unwrap().starts_with("ch_"));
    assert_eq!(r.body["object"], "charge");
    assert_eq!(r.body["amount"], 1234);
    assert_eq!(r.body["amount_captured"], 1234);
    assert_eq!(r.body["captured"], true);
    assert_eq!(r.body["status"], "succeeded");
    assert_eq!(r.body["paid"], true);
    assert_eq!(r.body["payment_intent"], Value::Null);
    assert_eq!(r.body["description"], "legacy");
    assert_eq!(r.body["metadata"]["order"], "7");
    assert_eq!(r.body["receipt_email"], "a@example.com");
    assert_eq!(r.body["calculated_statement_descriptor"], "KASSA* ORDER 7");
    assert_eq!(r.body["payment_method_details"]["card"]["last4"], "4242");
    assert_eq!(r.body["outcome"]["type"], "authorized");
    // Declines: 402 with the failed charge; it is stored.
    let r = api
        .post(
            "/v1/charges",
            &[
                ("amount", "1000"),
                ("currency", "usd"),
                ("source", "tok_chargeDeclinedInsufficientFunds"),
            ],
        )
        .await;
    assert_eq!(r.status, 402, "{}", r.body);
    assert_eq!(r.err("type"), "card_error");
    assert_eq!(r.err("decline_code"), "insufficient_funds");
    let ch = r.err("charge").as_str().unwrap().to_string();
    let r = api.get(&format!("/v1/charges/{ch}")).await;
    assert_eq!(r.body["status"], "failed");
    assert_eq!(r.body["failure_code"], "card_declined");
    // 3DS-required cards cannot authenticate on a charge.
    let r = api
        .post(
            "/v1/charges",
            &[
                ("amount", "1000"),
                ("currency", "usd"),
                ("source", "pm_card_authenticationRequired"),
            ],
        )
        .await;
    assert_eq!(r.status, 402);
    assert_eq!(r.err("code"), "authentication_required");
    // Radar.
    let r = api
        .post(
            "/v1/charges",
            &[
                ("amount", "1000"),
                ("currency", "usd"),
                ("source", "pm_card_radarBlock"),
            ],
        )
        .await;
    assert_eq!(r.status, 402);
    assert_eq!(r.err("decline_code"), "fraudulent");
    let r = api
        .post(
            "/v1/charges",
            &[
                ("amount", "1000"),
                ("currency", "usd"),
                ("source", "pm_card_riskLevelElevated"),
            ],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["outcome"]["type"], "manual_review");
    assert!(r.body["review"].as_str().unwrap().starts_with("prv_"));
    // Events as for PaymentIntents.
    let r = api.get("/v1/events?type=charge.*&limit=100").await;
    let kinds: Vec<&str> = r.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds.iter().filter(|k| **k == "charge.succeeded").count(),
        2
    );
    assert_eq!(kinds.iter().filter(|k| **k == "charge.failed").count(), 3);
    // Missing source and customer.
    let r = api
        .post("/v1/charges", &[("amount", "1000"), ("currency", "usd")])
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(
        api.post(
            "/v1/charges",
            &[("currency", "usd"), ("source", "tok_visa")]
        )
        .await
        .err("param"),
        "amount"
    );
}

#[tokio::test]
async fn raw_card_manual_capture_and_customer_default() {
    let api = start().await;
    let card = [
        ("amount", "5000"),
        ("currency", "eur"),
        ("card[number]", "4000000000000077"),
        ("card[exp_month]", "12"),
        ("card[exp_year]", "2040"),
        ("card[cvc]", "123"),
        ("capture", "false"),
    ];
    let r = api.post("/v1/charges", &card).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["captured"], false);
    assert_eq!(r.body["amount_captured"], 0);
    assert_eq!(
        r.body["payment_method_details"]["card"]["checks"]["cvc_check"],
        "pass"
    );
    let ch = r.body["id"].as_str().unwrap().to_string();
    let r = api
        .post(&format!("/v1/charges/{ch}/capture"), &[("amount", "4000")])
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["captured"], true);
    assert_eq!(r.body["amount_captured"], 4000);
    let r = api.post(&format!("/v1/charges/{ch}/capture"), &[]).await;
    assert_eq!(r.err("code"), "charge_already_captured");
    let r = api
        .post(
            &format!("/v1/charges/{ch}"),
            &[("description", "updated"), ("metadata[a]", "b")],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["description"], "updated");
    let r = api.get("/v1/events?type=charge.updated").await;
    let ev = &r.body["data"][0]["data"];
    assert_eq!(ev["object"]["metadata"]["a"], "b");
    assert_eq!(ev["previous_attributes"]["description"], Value::Null);
    let r = api.get("/v1/events?type=charge.captured").await;
    assert_eq!(r.body["data"][0]["data"]["object"]["id"], ch.as_str());
    // Refund of an uncaptured legacy charge releases it.
    let r = api.post("/v1/charges", &card).await;
    let ch2 = r.body["id"].as_str().unwrap().to_string();
    let r = api.post("/v1/refunds", &[("charge", &ch2)]).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["amount"], 5000);
    assert_eq!(r.body["payment_intent"], Value::Null);
    // Raw numbers are refused when the account does not allow them.
    api.settings(&[("raw_card_data", "false")]).await;
    let r = api.post("/v1/charges", &card).await;
    assert_eq!(r.status, 400);
    // A PaymentIntent's charge is captured through the PaymentIntent.
    let r = api
        .pay("pm_card_visa", &[("capture_method", "manual")])
        .await;
    let pi_ch = r.body["latest_charge"].as_str().unwrap().to_string();
    let r = api.post(&format!("/v1/charges/{pi_ch}/capture"), &[]).await;
    assert_eq!(r.status, 400);
    // Customer's default PaymentMethod.
    let cus = api.customer().await;
    let r = api
        .post(
            "/v1/payment_methods/pm_card_mastercard/attach",
            &[("customer", &cus)],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = api
        .post(
            "/v1/charges",
            &[("amount", "700"), ("currency", "usd"), ("customer", &cus)],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["customer"], cus.as_str());
    assert_eq!(
        r.body["payment_method_details"]["card"]["brand"],
        "mastercard"
    );
}
