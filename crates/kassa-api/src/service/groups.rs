//! Collection groups: create, read, update, duplicate, archive.

use kassa_domain::gateway::{GatewaySettings, GatewayStatus};
use kassa_domain::group::GroupSettings;
use kassa_domain::json::{merge_patch, parse};
use kassa_domain::keys::redact;
use kassa_storage::{GroupRecord, GroupWrite, Page, PageRequest, StorageError};
use serde_json::{Map, Value};

use super::PURPOSE_GROUP_WEBHOOK;
use super::{
    audit_entry, diff, open_webhook_secrets, seal_webhook_secrets, take, take_string,
    take_webhook_secrets, Patch,
};
use crate::auth::Auth;
use crate::views::{timestamp, GroupView};
use crate::{ApiError, AppState};

const OBJECT: &str = "collection_group";

fn not_found(e: StorageError) -> ApiError {
    match e {
        StorageError::NotFound => ApiError::NotFound("collection group"),
        other => other.into(),
    }
}

/// The stored settings document holds everything but the gateway id, which is a column of its
/// own (with a foreign key); this puts it back for parsing.
fn settings_doc(rec: &GroupRecord) -> Result<Value, ApiError> {
    let mut doc: Value = serde_json::from_str(&rec.settings).map_err(ApiError::internal)?;
    if let Value::Object(m) = &mut doc {
        m.insert("gateway_id".into(), Value::from(rec.gateway_id));
    }
    Ok(doc)
}

fn stored_settings(settings: &GroupSettings) -> Result<String, ApiError> {
    let mut doc = serde_json::to_value(settings).map_err(ApiError::internal)?;
    if let Value::Object(m) = &mut doc {
        m.remove("gateway_id");
    }
    Ok(doc.to_string())
}

pub fn view(state: &AppState, rec: &GroupRecord) -> Result<GroupView, ApiError> {
    let s: GroupSettings =
        serde_json::from_value(settings_doc(rec)?).map_err(ApiError::internal)?;
    let webhook_secrets = open_webhook_secrets(
        &state.master_key,
        PURPOSE_GROUP_WEBHOOK,
        rec.webhook_secrets_sealed.as_deref(),
    )?
    .iter()
    .map(|s| redact(s))
    .collect();
    Ok(GroupView {
        object: OBJECT,
        group_no: rec.group_no,
        status: GatewayStatus::parse(&rec.status)
            .ok_or_else(|| ApiError::internal("unknown group status in database"))?,
        name: s.name,
        client_group_id: s.client_group_id,
        gateway_id: s.gateway_id,
        soft_descriptor: s.soft_descriptor,
        fraud: s.fraud,
        three_ds: s.three_ds,
        webhook_secrets,
        created_at: timestamp(rec.created_at),
        updated_at: timestamp(rec.updated_at),
    })
}

fn to_json(v: &GroupView) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

/// Parses and checks a group document against the gateway it names, which must be one of the
/// client's gateways and not archived.
async fn checked(
    state: &AppState,
    auth: &Auth,
    doc: Value,
) -> Result<(GroupSettings, String), ApiError> {
    let settings: GroupSettings = parse(doc)?;
    let gateway = match state
        .store
        .get_gateway(auth.client_no, settings.gateway_id)
        .await
    {
        Ok(g) => g,
        Err(StorageError::NotFound) => {
            return Err(ApiError::InvalidRequest {
                param: Some("gateway_id".into()),
                code: "resource_missing",
                message: format!("gateway_id: no gateway {}", settings.gateway_id),
            })
        }
        Err(e) => return Err(e.into()),
    };
    if gateway.status == GatewayStatus::Archived.as_str() {
        return Err(ApiError::unprocessable(
            Some("gateway_id"),
            "gateway_archived",
            format!(
                "gateway_id: gateway {} is archived; choose an active gateway",
                settings.gateway_id
            ),
        ));
    }
    let gw_settings: GatewaySettings =
        serde_json::from_str(&gateway.settings).map_err(ApiError::internal)?;
    settings.validate(&gw_settings)?;
    let json = stored_settings(&settings)?;
    Ok((settings, json))
}

