//! Customers and PaymentMethods.

mod common;

use common::start;

#[tokio::test]
async fn customer_crud_and_list() {
    let api = start().await;
    let r = api
        .post(
            "/v1/customers",
            &[
                ("email", "jenny@example.com"),
                ("name", "Jenny Rosen"),
                ("metadata[crm]", "42"),
                ("address[city]", "Berlin"),
            ],
        )
        .await;
    assert_eq!(r.status, 200);
    let c = &r.body;
    let id = c["id"].as_str().unwrap();
    assert!(id.starts_with("cus_"));
    assert_eq!(c["object"], "customer");
    assert_eq!(c["livemode"], false);
    assert_eq!(c["metadata"]["crm"], "42");
    assert_eq!(c["address"]["city"], "Berlin");
    assert!(c["address"]["line1"].is_null());
    assert!(c["created"].as_i64().unwrap() > 1_700_000_000);
    assert_eq!(
        c["invoice_settings"]["default_payment_method"],
        serde_json::Value::Null
    );

    let r = api
        .post(
            &format!("/v1/customers/{id}"),
            &[
                ("name", "J. Rosen"),
                ("metadata[crm]", ""),
                ("metadata[x]", "y"),
            ],
        )
        .await;
    assert_eq!(r.body["name"], "J. Rosen");
    assert_eq!(r.body["email"], "jenny@example.com");
    assert!(r.body["metadata"].get("crm").is_none());
    assert_eq!(r.body["metadata"]["x"], "y");

    let r = api
        .post("/v1/customers", &[("email", "not-an-email")])
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.err("param"), "email");

    api.customer().await;
    let r = api.get("/v1/customers?limit=1").await;
    assert_eq!(r.body["object"], "list");
    assert_eq!(r.body["data"].as_array().unwrap().len(), 1);
    assert_eq!(r.body["has_more"], true);
    let r = api.get("/v1/customers?email=jenny@example.com").await;
    assert_eq!(r.body["data"][0]["id"], id);

    let r = api.delete(&format!("/v1/customers/{id}")).await;
    assert_eq!(
        r.body,
        serde_json::json!({"id": id, "object": "customer", "deleted": true})
    );
    let r = api.get(&format!("/v1/customers/{id}")).await;
    assert_eq!(r.body["deleted"], true);
    assert_eq!(
        api.post(&format!("/v1/customers/{id}"), &[("name", "x")])
            .await
            .status,
        404
    );
}

async fn card(api: &common::Api, number: &str, cvc: &str) -> common::Resp {
    api.post(
        "/v1/payment_methods",
        &[
            ("type", "card"),
            ("card[number]", number),
            ("card[exp_month]", "12"),
            ("card[exp_year]", "2034"),
            ("card[cvc]", cvc),
        ],
    )
    .await
}

#[tokio::test]
async fn raw_cards_have_brand_funding_last4() {
    let api = start().await;
    let cases = [
        ("4242424242424242", "visa", "credit"),
        ("4000056655665556", "visa", "debit"),
        ("5555555555554444", "mastercard", "credit"),
        ("2223003122003222", "mastercard", "credit"),
        ("5200828282828210", "mastercard", "debit"),
        ("5105105105105100", "mastercard", "prepaid"),
        ("378282246310005", "amex", "credit"),
        ("371449635398431", "amex", "credit"),
        ("6011111111111117", "discover", "credit"),
        ("6011981111111113", "discover", "debit"),
        ("3056930009020004", "diners", "credit"),
        ("36227206271667", "diners", "credit"),
        ("3566002020360505", "jcb", "credit"),
        ("6200000000000005", "unionpay", "credit"),
        ("6200000000000047", "unionpay", "debit"),
        ("6205500000000000004", "unionpay", "credit"),
    ];
    for (pan, brand, funding) in cases {
        let cvc = if brand == "amex" { "1234" } else { "123" };
        let r = card(&api, pan, cvc).await;
        assert_eq!(r.status, 200, "{pan}: {}", r.body);
        let c = &r.body["card"];
        assert_eq!(c["brand"], brand, "{pan}");
        assert_eq!(c["funding"], funding, "{pan}");
        assert_eq!(c["last4"], &pan[pan.len() - 4..], "{pan}");
        assert_eq!(c["exp_month"], 12);
        assert_eq!(c["exp_year"], 2034);
        assert_eq!(c["checks"]["cvc_check"], "pass");
        assert_eq!(r.body["object"], "payment_method");
        assert_eq!(r.body["type"], "card");
        assert!(r.body["id"].as_str().unwrap().starts_with("pm_"));
    }
}

