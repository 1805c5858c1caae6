//! Campaigns and their products: create, assign each product a gateway or a routing profile,
//! delete (the campaign leaves lists and reports) and restore (with its settings).

use std::collections::HashMap;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use kassa_api::service::{billing, products};
use kassa_api::{ApiError, AppState};
use kassa_domain::money::{format_major, parse_major, Currency};
use kassa_storage::CampaignRecord;
use serde_json::{json, Map, Value};

use crate::pages::{api_error, error_page};
use crate::session::{csrf_refused, render_form, Session};

pub struct CampaignRow {
    pub id: i64,
    pub name: String,
    pub currency: String,
    pub is_test: bool,
    pub deleted: bool,
}

#[derive(Template)]
#[template(path = "campaigns.html")]
struct CampaignsPage {
    who: String,
    csrf: String,
    deleted: bool,
    rows: Vec<CampaignRow>,
    notice: Option<String>,
    error: Option<String>,
}

fn campaign_row(c: &CampaignRecord) -> CampaignRow {
    CampaignRow {
        id: c.id,
        name: c.name.clone(),
        currency: c.currency.to_uppercase(),
        is_test: c.is_test,
        deleted: c.deleted_at.is_some(),
    }
}

async fn campaigns_page(
    state: &AppState,
    session: &Session,
    deleted: bool,
    notice: Option<String>,
    error: Option<String>,
) -> Response {
    let rows = match state
        .store
        .list_campaigns(session.auth.client_no, deleted)
        .await
    {
        Ok(r) => r.iter().map(campaign_row).collect(),
        Err(e) => return api_error(e.into()),
    };
    let page = CampaignsPage {
        who: session.key_label.clone(),
        csrf: session.csrf.clone(),
        deleted,
        rows,
        notice,
        error: error.clone(),
    };
    render_form(&page, error.is_some())
}

pub async fn list(
    State(state): State<AppState>,
    session: Session,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let notice = match q.get("done").map(String::as_str) {
        Some("deleted") => Some(
            "Campaign deleted: it is left out of lists and reports until restored.".to_string(),
        ),
        _ => None,
    };
    campaigns_page(
        &state,
        &session,
        q.get("deleted").is_some_and(|d| d == "true"),
        notice,
        None,
    )
    .await
}

pub async fn create(
    State(state): State<AppState>,
    session: Session,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    if !session.csrf_ok(&form) {
        return csrf_refused();
    }
    let text = |k: &str| {
        form.get(k)
            .map(|s| s.trim().to_string())
            .unwrap_or_default()
    };
    let mut body = Map::new();
    body.insert("name".into(), Value::String(text("name")));
    body.insert("currency".into(), Value::String(text("currency")));
    body.insert("is_test".into(), Value::Bool(form.contains_key("is_test")));
    match billing::create_campaign(&state, &session.auth, body).await {
        Ok(c) => Redirect::to(&format!("/console/campaigns/{}", c["id"])).into_response(),
        Err(e @ (ApiError::InvalidRequest { .. } | ApiError::Unprocessable { .. })) => {
            campaigns_page(&state, &session, false, None, Some(e.to_string())).await
        }
        Err(e) => api_error(e),
    }
}

/// Delete or restore.
pub async fn set_deleted(
    State(state): State<AppState>,
    session: Session,
    Path((id, action)): Path<(String, String)>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    if !session.csrf_ok(&form) {
        return csrf_refused();
    }
    let Ok(id) = id.parse::<i64>() else {
        return error_page(StatusCode::NOT_FOUND, "No such campaign.");
    };
    let deleted = match action.as_str() {
        "delete" => true,
        "restore" => false,
        _ => return error_page(StatusCode::NOT_FOUND, "No such action."),
    };
    match billing::set_campaign_deleted(&state, &session.auth, id, deleted).await {
        Ok(_) if deleted => Redirect::to("/console/campaigns?done=deleted").into_response(),
        Ok(_) => Redirect::to(&format!("/console/campaigns/{id}?done=restored")).into_response(),
        Err(e) => api_error(e),
    }
}

pub struct ProductRow {
    pub id: i64,
    pub name: String,
    pub sku: String,
    pub shippable: bool,
    pub terms: String,
    pub assigned: String,
}

/// A gateway or routing profile a product can be assigned: `g:12` or `r:3`.
pub struct Target {
    pub value: String,
    pub label: String,
}

#[derive(Default)]
pub struct ProductForm {
    pub name: String,
    pub sku: String,
    pub shippable: bool,
    pub recurring: bool,
    pub price: String,
    pub cycle_prices: String,
    pub interval_count: String,
    pub interval_unit: String,
    pub trial_days: String,
    pub final_cycle: String,
    pub target: String,
}

