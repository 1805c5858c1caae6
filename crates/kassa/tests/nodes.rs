//! Two `kassa serve` processes on one PostgreSQL behave as one system: the same request with the
//! same `Idempotency-Key` sent to both at once makes one payment, and a gateway's monthly cap
//! holds when payments for it arrive through both; a Stripe event delivered to both at once is
//! stored and applied once; a gateway disabled through one node stops payments through the other
//! within the read cache's second. PostgreSQL only: on the SQLite run the tests return at once.
//! (Rebill claims across worker processes: `workers.rs`.)

mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

use common::{all_intents, Proc};
use kassa_storage::testing::TestDb;
use kassa_testkit::{reqwest, Emulator, TestApp};
use serde_json::{json, Value};

fn serve(app: &TestApp) -> (Proc, String) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap()
        .port();
    let child = Command::new(env!("CARGO_BIN_EXE_kassa"))
        .current_dir(std::env::temp_dir())
        .env_remove("KASSA_MASTER_KEY_FILE")
        .env("KASSA_DATABASE_URL", &app.db.url)
        .env("KASSA_MASTER_KEY", &app.master_key)
        .env("KASSA_LOG", "error")
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    (Proc(child), format!("http://127.0.0.1:{port}"))
}

async fn wait_up(http: &reqwest::Client, base: &str) {
    for _ in 0..400 {
        if http.get(format!("{base}/healthz")).send().await.is_ok() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("{base} did not start");
}

/// Posts until the answer is final (a 409 means the other node still runs the same request).
async fn post_final(
    http: &reqwest::Client,
    url: String,
    key: &str,
    idem: Option<String>,
    body: Value,
) -> (u16, Value) {
    loop {
        let mut rb = http.post(&url).bearer_auth(key).json(&body);
        if let Some(k) = &idem {
            rb = rb.header("Idempotency-Key", k);
        }
        let r = rb.send().await.unwrap();
        let status = r.status().as_u16();
        let v: Value = r.json().await.unwrap_or(Value::Null);
        if status != 409 {
            return (status, v);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn stored_card(app: &TestApp, group: i64, id: &str) -> (i64, i64) {
    let acct = app.account(id, group).await;
    let pm = app
        .post(
            &format!("/v1/accounts/{acct}/payment_methods"),
            &json!({"card": {"number": "4242424242424242", "exp_month": 12, "exp_year": 2034, "cvc": "123"}}),
        )
        .await;
    (acct, pm.body["payment_method_no"].as_i64().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_servers_share_idempotency_keys_and_caps() {
    if TestDb::configured_url().is_none() {
        eprintln!("skipped: several nodes need PostgreSQL (set KASSA_TEST_DATABASE_URL)");
        return;
    }
    let app = TestApp::spawn().await;
    let emu = Emulator::spawn().await;
    let (_, group) = app.emulator_gateway(&emu, json!({})).await;
    let (_, capped_group) = app
        .emulator_gateway(
            &emu,
            json!({"title": "Capped", "limits": {"monthly_cap": 10_000}}),
        )
        .await;
    let (acct, pm) = stored_card(&app, group, "N-1").await;
    let (capped_acct, capped_pm) = stored_card(&app, capped_group, "N-2").await;
    let ((_a, base_a), (_b, base_b)) = (serve(&app), serve(&app));
    let http = reqwest::Client::new();
    wait_up(&http, &base_a).await;
    wait_up(&http, &base_b).await;
    let key = app.api_key.clone();

    // The same request, same key, to both nodes at once: one payment, one charge.
    const REQUESTS: i64 = 20;
    let mut paired = tokio::task::JoinSet::new();
    for i in 0..REQUESTS {
        for base in [base_a.clone(), base_b.clone()] {
            let (http, key) = (http.clone(), key.clone());
            paired.spawn(async move {
                let body = json!({"acct_no": acct, "payment_method_no": pm, "amount": 2000 + i, "currency": "usd"});
                let (status, v) = post_final(&http, format!("{base}/v1/payments"), &key, Some(format!("node-{i}")), body).await;
                (i, status, v["id"].as_str().unwrap_or("").to_string())
            });
        }
    }
    let mut by_request: std::collections::HashMap<i64, Vec<String>> = Default::default();
    while let Some(r) = paired.join_next().await {
        let (i, status, id) = r.unwrap();
        assert_eq!(status, 201, "request {i}");
        by_request.entry(i).or_default().push(id);
    }
    for (i, ids) in &by_request {
        assert_eq!(ids.len(), 2);
        assert_eq!(
            ids[0], ids[1],
            "both nodes answered request {i} with the same payment"
        );
    }
    let intents = all_intents(&emu).await;
    let charged: Vec<&Value> = intents
        .iter()
        .filter(|pi| {
            pi["amount"]
                .as_i64()
                .is_some_and(|a| (2000..2000 + REQUESTS).contains(&a))
        })
        .collect();
    assert_eq!(
        charged.len(),
        REQUESTS as usize,
        "one charge per request at Stripe"
    );

    // A $100.00 cap, 30 payments of $5.00 through both nodes at once: exactly 20 pass.
    let mut capped = tokio::task::JoinSet::new();
    for i in 0..30 {
        let base = if i % 2 == 0 {
            base_a.clone()
        } else {
            base_b.clone()
        };
        let (http, key) = (http.clone(), key.clone());
        capped.spawn(async move {
            let body = json!({"acct_no": capped_acct, "payment_method_no": capped_pm, "amount": 500, "currency": "usd"});
            post_final(&http, format!("{base}/v1/payments"), &key, None, body).await
        });
    }
    let (mut passed, mut refused) = (0, 0);
    while let Some(r) = capped.join_next().await {
        let (status, v) = r.unwrap();
        match status {
            201 => passed += 1,
            422 => {
                assert_eq!(v["error"]["code"], "gateway_cap_reached", "{v}");
                refused += 1;
            }
            other => panic!("{other}: {v}"),
        }
    }
    assert_eq!((passed, refused), (20, 10));
    let intents = all_intents(&emu).await;
    let at_cap: i64 = intents
        .iter()
        .filter(|pi| pi["amount"] == 500 && pi["status"] == "succeeded")
        .map(|pi| pi["amount_received"].as_i64().unwrap_or(0))
        .sum();
    assert_eq!(at_cap, 10_000, "Stripe charged exactly the cap");
}

/// Posts a Stripe event signed with `secret` to a node; returns whether the node called it a
/// duplicate (a delivery it had stored already).
async fn deliver(
    http: &reqwest::Client,
    base: &str,
    client_no: i64,
    secret: &str,
    event: &Value,
) -> bool {
    let body = serde_json::to_vec(event).unwrap();
    let t = kassa_storage::now_millis() / 1000;
    let r = http
        .post(format!("{base}/webhooks/stripe/{client_no}"))
        .header(
            "Stripe-Signature",
            kassa_secrets::sign_stripe(&body, t, &[secret]),
        )
        .header("Content-Type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    v["duplicate"] == true
}

/// Stripe retries a delivery it saw no answer for, and behind a load balancer the retry may
/// reach another node while the first is still at work: every event here reaches both nodes at
/// once. Each is stored and applied once; the card ends as the newest event says, whatever node
/// applied what; a dispute makes one chargeback.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_delivered_to_two_servers_at_once_apply_once() {
    if TestDb::configured_url().is_none() {
        eprintln!("skipped: several nodes need PostgreSQL (set KASSA_TEST_DATABASE_URL)");
        return;
    }
    const SECRET: &str = "whsec_twonodes000000000001";
    const UPDATES: i64 = 12;
    let app = TestApp::spawn().await;
    let emu = Emulator::spawn().await;
    let (_, group) = app
        .emulator_gateway(&emu, json!({"webhook_secrets": [SECRET]}))
        .await;
    let (acct, pm_no) = stored_card(&app, group, "W-1").await;
    let card = app
        .get(&format!("/v1/accounts/{acct}/payment_methods/{pm_no}"))
        .await
        .body;
    let pm_id = kassa_testkit::stripe_payment_method(&card);
    let payment = app
        .post(
            "/v1/payments",
            &json!({"acct_no": acct, "payment_method_no": pm_no, "amount": 4200, "currency": "usd"}),
        )
        .await
        .body;
    let ((_a, base_a), (_b, base_b)) = (serve(&app), serve(&app));
    let http = reqwest::Client::new();
    wait_up(&http, &base_a).await;
    wait_up(&http, &base_b).await;

    let created = kassa_storage::now_millis() / 1000;
    let mut events = Vec::new();
    for i in 0..UPDATES {
        events.push(json!({"id": format!("evt_two_{i}"), "object": "event", "type": "payment_method.automatically_updated",
            "created": created + i, "livemode": false, "api_version": "2026-06-24.dahlia",
            "data": {"object": {"id": pm_id, "object": "payment_method",
                "card": {"brand": "visa", "last4": format!("{:04}", 1000 + i), "exp_month": 1 + i % 12, "exp_year": 2030 + i, "fingerprint": format!("fp{i}")}}}}));
    }
    events.push(json!({"id": "evt_two_dispute", "object": "event", "type": "charge.dispute.created", "created": created,
        "livemode": false, "api_version": "2026-06-24.dahlia",
        "data": {"object": {"id": "dp_two", "object": "dispute", "amount": 4200, "currency": "usd",
            "charge": payment["auth_no"], "payment_intent": payment["processor_payment_id"], "reason": "fraudulent",
            "status": "needs_response", "evidence_details": {"due_by": 1_900_000_000, "has_evidence": false}}}}));
    let mut sent = tokio::task::JoinSet::new();
    for event in &events {
        for base in [base_a.clone(), base_b.clone()] {
            let (http, event, client_no) = (http.clone(), event.clone(), app.client_no);
            sent.spawn(async move {
                let dup = deliver(&http, &base, client_no, SECRET, &event).await;
                (event["id"].as_str().unwrap_or("").to_string(), dup)
            });
        }
    }
    let mut fresh: std::collections::HashMap<String, usize> = Default::default();
    while let Some(r) = sent.join_next().await {
        let (id, dup) = r.unwrap();
        *fresh.entry(id).or_default() += usize::from(!dup);
    }
    assert!(
        fresh.values().all(|n| *n == 1),
        "each event stored by exactly one node: {fresh:?}"
    );

    // Every event settles (applied, or ignored as older than one applied), stored once.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let stored = loop {
        let list = app.get("/v1/webhook_events?limit=100").await.body;
        let data = list["data"].as_array().cloned().unwrap_or_default();
        let settled = data
            .iter()
            .filter(|e| !matches!(e["status"].as_str(), Some("received") | Some("applying")))
            .count();
        if settled == events.len() && data.len() == events.len() {
            break data;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "events did not settle: {list}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(
        stored
            .iter()
            .all(|e| matches!(e["status"].as_str(), Some("applied") | Some("ignored"))),
        "{stored:?}"
    );
    let card = app
        .get(&format!("/v1/accounts/{acct}/payment_methods/{pm_no}"))
        .await
        .body;
    let last = UPDATES - 1;
    assert_eq!(
        card["last4"],
        format!("{:04}", 1000 + last),
        "the newest event wins: {card}"
    );
    assert_eq!(card["exp_year"], 2030 + last);
    let history = app
        .get(&format!(
            "/v1/accounts/{acct}/payment_methods/{pm_no}/history"
        ))
        .await
        .body;
    let applied_updates = stored
        .iter()
        .filter(|e| {
            e["status"] == "applied" && e["event_type"] == "payment_method.automatically_updated"
        })
        .count();
    assert_eq!(
        history["data"].as_array().map(Vec::len),
        Some(applied_updates),
        "one history entry per applied update"
    );
    let got = app
        .get(&format!("/v1/payments/{}", payment["id"].as_str().unwrap()))
        .await
        .body;
    assert_eq!(
        got["chargebacks"].as_array().map(Vec::len),
        Some(1),
        "{got}"
    );
}

/// Each node caches the gateway it reads for a payment for at most `KASSA_READ_CACHE_MS` (1 s by
/// default): a gateway disabled through one node takes no more payments through that node at
/// once, and none through the other within that time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gateway_disabled_through_one_node_stops_payments_on_both() {
    if TestDb::configured_url().is_none() {
        eprintln!("skipped: several nodes need PostgreSQL (set KASSA_TEST_DATABASE_URL)");
        return;
    }
    let app = TestApp::spawn().await;
    let emu = Emulator::spawn().await;
    let (gateway_id, group) = app.emulator_gateway(&emu, json!({})).await;
    let (acct, pm) = stored_card(&app, group, "N-C").await;
    let ((_a, base_a), (_b, base_b)) = (serve(&app), serve(&app));
    let http = reqwest::Client::new();
    wait_up(&http, &base_a).await;
    wait_up(&http, &base_b).await;
    let key = app.api_key.clone();
    let pay = |base: String| {
        let (http, key) = (http.clone(), key.clone());
        async move {
            let body = json!({"acct_no": acct, "payment_method_no": pm, "amount": 700, "currency": "usd", "force": true});
            post_final(&http, format!("{base}/v1/payments"), &key, None, body).await
        }
    };
    // Both nodes have read (and cached) the active gateway.
    assert_eq!(pay(base_a.clone()).await.0, 201);
    assert_eq!(pay(base_b.clone()).await.0, 201);

    let r = http
        .patch(format!("{base_a}/v1/gateways/{gateway_id}"))
        .bearer_auth(&key)
        .json(&json!({"status": "disabled"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let disabled_at = std::time::Instant::now();
    let (status, v) = pay(base_a.clone()).await;
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (422, Some("gateway_unavailable")),
        "the node that made the change refuses at once: {v}"
    );
    // The other node refuses within its cache time (1 s), give or take a slow machine.
    let refused_after = loop {
        let (status, v) = pay(base_b.clone()).await;
        if status == 422 {
            assert_eq!(v["error"]["code"], "gateway_unavailable", "{v}");
            break disabled_at.elapsed();
        }
        assert_eq!(status, 201, "{v}");
        assert!(
            disabled_at.elapsed() < Duration::from_secs(5),
            "node B still takes payments through a gateway disabled 5 s ago"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(refused_after < Duration::from_secs(3), "{refused_after:?}");
}
