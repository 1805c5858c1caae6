//! `/v1/campaigns`, `/v1/orders`, `/v1/purchases`: recurring billing.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde_json::Value;

use crate::auth::Auth;
use crate::error::ErrorBody;
use crate::json::{path_id, JsonObject, QueryMap};
use crate::routes::answers::{
    CampaignDetail, CampaignView, OrderCreated, ProductView, PurchaseView, RoutingProfileView,
};
use crate::service::billing as svc;
use crate::views::ListView;
use crate::{ApiError, AppState};

type Reply = Result<Json<Value>, ApiError>;
type Created = Result<(StatusCode, Json<Value>), ApiError>;

fn list(data: Vec<Value>) -> Json<Value> {
    Json(serde_json::json!({"object": "list", "data": data, "has_more": false}))
}

#[utoipa::path(operation_id = "create_campaign", post, path = "/v1/campaigns", tag = "billing",
    request_body(content = svc::CampaignInput),
    responses((status = 201, description = "The campaign", body = CampaignView), (status = 400, body = ErrorBody)))]
pub async fn create_campaign(
    State(state): State<AppState>,
    auth: Auth,
    JsonObject(body): JsonObject,
) -> Created {
    Ok((
        StatusCode::CREATED,
        Json(svc::create_campaign(&state, &auth, body).await?),
    ))
}

#[utoipa::path(operation_id = "list_campaigns", get, path = "/v1/campaigns", tag = "billing", params(("deleted" = Option<bool>, Query, description = "true: the deleted ones")),
    responses((status = 200, description = "Campaigns", body = ListView<CampaignView>)))]
pub async fn list_campaigns(State(state): State<AppState>, auth: Auth, q: QueryMap) -> Reply {
    q.only(&["deleted"])?;
    let deleted = match q.get("deleted") {
        None | Some("false") => false,
        Some("true") => true,
        Some(other) => {
            return Err(ApiError::invalid(
                "deleted",
                format!("deleted: `{other}` is not one of true, false"),
            ))
        }
    };
    Ok(list(
        state
            .store
            .list_campaigns(auth.client_no, deleted)
            .await?
            .iter()
            .map(svc::campaign_view)
            .collect(),
    ))
}

#[utoipa::path(operation_id = "get_campaign", get, path = "/v1/campaigns/{id}", tag = "billing", params(("id" = i64, Path)),
    responses((status = 200, description = "The campaign with its products", body = CampaignDetail), (status = 404, body = ErrorBody)))]
pub async fn get_campaign(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> Reply {
    let id = path_id(&id, "campaign")?;
    let c = state
        .store
        .get_campaign(auth.client_no, id)
        .await
        .map_err(|_| ApiError::NotFound("campaign"))?;
    let mut v = svc::campaign_view(&c);
    v["products"] = state
        .store
        .list_products(auth.client_no, id)
        .await?
        .iter()
        .map(svc::product_view)
        .collect();
    Ok(Json(v))
}

#[utoipa::path(operation_id = "delete_campaign", delete, path = "/v1/campaigns/{id}", tag = "billing", params(("id" = i64, Path)),
    responses((status = 200, description = "Deleted (soft: restorable with its settings)", body = CampaignView), (status = 404, body = ErrorBody)))]
pub async fn delete_campaign(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> Reply {
    Ok(Json(
        svc::set_campaign_deleted(&state, &auth, path_id(&id, "campaign")?, true).await?,
    ))
}

#[utoipa::path(operation_id = "restore_campaign", post, path = "/v1/campaigns/{id}/restore", tag = "billing", params(("id" = i64, Path)),
    responses((status = 200, description = "Restored", body = CampaignView), (status = 404, body = ErrorBody)))]
pub async fn restore_campaign(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> Reply {
    Ok(Json(
        svc::set_campaign_deleted(&state, &auth, path_id(&id, "campaign")?, false).await?,
    ))
}

#[utoipa::path(operation_id = "create_campaign_product", post, path = "/v1/campaigns/{id}/products", tag = "billing", params(("id" = i64, Path)),
    request_body(content = svc::ProductInput, description = "`name`, `sku`, `shippable`, `gateway_id`, and `price` (one-time) or `schedule` {`prices`, `interval_unit`, `interval_count`, `trial_days`, `final_cycle`}"),
    responses((status = 201, description = "The product", body = ProductView), (status = 400, body = ErrorBody)))]
pub async fn create_product(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    JsonObject(body): JsonObject,
) -> Created {
    Ok((
        StatusCode::CREATED,
        Json(svc::create_product(&state, &auth, path_id(&id, "campaign")?, body).await?),
    ))
}

