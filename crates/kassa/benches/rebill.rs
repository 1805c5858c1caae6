//! Rebill run at scale: N due purchases billed by one `kassa rebill run` process against the
//! Stripe emulator (in this process). Reports purchases per second and the run's peak memory
//! (VmHWM of the `kassa` process), which must not grow with the number of purchases.
//!
//! `cargo bench -p kassa --bench rebill -- --purchases 100000`
//! (SQLite in a temporary file; set `KASSA_TEST_DATABASE_URL` to a PostgreSQL URL for that.)
//! The gateway's budget is set to Stripe's most (1,000 requests a second, 200 at once) so that
//! the run measures Kassa, not the throttle.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use kassa_testkit::{Emulator, TestApp};
use serde_json::{json, Value};

const BIN: &str = env!("CARGO_BIN_EXE_kassa");

fn arg(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Peak resident memory of a process, in KiB (`VmHWM`), while it runs.
fn peak_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let purchases = arg("--purchases", 10_000).max(1);
    let app = TestApp::spawn().await;
    let emu = Emulator::spawn().await;
    let (gw, group) = app
        .emulator_gateway(
            &emu,
            json!({"duplicate_window_minutes": 0,
                   "rate_limits": {"requests_per_second": 1000, "max_concurrency": 200}}),
        )
        .await;
    let acct = app.account("BENCH-1", group).await;
    let campaign = app
        .post(
            "/v1/campaigns",
            &json!({"name": "Bench", "currency": "usd"}),
        )
        .await
        .body["id"]
        .as_i64()
        .unwrap_or_default();
    let product = app
        .post(
            &format!("/v1/campaigns/{campaign}/products"),
            &json!({"name": "Box", "schedule": {"prices": [100, 1900], "interval_unit": "days", "interval_count": 30}, "gateway_id": gw}),
        )
        .await
        .body["id"]
        .as_i64()
        .unwrap_or_default();
    let order = app
        .post(
            "/v1/orders",
            &json!({"campaign_id": campaign, "acct_no": acct, "items": [{"product_id": product}],
                    "card": {"number": "4242424242424242", "exp_month": 12, "exp_year": 2034, "cvc": "123"}}),
        )
        .await
        .body;
    let model = order["purchases"][0]["id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(!model.is_empty(), "no purchase: {order}");
    // Copies of the first purchase, all due now (on the same stored card and customer).
    let seeding = Instant::now();
    let mut made = 1;
    while made < purchases {
        let n = (purchases - made).min(400);
        let ids: Vec<String> = (made..made + n)
            .map(|i| format!("SELECT 'pur_bench{i:08}' AS id"))
            .collect();
        let sql = format!(
            "INSERT INTO purchases (id, client_no, acct_no, order_id, product_id, gateway_id, pm_no, status, cycle, attempt,
                                    next_bill_at, price_override, currency, cancel_at_end, created_at, updated_at, needs_new_card)
             SELECT v.id, p.client_no, p.acct_no, p.order_id, p.product_id, p.gateway_id, p.pm_no, p.status, p.cycle, p.attempt,
                    p.next_bill_at, p.price_override, p.currency, p.cancel_at_end, p.created_at, p.updated_at, p.needs_new_card
             FROM purchases p, ({}) v WHERE p.id = '{model}'",
            ids.join(" UNION ALL ")
        );
        kassa_storage::testing::execute(&app.store, &sql)
            .await
            .expect("seed purchases");
        made += n;
    }
    let past = kassa_storage::now_millis() - 60_000;
    kassa_storage::testing::execute(
        &app.store,
        &format!("UPDATE purchases SET next_bill_at = {past}"),
    )
    .await
    .expect("make them due");
    eprintln!(
        "seeded {purchases} due purchases in {:.1} s",
        seeding.elapsed().as_secs_f64()
    );

    let dir = std::env::temp_dir();
    let began = Instant::now();
    let mut child = Command::new(BIN)
        .current_dir(dir)
        .env_remove("KASSA_MASTER_KEY_FILE")
        .env("KASSA_DATABASE_URL", &app.db.url)
        .env("KASSA_MASTER_KEY", &app.master_key)
        .env("KASSA_LOG", "error")
        .args(["rebill", "run"])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start kassa rebill run");
    let pid = child.id();
    let mut peak = 0;
    let mut samples = Vec::new();
    let status = loop {
        if let Ok(Some(s)) = child.try_wait() {
            break s;
        }
        if let Some(k) = peak_kib(pid) {
            peak = peak.max(k);
            samples.push((began.elapsed().as_secs_f64(), k));
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    let seconds = began.elapsed().as_secs_f64();
    let mut out = String::new();
    if let Some(mut s) = child.stdout.take() {
        use std::io::Read;
        let _ = s.read_to_string(&mut out);
    }
    assert!(status.success(), "kassa rebill run failed: {out}");
    let summary: Value = serde_json::from_str(out.trim()).unwrap_or(Value::Null);
    let billed = summary["billed"].as_u64().unwrap_or(0);
    // Memory early in the run against the end: flat means it does not grow with purchases.
    let quarter = samples.get(samples.len() / 4).map_or(0, |s| s.1);
    let result = json!({
        "purchases": purchases,
        "billed": billed,
        "seconds": (seconds * 10.0).round() / 10.0,
        "purchases_per_second": (billed as f64 / seconds).round(),
        "peak_rss_mib": peak / 1024,
        "rss_at_quarter_mib": quarter / 1024,
        "backend": if app.db.url.starts_with("postgres") { "postgresql" } else { "sqlite" },
    });
    println!("{result}");
    println!(
        "| purchases | billed | seconds | purchases/s | peak RSS (MiB) | RSS at 25% (MiB) |\n|---|---|---|---|---|---|\n| {} | {} | {} | {} | {} | {} |",
        purchases, billed, result["seconds"], result["purchases_per_second"], peak / 1024, quarter / 1024
    );
}
