//! The API conventions every endpoint follows: auth, tenancy, errors, idempotency, audit,
//! health, metrics, OpenAPI, request ids, secrets at rest.

use kassa_testkit::reqwest::Method;
use kassa_testkit::{StatusCode, TestApp, SECRET_KEY};
use serde_json::json;

fn gw_body(title: &str) -> serde_json::Value {
    json!({"type": "stripe_v2", "title": title, "secret_key": SECRET_KEY, "webhook_secrets": ["whsec_plaintextsecret12345"]})
}

#[tokio::test]
async fn auth_is_required_and_checked() {
    let app = TestApp::spawn().await;
    let r = kassa_testkit::read(app.http.get(app.url("/v1/gateways")).send().await.unwrap()).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.body["error"]["type"], "authentication_error");
    let r = app
        .send_as("kassa_sk_wrong", Method::GET, "/v1/gateways", None, &[])
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let r = kassa_testkit::read(
        app.http
            .get(app.url("/v1/gateways"))
            .header("authorization", format!("Basic {}", app.api_key))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn another_clients_objects_are_not_found() {
    let app = TestApp::spawn().await;
    let (_, other) = app.new_client("Other").await;
    let g = app.post("/v1/gateways", &gw_body("Mine")).await.body;
    let id = g["id"].as_i64().unwrap();
    app.post(
        "/v1/collection_groups",
        &json!({"name": "G", "gateway_id": id}),
    )
    .await;

    let theirs = app
        .send_as(
            &other,
            Method::GET,
            &format!("/v1/gateways/{id}"),
            None,
            &[],
        )
        .await;
    let missing = app
        .send_as(&other, Method::GET, "/v1/gateways/999999", None, &[])
        .await;
    assert_eq!(theirs.status, StatusCode::NOT_FOUND);
    assert_eq!(
        theirs.body, missing.body,
        "another client's gateway looks exactly like a missing one"
    );
    for (method, path) in [
        (Method::PATCH, format!("/v1/gateways/{id}")),
        (Method::POST, format!("/v1/gateways/{id}/duplicate")),
        (Method::POST, format!("/v1/gateways/{id}/archive")),
        (Method::GET, "/v1/collection_groups/1".to_string()),
        (Method::PATCH, "/v1/collection_groups/1".to_string()),
    ] {
        let r = app
            .send_as(
                &other,
                method.clone(),
                &path,
                Some(&json!({"title": "x"})),
                &[],
            )
            .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{method} {path}");
    }
    // Nor can they point a group at it.
    let r = app
        .send_as(
            &other,
            Method::POST,
            "/v1/collection_groups",
            Some(&json!({"name": "G", "gateway_id": id})),
            &[],
        )
        .await;
    assert_eq!(r.param(), Some("gateway_id"));
    let lists = app
        .send_as(&other, Method::GET, "/v1/gateways", None, &[])
        .await;
    assert_eq!(lists.body["data"], json!([]));
    let audit = app
        .send_as(&other, Method::GET, "/v1/audit_events", None, &[])
        .await;
    assert_eq!(audit.body["data"], json!([]));
    assert_eq!(
        app.get(&format!("/v1/gateways/{id}")).await.body["title"],
        "Mine"
    );
}

#[tokio::test]
async fn idempotency_key_replays_and_guards() {
    let app = TestApp::spawn().await;
    let body = gw_body("Once");
    let key = [("Idempotency-Key", "create-once-1")];
    let first = app
        .send(Method::POST, "/v1/gateways", Some(&body), &key)
        .await;
    assert_eq!(first.status, StatusCode::CREATED);
    assert_eq!(first.header("idempotent-replayed"), None);
    let second = app
        .send(Method::POST, "/v1/gateways", Some(&body), &key)
        .await;
    assert_eq!(second.status, StatusCode::CREATED);
    assert_eq!(second.header("idempotent-replayed"), Some("true"));
    assert_eq!(second.body, first.body);
    let list = app.get("/v1/gateways").await.body;
    assert_eq!(
        list["data"].as_array().unwrap().len(),
        1,
        "the repeat did nothing"
    );

    let other_body = gw_body("Different");
    let r = app
        .send(Method::POST, "/v1/gateways", Some(&other_body), &key)
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.body["error"]["type"], "idempotency_error");

    // A refused request saves nothing: the corrected request may reuse the key, as at Stripe.
    let bad = json!({"type": "stripe_v2"});
    let k2 = [("Idempotency-Key", "bad-1")];
    let a = app
        .send(Method::POST, "/v1/gateways", Some(&bad), &k2)
        .await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    let fixed = gw_body("Fixed");
    let b = app
        .send(Method::POST, "/v1/gateways", Some(&fixed), &k2)
        .await;
    assert_eq!(b.status, StatusCode::CREATED, "{:?}", b.body);
    assert_eq!(b.header("idempotent-replayed"), None);
    let c = app
        .send(Method::POST, "/v1/gateways", Some(&fixed), &k2)
        .await;
    assert_eq!(c.header("idempotent-replayed"), Some("true"));
    assert_eq!(c.body["id"], b.body["id"]);

    // Keys belong to a client: another client may use the same key for its own request.
    let (_, other) = app.new_client("Other").await;
    let r = app
        .send_as(
            &other,
            Method::POST,
            "/v1/gateways",
            Some(&other_body),
            &key,
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    assert_eq!(r.header("idempotent-replayed"), None);
}

#[tokio::test]
async fn concurrent_repeat_is_a_conflict() {
    let app = TestApp::spawn().await;
    // Hold the key as a request in flight would.
    use kassa_storage::IdempotencyBegin;
    let hash_placeholder = "in-flight";
    assert_eq!(
        app.store
            .idempotency_begin(app.client_no, "busy", hash_placeholder, 60_000)
            .await
            .unwrap(),
        IdempotencyBegin::Started
    );
    // A request whose fingerprint differs gets the mismatch error; so compute the real one by
    // sending first with another key, then race on the busy key through the store state.
    let r = app
        .send(
            Method::POST,
            "/v1/gateways",
            Some(&gw_body("x")),
            &[("Idempotency-Key", "busy")],
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::BAD_REQUEST,
        "different fingerprint → mismatch"
    );

    // Now many identical requests at once with a fresh key: exactly one does the work, the rest
    // are replays or 409s, never a second gateway.
    let body = gw_body("Raced");
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let http = app.http.clone();
        let url = app.url("/v1/gateways");
        let key = app.api_key.clone();
        let body = body.clone();
        tasks.push(tokio::spawn(async move {
            let resp = http
                .post(url)
                .bearer_auth(key)
                .header("Idempotency-Key", "race-1")
                .json(&body)
                .send()
                .await
                .unwrap();
            kassa_testkit::read(resp).await
        }));
    }
    let mut created = 0;
    for t in tasks {
        let r = t.await.unwrap();
        match r.status {
            StatusCode::CREATED => created += 1,
            StatusCode::CONFLICT => assert_eq!(r.body["error"]["type"], "idempotency_error"),
            other => panic!("unexpected {other}: {:?}", r.body),
        }
    }
    assert!(created >= 1);
    let titles: Vec<String> = app.get("/v1/gateways?limit=100").await.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["title"].as_str().unwrap().to_string())
        .filter(|t| t == "Raced")
        .collect();
    assert_eq!(titles.len(), 1, "exactly one gateway was created");
}

