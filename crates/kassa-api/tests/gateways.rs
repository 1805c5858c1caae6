//! `/v1/gateways`, black-box over HTTP.

use kassa_testkit::{StatusCode, TestApp, SECRET_KEY};
use serde_json::{json, Value};

fn full_gateway() -> Value {
    json!({
        "type": "stripe_v2",
        "title": "Main US",
        "secret_key": SECRET_KEY,
        "public_key": "pk_test_TYooMQauvdEDq54NiTphI7jx",
        "send_product_name": true,
        "send_product_as_suffix": true,
        "send_upsell_token": true,
        "send_radar_sessions": true,
        "disable_phone": true,
        "disable_email": true,
        "disable_email_receipt": true,
        "do_not_send_address": true,
        "do_not_send_descriptor": false,
        "connected_account": true,
        "descriptor_suffix": "GOLD",
        "customer_service": {"phone": "+1 800 555 0199", "email": "help@shop.example", "url": "https://shop.example/help"},
        "limits": {"monthly_cap": 5000000, "include_refunds": true, "discount_rate": "2.95", "reserve_rate": 10, "transaction_fee": 30, "chargeback_fee": 1500, "currency": "usd"},
        "descriptor": "RUNCLUB",
        "mid_number": "acct_1032D82eZvKYlo2C",
        "webhook_secrets": ["whsec_aaaaaaaaaaaaaaaa1111", "whsec_bbbbbbbbbbbbbbbb2222"],
        "soft_descriptor": "OCT MARATHON",
        "fraud": {"send_fraud_scoring_request": true, "change_status_on_fraud_scoring_failure": true, "status_on_fraud_scoring_failure": "fraud_blocked", "change_status_on_fraud_scoring_review": true, "status_on_fraud_scoring_review": "fraud_review"},
        "three_ds": {"termination_url": "https://shop.example/3ds/done"}
    })
}

#[tokio::test]
async fn create_with_every_seed_field_and_read_back() {
    let app = TestApp::spawn().await;
    let r = app.post("/v1/gateways", &full_gateway()).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let g = &r.body;
    assert_eq!(g["object"], "gateway");
    assert_eq!(g["type"], "stripe_v2");
    assert_eq!(g["status"], "active");
    assert_eq!(g["secret_key"], "sk_test_…p7dc");
    assert_eq!(g["webhook_secrets"], json!(["whsec_…1111", "whsec_…2222"]));
    assert_eq!(g["limits"]["discount_rate"], "2.95");
    assert_eq!(g["limits"]["reserve_rate"], "10");
    assert_eq!(g["limits"]["monthly_cap"], 5_000_000);
    assert_eq!(g["mid_number"], "acct_1032D82eZvKYlo2C");
    assert_eq!(g["fraud"]["status_on_fraud_scoring_review"], "fraud_review");
    assert_eq!(
        g["three_ds"]["termination_url"],
        "https://shop.example/3ds/done"
    );
    assert_eq!(g["customer_service"]["email"], "help@shop.example");
    for flag in [
        "send_product_name",
        "send_product_as_suffix",
        "send_upsell_token",
        "send_radar_sessions",
        "disable_phone",
        "disable_email",
        "disable_email_receipt",
        "do_not_send_address",
        "connected_account",
    ] {
        assert_eq!(g[flag], true, "{flag}");
    }
    assert_eq!(g["do_not_send_descriptor"], false);
    let id = g["id"].as_i64().unwrap();
    let again = app.get(&format!("/v1/gateways/{id}")).await;
    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(&again.body, g);
}