fn parse_status(value: &str, allow_archived: bool) -> Result<String, ApiError> {
    match GatewayStatus::parse(value) {
        Some(GatewayStatus::Archived) if !allow_archived => Err(ApiError::invalid(
            "status",
            "status: a new collection group is `active` or `disabled`",
        )),
        Some(s) => Ok(s.as_str().to_string()),
        None => Err(ApiError::invalid(
            "status",
            format!("status: `{value}` is not one of active, disabled, archived"),
        )),
    }
}

fn take_group_no(body: &mut Map<String, Value>) -> Result<Option<i64>, ApiError> {
    match take(body, "group_no") {
        None | Some(Value::Null) => Ok(None),
        Some(v) => match v.as_i64() {
            Some(n) if (1..=i64::from(i32::MAX)).contains(&n) => Ok(Some(n)),
            _ => Err(ApiError::invalid(
                "group_no",
                "group_no: must be a positive whole number",
            )),
        },
    }
}

async fn insert(
    state: &AppState,
    auth: &Auth,
    group_no: Option<i64>,
    write: GroupWrite,
    action: &'static str,
    source: Option<i64>,
) -> Result<GroupView, ApiError> {
    let provisional = GroupRecord {
        id: 0,
        client_no: auth.client_no,
        group_no: group_no.unwrap_or(0),
        gateway_id: write.gateway_id,
        status: write.status.clone(),
        settings: write.settings.clone(),
        webhook_secrets_sealed: write.webhook_secrets_sealed.clone(),
        version: 1,
        created_at: 0,
        updated_at: 0,
    };
    let mut changes = diff(
        &Value::Null,
        &to_json(&view(state, &provisional)?),
        &["group_no", "created_at", "updated_at", "object"],
    );
    if let (Some(source), Value::Object(map)) = (source, &mut changes) {
        map.insert(
            "duplicated_from".into(),
            serde_json::json!({"from": null, "to": source}),
        );
    }
    let rec = state
        .store
        .insert_group(
            auth.client_no,
            group_no,
            &write,
            audit_entry(auth, OBJECT, String::new(), action, changes),
        )
        .await
        .map_err(|e| match e {
            StorageError::Conflict(_) => ApiError::Conflict {
                code: "resource_exists",
                message: format!(
                    "collection group {} already exists",
                    group_no.unwrap_or_default()
                ),
            },
            other => other.into(),
        })?;
    view(state, &rec)
}

pub async fn create(
    state: &AppState,
    auth: &Auth,
    mut body: Map<String, Value>,
) -> Result<GroupView, ApiError> {
    let group_no = take_group_no(&mut body)?;
    let status = match take_string(&mut body, "status")? {
        Patch::Set(s) => parse_status(&s, false)?,
        _ => "active".to_string(),
    };
    let secrets = match take_webhook_secrets(&mut body)? {
        Patch::Set(v) => v,
        _ => Vec::new(),
    };
    let (settings, json) = checked(state, auth, Value::Object(body)).await?;
    let write = GroupWrite {
        gateway_id: settings.gateway_id,
        status,
        settings: json,
        webhook_secrets_sealed: seal_webhook_secrets(
            &state.master_key,
            PURPOSE_GROUP_WEBHOOK,
            &secrets,
        )?,
    };
    insert(state, auth, group_no, write, "create", None).await
}

pub async fn get(state: &AppState, auth: &Auth, group_no: i64) -> Result<GroupView, ApiError> {
    let rec = state
        .store
        .get_group(auth.client_no, group_no)
        .await
        .map_err(not_found)?;
    view(state, &rec)
}

pub async fn list(
    state: &AppState,
    auth: &Auth,
    status: Option<&str>,
    gateway_id: Option<i64>,
    page: PageRequest,
) -> Result<Page<GroupView>, ApiError> {
    let rows = state
        .store
        .list_groups(auth.client_no, status, gateway_id, page)
        .await?;
    let data = rows
        .data
        .iter()
        .map(|r| view(state, r))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Page {
        data,
        has_more: rows.has_more,
    })
}

