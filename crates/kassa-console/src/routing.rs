//! Routing profiles (how initial sales spread over gateways) and collection groups (accounts
//! routed to a gateway, with overrides): lists and create forms over the API's services.

use std::collections::HashMap;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use kassa_api::service::{billing, groups};
use kassa_api::{ApiError, AppState};
use kassa_storage::PageRequest;
use serde_json::{json, Map, Value};

use crate::pages::{api_error, error_page};
use crate::session::{csrf_refused, render_form, Session};

pub struct GatewayChoice {
    pub id: i64,
    pub label: String,
}

/// The client's gateways that can take sales (not archived), as `#id title`.
pub(crate) async fn gateway_choices(
    state: &AppState,
    client: i64,
) -> Result<Vec<GatewayChoice>, ApiError> {
    Ok(state
        .store
        .all_gateways(client)
        .await?
        .iter()
        .filter(|g| g.status != "archived")
        .map(|g| GatewayChoice {
            id: g.id,
            label: format!(
                "#{} {}",
                g.id,
                serde_json::from_str::<Value>(&g.settings)
                    .ok()
                    .and_then(|s| s["title"].as_str().map(str::to_string))
                    .unwrap_or_default()
            ),
        })
        .collect())
}

pub struct ProfileRow {
    pub id: i64,
    pub name: String,
    pub algorithm: String,
    pub members: String,
    pub cascade: bool,
}

#[derive(Template)]
#[template(path = "routing.html")]
struct RoutingPage {
    who: String,
    csrf: String,
    rows: Vec<ProfileRow>,
    gateways: Vec<GatewayChoice>,
    notice: Option<String>,
    error: Option<String>,
}

async fn routing_page(
    state: &AppState,
    session: &Session,
    notice: Option<String>,
    error: Option<String>,
) -> Response {
    let client = session.auth.client_no;
    let (profiles, gateways) = match (
        state.store.list_routing_profiles(client).await,
        gateway_choices(state, client).await,
    ) {
        (Ok(p), Ok(g)) => (p, g),
        (Err(e), _) => return api_error(e.into()),
        (_, Err(e)) => return api_error(e),
    };
    let rows = profiles
        .iter()
        .map(|r| {
            let v = billing::routing_view(r);
            let members = v["gateways"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .map(|m| match m["weight"].as_i64() {
                            Some(w) if r.algorithm == "weighted" => {
                                format!("#{} ({w}%)", m["gateway_id"])
                            }
                            _ => format!("#{}", m["gateway_id"]),
                        })
                        .collect::<Vec<_>>()
                        .join(" → ")
                })
                .unwrap_or_default();
            ProfileRow {
                id: r.id,
                name: r.name.clone(),
                algorithm: r.algorithm.replace('_', " "),
                members,
                cascade: r.cascade_on_soft_decline,
            }
        })
        .collect();
    let page = RoutingPage {
        who: session.key_label.clone(),
        csrf: session.csrf.clone(),
        rows,
        gateways,
        notice,
        error: error.clone(),
    };
    render_form(&page, error.is_some())
}

pub async fn routing_list(
    State(state): State<AppState>,
    session: Session,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let notice = (q.get("done").map(String::as_str) == Some("created"))
        .then(|| "Routing profile created.".to_string());
    routing_page(&state, &session, notice, None).await
}

/// The form lists every gateway with an "include" box, a position and a weight; the included
/// ones, by position, are the profile's members.
pub async fn routing_create(
    State(state): State<AppState>,
    session: Session,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    if !session.csrf_ok(&form) {
        return csrf_refused();
    }
    let mut members: Vec<(i64, i64, Value)> = Vec::new();
    for (k, _) in form.iter().filter(|(k, _)| k.starts_with("include_")) {
        let Ok(id) = k["include_".len()..].parse::<i64>() else {
            continue;
        };
        let field = |name: &str| {
            form.get(&format!("{name}_{id}"))
                .map(|s| s.trim())
                .unwrap_or("")
        };
        let position = field("position").parse::<i64>().unwrap_or(i64::MAX);
        let weight = match field("weight") {
            "" => 0,
            w => match w.parse::<u32>() {
                Ok(w) => w,
                Err(_) => {
                    let m = format!("weight_{id}: `{w}` is not a whole percent");
                    return routing_page(&state, &session, None, Some(m)).await;
                }
            },
        };
        members.push((position, id, json!({"gateway_id": id, "weight": weight})));
    }
    members.sort_by_key(|(p, id, _)| (*p, *id));
    let mut body = Map::new();
    body.insert(
        "name".into(),
        json!(form.get("name").map(|s| s.trim()).unwrap_or("")),
    );
    body.insert(
        "algorithm".into(),
        json!(form.get("algorithm").map(String::as_str).unwrap_or("")),
    );
    body.insert(
        "gateways".into(),
        Value::Array(members.into_iter().map(|(_, _, m)| m).collect()),
    );
    body.insert(
        "cascade_on_soft_decline".into(),
        json!(form.contains_key("cascade_on_soft_decline")),
    );
    match billing::create_routing_profile(&state, &session.auth, body).await {
        Ok(_) => Redirect::to("/console/routing_profiles?done=created").into_response(),
        Err(e @ (ApiError::InvalidRequest { .. } | ApiError::Unprocessable { .. })) => {
            routing_page(&state, &session, None, Some(e.to_string())).await
        }
        Err(e) => api_error(e),
    }
}

