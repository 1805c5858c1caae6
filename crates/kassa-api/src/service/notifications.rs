//! Notifications to the client's own endpoints: Kassa's events, signed in the Standard Webhooks
//! form, delivered from a durable queue with the retry schedule of `kassa_domain::notify`.

use kassa_domain::notify::{next_attempt, EVENT_TYPES};
use kassa_storage::{EndpointRecord, NotificationRecord, StorageError};
use serde_json::{json, Map, Value};

use super::{take, take_string, Patch};
use crate::auth::Auth;
use crate::views::{timestamp, DeliveryView, EndpointView};
use crate::{ApiError, AppState};

pub const PURPOSE: &str = "notification_endpoint.secret";

fn not_found(e: StorageError) -> ApiError {
    match e {
        StorageError::NotFound => ApiError::NotFound("notification endpoint"),
        other => other.into(),
    }
}

fn view(e: &EndpointRecord, secret: Option<String>) -> EndpointView {
    EndpointView {
        object: "notification_endpoint",
        id: e.id,
        url: e.url.clone(),
        enabled_events: serde_json::from_str(&e.enabled_events).unwrap_or_default(),
        description: e.description.clone(),
        status: e.status.clone(),
        secret,
        created_at: timestamp(e.created_at),
        updated_at: timestamp(e.updated_at),
    }
}

fn parse_events(v: Value) -> Result<String, ApiError> {
    let list: Vec<String> = serde_json::from_value(v).map_err(|_| {
        ApiError::invalid(
            "enabled_events",
            "enabled_events: must be a list of event types",
        )
    })?;
    if list.is_empty() {
        return Err(ApiError::invalid(
            "enabled_events",
            "enabled_events: must name at least one event type, or \"*\"",
        ));
    }
    for (i, e) in list.iter().enumerate() {
        if e != "*" && !EVENT_TYPES.contains(&e.as_str()) {
            return Err(ApiError::invalid(
                format!("enabled_events[{i}]"),
                format!(
                    "enabled_events[{i}]: `{e}` is not one of {}",
                    EVENT_TYPES.join(", ")
                ),
            ));
        }
    }
    serde_json::to_string(&list).map_err(ApiError::internal)
}

fn check_url(url: &str) -> Result<(), ApiError> {
    kassa_domain::text::check_api_base_url(url).map_err(|e| e.under("url"))?;
    Ok(())
}

fn rest_is_empty(body: &Map<String, Value>) -> Result<(), ApiError> {
    match body.keys().next() {
        Some(k) => Err(ApiError::InvalidRequest {
            param: Some(k.clone()),
            code: "parameter_unknown",
            message: format!("unknown field `{k}`"),
        }),
        None => Ok(()),
    }
}

pub async fn create(
    state: &AppState,
    auth: &Auth,
    mut body: Map<String, Value>,
) -> Result<EndpointView, ApiError> {
    let url = match take_string(&mut body, "url")? {
        Patch::Set(u) => u,
        _ => {
            return Err(ApiError::InvalidRequest {
                param: Some("url".into()),
                code: "parameter_missing",
                message: "url: is required".into(),
            })
        }
    };
    check_url(&url)?;
    let events = parse_events(take(&mut body, "enabled_events").unwrap_or_else(|| json!(["*"])))?;
    let description = match take_string(&mut body, "description")? {
        Patch::Set(d) => Some(d),
        _ => None,
    };
    rest_is_empty(&body)?;
    let secret = kassa_secrets::standard_webhooks::new_endpoint_secret()?;
    let rec = EndpointRecord {
        client_no: auth.client_no,
        url,
        enabled_events: events,
        description,
        secret_sealed: state.master_key.seal(PURPOSE, &secret)?,
        status: "active".into(),
        ..Default::default()
    };
    let saved = state.store.insert_endpoint(&rec).await?;
    // The signing secret is shown this once.
    Ok(view(&saved, Some(secret)))
}

pub async fn list(state: &AppState, auth: &Auth) -> Result<Vec<EndpointView>, ApiError> {
    Ok(state
        .store
        .list_endpoints(auth.client_no)
        .await?
        .iter()
        .map(|e| view(e, None))
        .collect())
}

pub async fn get(state: &AppState, auth: &Auth, id: i64) -> Result<EndpointView, ApiError> {
    let e = state
        .store
        .get_endpoint(auth.client_no, id)
        .await
        .map_err(not_found)?;
    if e.status == "deleted" {
        return Err(ApiError::NotFound("notification endpoint"));
    }
    Ok(view(&e, None))
}

pub async fn update(
    state: &AppState,
    auth: &Auth,
    id: i64,
    mut body: Map<String, Value>,
) -> Result<EndpointView, ApiError> {
    let mut e = state
        .store
        .get_endpoint(auth.client_no, id)
        .await
        .map_err(not_found)?;
    if e.status == "deleted" {
        return Err(ApiError::NotFound("notification endpoint"));
    }
    if let Patch::Set(u) = take_string(&mut body, "url")? {
        check_url(&u)?;
        e.url = u;
    }
    if let Some(v) = take(&mut body, "enabled_events") {
        e.enabled_events = parse_events(v)?;
    }
    match take_string(&mut body, "description")? {
        Patch::Set(d) => e.description = Some(d),
        Patch::Clear => e.description = None,
        Patch::Keep => {}
    }
    match take_string(&mut body, "status")? {
        Patch::Set(s) if s == "active" || s == "disabled" => e.status = s,
        Patch::Keep => {}
        _ => {
            return Err(ApiError::invalid(
                "status",
                "status: must be active or disabled",
            ))
        }
    }
    let rotate = super::take_bool(&mut body, "rotate_secret")?.unwrap_or(false);
    rest_is_empty(&body)?;
    let mut shown = None;
    if rotate {
        let secret = kassa_secrets::standard_webhooks::new_endpoint_secret()?;
        e.secret_sealed = state.master_key.seal(PURPOSE, &secret)?;
        shown = Some(secret);
    }
    let saved = state.store.update_endpoint(&e).await.map_err(not_found)?;
    Ok(view(&saved, shown))
}