#[tokio::test]
async fn audit_records_who_what_when_with_secrets_redacted() {
    let app = TestApp::spawn().await;
    let g = app.post("/v1/gateways", &gw_body("Audited")).await.body;
    let id = g["id"].as_i64().unwrap();
    app.patch(
        &format!("/v1/gateways/{id}"),
        &json!({"title": "Audited 2", "limits": {"monthly_cap": 100}}),
    )
    .await;
    app.patch(
        &format!("/v1/gateways/{id}"),
        &json!({"secret_key": "sk_test_4eC39HqLyjWDarjtT1zdXXXXp7dc"}),
    )
    .await;
    app.post(
        "/v1/collection_groups",
        &json!({"name": "G", "gateway_id": id}),
    )
    .await;

    let events = app.get("/v1/audit_events").await.body;
    let data = events["data"].as_array().unwrap();
    assert_eq!(data.len(), 4);
    let label = format!(
        "api_key:kassa_sk_…{}",
        &app.api_key[app.api_key.len() - 4..]
    );
    for e in data {
        assert_eq!(e["actor"], label);
        assert!(e["request_id"]
            .as_str()
            .is_some_and(|r| r.starts_with("req_")));
        assert!(e["created_at"].as_str().is_some());
    }
    assert_eq!(data[0]["object_type"], "collection_group");
    assert_eq!(data[1]["changes"]["secret_key"]["replaced"], true);
    assert_eq!(data[1]["changes"]["secret_key"]["to"], "sk_test_…p7dc");
    assert_eq!(
        data[2]["changes"]["title"],
        json!({"from": "Audited", "to": "Audited 2"})
    );
    assert_eq!(
        data[2]["changes"]["limits.monthly_cap"],
        json!({"from": null, "to": 100})
    );
    assert_eq!(data[3]["action"], "create");
    assert_eq!(data[3]["object_id"], id.to_string());
    let text = events.to_string();
    assert!(
        !text.contains(SECRET_KEY) && !text.contains("plaintextsecret"),
        "no secret in the audit log"
    );

    let only = app
        .get(&format!(
            "/v1/audit_events?object_type=gateway&object_id={id}"
        ))
        .await
        .body;
    assert_eq!(only["data"].as_array().unwrap().len(), 3);
    // A patch that changes nothing writes nothing.
    app.patch(
        &format!("/v1/gateways/{id}"),
        &json!({"title": "Audited 2"}),
    )
    .await;
    assert_eq!(
        app.get(&format!(
            "/v1/audit_events?object_type=gateway&object_id={id}"
        ))
        .await
        .body["data"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
}

#[tokio::test]
async fn secrets_are_never_stored_or_returned_in_the_clear() {
    let app = TestApp::spawn().await;
    let g = app.post("/v1/gateways", &gw_body("Secret")).await;
    let id = g.body["id"].as_i64().unwrap();
    app.post(
        "/v1/collection_groups",
        &json!({"name": "G", "gateway_id": id, "webhook_secrets": ["whsec_groupsecretplain777"]}),
    )
    .await;
    let listed = app.get("/v1/gateways").await;
    for text in [
        g.body.to_string(),
        listed.body.to_string(),
        app.get("/v1/collection_groups/1").await.body.to_string(),
    ] {
        assert!(!text.contains(SECRET_KEY));
        assert!(!text.contains("plaintextsecret") && !text.contains("groupsecretplain"));
    }
    let dump = kassa_storage::testing::dump(&app.store).await.unwrap();
    assert!(
        dump.contains("gateways "),
        "the dump read the gateways table"
    );
    for secret in [
        SECRET_KEY,
        "whsec_plaintextsecret12345",
        "whsec_groupsecretplain777",
        "4eC39HqLyjWDarjtT1zdp7dc",
        app.api_key.as_str(),
    ] {
        assert!(!dump.contains(secret), "{secret} is in the database dump");
    }
    // And not in the raw SQLite file either (the WAL included), when that is the backend.
    if let Some(path) = app.db.url.strip_prefix("sqlite://") {
        for file in [path.to_string(), format!("{path}-wal")] {
            if let Ok(bytes) = std::fs::read(&file) {
                let hay = String::from_utf8_lossy(&bytes);
                assert!(
                    !hay.contains("4eC39HqLyjWDarjtT1zdp7dc") && !hay.contains("plaintextsecret"),
                    "{file}"
                );
            }
        }
    }
}

#[tokio::test]
async fn errors_have_the_documented_shape() {
    let app = TestApp::spawn().await;
    let r = app.get("/v1/gateways/abc").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.body["error"]["code"], "resource_missing");
    let r = app.get("/v1/nothing-here").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let resp = app
        .http
        .post(app.url("/v1/gateways"))
        .bearer_auth(&app.api_key)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    let r = kassa_testkit::read(resp).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.body["error"]["type"], "invalid_request_error");
    assert!(r.body["error"].as_object().unwrap().contains_key("param"));
    let r = app.post("/v1/gateways", &json!([1, 2])).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn health_metrics_openapi_request_id() {
    let app = TestApp::spawn().await;
    let r = kassa_testkit::read(app.http.get(app.url("/healthz")).send().await.unwrap()).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r
        .header("x-request-id")
        .is_some_and(|id| id.starts_with("req_")));
    // A request id given by the caller is kept.
    let r = kassa_testkit::read(
        app.http
            .get(app.url("/healthz"))
            .header("x-request-id", "abc-123")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(r.header("x-request-id"), Some("abc-123"));

    app.post("/v1/gateways", &gw_body("M")).await;
    app.get("/v1/gateways/1").await;
    let metrics = app
        .http
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains(
            r#"kassa_http_requests_total{method="POST",route="/v1/gateways",status="201"} 1"#
        ),
        "{metrics}"
    );
    assert!(
        metrics.contains(r#"route="/v1/gateways/{id}""#),
        "routes are labelled by pattern: {metrics}"
    );
    assert!(metrics.contains("kassa_http_request_duration_seconds_bucket"));

    let doc: serde_json::Value = app
        .http
        .get(app.url("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let paths = doc["paths"].as_object().unwrap();
    for (path, method) in [
        ("/v1/gateways", "post"),
        ("/v1/gateways", "get"),
        ("/v1/gateways/{id}", "get"),
        ("/v1/gateways/{id}", "patch"),
        ("/v1/gateways/{id}/duplicate", "post"),
        ("/v1/gateways/{id}/archive", "post"),
        ("/v1/collection_groups", "post"),
        ("/v1/collection_groups", "get"),
        ("/v1/collection_groups/{group_no}", "get"),
        ("/v1/collection_groups/{group_no}", "patch"),
        ("/v1/collection_groups/{group_no}/duplicate", "post"),
        ("/v1/collection_groups/{group_no}/archive", "post"),
        ("/v1/audit_events", "get"),
        ("/v1/accounts", "post"),
        ("/v1/accounts", "get"),
        ("/v1/accounts/{acct_no}", "get"),
        ("/v1/accounts/{acct_no}", "patch"),
        ("/v1/accounts/{acct_no}/status_history", "get"),
    ] {
        assert!(
            paths.get(path).and_then(|p| p.get(method)).is_some(),
            "{method} {path} missing from OpenAPI"
        );
    }
    assert!(doc["components"]["schemas"]["GatewayView"].is_object());
    // Every operation documents the error answers it can give.
    for (path, item) in paths {
        for (method, op) in item.as_object().unwrap() {
            for code in ["400", "401", "404", "500"] {
                assert!(
                    op["responses"].get(code).is_some(),
                    "{method} {path} does not document {code}"
                );
            }
        }
    }
}