#[tokio::test]
async fn validation_names_the_field() {
    let app = TestApp::spawn().await;
    let cases: Vec<(Value, &str)> = vec![
        (json!({"title": "x", "secret_key": SECRET_KEY}), "type"),
        (
            json!({"type": "paypal", "title": "x", "secret_key": SECRET_KEY}),
            "type",
        ),
        (json!({"type": "stripe_v2", "title": "x"}), "secret_key"),
        (
            json!({"type": "stripe_v2", "title": "x", "secret_key": "pk_test_abcdefgh123"}),
            "secret_key",
        ),
        (
            json!({"type": "stripe_v2", "secret_key": SECRET_KEY}),
            "title",
        ),
        (
            json!({"type": "stripe_v2", "title": "x", "secret_key": SECRET_KEY, "send_radar_sessions": true}),
            "public_key",
        ),
        (
            json!({"type": "stripe_v2", "title": "x", "secret_key": SECRET_KEY, "connected_account": true, "mid_number": "123"}),
            "mid_number",
        ),
        (
            json!({"type": "stripe_v2", "title": "x", "secret_key": SECRET_KEY, "limits": {"discount_rate": "2.12345"}}),
            "limits.discount_rate",
        ),
        (
            json!({"type": "stripe_v2", "title": "x", "secret_key": SECRET_KEY, "limits": {"reserve_rate": 100.5}}),
            "limits.reserve_rate",
        ),
        (
            json!({"type": "stripe_v2", "title": "x", "secret_key": SECRET_KEY, "soft_descriptor": "BAD<ONE>"}),
            "soft_descriptor",
        ),
        (
            json!({"type": "stripe_v2", "title": "x", "secret_key": SECRET_KEY, "descriptor": "RUNCLUB", "soft_descriptor": "MUCH TOO LONG SUFFIX"}),
            "soft_descriptor",
        ),
        (
            json!({"type": "stripe_v2", "title": "x", "secret_key": SECRET_KEY, "webhook_secrets": ["whsec_aaaaaaaaaaaa", "nope"]}),
            "webhook_secrets[1]",
        ),
        (
            json!({"type": "stripe_v2", "title": "x", "secret_key": SECRET_KEY, "fraud": {"change_status_on_fraud_scoring_failure": true}}),
            "fraud.status_on_fraud_scoring_failure",
        ),
        (
            json!({"type": "stripe_v2", "title": "x", "secret_key": SECRET_KEY, "create_customer": true}),
            "create_customer",
        ),
        (
            json!({"type": "stripe_v2", "title": "x", "secret_key": SECRET_KEY, "surprise": 1}),
            "surprise",
        ),
        (
            json!({"type": "stripe_v2", "title": "x", "secret_key": SECRET_KEY, "customer_service": {"email": "nope"}}),
            "customer_service.email",
        ),
    ];
    for (body, param) in cases {
        let r = app.post("/v1/gateways", &body).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{body} → {:?}", r.body);
        assert_eq!(r.param(), Some(param), "{body} → {:?}", r.body);
        assert_eq!(r.body["error"]["type"], "invalid_request_error");
        assert!(r.body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()));
    }
    // Nothing half-written: no gateway and no audit entry exist.
    let list = app.get("/v1/gateways").await;
    assert_eq!(list.body["data"], json!([]));
    let audit = app.get("/v1/audit_events").await;
    assert_eq!(audit.body["data"], json!([]));
}

#[tokio::test]
async fn stripe_v1_is_legacy() {
    let app = TestApp::spawn().await;
    let body = json!({"type": "stripe_v1", "title": "Old", "secret_key": SECRET_KEY, "create_customer": true});
    let r = app.post("/v1/gateways", &body).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.code(), Some("legacy_gateway_type"));
    assert!(r.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("stripe_v2"));
    let mut import = body.clone();
    import["legacy_import"] = json!(true);
    let r = app.post("/v1/gateways", &import).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    assert_eq!(r.body["type"], "stripe_v1");
    assert_eq!(r.body["create_customer"], true);
}

#[tokio::test]
async fn patch_merges_and_replaces_secrets() {
    let app = TestApp::spawn().await;
    let g = app.post("/v1/gateways", &full_gateway()).await.body;
    let id = g["id"].as_i64().unwrap();
    let r = app
        .patch(&format!("/v1/gateways/{id}"), &json!({"title": "Renamed", "limits": {"monthly_cap": null, "transaction_fee": 45}, "secret_key": "sk_live_newkeyvalue99998888", "public_key": "pk_live_TYooMQauvdEDq54NiTphI7jx", "webhook_secrets": ["whsec_cccccccccccccccc3333"]}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["title"], "Renamed");
    assert_eq!(r.body["limits"]["monthly_cap"], Value::Null);
    assert_eq!(r.body["limits"]["transaction_fee"], 45);
    assert_eq!(
        r.body["limits"]["discount_rate"], "2.95",
        "untouched fields stay"
    );
    assert_eq!(r.body["secret_key"], "sk_live_…8888");
    assert_eq!(r.body["webhook_secrets"], json!(["whsec_…3333"]));
    // The whole result is validated: turning on connected accounts without a MID fails.
    let r = app
        .patch(&format!("/v1/gateways/{id}"), &json!({"mid_number": null}))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.param(), Some("mid_number"));
    let r = app
        .patch(&format!("/v1/gateways/{id}"), &json!({"type": "stripe_v1"}))
        .await;
    assert_eq!(r.param(), Some("type"));
    let r = app
        .patch(&format!("/v1/gateways/{id}"), &json!({"secret_key": null}))
        .await;
    assert_eq!(r.param(), Some("secret_key"));
    // A failed patch changed nothing.
    let now = app.get(&format!("/v1/gateways/{id}")).await.body;
    assert_eq!(now["mid_number"], "acct_1032D82eZvKYlo2C");
}

