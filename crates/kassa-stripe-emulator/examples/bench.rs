//! Benchmark of the emulator (issue 3: "never the bottleneck"), in two phases:
//!
//! 1. **Throughput**: PaymentIntent create+confirm (one `POST /v1/payment_intents` with
//!    `confirm=true`, `payment_method=pm_card_visa` and an `Idempotency-Key`, as Kassa sends it)
//!    over HTTP on loopback, with `--concurrency` clients (keep-alive connections, reqwest) in
//!    the same process. Reports requests/s and p50/p90/p99/max latency.
//! 2. **Memory**: fills a fresh emulator with `--intents` succeeded PaymentIntents (the same
//!    request, each with its own `Idempotency-Key` and metadata), calling its router in-process
//!    (no sockets), and reads the resident set size (`VmRSS` of `/proc/self/status`) at
//!    0, 100k, 250k, 500k and 1M intents (and every 100k in between), then reports bytes per
//!    PaymentIntent: overall and between checkpoints (flat = no superlinear growth).
//!
//! Results go to a JSON file and a table on stdout; `/proc/loadavg` is read before and after
//! each phase, because the machine may be shared.
//!
//! ```sh
//! cargo run --release -p kassa-stripe-emulator --example bench -- \
//!     [--requests 50000] [--concurrency 32] [--warmup 5000] [--intents 1000000] \
//!     [--only throughput|memory] [--out target/bench/emulator.json]
//! ```

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::body::Body;
use axum::handler::Handler;
use axum::http::{Request, StatusCode};
use serde_json::{json, Value};

const KEY: &str = "sk_test_bench";

struct Args {
    requests: usize,
    concurrency: usize,
    warmup: usize,
    intents: usize,
    only: Option<String>,
    out: String,
}

fn usage() -> ! {
    eprintln!(
        "usage: bench [--requests N] [--concurrency C] [--warmup N] [--intents N] \
         [--only throughput|memory] [--out FILE]"
    );
    std::process::exit(2)
}

fn parse_args() -> Args {
    let mut a = Args {
        requests: 50_000,
        concurrency: 32,
        warmup: 5_000,
        intents: 1_000_000,
        only: None,
        out: "target/bench/emulator.json".into(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let Some(val) = it.next() else { usage() };
        let num = || {
            val.replace('_', "")
                .parse::<usize>()
                .unwrap_or_else(|_| usage())
        };
        match flag.as_str() {
            "--requests" => a.requests = num(),
            "--concurrency" => a.concurrency = num().max(1),
            "--warmup" => a.warmup = num(),
            "--intents" => a.intents = num(),
            "--only" if val == "throughput" || val == "memory" => a.only = Some(val),
            "--out" => a.out = val,
            _ => usage(),
        }
    }
    a
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .trim()
        .to_string()
}

/// Resident set size in bytes (`VmRSS`).
fn rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map(|v| v.trim_start_matches([' ', '\t', ':']).trim().to_string())
        .unwrap_or_else(|| "unknown".into())
}

fn form(i: usize) -> String {
    format!(
        "amount=2000&currency=usd&payment_method=pm_card_visa&confirm=true&metadata%5Border%5D={i}"
    )
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    f64::from(sorted[idx]) / 1000.0
}

/// `n` create+confirm requests over HTTP from `conc` clients; returns (seconds, failures,
/// latencies in microseconds).
async fn http_run(
    http: &reqwest::Client,
    url: &str,
    prefix: &str,
    n: usize,
    conc: usize,
) -> (f64, usize, Vec<u32>) {
    let start = Instant::now();
    let mut tasks = Vec::with_capacity(conc);
    for w in 0..conc {
        let (http, url, prefix) = (http.clone(), url.to_string(), prefix.to_string());
        tasks.push(tokio::spawn(async move {
            let mut failures = 0usize;
            let mut lat = Vec::with_capacity(n / conc + 1);
            for i in (w..n).step_by(conc) {
                let t = Instant::now();
                let r = http
                    .post(&url)
                    .bearer_auth(KEY)
                    .header("Idempotency-Key", format!("{prefix}-{i}"))
                    .header("Content-Type", "application/x-www-form-urlencoded")
                    .body(form(i))
                    .send()
                    .await;
                let ok = match r {
                    Ok(r) => r.status().is_success() && r.bytes().await.is_ok(),
                    Err(_) => false,
                };
                lat.push(t.elapsed().as_micros().min(u128::from(u32::MAX)) as u32);
                if !ok {
                    failures += 1;
                }
            }
            (failures, lat)
        }));
    }
    let mut failures = 0;
    let mut lat = Vec::with_capacity(n);
    for t in tasks {
        match t.await {
            Ok((f, l)) => {
                failures += f;
                lat.extend(l);
            }
            Err(_) => failures += 1,
        }
    }
    (start.elapsed().as_secs_f64(), failures, lat)
}

