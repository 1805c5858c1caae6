//! Recurring billing: campaigns and offers, orders (the first, customer-initiated charge), and
//! rebills (merchant-initiated, on the stored card, on the gateway of the original sale).

use kassa_domain::billing::{rebill_outcome, RebillOutcome, Schedule};
use kassa_domain::json::parse;
use kassa_domain::money::Currency;
use kassa_storage::{
    AttemptRecord, CampaignRecord, OrderRecord, ProductRecord, PurchaseRecord, StorageError,
};
use serde::Deserialize;
use serde_json::{json, Map, Value};

use crate::auth::Auth;
use crate::{ApiError, AppState};

fn not_found(what: &'static str) -> impl Fn(StorageError) -> ApiError {
    move |e| match e {
        StorageError::NotFound => ApiError::NotFound(what),
        other => other.into(),
    }
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CampaignInput {
    name: String,
    currency: Currency,
    #[serde(default)]
    is_test: bool,
}

pub fn campaign_view(c: &CampaignRecord) -> Value {
    json!({"object": "campaign", "id": c.id, "name": c.name, "currency": c.currency, "is_test": c.is_test,
        "deleted": c.deleted_at.is_some(), "created_at": crate::views::timestamp(c.created_at), "updated_at": crate::views::timestamp(c.updated_at)})
}

pub async fn create_campaign(
    state: &AppState,
    auth: &Auth,
    body: Map<String, Value>,
) -> Result<Value, ApiError> {
    let input: CampaignInput = parse(Value::Object(body))?;
    kassa_domain::text::check_text(&input.name, 200).map_err(|e| e.under("name"))?;
    let rec = state
        .store
        .insert_campaign(&CampaignRecord {
            client_no: auth.client_no,
            name: input.name,
            currency: input.currency.as_str().into(),
            is_test: input.is_test,
            ..Default::default()
        })
        .await?;
    Ok(campaign_view(&rec))
}

/// Soft delete: the campaign leaves lists and reports and keeps its settings for a restore.
pub async fn set_campaign_deleted(
    state: &AppState,
    auth: &Auth,
    id: i64,
    deleted: bool,
) -> Result<Value, ApiError> {
    let mut c = state
        .store
        .get_campaign(auth.client_no, id)
        .await
        .map_err(not_found("campaign"))?;
    c.deleted_at = if deleted {
        Some(c.deleted_at.unwrap_or_else(kassa_storage::now_millis))
    } else {
        None
    };
    Ok(campaign_view(&state.store.update_campaign(&c).await?))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProductInput {
    name: String,
    #[serde(default)]
    sku: Option<String>,
    #[serde(default)]
    shippable: bool,
    /// One-time price; for a recurring product, leave it out and give `schedule.prices`.
    #[serde(default)]
    price: Option<i64>,
    #[serde(default)]
    schedule: Option<Schedule>,
    /// The gateway this product's sales and rebills go through; or
    #[serde(default)]
    gateway_id: Option<i64>,
    /// the routing profile that picks it for each sale (rebills stay on the gateway that sold).
    #[serde(default)]
    routing_profile_id: Option<i64>,
}

pub fn product_view(p: &ProductRecord) -> Value {
    json!({"object": "campaign_product", "id": p.id, "campaign_id": p.campaign_id, "name": p.name, "sku": p.sku, "shippable": p.shippable,
        "price": p.price, "recurring": p.schedule.is_some(), "schedule": p.schedule.as_deref().and_then(|s| serde_json::from_str::<Value>(s).ok()),
        "gateway_id": p.gateway_id, "routing_profile_id": p.routing_profile_id})
}

pub async fn create_product(
    state: &AppState,
    auth: &Auth,
    campaign_id: i64,
    body: Map<String, Value>,
) -> Result<Value, ApiError> {
    let c = state
        .store
        .get_campaign(auth.client_no, campaign_id)
        .await
        .map_err(not_found("campaign"))?;
    let input: ProductInput = parse(Value::Object(body))?;
    kassa_domain::text::check_text(&input.name, 200).map_err(|e| e.under("name"))?;
    if let Some(sku) = &input.sku {
        if sku.is_empty() || sku.chars().count() > 12 {
            return Err(ApiError::invalid(
                "sku",
                "sku: must be 1 to 12 characters (Level 3 product_code)",
            ));
        }
    }
    let price = match (&input.schedule, input.price) {
        (Some(s), None) => {
            s.validate().map_err(|e| e.under("schedule"))?;
            s.price(1)
        }
        (None, Some(p)) if p > 0 => p,
        (None, Some(_)) => return Err(ApiError::invalid("price", "price: must be more than 0")),
        (None, None) => {
            return Err(ApiError::InvalidRequest {
                param: Some("price".into()),
                code: "parameter_missing",
                message: "price: is required for a one-time product (or give a schedule)".into(),
            })
        }
        (Some(_), Some(_)) => {
            return Err(ApiError::invalid(
                "price",
                "price: a recurring product's prices are in schedule.prices",
            ))
        }
    };
    check_assignment(state, auth, input.gateway_id, input.routing_profile_id).await?;
    let rec = ProductRecord {
        client_no: auth.client_no,
        campaign_id: c.id,
        name: input.name,
        sku: input.sku,
        shippable: input.shippable,
        price,
        schedule: input
            .schedule
            .as_ref()
            .map(|s| serde_json::to_string(s).unwrap_or_default()),
        gateway_id: input.gateway_id,
        routing_profile_id: input.routing_profile_id,
        ..Default::default()
    };
    Ok(product_view(&state.store.insert_product(&rec).await?))
}

/// A product goes through exactly one of a gateway or a routing profile, and it must be the
/// client's own.
pub(super) async fn check_assignment(
    state: &AppState,
    auth: &Auth,
    gateway_id: Option<i64>,
    routing_profile_id: Option<i64>,
) -> Result<(), ApiError> {
    match (gateway_id, routing_profile_id) {
        (Some(g), None) => {
            super::gateway_ctx::load(state, auth.client_no, g, None).await?;
        }
        (None, Some(r)) => {
            state
                .store
                .get_routing_profile(auth.client_no, r)
                .await
                .map_err(|_| {
                    ApiError::invalid(
                        "routing_profile_id",
                        format!("routing_profile_id: no routing profile {r}"),
                    )
                })?;
        }
        _ => {
            return Err(ApiError::InvalidRequest {
                param: Some("gateway_id".into()),
                code: "parameter_missing",
                message: "gateway_id: give a gateway_id or a routing_profile_id (one of them)"
                    .into(),
            })
        }
    }
    Ok(())
}

pub fn purchase_view(p: &PurchaseRecord, attempts: Option<Vec<AttemptRecord>>) -> Value {
    let mut v = json!({"object": "purchase", "id": p.id, "acct_no": p.acct_no, "order_id": p.order_id, "product_id": p.product_id, "gateway_id": p.gateway_id,
        "payment_method_no": p.pm_no, "status": p.status, "cycle": p.cycle, "recycle_attempt": p.attempt,
        "next_bill_at": p.next_bill_at.map(crate::views::timestamp), "price_override": p.price_override, "currency": p.currency,
        "cancel_at_end": p.cancel_at_end, "needs_new_card": p.needs_new_card, "created_at": crate::views::timestamp(p.created_at)});
    if let Some(a) = attempts {
        v["attempts"] = a
            .into_iter()
            .map(|a| json!({"cycle": a.cycle, "attempt": a.attempt, "payment_id": a.payment_id, "amount": a.amount, "status": a.status, "decline_code": a.decline_code, "at": crate::views::timestamp(a.created_at)}))
            .collect();
    }
    v
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Item {
    product_id: i64,
    #[serde(default = "one")]
    quantity: i64,
}

fn one() -> i64 {
    1
}

/// `POST /v1/orders`: charges the first cycle of every item (customer-initiated) and starts a
/// purchase for each recurring item, on the stored card.
pub async fn create_order(
    state: &AppState,
    auth: &Auth,
    mut body: Map<String, Value>,
) -> Result<Value, ApiError> {
    let campaign_id =
        super::take_i64(&mut body, "campaign_id")?.ok_or_else(|| ApiError::InvalidRequest {
            param: Some("campaign_id".into()),
            code: "parameter_missing",
            message: "campaign_id: is required".into(),
        })?;
    let campaign = state
        .store
        .get_campaign(auth.client_no, campaign_id)
        .await
        .map_err(|_| {
            ApiError::invalid(
                "campaign_id",
                format!("campaign_id: no campaign {campaign_id}"),
            )
        })?;
    if campaign.deleted_at.is_some() {
        return Err(ApiError::unprocessable(
            Some("campaign_id"),
            "campaign_deleted",
            "the campaign is deleted; restore it to take orders",
        ));
    }
    let items: Vec<Item> = parse(super::take(&mut body, "items").unwrap_or(Value::Null))
        .map_err(|e| e.under("items"))?;
    if items.is_empty() {
        return Err(ApiError::invalid(
            "items",
            "items: an order needs at least one product",
        ));
    }
    let acct_no =
        super::take_i64(&mut body, "acct_no")?.ok_or_else(|| ApiError::InvalidRequest {
            param: Some("acct_no".into()),
            code: "parameter_missing",
            message: "acct_no: is required".into(),
        })?;
    let mut products = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let p = state
            .store
            .get_product(auth.client_no, item.product_id)
            .await
            .map_err(|_| {
                ApiError::invalid(
                    format!("items[{i}].product_id"),
                    format!("items[{i}].product_id: no product {}", item.product_id),
                )
            })?;
        if p.campaign_id != campaign.id {
            return Err(ApiError::invalid(
                format!("items[{i}].product_id"),
                format!(
                    "items[{i}].product_id: product {} is not in campaign {}",
                    p.id, campaign.id
                ),
            ));
        }
        if !(1..=100).contains(&item.quantity) {
            return Err(ApiError::invalid(
                format!("items[{i}].quantity"),
                format!("items[{i}].quantity: must be 1 to 100"),
            ));
        }
        products.push((p, item.quantity));
    }
    let first = (products[0].0.gateway_id, products[0].0.routing_profile_id);
    if products
        .iter()
        .any(|(p, _)| (p.gateway_id, p.routing_profile_id) != first)
    {
        return Err(ApiError::unprocessable(Some("items"), "order_gateways_differ", "the order's products are assigned to different gateways or routing profiles; place one order per gateway"));
    }
    let (candidates, cascade) = match first {
        (Some(g), _) => (vec![g], false),
        (None, Some(r)) => {
            let profile = state.store.get_routing_profile(auth.client_no, r).await?;
            let algorithm: kassa_domain::routing::Algorithm =
                serde_json::from_value(json!(profile.algorithm)).map_err(ApiError::internal)?;
            let members: Vec<kassa_domain::routing::Member> =
                serde_json::from_str(&profile.gateways).map_err(ApiError::internal)?;
            let n = state.store.next_routing_count(profile.id).await?;
            (
                kassa_domain::routing::order(algorithm, &members, n as u64),
                profile.cascade_on_soft_decline,
            )
        }
        (None, None) => {
            return Err(ApiError::internal(
                "a product without gateway or routing profile",
            ))
        }
    };
    let amount: i64 = products.iter().map(|(p, q)| p.price * q).sum();
    let recurring = products.iter().any(|(p, _)| p.schedule.is_some());
    // The payment: the rest of the body is the payment's own fields (card or stored method, …).
    body.insert("acct_no".into(), json!(acct_no));
    body.insert("amount".into(), json!(amount));
    body.insert("currency".into(), json!(campaign.currency));
    body.insert(
        "products".into(),
        json!(products
            .iter()
            .map(|(p, q)| json!({"name": p.name, "amount": p.price, "quantity": q, "sku": p.sku}))
            .collect::<Vec<_>>()),
    );
    if recurring && body.contains_key("card") {
        body.insert("store".into(), json!(true));
    }
    // Under an Idempotency-Key the order's id comes from the key: the retry of a request that
    // died after recording the order answers with it rather than placing it again.
    let order_id = match crate::idempotency::derived_id("ord_") {
        Some(id) => match state.store.get_order(auth.client_no, &id).await {
            Ok(o) => {
                if let Some(pid) = &o.payment_id {
                    let rec = state.store.get_payment(auth.client_no, pid).await?;
                    super::payments::replayed(state, &rec).await?;
                }
                return super::upsells::get(state, auth, &id).await;
            }
            Err(StorageError::NotFound) => id,
            Err(e) => return Err(e.into()),
        },
        None => kassa_secrets::new_id("ord_")?,
    };
    // The order's id goes to Stripe with the payment; it also tells the payment that the order
    // sends its emails (below), not the payment.
    if matches!(body.get("metadata"), None | Some(Value::Null)) {
        body.insert("metadata".into(), json!({}));
    }
    if let Some(Value::Object(m)) = body.get_mut("metadata") {
        m.insert("kassa_order".into(), json!(order_id));
    }
    let now = kassa_storage::now_millis();
    // Try the gateways in the routing order: skip one that cannot take the sale (its cap,
    // disabled), and move on after a soft decline when the profile cascades.
    let mut outcome = None;
    let mut tried = Vec::new();
    for gateway_id in &candidates {
        let mut attempt = body.clone();
        attempt.insert("gateway_id".into(), json!(gateway_id));
        tried.push(*gateway_id);
        match super::payments::create(state, auth, attempt).await {
            Ok((view, _)) => {
                outcome = Some((
                    view.status.clone(),
                    Some(view.id.clone()),
                    view.payment_method_no,
                    None,
                    *gateway_id,
                ));
                break;
            }
            Err(ApiError::Unprocessable {
                code: "gateway_cap_reached" | "gateway_unavailable",
                ..
            }) if candidates.len() > 1 => continue,
            Err(ApiError::Card {
                code,
                decline_code,
                message,
                payment_id,
            }) => {
                let soft = kassa_domain::payment::classify_decline(
                    Some(&code),
                    decline_code.as_deref(),
                    None,
                ) == kassa_domain::payment::DeclineClass::Soft;
                let err = ApiError::Card {
                    code,
                    decline_code,
                    message,
                    payment_id: payment_id.clone(),
                };
                outcome = Some((
                    "declined".to_string(),
                    payment_id,
                    None,
                    Some(err),
                    *gateway_id,
                ));
                if !(cascade && soft) {
                    break;
                }
            }
            Err(e) => return Err(e),
        }
    }
    let Some((status, payment_id, pm_no, card_error, gateway_id)) = outcome else {
        return Err(ApiError::unprocessable(
            Some("items"),
            "no_gateway_available",
            format!("no gateway could take the sale (tried {tried:?}: caps reached or disabled)"),
        ));
    };
    let ok = matches!(status.as_str(), "captured" | "authorized");
    let mut purchases = Vec::new();
    if ok {
        for (p, _) in products.iter().filter(|(p, _)| p.schedule.is_some()) {
            purchases.push(start_purchase(
                auth.client_no,
                acct_no,
                &order_id,
                p,
                gateway_id,
                pm_no,
                &campaign.currency,
                now,
            )?);
        }
    }
    let order = OrderRecord {
        id: order_id.clone(),
        client_no: auth.client_no,
        acct_no,
        campaign_id: campaign.id,
        status: if ok {
            "complete".into()
        } else {
            status.clone()
        },
        payment_id: payment_id.clone(),
        amount,
        currency: campaign.currency.clone(),
        items: json!(items
            .iter()
            .map(|i| json!({"product_id": i.product_id, "quantity": i.quantity}))
            .collect::<Vec<_>>())
        .to_string(),
        ..Default::default()
    };
    state.store.insert_order(&order, &purchases).await?;
    if let Some(pid) = &payment_id {
        if let Ok(rec) = state.store.get_payment(auth.client_no, pid).await {
            if let Some(mut ev) = super::email_events::Event::for_outcome(&rec) {
                ev.order_id = Some(order_id.clone());
                ev.cycle = Some(1);
                ev.next_bill_at = purchases.iter().filter_map(|p| p.next_bill_at).min();
                super::email_events::enqueue(state, &rec, ev).await;
            }
        }
    }
    if let Some(e) = card_error {
        return Err(e);
    }
    Ok(
        json!({"object": "order", "id": order_id, "status": order.status, "acct_no": acct_no, "campaign_id": campaign.id, "amount": amount, "currency": campaign.currency,
        "payment_id": payment_id, "gateway_id": gateway_id, "gateways_tried": tried, "purchases": purchases.iter().map(|p| purchase_view(p, None)).collect::<Vec<_>>()}),
    )
}

/// The purchase a recurring product starts when its first cycle was charged at `now`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn start_purchase(
    client_no: i64,
    acct_no: i64,
    order_id: &str,
    p: &ProductRecord,
    gateway_id: i64,
    pm_no: Option<i64>,
    currency: &str,
    now: i64,
) -> Result<PurchaseRecord, ApiError> {
    let schedule: Schedule =
        serde_json::from_str(p.schedule.as_deref().unwrap_or("{}")).map_err(ApiError::internal)?;
    let next = schedule.next_bill_at(1, now);
    Ok(PurchaseRecord {
        id: kassa_secrets::new_id("pur_")?,
        client_no,
        acct_no,
        order_id: order_id.to_string(),
        product_id: p.id,
        gateway_id,
        pm_no,
        status: if next.is_none() {
            "completed".into()
        } else if schedule.trial_days.is_some() {
            "trial".into()
        } else {
            "active".into()
        },
        cycle: 1,
        next_bill_at: next,
        currency: currency.to_string(),
        created_at: now,
        updated_at: now,
        ..Default::default()
    })
}

/// The worker's identity for the purchases it leases.
fn worker_auth(client_no: i64) -> Auth {
    Auth {
        client_no,
        api_key_id: 0,
        key_label: "rebill-worker".into(),
        request_id: None,
    }
}

/// Bills a leased purchase's next cycle (merchant-initiated, recurring) at `now` and moves it on.
pub async fn bill(
    state: &AppState,
    client_no: i64,
    purchase_id: &str,
    now: i64,
) -> Result<Value, ApiError> {
    let mut p = state
        .store
        .get_purchase(client_no, purchase_id)
        .await
        .map_err(not_found("purchase"))?;
    let product = state.store.get_product(client_no, p.product_id).await?;
    let schedule: Schedule = serde_json::from_str(product.schedule.as_deref().unwrap_or("{}"))
        .map_err(ApiError::internal)?;
    let cycle = p.cycle + 1;
    let attempt = p.attempt + 1;
    let base = p
        .price_override
        .unwrap_or_else(|| schedule.price(cycle as u32));
    // Re-attempts follow the gateway's recycle profile: its waits and price reductions.
    let rules = super::recycle::rules_for(state, p.gateway_id).await?;
    let amount = rules.price(base, attempt as usize);
    if p.needs_new_card {
        state.store.release_purchase(&p.id).await?;
        return Err(ApiError::Conflict {
            code: "purchase_needs_new_card",
            message: "the purchase's card was detached; set a new payment_method_no first".into(),
        });
    }
    let Some(pm_no) = p.pm_no else {
        p.status = "recycle_failed".into();
        p.next_bill_at = None;
        let a = AttemptRecord {
            cycle,
            attempt,
            payment_id: String::new(),
            amount,
            status: "failed".into(),
            decline_code: Some("no_payment_method".into()),
            ..Default::default()
        };
        state.store.start_attempt(&p.id, &a).await?;
        state.store.finish_attempt(&p, &a).await?;
        super::balance::owe_failed_rebill(state, &p, cycle, base).await?;
        return Ok(purchase_view(&p, None));
    };
    // The attempt is written first, with the payment's id: a crash after this point is found
    // again by that id and never billed under a new one.
    // A started attempt keeps its recorded amount (the profile may have changed since).
    let (payment_id, amount) = match state.store.get_attempt(&p.id, cycle, attempt).await? {
        Some(a) => (a.payment_id, a.amount),
        None => {
            // The card networks' retry limits: refused here, before Stripe, with the reason.
            if super::recycle::refuse_over_network_limit(
                state, &mut p, pm_no, cycle, amount, base, now,
            )
            .await?
            {
                return Ok(purchase_view(&p, None));
            }
            let id = kassa_secrets::new_id("pay_")?;
            let a = AttemptRecord {
                cycle,
                attempt,
                payment_id: id.clone(),
                amount,
                ..Default::default()
            };
            if !state.store.start_attempt(&p.id, &a).await? {
                return Err(ApiError::Conflict {
                    code: "purchase_busy",
                    message: "this cycle is being billed already".into(),
                });
            }
            (id, amount)
        }
    };
    let auth = worker_auth(client_no);
    let existing = state.store.get_payment(client_no, &payment_id).await;
    let (approved, hard, decline_code, status) = match existing {
        Ok(rec) => {
            // Made before a crash: its outcome decides (while unknown, the reconciler works on it).
            let details: Value = serde_json::from_str(&rec.details).unwrap_or(Value::Null);
            (
                matches!(rec.status.as_str(), "captured" | "authorized"),
                details["decline"]["class"] == "hard",
                details["decline"]["code"].as_str().map(str::to_string),
                rec.status,
            )
        }
        Err(StorageError::NotFound) => {
            let mut body = Map::new();
            body.insert("acct_no".into(), json!(p.acct_no));
            body.insert("payment_method_no".into(), json!(pm_no));
            body.insert("amount".into(), json!(amount));
            body.insert("currency".into(), json!(p.currency));
            body.insert("gateway_id".into(), json!(p.gateway_id));
            body.insert("recurring_processing_model_ind".into(), json!(2));
            body.insert(
                "products".into(),
                json!([{"name": product.name, "amount": amount, "sku": product.sku}]),
            );
            body.insert(
                "metadata".into(),
                json!({"kassa_purchase": p.id, "kassa_cycle": cycle.to_string()}),
            );
            match super::payments::create_with_id(state, &auth, body, Some(payment_id.clone()))
                .await
            {
                Ok((v, _)) => (
                    matches!(v.status.as_str(), "captured" | "authorized"),
                    false,
                    None,
                    v.status,
                ),
                Err(ApiError::Card {
                    code, decline_code, ..
                }) => {
                    let rec = state.store.get_payment(client_no, &payment_id).await?;
                    let details: Value = serde_json::from_str(&rec.details).unwrap_or(Value::Null);
                    (
                        false,
                        details["decline"]["class"] == "hard",
                        decline_code.or(Some(code)),
                        "declined".into(),
                    )
                }
                Err(e) => {
                    // Refused before Stripe (the gateway's cap, a disabled gateway): not again
                    // in this run, and not before an hour has passed.
                    state
                        .store
                        .defer_purchase(&p.id, now + REFUSED_RETRY_MS)
                        .await?;
                    return Err(e);
                }
            }
        }
        Err(e) => return Err(e.into()),
    };
    if status == "declined" && decline_code.as_deref() == Some("not_processed") {
        // The payment never reached Stripe (the process that made it died first; the reconciler
        // found nothing there): nothing was charged and the attempt does not count. It is made
        // again now, under a new payment id (the new payment cannot come back `not_processed`:
        // only the reconciler says that, later).
        state
            .store
            .discard_attempt(&p.id, cycle, attempt, &payment_id)
            .await?;
        return Box::pin(bill(state, client_no, purchase_id, now)).await;
    }
    if !matches!(status.as_str(), "captured" | "authorized" | "declined") {
        // Unknown for now: keep the attempt open; a later run (after the reconciler) finds it by
        // its payment.
        state
            .store
            .defer_purchase(&p.id, now + UNKNOWN_RETRY_MS)
            .await?;
        return Ok(purchase_view(&p, None));
    }
    match rebill_outcome(
        approved,
        hard,
        attempt as usize,
        &schedule,
        cycle as u32,
        now,
        &rules,
    ) {
        RebillOutcome::Billed { next_bill_at } => {
            if rules.hold_recycle_price && amount < base {
                // Hold Recycle Price: later cycles keep the reduced price that recovered.
                p.price_override = Some(amount);
            }
            p.cycle = cycle;
            p.attempt = 0;
            p.next_bill_at = if p.cancel_at_end { None } else { next_bill_at };
            p.status = if p.cancel_at_end {
                "cancelled".into()
            } else if next_bill_at.is_none() {
                "completed".into()
            } else {
                "active".into()
            };
        }
        RebillOutcome::Retry { at } => {
            p.attempt = attempt;
            p.next_bill_at = Some(at);
            p.status = "recycle_billing".into();
        }
        RebillOutcome::Failed => {
            p.attempt = attempt;
            p.next_bill_at = None;
            p.status = "recycle_failed".into();
        }
    }
    let a = AttemptRecord {
        cycle,
        attempt,
        payment_id,
        amount,
        status: if approved {
            "approved".into()
        } else {
            "declined".into()
        },
        decline_code,
        ..Default::default()
    };
    state.store.finish_attempt(&p, &a).await?;
    if approved && p.price_override == Some(amount) && amount < base {
        state.store.set_purchase_price(&p.id, amount).await?;
    }
    // Recycling failed: the cycle's price becomes a debt on the account's balance (settled
    // later); billed after all (a reactivated purchase): that debt is withdrawn.
    if p.status == "recycle_failed" {
        super::balance::owe_failed_rebill(state, &p, cycle, base).await?;
    } else if approved {
        state.store.void_rebill_debt(&p.id, cycle).await?;
    }
    let event = if approved {
        "rebill.succeeded"
    } else {
        "rebill.failed"
    };
    super::notifications::notify(state, client_no, event, json!({"purchase_id": p.id, "cycle": cycle, "amount": amount, "payment_id": a.payment_id, "status": p.status})).await;
    rebill_email(state, client_no, &p, &a).await;
    Ok(purchase_view(&p, None))
}

/// A rebill's receipt, or — on the first declined attempt of a cycle only, not on every
/// re-attempt — its decline notice.
async fn rebill_email(state: &AppState, client_no: i64, p: &PurchaseRecord, a: &AttemptRecord) {
    use super::email_events::{enqueue, Event};
    let kind = match a.status.as_str() {
        "approved" => kassa_domain::email::Kind::RebillReceipt,
        "declined" if a.attempt == 1 => kassa_domain::email::Kind::DeclineNotice,
        _ => return,
    };
    if let Ok(rec) = state.store.get_payment(client_no, &a.payment_id).await {
        let mut ev = Event::new(kind, rec.id.clone());
        ev.order_id = Some(p.order_id.clone());
        ev.cycle = Some(a.cycle);
        ev.next_bill_at = p.next_bill_at;
        enqueue(state, &rec, ev).await;
    }
}

pub use super::rebill_run::{run_due, run_due_reporting};

/// A rebill refused before it reached Stripe is tried again after this long.
const REFUSED_RETRY_MS: i64 = 60 * 60_000;
/// A rebill whose outcome at Stripe is unknown is looked at again after this long.
const UNKNOWN_RETRY_MS: i64 = 60_000;

pub(crate) async fn bill_leased(state: &AppState, worker: &str, id: &str, now: i64) -> bool {
    let client_no = match state.store.purchase_client(id).await {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(purchase = %id, error = %e, "rebill: purchase not readable");
            return false;
        }
    };
    match bill(state, client_no, id, now).await {
        Ok(_) => {
            tracing::debug!(purchase = %id, worker, "rebill billed");
            true
        }
        Err(e) => {
            tracing::warn!(purchase = %id, error = %e, "rebill failed");
            false
        }
    }
}