async fn patched(
    state: &AppState,
    auth: &Auth,
    rec: &GroupRecord,
    mut body: Map<String, Value>,
    allow_archived: bool,
) -> Result<GroupWrite, ApiError> {
    let status = match take_string(&mut body, "status")? {
        Patch::Set(s) => parse_status(&s, allow_archived)?,
        Patch::Clear => return Err(ApiError::invalid("status", "status: cannot be removed")),
        Patch::Keep => rec.status.clone(),
    };
    let webhook_secrets_sealed = match take_webhook_secrets(&mut body)? {
        Patch::Keep => rec.webhook_secrets_sealed.clone(),
        Patch::Clear => None,
        Patch::Set(v) => seal_webhook_secrets(&state.master_key, PURPOSE_GROUP_WEBHOOK, &v)?,
    };
    let mut doc = settings_doc(rec)?;
    merge_patch(&mut doc, &Value::Object(body));
    let (settings, json) = checked(state, auth, doc).await?;
    Ok(GroupWrite {
        gateway_id: settings.gateway_id,
        status,
        settings: json,
        webhook_secrets_sealed,
    })
}

pub async fn update(
    state: &AppState,
    auth: &Auth,
    group_no: i64,
    mut body: Map<String, Value>,
) -> Result<GroupView, ApiError> {
    let rec = state
        .store
        .get_group(auth.client_no, group_no)
        .await
        .map_err(not_found)?;
    if let Some(v) = body.remove("group_no") {
        if v.as_i64() != Some(group_no) {
            return Err(ApiError::invalid("group_no", "group_no: a group's number cannot be changed; duplicate it under a new number instead"));
        }
    }
    let write = patched(state, auth, &rec, body, true).await?;
    let before = view(state, &rec)?;
    let after = view(
        state,
        &GroupRecord {
            gateway_id: write.gateway_id,
            status: write.status.clone(),
            settings: write.settings.clone(),
            webhook_secrets_sealed: write.webhook_secrets_sealed.clone(),
            ..rec.clone()
        },
    )?;
    let changes = diff(
        &to_json(&before),
        &to_json(&after),
        &["updated_at", "created_at"],
    );
    if changes.as_object().is_some_and(Map::is_empty)
        && rec.webhook_secrets_sealed == write.webhook_secrets_sealed
    {
        return Ok(before);
    }
    let updated = state
        .store
        .update_group(
            auth.client_no,
            group_no,
            rec.version,
            &write,
            audit_entry(auth, OBJECT, group_no.to_string(), "update", changes),
        )
        .await
        .map_err(not_found)?;
    view(state, &updated)
}

pub async fn duplicate(
    state: &AppState,
    auth: &Auth,
    group_no: i64,
    mut body: Map<String, Value>,
) -> Result<GroupView, ApiError> {
    let rec = state
        .store
        .get_group(auth.client_no, group_no)
        .await
        .map_err(not_found)?;
    let new_no = take_group_no(&mut body)?;
    if !body.contains_key("name") {
        let doc = settings_doc(&rec)?;
        let name = doc.get("name").and_then(Value::as_str).unwrap_or("group");
        body.insert(
            "name".into(),
            Value::String(format!("{name} (copy)").chars().take(100).collect()),
        );
    }
    if !body.contains_key("status") {
        body.insert("status".into(), Value::String("active".into()));
    }
    let write = patched(state, auth, &rec, body, false).await?;
    insert(state, auth, new_no, write, "duplicate", Some(group_no)).await
}

pub async fn archive(state: &AppState, auth: &Auth, group_no: i64) -> Result<GroupView, ApiError> {
    let rec = state
        .store
        .get_group(auth.client_no, group_no)
        .await
        .map_err(not_found)?;
    if rec.status == GatewayStatus::Archived.as_str() {
        return view(state, &rec);
    }
    let write = GroupWrite {
        gateway_id: rec.gateway_id,
        status: GatewayStatus::Archived.as_str().to_string(),
        settings: rec.settings.clone(),
        webhook_secrets_sealed: rec.webhook_secrets_sealed.clone(),
    };
    let changes = serde_json::json!({"status": {"from": rec.status, "to": "archived"}});
    let updated = state
        .store
        .update_group(
            auth.client_no,
            group_no,
            rec.version,
            &write,
            audit_entry(auth, OBJECT, group_no.to_string(), "archive", changes),
        )
        .await
        .map_err(not_found)?;
    view(state, &updated)
}
