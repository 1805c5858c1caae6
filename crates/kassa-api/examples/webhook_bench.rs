//! Verified Stripe events applied per second: signed `payment_method.automatically_updated`
//! events (the account updater) posted to `/webhooks/stripe/{client_no}`, each verified, stored,
//! deduplicated and applied to a stored card (card fields and history written).
//!
//! `cargo run --release -p kassa-api --example webhook_bench -- --events 5000 --concurrency 16`
//! (SQLite in a temporary file; set `KASSA_TEST_DATABASE_URL` to a PostgreSQL URL for that).

use std::time::{Duration, Instant};

use kassa_testkit::{Emulator, TestApp};
use serde_json::{json, Value};

const SECRET: &str = "whsec_benchsecret000000000001";

fn arg(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

async fn count(app: &TestApp, status: &str) -> usize {
    let page = app
        .get(&format!("/v1/webhook_events?status={status}&limit=100"))
        .await
        .body;
    page["data"].as_array().map_or(0, Vec::len)
}

/// How many stored events ended in each status (read after the clock stops).
async fn outcomes(app: &TestApp) -> std::collections::BTreeMap<String, usize> {
    let mut out = std::collections::BTreeMap::new();
    let mut after: Option<String> = None;
    loop {
        let path = match &after {
            Some(a) => format!("/v1/webhook_events?limit=100&starting_after={a}"),
            None => "/v1/webhook_events?limit=100".to_string(),
        };
        let page = app.get(&path).await.body;
        let data = page["data"].as_array().cloned().unwrap_or_default();
        for e in &data {
            *out.entry(e["status"].as_str().unwrap_or("?").to_string())
                .or_default() += 1;
        }
        after = data.last().map(|e| e["id"].to_string());
        if page["has_more"] != true || after.is_none() {
            return out;
        }
    }
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let events = arg("--events", 5000);
    let concurrency = arg("--concurrency", 16).max(1);
    let cards = arg("--cards", 100).max(1);
    let app = TestApp::spawn().await;
    let emu = Emulator::spawn().await;
    let (_gw, group) = app
        .emulator_gateway(&emu, json!({"webhook_secrets": [SECRET]}))
        .await;
    let acct = app.account("BENCH-1", group).await;
    let mut pm_ids = Vec::with_capacity(cards);
    for _ in 0..cards {
        let pm = app.post(&format!("/v1/accounts/{acct}/payment_methods"), &json!({"card": {"number": "4242424242424242", "exp_month": 12, "exp_year": 2030, "cvc": "123"}})).await.body;
        let token = pm["token"].as_str().unwrap_or_default();
        pm_ids.push(token.split(':').next().unwrap_or_default().to_string());
    }
    let url = app.url(&format!("/webhooks/stripe/{}", app.client_no));
    let now = kassa_storage::now_millis() / 1000;
    let bodies: Vec<Vec<u8>> = (0..events)
        .map(|i| {
            let object = json!({"id": pm_ids[i % cards], "object": "payment_method",
                "card": {"brand": "visa", "last4": format!("{:04}", i % 10_000), "exp_month": 1 + (i % 12), "exp_year": 2031 + (i / cards) % 8}});
            let ev: Value = json!({"id": format!("evt_bench_{i}"), "object": "event", "type": "payment_method.automatically_updated",
                "created": now + (i / cards) as i64, "api_version": "2026-06-24.dahlia", "livemode": false, "data": {"object": object}});
            serde_json::to_vec(&ev).unwrap_or_default()
        })
        .collect();

    let started = Instant::now();
    // Dealt round robin, so events reach Kassa roughly in their `created` order (an older event
    // arriving after a newer one for the same card is verified and stored, then ignored).
    let mut chunks: Vec<Vec<Vec<u8>>> = vec![Vec::new(); concurrency];
    for (i, body) in bodies.into_iter().enumerate() {
        chunks[i % concurrency].push(body);
    }
    let mut tasks = Vec::new();
    for chunk in chunks {
        let (http, url) = (app.http.clone(), url.clone());
        tasks.push(tokio::spawn(async move {
            let mut failed = 0usize;
            for body in chunk {
                let sig = kassa_secrets::sign_stripe(&body, now, &[SECRET]);
                let ok = http
                    .post(&url)
                    .header("Stripe-Signature", sig)
                    .header("Content-Type", "application/json")
                    .body(body)
                    .send()
                    .await
                    .is_ok_and(|r| r.status().is_success());
                failed += usize::from(!ok);
            }
            failed
        }));
    }
    let mut refused = 0;
    for t in tasks {
        refused += t.await.unwrap_or(0);
    }
    let received = started.elapsed();
    // Applying runs beside the answers: wait until nothing is left to apply.
    while count(&app, "received").await + count(&app, "applying").await > 0 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let applied = started.elapsed();
    let backend = if std::env::var("KASSA_TEST_DATABASE_URL").is_ok_and(|u| !u.is_empty()) {
        "PostgreSQL"
    } else {
        "SQLite"
    };
    println!(
        "{events} events ({cards} cards, concurrency {concurrency}, {backend}): refused {refused}; \
         answered in {:.2} s ({:.0}/s); all applied in {:.2} s → {:.0} verified events applied per second; \
         outcomes {:?}",
        received.as_secs_f64(),
        events as f64 / received.as_secs_f64(),
        applied.as_secs_f64(),
        events as f64 / applied.as_secs_f64(),
        outcomes(&app).await
    );
}
