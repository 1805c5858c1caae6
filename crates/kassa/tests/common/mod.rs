//! What the binary's process tests share: reading everything back from the emulator and from
//! Kassa, a process killed when dropped, and a small seeded random source for kill points.

#![allow(dead_code)] // each test file uses its own part

pub mod load;

use std::process::Child;

use kassa_testkit::{Emulator, TestApp, SECRET_KEY};
use serde_json::Value;

/// Every PaymentIntent at the emulator, all pages.
pub async fn all_intents(emu: &Emulator) -> Vec<Value> {
    let mut out: Vec<Value> = Vec::new();
    loop {
        let after = out
            .last()
            .and_then(|pi| pi["id"].as_str())
            .map(|id| format!("&starting_after={id}"))
            .unwrap_or_default();
        let page = emu
            .get(SECRET_KEY, &format!("/v1/payment_intents?limit=100{after}"))
            .await;
        let data = page["data"].as_array().cloned().unwrap_or_default();
        let more = page["has_more"] == true && !data.is_empty();
        out.extend(data);
        if !more {
            return out;
        }
    }
}

/// Every payment Kassa recorded for the test's client, all pages.
pub async fn all_payments(app: &TestApp) -> Vec<Value> {
    let mut out: Vec<Value> = Vec::new();
    loop {
        let after = out
            .last()
            .and_then(|p| p["id"].as_str())
            .map(|id| format!("&starting_after={id}"))
            .unwrap_or_default();
        let page = app
            .get(&format!("/v1/payments?limit=100{after}"))
            .await
            .body;
        let data = page["data"].as_array().cloned().unwrap_or_default();
        let more = page["has_more"] == true && !data.is_empty();
        out.extend(data);
        if !more {
            return out;
        }
    }
}

/// `n` orders of a recurring offer ($1.00, then `rebill` every 30 days) on one card, on a new
/// emulator gateway; returns the purchases' ids.
pub async fn monthly_purchases(
    app: &TestApp,
    emu: &Emulator,
    n: usize,
    rebill: i64,
) -> Vec<String> {
    let (gw, group) = app.emulator_gateway(emu, serde_json::json!({})).await;
    let acct = app.account("C-1", group).await;
    let (campaign, product) = app
        .recurring_product(
            gw,
            serde_json::json!({"prices": [100, rebill], "interval_unit": "days", "interval_count": 30}),
        )
        .await;
    let mut ids = Vec::new();
    for _ in 0..n {
        let o = app
            .order_with_card(campaign, acct, product, "4242424242424242")
            .await;
        ids.push(o["purchases"][0]["id"].as_str().unwrap_or("").to_string());
    }
    ids
}

/// A child process, killed (SIGKILL) when dropped.
pub struct Proc(pub Child);

impl Proc {
    /// SIGKILL, as a crash or the OOM killer would.
    pub fn kill(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A small deterministic random source (xorshift), seeded from the clock unless
/// `KASSA_CRASH_SEED` is set; the seed is printed so a failing run can be repeated.
pub struct Rng(u64);

impl Rng {
    pub fn new() -> Rng {
        let seed = std::env::var("KASSA_CRASH_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_nanos() as u64)
                    .unwrap_or(7)
            })
            | 1;
        eprintln!("KASSA_CRASH_SEED={seed}");
        Rng(seed)
    }

    /// A number in `lo..hi`.
    pub fn between(&mut self, lo: u64, hi: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        lo + self.0 % (hi - lo).max(1)
    }
}