pub struct GroupRow {
    pub group_no: i64,
    pub name: String,
    pub client_group_id: String,
    pub gateway_id: i64,
    pub soft_descriptor: String,
    pub status: String,
}

#[derive(Template)]
#[template(path = "groups.html")]
struct GroupsPage {
    who: String,
    csrf: String,
    rows: Vec<GroupRow>,
    gateways: Vec<GatewayChoice>,
    notice: Option<String>,
    error: Option<String>,
}

async fn groups_page(
    state: &AppState,
    session: &Session,
    notice: Option<String>,
    error: Option<String>,
) -> Response {
    let client = session.auth.client_no;
    let page = PageRequest {
        limit: 100,
        starting_after: None,
    };
    let (list, gateways) = match (
        groups::list(state, &session.auth, None, None, page).await,
        gateway_choices(state, client).await,
    ) {
        (Ok(l), Ok(g)) => (l, g),
        (Err(e), _) | (_, Err(e)) => return api_error(e),
    };
    let rows = list
        .data
        .into_iter()
        .filter(|g| g.status.as_str() != "archived")
        .map(|g| GroupRow {
            group_no: g.group_no,
            name: g.name,
            client_group_id: g.client_group_id.unwrap_or_default(),
            gateway_id: g.gateway_id,
            soft_descriptor: g.soft_descriptor.unwrap_or_default(),
            status: g.status.as_str().to_string(),
        })
        .collect();
    let page = GroupsPage {
        who: session.key_label.clone(),
        csrf: session.csrf.clone(),
        rows,
        gateways,
        notice,
        error: error.clone(),
    };
    render_form(&page, error.is_some())
}

pub async fn groups_list(
    State(state): State<AppState>,
    session: Session,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let notice = match (q.get("done").map(String::as_str), q.get("no")) {
        (Some("created"), Some(no)) => Some(format!("Collection group #{no} created.")),
        (Some("archived"), _) => Some("Collection group archived.".to_string()),
        _ => None,
    };
    groups_page(&state, &session, notice, None).await
}

/// `inherit` leaves an override out; `on` / `off` set it.
fn tri_state(raw: Option<&String>) -> Option<bool> {
    match raw.map(String::as_str) {
        Some("on") => Some(true),
        Some("off") => Some(false),
        _ => None,
    }
}

pub async fn groups_create(
    State(state): State<AppState>,
    session: Session,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    if !session.csrf_ok(&form) {
        return csrf_refused();
    }
    let text = |k: &str| form.get(k).map(|s| s.trim()).filter(|s| !s.is_empty());
    let mut body = Map::new();
    body.insert("name".into(), json!(text("name").unwrap_or("")));
    match text("gateway_id").map(str::parse::<i64>) {
        Some(Ok(id)) => {
            body.insert("gateway_id".into(), json!(id));
        }
        _ => {
            let m = "gateway_id: choose the gateway this group's payments go through".to_string();
            return groups_page(&state, &session, None, Some(m)).await;
        }
    }
    if let Some(no) = text("group_no") {
        match no.parse::<i64>() {
            Ok(n) => {
                body.insert("group_no".into(), json!(n));
            }
            Err(_) => {
                let m = format!("group_no: `{no}` is not a number");
                return groups_page(&state, &session, None, Some(m)).await;
            }
        }
    }
    for key in ["client_group_id", "soft_descriptor"] {
        if let Some(v) = text(key) {
            body.insert(key.into(), json!(v));
        }
    }
    if let Some(url) = text("termination_url") {
        body.insert("three_ds".into(), json!({"termination_url": url}));
    }
    let mut fraud = Map::new();
    for key in [
        "send_fraud_scoring_request",
        "change_status_on_fraud_scoring_failure",
        "change_status_on_fraud_scoring_review",
    ] {
        if let Some(b) = tri_state(form.get(key)) {
            fraud.insert(key.into(), json!(b));
        }
    }
    for key in [
        "status_on_fraud_scoring_failure",
        "status_on_fraud_scoring_review",
    ] {
        if let Some(s) = text(key) {
            fraud.insert(key.into(), json!(s));
        }
    }
    if !fraud.is_empty() {
        body.insert("fraud".into(), Value::Object(fraud));
    }
    if let Some(lines) = text("webhook_secrets") {
        let secrets: Vec<&str> = lines
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect();
        body.insert("webhook_secrets".into(), json!(secrets));
    }
    match groups::create(&state, &session.auth, body).await {
        Ok(g) => Redirect::to(&format!(
            "/console/collection_groups?done=created&no={}",
            g.group_no
        ))
        .into_response(),
        Err(
            e @ (ApiError::InvalidRequest { .. }
            | ApiError::Unprocessable { .. }
            | ApiError::Conflict { .. }),
        ) => groups_page(&state, &session, None, Some(e.to_string())).await,
        Err(e) => api_error(e),
    }
}

pub async fn groups_archive(
    State(state): State<AppState>,
    session: Session,
    Path(no): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    if !session.csrf_ok(&form) {
        return csrf_refused();
    }
    let Ok(no) = no.parse::<i64>() else {
        return error_page(StatusCode::NOT_FOUND, "No such collection group.");
    };
    match groups::archive(&state, &session.auth, no).await {
        Ok(_) => Redirect::to("/console/collection_groups?done=archived").into_response(),
        Err(e) => api_error(e),
    }
}