async fn throughput(a: &Args) -> Value {
    let load_before = loadavg();
    let (addr, emu, _server) = kassa_stripe_emulator::spawn("127.0.0.1:0")
        .await
        .expect("bind loopback");
    let url = format!("http://{addr}/v1/payment_intents");
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(a.concurrency)
        .build()
        .expect("http client");
    if a.warmup > 0 {
        let (_, f, _) = http_run(&http, &url, "warmup", a.warmup, a.concurrency).await;
        assert_eq!(f, 0, "warm-up requests failed");
    }
    let (secs, failures, mut lat) = http_run(&http, &url, "bench", a.requests, a.concurrency).await;
    let load_after = loadavg();
    lat.sort_unstable();
    let rate = a.requests as f64 / secs;
    let r = json!({
        "requests": a.requests,
        "warmup_requests": a.warmup,
        "concurrency": a.concurrency,
        "seconds": secs,
        "requests_per_second": rate.round(),
        "failures": failures,
        "latency_ms": {
            "p50": percentile(&lat, 0.50),
            "p90": percentile(&lat, 0.90),
            "p99": percentile(&lat, 0.99),
            "max": percentile(&lat, 1.0),
        },
        "loadavg_before": load_before,
        "loadavg_after": load_after,
    });
    println!("\n== throughput: create+confirm over HTTP (loopback, client in-process) ==");
    println!(
        "{:>9} {:>5} {:>8} {:>9} {:>8} {:>8} {:>8} {:>8} {:>8}",
        "requests", "conc", "secs", "req/s", "p50 ms", "p90 ms", "p99 ms", "max ms", "failed"
    );
    println!(
        "{:>9} {:>5} {:>8.2} {:>9.0} {:>8.2} {:>8.2} {:>8.2} {:>8.2} {:>8}",
        a.requests,
        a.concurrency,
        secs,
        rate,
        r["latency_ms"]["p50"].as_f64().unwrap_or(0.0),
        r["latency_ms"]["p90"].as_f64().unwrap_or(0.0),
        r["latency_ms"]["p99"].as_f64().unwrap_or(0.0),
        r["latency_ms"]["max"].as_f64().unwrap_or(0.0),
        failures
    );
    println!("loadavg before: {load_before} · after: {load_after}");
    // Keep the throughput run's objects alive: freeing them would leave holes in the heap that
    // the memory phase would fill without growing RSS, understating its first checkpoint.
    std::mem::forget(emu);
    r
}

/// One create+confirm through the router, no sockets.
async fn call(svc: &axum::routing::MethodRouter, i: usize) -> StatusCode {
    let req = Request::post("/v1/payment_intents")
        .header("authorization", format!("Bearer {KEY}"))
        .header("idempotency-key", format!("fill-{i}"))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("host", "127.0.0.1")
        .body(Body::from(form(i)))
        .expect("request");
    let resp = Handler::<(), ()>::call(svc.clone(), req, ()).await;
    let status = resp.status();
    // Drain the body as a client would (it is a fully buffered JSON string).
    let _ = axum::body::to_bytes(resp.into_body(), usize::MAX).await;
    status
}

