//! Gateway accounts: create, read, update, duplicate, archive.

use kassa_domain::gateway::{GatewaySettings, GatewayStatus, GatewayType};
use kassa_domain::json::{merge_patch, parse};
use kassa_domain::keys::{check_key_modes, redact, PublishableKey, StripeSecretKey};
use kassa_storage::{GatewayFilter, GatewayRecord, GatewayWrite, Page, PageRequest, StorageError};
use serde_json::{Map, Value};

use super::{
    audit_entry, diff, open_webhook_secrets, seal_webhook_secrets, take, take_bool,
    take_secret_key, take_string, take_webhook_secrets, Patch,
};
use super::{PURPOSE_GATEWAY_WEBHOOK, PURPOSE_SECRET_KEY};
use crate::auth::Auth;
use crate::views::{timestamp, GatewayView};
use crate::{ApiError, AppState};

const OBJECT: &str = "gateway";

fn not_found(e: StorageError) -> ApiError {
    match e {
        StorageError::NotFound => ApiError::NotFound("gateway"),
        other => other.into(),
    }
}

fn parse_status(value: &str, allow_archived: bool) -> Result<GatewayStatus, ApiError> {
    match GatewayStatus::parse(value) {
        Some(GatewayStatus::Archived) if !allow_archived => Err(ApiError::invalid(
            "status",
            "status: a new gateway is `active` or `disabled`",
        )),
        Some(s) => Ok(s),
        None => Err(ApiError::invalid(
            "status",
            format!("status: `{value}` is not one of active, disabled, archived"),
        )),
    }
}

/// Renders a stored gateway, opening its secrets only to redact them.
pub fn view(state: &AppState, rec: &GatewayRecord) -> Result<GatewayView, ApiError> {
    let settings: GatewaySettings =
        serde_json::from_str(&rec.settings).map_err(ApiError::internal)?;
    let secret_key = match &rec.secret_key_sealed {
        Some(s) => Some(redact(&state.master_key.open(PURPOSE_SECRET_KEY, s)?)),
        None => None,
    };
    let webhook_secrets = open_webhook_secrets(
        &state.master_key,
        PURPOSE_GATEWAY_WEBHOOK,
        rec.webhook_secrets_sealed.as_deref(),
    )?
    .iter()
    .map(|s| redact(s))
    .collect();
    Ok(GatewayView {
        object: OBJECT,
        id: rec.id,
        gateway_type: GatewayType::parse(&rec.gateway_type)
            .ok_or_else(|| ApiError::internal("unknown gateway type in database"))?,
        status: GatewayStatus::parse(&rec.status)
            .ok_or_else(|| ApiError::internal("unknown gateway status in database"))?,
        secret_key,
        webhook_secrets,
        settings,
        created_at: timestamp(rec.created_at),
        updated_at: timestamp(rec.updated_at),
    })
}

fn to_json(view: &GatewayView) -> Value {
    serde_json::to_value(view).unwrap_or(Value::Null)
}

fn legacy_refusal() -> ApiError {
    ApiError::unprocessable(
        Some("type"),
        "legacy_gateway_type",
        "Stripe V1 is a legacy gateway type and new ones cannot be created: create a `stripe_v2` gateway instead. \
         To import an existing Stripe V1 gateway, send \"legacy_import\": true.",
    )
}

/// The settings in `body` (whatever is left once the non-settings fields are taken out), checked.
/// With the secret key, checks that the publishable key is of the same mode.
fn settings_from(
    doc: Value,
    kind: GatewayType,
    secret: Option<&StripeSecretKey>,
) -> Result<(GatewaySettings, String), ApiError> {
    let settings: GatewaySettings = parse(doc)?;
    settings.validate(kind)?;
    if let (Some(secret), Some(public)) = (secret, &settings.public_key) {
        let public = PublishableKey::parse(public).map_err(|e| e.under("public_key"))?;
        check_key_modes(secret, &public)?;
    }
    let json = serde_json::to_string(&settings).map_err(ApiError::internal)?;
    Ok((settings, json))
}

