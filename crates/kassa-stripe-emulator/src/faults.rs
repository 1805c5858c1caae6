//! Fault injection for `/v1/*`: latency, 500s and dropped connections before the work, dropped
//! responses after the work, and per-account rate limits. Which requests fail is pseudo-random
//! from a seed and a counter of POSTs, so runs are reproducible.

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::task::{Context, Poll};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::body::{Body, Bytes};
use axum::http::StatusCode;
use axum::response::Response;
use serde::{Deserialize, Serialize};

use crate::error::{ApiError, ErrorType};
use crate::form::{Params, Spec};

/// Faults injected into `/v1/*` requests (never into `/_emulator/*`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Faults {
    /// Added to every `/v1` request.
    pub latency_ms: u64,
    /// This share (per mille) of POSTs answer `500 api_error` before doing anything.
    pub error_500_per_mille: u32,
    /// This share of POSTs: the connection is closed with no HTTP response, before doing anything.
    pub drop_per_mille: u32,
    /// This share of POSTs: the work is done (and the idempotency key saved), then no response.
    pub timeout_after_success_per_mille: u32,
    /// How long a timeout-after-success holds the connection before closing it (0 = at once).
    pub hold_ms: u64,
    /// Per account key: requests beyond this many per second answer 429 before doing anything.
    pub rate_limit_per_sec: Option<u32>,
    /// Seed of the pseudo-random choice of failing requests.
    pub seed: u64,
}

/// What happens to one POST.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    None,
    Error500,
    Drop,
    TimeoutAfterSuccess,
}

/// Fault settings plus the counters they need.
#[derive(Debug, Default)]
pub struct FaultState {
    faults: Mutex<Faults>,
    counter: AtomicU64,
    /// Per account key: (unix second, requests in it).
    windows: Mutex<HashMap<String, (u64, u32)>>,
    /// API requests counted against the rate limit, and those answered 429, since the start.
    requests: AtomicU64,
    throttled: AtomicU64,
}

fn splitmix64(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

impl FaultState {
    pub fn get(&self) -> Faults {
        self.faults
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Replaces the faults and restarts the request counter and rate windows.
    pub fn set(&self, f: Faults) {
        *self.faults.lock().unwrap_or_else(|e| e.into_inner()) = f;
        self.counter.store(0, Ordering::SeqCst);
        self.windows
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }

    /// Counts a request of `key` against the rate limit; true when it is over the limit.
    pub fn rate_limited(&self, key: &str) -> bool {
        let Some(limit) = self.get().rate_limit_per_sec else {
            return false;
        };
        let sec = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let mut w = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        let entry = w.entry(key.to_string()).or_insert((sec, 0));
        if entry.0 != sec {
            *entry = (sec, 0);
        }
        entry.1 = entry.1.saturating_add(1);
        self.requests.fetch_add(1, Ordering::Relaxed);
        let over = entry.1 > limit;
        if over {
            self.throttled.fetch_add(1, Ordering::Relaxed);
        }
        over
    }

    /// `(requests, answered 429)` counted against rate limits since the emulator started.
    pub fn rate_counts(&self) -> (u64, u64) {
        (
            self.requests.load(Ordering::Relaxed),
            self.throttled.load(Ordering::Relaxed),
        )
    }

    /// Picks the fault of the next POST.
    pub fn roll(&self) -> Fault {
        let f = self.get();
        let total = f
            .error_500_per_mille
            .saturating_add(f.drop_per_mille)
            .saturating_add(f.timeout_after_success_per_mille);
        if total == 0 {
            return Fault::None;
        }
        let n = self.counter.fetch_add(1, Ordering::SeqCst);
        let r = (splitmix64(f.seed ^ splitmix64(n)) % 1000) as u32;
        if r < f.error_500_per_mille {
            Fault::Error500
        } else if r < f.error_500_per_mille.saturating_add(f.drop_per_mille) {
            Fault::Drop
        } else if r < total {
            Fault::TimeoutAfterSuccess
        } else {
            Fault::None
        }
    }
}

pub fn error_500() -> ApiError {
    ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        ErrorType::ApiError,
        "An unknown error occurred while processing your request. (injected by the emulator)",
    )
}

pub fn rate_limit() -> ApiError {
    ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        ErrorType::InvalidRequestError,
        "Too many requests hit the API too quickly. We recommend an exponential backoff of your requests.",
    )
    .code("rate_limit")
}

