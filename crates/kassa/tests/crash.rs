//! Crash safety, proven against the emulator's own records: `kassa rebill run` and
//! `kassa serve` are killed with SIGKILL at random points (the seed is printed; set
//! `KASSA_CRASH_SEED` to repeat a run) while they bill and take payments, then started again;
//! `kassa reconcile` settles what was left unknown. Afterwards every charge at Stripe has exactly
//! one Kassa payment, no purchase was billed twice for a cycle, no captured amount is missing,
//! and every client request has exactly one answer. On SQLite and on PostgreSQL.

mod common;

use std::collections::{HashMap, HashSet};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{all_intents, all_payments, Proc, Rng};
use kassa_testkit::{reqwest, Emulator, TestApp};
use serde_json::{json, Value};

const BIN: &str = env!("CARGO_BIN_EXE_kassa");

fn kassa(app: &TestApp) -> Command {
    let mut c = Command::new(BIN);
    c.current_dir(std::env::temp_dir())
        .env_remove("KASSA_MASTER_KEY_FILE")
        .env("KASSA_DATABASE_URL", &app.db.url)
        .env("KASSA_MASTER_KEY", &app.master_key)
        .env("KASSA_LOG", "error")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    c
}

/// Sets the emulator's fault injection (`/_emulator/faults`).
async fn set_faults(emu: &Emulator, pairs: &[(&str, &str)]) {
    let r = reqwest::Client::new()
        .post(format!("{}/_emulator/faults", emu.url))
        .bearer_auth(kassa_testkit::SECRET_KEY)
        .form(pairs)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
}

/// 500s, dropped connections, answers lost after the work was done, 429s past 60 requests a
/// second; and back to a Stripe that answers.
const STRIPE_FAILING: &[(&str, &str)] = &[
    ("error_500_per_mille", "80"),
    ("drop_per_mille", "40"),
    ("timeout_after_success_per_mille", "80"),
    ("rate_limit_per_sec", "60"),
];
const STRIPE_WELL: &[(&str, &str)] = &[
    ("error_500_per_mille", "0"),
    ("drop_per_mille", "0"),
    ("timeout_after_success_per_mille", "0"),
    ("rate_limit_per_sec", ""),
];

/// Settles every unknown call now. The emulator's search has no lag, so a call it shows no
/// PaymentIntent for never reached it (Stripe's search lags: in production this waits 10 min).
fn reconcile(app: &TestApp) {
    let out = kassa(app)
        .args([
            "reconcile",
            "--min-age-secs",
            "0",
            "--not-found-after-secs",
            "0",
        ])
        .stdout(Stdio::piped())
        .output()
        .unwrap();
    assert!(out.status.success(), "kassa reconcile failed");
}

