//! PaymentIntent lifecycle, parameters, state machine, search.

mod common;

use common::start;
use serde_json::Value;

#[tokio::test]
async fn create_then_confirm_automatic_capture() {
    let api = start().await;
    let r = api
        .post(
            "/v1/payment_intents",
            &[
                ("amount", "2000"),
                ("currency", "USD"),
                ("description", "order 1"),
                ("metadata[order]", "1"),
            ],
        )
        .await;
    assert_eq!(r.status, 200);
    let pi = &r.body;
    let id = pi["id"].as_str().unwrap().to_string();
    assert!(id.starts_with("pi_"));
    assert_eq!(pi["object"], "payment_intent");
    assert_eq!(pi["status"], "requires_payment_method");
    assert_eq!(pi["currency"], "usd");
    assert_eq!(pi["amount_capturable"], 0);
    assert_eq!(pi["amount_received"], 0);
    assert!(pi["client_secret"]
        .as_str()
        .unwrap()
        .starts_with(&format!("{id}_secret_")));
    assert_eq!(pi["payment_method_types"][0], "card");

    let r = api
        .post(
            &format!("/v1/payment_intents/{id}"),
            &[("payment_method", "pm_card_visa")],
        )
        .await;
    assert_eq!(r.body["status"], "requires_confirmation");

    let r = api
        .post(
            &format!("/v1/payment_intents/{id}/confirm"),
            &[("expand[]", "latest_charge")],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["status"], "succeeded");
    assert_eq!(r.body["amount_received"], 2000);
    let ch = &r.body["latest_charge"];
    assert!(ch["id"].as_str().unwrap().starts_with("ch_"));
    assert_eq!(ch["amount_captured"], 2000);
    assert_eq!(ch["captured"], true);
    assert_eq!(ch["paid"], true);
    assert_eq!(ch["status"], "succeeded");
    assert_eq!(ch["description"], "order 1");
    assert_eq!(ch["outcome"]["type"], "authorized");
    assert_eq!(ch["outcome"]["network_status"], "approved_by_network");
    assert_eq!(ch["outcome"]["risk_level"], "normal");
    assert!(ch["outcome"]["risk_score"].as_i64().unwrap() < 65);
    assert_eq!(ch["outcome"]["seller_message"], "Payment complete.");
    let card = &ch["payment_method_details"]["card"];
    assert_eq!(card["brand"], "visa");
    assert_eq!(card["last4"], "4242");
    assert_eq!(card["network_transaction_id"].as_str().unwrap().len(), 15);
    assert!(card["three_d_secure"].is_null());
    assert_eq!(ch["calculated_statement_descriptor"], "KASSA TEST");
    assert_eq!(ch["refunded"], false);
    assert_eq!(ch["disputed"], false);

    // A succeeded intent cannot be confirmed again.
    let r = api
        .post(&format!("/v1/payment_intents/{id}/confirm"), &[])
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.err("code"), "payment_intent_unexpected_state");
    assert_eq!(r.err("payment_intent")["id"], id.as_str());
    // Nor canceled, nor captured.
    assert_eq!(
        api.post(&format!("/v1/payment_intents/{id}/cancel"), &[])
            .await
            .err("code"),
        "payment_intent_unexpected_state"
    );
    assert_eq!(
        api.post(&format!("/v1/payment_intents/{id}/capture"), &[])
            .await
            .err("code"),
        "payment_intent_unexpected_state"
    );
    // Metadata can still change; the amount can't.
    assert_eq!(
        api.post(
            &format!("/v1/payment_intents/{id}"),
            &[("metadata[x]", "1")]
        )
        .await
        .status,
        200
    );
    assert_eq!(
        api.post(&format!("/v1/payment_intents/{id}"), &[("amount", "5000")])
            .await
            .err("code"),
        "payment_intent_unexpected_state"
    );
}

