//! API payments under load: N concurrent clients, each doing authorize + capture through Kassa's
//! HTTP API (`POST /v1/payments` with `capture: false` and an `Idempotency-Key`, then
//! `POST /v1/payments/{id}/capture`) on a stored card, against the Stripe emulator with no added
//! latency. Then the same two Stripe calls made to the emulator directly, for the ratio.
//!
//! `kassa serve` and `kassa stripe-emulator` run as their own processes, so the CPU each spends
//! per payment is read from `/proc`; this process is the load generator. All three share the
//! machine's cores, as the issue asks.
//!
//! `cargo bench -p kassa --bench payments -- --payments 20000 --concurrency 32 [--gateways 4]`
//! (SQLite in a temporary file; `KASSA_TEST_DATABASE_URL=postgres://…` for PostgreSQL.)
//! Writes `target/bench/payments-<backend>.json` (or `--out FILE`) and prints a table.

use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use kassa_testkit::{reqwest, TestApp};
use serde_json::{json, Value};

const BIN: &str = env!("CARGO_BIN_EXE_kassa");

/// The load generator allocates as `kassa` does (see its `main.rs`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
const SECRET_KEY: &str = "sk_test_kassaBenchAccount00000000001";

fn arg(name: &str, default: &str) -> String {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .cloned()
        .unwrap_or_else(|| default.to_string())
}

fn num(name: &str, default: usize) -> usize {
    arg(name, &default.to_string()).parse().unwrap_or(default)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// CPU seconds (user + system) a process has used, from `/proc/<pid>/stat`.
fn cpu_seconds(pid: &str) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may hold spaces) start at ") ".
    let rest = stat.rsplit_once(") ").map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name; 100 ticks/s.
    (ticks(11) + ticks(12)) / 100.0
}

struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn wait_until_up(http: &reqwest::Client, url: &str) {
    for _ in 0..200 {
        if http.get(url).send().await.is_ok() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{url} did not come up");
}

#[derive(Default)]
struct Run {
    seconds: f64,
    latencies_ms: Vec<f64>,
    failures: usize,
}

impl Run {
    fn pct(&self, p: f64) -> f64 {
        if self.latencies_ms.is_empty() {
            return 0.0;
        }
        let i = ((self.latencies_ms.len() as f64 - 1.0) * p).round() as usize;
        (self.latencies_ms[i] * 100.0).round() / 100.0
    }

    fn per_second(&self) -> f64 {
        (self.latencies_ms.len() as f64 / self.seconds).round()
    }
}

/// `total` operations over `concurrency` workers; `op(i)` returns whether it succeeded.
async fn drive<F, Fut>(total: usize, concurrency: usize, op: F) -> Run
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = bool> + Send,
{
    let next = Arc::new(AtomicUsize::new(0));
    let op = Arc::new(op);
    let began = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (next, op) = (next.clone(), op.clone());
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut failures = 0;
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= total {
                    break;
                }
                let t = Instant::now();
                if op(i).await {
                    lat.push(t.elapsed().as_secs_f64() * 1000.0);
                } else {
                    failures += 1;
                }
            }
            (lat, failures)
        }));
    }
    let mut run = Run::default();
    for t in tasks {
        let (lat, failures) = t.await.unwrap_or_default();
        run.latencies_ms.extend(lat);
        run.failures += failures;
    }
    run.seconds = began.elapsed().as_secs_f64();
    run.latencies_ms.sort_by(f64::total_cmp);
    run
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let payments = num("--payments", 20_000).max(1);
    let concurrency = num("--concurrency", 32).max(1);
    let warmup = num("--warmup", 1_000);
    let accounts = num("--accounts", 64).max(1);
    let gateways = num("--gateways", 4).clamp(1, accounts);

    let app = TestApp::spawn().await;
    let backend = if app.db.url.starts_with("postgres") {
        "postgresql"
    } else {
        "sqlite"
    };
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency * 2)
        .build()
        .expect("an HTTP client");

    let emu_port = free_port();
    let emu_url = format!("http://127.0.0.1:{emu_port}");
    let emulator = Proc(
        Command::new(BIN)
            .args([
                "stripe-emulator",
                "--listen",
                &format!("127.0.0.1:{emu_port}"),
            ])
            .env("KASSA_LOG", "error")
            .stdout(Stdio::null())
            .spawn()
            .expect("start kassa stripe-emulator"),
    );
    wait_until_up(&http, &emu_url).await;

    // Each gateway's budget is Stripe's most (1,000 requests a second): an authorize and a
    // capture are two requests, so one gateway passes at most 500 pairs a second. The load is
    // spread over `--gateways` Stripe accounts (an operator's usual set-up), so that the run
    // measures Kassa, not the throttle.
    let mut groups = Vec::new();
    for g in 0..gateways {
        let created = app
            .post(
                "/v1/gateways",
                &json!({"type": "stripe_v2", "title": format!("Bench {g}"),
                    "secret_key": format!("{SECRET_KEY}{g:02}"), "api_base_url": emu_url,
                    "duplicate_window_minutes": 0, "rate_limits": {"requests_per_second": 1000, "max_concurrency": 200}}),
            )
            .await;
        let gw = created.body["id"].as_i64().expect("a gateway");
        let grp = app
            .post(
                "/v1/collection_groups",
                &json!({"name": format!("Bench {g}"), "gateway_id": gw}),
            )
            .await;
        groups.push(grp.body["group_no"].as_i64().expect("a group"));
    }
    let mut cards = Vec::new();
    for i in 0..accounts {
        let acct = app
            .account(&format!("BENCH-{i}"), groups[i % groups.len()])
            .await;
        let pm = app
            .post(
                &format!("/v1/accounts/{acct}/payment_methods"),
                &json!({"card": {"number": "4242424242424242", "exp_month": 12, "exp_year": 2034, "cvc": "123"}}),
            )
            .await;
        let no = pm.body["payment_method_no"]
            .as_i64()
            .expect("a stored card");
        cards.push((acct, no));
    }

    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let server = Proc(
        Command::new(BIN)
            .current_dir(std::env::temp_dir())
            .env_remove("KASSA_MASTER_KEY_FILE")
            .env("KASSA_DATABASE_URL", &app.db.url)
            .env("KASSA_MASTER_KEY", &app.master_key)
            // KASSA_BENCH_SERVE_LOG=kassa_storage::sql=debug shows every statement the server runs.
            .env(
                "KASSA_LOG",
                std::env::var("KASSA_BENCH_SERVE_LOG").unwrap_or_else(|_| "error".into()),
            )
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .stdout(Stdio::null())
            .spawn()
            .expect("start kassa serve"),
    );
    wait_until_up(&http, &format!("{base}/healthz")).await;
    let server_pid = server.0.id().to_string();
    let emu_pid = emulator.0.id().to_string();

    let pay = {
        let (http, base, key, cards) = (
            http.clone(),
            base.clone(),
            app.api_key.clone(),
            Arc::new(cards),
        );
        move |i: usize| {
            let (http, base, key, cards) = (http.clone(), base.clone(), key.clone(), cards.clone());
            async move {
                let (acct, pm) = cards[i % cards.len()];
                let r = http
                    .post(format!("{base}/v1/payments"))
                    .bearer_auth(&key)
                    .header("Idempotency-Key", format!("bench-{i}"))
                    .json(&json!({"acct_no": acct, "payment_method_no": pm, "amount": 1000 + (i % 500) as i64,
                        "currency": "usd", "capture": false}))
                    .send()
                    .await;
                let Ok(r) = r else { return false };
                let Ok(body) = r.json::<Value>().await else {
                    return false;
                };
                if body["status"] != "authorized" {
                    eprintln!("authorize: {body}");
                    return false;
                }
                let id = body["id"].as_str().unwrap_or_default();
                let r = http
                    .post(format!("{base}/v1/payments/{id}/capture"))
                    .bearer_auth(&key)
                    .json(&json!({}))
                    .send()
                    .await;
                match r {
                    Ok(r) => r
                        .json::<Value>()
                        .await
                        .is_ok_and(|b| b["status"] == "captured"),
                    Err(_) => false,
                }
            }
        }
    };
    let direct = {
        let (http, emu_url) = (http.clone(), emu_url.clone());
        move |i: usize| {
            let (http, emu_url) = (http.clone(), emu_url.clone());
            async move {
                let amount = (1000 + i % 500).to_string();
                let r = http
                    .post(format!("{emu_url}/v1/payment_intents"))
                    .bearer_auth(SECRET_KEY)
                    .header("Idempotency-Key", format!("direct-{i}"))
                    .form(&[
                        ("amount", amount.as_str()),
                        ("currency", "usd"),
                        ("payment_method", "pm_card_visa"),
                        ("confirm", "true"),
                        ("capture_method", "manual"),
                        ("off_session", "true"),
                    ])
                    .send()
                    .await;
                let Ok(r) = r else { return false };
                let Ok(body) = r.json::<Value>().await else {
                    return false;
                };
                if body["status"] != "requires_capture" {
                    return false;
                }
                let id = body["id"].as_str().unwrap_or_default();
                let r = http
                    .post(format!("{emu_url}/v1/payment_intents/{id}/capture"))
                    .bearer_auth(SECRET_KEY)
                    .send()
                    .await;
                match r {
                    Ok(r) => r
                        .json::<Value>()
                        .await
                        .is_ok_and(|b| b["status"] == "succeeded"),
                    Err(_) => false,
                }
            }
        }
    };

    let pay = Arc::new(pay);
    let p = pay.clone();
    drive(warmup, concurrency, move |i| p(payments + i)).await;
    if backend == "postgresql" {
        // What autovacuum does within its first minute on a new database: statistics. Without
        // them PostgreSQL's cached (generic) plans may look a payment up by `client_no`'s index
        // instead of its primary key — a scan of every payment of the client — until the first
        // ANALYZE invalidates them.
        kassa_storage::testing::execute(&app.store, "ANALYZE")
            .await
            .expect("ANALYZE");
    }
    let (k0, e0, l0) = (
        cpu_seconds(&server_pid),
        cpu_seconds(&emu_pid),
        cpu_seconds("self"),
    );
    let p = pay.clone();
    let kassa = drive(payments, concurrency, move |i| p(i)).await;
    let (k1, e1, l1) = (
        cpu_seconds(&server_pid),
        cpu_seconds(&emu_pid),
        cpu_seconds("self"),
    );
    let d = Arc::new(direct);
    let dd = d.clone();
    drive(warmup, concurrency, move |i| dd(payments + i)).await;
    let e2 = cpu_seconds(&emu_pid);
    let dd = d.clone();
    let alone = drive(payments, concurrency, move |i| dd(i)).await;
    let e3 = cpu_seconds(&emu_pid);

    let done = kassa.latencies_ms.len().max(1) as f64;
    let ms = |s: f64| (s * 1000.0 / done * 100.0).round() / 100.0;
    let result = json!({
        "backend": backend,
        "payments": payments,
        "concurrency": concurrency,
        "gateways": gateways,
        "kassa": {
            "per_second": kassa.per_second(), "failures": kassa.failures,
            "p50_ms": kassa.pct(0.50), "p99_ms": kassa.pct(0.99), "p999_ms": kassa.pct(0.999),
            "cpu_ms_per_payment": {"kassa": ms(k1 - k0), "emulator": ms(e1 - e0), "load_generator": ms(l1 - l0)},
        },
        "emulator_alone": {
            "per_second": alone.per_second(), "failures": alone.failures,
            "p50_ms": alone.pct(0.50), "p99_ms": alone.pct(0.99), "p999_ms": alone.pct(0.999),
            "emulator_cpu_ms_per_payment": (((e3 - e2) * 1000.0 / alone.latencies_ms.len().max(1) as f64) * 100.0).round() / 100.0,
        },
        "ratio_kassa_to_emulator": ((kassa.per_second() / alone.per_second().max(1.0)) * 1000.0).round() / 1000.0,
        "load_average": std::fs::read_to_string("/proc/loadavg").unwrap_or_default().trim(),
    });
    let out = arg("--out", &format!("target/bench/payments-{backend}.json"));
    if let Some(dir) = std::path::Path::new(&out).parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    let _ = std::fs::write(
        &out,
        serde_json::to_string_pretty(&result).unwrap_or_default(),
    );
    println!("{result}");
    println!("| backend | run | payments/s | p50 ms | p99 ms | p99.9 ms | failures | Kassa CPU ms/payment |");
    println!("|---|---|---|---|---|---|---|---|");
    println!(
        "| {backend} | Kassa (authorize + capture) | {} | {} | {} | {} | {} | {} |",
        kassa.per_second(),
        kassa.pct(0.5),
        kassa.pct(0.99),
        kassa.pct(0.999),
        kassa.failures,
        ms(k1 - k0)
    );
    println!(
        "| {backend} | emulator alone (the same two calls) | {} | {} | {} | {} | {} | – |",
        alone.per_second(),
        alone.pct(0.5),
        alone.pct(0.99),
        alone.pct(0.999),
        alone.failures
    );
    println!("written to {out}");
    drop(server);
    drop(emulator);
}
