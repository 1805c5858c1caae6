//! Never lose, never double: payments through an emulator that fails on purpose — 500s before
//! the work, dropped connections, answers lost after the work was done — end with exactly one
//! charge at Stripe per captured Kassa payment, and one Kassa payment per charge.

use kassa_api::service::reconcile::{run_once, Policy};
use kassa_testkit::kassa_stripe_emulator::Faults;
use kassa_testkit::{Emulator, StatusCode, TestApp, SECRET_KEY};
use serde_json::{json, Value};
use std::collections::HashMap;

async fn all_intents(emu: &Emulator) -> Vec<Value> {
    let mut out = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let path = match &after {
            Some(a) => format!("/v1/payment_intents?limit=100&starting_after={a}"),
            None => "/v1/payment_intents?limit=100".to_string(),
        };
        let page = emu.get(SECRET_KEY, &path).await;
        let data = page["data"].as_array().cloned().unwrap_or_default();
        after = data
            .last()
            .and_then(|p| p["id"].as_str())
            .map(str::to_string);
        out.extend(data);
        if page["has_more"] != true {
            return out;
        }
    }
}

async fn all_charges(emu: &Emulator) -> Vec<Value> {
    let page = emu.get(SECRET_KEY, "/v1/charges?limit=100").await;
    page["data"].as_array().cloned().unwrap_or_default()
}

async fn run(seed: u64, n: usize, gateway: Value) {
    let app = TestApp::spawn().await;
    let emu = Emulator::spawn().await;
    let legacy = gateway["type"] == "stripe_v1";
    let (_gw, group) = app.emulator_gateway(&emu, gateway).await;
    let acct = app.account("C-1", group).await;
    let pm = app.post(&format!("/v1/accounts/{acct}/payment_methods"), &json!({"card": {"number": "4242424242424242", "exp_month": 12, "exp_year": 2034, "cvc": "123"}})).await.body;
    emu.emulator.set_faults(Faults {
        error_500_per_mille: 150,
        drop_per_mille: 100,
        timeout_after_success_per_mille: 200,
        seed,
        ..Faults::default()
    });
    let mut tasks = Vec::new();
    for i in 0..n {
        let http = app.http.clone();
        let url = app.url("/v1/payments");
        let key = app.api_key.clone();
        let body = json!({"acct_no": acct, "payment_method_no": pm["payment_method_no"], "amount": 1000 + i as i64, "currency": "usd"});
        tasks.push(tokio::spawn(async move {
            let r = http
                .post(url)
                .bearer_auth(key)
                .header("Idempotency-Key", format!("order-{i}"))
                .json(&body)
                .send()
                .await
                .unwrap();
            (r.status(), r.json::<Value>().await.unwrap_or(Value::Null))
        }));
    }
    let mut outcomes: HashMap<u16, usize> = HashMap::new();
    for t in tasks {
        let (status, body) = t.await.unwrap();
        *outcomes.entry(status.as_u16()).or_default() += 1;
        // Every answer is a recorded payment (or a refusal), never a 5xx that leaves doubt.
        assert!(
            matches!(
                status,
                StatusCode::CREATED | StatusCode::PAYMENT_REQUIRED | StatusCode::CONFLICT
            ),
            "{status}: {body}"
        );
    }
    // The faults stop; the reconciler settles whatever stayed unknown.
    emu.emulator.set_faults(Faults::default());
    let report = run_once(
        &app.state(),
        Policy {
            min_age_ms: 0,
            not_found_after_ms: 0,
        },
    )
    .await
    .unwrap();
    eprintln!("seed {seed}: answers {outcomes:?}, reconciled {report:?}");
    assert_eq!(report.still_unknown, 0);
    assert!(
        report.resolved > 0,
        "these seeds leave some outcomes unknown until the reconciler runs"
    );
    let mut payments = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let path = match &after {
            Some(a) => format!("/v1/payments?limit=100&starting_after={a}"),
            None => "/v1/payments?limit=100".to_string(),
        };
        let page = app.get(&path).await.body;
        let data = page["data"].as_array().cloned().unwrap_or_default();
        after = data
            .last()
            .and_then(|p| p["id"].as_str())
            .map(str::to_string);
        payments.extend(data);
        if page["has_more"] != true {
            break;
        }
    }
    assert_eq!(
        payments.len(),
        n,
        "one Kassa payment per order ({outcomes:?})"
    );
    assert!(
        payments.iter().all(|p| p["status"] != "pending"),
        "nothing left unknown after reconciling"
    );
    let intents = if legacy {
        all_charges(&emu).await
    } else {
        all_intents(&emu).await
    };
    let charged: Vec<&Value> = intents
        .iter()
        .filter(|pi| pi["status"] == "succeeded")
        .collect();
    let captured: Vec<&Value> = payments
        .iter()
        .filter(|p| p["status"] == "captured")
        .collect();
    assert_eq!(
        charged.len(),
        captured.len(),
        "as many charges at Stripe as captured payments in Kassa"
    );
    for p in &captured {
        let matching: Vec<&&Value> = charged
            .iter()
            .filter(|pi| pi["metadata"]["kassa_payment"] == p["id"])
            .collect();
        assert_eq!(matching.len(), 1, "exactly one charge for {}", p["id"]);
        assert_eq!(matching[0]["amount"], p["amount"]);
        assert_eq!(matching[0]["id"], p["processor_payment_id"]);
    }
    for pi in &charged {
        assert!(
            captured
                .iter()
                .any(|p| p["id"] == pi["metadata"]["kassa_payment"]),
            "a charge without a Kassa payment: {}",
            pi["id"]
        );
    }
    // Declines here are only payments that never reached Stripe.
    for p in payments.iter().filter(|p| p["status"] == "declined") {
        assert_eq!(p["decline"]["code"], "not_processed", "{p}");
        assert!(!intents
            .iter()
            .any(|pi| pi["metadata"]["kassa_payment"] == p["id"] && pi["status"] == "succeeded"));
    }
}

