//! A payment load against a `kassa serve` that is made to fail (killed, its database restarted),
//! and the checks that nothing was lost or doubled: Kassa's books against the emulator's.

use std::collections::{HashMap, HashSet};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use kassa_testkit::{reqwest, Emulator, TestApp};
use serde_json::{json, Value};

use super::{all_intents, all_payments};

pub const BIN: &str = env!("CARGO_BIN_EXE_kassa");

/// A `kassa` command on the test's database, quiet.
pub fn kassa(app: &TestApp) -> Command {
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

/// A free loopback port.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap()
        .port()
}

/// Waits until `base` answers `/healthz`.
pub async fn wait_up(http: &reqwest::Client, base: &str) {
    for _ in 0..400 {
        if http.get(format!("{base}/healthz")).send().await.is_ok() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("{base} did not start");
}

/// Sets the emulator's fault injection (`/_emulator/faults`).
pub async fn set_faults(emu: &Emulator, pairs: &[(&str, &str)]) {
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
pub const STRIPE_FAILING: &[(&str, &str)] = &[
    ("error_500_per_mille", "80"),
    ("drop_per_mille", "40"),
    ("timeout_after_success_per_mille", "80"),
    ("rate_limit_per_sec", "60"),
];
pub const STRIPE_WELL: &[(&str, &str)] = &[
    ("error_500_per_mille", "0"),
    ("drop_per_mille", "0"),
    ("timeout_after_success_per_mille", "0"),
    ("rate_limit_per_sec", ""),
];

/// Settles every unknown call now. The emulator's search has no lag, so a call it shows no
/// PaymentIntent for never reached it (Stripe's search lags: in production this waits 10 min).
pub fn reconcile(app: &TestApp) {
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
pub async fn books_agree(app: &TestApp, emu: &Emulator) -> (Vec<Value>, Vec<Value>) {
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

/// `n` stored cards, each on its own account in `group`.
pub async fn stored_cards(app: &TestApp, group: i64, n: usize) -> Vec<(i64, i64)> {
    let mut cards = Vec::new();
    for i in 0..n {
        let acct = app.account(&format!("L-{i}"), group).await;
        let pm = app
            .post(
                &format!("/v1/accounts/{acct}/payment_methods"),
                &json!({"card": {"number": "4242424242424242", "exp_month": 12, "exp_year": 2034, "cvc": "123"}}),
            )
            .await;
        cards.push((acct, pm.body["payment_method_no"].as_i64().unwrap()));
    }
    cards
}

/// One request's final answer: its index, the payment's id and the status answered.
pub type Answer = (usize, String, String);

/// A running payment load: `clients` clients take the next of `total` payments ($10.00 + i
/// cents, cards in turn), each under its own `Idempotency-Key`, retried with the same key
/// until it has an answer (the server down, its database down, or the key held by a request
/// that died are all retried).
pub struct Load {
    pub next: Arc<AtomicUsize>,
    /// Requests that got no final answer and were sent again.
    pub retried: Arc<AtomicUsize>,
    pub total: usize,
    clients: tokio::task::JoinSet<Vec<Answer>>,
}

impl Load {
    pub fn start(
        base: &str,
        api_key: &str,
        cards: Vec<(i64, i64)>,
        total: usize,
        clients: usize,
    ) -> Load {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(20))
            .build()
            .unwrap();
        let next = Arc::new(AtomicUsize::new(0));
        let retried = Arc::new(AtomicUsize::new(0));
        let cards = Arc::new(cards);
        let mut set = tokio::task::JoinSet::new();
        for _ in 0..clients {
            let (http, base, key, next, cards, retried) = (
                http.clone(),
                base.to_string(),
                api_key.to_string(),
                next.clone(),
                cards.clone(),
                retried.clone(),
            );
            set.spawn(async move {
                let mut answers = Vec::new();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= total {
                        return answers;
                    }
                    let (acct, pm) = cards[i % cards.len()];
                    let body = json!({"acct_no": acct, "payment_method_no": pm, "amount": 1000 + i as i64, "currency": "usd"});
                    answers.push(pay_until_answered(&http, &base, &key, i, &body, &retried).await);
                }
            });
        }
        Load {
            next,
            retried,
            total,
            clients: set,
        }
    }

    /// How many payments were started so far.
    pub fn started(&self) -> usize {
        self.next.load(Ordering::Relaxed).min(self.total)
    }

    pub fn running(&self) -> bool {
        self.next.load(Ordering::Relaxed) < self.total
    }

    /// Every request's answer, once all have one.
    pub async fn answers(mut self) -> Vec<Answer> {
        let mut answers = Vec::new();
        while let Some(r) = self.clients.join_next().await {
            answers.extend(r.expect("a client panicked"));
        }
        answers
    }
}

async fn pay_until_answered(
    http: &reqwest::Client,
    base: &str,
    key: &str,
    i: usize,
    body: &Value,
    retried: &AtomicUsize,
) -> Answer {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        assert!(Instant::now() < deadline, "payment {i} never got an answer");
        let r = http
            .post(format!("{base}/v1/payments"))
            .bearer_auth(key)
            .header("Idempotency-Key", format!("load-{i}"))
            .json(body)
            .send()
            .await;
        if let Ok(r) = r {
            let status = r.status().as_u16();
            if let Ok(v) = r.json::<Value>().await {
                if matches!(status, 200 | 201 | 402) {
                    let id = v["id"]
                        .as_str()
                        .or(v["error"]["payment_id"].as_str())
                        .unwrap_or("")
                        .to_string();
                    let answered = v["status"].as_str().unwrap_or("declined").to_string();
                    return (i, id, answered);
                }
            }
        }
        retried.fetch_add(1, Ordering::Relaxed);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// After the reconciler: one answer per request, each its own payment; the books agree with
/// Stripe; each payment ended captured or — when it died before its request reached Stripe —
/// declined as never processed; no answer said `declined` while the outcome was unknown; what
/// was charged is what Kassa shows captured. Returns how many were never processed.
pub async fn check_load(app: &TestApp, emu: &Emulator, answers: &[Answer], total: usize) -> usize {
    assert_eq!(answers.len(), total);
    let ids: HashSet<&str> = answers.iter().map(|(_, id, _)| id.as_str()).collect();
    assert_eq!(
        ids.len(),
        total,
        "each request has its own payment: {answers:?}"
    );
    let (intents, payments) = books_agree(app, emu).await;
    let loaded = payments
        .iter()
        .filter(|p| p["amount"].as_i64().is_some_and(|a| a >= 1000))
        .count();
    assert_eq!(loaded, total, "no payment made twice for one request");
    let mut not_processed = 0;
    let mut expected = 0;
    for (i, id, answered) in answers {
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
        // What a client was told stands, even where the database lost the write that recorded
        // it (an outcome committed without waiting for the disk): the reconciler restores it.
        if answered == "captured" {
            assert_eq!(p["status"], "captured", "answered captured: {p}");
        }
    }
    let charged: i64 = intents
        .iter()
        .filter(|pi| pi["status"] == "succeeded" && pi["amount"].as_i64() >= Some(1000))
        .map(|pi| pi["amount_received"].as_i64().unwrap_or(0))
        .sum();
    assert_eq!(
        charged, expected,
        "what was charged is what Kassa shows captured"
    );
    not_processed
}