#[derive(Template)]
#[template(path = "campaign.html")]
struct CampaignPage {
    who: String,
    csrf: String,
    id: i64,
    name: String,
    currency: String,
    is_test: bool,
    deleted: bool,
    products: Vec<ProductRow>,
    targets: Vec<Target>,
    form: ProductForm,
    notice: Option<String>,
    error: Option<String>,
}

fn terms(p: &Value, currency: Currency) -> String {
    let amount = |v: &Value| format_major(v.as_i64().unwrap_or(0), currency);
    match p.get("schedule").filter(|s| !s.is_null()) {
        None => format!("{} once", amount(&p["price"])),
        Some(s) => {
            let prices: Vec<String> = s["prices"]
                .as_array()
                .map(|a| a.iter().map(amount).collect())
                .unwrap_or_default();
            let mut t = format!(
                "cycles {} every {} {}",
                prices.join(", "),
                s["interval_count"],
                s["interval_unit"].as_str().unwrap_or("")
            );
            if let Some(d) = s["trial_days"].as_i64() {
                t.push_str(&format!(", trial {d} days"));
            }
            if let Some(f) = s["final_cycle"].as_i64() {
                t.push_str(&format!(", final cycle {f}"));
            }
            t
        }
    }
}

pub(crate) async fn campaign_page(
    state: &AppState,
    session: &Session,
    id: &str,
    form: ProductForm,
    notice: Option<String>,
    error: Option<String>,
) -> Response {
    let client = session.auth.client_no;
    let found = match id.parse::<i64>() {
        Ok(id) => state.store.get_campaign(client, id).await.ok(),
        Err(_) => None,
    };
    let Some(c) = found else {
        return error_page(StatusCode::NOT_FOUND, "No such campaign.");
    };
    let currency = Currency::parse(&c.currency).unwrap_or(Currency::USD);
    let (gateways, profiles, products) = match (
        crate::routing::gateway_choices(state, client).await,
        state.store.list_routing_profiles(client).await,
        state.store.list_products(client, c.id).await,
    ) {
        (Ok(g), Ok(r), Ok(p)) => (g, r, p),
        (Err(e), _, _) => return api_error(e),
        (_, Err(e), _) | (_, _, Err(e)) => return api_error(e.into()),
    };
    let mut targets: Vec<Target> = gateways
        .into_iter()
        .map(|g| Target {
            value: format!("g:{}", g.id),
            label: format!("Gateway {}", g.label),
        })
        .collect();
    targets.extend(profiles.iter().map(|r| Target {
        value: format!("r:{}", r.id),
        label: format!("Routing profile #{} {} ({})", r.id, r.name, r.algorithm),
    }));
    let products = products
        .iter()
        .map(|p| {
            let v = billing::product_view(p);
            ProductRow {
                id: p.id,
                name: p.name.clone(),
                sku: p.sku.clone().unwrap_or_default(),
                shippable: p.shippable,
                terms: terms(&v, currency),
                assigned: match (p.gateway_id, p.routing_profile_id) {
                    (Some(g), _) => format!("g:{g}"),
                    (_, Some(r)) => format!("r:{r}"),
                    _ => String::new(),
                },
            }
        })
        .collect();
    let page = CampaignPage {
        who: session.key_label.clone(),
        csrf: session.csrf.clone(),
        id: c.id,
        name: c.name.clone(),
        currency: c.currency.to_uppercase(),
        is_test: c.is_test,
        deleted: c.deleted_at.is_some(),
        products,
        targets,
        form,
        notice,
        error: error.clone(),
    };
    render_form(&page, error.is_some())
}

pub async fn show(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let notice = match q.get("done").map(String::as_str) {
        Some("restored") => Some("Campaign restored with its settings.".to_string()),
        Some("product") => Some("Product added.".to_string()),
        Some("assigned") => Some("Product assignment saved.".to_string()),
        _ => None,
    };
    let form = ProductForm {
        interval_count: "1".into(),
        interval_unit: "months".into(),
        ..Default::default()
    };
    campaign_page(&state, &session, &id, form, notice, None).await
}

/// `g:12` → `{"gateway_id": 12}`, `r:3` → `{"routing_profile_id": 3}`.
fn assignment(target: &str, body: &mut Map<String, Value>) {
    let (key, id) = match target.split_once(':') {
        Some(("g", id)) => ("gateway_id", id),
        Some(("r", id)) => ("routing_profile_id", id),
        _ => return,
    };
    if let Ok(id) = id.parse::<i64>() {
        body.insert(key.into(), json!(id));
    }
}

