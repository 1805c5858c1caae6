//! PaymentIntent parameters: descriptors, card options, gated params, Level 2/3.

mod common;

use common::start;

#[tokio::test]
async fn statement_descriptor_rules() {
    let api = start().await;
    let base = [("amount", "1000"), ("currency", "usd")];
    let with = |k: &'static str, v: &'static str| {
        let mut f = base.to_vec();
        f.push((k, v));
        f
    };
    let r = api
        .post(
            "/v1/payment_intents",
            &with("statement_descriptor", "MY SHOP"),
        )
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.err("param"), "statement_descriptor");

    for bad in [
        "12345",
        "ORDER <1>",
        "a*b",
        "THIS SUFFIX IS TOO LONG",
        "ÜBER ORDER",
        "ORDER 'X'",
    ] {
        let r = api
            .post(
                "/v1/payment_intents",
                &[
                    ("amount", "1000"),
                    ("currency", "usd"),
                    ("statement_descriptor_suffix", bad),
                ],
            )
            .await;
        assert_eq!(r.status, 400, "{bad}");
        assert_eq!(r.err("param"), "statement_descriptor_suffix", "{bad}");
    }
    // Prefix KASSA (5) leaves 15 characters for the suffix.
    let r = api
        .post(
            "/v1/payment_intents",
            &with("statement_descriptor_suffix", "ORDER 123456789"),
        )
        .await;
    assert_eq!(r.status, 200);
    let r = api
        .post(
            "/v1/payment_intents",
            &with("statement_descriptor_suffix", "ORDER 1234567890"),
        )
        .await;
    assert_eq!(r.status, 400);

    let r = api
        .pay(
            "pm_card_visa",
            &[("statement_descriptor_suffix", "Oct marathon")],
        )
        .await;
    let ch = r.body["latest_charge"].as_str().unwrap();
    let c = api.get(&format!("/v1/charges/{ch}")).await.body;
    assert_eq!(c["calculated_statement_descriptor"], "KASSA* OCT MARATHON");
    assert_eq!(c["statement_descriptor_suffix"], "Oct marathon");

    api.settings(&[("statement_descriptor_prefix", "RUNCLUB")])
        .await;
    let r = api
        .pay(
            "pm_card_visa",
            &[("statement_descriptor_suffix", "OCT MARATHON")],
        )
        .await;
    let ch = r.body["latest_charge"].as_str().unwrap();
    assert_eq!(
        api.get(&format!("/v1/charges/{ch}")).await.body["calculated_statement_descriptor"],
        "RUNCLUB* OCT MARATHON"
    );
}

#[tokio::test]
async fn confirm_only_params_need_confirm() {
    let api = start().await;
    for (k, v) in [
        ("off_session", "true"),
        ("return_url", "https://x.test/r"),
        ("error_on_requires_action", "true"),
    ] {
        let r = api
            .post(
                "/v1/payment_intents",
                &[("amount", "1000"), ("currency", "usd"), (k, v)],
            )
            .await;
        assert_eq!(r.status, 400, "{k}");
        assert_eq!(r.err("param"), k);
    }
    let r = api.pay("pm_card_visa", &[("off_session", "maybe")]).await;
    assert_eq!(r.status, 400);
}

#[tokio::test]
async fn card_options_and_gated_mit_exemption() {
    let api = start().await;
    let cus = api.customer().await;
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
    let mit = [
        ("customer", cus.as_str()),
        ("off_session", "recurring"),
        (
            "payment_method_options[card][mit_exemption][network_transaction_id]",
            "123456789012345",
        ),
    ];
    let r = api.pay(&pm, &mit).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.err("code"), "parameter_unknown");
    assert_eq!(
        r.err("param"),
        "payment_method_options[card][mit_exemption]"
    );
    assert_eq!(
        r.err("message"),
        "Received unknown parameter: payment_method_options[card][mit_exemption]"
    );
    api.settings(&[("mit_exemption", "true")]).await;
    let r = api.pay(&pm, &mit).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["status"], "succeeded");

    let r = api
        .pay(
            &pm,
            &[
                ("customer", &cus),
                ("off_session", "true"),
                (
                    "payment_method_options[card][stored_credential_usage]",
                    "recurring",
                ),
            ],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.body["payment_method_options"]["card"]["stored_credential_usage"],
        "recurring"
    );
    let r = api
        .pay(
            &pm,
            &[
                ("customer", &cus),
                ("setup_future_usage", "off_session"),
                (
                    "payment_method_options[card][stored_credential_usage]",
                    "recurring",
                ),
            ],
        )
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.err("param"),
        "payment_method_options[card][stored_credential_usage]"
    );
    let r = api
        .pay(
            "pm_card_visa",
            &[(
                "payment_method_options[card][setup_credential_usage]",
                "unscheduled",
            )],
        )
        .await;
    assert_eq!(r.status, 400);
    let r = api
        .pay(
            "pm_card_visa",
            &[
                ("customer", &cus),
                ("setup_future_usage", "off_session"),
                (
                    "payment_method_options[card][setup_credential_usage]",
                    "unscheduled",
                ),
            ],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = api
        .pay(
            "pm_card_visa",
            &[(
                "payment_method_options[card][request_three_d_secure]",
                "sometimes",
            )],
        )
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.err("param"),
        "payment_method_options[card][request_three_d_secure]"
    );
}

