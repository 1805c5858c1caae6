//! `/v1/collection_groups`, black-box over HTTP.

use kassa_testkit::{StatusCode, TestApp, SECRET_KEY};
use serde_json::json;

async fn gateway(app: &TestApp) -> i64 {
    let r = app
        .post("/v1/gateways", &json!({"type": "stripe_v2", "title": "GW", "secret_key": SECRET_KEY, "descriptor": "RUNCLUB", "fraud": {"send_fraud_scoring_request": false, "status_on_fraud_scoring_review": "pending_review"}}))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    r.body["id"].as_i64().unwrap()
}

#[tokio::test]
async fn create_with_overrides_and_read_back() {
    let app = TestApp::spawn().await;
    let gw = gateway(&app).await;
    let r = app
        .post(
            "/v1/collection_groups",
            &json!({
                "name": "EU shoppers",
                "client_group_id": "eu-1",
                "gateway_id": gw,
                "soft_descriptor": "EU SHOP",
                "fraud": {"send_fraud_scoring_request": true, "change_status_on_fraud_scoring_review": true},
                "three_ds": {"termination_url": "https://eu.shop.example/3ds"},
                "webhook_secrets": ["whsec_groupgroupgroup9999"]
            }),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let g = &r.body;
    assert_eq!(g["object"], "collection_group");
    assert_eq!(g["group_no"], 1);
    assert_eq!(g["gateway_id"], gw);
    assert_eq!(g["soft_descriptor"], "EU SHOP");
    assert_eq!(g["fraud"]["send_fraud_scoring_request"], true);
    assert_eq!(
        g["fraud"]["status_on_fraud_scoring_failure"],
        serde_json::Value::Null
    );
    assert_eq!(g["webhook_secrets"], json!(["whsec_…9999"]));
    assert_eq!(app.get("/v1/collection_groups/1").await.body, *g);
    // Numbers may be chosen, and are unique per client.
    let r = app
        .post(
            "/v1/collection_groups",
            &json!({"group_no": 7, "name": "Seven", "gateway_id": gw}),
        )
        .await;
    assert_eq!(r.body["group_no"], 7);
    let r = app
        .post(
            "/v1/collection_groups",
            &json!({"group_no": 7, "name": "Again", "gateway_id": gw}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    let r = app
        .post(
            "/v1/collection_groups",
            &json!({"name": "Next", "gateway_id": gw}),
        )
        .await;
    assert_eq!(r.body["group_no"], 8);
}

#[tokio::test]
async fn group_rules_depend_on_its_gateway() {
    let app = TestApp::spawn().await;
    let gw = gateway(&app).await;
    let cases = [
        (json!({"name": "x", "gateway_id": 999}), "gateway_id"),
        (json!({"name": "x"}), "gateway_id"),
        (json!({"gateway_id": gw}), "name"),
        (
            json!({"name": "x", "gateway_id": gw, "soft_descriptor": "FAR TOO LONG A SUFFIX"}),
            "soft_descriptor",
        ),
        (
            json!({"name": "x", "gateway_id": gw, "fraud": {"change_status_on_fraud_scoring_failure": true}}),
            "fraud.status_on_fraud_scoring_failure",
        ),
        (
            json!({"name": "x", "gateway_id": gw, "three_ds": {"termination_url": "not a url"}}),
            "three_ds.termination_url",
        ),
        (
            json!({"name": "x", "gateway_id": gw, "webhook_secrets": ["sk_test_abcdefghijk"]}),
            "webhook_secrets[0]",
        ),
        (
            json!({"name": "x", "gateway_id": gw, "group_no": -3}),
            "group_no",
        ),
        (
            json!({"name": "x", "gateway_id": gw, "fraud": {"bogus": true}}),
            "fraud.bogus",
        ),
    ];
    for (body, param) in cases {
        let r = app.post("/v1/collection_groups", &body).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{body} → {:?}", r.body);
        assert_eq!(r.param(), Some(param), "{body} → {:?}", r.body);
    }
    // The review status inherited from the gateway makes a review change valid.
    let r = app.post("/v1/collection_groups", &json!({"name": "x", "gateway_id": gw, "fraud": {"change_status_on_fraud_scoring_review": true}})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
}

#[tokio::test]
async fn patch_duplicate_archive() {
    let app = TestApp::spawn().await;
    let gw = gateway(&app).await;
    let gw2 = gateway(&app).await;
    app.post(
        "/v1/collection_groups",
        &json!({"name": "A", "gateway_id": gw, "soft_descriptor": "SUFFIX A"}),
    )
    .await;
    let r = app
        .patch(
            "/v1/collection_groups/1",
            &json!({"gateway_id": gw2, "soft_descriptor": null}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["gateway_id"], gw2);
    assert_eq!(r.body["soft_descriptor"], serde_json::Value::Null);
    let r = app
        .patch("/v1/collection_groups/1", &json!({"group_no": 5}))
        .await;
    assert_eq!(r.param(), Some("group_no"));

    let r = app
        .post(
            "/v1/collection_groups/1/duplicate",
            &json!({"soft_descriptor": "SUFFIX B"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    assert_eq!(r.body["group_no"], 2);
    assert_eq!(r.body["name"], "A (copy)");
    assert_eq!(r.body["gateway_id"], gw2);

    let r = app
        .post("/v1/collection_groups/2/archive", &json!({}))
        .await;
    assert_eq!(r.body["status"], "archived");
    let list = app.get("/v1/collection_groups").await.body;
    assert_eq!(list["data"].as_array().unwrap().len(), 1);
    let by_gw = app
        .get(&format!(
            "/v1/collection_groups?gateway_id={gw2}&status=archived"
        ))
        .await
        .body;
    assert_eq!(by_gw["data"][0]["group_no"], 2);
    assert_eq!(
        app.get("/v1/collection_groups/99").await.status,
        StatusCode::NOT_FOUND
    );
}
