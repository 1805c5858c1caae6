//! `kassa rebill run`: bills every due purchase once, with a progress bar on standard error and
//! a summary on standard output, at the pace the gateway's `rate_limits` allow.

use std::process::Command;
use std::time::Instant;

use kassa_testkit::{Emulator, TestApp};
use serde_json::{json, Value};

const BIN: &str = env!("CARGO_BIN_EXE_kassa");
const PURCHASES: usize = 30;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rebill_run_bills_everything_due_within_the_gateways_rate() {
    let app = TestApp::spawn().await;
    let emu = Emulator::spawn().await;
    let (gw, group) = app
        .emulator_gateway(
            &emu,
            json!({"rate_limits": {"requests_per_second": 20, "max_concurrency": 4}}),
        )
        .await;
    let g = app.get(&format!("/v1/gateways/{gw}")).await;
    assert_eq!(g.body["rate_limits"]["requests_per_second"], 20);
    let bad = app
        .post(
            &format!("/v1/gateways/{gw}/duplicate"),
            &json!({"rate_limits": {"requests_per_second": 0}}),
        )
        .await;
    assert_eq!(bad.param(), Some("rate_limits.requests_per_second"));
    let acct = app.account("C-1", group).await;
    let (campaign, product) = app
        .recurring_product(
            gw,
            json!({"prices": [100, 1700], "interval_unit": "days", "interval_count": 30}),
        )
        .await;
    let mut ids = Vec::new();
    for _ in 0..PURCHASES {
        let o = app
            .order_with_card(campaign, acct, product, "4242424242424242")
            .await;
        ids.push(o["purchases"][0]["id"].as_str().unwrap().to_string());
    }
    let dir = tempfile::tempdir().unwrap();
    let url = app.db.url.clone();
    let key = app.master_key.clone();
    let began = Instant::now();
    // Due by the end of the day 31 days from now: every purchase, once.
    let until = {
        let t = time::OffsetDateTime::now_utc() + time::Duration::days(31);
        format!("{:04}-{:02}-{:02}", t.year(), u8::from(t.month()), t.day())
    };
    let out = tokio::task::spawn_blocking(move || {
        Command::new(BIN)
            .current_dir(dir.path())
            .env_remove("KASSA_MASTER_KEY_FILE")
            .env("KASSA_DATABASE_URL", url)
            .env("KASSA_MASTER_KEY", key)
            .env("KASSA_LOG", "warn")
            .args(["rebill", "run", "--until", &until])
            .output()
    })
    .await
    .unwrap()
    .expect("run kassa rebill run");
    let elapsed = began.elapsed().as_secs_f64();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    let summary: Value = serde_json::from_str(stdout.trim()).expect("a JSON summary");
    assert_eq!(summary["due"], PURCHASES, "{summary}");
    assert_eq!(summary["billed"], PURCHASES);
    assert_eq!(summary["not_billed"], 0);
    assert!(
        stderr.contains(&format!(
            "[{}] {PURCHASES}/{PURCHASES} purchases",
            "#".repeat(30)
        )),
        "{stderr}"
    );
    // 30 payment calls at 20 a second cannot take less than 29/20 s: the budget was kept.
    assert!(elapsed >= 1.45, "{elapsed} s");
    for id in &ids {
        let p = app.get(&format!("/v1/purchases/{id}")).await.body;
        assert_eq!(p["cycle"], 2, "{p}");
    }
}