#[tokio::test]
async fn faults_seed_1() {
    run(1, 40, json!({})).await;
}

#[tokio::test]
async fn faults_seed_2() {
    run(2, 40, json!({})).await;
}

#[tokio::test]
async fn faults_seed_3() {
    run(3, 40, json!({})).await;
}

/// The same on a Stripe V1 (legacy) gateway: charges, found again by their metadata.
#[tokio::test]
async fn faults_legacy_gateway() {
    run(4, 40, json!({"type": "stripe_v1", "legacy_import": true})).await;
}

/// Stripe answers `processing` (its asynchronous processing): the payment stays pending — not
/// failed, not captured — and the reconciler settles it from Stripe once Stripe has decided.
#[tokio::test]
async fn a_payment_stripe_answers_processing_is_settled_later() {
    let app = TestApp::spawn().await;
    let emu = Emulator::spawn().await;
    let (_gw, group) = app.emulator_gateway(&emu, json!({})).await;
    let acct = app.account("C-1", group).await;
    let mut settings = emu.emulator.settings(SECRET_KEY);
    settings.async_processing_ms = 300;
    emu.emulator.set_settings(SECRET_KEY, settings);
    let pay = |number: &'static str| {
        json!({"acct_no": acct, "amount": 2500, "currency": "usd",
               "card": {"number": number, "exp_month": 12, "exp_year": 2034, "cvc": "123"}})
    };
    let ok = app.post("/v1/payments", &pay("4242424242424242")).await;
    assert_eq!(ok.status, StatusCode::CREATED, "{:?}", ok.body);
    assert_eq!(ok.body["status"], "pending", "{:?}", ok.body);
    let declined = app.post("/v1/payments", &pay("4000000000000002")).await;
    assert_eq!(declined.body["status"], "pending", "{:?}", declined.body);
    // Before Stripe has decided, the reconciler leaves both alone.
    let policy = Policy {
        min_age_ms: 0,
        not_found_after_ms: 0,
    };
    let early = run_once(&app.state(), policy).await.unwrap();
    assert_eq!(early.resolved, 0, "{early:?}");
    tokio::time::sleep(std::time::Duration::from_millis(600)).await;
    let report = run_once(&app.state(), policy).await.unwrap();
    assert_eq!(report.still_unknown, 0, "{report:?}");
    let ok = app
        .get(&format!("/v1/payments/{}", ok.body["id"].as_str().unwrap()))
        .await;
    assert_eq!(ok.body["status"], "captured", "{:?}", ok.body);
    assert_eq!(ok.body["amount_captured"], 2500);
    let declined = app
        .get(&format!(
            "/v1/payments/{}",
            declined.body["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(declined.body["status"], "declined", "{:?}", declined.body);
    assert_eq!(all_charges(&emu).await.len(), 2);
}