async fn memory(a: &Args) -> Value {
    let load_before = loadavg();
    let emu = kassa_stripe_emulator::Emulator::new();
    let svc = axum::routing::any_service(emu.router());
    let mut checkpoints: Vec<usize> = vec![0, 100_000, 250_000, 500_000, 1_000_000];
    checkpoints.extend((1..=a.intents / 100_000).map(|k| k * 100_000));
    checkpoints.retain(|&c| c <= a.intents);
    checkpoints.push(a.intents);
    checkpoints.sort_unstable();
    checkpoints.dedup();

    // Two in-flight callers (one per core); the account's lock serializes the work anyway.
    const WORKERS: usize = 2;
    let mut samples: Vec<(usize, u64, f64)> = Vec::new();
    let start = Instant::now();
    let mut done = 0usize;
    for &target in &checkpoints {
        if target > done {
            let from = done;
            let mut tasks = Vec::new();
            for w in 0..WORKERS {
                let svc = svc.clone();
                tasks.push(tokio::spawn(async move {
                    let mut bad = 0usize;
                    for i in (from + w..target).step_by(WORKERS) {
                        if call(&svc, i).await != StatusCode::OK {
                            bad += 1;
                        }
                    }
                    bad
                }));
            }
            for t in tasks {
                let bad = t.await.unwrap_or(usize::MAX);
                assert_eq!(bad, 0, "create+confirm failed during the fill");
            }
            done = target;
        }
        // Let the allocator settle a moment, then sample.
        tokio::time::sleep(Duration::from_millis(50)).await;
        samples.push((done, rss_bytes(), start.elapsed().as_secs_f64()));
    }
    let load_after = loadavg();
    let base = samples[0].1;
    println!(
        "\n== memory: {} PaymentIntents created+confirmed in-process ==",
        a.intents
    );
    println!(
        "{:>9} {:>10} {:>12} {:>12} {:>14} {:>8}",
        "intents", "RSS MiB", "Δ MiB", "B/PI total", "B/PI interval", "secs"
    );
    let mut rows = Vec::new();
    let mut prev: Option<(usize, u64)> = None;
    for &(n, rss, secs) in &samples {
        let delta = rss as i64 - base as i64;
        let per_total = (n > 0).then(|| delta as f64 / n as f64);
        let per_interval = prev.map(|(pn, prss)| (rss as f64 - prss as f64) / (n - pn) as f64);
        println!(
            "{:>9} {:>10.1} {:>12.1} {:>12} {:>14} {:>8.1}",
            n,
            rss as f64 / 1048576.0,
            delta as f64 / 1048576.0,
            per_total.map_or("-".into(), |v| format!("{v:.0}")),
            per_interval.map_or("-".into(), |v| format!("{v:.0}")),
            secs
        );
        rows.push(json!({
            "intents": n,
            "rss_bytes": rss,
            "bytes_per_intent_since_0": per_total.map(f64::round),
            "bytes_per_intent_since_previous": per_interval.map(f64::round),
            "elapsed_seconds": secs,
        }));
        prev = Some((n, rss));
    }
    // Least-squares slope over the samples from 100k on (past the capped stores' fill-up).
    let pts: Vec<(f64, f64)> = samples
        .iter()
        .filter(|s| s.0 >= 100_000)
        .map(|s| (s.0 as f64, s.1 as f64))
        .collect();
    let slope = if pts.len() >= 2 {
        let n = pts.len() as f64;
        let mx = pts.iter().map(|p| p.0).sum::<f64>() / n;
        let my = pts.iter().map(|p| p.1).sum::<f64>() / n;
        let sxy: f64 = pts.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
        let sxx: f64 = pts.iter().map(|p| (p.0 - mx) * (p.0 - mx)).sum();
        Some((sxy / sxx).round())
    } else {
        None
    };
    let last = samples.last().copied().unwrap_or((0, base, 0.0));
    let overall = (last.0 > 0).then(|| ((last.1 as f64 - base as f64) / last.0 as f64).round());
    let rate = last.0 as f64 / last.2.max(1e-9);
    println!(
        "bytes per PaymentIntent: {} over 0–{} · least-squares slope from 100k: {} · fill rate {:.0}/s in-process",
        overall.map_or("-".into(), |v| format!("{v:.0}")),
        last.0,
        slope.map_or("-".into(), |v| format!("{v:.0}")),
        rate
    );
    println!("loadavg before: {load_before} · after: {load_after}");
    json!({
        "intents": a.intents,
        "method": "in-process: emulator router called directly (axum Handler::call), 2 concurrent callers, one account, Idempotency-Key per request",
        "samples": rows,
        "bytes_per_intent": overall,
        "bytes_per_intent_slope_from_100k": slope,
        "fill_seconds": last.2,
        "fill_rate_per_second": rate.round(),
        "loadavg_before": load_before,
        "loadavg_after": load_after,
    })
}

#[tokio::main]
async fn main() {
    let a = parse_args();
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let started = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    println!(
        "stripe emulator benchmark · {cores} cores · {} · {}",
        cpu_model(),
        if cfg!(debug_assertions) {
            "DEBUG BUILD (use --release)"
        } else {
            "release build"
        }
    );
    let mut out = json!({
        "benchmark": "kassa-stripe-emulator PaymentIntent create+confirm",
        "started_unix": started,
        "cores": cores,
        "cpu_model": cpu_model(),
        "release_build": !cfg!(debug_assertions),
    });
    if a.only.as_deref() != Some("memory") {
        out["throughput"] = throughput(&a).await;
    }
    if a.only.as_deref() != Some("throughput") {
        out["memory"] = memory(&a).await;
    }
    if let Some(dir) = std::path::Path::new(&a.out).parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    match std::fs::write(
        &a.out,
        serde_json::to_string_pretty(&out).unwrap_or_default() + "\n",
    ) {
        Ok(()) => println!("\nresults written to {}", a.out),
        Err(e) => eprintln!("cannot write {}: {e}", a.out),
    }
}