#[tokio::test]
async fn other_accepted_params_are_kept() {
    let api = start().await;
    let r = api
        .pay(
            "pm_card_visa",
            &[
                ("receipt_email", "r@example.com"),
                ("shipping[name]", "Jenny"),
                ("shipping[address][line1]", "1 Main St"),
                ("shipping[address][country]", "US"),
                ("radar_options[session]", "rse_123"),
                ("return_url", "https://shop.test/back"),
                ("payment_details[order_reference]", "ORDER-1"),
                ("expand[]", "latest_charge"),
                ("expand[]", "payment_method"),
            ],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["receipt_email"], "r@example.com");
    assert_eq!(r.body["shipping"]["name"], "Jenny");
    assert_eq!(r.body["shipping"]["address"]["line1"], "1 Main St");
    assert!(r.body["shipping"]["address"]["city"].is_null());
    assert_eq!(r.body["payment_details"]["order_reference"], "ORDER-1");
    assert_eq!(r.body["latest_charge"]["receipt_email"], "r@example.com");
    assert_eq!(r.body["payment_method"]["card"]["brand"], "visa");
    let r = api
        .pay("pm_card_visa", &[("shipping[address][line1]", "x")])
        .await;
    assert_eq!(r.err("code"), "parameter_missing");
    assert_eq!(r.err("param"), "shipping[name]");
    let r = api.pay("pm_card_visa", &[("expand[]", "nothing")]).await;
    assert_eq!(r.status, 400);
}

#[tokio::test]
async fn level2_level3_arithmetic() {
    let api = start().await;
    // 2 × 700 + 1 × 300 + tax 200 + shipping 100 = 2000.
    let good = [
        ("amount_details[line_items][0][product_name]", "Widget"),
        ("amount_details[line_items][0][product_code]", "W-1"),
        ("amount_details[line_items][0][quantity]", "2"),
        ("amount_details[line_items][0][unit_cost]", "700"),
        ("amount_details[line_items][1][product_name]", "Gadget"),
        ("amount_details[line_items][1][quantity]", "1"),
        ("amount_details[line_items][1][unit_cost]", "300"),
        ("amount_details[tax][total_tax_amount]", "200"),
        ("amount_details[shipping][amount]", "100"),
        ("amount_details[shipping][to_postal_code]", "94102"),
        ("payment_details[order_reference]", "ORD-1"),
    ];
    let r = api.pay("pm_card_visa", &good).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let items = &r.body["amount_details"]["line_items"]["data"];
    assert_eq!(items.as_array().unwrap().len(), 2);
    assert_eq!(items[0]["product_code"], "W-1");
    assert!(items[0]["id"].as_str().unwrap().starts_with("uli_"));
    assert_eq!(r.body["amount_details"]["tax"]["total_tax_amount"], 200);

    let mut bad = good.to_vec();
    bad[3] = ("amount_details[line_items][0][unit_cost]", "600");
    let r = api.pay("pm_card_visa", &bad).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.err("code"), "amount_details_amount_mismatch");

    bad.push(("amount_details[enforce_arithmetic_validation]", "false"));
    let r = api.pay("pm_card_visa", &bad).await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.body["amount_details"]["error"]["code"],
        "amount_details_amount_mismatch"
    );

    let mut long = good.to_vec();
    long[1] = (
        "amount_details[line_items][0][product_code]",
        "CODE-TOO-LONG",
    );
    assert_eq!(
        api.pay("pm_card_visa", &long).await.err("param"),
        "amount_details[line_items][0][product_code]"
    );
    let mut zero = good.to_vec();
    zero[2] = ("amount_details[line_items][0][quantity]", "0");
    assert_eq!(
        api.pay("pm_card_visa", &zero).await.err("param"),
        "amount_details[line_items][0][quantity]"
    );
    let mut both_tax = good.to_vec();
    both_tax.push(("amount_details[line_items][1][tax][total_tax_amount]", "0"));
    assert_eq!(api.pay("pm_card_visa", &both_tax).await.status, 400);
    let mut zip = good.to_vec();
    zip[9] = ("amount_details[shipping][to_postal_code]", "941020000000");
    assert_eq!(
        api.pay("pm_card_visa", &zip).await.err("param"),
        "amount_details[shipping][to_postal_code]"
    );
    let r = api
        .pay(
            "pm_card_visa",
            &[("amount_details[tax][total_tax_amount]", "2500")],
        )
        .await;
    assert_eq!(
        r.err("code"),
        "amount_details_tax_shipping_discount_greater_than_amount"
    );
}