pub async fn create(
    state: &AppState,
    auth: &Auth,
    mut body: Map<String, Value>,
) -> Result<GatewayView, ApiError> {
    let kind = match take(&mut body, "type") {
        None | Some(Value::Null) => {
            return Err(ApiError::InvalidRequest {
                param: Some("type".into()),
                code: "parameter_missing",
                message: "type: is required (stripe_v2)".into(),
            })
        }
        Some(Value::String(s)) => GatewayType::parse(&s).ok_or_else(|| {
            ApiError::invalid(
                "type",
                format!("type: `{s}` is not a gateway type; use stripe_v2"),
            )
        })?,
        Some(_) => return Err(ApiError::invalid("type", "type: must be a string")),
    };
    let legacy_import = take_bool(&mut body, "legacy_import")?.unwrap_or(false);
    if kind == GatewayType::StripeV1 && !legacy_import {
        return Err(legacy_refusal());
    }
    if kind == GatewayType::StripeV2 && legacy_import {
        return Err(ApiError::invalid(
            "legacy_import",
            "legacy_import: applies only to stripe_v1 gateways",
        ));
    }
    let status = match take_string(&mut body, "status")? {
        Patch::Set(s) => parse_status(&s, false)?,
        _ => GatewayStatus::Active,
    };
    let secret_key = match take_secret_key(&mut body)? {
        Patch::Set(k) => k,
        _ => {
            return Err(ApiError::InvalidRequest {
                param: Some("secret_key".into()),
                code: "parameter_missing",
                message: "secret_key: is required (sk_live_…, sk_test_…, rk_live_… or rk_test_…)"
                    .into(),
            })
        }
    };
    let webhook_secrets = match take_webhook_secrets(&mut body)? {
        Patch::Set(v) => v,
        _ => Vec::new(),
    };
    let (_, settings_json) = settings_from(Value::Object(body), kind, Some(&secret_key))?;
    let write = GatewayWrite {
        gateway_type: kind.as_str().to_string(),
        status: status.as_str().to_string(),
        settings: settings_json,
        secret_key_sealed: Some(
            state
                .master_key
                .seal(PURPOSE_SECRET_KEY, secret_key.expose())?,
        ),
        webhook_secrets_sealed: seal_webhook_secrets(
            &state.master_key,
            PURPOSE_GATEWAY_WEBHOOK,
            &webhook_secrets,
        )?,
    };
    insert(state, auth, write, "create", None).await
}

async fn insert(
    state: &AppState,
    auth: &Auth,
    write: GatewayWrite,
    action: &'static str,
    source: Option<i64>,
) -> Result<GatewayView, ApiError> {
    // The audit entry is written in the same transaction as the row; its diff is of the view,
    // which is known before the insert but for the id and the times.
    let provisional = GatewayRecord {
        id: 0,
        client_no: auth.client_no,
        gateway_type: write.gateway_type.clone(),
        status: write.status.clone(),
        settings: write.settings.clone(),
        secret_key_sealed: write.secret_key_sealed.clone(),
        webhook_secrets_sealed: write.webhook_secrets_sealed.clone(),
        version: 1,
        created_at: 0,
        updated_at: 0,
    };
    let mut changes = diff(
        &Value::Null,
        &to_json(&view(state, &provisional)?),
        &["id", "created_at", "updated_at", "object"],
    );
    if let (Some(source), Value::Object(map)) = (source, &mut changes) {
        map.insert(
            "duplicated_from".into(),
            serde_json::json!({"from": null, "to": source}),
        );
    }
    let rec = state
        .store
        .insert_gateway(
            auth.client_no,
            &write,
            audit_entry(auth, OBJECT, String::new(), action, changes),
        )
        .await?;
    view(state, &rec)
}

