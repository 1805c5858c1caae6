//! `GET /v1/orders/{id}` and `POST /v1/orders/{id}/upsells`.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde_json::Value;

use crate::auth::Auth;
use crate::error::ErrorBody;
use crate::json::JsonObject;
use crate::routes::answers::{OrderUpsellView, OrderView};
use crate::service::upsells as svc;
use crate::{ApiError, AppState};

#[utoipa::path(operation_id = "get_order", get, path = "/v1/orders/{id}", tag = "billing", params(("id" = String, Path)),
    responses((status = 200, description = "The order, its items (upsells marked, with their payments) and purchases", body = OrderView), (status = 404, body = ErrorBody)))]
pub async fn get(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(svc::get(&state, &auth, &id).await?))
}

#[utoipa::path(operation_id = "create_order_upsell", post, path = "/v1/orders/{id}/upsells", tag = "billing", params(("id" = String, Path)),
    request_body(content = svc::UpsellInput, description = "`product_id` (a product of the order's campaign), `quantity` (1–100), `soft_descriptor`"),
    responses((status = 201, description = "The upsell: its `payment` (merchant-initiated, on the order's card and gateway) and, for a recurring product, its `purchase`", body = OrderUpsellView),
        (status = 400, body = ErrorBody), (status = 402, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody, description = "The gateway does not send upsell tokens, or the order was not paid")))]
pub async fn upsell(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    JsonObject(body): JsonObject,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    Ok((
        StatusCode::CREATED,
        Json(svc::add(&state, &auth, &id, body).await?),
    ))
}
