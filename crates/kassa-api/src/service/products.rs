//! Changing a campaign's product: its name, SKU, shipping flag, and the gateway or routing
//! profile its sales go through (the seed's "edit the campaign and assign each gateway to the
//! appropriate campaign product"). Prices are not changed here: purchases keep the terms they were
//! sold on, so a new price is a new product.

use kassa_domain::json::parse;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::billing::{check_assignment, product_view};
use crate::auth::Auth;
use crate::{ApiError, AppState};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ProductPatch {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    sku: Option<String>,
    #[serde(default)]
    shippable: Option<bool>,
    /// Assigns this gateway (and drops a routing profile); or
    #[serde(default)]
    gateway_id: Option<i64>,
    /// assigns this routing profile (and drops the gateway).
    #[serde(default)]
    routing_profile_id: Option<i64>,
}

/// `POST /v1/campaigns/{campaign_id}/products/{id}`. Purchases already sold stay on the gateway
/// that sold them.
pub async fn update(
    state: &AppState,
    auth: &Auth,
    campaign_id: i64,
    id: i64,
    body: Map<String, Value>,
) -> Result<Value, ApiError> {
    let mut p = state
        .store
        .get_product(auth.client_no, id)
        .await
        .ok()
        .filter(|p| p.campaign_id == campaign_id)
        .ok_or(ApiError::NotFound("campaign_product"))?;
    let patch: ProductPatch = parse(Value::Object(body))?;
    if let Some(name) = patch.name {
        kassa_domain::text::check_text(&name, 200).map_err(|e| e.under("name"))?;
        p.name = name;
    }
    if let Some(sku) = patch.sku {
        if sku.is_empty() || sku.chars().count() > 12 {
            return Err(ApiError::invalid(
                "sku",
                "sku: must be 1 to 12 characters (Level 3 product_code)",
            ));
        }
        p.sku = Some(sku);
    }
    if let Some(s) = patch.shippable {
        p.shippable = s;
    }
    if patch.gateway_id.is_some() || patch.routing_profile_id.is_some() {
        check_assignment(state, auth, patch.gateway_id, patch.routing_profile_id).await?;
        p.gateway_id = patch.gateway_id;
        p.routing_profile_id = patch.routing_profile_id;
    }
    Ok(product_view(&state.store.update_product(&p).await?))
}
