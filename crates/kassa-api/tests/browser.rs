//! 3-D Secure in a real browser: headless Chromium opens the `redirect_issuer_url` (the Stripe
//! emulator's hosted challenge page), clicks Complete or Fail, and is sent through Kassa's
//! return endpoint to the merchant's termination page (Kassa's demo page); then the merchant's
//! server finishes the payment with `authorize_3ds`.
//!
//! The browser is driven by `tests/browser/walk_3ds.py` (selenium) with the interpreter from
//! `KASSA_PYTHON` (`scripts/python-env`), and Debian's Chromium and chromedriver
//! (`scripts/browser-env`; `KASSA_CHROMIUM` / `KASSA_CHROMEDRIVER` override the paths). Without
//! them the tests are skipped, except under CI (`CI` set), where they fail.

use std::path::PathBuf;
use std::time::Duration;

use kassa_testkit::{
    browser_tools, run_browser_script, BrowserTools as Tools, Emulator, StatusCode, TestApp,
};
use serde_json::json;

const CHALLENGE_CARD: &str = "4000000000003220";

/// What `walk_3ds.py` saw. Its screenshots' folder is removed when a test passes; it is kept
/// when it fails, or with `KASSA_KEEP_SCREENSHOTS` set.
struct Walk {
    final_url: String,
    payment_id: String,
    outcome: String,
    challenge_heading: String,
    amount: String,
    screenshot: PathBuf,
}

impl Drop for Walk {
    fn drop(&mut self) {
        if std::thread::panicking() || std::env::var_os("KASSA_KEEP_SCREENSHOTS").is_some() {
            return;
        }
        if let Some(folder) = self.screenshot.parent() {
            let _ = std::fs::remove_dir_all(folder);
        }
    }
}

/// Runs the browser: open `redirect`, click `button` (`complete` / `fail`), wait for `termination`.
async fn walk(tools: Tools, redirect: &str, button: &str, termination: &str) -> Walk {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/browser/walk_3ds.py");
    let args = [redirect, button, termination].map(str::to_string).to_vec();
    let seen = run_browser_script(tools, script, args, Duration::from_secs(180)).await;
    let text = |k: &str| {
        seen[k]
            .as_str()
            .unwrap_or_else(|| panic!("no {k} in {seen}"))
            .to_string()
    };
    let walk = Walk {
        final_url: text("final_url"),
        payment_id: text("payment_id"),
        outcome: text("outcome"),
        challenge_heading: text("challenge_heading"),
        amount: text("amount"),
        screenshot: PathBuf::from(text("screenshot")),
    };
    println!(
        "browser finished at {}; screenshots: {} and {}",
        walk.final_url,
        text("challenge_screenshot"),
        walk.screenshot.display()
    );
    let png = std::fs::read(&walk.screenshot).expect("read the screenshot");
    assert!(
        png.starts_with(b"\x89PNG\r\n\x1a\n") && png.len() > 1000,
        "the screenshot is not a PNG of a page ({} bytes)",
        png.len()
    );
    walk
}

/// Kassa and the emulator, a gateway whose termination URL is Kassa's demo page, and a payment
/// that needs a challenge. Returns the app, the emulator (kept alive), the termination URL, the
/// payment id and its `redirect_issuer_url`.
async fn challenged_payment(capture: bool) -> (TestApp, Emulator, String, String, String) {
    let app = TestApp::spawn().await;
    let emu = Emulator::spawn().await;
    let termination = app.url("/demo/3ds-complete");
    let (_gw, group) = app
        .emulator_gateway(&emu, json!({"three_ds": {"termination_url": termination}}))
        .await;
    let acct = app.account("C-1", group).await;
    let card = json!({"number": CHALLENGE_CARD, "exp_month": 12, "exp_year": 2034, "cvc": "123"});
    let r = app
        .post(
            "/v1/payments",
            &json!({"acct_no": acct, "card": card, "amount": 4900, "currency": "usd",
                "attempt_3d_secure": true, "capture": capture}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    assert_eq!(r.body["status"], "requires_action", "{:?}", r.body);
    let id = r.body["id"].as_str().expect("payment id").to_string();
    let redirect = r.body["redirect_issuer_url"]
        .as_str()
        .expect("redirect_issuer_url")
        .to_string();
    assert!(
        redirect.starts_with(&format!("{}/_emulator/3ds/", emu.url)),
        "{redirect}"
    );
    (app, emu, termination, id, redirect)
}

fn assert_on_termination_page(walk: &Walk, termination: &str, id: &str, outcome: &str) {
    assert!(
        walk.challenge_heading.contains("3D Secure"),
        "the challenge page was not shown: {:?}",
        walk.challenge_heading
    );
    assert!(
        walk.amount.contains("4900") && walk.amount.contains("USD"),
        "{:?}",
        walk.amount
    );
    assert!(
        walk.final_url.starts_with(&format!("{termination}?")),
        "the browser ended at {}, not at {termination}",
        walk.final_url
    );
    assert!(
        walk.final_url
            .ends_with(&format!("payment_id={id}&three_ds={outcome}")),
        "{}",
        walk.final_url
    );
    assert_eq!(walk.payment_id, id);
    assert_eq!(walk.outcome, outcome);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_completes_the_challenge_and_returns_to_the_termination_page() {
    let Some(tools) = browser_tools() else {
        return;
    };
    let (app, _emu, termination, id, redirect) = challenged_payment(true).await;
    let walk = walk(tools, &redirect, "complete", &termination).await;
    assert_on_termination_page(&walk, &termination, &id, "authenticated");
    // The termination page's server finishes the payment.
    let done = app
        .post(&format!("/v1/payments/{id}/authorize_3ds"), &json!({}))
        .await;
    assert_eq!(done.status, StatusCode::OK, "{:?}", done.body);
    assert_eq!(done.body["status"], "captured");
    assert_eq!(done.body["three_ds"]["authentication_flow"], "challenge");
    assert_eq!(done.body["three_ds"]["result"], "authenticated");
    assert_eq!(
        app.get(&format!("/v1/payments/{id}")).await.body["status"],
        "captured"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_fails_the_challenge_and_the_payment_is_declined() {
    let Some(tools) = browser_tools() else {
        return;
    };
    let (app, _emu, termination, id, redirect) = challenged_payment(false).await;
    let walk = walk(tools, &redirect, "fail", &termination).await;
    assert_on_termination_page(&walk, &termination, &id, "failed");
    let done = app
        .post(&format!("/v1/payments/{id}/authorize_3ds"), &json!({}))
        .await;
    assert_eq!(done.status, StatusCode::PAYMENT_REQUIRED, "{:?}", done.body);
    assert_eq!(done.body["error"]["type"], "card_error");
    assert_eq!(done.body["error"]["payment_id"], id.as_str());
    let p = app.get(&format!("/v1/payments/{id}")).await.body;
    assert_eq!(p["status"], "declined", "{p:?}");
    assert!(p["decline"]["code"].as_str().is_some(), "{p:?}");
}
