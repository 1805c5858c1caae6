//! `/v1/email_templates` (autoresponder templates) and `/v1/email_outbox` (what was and will be
//! sent).

use axum::extract::{Path, State};
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::Auth;
use crate::error::ErrorBody;
use crate::json::{path_id, JsonObject, QueryMap};
use crate::service::emails::{self as svc, OutboxView, PreviewView, TemplateView};
use crate::views::ListView;
use crate::{ApiError, AppState};

/// Body of `PUT /v1/email_templates/{kind}` (fields left out keep their values) and of a preview.
#[derive(Serialize, ToSchema)]
#[allow(dead_code)]
pub struct TemplateWrite {
    /// One line, at most 200 characters; `{{token}}`s allowed.
    subject: Option<String>,
    /// Plain text, at most 20,000 characters; `{{token}}`s allowed.
    body: Option<String>,
    enabled: Option<bool>,
    /// Preview only: fill the customer-service tokens and the descriptor from this gateway.
    gateway_id: Option<i64>,
}

#[utoipa::path(operation_id = "list_email_templates", get, path = "/v1/email_templates", tag = "emails",
    responses((status = 200, body = ListView<TemplateView>)))]
pub async fn list_templates(
    State(state): State<AppState>,
    auth: Auth,
) -> Result<Json<ListView<TemplateView>>, ApiError> {
    Ok(Json(ListView::new(
        svc::list_templates(&state, &auth).await?,
        false,
    )))
}

#[utoipa::path(operation_id = "get_email_template", get, path = "/v1/email_templates/{kind}", tag = "emails",
    params(("kind" = String, Path, pattern = "^(order_confirmation|rebill_receipt|decline_notice|refund)$", description = "order_confirmation, rebill_receipt, decline_notice or refund")),
    responses((status = 200, body = TemplateView), (status = 404, body = ErrorBody)))]
pub async fn get_template(
    State(state): State<AppState>,
    auth: Auth,
    Path(kind): Path<String>,
) -> Result<Json<TemplateView>, ApiError> {
    Ok(Json(
        svc::get_template(&state, &auth, svc::kind(&kind)?).await?,
    ))
}

#[utoipa::path(operation_id = "put_email_template", put, path = "/v1/email_templates/{kind}", tag = "emails",
    params(("kind" = String, Path, pattern = "^(order_confirmation|rebill_receipt|decline_notice|refund)$", description = "order_confirmation, rebill_receipt, decline_notice or refund")), request_body = TemplateWrite,
    responses((status = 200, body = TemplateView), (status = 400, description = "e.g. `body: unknown token {{foo}}`", body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn put_template(
    State(state): State<AppState>,
    auth: Auth,
    Path(kind): Path<String>,
    JsonObject(body): JsonObject,
) -> Result<Json<TemplateView>, ApiError> {
    Ok(Json(
        svc::put_template(&state, &auth, svc::kind(&kind)?, body).await?,
    ))
}

#[utoipa::path(operation_id = "preview_email_template", post, path = "/v1/email_templates/{kind}/preview", tag = "emails",
    params(("kind" = String, Path, pattern = "^(order_confirmation|rebill_receipt|decline_notice|refund)$", description = "order_confirmation, rebill_receipt, decline_notice or refund")), request_body = TemplateWrite,
    responses((status = 200, body = PreviewView), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn preview(
    State(state): State<AppState>,
    auth: Auth,
    Path(kind): Path<String>,
    JsonObject(body): JsonObject,
) -> Result<Json<PreviewView>, ApiError> {
    Ok(Json(
        svc::preview(&state, &auth, svc::kind(&kind)?, body).await?,
    ))
}

#[utoipa::path(operation_id = "list_email_outbox", get, path = "/v1/email_outbox", tag = "emails",
    params(("limit" = Option<i64>, Query, minimum = 1, maximum = 100, description = "1–100, default 10"), ("starting_after" = Option<i64>, Query),
           ("status" = Option<String>, Query, description = "queued, sending, sent or failed"),
           ("kind" = Option<String>, Query, description = "order_confirmation, rebill_receipt, decline_notice or refund")),
    responses((status = 200, body = ListView<OutboxView>), (status = 400, body = ErrorBody)))]
pub async fn list_outbox(
    State(state): State<AppState>,
    auth: Auth,
    q: QueryMap,
) -> Result<Json<ListView<OutboxView>>, ApiError> {
    q.only(&["limit", "starting_after", "status", "kind"])?;
    let page = q.page()?;
    let p = svc::list_outbox(&state, &auth, q.get("status"), q.get("kind"), page).await?;
    Ok(Json(ListView::new(p.data, p.has_more)))
}

#[utoipa::path(operation_id = "get_email", get, path = "/v1/email_outbox/{id}", tag = "emails", params(("id" = i64, Path)),
    responses((status = 200, body = OutboxView), (status = 404, body = ErrorBody)))]
pub async fn get_outbox(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<Json<OutboxView>, ApiError> {
    Ok(Json(
        svc::get_outbox(&state, &auth, path_id(&id, "email")?).await?,
    ))
}

#[utoipa::path(operation_id = "retry_email", post, path = "/v1/email_outbox/{id}/retry", tag = "emails", params(("id" = i64, Path)),
    responses((status = 200, body = OutboxView), (status = 404, body = ErrorBody), (status = 409, description = "already sent", body = ErrorBody)))]
pub async fn retry(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<Json<OutboxView>, ApiError> {
    Ok(Json(
        svc::retry(&state, &auth, path_id(&id, "email")?).await?,
    ))
}