#[tokio::test]
async fn manual_capture_partial_and_cancel() {
    let api = start().await;
    let r = api
        .pay("pm_card_mastercard", &[("capture_method", "manual")])
        .await;
    assert_eq!(r.body["status"], "requires_capture");
    assert_eq!(r.body["amount_capturable"], 2000);
    let id = r.body["id"].as_str().unwrap().to_string();
    let ch = r.body["latest_charge"].as_str().unwrap().to_string();
    let c = api.get(&format!("/v1/charges/{ch}")).await.body;
    assert_eq!(c["captured"], false);
    assert_eq!(c["amount_captured"], 0);
    assert!(
        c["payment_method_details"]["card"]["capture_before"]
            .as_i64()
            .unwrap()
            > c["created"].as_i64().unwrap()
    );

    let r = api
        .post(
            &format!("/v1/payment_intents/{id}/capture"),
            &[("amount_to_capture", "2500")],
        )
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.err("param"), "amount_to_capture");
    let r = api
        .post(
            &format!("/v1/payment_intents/{id}/capture"),
            &[("amount_to_capture", "1500")],
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["status"], "succeeded");
    assert_eq!(r.body["amount_received"], 1500);
    assert_eq!(r.body["amount_capturable"], 0);
    let c = api.get(&format!("/v1/charges/{ch}")).await.body;
    assert_eq!(c["captured"], true);
    assert_eq!(c["amount_captured"], 1500);
    assert_eq!(c["amount"], 2000);
    let r = api
        .post(&format!("/v1/payment_intents/{id}/capture"), &[])
        .await;
    assert_eq!(r.err("code"), "payment_intent_unexpected_state");

    // Cancel an authorization: released, charge refunded.
    let r = api
        .pay("pm_card_visa", &[("capture_method", "manual")])
        .await;
    let id = r.body["id"].as_str().unwrap().to_string();
    let r = api
        .post(
            &format!("/v1/payment_intents/{id}/cancel"),
            &[("cancellation_reason", "requested_by_customer")],
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["status"], "canceled");
    assert_eq!(r.body["cancellation_reason"], "requested_by_customer");
    assert!(r.body["canceled_at"].is_i64());
    let ch = r.body["latest_charge"].as_str().unwrap();
    let c = api.get(&format!("/v1/charges/{ch}")).await.body;
    assert_eq!(c["refunded"], true);
    assert_eq!(c["amount_refunded"], 2000);
    let r = api
        .post(&format!("/v1/payment_intents/{id}/cancel"), &[])
        .await;
    assert_eq!(r.err("code"), "payment_intent_unexpected_state");
    let r = api
        .post(&format!("/v1/payment_intents/{id}/confirm"), &[])
        .await;
    assert_eq!(r.err("code"), "payment_intent_unexpected_state");

    let r = api
        .post(
            "/v1/payment_intents",
            &[("amount", "1000"), ("currency", "usd")],
        )
        .await;
    let id = r.body["id"].as_str().unwrap();
    let r = api
        .post(
            &format!("/v1/payment_intents/{id}/cancel"),
            &[("cancellation_reason", "bored")],
        )
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.err("param"), "cancellation_reason");
    let r = api
        .post(&format!("/v1/payment_intents/{id}/confirm"), &[])
        .await;
    assert_eq!(r.status, 400, "no payment method");
    let r = api
        .post(
            &format!("/v1/payment_intents/{id}/cancel"),
            &[("cancellation_reason", "abandoned")],
        )
        .await;
    assert_eq!(r.body["status"], "canceled");
}

#[tokio::test]
async fn card_level_manual_capture_override() {
    let api = start().await;
    let r = api
        .pay(
            "pm_card_visa",
            &[("payment_method_options[card][capture_method]", "manual")],
        )
        .await;
    assert_eq!(r.body["status"], "requires_capture");
}