/// Every charge at the emulator matches exactly one Kassa payment with the same amount
/// captured, and Kassa has no payment left unknown or captured without a charge.
async fn books_agree(app: &TestApp, emu: &Emulator) -> (Vec<Value>, Vec<Value>) {
    let intents = all_intents(emu).await;
    let payments = all_payments(app).await;
    let by_id: HashMap<&str, &Value> = payments
        .iter()
        .map(|p| (p["id"].as_str().unwrap_or(""), p))
        .collect();
    let mut seen = HashSet::new();
    for pi in &intents {
        let kassa_id = pi["metadata"]["kassa_payment"].as_str().unwrap_or("");
        assert!(
            seen.insert(kassa_id.to_string()),
            "two charges at Stripe for payment {kassa_id}"
        );
        let p = by_id
            .get(kassa_id)
            .unwrap_or_else(|| panic!("a charge at Stripe with no Kassa payment: {pi}"));
        if pi["status"] == "succeeded" {
            assert_eq!(p["status"], "captured", "{p} vs {pi}");
            assert_eq!(p["amount_captured"], pi["amount_received"], "{p} vs {pi}");
            assert_eq!(p["processor_payment_id"], pi["id"]);
        }
    }
    for p in &payments {
        assert_ne!(
            p["status"], "pending",
            "left unknown after the reconciler: {p}"
        );
        if p["status"] == "captured" {
            assert!(
                seen.contains(p["id"].as_str().unwrap_or("")),
                "captured without a charge: {p}"
            );
        }
    }
    (intents, payments)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rebill_runs_killed_at_random_points_with_stripe_failing_bill_each_cycle_once() {
    const PURCHASES: usize = 150;
    const REBILL: i64 = 1700;
    let app = TestApp::spawn().await;
    let emu = Emulator::spawn().await;
    let ids = common::monthly_purchases(&app, &emu, PURCHASES, REBILL).await;
    let past = kassa_storage::now_millis() - 60_000;
    kassa_storage::testing::execute(
        &app.store,
        &format!("UPDATE purchases SET next_bill_at = {past}"),
    )
    .await
    .unwrap();
    // Each killed run bills as of a day later than the one before, and the recovery runs later
    // still: a killed run's leases (5 minutes from its "now") are over for the next, as they
    // would be 5 minutes later. Purchases billed on day n are next due 30 days after it.
    let day = |n: i64| {
        (time::OffsetDateTime::now_utc() + time::Duration::days(n))
            .date()
            .to_string()
    };
    let after = day(20);
    let mut rng = Rng::new();
    let mut killed_mid_run = 0;
    set_faults(&emu, STRIPE_FAILING).await;
    // Until 8 runs were killed while billing, or nothing is left to bill (a run that ended
    // before its kill found nothing due), or 16 runs.
    for round in 0..16 {
        if killed_mid_run >= 8 {
            break;
        }
        let mut run = Proc(
            kassa(&app)
                .args(["rebill", "run", "--until", &day(1 + round)])
                .spawn()
                .unwrap(),
        );
        tokio::time::sleep(Duration::from_millis(rng.between(30, 400))).await;
        if run.0.try_wait().ok().flatten().is_none() {
            killed_mid_run += 1;
        }
        run.kill();
    }
    set_faults(&emu, STRIPE_WELL).await;
    // Then undisturbed: settle the unknown, bill what is left, until every purchase moved on.
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        reconcile(&app);
        let out = kassa(&app)
            .args(["rebill", "run", "--until", &after])
            .output()
            .unwrap();
        assert!(out.status.success());
        let mut done = 0;
        for id in &ids {
            if app.get(&format!("/v1/purchases/{id}")).await.body["cycle"] == 2 {
                done += 1;
            }
        }
        if done == PURCHASES {
            break;
        }

        if Instant::now() >= deadline {
            let mut stuck = Value::Null;
            for id in &ids {
                let p = app.get(&format!("/v1/purchases/{id}")).await.body;
                if p["cycle"] != 2 {
                    stuck = p;
                    break;
                }
            }
            let pay = stuck["attempts"][0]["payment_id"]
                .as_str()
                .unwrap_or("")
                .to_string();
            let pay = app.get(&format!("/v1/payments/{pay}")).await.body;
            panic!(
                "only {done} of {PURCHASES} purchases billed; stuck: {stuck}; its payment: {pay}"
            );
        }
    }
    eprintln!("killed {killed_mid_run} runs mid-way");
    assert!(
        killed_mid_run >= 4,
        "too few runs were killed while billing: {killed_mid_run}"
    );
    for id in &ids {
        let p = app.get(&format!("/v1/purchases/{id}")).await.body;
        let cycle2: Vec<&Value> = p["attempts"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|a| a["cycle"] == 2)
            .collect();
        assert_eq!(cycle2.len(), 1, "{p}");
        assert_eq!(cycle2[0]["status"], "approved", "{p}");
    }
    let (intents, _) = books_agree(&app, &emu).await;
    let mut per_purchase: HashMap<String, usize> = HashMap::new();
    for pi in intents.iter().filter(|pi| pi["amount"] == REBILL) {
        let pur = pi["metadata"]["kassa_purchase"]
            .as_str()
            .unwrap_or("")
            .to_string();
        *per_purchase.entry(pur).or_default() += 1;
    }
    assert_eq!(
        per_purchase.len(),
        PURCHASES,
        "every purchase charged for cycle 2"
    );
    assert!(
        per_purchase.values().all(|n| *n == 1),
        "a cycle charged twice: {per_purchase:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_killed_during_a_payment_load_with_stripe_failing_loses_and_doubles_nothing() {
    const PAYMENTS: usize = 60;
    const CLIENTS: usize = 4;
    let app = TestApp::spawn().await;
    let emu = Emulator::spawn().await;
    let (_, group) = app.emulator_gateway(&emu, json!({})).await;
    let mut cards = Vec::new();
    for i in 0..6 {
        let acct = app.account(&format!("L-{i}"), group).await;
        let pm = app
            .post(
                &format!("/v1/accounts/{acct}/payment_methods"),
                &json!({"card": {"number": "4242424242424242", "exp_month": 12, "exp_year": 2034, "cvc": "123"}}),
            )
            .await;
        cards.push((acct, pm.body["payment_method_no"].as_i64().unwrap()));
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap()
        .port();
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap();
    let mut rng = Rng::new();
    let start = |app: &TestApp| {
        Proc(
            kassa(app)
                .env("KASSA_IDEMPOTENCY_LEASE_SECS", "2")
                .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
                .spawn()
                .unwrap(),
        )
    };
    let up = |http: reqwest::Client, base: String| async move {
        for _ in 0..400 {
            if http.get(format!("{base}/healthz")).send().await.is_ok() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("kassa serve did not come back");
    };
    let mut server = start(&app);
    up(http.clone(), base.clone()).await;
    // Stripe misbehaves too while the load runs.
    set_faults(&emu, STRIPE_FAILING).await;

    // Clients: each payment under its own key, retried with the same key until it has an answer.
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let cards = Arc::new(cards);
    let mut clients = tokio::task::JoinSet::new();
    for _ in 0..CLIENTS {
        let (http, base, key, next, cards) = (
            http.clone(),
            base.clone(),
            app.api_key.clone(),
            next.clone(),
            cards.clone(),
        );
        clients.spawn(async move {
            let mut answers = Vec::new();
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= PAYMENTS {
                    return answers;
                }
                let (acct, pm) = cards[i % cards.len()];
                let body = json!({"acct_no": acct, "payment_method_no": pm, "amount": 1000 + i as i64, "currency": "usd"});
                let deadline = Instant::now() + Duration::from_secs(90);
                loop {
                    assert!(Instant::now() < deadline, "payment {i} never got an answer");
                    let r = http
                        .post(format!("{base}/v1/payments"))
                        .bearer_auth(&key)
                        .header("Idempotency-Key", format!("crash-{i}"))
                        .json(&body)
                        .send()
                        .await;
                    if let Ok(r) = r {
                        let status = r.status().as_u16();
                        if let Ok(v) = r.json::<Value>().await {
                            if matches!(status, 200 | 201 | 402) {
                                let id = v["id"].as_str().or(v["error"]["payment_id"].as_str()).unwrap_or("").to_string();
                                answers.push((i, id, v["status"].as_str().unwrap_or("declined").to_string()));
                                break;
                            }
                        }
                    }
                    // Down, or the key still held by a request that died: again, same key.
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        });
    }
    let mut kills = 0;
    while next.load(std::sync::atomic::Ordering::Relaxed) < PAYMENTS && kills < 8 {
        tokio::time::sleep(Duration::from_millis(rng.between(100, 700))).await;
        server.kill();
        kills += 1;
        server = start(&app);
        up(http.clone(), base.clone()).await;
    }
    let mut answers = Vec::new();
    while let Some(r) = clients.join_next().await {
        answers.extend(r.expect("a client panicked"));
    }
    drop(server);
    eprintln!("killed kassa serve {kills} times");
    // The reconciler asks a Stripe that answers again.
    set_faults(&emu, STRIPE_WELL).await;
    assert!(
        kills >= 2,
        "the load ended before the server was killed twice"
    );
    reconcile(&app);

    // One answer per request, each a different payment, and the books agree with Stripe.
    assert_eq!(answers.len(), PAYMENTS);
    let ids: HashSet<&str> = answers.iter().map(|(_, id, _)| id.as_str()).collect();
    assert_eq!(
        ids.len(),
        PAYMENTS,
        "each request has its own payment: {answers:?}"
    );
    let (intents, payments) = books_agree(&app, &emu).await;
    let loaded: Vec<&Value> = payments
        .iter()
        .filter(|p| p["amount"].as_i64().is_some_and(|a| a >= 1000))
        .collect();
    assert_eq!(
        loaded.len(),
        PAYMENTS,
        "no payment made twice for one request"
    );
    // Each ends captured (the test card always succeeds), or — when the process died before its
    // request reached Stripe — declined as never processed, nothing charged. An answer given
    // while the outcome was unknown said `pending`, never `declined`.
    let mut not_processed = 0;
    let mut expected = 0;
    for (i, id, answered) in &answers {
        let p = payments.iter().find(|p| p["id"] == id.as_str()).unwrap();
        assert_eq!(p["amount"], 1000 + *i as i64);
        match p["status"].as_str() {
            Some("captured") => expected += 1000 + *i as i64,
            Some("declined") if p["decline"]["code"] == "not_processed" => not_processed += 1,
            _ => panic!("{p}"),
        }
        assert!(
            matches!(answered.as_str(), "captured" | "pending"),
            "answered {answered} for {p}"
        );
    }
    let charged: i64 = intents
        .iter()
        .filter(|pi| pi["status"] == "succeeded")
        .map(|pi| pi["amount_received"].as_i64().unwrap_or(0))
        .sum();
    assert_eq!(
        charged, expected,
        "what was charged is what Kassa shows captured"
    );
    eprintln!("{not_processed} requests died before reaching Stripe; settled as not processed");
}
