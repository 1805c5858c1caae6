//! `Idempotency-Key` for every `POST`: the first request with a key does the work; a repeat with
//! the same key and the same request gets the first response again (`Idempotent-Replayed: true`);
//! the same key with another request is an `idempotency_error`; a repeat while the first is still
//! running is a 409. Keys are scoped to the client and kept for at least 24 hours.

use axum::body::{to_bytes, Body};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;

use kassa_storage::{IdempotencyBegin, IdempotencyClaim, StorageError, StoredResponse};
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
    /// The claim the request takes with its first write ([`deferred_claim`]), if it was not
    /// taken before the request ran.
    claim: Option<IdempotencyClaim>,
    hold: AtomicU8,
}

/// How a request holds its key ([`RequestSeed::hold`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Hold {
    /// Claimed before the request ran.
    Held = 0,
    /// To be claimed with the request's first write; not yet.
    Deferred = 1,
    /// Claimed with the request's first write.
    Taken = 2,
    /// The first write found the key taken, or the request needed the key before it: nothing
    /// lasting was done, and the request runs again the ordinary way.
    Refused = 3,
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
            claim: None,
            hold: AtomicU8::new(Hold::Held as u8),
        }
    }

    /// The request claims its key with its first write.
    fn deferring(mut self, claim: IdempotencyClaim) -> Self {
        self.claim = Some(claim);
        self.hold = AtomicU8::new(Hold::Deferred as u8);
        self
    }

    fn hold(&self) -> Hold {
        match self.hold.load(Ordering::Acquire) {
            1 => Hold::Deferred,
            2 => Hold::Taken,
            3 => Hold::Refused,
            _ => Hold::Held,
        }
    }

    /// Moves a deferred claim on; `false` if it was not deferred.
    fn settle(&self, to: Hold) -> bool {
        self.hold
            .compare_exchange(
                Hold::Deferred as u8,
                to as u8,
                Ordering::AcqRel,
                Ordering::Acquire,
            )
            .is_ok()
    }
}

tokio::task_local! {
    static REQUEST_SEED: Arc<RequestSeed>;
}

/// Whether the running request is the first to hold its idempotency key: then nothing can exist
/// under the ids derived from it, and looking for them is a wasted read. `false` outside such a
/// request. (A request that claims its key with its first write assumes it is the first; if it
/// is not, that write is refused and the request runs again knowing.)
pub fn first_attempt() -> bool {
    REQUEST_SEED.try_with(|s| !s.resumed).unwrap_or(false)
}

/// The running request's claim on its idempotency key, when the request is to take it with its
/// first write ([`kassa_storage::IdempotencyClaim`]) and has not yet. Only the routes in
/// [`defers_claim`] are run so, and they may ask for it only for a write before which they did
/// nothing lasting; the write's result then goes to [`note_claim`].
pub fn deferred_claim() -> Option<IdempotencyClaim> {
    REQUEST_SEED
        .try_with(|s| {
            (s.hold() == Hold::Deferred)
                .then(|| s.claim.clone())
                .flatten()
        })
        .ok()
        .flatten()
}

/// What became of the claim handed out by [`deferred_claim`], from the result of the write that
/// carried it: taken with the write, or refused (the key is another request's). A write that
/// failed otherwise took nothing, and the claim stays deferred.
pub fn note_claim<T>(written: &Result<T, StorageError>) {
    let _ = REQUEST_SEED.try_with(|s| match written {
        Ok(_) => s.settle(Hold::Taken),
        Err(StorageError::IdempotencyKeyTaken) => s.settle(Hold::Refused),
        Err(_) => false,
    });
}

