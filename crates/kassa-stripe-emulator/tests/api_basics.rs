//! Auth, errors, parameter validation, idempotency, account isolation, reset.

mod common;

use common::start;

#[tokio::test]
async fn missing_and_malformed_keys_are_401() {
    let api = start().await;
    let r = api
        .http
        .get(format!("{}/v1/customers", api.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["error"]["type"], "invalid_request_error");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .starts_with("You did not provide an API key"));

    for bad in ["sk_live_abc", "pk_test_abc", "sk_test_", "nonsense"] {
        let r = api.with_key(bad).get("/v1/customers").await;
        assert_eq!(r.status, 401, "{bad}");
        assert!(r
            .err("message")
            .as_str()
            .unwrap()
            .starts_with("Invalid API Key provided"));
    }
}

#[tokio::test]
async fn basic_auth_with_key_as_user_name_works() {
    let api = start().await;
    let id = api.customer().await;
    let r = api
        .http
        .get(format!("{}/v1/customers/{id}", api.base))
        .basic_auth(&api.key, Some(""))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn unknown_params_are_rejected_with_their_full_name() {
    let api = start().await;
    let r = api.post("/v1/customers", &[("nickname", "x")]).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.err("code"), "parameter_unknown");
    assert_eq!(r.err("param"), "nickname");
    assert_eq!(r.err("message"), "Received unknown parameter: nickname");

    let r = api
        .post(
            "/v1/payment_intents",
            &[
                ("amount", "1000"),
                ("currency", "usd"),
                ("payment_method_options[card][foo]", "1"),
            ],
        )
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.err("param"), "payment_method_options[card][foo]");

    let r = api
        .post(
            "/v1/payment_intents",
            &[
                ("amount", "1000"),
                ("currency", "usd"),
                ("amount_details[line_items][0][bogus]", "1"),
            ],
        )
        .await;
    assert_eq!(r.err("param"), "amount_details[line_items][0][bogus]");

    let r = api.get("/v1/charges?paymentintent=pi_x").await;
    assert_eq!(r.status, 400);
    assert_eq!(r.err("param"), "paymentintent");
}

#[tokio::test]
async fn missing_invalid_and_empty_params() {
    let api = start().await;
    let r = api
        .post("/v1/payment_intents", &[("currency", "usd")])
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.err("code"), "parameter_missing");
    assert_eq!(r.err("param"), "amount");
    assert_eq!(r.err("message"), "Missing required param: amount.");

    let r = api
        .post(
            "/v1/payment_intents",
            &[("amount", "12.5"), ("currency", "usd")],
        )
        .await;
    assert_eq!(r.err("code"), "parameter_invalid_integer");
    assert_eq!(r.err("param"), "amount");

    let r = api
        .post(
            "/v1/payment_intents",
            &[("amount", "1000"), ("currency", "")],
        )
        .await;
    assert_eq!(r.err("code"), "parameter_invalid_empty");
    assert_eq!(r.err("param"), "currency");

    let r = api
        .post(
            "/v1/payment_intents",
            &[("amount", "10"), ("currency", "usd")],
        )
        .await;
    assert_eq!(r.err("code"), "amount_too_small");

    let r = api
        .post(
            "/v1/payment_intents",
            &[
                ("amount", "1000"),
                ("currency", "usd"),
                ("capture_method", "later"),
            ],
        )
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.err("param"), "capture_method");
}

#[tokio::test]
async fn unknown_urls_and_objects_are_404() {
    let api = start().await;
    let r = api.get("/v1/nothing").await;
    assert_eq!(r.status, 404);
    assert!(r
        .err("message")
        .as_str()
        .unwrap()
        .starts_with("Unrecognized request URL (GET: /v1/nothing)"));
    let r = api.get("/v1/customers/cus_missing").await;
    assert_eq!(r.status, 404);
    assert_eq!(r.err("code"), "resource_missing");
    assert_eq!(r.err("message"), "No such customer: 'cus_missing'");
    assert_eq!(r.err("param"), "id");
}

#[tokio::test]
async fn keys_and_connected_accounts_are_isolated() {
    let api = start().await;
    let id = api.customer().await;
    assert_eq!(api.get(&format!("/v1/customers/{id}")).await.status, 200);
    let other = api.with_key("sk_test_two");
    assert_eq!(other.get(&format!("/v1/customers/{id}")).await.status, 404);
    let connected = api.with_account("acct_123");
    assert_eq!(
        connected.get(&format!("/v1/customers/{id}")).await.status,
        404
    );
    let cid = connected.customer().await;
    assert_eq!(
        connected.get(&format!("/v1/customers/{cid}")).await.status,
        200
    );
    assert_eq!(api.get(&format!("/v1/customers/{cid}")).await.status, 404);
    let r = api.with_account("bogus").get("/v1/customers").await;
    assert_eq!(r.status, 403);
}

