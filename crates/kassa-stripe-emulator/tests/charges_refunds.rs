//! Charges (retrieve, list) and refunds.

mod common;

use common::start;

#[tokio::test]
async fn charges_list_by_payment_intent() {
    let api = start().await;
    let r = api.pay("pm_card_chargeDeclined", &[]).await;
    let pi = r.err("payment_intent")["id"].as_str().unwrap().to_string();
    api.post(
        &format!("/v1/payment_intents/{pi}/confirm"),
        &[("payment_method", "pm_card_visa")],
    )
    .await;
    api.pay("pm_card_visa", &[]).await;
    let r = api.get(&format!("/v1/charges?payment_intent={pi}")).await;
    assert_eq!(r.status, 200);
    let data = r.body["data"].as_array().unwrap();
    assert_eq!(data.len(), 2);
    assert_eq!(data[0]["status"], "succeeded");
    assert_eq!(data[1]["status"], "failed");
    assert!(data.iter().all(|c| c["payment_intent"] == pi.as_str()));
    assert_eq!(
        api.get("/v1/charges").await.body["data"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
    let r = api
        .get(&format!(
            "/v1/charges?payment_intent={pi}&expand[]=data.payment_intent"
        ))
        .await;
    assert_eq!(r.body["data"][0]["payment_intent"]["id"], pi.as_str());
    assert_eq!(api.get("/v1/charges/ch_nope").await.status, 404);
}

#[tokio::test]
async fn full_and_partial_refunds() {
    let api = start().await;
    let r = api.pay("pm_card_visa", &[]).await;
    let pi = r.body["id"].as_str().unwrap().to_string();
    let ch = r.body["latest_charge"].as_str().unwrap().to_string();

    let r = api
        .post(
            "/v1/refunds",
            &[
                ("payment_intent", &pi),
                ("amount", "500"),
                ("reason", "requested_by_customer"),
                ("metadata[ticket]", "7"),
            ],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let re = &r.body;
    assert!(re["id"].as_str().unwrap().starts_with("re_"));
    assert_eq!(re["object"], "refund");
    assert_eq!(re["amount"], 500);
    assert_eq!(re["charge"], ch.as_str());
    assert_eq!(re["payment_intent"], pi.as_str());
    assert_eq!(re["status"], "succeeded");
    assert_eq!(re["reason"], "requested_by_customer");
    assert_eq!(re["metadata"]["ticket"], "7");
    let re_id = re["id"].as_str().unwrap().to_string();

    let c = api.get(&format!("/v1/charges/{ch}")).await.body;
    assert_eq!(c["amount_refunded"], 500);
    assert_eq!(c["refunded"], false);
    assert_eq!(c["refunds"]["data"][0]["id"], re_id.as_str());

    let r = api
        .post("/v1/refunds", &[("charge", &ch), ("amount", "1600")])
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.err("code"), "amount_too_large");
    assert_eq!(r.err("param"), "amount");

    let r = api.post("/v1/refunds", &[("charge", &ch)]).await;
    assert_eq!(r.body["amount"], 1500, "defaults to the rest");
    let c = api.get(&format!("/v1/charges/{ch}")).await.body;
    assert_eq!(c["amount_refunded"], 2000);
    assert_eq!(c["refunded"], true);

    let r = api
        .post("/v1/refunds", &[("charge", &ch), ("amount", "1")])
        .await;
    assert_eq!(r.err("code"), "charge_already_refunded");

    assert_eq!(
        api.get(&format!("/v1/refunds/{re_id}")).await.body["amount"],
        500
    );
    let r = api.get(&format!("/v1/refunds?charge={ch}")).await;
    assert_eq!(r.body["data"].as_array().unwrap().len(), 2);
    let r = api
        .get(&format!("/v1/refunds/{re_id}?expand[]=charge"))
        .await;
    assert_eq!(r.body["charge"]["id"], ch.as_str());

    let r = api.post("/v1/refunds", &[]).await;
    assert_eq!(r.status, 400);
    let r = api.post("/v1/refunds", &[("charge", "ch_missing")]).await;
    assert_eq!(r.err("code"), "resource_missing");
}

#[tokio::test]
async fn refunds_never_exceed_the_captured_amount() {
    let api = start().await;
    let r = api
        .pay("pm_card_visa", &[("capture_method", "manual")])
        .await;
    let pi = r.body["id"].as_str().unwrap().to_string();
    // Uncaptured: cannot refund.
    assert_eq!(
        api.post("/v1/refunds", &[("payment_intent", &pi)])
            .await
            .status,
        400
    );
    api.post(
        &format!("/v1/payment_intents/{pi}/capture"),
        &[("amount_to_capture", "1200")],
    )
    .await;
    let r = api
        .post(
            "/v1/refunds",
            &[("payment_intent", &pi), ("amount", "1300")],
        )
        .await;
    assert_eq!(r.err("code"), "amount_too_large");
    let r = api.post("/v1/refunds", &[("payment_intent", &pi)]).await;
    assert_eq!(r.body["amount"], 1200);

    // Failed payments have nothing to refund.
    let r = api.pay("pm_card_chargeDeclined", &[]).await;
    let pi = r.err("payment_intent")["id"].as_str().unwrap().to_string();
    assert_eq!(
        api.post("/v1/refunds", &[("payment_intent", &pi)])
            .await
            .status,
        400
    );
}

#[tokio::test]
async fn pending_refund_card() {
    let api = start().await;
    let r = api.pay("pm_card_pendingRefund", &[]).await;
    let pi = r.body["id"].as_str().unwrap();
    let r = api.post("/v1/refunds", &[("payment_intent", pi)]).await;
    assert_eq!(r.body["status"], "pending");
}