#[tokio::test]
async fn fingerprints_are_per_card_and_per_account() {
    let api = start().await;
    let a = card(&api, "4242424242424242", "123").await.body["card"]["fingerprint"].clone();
    let b = card(&api, "4242424242424242", "123").await.body["card"]["fingerprint"].clone();
    let c = card(&api, "5555555555554444", "123").await.body["card"]["fingerprint"].clone();
    let d = card(&api.with_key("sk_test_other"), "4242424242424242", "123")
        .await
        .body["card"]["fingerprint"]
        .clone();
    assert_eq!(a, b);
    assert_ne!(a, c);
    assert_ne!(a, d);
}

#[tokio::test]
async fn invalid_card_data_gives_card_errors() {
    let api = start().await;
    let r = card(&api, "4242424242424241", "123").await;
    assert_eq!(r.status, 402);
    assert_eq!(r.err("type"), "card_error");
    assert_eq!(r.err("code"), "incorrect_number");

    let r = api
        .post(
            "/v1/payment_methods",
            &[
                ("type", "card"),
                ("card[number]", "4242424242424242"),
                ("card[exp_month]", "13"),
                ("card[exp_year]", "2034"),
            ],
        )
        .await;
    assert_eq!(r.err("code"), "invalid_expiry_month");
    let r = api
        .post(
            "/v1/payment_methods",
            &[
                ("type", "card"),
                ("card[number]", "4242424242424242"),
                ("card[exp_month]", "1"),
                ("card[exp_year]", "2001"),
            ],
        )
        .await;
    assert_eq!(r.err("code"), "invalid_expiry_year");
    let r = card(&api, "4242424242424242", "12").await;
    assert_eq!(r.err("code"), "invalid_cvc");
    let r = api
        .post(
            "/v1/payment_methods",
            &[
                ("type", "card"),
                ("card[number]", "4242424242424242"),
                ("card[exp_year]", "2034"),
            ],
        )
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.err("code"), "parameter_missing");
    assert_eq!(r.err("param"), "card[exp_month]");
}

#[tokio::test]
async fn raw_card_data_switch() {
    let api = start().await;
    api.settings(&[("raw_card_data", "false")]).await;
    let r = card(&api, "4242424242424242", "123").await;
    assert_eq!(r.status, 400);
    assert!(r
        .err("message")
        .as_str()
        .unwrap()
        .starts_with("Sending credit card numbers directly to the Stripe API is generally unsafe"));
    // Tokens still work.
    let r = api
        .post(
            "/v1/payment_methods",
            &[("type", "card"), ("card[token]", "tok_visa")],
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["card"]["last4"], "4242");
}