pub async fn get(state: &AppState, auth: &Auth, id: i64) -> Result<GatewayView, ApiError> {
    let rec = state
        .store
        .get_gateway(auth.client_no, id)
        .await
        .map_err(not_found)?;
    view(state, &rec)
}

pub async fn list(
    state: &AppState,
    auth: &Auth,
    filter: GatewayFilter,
    page: PageRequest,
) -> Result<Page<GatewayView>, ApiError> {
    let page_rows = state
        .store
        .list_gateways(auth.client_no, &filter, page)
        .await?;
    let data = page_rows
        .data
        .iter()
        .map(|r| view(state, r))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Page {
        data,
        has_more: page_rows.has_more,
    })
}

/// The stored gateway with `body` applied as a JSON merge patch: what an update writes and what
/// a duplicate starts from.
fn patched(
    state: &AppState,
    rec: &GatewayRecord,
    mut body: Map<String, Value>,
    allow_archived: bool,
) -> Result<(GatewayWrite, bool), ApiError> {
    let kind = GatewayType::parse(&rec.gateway_type)
        .ok_or_else(|| ApiError::internal("unknown gateway type in database"))?;
    match take(&mut body, "type") {
        None => {}
        Some(Value::String(s)) if s == kind.as_str() => {}
        Some(_) => {
            return Err(ApiError::invalid(
                "type",
                "type: a gateway's type cannot be changed; create a new gateway of the other type",
            ))
        }
    }
    if body.contains_key("legacy_import") {
        return Err(ApiError::invalid(
            "legacy_import",
            "legacy_import: only applies when creating a gateway",
        ));
    }
    let status = match take_string(&mut body, "status")? {
        Patch::Set(s) => parse_status(&s, allow_archived)?.as_str().to_string(),
        Patch::Clear => return Err(ApiError::invalid("status", "status: cannot be removed")),
        Patch::Keep => rec.status.clone(),
    };
    let mut secret_changed = false;
    let old_secret = match &rec.secret_key_sealed {
        Some(s) => Some(state.master_key.open(PURPOSE_SECRET_KEY, s)?),
        None => None,
    };
    let mut secret = old_secret
        .as_deref()
        .and_then(|s| StripeSecretKey::parse(s).ok());
    let secret_key_sealed = match take_secret_key(&mut body)? {
        Patch::Keep => rec.secret_key_sealed.clone(),
        Patch::Clear => {
            return Err(ApiError::InvalidRequest {
                param: Some("secret_key".into()),
                code: "parameter_missing",
                message:
                    "secret_key: a gateway must keep a secret key; send a new one to replace it"
                        .into(),
            })
        }
        Patch::Set(k) => {
            secret_changed = old_secret.as_deref() != Some(k.expose());
            let sealed = state.master_key.seal(PURPOSE_SECRET_KEY, k.expose())?;
            secret = Some(k);
            Some(sealed)
        }
    };
    let webhook_secrets_sealed = match take_webhook_secrets(&mut body)? {
        Patch::Keep => rec.webhook_secrets_sealed.clone(),
        Patch::Clear => None,
        Patch::Set(v) => seal_webhook_secrets(&state.master_key, PURPOSE_GATEWAY_WEBHOOK, &v)?,
    };
    let mut doc: Value = serde_json::from_str(&rec.settings).map_err(ApiError::internal)?;
    merge_patch(&mut doc, &Value::Object(body));
    let (_, settings) = settings_from(doc, kind, secret.as_ref())?;
    Ok((
        GatewayWrite {
            gateway_type: rec.gateway_type.clone(),
            status,
            settings,
            secret_key_sealed,
            webhook_secrets_sealed,
        },
        secret_changed,
    ))
}

