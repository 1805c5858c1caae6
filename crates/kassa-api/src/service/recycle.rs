//! Decline salvage: `/v1/recycle_profiles` (re-attempts with waits and price reductions, as
//! data, each covering some gateways), the rules a rebill's gateway follows, and the card
//! networks' retry limits checked before a merchant-initiated retry reaches Stripe.

use kassa_domain::json::{merge_patch, parse};
use kassa_domain::recycle::{network_limit, RecycleRules};
use kassa_storage::{
    AttemptRecord, PaymentMethodRecord, PurchaseRecord, RecycleProfileRecord, StorageError,
};
use serde_json::{json, Map, Value};

use crate::auth::Auth;
use crate::{ApiError, AppState};

/// The profile as a request would give it (the document a PATCH merges into).
fn input_doc(p: &RecycleProfileRecord) -> Result<Value, ApiError> {
    let mut v: Value = serde_json::from_str(&p.rules).map_err(ApiError::internal)?;
    v["name"] = json!(p.name);
    v["gateway_ids"] = json!(p.gateway_ids);
    Ok(v)
}

pub fn view(p: &RecycleProfileRecord) -> Value {
    let mut v = input_doc(p).unwrap_or_else(|_| json!({}));
    v["object"] = json!("recycle_profile");
    v["id"] = json!(p.id);
    v["created_at"] = json!(crate::views::timestamp(p.created_at));
    v["updated_at"] = json!(crate::views::timestamp(p.updated_at));
    v
}

/// Parses and checks a whole profile document: its name, rules and gateways. `own` is the
/// profile being updated (its own gateways are not a conflict).
async fn checked(
    state: &AppState,
    auth: &Auth,
    doc: Value,
    own: Option<i64>,
) -> Result<RecycleProfileRecord, ApiError> {
    let Value::Object(mut body) = doc else {
        return Err(ApiError::invalid("", "the body must be a JSON object"));
    };
    let name = match super::take(&mut body, "name") {
        Some(Value::String(s)) => s,
        None | Some(Value::Null) => {
            return Err(ApiError::InvalidRequest {
                param: Some("name".into()),
                code: "parameter_missing",
                message: "name: is required".into(),
            })
        }
        Some(_) => return Err(ApiError::invalid("name", "name: must be a string")),
    };
    kassa_domain::text::check_text(&name, 200).map_err(|e| e.under("name"))?;
    let gateway_ids: Vec<i64> =
        parse(super::take(&mut body, "gateway_ids").unwrap_or_else(|| json!([])))
            .map_err(|e| e.under("gateway_ids"))?;
    let rules: RecycleRules = parse(Value::Object(body))?;
    rules.validate()?;
    for (i, g) in gateway_ids.iter().enumerate() {
        let param = format!("gateway_ids[{i}]");
        if gateway_ids[..i].contains(g) {
            return Err(ApiError::invalid(
                param.clone(),
                format!("{param}: gateway {g} is listed twice"),
            ));
        }
        match state.store.get_gateway(auth.client_no, *g).await {
            Ok(_) => {}
            Err(StorageError::NotFound) => {
                return Err(ApiError::invalid(
                    param.clone(),
                    format!("{param}: no gateway {g}"),
                ))
            }
            Err(e) => return Err(e.into()),
        }
        if let Some(other) = state.store.recycle_profile_of_gateway(*g).await? {
            if Some(other) != own {
                return Err(ApiError::InvalidRequest {
                    param: Some(param.clone()),
                    code: "gateway_in_other_profile",
                    message: format!("{param}: gateway {g} is already in recycle profile {other}; a gateway is in at most one profile"),
                });
            }
        }
    }
    Ok(RecycleProfileRecord {
        client_no: auth.client_no,
        name,
        rules: serde_json::to_string(&rules).map_err(ApiError::internal)?,
        gateway_ids,
        ..Default::default()
    })
}

/// A lost race for a gateway (another profile took it between the check and the write).
fn gateway_taken(e: StorageError) -> ApiError {
    match e {
        StorageError::Conflict(_) => ApiError::Conflict {
            code: "gateway_in_other_profile",
            message: "a gateway of this profile was just put in another recycle profile; read the profiles again".into(),
        },
        other => other.into(),
    }
}

pub async fn create(
    state: &AppState,
    auth: &Auth,
    body: Map<String, Value>,
) -> Result<Value, ApiError> {
    let rec = checked(state, auth, Value::Object(body), None).await?;
    let rec = state
        .store
        .insert_recycle_profile(&rec)
        .await
        .map_err(gateway_taken)?;
    Ok(view(&rec))
}

pub async fn get(state: &AppState, auth: &Auth, id: i64) -> Result<Value, ApiError> {
    Ok(view(&load(state, auth, id).await?))
}

