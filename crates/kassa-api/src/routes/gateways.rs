//! `/v1/gateways`: Stripe gateway accounts.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use kassa_domain::gateway::GatewaySettings;
use kassa_storage::GatewayFilter;
use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::Auth;
use crate::error::ErrorBody;
use crate::json::{path_id, JsonObject, QueryMap};
use crate::service::gateways as svc;
use crate::views::{GatewayView, ListView};
use crate::{ApiError, AppState};

/// Body of `POST /v1/gateways`: the type, the secrets, and every setting.
#[derive(Serialize, ToSchema)]
#[allow(dead_code)]
pub struct GatewayCreate {
    /// `stripe_v2`; `stripe_v1` only with `legacy_import`.
    #[serde(rename = "type")]
    gateway_type: String,
    /// Allows creating a legacy `stripe_v1` gateway (an import of an existing one).
    legacy_import: Option<bool>,
    /// `active` (default) or `disabled`.
    status: Option<String>,
    /// `sk_live_…`, `sk_test_…`, `rk_live_…` or `rk_test_…`. Stored encrypted; returned redacted.
    secret_key: String,
    /// `whsec_…` signing secrets (several during a rotation). Stored encrypted.
    webhook_secrets: Option<Vec<String>>,
    #[serde(flatten)]
    settings: GatewaySettings,
}

/// Body of `PATCH /v1/gateways/{id}` and `POST /v1/gateways/{id}/duplicate`: a JSON merge patch
/// over the gateway (RFC 7386: objects merge, `null` clears). Any field of the gateway may appear.
#[derive(Serialize, ToSchema)]
#[allow(dead_code)]
pub struct GatewayPatch {
    status: Option<String>,
    secret_key: Option<String>,
    webhook_secrets: Option<Vec<String>>,
    title: Option<String>,
    descriptor_suffix: Option<String>,
    soft_descriptor: Option<String>,
    #[schema(value_type = Option<Object>)]
    limits: Option<serde_json::Value>,
    #[schema(value_type = Option<Object>)]
    fraud: Option<serde_json::Value>,
    #[schema(value_type = Option<Object>)]
    three_ds: Option<serde_json::Value>,
}

#[utoipa::path(operation_id = "create_gateway", post, path = "/v1/gateways", tag = "gateways", request_body = GatewayCreate,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes a retry safe")),
    responses((status = 201, body = GatewayView), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    auth: Auth,
    JsonObject(body): JsonObject,
) -> Result<(StatusCode, Json<GatewayView>), ApiError> {
    Ok((
        StatusCode::CREATED,
        Json(svc::create(&state, &auth, body).await?),
    ))
}

#[utoipa::path(operation_id = "list_gateways", get, path = "/v1/gateways", tag = "gateways",
    params(
        ("limit" = Option<i64>, Query, minimum = 1, maximum = 100, description = "1–100, default 10"),
        ("starting_after" = Option<i64>, Query, description = "The last id of the previous page"),
        ("status" = Option<String>, Query, description = "active, disabled or archived (default: all but archived)"),
        ("type" = Option<String>, Query, description = "stripe_v2 or stripe_v1"),
    ),
    responses((status = 200, body = ListView<GatewayView>), (status = 400, body = ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    auth: Auth,
    q: QueryMap,
) -> Result<Json<ListView<GatewayView>>, ApiError> {
    q.only(&["limit", "starting_after", "status", "type"])?;
    let page = q.page()?;
    if let Some(s) = q.get("status") {
        if kassa_domain::gateway::GatewayStatus::parse(s).is_none() {
            return Err(ApiError::invalid(
                "status",
                format!("status: `{s}` is not one of active, disabled, archived"),
            ));
        }
    }
    if let Some(t) = q.get("type") {
        if kassa_domain::gateway::GatewayType::parse(t).is_none() {
            return Err(ApiError::invalid(
                "type",
                format!("type: `{t}` is not one of stripe_v2, stripe_v1"),
            ));
        }
    }
    let filter = GatewayFilter {
        status: q.get("status").map(str::to_string),
        gateway_type: q.get("type").map(str::to_string),
    };
    let p = svc::list(&state, &auth, filter, page).await?;
    Ok(Json(ListView::new(p.data, p.has_more)))
}

#[utoipa::path(operation_id = "get_gateway", get, path = "/v1/gateways/{id}", tag = "gateways", params(("id" = i64, Path)),
    responses((status = 200, body = GatewayView), (status = 404, body = ErrorBody)))]
