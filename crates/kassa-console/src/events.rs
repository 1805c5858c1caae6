//! The Stripe webhook event log: every event received, how it was verified and what it did;
//! failed ones can be retried.

use std::collections::HashMap;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use kassa_api::AppState;
use kassa_storage::{PageRequest, StorageError};

use crate::pages::{api_error, error_page};
use crate::session::{csrf_refused, render, Session};

pub struct Row {
    pub id: i64,
    pub received: String,
    pub event_id: String,
    pub event_type: String,
    pub gateway: String,
    pub status: String,
    pub attempts: i64,
    pub verification: String,
    pub note: String,
    pub failed: bool,
}

#[derive(Template)]
#[template(path = "events.html")]
struct EventsPage {
    who: String,
    csrf: String,
    status: String,
    event_type: String,
    notice: Option<String>,
    rows: Vec<Row>,
}

const STATUSES: &[&str] = &[
    "received", "applying", "applied", "ignored", "failed", "rejected",
];

impl EventsPage {
    fn statuses(&self) -> &'static [&'static str] {
        STATUSES
    }
}

pub async fn list(
    State(state): State<AppState>,
    session: Session,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let status = q.get("status").cloned().unwrap_or_default();
    let event_type = q.get("type").cloned().unwrap_or_default();
    if !status.is_empty() && !STATUSES.contains(&status.as_str()) {
        return error_page(
            StatusCode::BAD_REQUEST,
            "status: not a webhook event status",
        );
    }
    let page = PageRequest {
        limit: 100,
        starting_after: None,
    };
    let events = match state
        .store
        .list_webhook_events(
            session.auth.client_no,
            Some(status.as_str()).filter(|s| !s.is_empty()),
            Some(event_type.as_str()).filter(|s| !s.is_empty()),
            page,
        )
        .await
    {
        Ok(p) => p.data,
        Err(e) => return api_error(e.into()),
    };
    let rows = events
        .into_iter()
        .map(|e| Row {
            id: e.id,
            received: kassa_api::views::timestamp(e.received_at)
                .get(..19)
                .unwrap_or_default()
                .replace('T', " "),
            event_id: e.event_id,
            event_type: e.event_type,
            gateway: e.gateway_id.map(|g| format!("#{g}")).unwrap_or_default(),
            failed: e.status == "failed",
            status: e.status,
            attempts: e.attempts,
            verification: e.verification,
            note: e
                .error
                .or(e.result)
                .unwrap_or_default()
                .chars()
                .take(160)
                .collect(),
        })
        .collect();
    let notice = (q.get("done").map(String::as_str) == Some("retried"))
        .then(|| "The event was applied again.".to_string());
    render(&EventsPage {
        who: session.key_label.clone(),
        csrf: session.csrf.clone(),
        status,
        event_type,
        notice,
        rows,
    })
}

/// Applies a failed event again (as `POST /v1/webhook_events/{id}/retry`).
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
        return error_page(StatusCode::NOT_FOUND, "No such event.");
    };
    match state
        .store
        .get_webhook_event(session.auth.client_no, id)
        .await
    {
        Ok(e) if e.status == "failed" => {}
        Ok(e) => {
            return error_page(
                StatusCode::CONFLICT,
                &format!("Only a failed event is retried; this one is {}.", e.status),
            )
        }
        Err(StorageError::NotFound) => return error_page(StatusCode::NOT_FOUND, "No such event."),
        Err(e) => return api_error(e.into()),
    }
    match kassa_api::service::webhooks::apply(&state, id, true).await {
        Ok(()) => Redirect::to("/console/webhook_events?done=retried").into_response(),
        Err(e) => api_error(e),
    }
}