fn product_body(f: &ProductForm, currency: Currency) -> Result<Map<String, Value>, String> {
    let mut body = Map::new();
    body.insert("name".into(), json!(f.name));
    if !f.sku.is_empty() {
        body.insert("sku".into(), json!(f.sku));
    }
    body.insert("shippable".into(), json!(f.shippable));
    let amount = |field: &str, raw: &str| {
        parse_major(raw, currency)
            .map(|m| m.get())
            .map_err(|e| format!("{field}: {}", e.message))
    };
    let whole = |field: &str, raw: &str| -> Result<Option<u32>, String> {
        if raw.is_empty() {
            return Ok(None);
        }
        raw.parse::<u32>()
            .map(Some)
            .map_err(|_| format!("{field}: `{raw}` is not a whole number"))
    };
    if f.recurring {
        let prices = f
            .cycle_prices
            .split([',', ';', ' '])
            .filter(|p| !p.trim().is_empty())
            .enumerate()
            .map(|(i, p)| amount(&format!("cycle_prices[{i}]"), p.trim()))
            .collect::<Result<Vec<i64>, String>>()?;
        let mut schedule = json!({"prices": prices, "interval_unit": f.interval_unit,
            "interval_count": whole("interval_count", &f.interval_count)?.unwrap_or(1)});
        if let Some(t) = whole("trial_days", &f.trial_days)? {
            schedule["trial_days"] = json!(t);
        }
        if let Some(c) = whole("final_cycle", &f.final_cycle)? {
            schedule["final_cycle"] = json!(c);
        }
        body.insert("schedule".into(), schedule);
    } else if !f.price.is_empty() {
        body.insert("price".into(), json!(amount("price", &f.price)?));
    }
    assignment(&f.target, &mut body);
    Ok(body)
}

pub async fn add_product(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
    Form(raw): Form<HashMap<String, String>>,
) -> Response {
    if !session.csrf_ok(&raw) {
        return csrf_refused();
    }
    let t = |k: &str| raw.get(k).map(|s| s.trim().to_string()).unwrap_or_default();
    let form = ProductForm {
        name: t("name"),
        sku: t("sku"),
        shippable: raw.contains_key("shippable"),
        recurring: t("kind") == "recurring",
        price: t("price"),
        cycle_prices: t("cycle_prices"),
        interval_count: t("interval_count"),
        interval_unit: t("interval_unit"),
        trial_days: t("trial_days"),
        final_cycle: t("final_cycle"),
        target: t("target"),
    };
    let Ok(campaign_id) = id.parse::<i64>() else {
        return error_page(StatusCode::NOT_FOUND, "No such campaign.");
    };
    let currency = match state
        .store
        .get_campaign(session.auth.client_no, campaign_id)
        .await
    {
        Ok(c) => Currency::parse(&c.currency).unwrap_or(Currency::USD),
        Err(_) => return error_page(StatusCode::NOT_FOUND, "No such campaign."),
    };
    let result = match product_body(&form, currency) {
        Ok(body) => billing::create_product(&state, &session.auth, campaign_id, body)
            .await
            .map_err(|e| match e {
                ApiError::InvalidRequest { .. } | ApiError::Unprocessable { .. } => {
                    Ok(e.to_string())
                }
                other => Err(other),
            }),
        Err(m) => Err(Ok(m)),
    };
    match result {
        Ok(_) => {
            Redirect::to(&format!("/console/campaigns/{campaign_id}?done=product")).into_response()
        }
        Err(Ok(message)) => campaign_page(&state, &session, &id, form, None, Some(message)).await,
        Err(Err(e)) => api_error(e),
    }
}

/// The product row's gateway / routing profile chooser.
pub async fn assign_product(
    State(state): State<AppState>,
    session: Session,
    Path((id, product_id)): Path<(String, String)>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    if !session.csrf_ok(&form) {
        return csrf_refused();
    }
    let (Ok(campaign_id), Ok(product_id)) = (id.parse::<i64>(), product_id.parse::<i64>()) else {
        return error_page(StatusCode::NOT_FOUND, "No such product.");
    };
    let mut body = Map::new();
    assignment(
        form.get("target").map(String::as_str).unwrap_or(""),
        &mut body,
    );
    if body.is_empty() {
        let message = "target: choose a gateway or a routing profile".to_string();
        return campaign_page(
            &state,
            &session,
            &id,
            ProductForm::default(),
            None,
            Some(message),
        )
        .await;
    }
    match products::update(&state, &session.auth, campaign_id, product_id, body).await {
        Ok(_) => {
            Redirect::to(&format!("/console/campaigns/{campaign_id}?done=assigned")).into_response()
        }
        Err(e @ (ApiError::InvalidRequest { .. } | ApiError::Unprocessable { .. })) => {
            campaign_page(
                &state,
                &session,
                &id,
                ProductForm::default(),
                None,
                Some(e.to_string()),
            )
            .await
        }
        Err(e) => api_error(e),
    }
}
