//! The console in a real browser: headless Chromium signs in, reads the Gateway List, duplicates
//! a gateway with a new descriptor suffix, opens every report, looks at the list on a phone's
//! screen and signs out (`tests/browser/console.py`). The screenshots of each page are kept in
//! `<target>/tmp/console-screenshots/` (or `KASSA_SCREENSHOTS`).
//!
//! Needs `KASSA_PYTHON` (scripts/python-env) and Debian's Chromium and chromedriver
//! (scripts/browser-env); without them the test is skipped, except under CI, where it fails.

use std::path::PathBuf;
use std::time::Duration;

use kassa_testkit::{browser_tools, run_browser_script, Emulator, TestApp};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_walks_the_console() {
    let Some(tools) = browser_tools() else {
        return;
    };
    let app = TestApp::spawn_with(kassa_console::app).await;
    let emu = Emulator::spawn().await;
    let (gw, group) = app
        .emulator_gateway(
            &emu,
            json!({"title": "Main Stripe", "descriptor": "KASSA SHOP", "limits": {"monthly_cap": 100_000}}),
        )
        .await;
    let acct = app.account("C-1", group).await;
    for (number, amount) in [("4242424242424242", 25_000), ("4000000000000002", 5_000)] {
        app.post(
            "/v1/payments",
            &json!({"acct_no": acct, "amount": amount, "currency": "usd",
                    "card": {"number": number, "exp_month": 12, "exp_year": 2034, "cvc": "123"}}),
        )
        .await;
    }
    let shots = std::env::var_os("KASSA_SCREENSHOTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("console-screenshots"));
    let _ = std::fs::remove_dir_all(&shots);
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/browser/console.py");
    let args = [
        app.url(""),
        app.api_key.clone(),
        shots.display().to_string(),
    ];
    let seen = run_browser_script(tools, script, args.to_vec(), Duration::from_secs(240)).await;
    assert_eq!(seen["gateways"], json!(["Main Stripe"]), "{seen}");
    let notice = seen["notice"].as_str().unwrap();
    assert!(notice.starts_with("Gateway duplicated as #"), "{notice}");
    let copy: i64 = notice
        .trim_start_matches("Gateway duplicated as #")
        .split('.')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let g = app.get(&format!("/v1/gateways/{copy}")).await;
    assert_eq!(g.body["descriptor_suffix"], "SERUM");
    assert_ne!(copy, gw);
    assert_eq!(seen["payments"], 2, "{seen}");
    assert_eq!(seen["profile_payments"], 2, "{seen}");
    let reports = &seen["reports"];
    assert_eq!(reports["gateway_volume"]["svg"], true, "{seen}");
    assert_eq!(reports["gateway_volume"]["rows"], 1);
    assert_eq!(reports["declines"]["rows"], 1);
    assert!(seen["signed_out_at"]
        .as_str()
        .unwrap()
        .ends_with("/console/sign-in"));
    let files = seen["screenshots"].as_array().unwrap();
    assert_eq!(files.len(), 14, "{seen}");
    for f in files {
        let size = std::fs::metadata(f.as_str().unwrap())
            .map(|m| m.len())
            .unwrap_or(0);
        assert!(size > 1000, "{f} is a real PNG");
    }
    println!("screenshots in {}", shots.display());
}
