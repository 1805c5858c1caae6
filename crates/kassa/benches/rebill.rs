//! Rebill run at scale: N due purchases billed by one `kassa rebill run` process against the
//! Stripe emulator (in this process). Reports purchases per second and the run's peak memory
//! (VmHWM of the `kassa` process), which must not grow with the number of purchases.
//!
//! `cargo bench -p kassa --bench rebill -- --purchases 100000`
//! (SQLite in a temporary file; set `KASSA_TEST_DATABASE_URL` to a PostgreSQL URL for that.)
//! The gateway's budget is set to Stripe's most (1,000 requests a second, 200 at once) so that
//! the run measures Kassa, not the throttle.
//!
//! Against Stripe's limits: `--gateways 8 --latency-ms 300 --stripe-rps 100` spreads the
//! purchases over 8 gateway accounts (each its own Stripe account at the emulator), which answers
//! every call 300 ms late and answers 429 past 100 requests a second per account; each gateway's
//! budget in Kassa is the same 100 a second (`--concurrency`, default 40, at once). The report
//! gives the physical limit — the requests Stripe answered divided by what the accounts allow
//! together — the run's time against it, and the 429s Stripe sent.

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
    let gateways = arg("--gateways", 1).clamp(1, 100);
    let latency_ms = arg("--latency-ms", 0);
    let stripe_rps = arg("--stripe-rps", 0);
    let concurrency = arg("--concurrency", if stripe_rps > 0 { 40 } else { 200 });
    let app = TestApp::spawn().await;
    let emu = Emulator::spawn().await;
    let budget = if stripe_rps > 0 { stripe_rps } else { 1000 };
    let campaign = app
        .post(
            "/v1/campaigns",
            &json!({"name": "Bench", "currency": "usd"}),
        )
        .await
        .body["id"]
        .as_i64()
        .unwrap_or_default();
    // One model purchase per gateway: its own Stripe account, customer, card and product.
    let mut models = Vec::new();
    for g in 0..gateways {
        let (gw, group) = app
            .emulator_gateway(
                &emu,
                json!({"duplicate_window_minutes": 0, "secret_key": format!("sk_test_benchaccount{g:04}"),
                       "rate_limits": {"requests_per_second": budget, "max_concurrency": concurrency}}),
            )
            .await;
        let acct = app.account(&format!("BENCH-{g}"), group).await;
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
        models.push(model);
    }
    // Copies of the model purchases, the gateways in turn, all due now (each on its gateway's
    // stored card and customer).
    let seeding = Instant::now();
    let mut made = gateways;
    while made < purchases {
        let n = (purchases - made).min(400);
        let ids: Vec<String> = (made..made + n)
            .map(|i| {
                format!(
                    "SELECT 'pur_bench{i:08}' AS id, '{}' AS model",
                    models[i % gateways]
                )
            })
            .collect();
        let sql = format!(
            "INSERT INTO purchases (id, client_no, acct_no, order_id, product_id, gateway_id, pm_no, status, cycle, attempt,
                                    next_bill_at, price_override, currency, cancel_at_end, created_at, updated_at, needs_new_card)
             SELECT v.id, p.client_no, p.acct_no, p.order_id, p.product_id, p.gateway_id, p.pm_no, p.status, p.cycle, p.attempt,
                    p.next_bill_at, p.price_override, p.currency, p.cancel_at_end, p.created_at, p.updated_at, p.needs_new_card
             FROM purchases p, ({}) v WHERE p.id = v.model",
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

    if latency_ms > 0 || stripe_rps > 0 {
        emu.emulator
            .set_faults(kassa_testkit::kassa_stripe_emulator::Faults {
                latency_ms: latency_ms as u64,
                rate_limit_per_sec: (stripe_rps > 0).then_some(stripe_rps as u32),
                ..Default::default()
            });
    }
    let (requests_before, throttled_before) = emu.emulator.rate_limit_counts();
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
    let (requests, throttled) = emu.emulator.rate_limit_counts();
    let (requests, throttled) = (requests - requests_before, throttled - throttled_before);
    let captured = kassa_storage::testing::scalar(
        &app.store,
        "SELECT COUNT(*) AS n FROM payments WHERE status = 'captured' AND amount = 1900",
    )
    .await
    .unwrap_or(-1);
    // The physical limit: the requests Stripe did answer, at what the accounts allow together,
    // plus one answer's latency for the last of them.
    let physical = (stripe_rps > 0).then(|| {
        (requests - throttled) as f64 / (gateways * stripe_rps) as f64 + latency_ms as f64 / 1000.0
    });
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
        "gateways": gateways,
        "latency_ms": latency_ms,
        "stripe_rps_per_account": stripe_rps,
        "captured": captured,
        "stripe_requests": requests,
        "stripe_429": throttled,
        "physical_limit_seconds": physical.map(|p| (p * 100.0).round() / 100.0),
        "over_physical_limit_pct": physical.map(|p| ((seconds / p - 1.0) * 1000.0).round() / 10.0),
    });
    println!("{result}");
    println!(
        "| purchases | billed | seconds | purchases/s | peak RSS (MiB) | RSS at 25% (MiB) |\n|---|---|---|---|---|---|\n| {} | {} | {} | {} | {} | {} |",
        purchases, billed, result["seconds"], result["purchases_per_second"], peak / 1024, quarter / 1024
    );
    if let Some(p) = physical {
        println!(
            "| gateways | latency ms | 429s | captured | physical limit s | over it |\n|---|---|---|---|---|---|\n| {gateways} | {latency_ms} | {throttled} | {captured} | {p:.2} | {}% |",
            result["over_physical_limit_pct"]
        );
    }
}
