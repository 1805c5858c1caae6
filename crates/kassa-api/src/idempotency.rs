//! `Idempotency-Key` for every `POST`: the first request with a key does the work; a repeat with
//! the same key and the same request gets the first response again (`Idempotent-Replayed: true`);
//! the same key with another request is an `idempotency_error`; a repeat while the first is still
//! running is a 409. Keys are scoped to the client and kept for at least 24 hours.

use axum::body::{to_bytes, Body};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use kassa_storage::{IdempotencyBegin, StoredResponse};
use sha2::{Digest, Sha256};

use crate::auth::authenticate;
use crate::json::MAX_BODY;
use crate::{ApiError, AppState};

pub const HEADER: &str = "idempotency-key";
pub const REPLAYED: &str = "idempotent-replayed";
/// How long keys are kept.
pub const RETENTION_MILLIS: i64 = 24 * 60 * 60 * 1000;

/// Ids made while a request with an `Idempotency-Key` runs come from the key, not from chance:
/// when a request dies with its process and the client retries it, the retry makes the same ids
/// and finds what the first one did (a payment recorded before Stripe was called) instead of
/// doing it again.
pub struct RequestSeed {
    base: String,
    next: std::sync::atomic::AtomicU32,
    /// The key was held before by an attempt that left nothing to replay: what it did may be
    /// found by the derived ids.
    resumed: bool,
}

impl RequestSeed {
    /// From the client, the key and the request's fingerprint: a key reused for another request
    /// once it is forgotten (after its retention) derives other ids.
    fn new(client_no: i64, key: &str, request_hash: &str, resumed: bool) -> Self {
        let mut h = Sha256::new();
        h.update(client_no.to_be_bytes());
        h.update(key.as_bytes());
        h.update([0]);
        h.update(request_hash.as_bytes());
        RequestSeed {
            base: h.finalize().iter().map(|b| format!("{b:02x}")).collect(),
            next: std::sync::atomic::AtomicU32::new(0),
            resumed,
        }
    }
}

tokio::task_local! {
    static REQUEST_SEED: RequestSeed;
}

/// Whether the running request is the first to hold its idempotency key: then nothing can exist
/// under the ids derived from it, and looking for them is a wasted read. `false` outside such a
/// request.
pub fn first_attempt() -> bool {
    REQUEST_SEED.try_with(|s| !s.resumed).unwrap_or(false)
}

/// The next id (`prefix` + 26 characters) derived from the running request's idempotency key,
/// or `None` outside such a request. The n-th call in a request gives the n-th id every time.
pub fn derived_id(prefix: &str) -> Option<String> {
    REQUEST_SEED
        .try_with(|s| {
            let n = s.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let mut h = Sha256::new();
            h.update(s.base.as_bytes());
            h.update(prefix.as_bytes());
            h.update(n.to_be_bytes());
            let hex: String = h.finalize().iter().map(|b| format!("{b:02x}")).collect();
            format!("{prefix}{}", &hex[..26])
        })
        .ok()
}

