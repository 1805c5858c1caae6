//! Crash safety, proven against the emulator's own records: `kassa rebill run` and
//! `kassa serve` are killed with SIGKILL at random points (the seed is printed; set
//! `KASSA_CRASH_SEED` to repeat a run) while they bill and take payments, then started again;
//! `kassa reconcile` settles what was left unknown. Afterwards every charge at Stripe has exactly
//! one Kassa payment, no purchase was billed twice for a cycle, no captured amount is missing,
//! and every client request has exactly one answer. On SQLite and on PostgreSQL.

mod common;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use common::load::{
    books_agree, check_load, free_port, kassa, reconcile, set_faults, stored_cards, wait_up, Load,
    STRIPE_FAILING, STRIPE_WELL,
};
use common::{Proc, Rng};
use kassa_testkit::{reqwest, Emulator, TestApp};
use serde_json::{json, Value};

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
    let app = TestApp::spawn().await;
    let emu = Emulator::spawn().await;
    let (_, group) = app.emulator_gateway(&emu, json!({})).await;
    let cards = stored_cards(&app, group, 6).await;
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
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
    let mut server = start(&app);
    wait_up(&http, &base).await;
    // Stripe misbehaves too while the load runs.
    set_faults(&emu, STRIPE_FAILING).await;
    let load = Load::start(&base, &app.api_key, cards, PAYMENTS, 4);
    let mut kills = 0;
    while load.running() && kills < 8 {
        tokio::time::sleep(Duration::from_millis(rng.between(100, 700))).await;
        server.kill();
        kills += 1;
        server = start(&app);
        wait_up(&http, &base).await;
    }
    let answers = load.answers().await;
    drop(server);
    eprintln!("killed kassa serve {kills} times");
    // The reconciler asks a Stripe that answers again.
    set_faults(&emu, STRIPE_WELL).await;
    assert!(
        kills >= 2,
        "the load ended before the server was killed twice"
    );
    reconcile(&app);
    let not_processed = check_load(&app, &emu, &answers, PAYMENTS).await;
    eprintln!("{not_processed} requests died before reaching Stripe; settled as not processed");
}
