//! Secrets and card numbers never reach the logs of a running `kassa serve`, even at the most
//! verbose level: gateway secret keys, webhook secrets, API keys (right and wrong), card numbers
//! and CVCs sent through the API and the console.

use std::time::Duration;

use kassa_testkit::{Emulator, TestApp, SECRET_KEY};
use serde_json::{json, Value};

#[tokio::test]
async fn secrets_and_card_numbers_never_reach_the_logs() {
    use std::process::{Command, Stdio};
    let app = TestApp::spawn().await;
    let emu = Emulator::spawn().await;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap()
        .port();
    let log = tempfile::NamedTempFile::new().unwrap();
    let mut server = Command::new(env!("CARGO_BIN_EXE_kassa"))
        .current_dir(std::env::temp_dir())
        .env_remove("KASSA_MASTER_KEY_FILE")
        .env("KASSA_DATABASE_URL", &app.db.url)
        .env("KASSA_MASTER_KEY", &app.master_key)
        .env("KASSA_LOG", "trace")
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .stdout(Stdio::from(log.reopen().unwrap()))
        .stderr(Stdio::from(log.reopen().unwrap()))
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let http = kassa_testkit::reqwest::Client::new();
    for _ in 0..200 {
        if http.get(format!("{base}/healthz")).send().await.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let post = |path: &str, body: Value| {
        http.post(format!("{base}{path}"))
            .bearer_auth(&app.api_key)
            .json(&body)
            .send()
    };
    let g = post(
        "/v1/gateways",
        json!({"type": "stripe_v2", "title": "Logged", "secret_key": SECRET_KEY, "api_base_url": emu.url,
               "webhook_secrets": ["whsec_logtestsecret00001"], "duplicate_window_minutes": 0}),
    )
    .await
    .unwrap()
    .json::<Value>()
    .await
    .unwrap();
    let gw = g["id"].as_i64().unwrap();
    let grp: Value = post(
        "/v1/collection_groups",
        json!({"name": "G", "gateway_id": gw}),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let acct: Value = post(
        "/v1/accounts",
        json!({"client_acct_id": "L-1", "email": "l@example.com", "collection_group_no": grp["group_no"]}),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    for number in ["4242424242424242", "4000000000000002", "4000002760003184"] {
        post(
            "/v1/payments",
            json!({"acct_no": acct["acct_no"], "amount": 1234, "currency": "usd",
                   "card": {"number": number, "exp_month": 12, "exp_year": 2034, "cvc": "987"}}),
        )
        .await
        .unwrap();
    }
    // A wrong key, and a signed-in console session.
    http.get(format!("{base}/v1/gateways"))
        .bearer_auth("kassa_sk_notarealkey000000")
        .send()
        .await
        .unwrap();
    http.post(format!("{base}/console/sign-in"))
        .header("origin", &base)
        .form(&[("api_key", app.api_key.as_str())])
        .send()
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let _ = server.kill();
    let _ = server.wait();
    let text = std::fs::read_to_string(log.path()).unwrap();
    assert!(text.contains("/v1/payments"), "the log was written: {text}");
    for secret in [
        SECRET_KEY,
        "4eC39HqLyjWDarjtT1zdp7dc",
        "whsec_logtestsecret00001",
        app.api_key.as_str(),
        "kassa_sk_notarealkey000000",
        "4242424242424242",
        "4000000000000002",
        "4000002760003184",
        "\"987\"",
        "cvc=987",
    ] {
        assert!(!text.contains(secret), "{secret} is in the server's log");
    }
}