pub async fn update(
    state: &AppState,
    auth: &Auth,
    id: i64,
    body: Map<String, Value>,
) -> Result<GatewayView, ApiError> {
    let rec = state
        .store
        .get_gateway(auth.client_no, id)
        .await
        .map_err(not_found)?;
    let (write, secret_changed) = patched(state, &rec, body, true)?;
    let before = view(state, &rec)?;
    let after_preview = view(
        state,
        &GatewayRecord {
            settings: write.settings.clone(),
            status: write.status.clone(),
            secret_key_sealed: write.secret_key_sealed.clone(),
            webhook_secrets_sealed: write.webhook_secrets_sealed.clone(),
            ..rec.clone()
        },
    )?;
    let mut changes = diff(
        &to_json(&before),
        &to_json(&after_preview),
        &["updated_at", "created_at"],
    );
    if secret_changed {
        if let Value::Object(map) = &mut changes {
            // Same last four characters: the redacted diff alone would not show it.
            map.insert(
                "secret_key".into(),
                serde_json::json!({"from": before.secret_key, "to": after_preview.secret_key, "replaced": true}),
            );
        }
    }
    if changes.as_object().is_some_and(Map::is_empty) {
        return Ok(before);
    }
    let updated = state
        .store
        .update_gateway(
            auth.client_no,
            id,
            rec.version,
            &write,
            audit_entry(auth, OBJECT, id.to_string(), "update", changes),
        )
        .await
        .map_err(not_found)?;
    view(state, &updated)
}

/// A new gateway with this one's settings and secrets, and `body` applied over them — the seed's
/// way to run one Stripe account under several descriptor suffixes.
pub async fn duplicate(
    state: &AppState,
    auth: &Auth,
    id: i64,
    mut body: Map<String, Value>,
) -> Result<GatewayView, ApiError> {
    let rec = state
        .store
        .get_gateway(auth.client_no, id)
        .await
        .map_err(not_found)?;
    let kind = GatewayType::parse(&rec.gateway_type)
        .ok_or_else(|| ApiError::internal("unknown gateway type in database"))?;
    let legacy_import = take_bool(&mut body, "legacy_import")?.unwrap_or(false);
    if kind == GatewayType::StripeV1 && !legacy_import {
        return Err(legacy_refusal());
    }
    if !body.contains_key("title") {
        let source: GatewaySettings =
            serde_json::from_str(&rec.settings).map_err(ApiError::internal)?;
        let title: String = format!("{} (copy)", source.title)
            .chars()
            .take(100)
            .collect();
        body.insert("title".into(), Value::String(title));
    }
    if !body.contains_key("status") {
        body.insert("status".into(), Value::String("active".into()));
    }
    let (write, _) = patched(state, &rec, body, false)?;
    insert(state, auth, write, "duplicate", Some(id)).await
}

/// Retires a gateway. Refused while an active collection group still routes to it.
pub async fn archive(state: &AppState, auth: &Auth, id: i64) -> Result<GatewayView, ApiError> {
    let rec = state
        .store
        .get_gateway(auth.client_no, id)
        .await
        .map_err(not_found)?;
    if rec.status == GatewayStatus::Archived.as_str() {
        return view(state, &rec);
    }
    let groups = state
        .store
        .list_groups(
            auth.client_no,
            None,
            Some(id),
            PageRequest {
                limit: 100,
                starting_after: None,
            },
        )
        .await?;
    if !groups.data.is_empty() {
        let numbers: Vec<String> = groups.data.iter().map(|g| g.group_no.to_string()).collect();
        return Err(ApiError::Conflict {
            code: "gateway_in_use",
            message: format!(
                "Gateway {id} is used by collection group(s) {}; point them at another gateway or archive them first.",
                numbers.join(", ")
            ),
        });
    }
    let mut body = Map::new();
    body.insert("status".into(), Value::String("archived".into()));
    let (write, _) = patched(state, &rec, body, true)?;
    let changes = serde_json::json!({"status": {"from": rec.status, "to": "archived"}});
    let updated = state
        .store
        .update_gateway(
            auth.client_no,
            id,
            rec.version,
            &write,
            audit_entry(auth, OBJECT, id.to_string(), "archive", changes),
        )
        .await
        .map_err(not_found)?;
    view(state, &updated)
}