#[tokio::test]
async fn duplicate_for_another_descriptor_suffix() {
    let app = TestApp::spawn().await;
    let g = app.post("/v1/gateways", &full_gateway()).await.body;
    let id = g["id"].as_i64().unwrap();
    let r = app
        .post(
            &format!("/v1/gateways/{id}/duplicate"),
            &json!({"descriptor_suffix": "SILVER"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let copy = &r.body;
    assert_ne!(copy["id"], g["id"]);
    assert_eq!(copy["descriptor_suffix"], "SILVER");
    assert_eq!(copy["title"], "Main US (copy)");
    assert_eq!(copy["secret_key"], g["secret_key"]);
    assert_eq!(copy["webhook_secrets"], g["webhook_secrets"]);
    assert_eq!(copy["limits"], g["limits"]);
    // The source is untouched.
    assert_eq!(
        app.get(&format!("/v1/gateways/{id}")).await.body["descriptor_suffix"],
        "GOLD"
    );
    // Overrides are validated like any change.
    let r = app
        .post(
            &format!("/v1/gateways/{id}/duplicate"),
            &json!({"descriptor_suffix": "NO*STAR"}),
        )
        .await;
    assert_eq!(r.param(), Some("descriptor_suffix"));
}

#[tokio::test]
async fn archive_hides_from_list_and_is_blocked_by_groups() {
    let app = TestApp::spawn().await;
    let a = app
        .post(
            "/v1/gateways",
            &json!({"type": "stripe_v2", "title": "A", "secret_key": SECRET_KEY}),
        )
        .await
        .body;
    let b = app
        .post(
            "/v1/gateways",
            &json!({"type": "stripe_v2", "title": "B", "secret_key": SECRET_KEY}),
        )
        .await
        .body;
    let (a_id, b_id) = (a["id"].as_i64().unwrap(), b["id"].as_i64().unwrap());
    let grp = app
        .post(
            "/v1/collection_groups",
            &json!({"name": "G", "gateway_id": b_id}),
        )
        .await;
    assert_eq!(grp.status, StatusCode::CREATED, "{:?}", grp.body);
    let r = app
        .post(&format!("/v1/gateways/{b_id}/archive"), &json!({}))
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(r.code(), Some("gateway_in_use"));

    let r = app
        .post(&format!("/v1/gateways/{a_id}/archive"), &json!({}))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["status"], "archived");
    let listed = app.get("/v1/gateways").await.body;
    let ids: Vec<i64> = listed["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, vec![b_id]);
    let archived = app.get("/v1/gateways?status=archived").await.body;
    assert_eq!(archived["data"][0]["id"], a_id);
    // An archived gateway cannot take a new group.
    let r = app
        .post(
            "/v1/collection_groups",
            &json!({"name": "H", "gateway_id": a_id}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.param(), Some("gateway_id"));
}

#[tokio::test]
async fn list_filters_and_paginates() {
    let app = TestApp::spawn().await;
    let mut ids = Vec::new();
    for i in 0..5 {
        let r = app
            .post(
                "/v1/gateways",
                &json!({"type": "stripe_v2", "title": format!("G{i}"), "secret_key": SECRET_KEY}),
            )
            .await;
        ids.push(r.body["id"].as_i64().unwrap());
    }
    let p1 = app.get("/v1/gateways?limit=2").await.body;
    assert_eq!(p1["object"], "list");
    assert_eq!(p1["has_more"], true);
    let got: Vec<i64> = p1["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["id"].as_i64().unwrap())
        .collect();
    assert_eq!(got, vec![ids[4], ids[3]]);
    let p2 = app
        .get(&format!("/v1/gateways?limit=2&starting_after={}", ids[3]))
        .await
        .body;
    let got: Vec<i64> = p2["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["id"].as_i64().unwrap())
        .collect();
    assert_eq!(got, vec![ids[2], ids[1]]);
    assert_eq!(
        app.get("/v1/gateways?type=stripe_v1").await.body["data"],
        json!([])
    );
    let r = app.get("/v1/gateways?limit=0").await;
    assert_eq!(
        (r.status, r.param()),
        (StatusCode::BAD_REQUEST, Some("limit"))
    );
    let r = app.get("/v1/gateways?colour=red").await;
    assert_eq!(
        (r.status, r.param()),
        (StatusCode::BAD_REQUEST, Some("colour"))
    );
    let r = app.get("/v1/gateways?status=gone").await;
    assert_eq!(
        (r.status, r.param()),
        (StatusCode::BAD_REQUEST, Some("status"))
    );
}
