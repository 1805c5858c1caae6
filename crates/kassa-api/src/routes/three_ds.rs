//! Pages the shopper's browser visits: the 3-D Secure return (Stripe sends the shopper here after
//! the challenge) and the demo's stand-in for a merchant's termination page.

use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use std::collections::HashMap;

use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/3ds/return/{payment_id}", get(returned))
        .route("/demo/3ds-complete", get(demo_termination))
}

async fn returned(State(state): State<AppState>, Path(id): Path<String>) -> Response {
    match crate::service::sca::returned(&state, &id).await {
        Ok(url) => (StatusCode::SEE_OTHER, [(header::LOCATION, url)]).into_response(),
        Err(e) => e.into_response(),
    }
}

fn escape(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '<' => "&lt;".to_string(),
            '>' => "&gt;".to_string(),
            '&' => "&amp;".to_string(),
            '"' => "&quot;".to_string(),
            '\'' => "&#39;".to_string(),
            c => c.to_string(),
        })
        .collect()
}

/// What a merchant's termination page does: read the payment id, then (server side) call
/// `POST /v1/payments/{id}/authorize_3ds` to finish the payment.
async fn demo_termination(Query(q): Query<HashMap<String, String>>) -> Html<String> {
    let id = escape(q.get("payment_id").map(String::as_str).unwrap_or("?"));
    let outcome = escape(q.get("three_ds").map(String::as_str).unwrap_or("?"));
    Html(format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\">\
         <title>3-D Secure finished</title></head><body><main>\
         <h1>3-D Secure finished</h1>\
         <p>Payment <code id=\"payment-id\">{id}</code>: challenge <strong id=\"outcome\">{outcome}</strong>.</p>\
         <p>This page stands in for the merchant's termination page. A merchant's server now calls \
         <code>POST /v1/payments/{id}/authorize_3ds</code> to finish the payment.</p>\
         </main></body></html>"
    ))
}