#[utoipa::path(operation_id = "update_campaign_product", post, path = "/v1/campaigns/{id}/products/{product_id}", tag = "billing", params(("id" = i64, Path), ("product_id" = i64, Path)),
    request_body(content = Object, description = "Any of `name`, `sku`, `shippable`, and `gateway_id` or `routing_profile_id` (assigns it; purchases already sold keep their gateway)"),
    responses((status = 200, description = "The product", body = ProductView), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn update_product(
    State(state): State<AppState>,
    auth: Auth,
    Path((id, product_id)): Path<(String, String)>,
    JsonObject(body): JsonObject,
) -> Reply {
    Ok(Json(
        crate::service::products::update(
            &state,
            &auth,
            path_id(&id, "campaign")?,
            path_id(&product_id, "campaign_product")?,
            body,
        )
        .await?,
    ))
}

#[utoipa::path(operation_id = "create_order", post, path = "/v1/orders", tag = "billing",
    request_body(content = Object, description = "`campaign_id`, `acct_no`, `items` [{`product_id`, `quantity`}], and the payment's fields (`card`, `payment_method_no` or `token`, …)"),
    responses((status = 201, description = "The order, its payment and purchases", body = OrderCreated), (status = 402, body = ErrorBody), (status = 400, body = ErrorBody)))]
pub async fn create_order(
    State(state): State<AppState>,
    auth: Auth,
    JsonObject(body): JsonObject,
) -> Created {
    Ok((
        StatusCode::CREATED,
        Json(svc::create_order(&state, &auth, body).await?),
    ))
}

#[utoipa::path(operation_id = "list_purchases", get, path = "/v1/purchases", tag = "billing", params(("acct_no" = Option<i64>, Query), ("order_id" = Option<String>, Query)),
    responses((status = 200, description = "Purchases", body = ListView<PurchaseView>)))]
pub async fn list_purchases(State(state): State<AppState>, auth: Auth, q: QueryMap) -> Reply {
    q.only(&["acct_no", "order_id"])?;
    let rows = state
        .store
        .list_purchases(auth.client_no, q.int("acct_no")?, q.get("order_id"))
        .await?;
    Ok(list(
        rows.iter().map(|p| svc::purchase_view(p, None)).collect(),
    ))
}

#[utoipa::path(operation_id = "get_purchase", get, path = "/v1/purchases/{id}", tag = "billing", params(("id" = String, Path)),
    responses((status = 200, description = "The purchase with every billing attempt", body = PurchaseView), (status = 404, body = ErrorBody)))]
pub async fn get_purchase(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> Reply {
    let p = state
        .store
        .get_purchase(auth.client_no, &id)
        .await
        .map_err(|_| ApiError::NotFound("purchase"))?;
    let attempts = state.store.list_attempts(&p.id).await?;
    Ok(Json(svc::purchase_view(&p, Some(attempts))))
}

#[utoipa::path(operation_id = "update_purchase", patch, path = "/v1/purchases/{id}", tag = "billing", params(("id" = String, Path)),
    request_body(content = svc::PurchaseChange),
    responses((status = 200, description = "The purchase", body = PurchaseView), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn update_purchase(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    JsonObject(body): JsonObject,
) -> Reply {
    Ok(Json(svc::update_purchase(&state, &auth, &id, body).await?))
}

#[utoipa::path(operation_id = "cancel_purchase", post, path = "/v1/purchases/{id}/cancel", tag = "billing", params(("id" = String, Path)),
    request_body(content = Object, description = "`after_next_bill`: cancel after the next bill instead of now"),
    responses((status = 200, description = "The purchase", body = PurchaseView), (status = 404, body = ErrorBody)))]
pub async fn cancel_purchase(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    JsonObject(mut body): JsonObject,
) -> Reply {
    let after = crate::service::take_bool(&mut body, "after_next_bill")?.unwrap_or(false);
    if let Some(k) = body.keys().next() {
        return Err(ApiError::InvalidRequest {
            param: Some(k.clone()),
            code: "parameter_unknown",
            message: format!("unknown field `{k}`"),
        });
    }
    Ok(Json(svc::cancel_purchase(&state, &auth, &id, after).await?))
}

#[utoipa::path(operation_id = "bill_purchase_now", post, path = "/v1/purchases/{id}/bill_now", tag = "billing", params(("id" = String, Path)),
    responses((status = 200, description = "Force Bill NOW: the next cycle billed at once, the schedule moved on", body = PurchaseView), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn bill_now(State(state): State<AppState>, auth: Auth, Path(id): Path<String>) -> Reply {
    Ok(Json(svc::bill_now(&state, &auth, &id).await?))
}

#[utoipa::path(operation_id = "create_routing_profile", post, path = "/v1/routing_profiles", tag = "billing",
    request_body(content = svc::RoutingInput),
    responses((status = 201, description = "The routing profile", body = RoutingProfileView), (status = 400, body = ErrorBody)))]
pub async fn create_routing_profile(
    State(state): State<AppState>,
    auth: Auth,
    JsonObject(body): JsonObject,
) -> Created {
    Ok((
        StatusCode::CREATED,
        Json(svc::create_routing_profile(&state, &auth, body).await?),
    ))
}

#[utoipa::path(operation_id = "list_routing_profiles", get, path = "/v1/routing_profiles", tag = "billing",
    responses((status = 200, description = "Routing profiles", body = ListView<RoutingProfileView>)))]
pub async fn list_routing_profiles(State(state): State<AppState>, auth: Auth) -> Reply {
    Ok(list(
        state
            .store
            .list_routing_profiles(auth.client_no)
            .await?
            .iter()
            .map(svc::routing_view)
            .collect(),
    ))
}