/// To be called before anything lasting that is not the write carrying the claim (a call to
/// Stripe, another write): a request whose claim is still deferred stops here, with an error
/// the middleware does not show, and runs again with its key claimed first.
pub fn claim_first() -> Result<(), ApiError> {
    match REQUEST_SEED.try_with(|s| s.settle(Hold::Refused)) {
        Ok(true) => Err(ApiError::idempotency_in_progress()),
        _ => Ok(()),
    }
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

/// Routes whose requests claim their key with their first write: `POST /v1/payments`, the hot
/// path, which before its payment (written before Stripe is called) only reads — except with a
/// new card, which it makes at Stripe first and so claims first ([`claim_first`]).
fn defers_claim(method: &Method, path: &str) -> bool {
    method == Method::POST && path == "/v1/payments"
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
    parts.extensions.insert(auth.clone());
    let client_no = auth.client_no;
    if defers_claim(&parts.method, parts.uri.path()) {
        let claim = IdempotencyClaim {
            client_no,
            key: key.clone(),
            request_hash: hash.clone(),
            lease_ms: lease,
        };
        let seed = Arc::new(RequestSeed::new(client_no, &key, &hash, false).deferring(claim));
        let request = Request::from_parts(parts.clone(), Body::from(bytes.clone()));
        let resp = REQUEST_SEED
            .scope(seed.clone(), next.clone().run(request))
            .await;
        match seed.hold() {
            Hold::Taken => return finish(&state, client_no, &key, resp).await,
            // Nothing was written: only a final answer (a payment found by its id) claims.
            Hold::Deferred if !is_final(resp.status()) => return Ok(resp),
            Hold::Deferred => {
                return match begin(&state, client_no, &key, &hash, lease).await? {
                    Begun::Holding { .. } => finish(&state, client_no, &key, resp).await,
                    Begun::Answered(earlier) => Ok(earlier),
                }
            }
            // Its answer is not shown: the request runs again below, holding the key first.
            Hold::Refused | Hold::Held => {}
        }
    }
    let resumed = match begin(&state, client_no, &key, &hash, lease).await? {
        Begun::Holding { resumed } => resumed,
        Begun::Answered(resp) => return Ok(resp),
    };
    let seed = Arc::new(RequestSeed::new(client_no, &key, &hash, resumed));
    let resp = REQUEST_SEED
        .scope(
            seed,
            next.run(Request::from_parts(parts, Body::from(bytes))),
        )
        .await;
    finish(&state, client_no, &key, resp).await
}

enum Begun {
    /// The key is this request's now; `resumed` as in [`IdempotencyBegin::Resumed`].
    Holding { resumed: bool },
    /// The key's earlier request answers this one (its saved response).
    Answered(Response),
}

/// Claims the key before the request runs.
async fn begin(
    state: &AppState,
    client_no: i64,
    key: &str,
    hash: &str,
    lease: i64,
) -> Result<Begun, ApiError> {
    match state
        .store
        .idempotency_begin(client_no, key, hash, lease)
        .await?
    {
        IdempotencyBegin::Started => Ok(Begun::Holding { resumed: false }),
        IdempotencyBegin::Resumed => Ok(Begun::Holding { resumed: true }),
        IdempotencyBegin::Replay(stored) => {
            let mut resp = json_response(stored.status, stored.body);
            resp.headers_mut().insert(REPLAYED, HeaderValue::from_static("true"));
            Ok(Begun::Answered(resp))
        }
        IdempotencyBegin::Mismatch => Err(ApiError::IdempotencyMismatch(
            "This Idempotency-Key was already used with a different request. Use a new key for a new request.".into(),
        )),
        IdempotencyBegin::InProgress => Err(ApiError::idempotency_in_progress()),
    }
}

/// Saves the response of a request that holds its key, or releases the key when the response
/// is not one to replay.
async fn finish(
    state: &AppState,
    client_no: i64,
    key: &str,
    resp: Response,
) -> Result<Response, ApiError> {
    let (parts, body) = resp.into_parts();
    let body = match to_bytes(body, usize::MAX).await {
        Ok(b) => b,
        Err(e) => {
            state.store.idempotency_release(client_no, key).await?;
            return Err(ApiError::internal(format!(
                "reading the response to save it: {e}"
            )));
        }
    };
    if !is_final(parts.status) {
        // The request was refused before it did anything lasting (bad input, a conflict, our
        // fault): as at Stripe, nothing is saved and the key may be used again, so a corrected
        // retry under the same key goes through.
        state.store.idempotency_release(client_no, key).await?;
    } else {
        let stored = StoredResponse {
            status: parts.status.as_u16(),
            body: String::from_utf8_lossy(&body).into_owned(),
        };
        state
            .store
            .idempotency_complete(client_no, key, &stored)
            .await?;
    }
    Ok(Response::from_parts(parts, Body::from(body)))
}

#[cfg(test)]
mod tests {

    #[tokio::test]
    async fn ids_derive_from_the_key_and_the_request() {
        let ids = |key: &'static str, hash: &'static str| {
            REQUEST_SEED.scope(Arc::new(RequestSeed::new(1, key, hash, false)), async {
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