async fn load(state: &AppState, auth: &Auth, id: i64) -> Result<RecycleProfileRecord, ApiError> {
    state
        .store
        .get_recycle_profile(auth.client_no, id)
        .await
        .map_err(|e| match e {
            StorageError::NotFound => ApiError::NotFound("recycle_profile"),
            other => other.into(),
        })
}

pub async fn list(state: &AppState, auth: &Auth) -> Result<Vec<Value>, ApiError> {
    Ok(state
        .store
        .list_recycle_profiles(auth.client_no)
        .await?
        .iter()
        .map(view)
        .collect())
}

/// `PATCH`: a JSON merge patch of the profile document, checked again as a whole.
pub async fn update(
    state: &AppState,
    auth: &Auth,
    id: i64,
    patch: Map<String, Value>,
) -> Result<Value, ApiError> {
    let current = load(state, auth, id).await?;
    let mut doc = input_doc(&current)?;
    merge_patch(&mut doc, &Value::Object(patch));
    let mut rec = checked(state, auth, doc, Some(id)).await?;
    rec.id = id;
    rec.version = current.version;
    let rec = state
        .store
        .update_recycle_profile(&rec)
        .await
        .map_err(gateway_taken)?;
    Ok(view(&rec))
}

/// The rules a gateway's soft-declined rebills follow: its profile's, or the default schedule
/// (3, 5 and 7 days, no reductions) when the gateway is in no profile.
pub async fn rules_for(state: &AppState, gateway_id: i64) -> Result<RecycleRules, ApiError> {
    match state.store.recycle_rules_for_gateway(gateway_id).await? {
        Some(rules) => serde_json::from_str(&rules).map_err(ApiError::internal),
        None => Ok(RecycleRules::default()),
    }
}

/// Why the card network would not take another attempt on this card now, if it would not:
/// Visa and Mastercard cards declined too often in the period are not charged again.
pub async fn network_refusal(
    state: &AppState,
    client_no: i64,
    pm: &PaymentMethodRecord,
    now: i64,
) -> Result<Option<String>, ApiError> {
    let Some(limit) = network_limit(pm.brand.as_deref()) else {
        return Ok(None);
    };
    // The key payments record for duplicate protection: the fingerprint, else the
    // PaymentMethod id of the stored token.
    let key = pm.fingerprint.clone().or_else(|| {
        pm.token
            .as_deref()
            .and_then(|t| t.split(':').next())
            .map(str::to_string)
    });
    let Some(key) = key else {
        return Ok(None);
    };
    let declines = state
        .store
        .count_card_declines(client_no, &key, limit.since(now))
        .await?;
    Ok((!limit.allows(declines)).then(|| {
        format!(
            "{} allows {} declined attempts on a card in {} days; this card has {declines}",
            limit.brand, limit.max_declines, limit.period_days
        )
    }))
}

/// Before rebill attempt `p.attempt + 1` of `cycle`: when the card's network would refuse it,
/// records the attempt as `refused` (`network_retry_limit`, no payment), ends the purchase
/// `recycle_failed` with the cycle's `base` price owed, and returns true.
pub async fn refuse_over_network_limit(
    state: &AppState,
    p: &mut PurchaseRecord,
    pm_no: i64,
    cycle: i64,
    amount: i64,
    base: i64,
    now: i64,
) -> Result<bool, ApiError> {
    let client_no = p.client_no;
    let attempt = p.attempt + 1;
    let pm = match state
        .store
        .get_payment_method(client_no, p.acct_no, pm_no)
        .await
    {
        Ok(pm) => pm,
        Err(e) => {
            state.store.release_purchase(&p.id).await?;
            return Err(e.into());
        }
    };
    let Some(reason) = network_refusal(state, client_no, &pm, now).await? else {
        return Ok(false);
    };
    tracing::info!(purchase = %p.id, %reason, "rebill refused: network retry limit");
    p.status = "recycle_failed".into();
    p.attempt = attempt;
    p.next_bill_at = None;
    let a = AttemptRecord {
        cycle,
        attempt,
        payment_id: String::new(),
        amount,
        status: "refused".into(),
        decline_code: Some("network_retry_limit".into()),
        ..Default::default()
    };
    state.store.start_attempt(&p.id, &a).await?;
    state.store.finish_attempt(p, &a).await?;
    super::balance::owe_failed_rebill(state, p, cycle, base).await?;
    super::notifications::notify(state, client_no, "rebill.failed", json!({"purchase_id": p.id, "cycle": cycle, "amount": amount, "payment_id": null, "status": p.status, "reason": "network_retry_limit"})).await;
    Ok(true)
}
