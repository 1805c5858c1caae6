//! Rough throughput check: PaymentIntent create+confirm over HTTP on loopback.
//! `cargo run --release -p kassa-stripe-emulator --example bench -- [requests] [concurrency]`

use std::time::Instant;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let total: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(20_000);
    let conc: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(32);
    let (addr, _emu, _server) = kassa_stripe_emulator::spawn("127.0.0.1:0").await?;
    let url = format!("http://{addr}/v1/payment_intents");
    let http = reqwest::Client::new();
    let start = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..conc {
        let (http, url) = (http.clone(), url.clone());
        tasks.push(tokio::spawn(async move {
            let mut failures = 0usize;
            for i in (w..total).step_by(conc) {
                let key = format!("bench-{i}");
                let r = http
                    .post(&url)
                    .bearer_auth("sk_test_bench")
                    .header("Idempotency-Key", key)
                    .form(&[
                        ("amount", "2000"),
                        ("currency", "usd"),
                        ("payment_method", "pm_card_visa"),
                        ("confirm", "true"),
                        ("metadata[order]", "1"),
                    ])
                    .send()
                    .await;
                if !matches!(r, Ok(ref r) if r.status().is_success()) {
                    failures += 1;
                }
            }
            failures
        }));
    }
    let mut failures = 0;
    for t in tasks {
        failures += t.await.unwrap_or(1);
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{total} create+confirm in {secs:.2}s = {:.0}/s (concurrency {conc}, failures {failures})",
        total as f64 / secs
    );
    Ok(())
}