#[tokio::test]
async fn list_and_search_by_metadata() {
    let api = start().await;
    let cus = api.customer().await;
    for i in 0..3 {
        let order = i.to_string();
        api.post(
            "/v1/payment_intents",
            &[
                ("amount", "1000"),
                ("currency", "usd"),
                ("metadata[order]", &order),
                ("customer", &cus),
            ],
        )
        .await;
    }
    api.post(
        "/v1/payment_intents",
        &[
            ("amount", "1000"),
            ("currency", "usd"),
            ("metadata[order]", "1"),
        ],
    )
    .await;
    let r = api.get("/v1/payment_intents?limit=2").await;
    assert_eq!(r.body["data"].as_array().unwrap().len(), 2);
    assert_eq!(r.body["has_more"], true);
    let last = r.body["data"][1]["id"].as_str().unwrap().to_string();
    let r = api
        .get(&format!(
            "/v1/payment_intents?limit=10&starting_after={last}"
        ))
        .await;
    assert_eq!(r.body["data"].as_array().unwrap().len(), 2);
    let r = api
        .get(&format!("/v1/payment_intents?customer={cus}"))
        .await;
    assert_eq!(r.body["data"].as_array().unwrap().len(), 3);

    let r = api
        .get("/v1/payment_intents/search?query=metadata%5B%27order%27%5D%3A%271%27")
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["object"], "search_result");
    assert_eq!(r.body["data"].as_array().unwrap().len(), 2);
    for pi in r.body["data"].as_array().unwrap() {
        assert_eq!(pi["metadata"]["order"], "1");
    }
    let q = format!("metadata['order']:'1' AND customer:'{cus}'");
    let r = api
        .get(&format!(
            "/v1/payment_intents/search?query={}",
            urlencode(&q)
        ))
        .await;
    assert_eq!(r.body["data"].as_array().unwrap().len(), 1);
    let r = api.get("/v1/payment_intents/search?query=amount%3E3").await;
    assert_eq!(r.status, 400);
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'_' | b'-' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[tokio::test]
async fn payment_method_ownership_and_reuse() {
    let api = start().await;
    let cus = api.customer().await;
    let other = api.customer().await;
    let pm = api
        .post(
            "/v1/payment_methods/pm_card_visa/attach",
            &[("customer", &cus)],
        )
        .await
        .body["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        api.pay(&pm, &[]).await.status,
        400,
        "attached PM without customer"
    );
    assert_eq!(
        api.pay(&pm, &[("customer", &other)]).await.status,
        400,
        "someone else's PM"
    );
    assert_eq!(api.pay(&pm, &[("customer", &cus)]).await.status, 200);
    assert_eq!(
        api.pay(&pm, &[("customer", &cus)]).await.status,
        200,
        "attached PMs are reusable"
    );

    let raw = api
        .post(
            "/v1/payment_methods",
            &[("type", "card"), ("card[token]", "tok_visa")],
        )
        .await
        .body["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(api.pay(&raw, &[]).await.status, 200);
    assert_eq!(
        api.pay(&raw, &[]).await.status,
        400,
        "unattached PMs are single-use"
    );

    // setup_future_usage attaches to the customer.
    let r = api
        .pay(
            "pm_card_visa",
            &[("customer", &cus), ("setup_future_usage", "off_session")],
        )
        .await;
    let pm = r.body["payment_method"].as_str().unwrap();
    assert_eq!(
        api.get(&format!("/v1/payment_methods/{pm}")).await.body["customer"],
        cus.as_str()
    );
}

#[tokio::test]
async fn payment_method_data_and_updates() {
    let api = start().await;
    let r = api
        .post(
            "/v1/payment_intents",
            &[
                ("amount", "3000"),
                ("currency", "eur"),
                ("confirm", "true"),
                ("payment_method_data[type]", "card"),
                ("payment_method_data[card][number]", "5555555555554444"),
                ("payment_method_data[card][exp_month]", "4"),
                ("payment_method_data[card][exp_year]", "2033"),
                ("payment_method_data[card][cvc]", "321"),
                ("payment_method_data[billing_details][name]", "Max"),
            ],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["status"], "succeeded");
    let pm = r.body["payment_method"].as_str().unwrap();
    let pm = api.get(&format!("/v1/payment_methods/{pm}")).await.body;
    assert_eq!(pm["card"]["brand"], "mastercard");
    assert_eq!(pm["billing_details"]["name"], "Max");

    let r = api
        .post(
            "/v1/payment_intents",
            &[
                ("amount", "3000"),
                ("currency", "eur"),
                ("payment_method_data[type]", "card"),
                ("payment_method_data[card][number]", "4242424242424241"),
                ("payment_method_data[card][exp_month]", "4"),
                ("payment_method_data[card][exp_year]", "2033"),
            ],
        )
        .await;
    assert_eq!(r.status, 402);
    assert_eq!(r.err("code"), "incorrect_number");
    assert_eq!(r.err("param"), "payment_method_data[number]");

    // Updates while open; changing the payment method resets requires_action.
    let r = api.pay("pm_card_threeDSecure2Required", &[]).await;
    assert_eq!(r.body["status"], "requires_action");
    let id = r.body["id"].as_str().unwrap();
    let r = api
        .post(
            &format!("/v1/payment_intents/{id}"),
            &[
                ("payment_method", "pm_card_visa"),
                ("amount", "2500"),
                ("currency", "gbp"),
            ],
        )
        .await;
    assert_eq!(r.body["status"], "requires_confirmation");
    assert_eq!(r.body["amount"], 2500);
    assert_eq!(r.body["currency"], "gbp");
    assert!(r.body["next_action"].is_null());
    let r = api
        .post(&format!("/v1/payment_intents/{id}/confirm"), &[])
        .await;
    assert_eq!(r.body["status"], "succeeded");
    assert_eq!(r.body["amount_received"], 2500);
    let r = api
        .get(&format!(
            "/v1/payment_intents/{id}?expand[]=latest_charge.payment_method"
        ))
        .await;
    assert_eq!(
        r.body["latest_charge"]["payment_method"]["id"],
        r.body["payment_method"]
    );
    assert_eq!(
        r.body["latest_charge"]["payment_method"]["object"],
        "payment_method"
    );
}

#[tokio::test]
async fn asynchronous_processing_answers_processing_then_settles() {
    let api = start().await;
    api.settings(&[("async_processing_ms", "100")]).await;
    let r = api.pay("pm_card_visa", &[]).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["status"], "processing");
    assert!(r.body["latest_charge"].is_null());
    let id = r.body["id"].as_str().unwrap().to_string();
    // Nothing can be done to it meanwhile.
    let cancel = api
        .post(&format!("/v1/payment_intents/{id}/cancel"), &[])
        .await;
    assert_eq!(cancel.err("code"), "payment_intent_unexpected_state");
    let declined = api.pay("pm_card_chargeDeclined", &[]).await;
    assert_eq!(declined.body["status"], "processing", "{}", declined.body);
    let declined_id = declined.body["id"].as_str().unwrap().to_string();
    let mut settled = Value::Null;
    for _ in 0..100 {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        settled = api.get(&format!("/v1/payment_intents/{id}")).await.body;
        if settled["status"] != "processing" {
            break;
        }
    }
    assert_eq!(settled["status"], "succeeded", "{settled}");
    assert!(settled["latest_charge"].is_string());
    let failed = api
        .get(&format!("/v1/payment_intents/{declined_id}"))
        .await
        .body;
    assert_eq!(failed["status"], "requires_payment_method");
    assert_eq!(
        failed["last_payment_error"]["decline_code"],
        "generic_decline"
    );
    let evs = api.get("/v1/events?type=payment_intent.*").await.body;
    let kinds: Vec<&str> = evs["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["data"]["object"]["id"] == id.as_str())
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "payment_intent.succeeded",
            "payment_intent.processing",
            "payment_intent.created"
        ]
    );
    let ev = evs["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| {
            e["type"] == "payment_intent.succeeded" && e["data"]["object"]["id"] == id.as_str()
        })
        .unwrap();
    assert!(ev["request"]["id"].is_null(), "Stripe's own change: {ev}");
}
