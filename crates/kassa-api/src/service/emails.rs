//! Autoresponder templates and the email outbox, as the API and the console see them.

use kassa_domain::email::{self, Kind, Template, Values, TOKENS};
use kassa_domain::gateway::GatewaySettings;
use kassa_storage::{EmailTemplateRecord, OutboxRecord, Page, PageRequest, StorageError};
use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;

use crate::auth::Auth;
use crate::views::timestamp;
use crate::{ApiError, AppState};

/// One token a template may use.
#[derive(Serialize, ToSchema, Clone)]
pub struct TokenView {
    /// Written `{{name}}` in a template.
    pub name: &'static str,
    pub description: &'static str,
}

/// An autoresponder template (a kind never edited shows its built-in default).
#[derive(Serialize, ToSchema, Clone)]
pub struct TemplateView {
    /// Always `email_template`.
    pub object: &'static str,
    /// `order_confirmation`, `rebill_receipt`, `decline_notice` or `refund`.
    pub kind: &'static str,
    pub label: &'static str,
    pub subject: String,
    /// Plain text with `{{token}}`s.
    pub body: String,
    /// Off: this kind is never sent for this client.
    pub enabled: bool,
    /// Saved by the client (false: the built-in default).
    pub customized: bool,
    /// Receipts are sent only when Stripe does not send its own (`disable_email_receipt`); decline
    /// notices always.
    pub receipt: bool,
    pub updated_at: Option<String>,
    pub tokens: Vec<TokenView>,
}

/// An email in the outbox.
#[derive(Serialize, ToSchema, Clone)]
pub struct OutboxView {
    /// Always `email`.
    pub object: &'static str,
    pub id: i64,
    pub kind: String,
    /// `queued`, `sending`, `sent` or `failed`.
    pub status: String,
    pub to: String,
    pub reply_to: Option<String>,
    pub subject: String,
    pub body: String,
    /// The event: a payment id, or a refund's transaction id.
    pub source: String,
    pub payment_id: Option<String>,
    pub acct_no: Option<i64>,
    pub attempts: i64,
    /// When the next try is due (queued emails).
    pub next_attempt_at: Option<String>,
    pub last_error: Option<String>,
    pub created_at: String,
    pub sent_at: Option<String>,
}

/// A template rendered with sample data.
#[derive(Serialize, ToSchema)]
pub struct PreviewView {
    /// Always `email_preview`.
    pub object: &'static str,
    pub kind: &'static str,
    pub subject: String,
    pub body: String,
}

pub fn tokens() -> Vec<TokenView> {
    TOKENS
        .iter()
        .map(|(name, description)| TokenView { name, description })
        .collect()
}

fn template_view(kind: Kind, saved: Option<&EmailTemplateRecord>) -> TemplateView {
    let t = match saved {
        Some(r) => Template {
            subject: r.subject.clone(),
            body: r.body.clone(),
            enabled: r.enabled,
        },
        None => Template::default_for(kind),
    };
    TemplateView {
        object: "email_template",
        kind: kind.as_str(),
        label: kind.label(),
        subject: t.subject,
        body: t.body,
        enabled: t.enabled,
        customized: saved.is_some(),
        receipt: kind.is_receipt(),
        updated_at: saved.map(|r| timestamp(r.updated_at)),
        tokens: tokens(),
    }
}

pub fn outbox_view(e: OutboxRecord) -> OutboxView {
    OutboxView {
        object: "email",
        id: e.id,
        next_attempt_at: (e.status == "queued").then(|| timestamp(e.next_attempt_at)),
        kind: e.kind,
        status: e.status,
        to: e.to_address,
        reply_to: e.reply_to,
        subject: e.subject,
        body: e.body,
        source: e.source_ref,
        payment_id: e.payment_id,
        acct_no: e.acct_no,
        attempts: e.attempts,
        last_error: e.last_error,
        created_at: timestamp(e.created_at),
        sent_at: e.sent_at.map(timestamp),
    }
}

/// A kind from the path; anything else is not found.
pub fn kind(raw: &str) -> Result<Kind, ApiError> {
    Kind::parse(raw).ok_or(ApiError::NotFound("email template"))
}

pub async fn list_templates(state: &AppState, auth: &Auth) -> Result<Vec<TemplateView>, ApiError> {
    let saved = state.store.list_email_templates(auth.client_no).await?;
    Ok(Kind::ALL
        .into_iter()
        .map(|k| template_view(k, saved.iter().find(|r| r.kind == k.as_str())))
        .collect())
}

pub async fn get_template(
    state: &AppState,
    auth: &Auth,
    kind: Kind,
) -> Result<TemplateView, ApiError> {
    let saved = state
        .store
        .get_email_template(auth.client_no, kind.as_str())
        .await?;
    Ok(template_view(kind, saved.as_ref()))
}

fn take_text(body: &mut Map<String, Value>, key: &str) -> Result<Option<String>, ApiError> {
    match body.remove(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(ApiError::invalid(key, format!("{key}: must be a string"))),
    }
}

fn no_more(body: &Map<String, Value>) -> Result<(), ApiError> {
    match body.keys().next() {
        Some(k) => Err(ApiError::InvalidRequest {
            param: Some(k.clone()),
            code: "parameter_unknown",
            message: format!("unknown field `{k}`"),
        }),
        None => Ok(()),
    }
}