pub async fn delete(state: &AppState, auth: &Auth, id: i64) -> Result<EndpointView, ApiError> {
    let mut e = state
        .store
        .get_endpoint(auth.client_no, id)
        .await
        .map_err(not_found)?;
    e.status = "deleted".into();
    let saved = state.store.update_endpoint(&e).await.map_err(not_found)?;
    Ok(view(&saved, None))
}

pub async fn deliveries(
    state: &AppState,
    auth: &Auth,
    id: i64,
) -> Result<Vec<DeliveryView>, ApiError> {
    state
        .store
        .get_endpoint(auth.client_no, id)
        .await
        .map_err(not_found)?;
    Ok(state
        .store
        .list_notifications(auth.client_no, id, 100)
        .await?
        .into_iter()
        .map(|n| DeliveryView {
            id: n.id,
            event_type: n.event_type,
            next_attempt_at: (n.status == "pending").then(|| timestamp(n.next_attempt_at)),
            status: n.status,
            attempts: n.attempts,
            last_status: n.last_status,
            last_error: n.last_error,
            created_at: timestamp(n.created_at),
            delivered_at: n.delivered_at.map(timestamp),
        })
        .collect())
}

/// Queues `event_type` with `data` for every active endpoint of the client that takes it. A
/// failure to queue is logged, never turned into a failure of the operation that caused it.
pub async fn notify(state: &AppState, client_no: i64, event_type: &str, data: Value) {
    if let Err(e) = try_notify(state, client_no, event_type, data).await {
        tracing::warn!(client_no, event_type, error = %e, "could not queue a notification");
    }
}

async fn try_notify(
    state: &AppState,
    client_no: i64,
    event_type: &str,
    data: Value,
) -> Result<(), ApiError> {
    for ep in state.store.list_endpoints_cached(client_no).await? {
        let events: Vec<String> = serde_json::from_str(&ep.enabled_events).unwrap_or_default();
        if ep.status != "active" || !events.iter().any(|e| e == "*" || e == event_type) {
            continue;
        }
        let payload = json!({"type": event_type, "timestamp": timestamp(kassa_storage::now_millis()), "data": data});
        let n = NotificationRecord {
            id: kassa_secrets::new_id("msg_")?,
            client_no,
            endpoint_id: ep.id,
            event_type: event_type.to_string(),
            payload: payload.to_string(),
            ..Default::default()
        };
        state.store.insert_notification(&n).await?;
    }
    Ok(())
}

/// One delivery pass over due notifications; returns how many were attempted.
pub async fn deliver_due(state: &AppState) -> Result<usize, ApiError> {
    let now = kassa_storage::now_millis();
    let due = state
        .store
        .claim_due_notifications(now, now - 60_000, 50)
        .await?;
    let n = due.len();
    for msg in due {
        let ep = match state
            .store
            .get_endpoint(msg.client_no, msg.endpoint_id)
            .await
        {
            Ok(ep) if ep.status == "active" => ep,
            _ => {
                state
                    .store
                    .record_notification_attempt(
                        &msg.id,
                        false,
                        None,
                        None,
                        Some("the endpoint was disabled or deleted"),
                    )
                    .await?;
                continue;
            }
        };
        let secret = state.master_key.open(PURPOSE, &ep.secret_sealed)?;
        let ts = now / 1000;
        let signature =
            kassa_secrets::standard_webhooks::sign(&secret, &msg.id, ts, msg.payload.as_bytes())?;
        let sent = state
            .http
            .post(&ep.url)
            .timeout(std::time::Duration::from_secs(10))
            .header("content-type", "application/json")
            .header("webhook-id", &msg.id)
            .header("webhook-timestamp", ts.to_string())
            .header("webhook-signature", signature)
            .body(msg.payload.clone())
            .send()
            .await;
        let attempts = usize::try_from(msg.attempts + 1).unwrap_or(usize::MAX);
        match sent {
            Ok(r) if r.status().is_success() => {
                state
                    .store
                    .record_notification_attempt(
                        &msg.id,
                        true,
                        None,
                        Some(i64::from(r.status().as_u16())),
                        None,
                    )
                    .await?
            }
            Ok(r) => {
                let status = i64::from(r.status().as_u16());
                state
                    .store
                    .record_notification_attempt(
                        &msg.id,
                        false,
                        next_attempt(now, attempts),
                        Some(status),
                        Some(&format!("HTTP {status}")),
                    )
                    .await?
            }
            Err(e) => {
                state
                    .store
                    .record_notification_attempt(
                        &msg.id,
                        false,
                        next_attempt(now, attempts),
                        None,
                        Some(&e.to_string()),
                    )
                    .await?
            }
        }
    }
    Ok(n)
}

pub async fn run_forever(state: AppState, every: std::time::Duration) {
    let mut tick = tokio::time::interval(every);
    loop {
        tick.tick().await;
        if let Err(e) = deliver_due(&state).await {
            tracing::warn!(error = %e, "notification delivery pass failed");
        }
    }
}
