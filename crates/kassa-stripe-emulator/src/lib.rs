//! A stateful Stripe API emulator (test mode): Stripe's wire format (form-encoded requests with
//! bracket notation, JSON responses in Stripe's object shapes), Stripe's errors, idempotency,
//! test cards and PaymentIntent state machine. Standalone ([`spawn`]) or in-process
//! ([`Emulator::router`]). See `docs/stripe-emulator.md`.

#![recursion_limit = "256"]

mod auth;
mod cards;
mod dispatch;
mod error;
mod events;
mod faults;
/// Stripe's form encoding as the emulator decodes it (public for the fuzz tests).
pub mod form;
mod idempotency;
mod ids;
mod objects;
mod render;
mod routes;
mod state;
mod three_ds;
mod webhooks;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, RwLock};

pub use error::{ApiError, ErrorDetails, ErrorType};
pub use faults::Faults;
pub use state::AccountSettings;

use state::Account;

/// The emulator: cheap to clone, state in memory, one lock per account.
#[derive(Clone, Default)]
pub struct Emulator {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    accounts: RwLock<HashMap<String, Arc<Mutex<Account>>>>,
    faults: faults::FaultState,
    webhook_retry: Mutex<webhooks::RetryPolicy>,
    http: std::sync::OnceLock<reqwest::Client>,
}

pub(crate) fn lock(m: &Mutex<Account>) -> MutexGuard<'_, Account> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Emulator {
    pub fn new() -> Self {
        Self::default()
    }

    /// The account of a namespace key (`sk_test_…` or `sk_test_…/acct_…`), created on first use.
    pub(crate) fn account(&self, key: &str) -> Arc<Mutex<Account>> {
        {
            let map = self
                .inner
                .accounts
                .read()
                .unwrap_or_else(|e| e.into_inner());
            if let Some(a) = map.get(key) {
                return a.clone();
            }
        }
        let mut map = self
            .inner
            .accounts
            .write()
            .unwrap_or_else(|e| e.into_inner());
        map.entry(key.to_string())
            .or_insert_with(|| {
                Arc::new(Mutex::new(Account::new(
                    key.to_string(),
                    AccountSettings::default(),
                )))
            })
            .clone()
    }

    /// The namespace key of the account holding an object (a linear scan: for the hosted test
    /// pages, which have no API key).
    pub(crate) fn find_account_of(&self, payment_intent: &str) -> Option<String> {
        let accounts: Vec<(String, Arc<Mutex<Account>>)> = self
            .inner
            .accounts
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|(k, a)| (k.clone(), a.clone()))
            .collect();
        accounts.into_iter().find_map(|(k, a)| {
            let acct = lock(&a);
            let found = acct.payment_intents.get(payment_intent).is_some()
                || acct.setup_intents.get(payment_intent).is_some();
            found.then_some(k)
        })
    }

    /// The settings of an account. `key` is the API key, or `"{api_key}/{acct_id}"` for a
    /// connected account.
    pub fn settings(&self, key: &str) -> AccountSettings {
        lock(&self.account(key)).settings.clone()
    }

    /// Replaces the settings of an account (see [`Emulator::settings`] for `key`).
    pub fn set_settings(&self, key: &str, settings: AccountSettings) {
        lock(&self.account(key)).settings = settings;
    }

    /// The injected faults (see [`Faults`]).
    pub fn faults(&self) -> Faults {
        self.inner.faults.get()
    }

    /// Replaces the injected faults; restarts the fault counter (so a seed replays the same
    /// sequence) and the rate-limit windows.
    pub fn set_faults(&self, f: Faults) {
        self.inner.faults.set(f);
    }

    /// `(requests, answered 429)` under a rate limit (`rate_limit_per_sec`) since the start.
    pub fn rate_limit_counts(&self) -> (u64, u64) {
        self.inner.faults.rate_counts()
    }

    /// Sets the webhook retry schedule: attempt `n` waits `base_ms * 2^(n-1)` after the
    /// previous one, at most `max_attempts` attempts (default: 1000 ms, 3 attempts).
    pub fn set_webhook_retry(&self, base_ms: u64, max_attempts: u32) {
        *self
            .inner
            .webhook_retry
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = webhooks::RetryPolicy {
            base_ms,
            max_attempts,
        };
    }

    pub(crate) fn webhook_retry_policy(&self) -> webhooks::RetryPolicy {
        *self
            .inner
            .webhook_retry
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn http_client(&self) -> reqwest::Client {
        self.inner.http.get_or_init(reqwest::Client::new).clone()
    }

    /// Drops every object of every account (settings are kept).
    pub fn reset(&self) {
        let map = self
            .inner
            .accounts
            .read()
            .unwrap_or_else(|e| e.into_inner());
        for acct in map.values() {
            lock(acct).clear();
        }
    }

    /// The HTTP API as an axum router (Stripe's `/v1/…` plus `/_emulator/…` controls).
    pub fn router(&self) -> axum::Router {
        axum::Router::new()
            .fallback(dispatch::handle)
            .with_state(self.clone())
    }

    /// Serves on an already bound listener until the task is aborted.
    pub fn serve(&self, listener: tokio::net::TcpListener) -> tokio::task::JoinHandle<()> {
        let router = self.router();
        tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, router).await {
                tracing::error!(error = %e, "stripe emulator server stopped");
            }
        })
    }
}

/// Binds exactly `listen` (e.g. `127.0.0.1:12111`, or port 0 for any free port) and serves a new
/// emulator on it. Returns the bound address, the emulator handle and the server task.
pub async fn spawn(
    listen: &str,
) -> std::io::Result<(SocketAddr, Emulator, tokio::task::JoinHandle<()>)> {
    let emulator = Emulator::new();
    let listener = tokio::net::TcpListener::bind(listen).await?;
    let addr = listener.local_addr()?;
    let handle = emulator.serve(listener);
    Ok((addr, emulator, handle))
}