/// `POST /v1/purchases/{id}/bill_now` — the seed's Force Bill NOW.
pub async fn bill_now(state: &AppState, auth: &Auth, id: &str) -> Result<Value, ApiError> {
    let p = state
        .store
        .get_purchase(auth.client_no, id)
        .await
        .map_err(not_found("purchase"))?;
    if !matches!(p.status.as_str(), "active" | "trial" | "recycle_billing") {
        return Err(ApiError::Conflict {
            code: "purchase_not_billable",
            message: format!("a {} purchase is not billed", p.status),
        });
    }
    let now = kassa_storage::now_millis();
    if !state
        .store
        .lease_purchase(auth.client_no, id, "bill-now", now, now + 5 * 60_000)
        .await?
    {
        return Err(ApiError::Conflict {
            code: "purchase_busy",
            message: "the purchase is being billed right now".into(),
        });
    }
    bill(state, auth.client_no, id, now).await
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PurchaseChange {
    #[serde(default)]
    price: Option<i64>,
    /// Unix milliseconds.
    #[serde(default)]
    next_bill_at: Option<i64>,
    #[serde(default)]
    gateway_id: Option<i64>,
    /// `paused` or `active`.
    #[serde(default)]
    status: Option<String>,
    /// Another stored card of the account, on the purchase's gateway.
    #[serde(default)]
    payment_method_no: Option<i64>,
}

pub async fn update_purchase(
    state: &AppState,
    auth: &Auth,
    id: &str,
    body: Map<String, Value>,
) -> Result<Value, ApiError> {
    let mut p = state
        .store
        .get_purchase(auth.client_no, id)
        .await
        .map_err(not_found("purchase"))?;
    let c: PurchaseChange = parse(Value::Object(body))?;
    if let Some(price) = c.price {
        if price <= 0 {
            return Err(ApiError::invalid("price", "price: must be more than 0"));
        }
        p.price_override = Some(price);
    }
    if let Some(at) = c.next_bill_at {
        p.next_bill_at = Some(at);
    }
    if let Some(g) = c.gateway_id {
        super::gateway_ctx::load(state, auth.client_no, g, None).await?;
        p.gateway_id = g;
    }
    if let Some(no) = c.payment_method_no {
        let pm = state
            .store
            .get_payment_method(auth.client_no, p.acct_no, no)
            .await
            .map_err(|_| {
                ApiError::invalid(
                    "payment_method_no",
                    format!("payment_method_no: the account has no payment method {no}"),
                )
            })?;
        if pm.status != "active" || pm.gateway_id != Some(p.gateway_id) {
            return Err(ApiError::unprocessable(
                Some("payment_method_no"),
                "payment_method_unusable",
                "the card must be active and stored at the purchase's gateway",
            ));
        }
        p.pm_no = Some(no);
        p.needs_new_card = false;
    }
    if let Some(s) = c.status {
        match (s.as_str(), p.status.as_str()) {
            ("active", "recycle_failed")
                if state.store.rebill_debt_paid(&p.id, p.cycle + 1).await? =>
            {
                // The failed cycle was paid by a settle or collect since: billing it again would
                // charge it twice. The purchase goes on with the cycle after it.
                return reactivate_after_paid_cycle(state, p).await;
            }
            ("paused", "active" | "trial" | "recycle_billing")
            | ("active", "paused" | "recycle_failed") => p.status = s,
            _ => {
                return Err(ApiError::invalid(
                    "status",
                    format!("status: a {} purchase cannot become {s}", p.status),
                ))
            }
        }
    }
    state.store.update_purchase_terms(&p).await?;
    Ok(purchase_view(&p, None))
}

/// A recycle-failed purchase whose failed cycle was paid through the balance: that cycle counts
/// as billed (now), and the schedule goes on from it.
async fn reactivate_after_paid_cycle(
    state: &AppState,
    mut p: PurchaseRecord,
) -> Result<Value, ApiError> {
    let product = state.store.get_product(p.client_no, p.product_id).await?;
    let schedule: Schedule = serde_json::from_str(product.schedule.as_deref().unwrap_or("{}"))
        .map_err(ApiError::internal)?;
    let now = kassa_storage::now_millis();
    p.cycle += 1;
    p.attempt = 0;
    p.next_bill_at = schedule.next_bill_at(p.cycle as u32, now);
    p.status = if p.next_bill_at.is_some() {
        "active".into()
    } else {
        "completed".into()
    };
    state.store.advance_purchase(&p, now).await?;
    Ok(purchase_view(&p, None))
}

/// Cancels now, or after the next bill (`after_next_bill`).
pub async fn cancel_purchase(
    state: &AppState,
    auth: &Auth,
    id: &str,
    after_next_bill: bool,
) -> Result<Value, ApiError> {
    let mut p = state
        .store
        .get_purchase(auth.client_no, id)
        .await
        .map_err(not_found("purchase"))?;
    if matches!(p.status.as_str(), "cancelled" | "completed") {
        return Ok(purchase_view(&p, None));
    }
    if after_next_bill {
        p.cancel_at_end = true;
    } else {
        p.status = "cancelled".into();
        p.next_bill_at = None;
    }
    state.store.update_purchase_terms(&p).await?;
    Ok(purchase_view(&p, None))
}

/// A worker's name in leases: host process id, unique on one machine.
pub fn worker_name() -> String {
    format!("worker-{}", std::process::id())
}

/// Bills due purchases every `every` while the process runs.
pub async fn run_forever(state: AppState, every: std::time::Duration) {
    let name = worker_name();
    let mut tick = tokio::time::interval(every);
    loop {
        tick.tick().await;
        if let Err(e) = run_due(&state, &name, kassa_storage::now_millis(), 50).await {
            tracing::warn!(error = %e, "rebill pass failed");
        }
    }
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoutingInput {
    name: String,
    algorithm: kassa_domain::routing::Algorithm,
    gateways: Vec<kassa_domain::routing::Member>,
    #[serde(default)]
    cascade_on_soft_decline: bool,
}

pub fn routing_view(r: &kassa_storage::RoutingProfileRecord) -> Value {
    json!({"object": "routing_profile", "id": r.id, "name": r.name, "algorithm": r.algorithm,
        "gateways": serde_json::from_str::<Value>(&r.gateways).unwrap_or(Value::Null), "cascade_on_soft_decline": r.cascade_on_soft_decline,
        "created_at": crate::views::timestamp(r.created_at)})
}

/// `POST /v1/routing_profiles`: how initial sales spread over gateways.
pub async fn create_routing_profile(
    state: &AppState,
    auth: &Auth,
    body: Map<String, Value>,
) -> Result<Value, ApiError> {
    let input: RoutingInput = parse(Value::Object(body))?;
    kassa_domain::text::check_text(&input.name, 200).map_err(|e| e.under("name"))?;
    kassa_domain::routing::validate(input.algorithm, &input.gateways)?;
    for (i, m) in input.gateways.iter().enumerate() {
        state
            .store
            .get_gateway(auth.client_no, m.gateway_id)
            .await
            .map_err(|_| {
                ApiError::invalid(
                    format!("gateways[{i}].gateway_id"),
                    format!("gateways[{i}].gateway_id: no gateway {}", m.gateway_id),
                )
            })?;
    }
    let rec = kassa_storage::RoutingProfileRecord {
        client_no: auth.client_no,
        name: input.name,
        algorithm: serde_json::to_value(input.algorithm)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default(),
        gateways: serde_json::to_string(&input.gateways).map_err(ApiError::internal)?,
        cascade_on_soft_decline: input.cascade_on_soft_decline,
        ..Default::default()
    };
    Ok(routing_view(
        &state.store.insert_routing_profile(&rec).await?,
    ))
}
