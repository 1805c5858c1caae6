//! Autoresponders: the templates (edit subject, body, on/off; the tokens listed; a preview with
//! sample data) and the outbox with each email's status, attempts and last error, and a retry.

use std::collections::HashMap;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::Form;
use kassa_api::service::emails::{self as svc, OutboxView, TemplateView, TokenView};
use kassa_api::{ApiError, AppState};
use kassa_storage::PageRequest;
use serde_json::{Map, Value};

use crate::pages::{api_error, error_page};
use crate::session::{csrf_refused, render, Session};

const STATUSES: &[&str] = &["queued", "sending", "sent", "failed"];
const KINDS: &[&str] = &[
    "order_confirmation",
    "rebill_receipt",
    "decline_notice",
    "refund",
];

#[derive(Template)]
#[template(path = "emails.html")]
struct EmailsPage {
    who: String,
    csrf: String,
    notice: Option<String>,
    /// Where emails go, or `None` when SMTP is not configured.
    smtp: Option<String>,
    templates: Vec<TemplateView>,
    status: String,
    kind: String,
    outbox: Vec<OutboxView>,
}

impl EmailsPage {
    fn statuses(&self) -> &'static [&'static str] {
        STATUSES
    }

    fn kinds(&self) -> &'static [&'static str] {
        KINDS
    }
}

#[derive(Template)]
#[template(path = "email_template.html")]
struct EditPage {
    who: String,
    csrf: String,
    kind: &'static str,
    label: &'static str,
    subject: String,
    body: String,
    enabled: bool,
    error: Option<String>,
    /// `{{name}}` and what it is filled with.
    tokens: Vec<(String, &'static str)>,
    preview_subject: String,
    preview_body: String,
}

fn when(t: &str) -> String {
    t.get(..19).unwrap_or_default().replace('T', " ")
}

pub async fn list(
    State(state): State<AppState>,
    session: Session,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let status = q.get("status").cloned().unwrap_or_default();
    let kind = q.get("kind").cloned().unwrap_or_default();
    let templates = match svc::list_templates(&state, &session.auth).await {
        Ok(t) => t,
        Err(e) => return api_error(e),
    };
    let page = PageRequest {
        limit: 100,
        starting_after: None,
    };
    let filter = |s: &String| Some(s.clone()).filter(|s| !s.is_empty());
    let (st, k) = (filter(&status), filter(&kind));
    let outbox =
        match svc::list_outbox(&state, &session.auth, st.as_deref(), k.as_deref(), page).await {
            Ok(p) => p.data,
            Err(e) => return api_error(e),
        };
    let notice = match q.get("done").map(String::as_str) {
        Some("retried") => Some("The email is queued again.".to_string()),
        Some("saved") => Some("The template is saved.".to_string()),
        _ => None,
    };
    render(&EmailsPage {
        who: session.key_label.clone(),
        csrf: session.csrf.clone(),
        notice,
        smtp: state
            .config
            .smtp
            .as_ref()
            .map(|c| format!("{} as {}", c.redacted_url(), c.from_header)),
        templates,
        status,
        kind,
        outbox: outbox
            .into_iter()
            .map(|mut e| {
                e.created_at = when(&e.created_at);
                e
            })
            .collect(),
    })
}

fn edit_page(session: &Session, t: &TemplateView, preview: (String, String)) -> EditPage {
    EditPage {
        who: session.key_label.clone(),
        csrf: session.csrf.clone(),
        kind: t.kind,
        label: t.label,
        subject: t.subject.clone(),
        body: t.body.clone(),
        enabled: t.enabled,
        error: None,
        tokens: svc::tokens()
            .into_iter()
            .map(|t: TokenView| (format!("{{{{{}}}}}", t.name), t.description))
            .collect(),
        preview_subject: preview.0,
        preview_body: preview.1,
    }
}

async fn preview_of(
    state: &AppState,
    session: &Session,
    kind: kassa_domain::email::Kind,
) -> (String, String) {
    match svc::preview(state, &session.auth, kind, Map::new()).await {
        Ok(p) => (p.subject, p.body),
        Err(_) => (String::new(), String::new()),
    }
}

pub async fn edit(
    State(state): State<AppState>,
    session: Session,
    Path(kind): Path<String>,
) -> Response {
    let Ok(kind) = svc::kind(&kind) else {
        return error_page(StatusCode::NOT_FOUND, "No such email template.");
    };
    let t = match svc::get_template(&state, &session.auth, kind).await {
        Ok(t) => t,
        Err(e) => return api_error(e),
    };
    let preview = preview_of(&state, &session, kind).await;
    render(&edit_page(&session, &t, preview))
}

/// Saves the form (as `PUT /v1/email_templates/{kind}`); a refusal shows the form again with the
/// message and what was typed.
pub async fn save(
    State(state): State<AppState>,
    session: Session,
    Path(kind): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    if !session.csrf_ok(&form) {
        return csrf_refused();
    }
    let Ok(kind) = svc::kind(&kind) else {
        return error_page(StatusCode::NOT_FOUND, "No such email template.");
    };
    let field = |k: &str| form.get(k).cloned().unwrap_or_default();
    // Browsers send CRLF line ends from a textarea; the template keeps LF.
    let body_text = field("body").replace("\r\n", "\n");
    let mut body = Map::new();
    body.insert("subject".into(), Value::String(field("subject")));
    body.insert("body".into(), Value::String(body_text.clone()));
    body.insert("enabled".into(), Value::Bool(form.contains_key("enabled")));
    match svc::put_template(&state, &session.auth, kind, body).await {
        Ok(_) => Redirect::to("/console/emails?done=saved").into_response(),
        Err(e @ ApiError::InvalidRequest { .. }) => {
            let current = match svc::get_template(&state, &session.auth, kind).await {
                Ok(t) => t,
                Err(e) => return api_error(e),
            };
            let preview = preview_of(&state, &session, kind).await;
            let mut page = edit_page(&session, &current, preview);
            page.subject = field("subject");
            page.body = body_text;
            page.enabled = form.contains_key("enabled");
            page.error = Some(e.to_string());
            match page.render() {
                Ok(html) => (StatusCode::BAD_REQUEST, Html(html)).into_response(),
                Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
            }
        }
        Err(e) => api_error(e),
    }
}

/// Puts a failed or waiting email back in the queue (as `POST /v1/email_outbox/{id}/retry`).
pub async fn retry(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    if !session.csrf_ok(&form) {
        return csrf_refused();
    }
    let Ok(id) = id.parse::<i64>() else {
        return error_page(StatusCode::NOT_FOUND, "No such email.");
    };
    match svc::retry(&state, &session.auth, id).await {
        Ok(_) => Redirect::to("/console/emails?done=retried").into_response(),
        Err(e) => api_error(e),
    }
}
