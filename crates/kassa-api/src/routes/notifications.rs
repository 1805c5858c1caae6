//! `/v1/notification_endpoints`: where the client receives Kassa's own events.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::Auth;
use crate::error::ErrorBody;
use crate::json::{path_id, JsonObject};
use crate::service::notifications as svc;
use crate::views::{DeliveryView, EndpointView, ListView};
use crate::{ApiError, AppState};

/// Body of `POST /v1/notification_endpoints`; `PATCH` takes the same fields, plus `status`
/// (`active`/`disabled`) and `rotate_secret: true`.
#[derive(Serialize, ToSchema)]
#[allow(dead_code)]
pub struct EndpointCreate {
    /// `https://…` (plain `http://` only to localhost).
    url: String,
    /// Event types, or `["*"]` (the default).
    enabled_events: Option<Vec<String>>,
    description: Option<String>,
}

/// Body of `PATCH /v1/notification_endpoints/{id}`: the fields to change.
#[derive(Serialize, ToSchema)]
#[allow(dead_code)]
pub struct EndpointPatch {
    url: Option<String>,
    enabled_events: Option<Vec<String>>,
    /// `null` clears it.
    description: Option<String>,
    /// `active` or `disabled`.
    status: Option<String>,
}

#[utoipa::path(operation_id = "create_notification_endpoint", post, path = "/v1/notification_endpoints", tag = "notifications", request_body = EndpointCreate,
    responses((status = 201, body = EndpointView), (status = 400, body = ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    auth: Auth,
    JsonObject(body): JsonObject,
) -> Result<(StatusCode, Json<EndpointView>), ApiError> {
    Ok((
        StatusCode::CREATED,
        Json(svc::create(&state, &auth, body).await?),
    ))
}

#[utoipa::path(operation_id = "list_notification_endpoints", get, path = "/v1/notification_endpoints", tag = "notifications",
    responses((status = 200, body = ListView<EndpointView>)))]
pub async fn list(
    State(state): State<AppState>,
    auth: Auth,
) -> Result<Json<ListView<EndpointView>>, ApiError> {
    Ok(Json(ListView::new(svc::list(&state, &auth).await?, false)))
}

#[utoipa::path(operation_id = "get_notification_endpoint", get, path = "/v1/notification_endpoints/{id}", tag = "notifications", params(("id" = i64, Path)),
    responses((status = 200, body = EndpointView), (status = 404, body = ErrorBody)))]
pub async fn get(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<Json<EndpointView>, ApiError> {
    Ok(Json(
        svc::get(&state, &auth, path_id(&id, "notification endpoint")?).await?,
    ))
}

#[utoipa::path(operation_id = "update_notification_endpoint", patch, path = "/v1/notification_endpoints/{id}", tag = "notifications", params(("id" = i64, Path)), request_body = EndpointPatch,
    responses((status = 200, body = EndpointView), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn update(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    JsonObject(body): JsonObject,
) -> Result<Json<EndpointView>, ApiError> {
    Ok(Json(
        svc::update(&state, &auth, path_id(&id, "notification endpoint")?, body).await?,
    ))
}

#[utoipa::path(operation_id = "delete_notification_endpoint", delete, path = "/v1/notification_endpoints/{id}", tag = "notifications", params(("id" = i64, Path)),
    responses((status = 200, body = EndpointView), (status = 404, body = ErrorBody)))]
pub async fn delete(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<Json<EndpointView>, ApiError> {
    Ok(Json(
        svc::delete(&state, &auth, path_id(&id, "notification endpoint")?).await?,
    ))
}

#[utoipa::path(operation_id = "list_notification_deliveries", get, path = "/v1/notification_endpoints/{id}/deliveries", tag = "notifications", params(("id" = i64, Path)),
    responses((status = 200, body = ListView<DeliveryView>), (status = 404, body = ErrorBody)))]
pub async fn deliveries(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<Json<ListView<DeliveryView>>, ApiError> {
    Ok(Json(ListView::new(
        svc::deliveries(&state, &auth, path_id(&id, "notification endpoint")?).await?,
        false,
    )))
}
