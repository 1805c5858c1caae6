use kassa_secrets::MasterKey;
use kassa_storage::Store;
use std::sync::Arc;

use crate::Metrics;

/// Settings the API needs at run time.
#[derive(Debug, Clone)]
pub struct Config {
    /// The URL the outside world reaches this server at (webhook and 3-D Secure return URLs).
    pub public_url: String,
    /// How old a webhook's signed timestamp may be, in seconds (Stripe's libraries use 300).
    pub webhook_tolerance_secs: i64,
    /// Where autoresponder emails are sent (`KASSA_SMTP_URL`); without it they stay queued.
    pub smtp: Option<Arc<crate::smtp::SmtpConfig>>,
    /// How long a request holds its idempotency key before a retry may take it over (longer
    /// than any request runs; a request that outlives it died with its process).
    pub idempotency_lease_ms: i64,
    /// Wrong API keys an address may send in one window before it is refused
    /// ([`crate::auth_limit::MAX_FAILURES`]; tests that send many on purpose raise it).
    pub auth_max_failures: u32,
}

impl Config {
    pub fn new(public_url: impl Into<String>) -> Self {
        Config {
            public_url: public_url.into(),
            webhook_tolerance_secs: 300,
            smtp: None,
            idempotency_lease_ms: 120_000,
            auth_max_failures: crate::auth_limit::MAX_FAILURES,
        }
    }
}

/// Everything a handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub master_key: MasterKey,
    pub metrics: Arc<Metrics>,
    pub config: Arc<Config>,
    /// One HTTP client for every call to Stripe (connection pooling, timeouts).
    pub http: reqwest::Client,
    /// Each gateway's budget of Stripe calls, shared by all the work of this process.
    pub throttles: Arc<Throttles>,
    /// Wrong API keys per address (brute force is refused).
    pub auth_limiter: Arc<crate::auth_limit::FailedAuthLimiter>,
}

/// The gateways' throttles, made on first use and remade when their limits change.
#[derive(Default)]
pub struct Throttles(std::sync::Mutex<std::collections::HashMap<i64, Arc<kassa_stripe::Throttle>>>);

impl Throttles {
    pub fn get(
        &self,
        gateway_id: i64,
        limits: kassa_domain::gateway::RateLimits,
    ) -> Arc<kassa_stripe::Throttle> {
        let want = (limits.requests_per_second, limits.max_concurrency);
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        match map.get(&gateway_id) {
            Some(t) if t.limits() == want => t.clone(),
            _ => {
                let t = Arc::new(kassa_stripe::Throttle::new(want.0, want.1));
                map.insert(gateway_id, t.clone());
                t
            }
        }
    }
}

impl AppState {
    pub fn new(store: Store, master_key: MasterKey, config: Config) -> Self {
        AppState {
            store,
            master_key,
            metrics: Arc::new(Metrics::new()),
            http: kassa_stripe::StripeClient::http_client().unwrap_or_default(),
            throttles: Arc::default(),
            auth_limiter: Arc::new(crate::auth_limit::FailedAuthLimiter::with_max_failures(
                config.auth_max_failures,
            )),
            config: Arc::new(config),
        }
    }
}
