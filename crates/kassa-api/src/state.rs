use kassa_secrets::MasterKey;
use kassa_storage::Store;
use std::sync::Arc;

use crate::Metrics;

/// Settings the API needs at run time.
#[derive(Debug, Clone)]
pub struct Config {
    /// The URL the outside world reaches this server at (webhook and 3-D Secure return URLs).
    pub public_url: String,
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
