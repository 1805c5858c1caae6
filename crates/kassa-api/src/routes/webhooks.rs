//! Stripe's webhooks in (`/webhooks/stripe/…`, signed, no API key) and the event log (`/v1`).

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::{Json, Router};

use crate::auth::Auth;
use crate::error::ErrorBody;
use crate::json::{path_id, QueryMap};
use crate::service::webhooks as svc;
use crate::views::{timestamp, ListView, WebhookEventView};
use crate::{ApiError, AppState};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/webhooks/stripe/{client_no}", post(receive_client))
        .route(
            "/webhooks/stripe/{client_no}/{group_no}",
            post(receive_group),
        )
}

async fn receive(
    state: AppState,
    client_no: &str,
    group_no: Option<&str>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    let client_no = path_id(client_no, "client")?;
    let group_no = match group_no {
        Some(g) => Some(path_id(g, "collection group")?),
        None => None,
    };
    let received = svc::receive(&state, client_no, group_no, &headers, &body).await?;
    if !received.duplicate {
        // Answer at once; the event is stored, so a crash before this task runs loses nothing
        // (the catch-up loop applies it).
        let id = received.id;
        tokio::spawn(async move {
            if let Err(e) = svc::apply(&state, id, false).await {
                tracing::warn!(error = %e, "applying a webhook event failed");
            }
        });
    }
    Ok((
        StatusCode::OK,
        Json(serde_json::json!({"received": true, "duplicate": received.duplicate})),
    ))
}

async fn receive_client(
    State(state): State<AppState>,
    Path(client_no): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    receive(state, &client_no, None, headers, body).await
}

async fn receive_group(
    State(state): State<AppState>,
    Path((client_no, group_no)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    receive(state, &client_no, Some(&group_no), headers, body).await
}

fn view(r: kassa_storage::WebhookEventRecord) -> WebhookEventView {
    WebhookEventView {
        object: "webhook_event",
        id: r.id,
        event_id: r.event_id,
        event_type: r.event_type,
        account: r.account,
        group_no: r.group_no,
        gateway_id: r.gateway_id,
        verification: r.verification,
        status: r.status,
        attempts: r.attempts,
        result: r.result.and_then(|s| serde_json::from_str(&s).ok()),
        error: r.error,
        event_created: r.event_created,
        received_at: timestamp(r.received_at),
        applied_at: r.applied_at.map(timestamp),
    }
}

#[utoipa::path(operation_id = "list_webhook_events", get, path = "/v1/webhook_events", tag = "webhooks",
    params(("limit" = Option<i64>, Query, minimum = 1, maximum = 100, description = "1–100, default 10"), ("starting_after" = Option<i64>, Query), ("status" = Option<String>, Query, description = "received, applied, ignored, failed, rejected"), ("type" = Option<String>, Query)),
    responses((status = 200, body = ListView<WebhookEventView>), (status = 400, body = ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    auth: Auth,
    q: QueryMap,
) -> Result<Json<ListView<WebhookEventView>>, ApiError> {
    q.only(&["limit", "starting_after", "status", "type"])?;
    let page = q.page()?;
    let rows = state
        .store
        .list_webhook_events(auth.client_no, q.get("status"), q.get("type"), page)
        .await?;
    Ok(Json(ListView::new(
        rows.data.into_iter().map(view).collect(),
        rows.has_more,
    )))
}

#[utoipa::path(operation_id = "get_webhook_event", get, path = "/v1/webhook_events/{id}", tag = "webhooks", params(("id" = i64, Path)),
    responses((status = 200, body = WebhookEventView), (status = 404, body = ErrorBody)))]
pub async fn get(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<Json<WebhookEventView>, ApiError> {
    let rec = state
        .store
        .get_webhook_event(auth.client_no, path_id(&id, "webhook event")?)
        .await
        .map_err(|e| match e {
            kassa_storage::StorageError::NotFound => ApiError::NotFound("webhook event"),
            other => other.into(),
        })?;
    Ok(Json(view(rec)))
}

#[utoipa::path(operation_id = "retry_webhook_event", post, path = "/v1/webhook_events/{id}/retry", tag = "webhooks", params(("id" = i64, Path)),
    responses((status = 200, body = WebhookEventView), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn retry(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<Json<WebhookEventView>, ApiError> {
    let id = path_id(&id, "webhook event")?;
    let rec = state
        .store
        .get_webhook_event(auth.client_no, id)
        .await
        .map_err(|e| match e {
            kassa_storage::StorageError::NotFound => ApiError::NotFound("webhook event"),
            other => other.into(),
        })?;
    if rec.status != "failed" {
        return Err(ApiError::Conflict {
            code: "webhook_event_not_failed",
            message: format!("only a failed event is retried; this one is {}", rec.status),
        });
    }
    svc::apply(&state, id, true).await?;
    Ok(Json(view(
        state.store.get_webhook_event(auth.client_no, id).await?,
    )))
}
