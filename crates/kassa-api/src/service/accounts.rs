//! Billing accounts: create, read, update, list, status history.

use kassa_domain::billing_account::{parse_status, AccountProfile};
use kassa_domain::json::{merge_patch, parse};
use kassa_storage::{
    AccountFilter, AccountRecord, AccountWrite, Page, PageRequest, StatusChange, StorageError,
};
use serde_json::{Map, Value};

use super::{audit_entry, diff, take_string, Patch};
use crate::auth::Auth;
use crate::views::{timestamp, AccountView, StatusHistoryView};
use crate::{ApiError, AppState};

const OBJECT: &str = "account";

fn not_found(e: StorageError) -> ApiError {
    match e {
        StorageError::NotFound => ApiError::NotFound("account"),
        StorageError::Conflict(m) => ApiError::Conflict {
            code: "resource_exists",
            message: m,
        },
        other => other.into(),
    }
}

pub fn view(rec: &AccountRecord) -> Result<AccountView, ApiError> {
    let profile: AccountProfile = serde_json::from_str(&rec.profile).map_err(ApiError::internal)?;
    Ok(AccountView {
        object: OBJECT,
        acct_no: rec.acct_no,
        status: parse_status(&rec.status)
            .map_err(|_| ApiError::internal("unknown account status in database"))?,
        profile,
        created_at: timestamp(rec.created_at),
        updated_at: timestamp(rec.updated_at),
    })
}

/// Parses and checks a profile; its collection group must be one of the client's.
async fn checked(state: &AppState, auth: &Auth, doc: Value) -> Result<AccountProfile, ApiError> {
    let profile: AccountProfile = parse(doc)?;
    profile.validate()?;
    if let Some(no) = profile.collection_group_no {
        match state.store.get_group(auth.client_no, no).await {
            Ok(_) => {}
            Err(StorageError::NotFound) => {
                return Err(ApiError::InvalidRequest {
                    param: Some("collection_group_no".into()),
                    code: "resource_missing",
                    message: format!("collection_group_no: no collection group {no}"),
                })
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(profile)
}

fn write(profile: &AccountProfile, status: &str) -> Result<AccountWrite, ApiError> {
    Ok(AccountWrite {
        client_acct_id: profile.client_acct_id.clone(),
        status: status.to_string(),
        collection_group_no: profile.collection_group_no,
        email: profile.email.clone(),
        profile: serde_json::to_string(profile).map_err(ApiError::internal)?,
    })
}

fn take_status(body: &mut Map<String, Value>) -> Result<Option<String>, ApiError> {
    match take_string(body, "status")? {
        Patch::Keep => Ok(None),
        Patch::Clear => Err(ApiError::invalid("status", "status: cannot be removed")),
        Patch::Set(s) => Ok(Some(parse_status(&s)?.as_str().to_string())),
    }
}

pub async fn create(
    state: &AppState,
    auth: &Auth,
    mut body: Map<String, Value>,
) -> Result<AccountView, ApiError> {
    let status = take_status(&mut body)?.unwrap_or_else(|| "active".to_string());
    let profile = checked(state, auth, Value::Object(body)).await?;
    let w = write(&profile, &status)?;
    let change = StatusChange {
        reason: "created".into(),
        payment_id: None,
        actor: auth.actor(),
    };
    let changes = diff(
        &Value::Null,
        &serde_json::to_value(&profile).map_err(ApiError::internal)?,
        &[],
    );
    let rec = state
        .store
        .insert_account(
            auth.client_no,
            &w,
            &change,
            audit_entry(auth, OBJECT, String::new(), "create", changes),
        )
        .await
        .map_err(not_found)?;
    view(&rec)
}

pub async fn get(state: &AppState, auth: &Auth, acct_no: i64) -> Result<AccountView, ApiError> {
    view(
        &state
            .store
            .get_account(auth.client_no, acct_no)
            .await
            .map_err(not_found)?,
    )
}

pub async fn list(
    state: &AppState,
    auth: &Auth,
    filter: AccountFilter,
    page: PageRequest,
) -> Result<Page<AccountView>, ApiError> {
    let rows = state
        .store
        .list_accounts(auth.client_no, &filter, page)
        .await?;
    let data = rows.data.iter().map(view).collect::<Result<Vec<_>, _>>()?;
    Ok(Page {
        data,
        has_more: rows.has_more,
    })
}

pub async fn update(
    state: &AppState,
    auth: &Auth,
    acct_no: i64,
    mut body: Map<String, Value>,
) -> Result<AccountView, ApiError> {
    let rec = state
        .store
        .get_account(auth.client_no, acct_no)
        .await
        .map_err(not_found)?;
    let status = take_status(&mut body)?.unwrap_or_else(|| rec.status.clone());
    let mut doc: Value = serde_json::from_str(&rec.profile).map_err(ApiError::internal)?;
    let before = doc.clone();
    merge_patch(&mut doc, &Value::Object(body));
    let profile = checked(state, auth, doc).await?;
    let after = serde_json::to_value(&profile).map_err(ApiError::internal)?;
    let mut changes = diff(&before, &after, &[]);
    if status != rec.status {
        if let Value::Object(m) = &mut changes {
            m.insert(
                "status".into(),
                serde_json::json!({"from": rec.status, "to": status}),
            );
        }
    }
    if changes.as_object().is_some_and(Map::is_empty) {
        return view(&rec);
    }
    let w = write(&profile, &status)?;
    let change = StatusChange {
        reason: "api".into(),
        payment_id: None,
        actor: auth.actor(),
    };
    let updated = state
        .store
        .update_account(
            auth.client_no,
            acct_no,
            rec.version,
            &w,
            &change,
            audit_entry(auth, OBJECT, acct_no.to_string(), "update", changes),
        )
        .await
        .map_err(not_found)?;
    if updated.status != rec.status {
        let data = serde_json::json!({"acct_no": acct_no, "from": rec.status, "to": updated.status, "reason": "api", "payment_id": null});
        super::notifications::notify(state, auth.client_no, "account.status_changed", data).await;
    }
    view(&updated)
}

pub async fn status_history(
    state: &AppState,
    auth: &Auth,
    acct_no: i64,
) -> Result<Vec<StatusHistoryView>, ApiError> {
    state
        .store
        .get_account(auth.client_no, acct_no)
        .await
        .map_err(not_found)?;
    let rows = state
        .store
        .account_status_history(auth.client_no, acct_no)
        .await?;
    Ok(rows
        .into_iter()
        .map(|r| StatusHistoryView {
            object: "account_status_change",
            id: r.id,
            from_status: r.from_status,
            to_status: r.to_status,
            reason: r.reason,
            payment_id: r.payment_id,
            actor: r.actor,
            created_at: timestamp(r.created_at),
        })
        .collect())
}