#[tokio::test]
async fn attach_detach_list_and_update() {
    let api = start().await;
    let cus = api.customer().await;
    let pm = card(&api, "4242424242424242", "123").await.body["id"]
        .as_str()
        .unwrap()
        .to_string();

    let r = api
        .post(
            &format!("/v1/payment_methods/{pm}"),
            &[("card[exp_month]", "1")],
        )
        .await;
    assert_eq!(r.status, 400, "unattached PaymentMethods cannot be updated");

    let r = api
        .post(
            &format!("/v1/payment_methods/{pm}/attach"),
            &[("customer", &cus)],
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["customer"], cus.as_str());
    let r = api
        .post(
            "/v1/payment_methods/pm_card_mastercard/attach",
            &[("customer", &cus)],
        )
        .await;
    assert_eq!(r.status, 200);
    let mc = r.body["id"].as_str().unwrap().to_string();
    assert_ne!(mc, "pm_card_mastercard");
    assert_eq!(r.body["card"]["brand"], "mastercard");

    let r = api
        .get(&format!("/v1/customers/{cus}/payment_methods"))
        .await;
    assert_eq!(r.body["data"].as_array().unwrap().len(), 2);
    assert_eq!(r.body["data"][0]["id"], mc.as_str());
    let r = api
        .get(&format!("/v1/payment_methods?customer={cus}&type=card"))
        .await;
    assert_eq!(r.body["data"].as_array().unwrap().len(), 2);

    let r = api
        .post(
            &format!("/v1/payment_methods/{pm}"),
            &[
                ("card[exp_month]", "3"),
                ("card[exp_year]", "2035"),
                ("billing_details[name]", "Jenny"),
                ("billing_details[address][postal_code]", "10115"),
            ],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["card"]["exp_month"], 3);
    assert_eq!(r.body["card"]["exp_year"], 2035);
    assert_eq!(r.body["card"]["last4"], "4242");
    assert_eq!(r.body["billing_details"]["name"], "Jenny");
    assert_eq!(r.body["billing_details"]["address"]["postal_code"], "10115");

    let r = api
        .post(
            &format!("/v1/customers/{cus}"),
            &[("invoice_settings[default_payment_method]", &pm)],
        )
        .await;
    assert_eq!(
        r.body["invoice_settings"]["default_payment_method"],
        pm.as_str()
    );

    let r = api
        .post(&format!("/v1/payment_methods/{pm}/detach"), &[])
        .await;
    assert_eq!(r.status, 200);
    assert!(r.body["customer"].is_null());
    let r = api
        .post(&format!("/v1/payment_methods/{pm}/detach"), &[])
        .await;
    assert_eq!(r.status, 400);
    let r = api
        .get(&format!("/v1/customers/{cus}/payment_methods"))
        .await;
    assert_eq!(r.body["data"].as_array().unwrap().len(), 1);
    // A detached PaymentMethod can't be attached again.
    let r = api
        .post(
            &format!("/v1/payment_methods/{pm}/attach"),
            &[("customer", &cus)],
        )
        .await;
    assert_eq!(r.status, 400);
}

#[tokio::test]
async fn decline_cards_cannot_be_attached_but_0341_can() {
    let api = start().await;
    let cus = api.customer().await;
    for (tok, decline) in [
        ("pm_card_chargeDeclined", "generic_decline"),
        (
            "pm_card_visa_chargeDeclinedInsufficientFunds",
            "insufficient_funds",
        ),
        ("pm_card_chargeDeclinedExpiredCard", "expired_card"),
    ] {
        let r = api
            .post(
                &format!("/v1/payment_methods/{tok}/attach"),
                &[("customer", &cus)],
            )
            .await;
        assert_eq!(r.status, 402, "{tok}");
        assert_eq!(r.err("type"), "card_error");
        assert_eq!(r.err("decline_code"), decline);
    }
    let raw = card(&api, "4000000000000002", "123").await.body["id"]
        .as_str()
        .unwrap()
        .to_string();
    let r = api
        .post(
            &format!("/v1/payment_methods/{raw}/attach"),
            &[("customer", &cus)],
        )
        .await;
    assert_eq!(r.status, 402);
    let r = api
        .post(
            "/v1/payment_methods/pm_card_chargeCustomerFail/attach",
            &[("customer", &cus)],
        )
        .await;
    assert_eq!(r.status, 200);
    let pm = r.body["id"].as_str().unwrap().to_string();
    let r = api
        .pay(&pm, &[("customer", &cus), ("off_session", "true")])
        .await;
    assert_eq!(r.status, 402);
    assert_eq!(r.err("code"), "card_declined");
    assert_eq!(r.err("decline_code"), "generic_decline");
}