fn fingerprint(method: &Method, path: &str, body: &[u8]) -> String {
    let mut h = Sha256::new();
    h.update(method.as_str().as_bytes());
    h.update([0]);
    h.update(path.as_bytes());
    h.update([0]);
    h.update(body);
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// Responses that are saved and replayed: successes, and declines (402), which are recorded
/// outcomes that must not be retried into a second charge.
fn is_final(status: StatusCode) -> bool {
    status.is_success() || status == StatusCode::PAYMENT_REQUIRED
}

fn json_response(status: u16, body: String) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut resp = (status, body).into_response();
    resp.headers_mut().insert(
        axum::http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

pub async fn layer(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if req.method() != Method::POST || !req.headers().contains_key(HEADER) {
        return next.run(req).await;
    }
    match handle(state, req, next).await {
        Ok(resp) => resp,
        Err(e) => e.into_response(),
    }
}

async fn handle(state: AppState, req: Request, next: Next) -> Result<Response, ApiError> {
    // Who is asking comes first: a caller without a valid key learns nothing about its input
    // (and gets the same 401 as without an Idempotency-Key).
    let auth = authenticate(
        req.headers(),
        crate::auth::client_ip(req.extensions()),
        &state,
    )
    .await?;
    let key = req
        .headers()
        .get(HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .unwrap_or("")
        .to_string();
    if key.is_empty() || key.len() > 255 {
        return Err(ApiError::invalid(
            "Idempotency-Key",
            "Idempotency-Key: must be 1 to 255 printable characters",
        ));
    }
    let (mut parts, body) = req.into_parts();
    let bytes = to_bytes(body, MAX_BODY)
        .await
        .map_err(|_| ApiError::InvalidRequest {
            param: None,
            code: "body_invalid",
            message: format!(
                "The request body could not be read or is larger than {MAX_BODY} bytes."
            ),
        })?;
    let hash = fingerprint(&parts.method, parts.uri.path(), &bytes);
    let lease = state.config.idempotency_lease_ms;
    let begun = state
        .store
        .idempotency_begin(auth.client_no, &key, &hash, lease)
        .await?;
    let resumed = begun == IdempotencyBegin::Resumed;
    match begun {
        IdempotencyBegin::Started | IdempotencyBegin::Resumed => {}
        IdempotencyBegin::Replay(stored) => {
            let mut resp = json_response(stored.status, stored.body);
            resp.headers_mut().insert(REPLAYED, HeaderValue::from_static("true"));
            return Ok(resp);
        }
        IdempotencyBegin::Mismatch => {
            return Err(ApiError::IdempotencyMismatch(
                "This Idempotency-Key was already used with a different request. Use a new key for a new request.".into(),
            ))
        }
        IdempotencyBegin::InProgress => {
            return Err(ApiError::IdempotencyInProgress(
                "A request with this Idempotency-Key is still being processed. Retry after it completes.".into(),
            ))
        }
    }
    parts.extensions.insert(auth.clone());
    let seed = RequestSeed::new(auth.client_no, &key, &hash, resumed);
    let resp = REQUEST_SEED
        .scope(
            seed,
            next.run(Request::from_parts(parts, Body::from(bytes))),
        )
        .await;
    let (parts, body) = resp.into_parts();
    let body = match to_bytes(body, usize::MAX).await {
        Ok(b) => b,
        Err(e) => {
            state
                .store
                .idempotency_release(auth.client_no, &key)
                .await?;
            return Err(ApiError::internal(format!(
                "reading the response to save it: {e}"
            )));
        }
    };
    if !is_final(parts.status) {
        // The request was refused before it did anything lasting (bad input, a conflict, our
        // fault): as at Stripe, nothing is saved and the key may be used again, so a corrected
        // retry under the same key goes through.
        state
            .store
            .idempotency_release(auth.client_no, &key)
            .await?;
    } else {
        let stored = StoredResponse {
            status: parts.status.as_u16(),
            body: String::from_utf8_lossy(&body).into_owned(),
        };
        state
            .store
            .idempotency_complete(auth.client_no, &key, &stored)
            .await?;
    }
    Ok(Response::from_parts(parts, Body::from(body)))
}

#[cfg(test)]
mod tests {

    #[tokio::test]
    async fn ids_derive_from_the_key_and_the_request() {
        let ids = |key: &'static str, hash: &'static str| {
            REQUEST_SEED.scope(RequestSeed::new(1, key, hash, false), async {
                (derived_id("pay_"), derived_id("pay_"))
            })
        };
        let (first, second) = ids("k", "h").await;
        let first = first.unwrap();
        assert!(first.starts_with("pay_") && first.len() == 30, "{first}");
        assert_eq!(
            ids("k", "h").await.0.as_deref(),
            Some(first.as_str()),
            "a retry makes the same ids"
        );
        assert_ne!(
            second.as_deref(),
            Some(first.as_str()),
            "each id of a request is its own"
        );
        assert_ne!(ids("k", "other").await.0.as_deref(), Some(first.as_str()));
        assert_ne!(ids("k2", "h").await.0.as_deref(), Some(first.as_str()));
        assert_eq!(
            derived_id("pay_"),
            None,
            "outside a request with a key: none"
        );
    }

    use super::*;

    #[test]
    fn fingerprint_depends_on_every_part() {
        let a = fingerprint(&Method::POST, "/v1/gateways", b"{}");
        assert_ne!(a, fingerprint(&Method::POST, "/v1/gateways", b"{ }"));
        assert_ne!(
            a,
            fingerprint(&Method::POST, "/v1/collection_groups", b"{}")
        );
        assert_eq!(a, fingerprint(&Method::POST, "/v1/gateways", b"{}"));
    }
}
