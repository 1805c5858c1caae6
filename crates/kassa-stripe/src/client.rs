//! The HTTP client: one per gateway account.

use kassa_domain::keys::StripeSecretKey;
use reqwest::header::{HeaderMap, HeaderValue, AUTHORIZATION, CONTENT_TYPE};
use serde::de::DeserializeOwned;
use std::time::Duration;

use crate::{Form, StripeError};

/// The Stripe API version Kassa is written against; every request pins it.
pub const API_VERSION: &str = "2026-06-24.dahlia";

/// Per-request options.
#[derive(Debug, Clone, Default)]
pub struct RequestOptions {
    /// Sent as `Idempotency-Key` on POSTs; derive it from Kassa's own attempt id so that a retry
    /// (ours, or after a crash) replays instead of charging twice.
    pub idempotency_key: Option<String>,
    /// `Stripe-Account: acct_…` for a connected account.
    pub stripe_account: Option<String>,
}

/// How often and how patiently to retry retryable failures (always with the same idempotency key).
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    pub max_attempts: u32,
    pub first_backoff: Duration,
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 3,
            first_backoff: Duration::from_millis(250),
            max_backoff: Duration::from_secs(4),
        }
    }
}

/// A client for one Stripe account.
#[derive(Clone)]
pub struct StripeClient {
    http: reqwest::Client,
    base_url: String,
    secret_key: StripeSecretKey,
    retry: RetryPolicy,
    throttle: Option<std::sync::Arc<crate::Throttle>>,
}

impl std::fmt::Debug for StripeClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StripeClient")
            .field("base_url", &self.base_url)
            .field("secret_key", &self.secret_key)
            .finish()
    }
}

impl StripeClient {
    /// `base_url` is `https://api.stripe.com` in production, the emulator's address in tests.
    pub fn new(http: reqwest::Client, base_url: &str, secret_key: StripeSecretKey) -> Self {
        StripeClient {
            http,
            base_url: base_url.trim_end_matches('/').to_string(),
            secret_key,
            retry: RetryPolicy::default(),
            throttle: None,
        }
    }

    /// Every request waits for the gateway's rate and concurrency budget.
    pub fn with_throttle(mut self, throttle: std::sync::Arc<crate::Throttle>) -> Self {
        self.throttle = Some(throttle);
        self
    }

    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// A shared HTTP client with the timeouts a payment call needs.
    pub fn http_client() -> Result<reqwest::Client, StripeError> {
        reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(80))
            .user_agent(concat!("Kassa/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| StripeError::NotSent(e.to_string()))
    }

    fn headers(&self, opts: &RequestOptions) -> Result<HeaderMap, StripeError> {
        let mut h = HeaderMap::new();
        let bad = |what: &str| StripeError::NotSent(format!("{what} is not a valid header value"));
        let mut auth = HeaderValue::from_str(&format!("Bearer {}", self.secret_key.expose()))
            .map_err(|_| bad("the secret key"))?;
        auth.set_sensitive(true);
        h.insert(AUTHORIZATION, auth);
        h.insert("stripe-version", HeaderValue::from_static(API_VERSION));
        if let Some(acct) = &opts.stripe_account {
            h.insert(
                "stripe-account",
                HeaderValue::from_str(acct).map_err(|_| bad("Stripe-Account"))?,
            );
        }
        if let Some(key) = &opts.idempotency_key {
            h.insert(
                "idempotency-key",
                HeaderValue::from_str(key).map_err(|_| bad("Idempotency-Key"))?,
            );
        }
        Ok(h)
    }

    /// `POST path` with a form body, retried per the policy.
    pub async fn post<T: DeserializeOwned>(
        &self,
        path: &str,
        form: &Form,
        opts: &RequestOptions,
    ) -> Result<T, StripeError> {
        self.send(reqwest::Method::POST, path, Some(form), opts)
            .await
    }

    /// `GET path` with query parameters.
    pub async fn get<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &Form,
        opts: &RequestOptions,
    ) -> Result<T, StripeError> {
        self.send(reqwest::Method::GET, path, Some(query), opts)
            .await
    }

    /// `DELETE path`.
    pub async fn delete<T: DeserializeOwned>(
        &self,
        path: &str,
        opts: &RequestOptions,
    ) -> Result<T, StripeError> {
        self.send(reqwest::Method::DELETE, path, None, opts).await
    }

    async fn send<T: DeserializeOwned>(
        &self,
        method: reqwest::Method,
        path: &str,
        form: Option<&Form>,
        opts: &RequestOptions,
    ) -> Result<T, StripeError> {
        let mut attempt = 0;
        let mut backoff = self.retry.first_backoff;
        loop {
            attempt += 1;
            let permit = match &self.throttle {
                Some(t) => t.acquire().await,
                None => None,
            };
            let result = self.send_once(method.clone(), path, form, opts).await;
            drop(permit);
            match result {
                Ok(v) => return Ok(v),
                // Without an idempotency key a POST is retried only if it surely did nothing.
                Err(e)
                    if e.is_retryable()
                        && attempt < self.retry.max_attempts
                        && (method != reqwest::Method::POST
                            || opts.idempotency_key.is_some()
                            || !e.outcome_unknown()) =>
                {
                    tracing::warn!(%path, attempt, error = %e, "retrying Stripe request");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(self.retry.max_backoff);
                }
                Err(e) => return Err(e),
            }
        }
    }

    async fn send_once<T: DeserializeOwned>(
        &self,
        method: reqwest::Method,
        path: &str,
        form: Option<&Form>,
        opts: &RequestOptions,
    ) -> Result<T, StripeError> {
        let mut url = format!("{}{}", self.base_url, path);
        let is_get = method == reqwest::Method::GET;
        // A GET's parameters go in the query string, anything else's in a form body.
        if let Some(f) = form.filter(|f| is_get && !f.is_empty()) {
            url.push('?');
            url.push_str(&f.encode());
        }
        let mut req = self.http.request(method, &url).headers(self.headers(opts)?);
        if let Some(f) = form.filter(|_| !is_get) {
            req = req
                .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(f.encode());
        }
        let resp = match req.send().await {
            Ok(r) => r,
            Err(e) if e.is_builder() => return Err(StripeError::NotSent(e.to_string())),
            Err(e) if e.is_connect() => {
                return Err(StripeError::NotSent(format!("cannot connect: {e}")))
            }
            Err(e) => return Err(StripeError::Unknown(e.to_string())),
        };
        let status = resp.status().as_u16();
        let request_id = resp
            .headers()
            .get("request-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let should_retry = resp
            .headers()
            .get("stripe-should-retry")
            .and_then(|v| v.to_str().ok())
            .map(|v| v == "true");
        let body = resp
            .bytes()
            .await
            .map_err(|e| StripeError::Unknown(format!("reading the answer: {e}")))?;
        if (200..300).contains(&status) {
            serde_json::from_slice(&body).map_err(|e| StripeError::Malformed {
                status,
                message: e.to_string(),
            })
        } else {
            Err(StripeError::from_response(
                status,
                &body,
                request_id,
                should_retry,
            ))
        }
    }
}