/// A body that fails at once: hyper aborts the connection without sending a response.
struct BrokenBody;

impl http_body::Body for BrokenBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, std::io::Error>>> {
        Poll::Ready(Some(Err(std::io::Error::new(
            std::io::ErrorKind::ConnectionAborted,
            "connection dropped by fault injection",
        ))))
    }
}

/// A response whose connection is closed before anything is sent.
pub fn dropped() -> Response {
    Response::new(Body::new(BrokenBody))
}

/// Applies the form fields of `POST /_emulator/faults`.
pub fn apply(mut f: Faults, p: &Params) -> Result<Faults, ApiError> {
    static FIELDS: &[(&str, Spec)] = &[
        ("latency_ms", Spec::Scalar),
        ("error_500_per_mille", Spec::Scalar),
        ("drop_per_mille", Spec::Scalar),
        ("timeout_after_success_per_mille", Spec::Scalar),
        ("hold_ms", Spec::Scalar),
        ("rate_limit_per_sec", Spec::Scalar),
        ("seed", Spec::Scalar),
    ];
    p.check_fields(FIELDS)?;
    let ms = |name: &str| -> Result<Option<u64>, ApiError> {
        Ok(p.int(&[name])?.map(|v| v.clamp(0, 600_000) as u64))
    };
    let per_mille = |name: &str| -> Result<Option<u32>, ApiError> {
        match p.int(&[name])? {
            Some(v) if !(0..=1000).contains(&v) => {
                Err(ApiError::invalid(format!("{name} must be between 0 and 1000")).param(name))
            }
            v => Ok(v.map(|v| v as u32)),
        }
    };
    if let Some(v) = ms("latency_ms")? {
        f.latency_ms = v;
    }
    if let Some(v) = ms("hold_ms")? {
        f.hold_ms = v;
    }
    if let Some(v) = per_mille("error_500_per_mille")? {
        f.error_500_per_mille = v;
    }
    if let Some(v) = per_mille("drop_per_mille")? {
        f.drop_per_mille = v;
    }
    if let Some(v) = per_mille("timeout_after_success_per_mille")? {
        f.timeout_after_success_per_mille = v;
    }
    match p.str(&["rate_limit_per_sec"])? {
        None => {}
        Some("") => f.rate_limit_per_sec = None,
        Some(_) => {
            let v = p.int(&["rate_limit_per_sec"])?.unwrap_or(0);
            f.rate_limit_per_sec = Some(v.clamp(0, i64::from(u32::MAX)) as u32);
        }
    }
    if let Some(s) = p.str(&["seed"])? {
        f.seed = s.parse().map_err(|_| {
            ApiError::invalid("Invalid integer: seed must be an unsigned 64-bit integer")
                .code("parameter_invalid_integer")
                .param("seed")
        })?;
    }
    Ok(f)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roll_is_reproducible_and_near_the_share() {
        let s = FaultState::default();
        let f = Faults {
            error_500_per_mille: 100,
            drop_per_mille: 200,
            seed: 7,
            ..Faults::default()
        };
        s.set(f.clone());
        let a: Vec<Fault> = (0..2000).map(|_| s.roll()).collect();
        s.set(f);
        let b: Vec<Fault> = (0..2000).map(|_| s.roll()).collect();
        assert_eq!(a, b);
        let e = a.iter().filter(|x| **x == Fault::Error500).count();
        let d = a.iter().filter(|x| **x == Fault::Drop).count();
        assert!((150..250).contains(&e), "{e}");
        assert!((320..480).contains(&d), "{d}");
    }
}
