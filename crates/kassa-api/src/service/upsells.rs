//! `POST /v1/orders/{id}/upsells`: a product added to an order after its sale, charged on the
//! order's card through the one-click upsell path (`POST /v1/payments/{id}/upsell`: the gateway's
//! `send_upsell_token`, merchant-initiated, no new challenge); a recurring product starts a
//! purchase on the order's gateway and card.

use kassa_domain::json::parse;
use kassa_storage::StorageError;
use serde::Deserialize;
use serde_json::{json, Map, Value};

use crate::auth::Auth;
use crate::{ApiError, AppState};

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpsellInput {
    product_id: i64,
    #[serde(default = "one")]
    quantity: i64,
    #[serde(default)]
    soft_descriptor: Option<String>,
}

fn one() -> i64 {
    1
}

pub async fn add(
    state: &AppState,
    auth: &Auth,
    order_id: &str,
    body: Map<String, Value>,
) -> Result<Value, ApiError> {
    let order = state
        .store
        .get_order(auth.client_no, order_id)
        .await
        .map_err(|e| match e {
            StorageError::NotFound => ApiError::NotFound("order"),
            other => other.into(),
        })?;
    let input: UpsellInput = parse(Value::Object(body))?;
    let product = state
        .store
        .get_product(auth.client_no, input.product_id)
        .await
        .ok()
        .filter(|p| p.campaign_id == order.campaign_id)
        .ok_or_else(|| {
            ApiError::invalid(
                "product_id",
                format!(
                    "product_id: campaign {} has no product {}",
                    order.campaign_id, input.product_id
                ),
            )
        })?;
    if !(1..=100).contains(&input.quantity) {
        return Err(ApiError::invalid("quantity", "quantity: must be 1 to 100"));
    }
    let campaign = state
        .store
        .get_campaign(auth.client_no, order.campaign_id)
        .await?;
    if campaign.deleted_at.is_some() {
        return Err(ApiError::unprocessable(
            None,
            "campaign_deleted",
            "the order's campaign is deleted; restore it to take upsells",
        ));
    }
    let (Some(sale_id), "complete") = (order.payment_id.as_deref(), order.status.as_str()) else {
        return Err(ApiError::unprocessable(
            None,
            "order_not_paid",
            format!("an upsell needs a paid order; this one is {}", order.status),
        ));
    };
    let sale = state.store.get_payment(auth.client_no, sale_id).await?;
    let amount = product
        .price
        .checked_mul(input.quantity)
        .ok_or_else(|| ApiError::invalid("quantity", "quantity: the amount is too large"))?;
    let mut req = Map::new();
    req.insert("amount".into(), json!(amount));
    req.insert("currency".into(), json!(order.currency));
    req.insert(
        "products".into(),
        json!([{"name": product.name, "amount": product.price, "quantity": input.quantity, "sku": product.sku}]),
    );
    if let Some(d) = input.soft_descriptor {
        req.insert("soft_descriptor".into(), json!(d));
    }
    req.insert(
        "metadata".into(),
        json!({"kassa_order": order.id, "kassa_product": product.id.to_string()}),
    );
    // Refused (422 when the gateway does not send upsell tokens) or declined (402): nothing
    // is added to the order.
    let view = super::checkout::upsell(state, auth, sale_id, req).await?;
    let purchase = match product.schedule {
        Some(_) => Some(super::billing::start_purchase(
            auth.client_no,
            order.acct_no,
            &order.id,
            &product,
            sale.gateway_id,
            sale.pm_no,
            &order.currency,
            kassa_storage::now_millis(),
        )?),
        None => None,
    };
    // The charge is made: record it, re-reading the items if another upsell wrote them first.
    let mut current = order.items.clone();
    let mut recorded = false;
    for _ in 0..10 {
        let mut items: Vec<Value> = serde_json::from_str(&current).map_err(ApiError::internal)?;
        items.push(json!({"product_id": product.id, "quantity": input.quantity, "upsell": true, "payment_id": view.id}));
        let after = serde_json::to_string(&items).map_err(ApiError::internal)?;
        match state
            .store
            .add_order_upsell(
                auth.client_no,
                &order.id,
                &current,
                &after,
                purchase.as_ref(),
            )
            .await
        {
            Ok(()) => {
                recorded = true;
                break;
            }
            Err(StorageError::Stale) => {
                current = state
                    .store
                    .get_order(auth.client_no, &order.id)
                    .await?
                    .items;
            }
            Err(e) => return Err(e.into()),
        }
    }
    if !recorded {
        return Err(ApiError::internal(format!(
            "upsell payment {} made but not recorded on order {}",
            view.id, order.id
        )));
    }
    Ok(
        json!({"object": "order_upsell", "order_id": order.id, "product_id": product.id, "quantity": input.quantity, "amount": amount,
        "payment": view, "purchase": purchase.as_ref().map(|p| super::billing::purchase_view(p, None))}),
    )
}

/// `GET /v1/orders/{id}`: the order with its items (upsells marked) and purchases.
pub async fn get(state: &AppState, auth: &Auth, id: &str) -> Result<Value, ApiError> {
    let o = state
        .store
        .get_order(auth.client_no, id)
        .await
        .map_err(|e| match e {
            StorageError::NotFound => ApiError::NotFound("order"),
            other => other.into(),
        })?;
    let purchases = state
        .store
        .list_purchases(auth.client_no, None, Some(&o.id))
        .await?;
    Ok(
        json!({"object": "order", "id": o.id, "status": o.status, "acct_no": o.acct_no, "campaign_id": o.campaign_id, "amount": o.amount,
        "currency": o.currency, "payment_id": o.payment_id,
        "items": serde_json::from_str::<Value>(&o.items).unwrap_or(Value::Null),
        "purchases": purchases.iter().map(|p| super::billing::purchase_view(p, None)).collect::<Vec<_>>(),
        "created_at": crate::views::timestamp(o.created_at)}),
    )
}
