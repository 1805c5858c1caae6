//! `/v1/recycle_profiles`: decline salvage rules as data.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde_json::{json, Value};

use crate::auth::Auth;
use crate::error::ErrorBody;
use crate::json::{path_id, JsonObject};
use crate::routes::answers::RecycleProfileView;
use crate::service::recycle as svc;
use crate::views::ListView;
use crate::ApiError;
use crate::AppState;

const BODY: &str = "`name`, `reattempts` [{`wait_days` (1–60), `reduction` {`type`: `flat` (`value` in minor units) | `percent` (`value` \"0.0001\"–\"100\", the reduction rounded half up) | `skip`}}] (cumulative, at most 20), `min_price` (minor units), `hold_recycle_price`, `gateway_ids` (each gateway in at most one profile)";

#[utoipa::path(operation_id = "create_recycle_profile", post, path = "/v1/recycle_profiles", tag = "billing",
    request_body(content = Object, description = BODY),
    responses((status = 201, description = "The recycle profile", body = RecycleProfileView), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    auth: Auth,
    JsonObject(body): JsonObject,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    Ok((
        StatusCode::CREATED,
        Json(svc::create(&state, &auth, body).await?),
    ))
}

#[utoipa::path(operation_id = "list_recycle_profiles", get, path = "/v1/recycle_profiles", tag = "billing",
    responses((status = 200, description = "Recycle profiles, newest first", body = ListView<RecycleProfileView>)))]
pub async fn list(State(state): State<AppState>, auth: Auth) -> Result<Json<Value>, ApiError> {
    let data = svc::list(&state, &auth).await?;
    Ok(Json(
        json!({"object": "list", "data": data, "has_more": false}),
    ))
}

#[utoipa::path(operation_id = "get_recycle_profile", get, path = "/v1/recycle_profiles/{id}", tag = "billing", params(("id" = i64, Path)),
    responses((status = 200, description = "The recycle profile", body = RecycleProfileView), (status = 404, body = ErrorBody)))]
pub async fn get(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let id = path_id(&id, "recycle_profile")?;
    Ok(Json(svc::get(&state, &auth, id).await?))
}

#[utoipa::path(operation_id = "update_recycle_profile", patch, path = "/v1/recycle_profiles/{id}", tag = "billing", params(("id" = i64, Path)),
    request_body(content = Object, description = "A JSON merge patch of the profile"),
    responses((status = 200, description = "The recycle profile", body = RecycleProfileView), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn update(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    JsonObject(body): JsonObject,
) -> Result<Json<Value>, ApiError> {
    let id = path_id(&id, "recycle_profile")?;
    Ok(Json(svc::update(&state, &auth, id, body).await?))
}
