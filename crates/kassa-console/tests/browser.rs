//! The console in a real browser: headless Chromium signs in, creates a Stripe V2 gateway through
//! the form, duplicates it with a new descriptor suffix, creates a campaign with a recurring offer,
//! places a test order against the emulator, presses Force Bill NOW, refunds, opens every report,
//! looks at the list on a phone's screen and signs out (`tests/browser/console.py`). The screenshots of each page are kept in
//! `<target>/tmp/console-screenshots/` (or `KASSA_SCREENSHOTS`).
//!
//! Needs `KASSA_PYTHON` (scripts/python-env) and Debian's Chromium and chromedriver
//! (scripts/browser-env); without them the test is skipped, except under CI, where it fails.

use std::path::PathBuf;
use std::time::Duration;

use kassa_testkit::{browser_tools, run_browser_script, Emulator, TestApp, SECRET_KEY};
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
        emu.url.clone(),
        SECRET_KEY.to_string(),
    ];
    let seen = run_browser_script(tools, script, args.to_vec(), Duration::from_secs(240)).await;
    // The gateway made through the form, with the figures typed in the major unit.
    assert_eq!(seen["v1_offered"], false, "{seen}");
    let created = seen["created"].as_str().unwrap();
    let form_gw: i64 = created
        .trim_start_matches("Gateway #")
        .trim_end_matches(" created.")
        .parse()
        .unwrap();
    assert_eq!(seen["gateways"], json!(["Form Stripe", "Main Stripe"]), "{seen}");
    let g = app.get(&format!("/v1/gateways/{form_gw}")).await.body;
    assert_eq!(g["type"], "stripe_v2");
    assert_eq!(g["limits"]["monthly_cap"], 2_500_000);
    assert_eq!(g["limits"]["transaction_fee"], 25);
    assert_eq!(g["customer_service"]["phone"], "+1 800 555 0199");
    assert_eq!(g["disable_email_receipt"], true);
    assert_eq!(seen["edit_cap"], "25,000.00");
    assert_eq!(seen["edit_secret"], "", "the stored key is never put back in the form");
    let notice = seen["notice"].as_str().unwrap();
    assert!(notice.starts_with("Gateway duplicated as #"), "{notice}");
    let copy: i64 = notice
        .trim_start_matches("Gateway duplicated as #")
        .split('.')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let dup = app.get(&format!("/v1/gateways/{copy}")).await;
    assert_eq!(dup.body["descriptor_suffix"], "SERUM");
    assert_eq!(dup.body["limits"]["monthly_cap"], 2_500_000);
    assert!(copy != gw && copy != form_gw);
    // The test order, Force Bill NOW and the refund, as Kassa and the emulator recorded them.
    assert_eq!(seen["offer"], "cycles 1.00, 49.95 every 1 months", "{seen}");
    assert_eq!(seen["ordered"], "Test order placed.");
    assert_eq!(seen["billed"], "Billed now (Force Bill NOW).");
    assert_eq!(seen["purchase_cycle"], "2", "{seen}");
    assert_eq!(seen["profile_payments"], json!(["49.95 USD", "1.00 USD"]), "{seen}");
    assert_eq!(seen["refunded"], "Payment refunded.");
    assert_eq!(seen["statuses"], json!(["captured", "refunded"]), "{seen}");
    let tess = app.get("/v1/accounts?client_acct_id=test-tess@example.com").await.body;
    let acct_no = tess["data"][0]["acct_no"].as_i64().unwrap();
    let pays = app.get(&format!("/v1/payments?acct_no={acct_no}")).await.body;
    let pays = pays["data"].as_array().unwrap();
    assert_eq!(pays.len(), 2);
    for p in pays {
        assert_eq!(p["gateway_id"], form_gw, "sold and rebilled on the form's gateway");
    }
    assert_eq!(seen["payments"], 4, "{seen}");
    let reports = &seen["reports"];
    assert_eq!(reports["gateway_volume"]["svg"], true, "{seen}");
    assert_eq!(reports["gateway_volume"]["rows"], 2, "{seen}");
    assert_eq!(reports["declines"]["rows"], 1);
    assert!(seen["signed_out_at"]
        .as_str()
        .unwrap()
        .ends_with("/console/sign-in"));
    let files = seen["screenshots"].as_array().unwrap();
    assert_eq!(files.len(), 23, "{seen}");
    for f in files {
        let size = std::fs::metadata(f.as_str().unwrap())
            .map(|m| m.len())
            .unwrap_or(0);
        assert!(size > 1000, "{f} is a real PNG");
    }
    println!("screenshots in {}", shots.display());
}
