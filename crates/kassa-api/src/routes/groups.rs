//! `/v1/collection_groups`: groups of accounts routed to one gateway, with overrides.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use kassa_domain::group::{FraudOverrides, ThreeDsOverrides};
use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::Auth;
use crate::error::ErrorBody;
use crate::json::{path_id, JsonObject, QueryMap};
use crate::service::groups as svc;
use crate::views::{GroupView, ListView};
use crate::{ApiError, AppState};

/// Body of `POST /v1/collection_groups`. In `PATCH` and `duplicate` every field is optional and
/// the body is a JSON merge patch.
#[derive(Serialize, ToSchema)]
#[allow(dead_code)]
pub struct GroupCreate {
    /// The group's number, unique for the client; the next free one when left out.
    group_no: Option<i64>,
    name: String,
    client_group_id: Option<String>,
    /// The gateway this group's payments go through.
    gateway_id: i64,
    /// `active` (default) or `disabled`.
    status: Option<String>,
    /// Overrides the gateway's soft descriptor (statement descriptor suffix).
    soft_descriptor: Option<String>,
    /// Each fraud setting overrides the gateway's when set.
    fraud: Option<FraudOverrides>,
    three_ds: Option<ThreeDsOverrides>,
    /// The group's own webhook signing secrets (`whsec_…`), used for `/webhooks/stripe/{client_no}/{group_no}`.
    webhook_secrets: Option<Vec<String>>,
}

/// Body of `PATCH /v1/collection_groups/{group_no}` and `POST …/duplicate`: a JSON merge patch
/// over the group (objects merge, `null` clears).
#[derive(Serialize, ToSchema)]
#[allow(dead_code)]
pub struct GroupPatch {
    /// `PATCH`: the group's own number only (it cannot change); `duplicate`: the copy's number.
    group_no: Option<i64>,
    name: Option<String>,
    client_group_id: Option<String>,
    gateway_id: Option<i64>,
    status: Option<String>,
    soft_descriptor: Option<String>,
    fraud: Option<FraudOverrides>,
    three_ds: Option<ThreeDsOverrides>,
    webhook_secrets: Option<Vec<String>>,
}

#[utoipa::path(operation_id = "create_collection_group", post, path = "/v1/collection_groups", tag = "collection_groups", request_body = GroupCreate,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes a retry safe")),
    responses((status = 201, body = GroupView), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    auth: Auth,
    JsonObject(body): JsonObject,
) -> Result<(StatusCode, Json<GroupView>), ApiError> {
    Ok((
        StatusCode::CREATED,
        Json(svc::create(&state, &auth, body).await?),
    ))
}

#[utoipa::path(operation_id = "list_collection_groups", get, path = "/v1/collection_groups", tag = "collection_groups",
    params(
        ("limit" = Option<i64>, Query, minimum = 1, maximum = 100, description = "1–100, default 10"),
        ("starting_after" = Option<i64>, Query, description = "The last group_no of the previous page"),
        ("status" = Option<String>, Query, description = "active, disabled or archived (default: all but archived)"),
        ("gateway_id" = Option<i64>, Query, description = "Only groups routed to this gateway"),
    ),
    responses((status = 200, body = ListView<GroupView>), (status = 400, body = ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    auth: Auth,
    q: QueryMap,
) -> Result<Json<ListView<GroupView>>, ApiError> {
    q.only(&["limit", "starting_after", "status", "gateway_id"])?;
    let page = q.page()?;
    if let Some(s) = q.get("status") {
        if kassa_domain::gateway::GatewayStatus::parse(s).is_none() {
            return Err(ApiError::invalid(
                "status",
                format!("status: `{s}` is not one of active, disabled, archived"),
            ));
        }
    }
    let p = svc::list(&state, &auth, q.get("status"), q.int("gateway_id")?, page).await?;
    Ok(Json(ListView::new(p.data, p.has_more)))
}

#[utoipa::path(operation_id = "get_collection_group", get, path = "/v1/collection_groups/{group_no}", tag = "collection_groups", params(("group_no" = i64, Path)),
    responses((status = 200, body = GroupView), (status = 404, body = ErrorBody)))]
pub async fn get(
    State(state): State<AppState>,
    auth: Auth,
    Path(no): Path<String>,
) -> Result<Json<GroupView>, ApiError> {
    Ok(Json(
        svc::get(&state, &auth, path_id(&no, "collection group")?).await?,
    ))
}

#[utoipa::path(operation_id = "update_collection_group", patch, path = "/v1/collection_groups/{group_no}", tag = "collection_groups", params(("group_no" = i64, Path)), request_body = GroupPatch,
    responses((status = 200, body = GroupView), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn update(
    State(state): State<AppState>,
    auth: Auth,
    Path(no): Path<String>,
    JsonObject(body): JsonObject,
) -> Result<Json<GroupView>, ApiError> {
    Ok(Json(
        svc::update(&state, &auth, path_id(&no, "collection group")?, body).await?,
    ))
}

#[utoipa::path(operation_id = "duplicate_collection_group", post, path = "/v1/collection_groups/{group_no}/duplicate", tag = "collection_groups", params(("group_no" = i64, Path)), request_body = GroupPatch,
    responses((status = 201, body = GroupView), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn duplicate(
    State(state): State<AppState>,
    auth: Auth,
    Path(no): Path<String>,
    JsonObject(body): JsonObject,
) -> Result<(StatusCode, Json<GroupView>), ApiError> {
    Ok((
        StatusCode::CREATED,
        Json(svc::duplicate(&state, &auth, path_id(&no, "collection group")?, body).await?),
    ))
}

#[utoipa::path(operation_id = "archive_collection_group", post, path = "/v1/collection_groups/{group_no}/archive", tag = "collection_groups", params(("group_no" = i64, Path)),
    responses((status = 200, body = GroupView), (status = 404, body = ErrorBody)))]
pub async fn archive(
    State(state): State<AppState>,
    auth: Auth,
    Path(no): Path<String>,
) -> Result<Json<GroupView>, ApiError> {
    Ok(Json(
        svc::archive(&state, &auth, path_id(&no, "collection group")?).await?,
    ))
}
