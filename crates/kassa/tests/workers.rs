//! Two real `kassa worker` processes on one PostgreSQL database bill many due purchases: each
//! exactly once, in Kassa and at the (emulated) Stripe. PostgreSQL only: on the SQLite run the
//! test returns at once.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use kassa_storage::testing::TestDb;
use kassa_testkit::{Emulator, TestApp};

mod common;
use common::all_intents;

const BIN: &str = env!("CARGO_BIN_EXE_kassa");
const PURCHASES: usize = 80;
const REBILL: i64 = 1500;

/// A running `kassa worker` and the lines it logged.
struct Worker {
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Worker {
    fn logged(&self, what: &str) -> usize {
        self.lines
            .lock()
            .map(|l| l.iter().filter(|x| x.contains(what)).count())
            .unwrap_or(0)
    }
}

fn worker(app: &TestApp, dir: &std::path::Path) -> Worker {
    let mut child = Command::new(BIN)
        .current_dir(dir)
        .env_remove("KASSA_MASTER_KEY_FILE")
        .env("KASSA_DATABASE_URL", &app.db.url)
        .env("KASSA_MASTER_KEY", &app.master_key)
        .env(
            "KASSA_LOG",
            "warn,kassa=info,kassa_api::service::billing=debug",
        )
        .arg("worker")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn kassa worker");
    let lines = Arc::new(Mutex::new(Vec::new()));
    let sink = lines.clone();
    let stderr = child.stderr.take().expect("stderr");
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            eprintln!("{line}");
            if let Ok(mut l) = sink.lock() {
                l.push(line);
            }
        }
    });
    Worker { child, lines }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_worker_processes_bill_each_purchase_once() {
    if TestDb::configured_url().is_none() {
        eprintln!("skipped: two workers need PostgreSQL (set KASSA_TEST_DATABASE_URL)");
        return;
    }
    let app = TestApp::spawn().await;
    let emu = Emulator::spawn().await;
    let ids = common::monthly_purchases(&app, &emu, PURCHASES, REBILL).await;
    // Both workers up (their rebill loops tick at start, then every 10 s), then everything due
    // at once, so their next ticks meet the same due purchases.
    let dir = tempfile::tempdir().unwrap();
    let workers = [worker(&app, dir.path()), worker(&app, dir.path())];
    let deadline = Instant::now() + Duration::from_secs(30);
    while workers
        .iter()
        .any(|w| w.logged("kassa worker is running") == 0)
    {
        assert!(Instant::now() < deadline, "the workers did not start");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Past their first (immediate) ticks: the next ones, 10 s after each start, come together.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let past = kassa_storage::now_millis() - 60_000;
    kassa_storage::testing::execute(
        &app.store,
        &format!("UPDATE purchases SET next_bill_at = {past}"),
    )
    .await
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let mut billed = 0;
        for id in &ids {
            if app.get(&format!("/v1/purchases/{id}")).await.body["cycle"] == 2 {
                billed += 1;
            }
        }
        if billed == ids.len() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "only {billed} of {} purchases billed",
            ids.len()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    // Let any second attempt that would double-bill show itself before stopping the workers.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let by_worker: Vec<usize> = workers.iter().map(|w| w.logged("rebill billed")).collect();
    drop(workers);
    assert_eq!(by_worker.iter().sum::<usize>(), PURCHASES, "{by_worker:?}");
    assert!(
        by_worker.iter().all(|n| *n > 0),
        "both workers took part: {by_worker:?}"
    );

    for id in &ids {
        let p = app.get(&format!("/v1/purchases/{id}")).await.body;
        let attempts = p["attempts"].as_array().unwrap();
        assert_eq!(
            (
                p["cycle"].as_i64(),
                attempts.len(),
                attempts[0]["status"].as_str()
            ),
            (Some(2), 1, Some("approved")),
            "{p}"
        );
    }
    let mut per_purchase: HashMap<String, usize> = HashMap::new();
    for pi in all_intents(&emu).await {
        if pi["amount"] == REBILL {
            assert_eq!(pi["status"], "succeeded");
            let pur = pi["metadata"]["kassa_purchase"]
                .as_str()
                .unwrap_or("")
                .to_string();
            *per_purchase.entry(pur).or_default() += 1;
        }
    }
    assert_eq!(per_purchase.len(), PURCHASES, "every purchase charged");
    assert!(
        per_purchase.values().all(|n| *n == 1),
        "a purchase was charged twice at Stripe: {per_purchase:?}"
    );
}