/// The template a `PUT` or a preview describes: fields left out keep the current ones.
fn template_from(
    current: &TemplateView,
    mut body: Map<String, Value>,
    allow: &[&str],
) -> Result<(Template, Map<String, Value>), ApiError> {
    let subject = take_text(&mut body, "subject")?.unwrap_or_else(|| current.subject.clone());
    let text = take_text(&mut body, "body")?.unwrap_or_else(|| current.body.clone());
    let enabled = super::take_bool(&mut body, "enabled")?.unwrap_or(current.enabled);
    let mut rest = Map::new();
    for k in allow {
        if let Some(v) = body.remove(*k) {
            rest.insert((*k).to_string(), v);
        }
    }
    no_more(&body)?;
    let t = Template {
        subject,
        body: text,
        enabled,
    };
    t.validate()?;
    Ok((t, rest))
}

/// `PUT /v1/email_templates/{kind}`: `subject`, `body`, `enabled`; checked whole before saving.
pub async fn put_template(
    state: &AppState,
    auth: &Auth,
    kind: Kind,
    body: Map<String, Value>,
) -> Result<TemplateView, ApiError> {
    let current = get_template(state, auth, kind).await?;
    let (t, _) = template_from(&current, body, &[])?;
    let saved = state
        .store
        .put_email_template(&EmailTemplateRecord {
            client_no: auth.client_no,
            kind: kind.as_str().into(),
            subject: t.subject,
            body: t.body,
            enabled: t.enabled,
            updated_at: 0,
        })
        .await?;
    Ok(template_view(kind, Some(&saved)))
}

/// `POST /v1/email_templates/{kind}/preview`: the saved template, or the `subject`/`body` given,
/// rendered with sample data — and a gateway's customer service and descriptor with `gateway_id`.
pub async fn preview(
    state: &AppState,
    auth: &Auth,
    kind: Kind,
    body: Map<String, Value>,
) -> Result<PreviewView, ApiError> {
    let current = get_template(state, auth, kind).await?;
    let (t, rest) = template_from(&current, body, &["gateway_id"])?;
    let mut values = Values::sample();
    if let Some(v) = rest.get("gateway_id") {
        let id = v
            .as_i64()
            .ok_or_else(|| ApiError::invalid("gateway_id", "gateway_id: must be a whole number"))?;
        let gw = state
            .store
            .get_gateway(auth.client_no, id)
            .await
            .map_err(|e| match e {
                StorageError::NotFound => {
                    ApiError::invalid("gateway_id", format!("gateway_id: no gateway {id}"))
                }
                other => other.into(),
            })?;
        let s: GatewaySettings = serde_json::from_str(&gw.settings).map_err(ApiError::internal)?;
        let cs = &s.customer_service;
        values
            .set("cs_phone", cs.phone.clone().unwrap_or_default())
            .set("cs_email", cs.email.clone().unwrap_or_default())
            .set("cs_url", cs.url.clone().unwrap_or_default())
            .set("descriptor", s.descriptor.clone().unwrap_or_default());
    }
    let r = email::render(&t, &values);
    Ok(PreviewView {
        object: "email_preview",
        kind: kind.as_str(),
        subject: r.subject,
        body: r.body,
    })
}

const STATUSES: &[&str] = &["queued", "sending", "sent", "failed"];

/// `GET /v1/email_outbox` with `status` and `kind` filters.
pub async fn list_outbox(
    state: &AppState,
    auth: &Auth,
    status: Option<&str>,
    kind: Option<&str>,
    page: PageRequest,
) -> Result<Page<OutboxView>, ApiError> {
    if let Some(s) = status.filter(|s| !STATUSES.contains(s)) {
        return Err(ApiError::invalid(
            "status",
            format!("status: `{s}` is not one of {}", STATUSES.join(", ")),
        ));
    }
    if let Some(k) = kind.filter(|k| Kind::parse(k).is_none()) {
        let all: Vec<&str> = Kind::ALL.iter().map(|k| k.as_str()).collect();
        return Err(ApiError::invalid(
            "kind",
            format!("kind: `{k}` is not one of {}", all.join(", ")),
        ));
    }
    let p = state
        .store
        .list_outbox(auth.client_no, status, kind, page)
        .await?;
    Ok(Page {
        data: p.data.into_iter().map(outbox_view).collect(),
        has_more: p.has_more,
    })
}

fn outbox_missing(e: StorageError) -> ApiError {
    match e {
        StorageError::NotFound => ApiError::NotFound("email"),
        other => other.into(),
    }
}

pub async fn get_outbox(state: &AppState, auth: &Auth, id: i64) -> Result<OutboxView, ApiError> {
    Ok(outbox_view(
        state
            .store
            .get_outbox_email(auth.client_no, id)
            .await
            .map_err(outbox_missing)?,
    ))
}

/// `POST /v1/email_outbox/{id}/retry`: a failed (or waiting) email is due again now, with a fresh
/// expiry; a sent one is a 409.
pub async fn retry(state: &AppState, auth: &Auth, id: i64) -> Result<OutboxView, ApiError> {
    let e = state
        .store
        .get_outbox_email(auth.client_no, id)
        .await
        .map_err(outbox_missing)?;
    let expires = kassa_storage::now_millis() + email::EXPIRES_AFTER_SECS * 1000;
    if !state.store.retry_email(auth.client_no, id, expires).await? {
        return Err(ApiError::Conflict {
            code: "email_not_retryable",
            message: format!(
                "the email is {}; only queued or failed emails are retried",
                e.status
            ),
        });
    }
    get_outbox(state, auth, id).await
}
