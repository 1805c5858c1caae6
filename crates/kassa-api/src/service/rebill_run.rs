//! A rebill pass: lease due purchases and bill them, as fast as each gateway's Stripe budget
//! allows and no faster.
//!
//! Purchases are leased ahead, a batch at a time, and queued by gateway. Each gateway bills at
//! most its own `rate_limits.max_concurrency` purchases at once (its throttle then spaces the
//! requests to `requests_per_second`), so a slow or rate-limited gateway holds up only its own
//! queue, never the others'; the worker as a whole bills at most `KASSA_WORKER_CONCURRENCY`
//! (default 256) at once. A new batch is leased as soon as the queues run low, not when the
//! last purchase of the batch is done, so no gateway idles while a slow answer is awaited.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, VecDeque};

use kassa_domain::gateway::{GatewaySettings, RateLimits};
use tokio::task::{Id, JoinSet};

use super::billing::bill_leased;
use crate::{ApiError, AppState};

/// How many purchases one worker bills at once, all gateways together, unless
/// `KASSA_WORKER_CONCURRENCY` says otherwise (1–10,000).
pub const WORKER_CONCURRENCY: usize = 256;

/// A leased purchase is billed within this long, or another worker may take it.
const LEASE_MS: i64 = 5 * 60_000;

fn worker_concurrency() -> usize {
    std::env::var("KASSA_WORKER_CONCURRENCY")
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok())
        .filter(|n| (1..=10_000).contains(n))
        .unwrap_or(WORKER_CONCURRENCY)
}

/// One scheduler pass at `now`: leases due purchases (any number of workers may run this at
/// once), `lease_batch` at a time, and bills them. Returns how many were billed (approved or
/// not).
pub async fn run_due(
    state: &AppState,
    worker: &str,
    now: i64,
    lease_batch: i64,
) -> Result<usize, ApiError> {
    run_due_reporting(state, worker, now, lease_batch, &|_| {}).await
}

/// One gateway's queue: purchases leased and waiting, how many are being billed, and how many
/// may be at once.
struct Lane {
    waiting: VecDeque<String>,
    running: usize,
    limit: usize,
}

/// [`run_due`], telling `progress` the running count after each purchase.
pub async fn run_due_reporting(
    state: &AppState,
    worker: &str,
    now: i64,
    lease_batch: i64,
    progress: &(dyn Fn(usize) + Sync),
) -> Result<usize, ApiError> {
    let cap = worker_concurrency();
    let batch = lease_batch.max(1);
    let mut lanes: HashMap<Option<i64>, Lane> = HashMap::new();
    let mut tasks: HashMap<Id, Option<i64>> = HashMap::new();
    let mut running: JoinSet<bool> = JoinSet::new();
    let mut waiting = 0usize;
    let mut done = 0usize;
    let mut drained = false;
    let mut looked_again = false;
    loop {
        let idle = running.is_empty() && waiting == 0;
        if (!drained && waiting < batch as usize) || idle {
            let leased = state
                .store
                .lease_due_purchases(worker, now, now + LEASE_MS, batch)
                .await?;
            if leased.is_empty() {
                if idle {
                    // On PostgreSQL a lease that raced another worker's for the same rows waits
                    // for it, then finds them taken and returns none although more may be due:
                    // look once more (the other lease is committed by now) rather than idle
                    // until the next pass.
                    if done == 0 && !looked_again {
                        looked_again = true;
                        continue;
                    }
                    return Ok(done);
                }
                drained = true;
            }
            for (id, gateway) in leased {
                let lane = match lanes.entry(gateway) {
                    Entry::Occupied(e) => e.into_mut(),
                    Entry::Vacant(e) => e.insert(Lane {
                        waiting: VecDeque::new(),
                        running: 0,
                        limit: lane_limit(state, gateway, cap).await,
                    }),
                };
                lane.waiting.push_back(id);
                waiting += 1;
            }
        }
        // Start what each gateway has room for.
        for (gateway, lane) in lanes.iter_mut() {
            while lane.running < lane.limit && running.len() < cap {
                let Some(id) = lane.waiting.pop_front() else {
                    break;
                };
                let (state, worker) = (state.clone(), worker.to_string());
                let handle =
                    running.spawn(async move { bill_leased(&state, &worker, &id, now).await });
                tasks.insert(handle.id(), *gateway);
                lane.running += 1;
                waiting -= 1;
            }
        }
        let Some(finished) = running.join_next_with_id().await else {
            continue;
        };
        let (id, billed) = match finished {
            Ok((id, billed)) => (id, billed),
            Err(e) => (e.id(), false),
        };
        if let Some(lane) = tasks.remove(&id).and_then(|g| lanes.get_mut(&g)) {
            lane.running -= 1;
        }
        if billed {
            done += 1;
            progress(done);
        }
    }
}

/// How many purchases of a gateway are billed at once: its own budget for concurrent Stripe
/// requests (each rebill is one request at a time), within the worker's.
async fn lane_limit(state: &AppState, gateway: Option<i64>, cap: usize) -> usize {
    let Some(id) = gateway else {
        return cap;
    };
    let limits = match state.store.get_gateway_by_id(id).await {
        Ok(g) => serde_json::from_str::<GatewaySettings>(&g.settings)
            .map(|s| s.rate_limits)
            .unwrap_or_default(),
        Err(_) => RateLimits::default(),
    };
    (limits.max_concurrency as usize).clamp(1, cap)
}
