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
}

impl Config {
    pub fn new(public_url: impl Into<String>) -> Self {
        Config {
            public_url: public_url.into(),
            webhook_tolerance_secs: 300,
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
}

impl AppState {
    pub fn new(store: Store, master_key: MasterKey, config: Config) -> Self {
        AppState {
            store,
            master_key,
            metrics: Arc::new(Metrics::new()),
            config: Arc::new(config),
            http: kassa_stripe::StripeClient::http_client().unwrap_or_default(),
        }
    }
}
