//! Creating and editing a gateway through the form (the Gateway List's green plus button and
//! each gateway's edit link). The form speaks to the same service functions as the API, so every
//! rule and error message is the API's.

use std::collections::HashMap;

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use kassa_api::service::gateways as svc;
use kassa_api::{ApiError, AppState};
use serde_json::Value;

use crate::gateway_form::{self, Input, GROUPS};
use crate::pages::{api_error, error_page};
use crate::session::{csrf_refused, render, Session};

pub struct FieldView {
    pub key: &'static str,
    pub label: &'static str,
    pub help: &'static str,
    pub kind: &'static str,
    pub value: String,
    pub options: Vec<(&'static str, &'static str, bool)>,
    pub error: Option<String>,
}

pub struct GroupView {
    pub id: &'static str,
    pub title: &'static str,
    pub fields: Vec<FieldView>,
}

#[derive(Template)]
#[template(path = "gateway_form.html")]
struct GatewayFormPage {
    who: String,
    csrf: String,
    heading: String,
    action: String,
    creating: bool,
    kind_label: &'static str,
    groups: Vec<GroupView>,
    error: Option<String>,
    stored_secret: Option<String>,
    stored_webhook_secrets: Vec<String>,
    webhook_url: String,
}

fn kind_label(v1: bool) -> &'static str {
    if v1 {
        "Stripe V1 (legacy)"
    } else {
        "Stripe V2"
    }
}

/// The groups with each field's value: from `value` (a string per field key).
fn groups(
    v1: bool,
    value: impl Fn(&gateway_form::Field) -> String,
    bad: Option<(&str, &str)>,
) -> Vec<GroupView> {
    GROUPS
        .iter()
        .map(|g| GroupView {
            id: g.id,
            title: g.title,
            fields: g
                .fields
                .iter()
                .filter(|f| v1 || !f.v1_only)
                .map(|f| {
                    let current = value(f);
                    let (kind, options) = match f.input {
                        Input::Text => ("text", Vec::new()),
                        Input::Secret => ("secret", Vec::new()),
                        Input::Check => ("check", Vec::new()),
                        Input::Money | Input::Percent => ("decimal", Vec::new()),
                        Input::Number => ("number", Vec::new()),
                        Input::SecretLines => ("lines", Vec::new()),
                        Input::Select(opts) => (
                            "select",
                            opts.iter().map(|(v, l)| (*v, *l, *v == current)).collect(),
                        ),
                    };
                    FieldView {
                        key: f.key,
                        label: f.label,
                        help: f.help,
                        kind,
                        value: current,
                        options,
                        error: bad.filter(|(k, _)| *k == f.key).map(|(_, m)| m.to_string()),
                    }
                })
                .collect(),
        })
        .collect()
}

fn webhook_url(state: &AppState, session: &Session) -> String {
    format!(
        "{}/webhooks/stripe/{}",
        state.config.public_url.trim_end_matches('/'),
        session.auth.client_no
    )
}

/// The create page: the type chooser (Stripe V1 is legacy and not offered) and the blank form.
pub async fn new_form(State(state): State<AppState>, session: Session) -> Response {
    let defaults = serde_json::json!({"status": "active", "duplicate_window_minutes": 5,
        "limits": {"currency": "usd"}, "rate_limits": {"requests_per_second": 25, "max_concurrency": 10}});
    render(&GatewayFormPage {
        who: session.key_label.clone(),
        csrf: session.csrf.clone(),
        heading: "New gateway".into(),
        action: "/console/gateways/new".into(),
        creating: true,
        kind_label: kind_label(false),
        groups: groups(false, |f| gateway_form::value_of(&defaults, f), None),
        error: None,
        stored_secret: None,
        stored_webhook_secrets: Vec::new(),
        webhook_url: webhook_url(&state, &session),
    })
}

