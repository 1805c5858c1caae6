//! Kassa's HTTP API.
//!
//! Requests pass through, outermost first: request id → tracing span → metrics → idempotency (for
//! `POST` with an `Idempotency-Key`) → the route. Handlers are thin: they parse the body into
//! domain types, call a service function, and render a view. Every failure is an [`ApiError`],
//! which maps to one HTTP status and the documented error body.

mod auth;
pub mod auth_limit;
pub mod demo;
mod error;
mod idempotency;
mod json;
mod metrics;
mod openapi;
mod routes;
pub mod service;
pub mod smtp;
mod state;
pub mod views;

pub use auth::{client_ip, Auth};
pub use error::ApiError;
pub use idempotency::RETENTION_MILLIS as IDEMPOTENCY_RETENTION_MILLIS;
pub use metrics::Metrics;
pub use state::{AppState, Config};

use axum::http::{HeaderName, Request};
use axum::Router;
use tower_http::request_id::{
    MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer,
};
use tower_http::trace::TraceLayer;

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

#[derive(Clone, Copy, Default)]
struct RandomRequestId;

/// `req_` and 24 hex digits of the OS's randomness, drawn from the thread's pool
/// ([`kassa_secrets::pooled_random`]): no system call a request.
impl MakeRequestId for RandomRequestId {
    fn make_request_id<B>(&mut self, _: &Request<B>) -> Option<RequestId> {
        let b: [u8; 12] = kassa_secrets::pooled_random().ok()?;
        let id: String = b.iter().map(|x| format!("{x:02x}")).collect();
        axum::http::HeaderValue::from_str(&format!("req_{id}"))
            .ok()
            .map(RequestId::new)
    }
}

/// The whole application: API routes, health, metrics and the OpenAPI document.
pub fn app(state: AppState) -> Router {
    let (api, mut doc) = openapi::router().split_for_parts();
    utoipa::Modify::modify(&openapi::CommonErrors, &mut doc);
    let doc = std::sync::Arc::new(openapi::served(&doc));
    let api = api.layer(axum::middleware::from_fn_with_state(
        state.clone(),
        idempotency::layer,
    ));
    Router::new()
        .merge(api)
        .merge(routes::health::router())
        .merge(routes::three_ds::router())
        .merge(routes::webhooks::router())
        .route(
            "/openapi.json",
            axum::routing::get(move || {
                let doc = doc.clone();
                async move { axum::Json(doc.as_ref().clone()) }
            }),
        )
        .fallback(routes::not_found)
        .with_state(state.clone())
        .layer(axum::middleware::from_fn_with_state(state, metrics::layer))
        .layer(
            TraceLayer::new_for_http().make_span_with(|req: &Request<_>| {
                let id = req
                    .headers()
                    .get(&REQUEST_ID)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("-");
                tracing::info_span!("request", method = %req.method(), path = %req.uri().path(), request_id = %id)
            }),
        )
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(SetRequestIdLayer::new(REQUEST_ID, RandomRequestId))
}

/// Background upkeep while the server runs: forgets idempotency keys past their retention.
pub async fn housekeeping(state: AppState) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(15 * 60));
    loop {
        tick.tick().await;
        // Keep keys a little longer than promised, so none is forgotten early.
        let cutoff = kassa_storage::now_millis() - IDEMPOTENCY_RETENTION_MILLIS - 60 * 60 * 1000;
        match state.store.idempotency_purge(cutoff).await {
            Ok(n) if n > 0 => tracing::info!(purged = n, "forgot expired idempotency keys"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "idempotency key purge failed"),
        }
    }
}