pub async fn get(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<Json<GatewayView>, ApiError> {
    Ok(Json(
        svc::get(&state, &auth, path_id(&id, "gateway")?).await?,
    ))
}

#[utoipa::path(operation_id = "update_gateway", patch, path = "/v1/gateways/{id}", tag = "gateways", params(("id" = i64, Path)), request_body = GatewayPatch,
    responses((status = 200, body = GatewayView), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn update(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    JsonObject(body): JsonObject,
) -> Result<Json<GatewayView>, ApiError> {
    Ok(Json(
        svc::update(&state, &auth, path_id(&id, "gateway")?, body).await?,
    ))
}

#[utoipa::path(operation_id = "duplicate_gateway", post, path = "/v1/gateways/{id}/duplicate", tag = "gateways", params(("id" = i64, Path)), request_body = GatewayPatch,
    responses((status = 201, body = GatewayView), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn duplicate(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    JsonObject(body): JsonObject,
) -> Result<(StatusCode, Json<GatewayView>), ApiError> {
    Ok((
        StatusCode::CREATED,
        Json(svc::duplicate(&state, &auth, path_id(&id, "gateway")?, body).await?),
    ))
}

#[utoipa::path(operation_id = "archive_gateway", post, path = "/v1/gateways/{id}/archive", tag = "gateways", params(("id" = i64, Path)),
    responses((status = 200, body = GatewayView), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn archive(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<Json<GatewayView>, ApiError> {
    Ok(Json(
        svc::archive(&state, &auth, path_id(&id, "gateway")?).await?,
    ))
}

/// A gateway's volume in one month against its cap.
#[derive(Serialize, ToSchema)]
pub struct UsageView {
    /// Always `gateway_usage`.
    object: &'static str,
    gateway_id: i64,
    /// `YYYY-MM` (UTC).
    month: String,
    currency: String,
    /// Authorized and captured volume that stands (voids and released holds taken off).
    gross: i64,
    refunded: i64,
    /// gross − refunded.
    net: i64,
    /// Volume of payments under way.
    reserved: i64,
    transactions: i64,
    monthly_cap: Option<i64>,
    include_refunds: bool,
    /// What may still be charged this month (none without a cap).
    headroom: Option<i64>,
}

#[utoipa::path(operation_id = "gateway_usage", get, path = "/v1/gateways/{id}/usage", tag = "gateways", params(("id" = i64, Path), ("month" = Option<String>, Query, pattern = r"^[0-9]{4}-[0-9]{2}$", description = "YYYY-MM, default this month")),
    responses((status = 200, body = UsageView), (status = 404, body = ErrorBody)))]
pub async fn usage(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    q: QueryMap,
) -> Result<Json<UsageView>, ApiError> {
    q.only(&["month"])?;
    let gw = svc::get(&state, &auth, path_id(&id, "gateway")?).await?;
    let month = match q.get("month") {
        Some(m)
            if m.len() == 7
                && m.as_bytes()[4] == b'-'
                && m.bytes()
                    .enumerate()
                    .all(|(i, b)| i == 4 || b.is_ascii_digit()) =>
        {
            m.to_string()
        }
        Some(_) => return Err(ApiError::invalid("month", "month: use YYYY-MM")),
        None => crate::service::volume::this_month(),
    };
    let v = state.store.volume(gw.id, &month).await?;
    let limits = &gw.settings.limits;
    let counted = v.gross + v.reserved
        - if limits.include_refunds {
            v.refunded
        } else {
            0
        };
    Ok(Json(UsageView {
        object: "gateway_usage",
        gateway_id: gw.id,
        month,
        currency: limits.currency.as_str().to_string(),
        gross: v.gross,
        refunded: v.refunded,
        net: v.gross - v.refunded,
        reserved: v.reserved,
        transactions: v.transactions,
        monthly_cap: limits.monthly_cap.map(|c| c.get()),
        include_refunds: limits.include_refunds,
        headroom: limits.monthly_cap.map(|c| (c.get() - counted).max(0)),
    }))
}