/// Shows the submitted form again with the error, keeping what was typed (secrets excepted).
fn form_again(
    state: &AppState,
    session: &Session,
    form: &HashMap<String, String>,
    existing: Option<&Value>,
    v1: bool,
    key: Option<&str>,
    message: &str,
) -> Response {
    let creating = existing.is_none();
    let value = |f: &gateway_form::Field| match f.input {
        Input::Secret | Input::SecretLines => String::new(),
        _ => form.get(f.key).cloned().unwrap_or_default(),
    };
    let page = GatewayFormPage {
        who: session.key_label.clone(),
        csrf: session.csrf.clone(),
        heading: if creating {
            "New gateway".into()
        } else {
            format!(
                "Edit gateway #{}",
                existing.and_then(|g| g["id"].as_i64()).unwrap_or(0)
            )
        },
        action: match existing.and_then(|g| g["id"].as_i64()) {
            Some(id) => format!("/console/gateways/{id}/edit"),
            None => "/console/gateways/new".into(),
        },
        creating,
        kind_label: kind_label(v1),
        groups: groups(v1, value, key.map(|k| (k, message))),
        error: Some(message.to_string()),
        stored_secret: existing
            .and_then(|g| g["secret_key"].as_str())
            .map(str::to_string),
        stored_webhook_secrets: stored_webhook_secrets(existing),
        webhook_url: webhook_url(state, session),
    };
    (StatusCode::BAD_REQUEST, render(&page)).into_response()
}

fn stored_webhook_secrets(g: Option<&Value>) -> Vec<String> {
    g.and_then(|g| g["webhook_secrets"].as_array())
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

fn refused(
    state: &AppState,
    session: &Session,
    form: &HashMap<String, String>,
    existing: Option<&Value>,
    v1: bool,
    e: ApiError,
) -> Response {
    match e {
        ApiError::InvalidRequest { .. } | ApiError::Unprocessable { .. } => {
            let key = e.param().map(str::to_string);
            form_again(
                state,
                session,
                form,
                existing,
                v1,
                key.as_deref(),
                &e.to_string(),
            )
        }
        other => api_error(other),
    }
}

pub async fn create(
    State(state): State<AppState>,
    session: Session,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    if !session.csrf_ok(&form) {
        return csrf_refused();
    }
    // Only Stripe V2 is offered; the service refuses a new V1 gateway with its own message.
    let kind = form.get("type").map(String::as_str).unwrap_or("stripe_v2");
    let mut body = match gateway_form::body_from(&form, false, false) {
        Ok(b) => b,
        Err(e) => {
            return form_again(
                &state,
                &session,
                &form,
                None,
                false,
                Some(e.key),
                &e.message,
            )
        }
    };
    body.insert("type".into(), Value::String(kind.into()));
    match svc::create(&state, &session.auth, body).await {
        Ok(g) => {
            Redirect::to(&format!("/console/gateways?done=created&id={}", g.id)).into_response()
        }
        Err(e) => refused(&state, &session, &form, None, false, e),
    }
}

async fn load(state: &AppState, session: &Session, id: &str) -> Result<Value, Response> {
    let Ok(id) = id.parse::<i64>() else {
        return Err(error_page(StatusCode::NOT_FOUND, "No such gateway."));
    };
    match svc::get(state, &session.auth, id).await {
        Ok(g) => serde_json::to_value(&g).map_err(|e| api_error(ApiError::internal(e))),
        Err(e) => Err(api_error(e)),
    }
}

pub async fn edit_form(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
) -> Response {
    let g = match load(&state, &session, &id).await {
        Ok(g) => g,
        Err(r) => return r,
    };
    let v1 = g["type"] == "stripe_v1";
    render(&GatewayFormPage {
        who: session.key_label.clone(),
        csrf: session.csrf.clone(),
        heading: format!("Edit gateway #{}", g["id"]),
        action: format!("/console/gateways/{}/edit", g["id"]),
        creating: false,
        kind_label: kind_label(v1),
        groups: groups(v1, |f| gateway_form::value_of(&g, f), None),
        error: None,
        stored_secret: g["secret_key"].as_str().map(str::to_string),
        stored_webhook_secrets: stored_webhook_secrets(Some(&g)),
        webhook_url: webhook_url(&state, &session),
    })
}

pub async fn update(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    if !session.csrf_ok(&form) {
        return csrf_refused();
    }
    let g = match load(&state, &session, &id).await {
        Ok(g) => g,
        Err(r) => return r,
    };
    let v1 = g["type"] == "stripe_v1";
    let body = match gateway_form::body_from(&form, v1, true) {
        Ok(b) => b,
        Err(e) => {
            return form_again(
                &state,
                &session,
                &form,
                Some(&g),
                v1,
                Some(e.key),
                &e.message,
            )
        }
    };
    let id = g["id"].as_i64().unwrap_or(0);
    match svc::update(&state, &session.auth, id, body).await {
        Ok(g) => Redirect::to(&format!("/console/gateways?done=saved&id={}", g.id)).into_response(),
        Err(e) => refused(&state, &session, &form, Some(&g), v1, e),
    }
}