#[tokio::test]
async fn reset_drops_data() {
    let api = start().await;
    let id = api.customer().await;
    let r = api
        .http
        .delete(format!("{}/_emulator/data", api.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(api.get(&format!("/v1/customers/{id}")).await.status, 404);
}

#[tokio::test]
async fn idempotent_replay_mismatch_and_concurrency() {
    let api = start().await;
    let form = [("amount", "1500"), ("currency", "usd")];
    let a = api.post_idem("/v1/payment_intents", &form, "k1").await;
    assert_eq!(a.status, 200);
    assert!(a.headers.get("idempotent-replayed").is_none());
    let b = api.post_idem("/v1/payment_intents", &form, "k1").await;
    assert_eq!(b.status, 200);
    assert_eq!(b.headers["idempotent-replayed"], "true");
    assert_eq!(a.body["id"], b.body["id"]);
    assert_eq!(
        api.get("/v1/payment_intents").await.body["data"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    let c = api
        .post_idem(
            "/v1/payment_intents",
            &[("amount", "1600"), ("currency", "usd")],
            "k1",
        )
        .await;
    assert_eq!(c.status, 400);
    assert_eq!(c.err("type"), "idempotency_error");

    // Same key under another API key is a different namespace.
    let d = api
        .with_key("sk_test_other")
        .post_idem("/v1/payment_intents", &form, "k1")
        .await;
    assert_eq!(d.status, 200);
    assert_ne!(d.body["id"], a.body["id"]);

    // Validation failures are not saved: the key can be reused.
    let e = api
        .post_idem("/v1/customers", &[("bogus", "1")], "k2")
        .await;
    assert_eq!(e.status, 400);
    let f = api
        .post_idem("/v1/customers", &[("email", "x@example.com")], "k2")
        .await;
    assert_eq!(f.status, 200);

    // Decline results are saved and replayed.
    let g = api
        .post_idem(
            "/v1/payment_intents",
            &[
                ("amount", "900"),
                ("currency", "usd"),
                ("payment_method", "pm_card_chargeDeclined"),
                ("confirm", "true"),
            ],
            "k3",
        )
        .await;
    assert_eq!(g.status, 402);
    let h = api
        .post_idem(
            "/v1/payment_intents",
            &[
                ("amount", "900"),
                ("currency", "usd"),
                ("payment_method", "pm_card_chargeDeclined"),
                ("confirm", "true"),
            ],
            "k3",
        )
        .await;
    assert_eq!(h.status, 402);
    assert_eq!(h.headers["idempotent-replayed"], "true");
    assert_eq!(
        g.body["error"]["payment_intent"]["id"],
        h.body["error"]["payment_intent"]["id"]
    );

    api.settings(&[("processing_delay_ms", "400")]).await;
    let (x, y) = tokio::join!(
        api.post_idem("/v1/customers", &[("name", "n")], "k4"),
        async {
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            api.post_idem("/v1/customers", &[("name", "n")], "k4").await
        }
    );
    assert_eq!(x.status, 200);
    assert_eq!(y.status, 409);
    assert_eq!(y.err("code"), "idempotency_key_in_use");
    assert_eq!(y.err("type"), "idempotency_error");
}

#[tokio::test]
async fn settings_endpoint_reports_and_changes_switches() {
    let api = start().await;
    let s = api.settings(&[]).await;
    assert_eq!(s["raw_card_data"], true);
    assert_eq!(s["mit_exemption"], false);
    let s = api
        .settings(&[("mit_exemption", "true"), ("raw_card_data", "false")])
        .await;
    assert_eq!(s["mit_exemption"], true);
    assert_eq!(s["raw_card_data"], false);
    // Connected accounts have their own switches.
    let s = api.with_account("acct_9").settings(&[]).await;
    assert_eq!(s["mit_exemption"], false);
}

#[tokio::test]
async fn metadata_rules() {
    let api = start().await;
    let r = api
        .post(
            "/v1/payment_intents",
            &[("amount", "10"), ("currency", "usd")],
        )
        .await;
    assert_eq!(r.err("message"), "Amount must be at least $0.50 usd");
    let long_key = "k".repeat(41);
    let r = api.post("/v1/customers", &[(long_key.as_str(), "x")]).await;
    assert_eq!(r.err("code"), "parameter_unknown");
    let key = format!("metadata[{long_key}]");
    let r = api.post("/v1/customers", &[(key.as_str(), "v")]).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.err("param"), key.as_str());
    let long_value = "v".repeat(501);
    let r = api
        .post("/v1/customers", &[("metadata[k]", long_value.as_str())])
        .await;
    assert_eq!(r.status, 400);
    let keys: Vec<String> = (0..51).map(|i| format!("metadata[k{i}]")).collect();
    let form: Vec<(&str, &str)> = keys.iter().map(|k| (k.as_str(), "v")).collect();
    let r = api.post("/v1/customers", &form).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.err("param"), "metadata");
    let r = api.post("/v1/customers", &form[..50]).await;
    assert_eq!(r.status, 200);
    let id = r.body["id"].as_str().unwrap();
    // `metadata=` unsets all keys.
    let r = api
        .post(&format!("/v1/customers/{id}"), &[("metadata", "")])
        .await;
    assert_eq!(r.body["metadata"], serde_json::json!({}));
    let r = api.post("/v1/customers", &[("metadata", "notahash")]).await;
    assert_eq!(r.status, 400);
    let r = api.post("/v1/customers", &[("metadata[a][b]", "x")]).await;
    assert_eq!(r.status, 400);
}

#[tokio::test]
async fn absurd_level3_numbers_do_not_crash() {
    let api = start().await;
    let big = i64::MAX.to_string();
    let r = api
        .pay(
            "pm_card_visa",
            &[
                ("amount_details[line_items][0][product_name]", "x"),
                ("amount_details[line_items][0][quantity]", big.as_str()),
                ("amount_details[line_items][0][unit_cost]", big.as_str()),
                ("amount_details[line_items][1][product_name]", "y"),
                ("amount_details[line_items][1][quantity]", big.as_str()),
                ("amount_details[line_items][1][unit_cost]", big.as_str()),
            ],
        )
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.err("code"), "amount_details_amount_mismatch");
    let r = api
        .post(
            "/v1/payment_intents",
            &[("amount", "99999999999999999999"), ("currency", "usd")],
        )
        .await;
    assert_eq!(r.err("code"), "parameter_invalid_integer");
}
