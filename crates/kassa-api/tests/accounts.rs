//! `/v1/accounts`, black-box over HTTP.

use kassa_testkit::reqwest::Method;
use kassa_testkit::{StatusCode, TestApp, SECRET_KEY};
use serde_json::{json, Value};

fn ada() -> Value {
    json!({
        "client_acct_id": "C-1001",
        "first_name": "Ada",
        "last_name": "Lovelace",
        "email": "ada@example.com",
        "phone": "+44 20 7946 0018",
        "billing_address": {"line1": "1 Main St", "city": "London", "postal_code": "N1 9GU", "country": "GB"},
        "shipping": {"name": "Ada L", "address": {"line1": "2 Side St", "city": "London", "country": "GB"}}
    })
}

async fn group(app: &TestApp) -> i64 {
    let gw = app
        .post(
            "/v1/gateways",
            &json!({"type": "stripe_v2", "title": "GW", "secret_key": SECRET_KEY}),
        )
        .await
        .body["id"]
        .as_i64()
        .unwrap();
    app.post(
        "/v1/collection_groups",
        &json!({"name": "G", "gateway_id": gw}),
    )
    .await
    .body["group_no"]
        .as_i64()
        .unwrap()
}

#[tokio::test]
async fn create_read_and_list_accounts() {
    let app = TestApp::spawn().await;
    let g = group(&app).await;
    let mut body = ada();
    body["collection_group_no"] = json!(g);
    let r = app.post("/v1/accounts", &body).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let a = r.body.clone();
    assert_eq!(a["object"], "account");
    assert_eq!(a["status"], "active");
    assert_eq!(a["client_acct_id"], "C-1001");
    assert_eq!(a["billing_address"]["country"], "GB");
    assert_eq!(a["collection_group_no"], g);
    let no = a["acct_no"].as_i64().unwrap();
    assert_eq!(app.get(&format!("/v1/accounts/{no}")).await.body, a);

    let mut other = ada();
    other["client_acct_id"] = json!("C-1002");
    other["email"] = json!("grace@example.com");
    other["collection_group_no"] = json!(g);
    app.post("/v1/accounts", &other).await;
    let by_email = app.get("/v1/accounts?email=ada%40example.com").await.body;
    assert_eq!(by_email["data"].as_array().unwrap().len(), 1);
    assert_eq!(by_email["data"][0]["acct_no"], no);
    let by_id = app.get("/v1/accounts?client_acct_id=C-1002").await.body;
    assert_eq!(by_id["data"][0]["email"], "grace@example.com");
    let by_group = app
        .get(&format!("/v1/accounts?collection_group_no={g}"))
        .await
        .body;
    assert_eq!(by_group["data"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn client_acct_id_is_unique_per_client() {
    let app = TestApp::spawn().await;
    assert_eq!(
        app.post("/v1/accounts", &ada()).await.status,
        StatusCode::CREATED
    );
    let r = app.post("/v1/accounts", &ada()).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert!(r.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("C-1001"));
    // Another client may use the same id.
    let (_, other) = app.new_client("Other").await;
    let r = app
        .send_as(&other, Method::POST, "/v1/accounts", Some(&ada()), &[])
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    // And cannot see ours.
    let theirs = app
        .send_as(
            &other,
            Method::GET,
            "/v1/accounts?client_acct_id=C-1001",
            None,
            &[],
        )
        .await;
    assert_eq!(theirs.body["data"].as_array().unwrap().len(), 1);
    assert_ne!(
        theirs.body["data"][0]["acct_no"],
        app.get("/v1/accounts?client_acct_id=C-1001").await.body["data"][0]["acct_no"]
    );
}

#[tokio::test]
async fn validation_names_the_field() {
    let app = TestApp::spawn().await;
    let cases = [
        (json!({"first_name": "x"}), "client_acct_id"),
        (json!({"client_acct_id": "x", "email": "no"}), "email"),
        (
            json!({"client_acct_id": "x", "billing_address": {"line1": "a", "country": "Britain"}}),
            "billing_address.country",
        ),
        (
            json!({"client_acct_id": "x", "collection_group_no": 42}),
            "collection_group_no",
        ),
        (
            json!({"client_acct_id": "x", "status": "sleeping"}),
            "status",
        ),
        (
            json!({"client_acct_id": "x", "favourite_colour": "red"}),
            "favourite_colour",
        ),
    ];
    for (body, param) in cases {
        let r = app.post("/v1/accounts", &body).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{body} → {:?}", r.body);
        assert_eq!(r.param(), Some(param), "{body} → {:?}", r.body);
    }
    assert_eq!(app.get("/v1/accounts").await.body["data"], json!([]));
}

#[tokio::test]
async fn patch_and_status_history() {
    let app = TestApp::spawn().await;
    let no = app.post("/v1/accounts", &ada()).await.body["acct_no"]
        .as_i64()
        .unwrap();
    let r = app
        .patch(
            &format!("/v1/accounts/{no}"),
            &json!({"email": "ada@new.example", "shipping": null, "status": "suspended"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["email"], "ada@new.example");
    assert_eq!(r.body["shipping"], Value::Null);
    assert_eq!(r.body["status"], "suspended");
    assert_eq!(r.body["first_name"], "Ada", "untouched fields stay");
    app.patch(
        &format!("/v1/accounts/{no}"),
        &json!({"phone": "+44 20 7946 0019"}),
    )
    .await;
    let h = app
        .get(&format!("/v1/accounts/{no}/status_history"))
        .await
        .body;
    let entries = h["data"].as_array().unwrap();
    assert_eq!(
        entries.len(),
        2,
        "a change that keeps the status adds no history: {h}"
    );
    assert_eq!(entries[0]["to_status"], "active");
    assert_eq!(entries[0]["reason"], "created");
    assert_eq!(entries[1]["from_status"], "active");
    assert_eq!(entries[1]["to_status"], "suspended");
    assert_eq!(entries[1]["reason"], "api");
    let audit = app
        .get(&format!(
            "/v1/audit_events?object_type=account&object_id={no}"
        ))
        .await
        .body;
    assert_eq!(audit["data"].as_array().unwrap().len(), 3);
    assert_eq!(
        audit["data"][1]["changes"]["email"],
        json!({"from": "ada@example.com", "to": "ada@new.example"})
    );
    assert_eq!(
        app.get("/v1/accounts/999999/status_history").await.status,
        StatusCode::NOT_FOUND
    );
}
