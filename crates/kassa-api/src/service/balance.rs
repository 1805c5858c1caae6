//! Account balances and the platform calls of the seed: `settle_account_balance` (charge what
//! the account owes) and `collect_from_account` (charge an amount now), each through the one
//! payment path with `recurring_processing_model_ind`.
//!
//! Never twice: the payment's id is chosen and written into the balance (a `pending` entry that
//! already counts) before the payment is made, under a lock on the account; a settle that
//! follows finds nothing owed. `Idempotency-Key` makes a retried call replay the first answer.

use kassa_domain::json::parse;
use kassa_domain::money::Currency;
use kassa_domain::payment::RecurringModel;
use kassa_storage::{BalanceEntryRecord, PurchaseRecord, StorageError};
use serde::Deserialize;
use serde_json::{json, Map, Value};

use crate::auth::Auth;
use crate::{ApiError, AppState};

/// A pending entry whose payment was never written is dropped after this long.
const ORPHAN_AFTER_MS: i64 = 15 * 60_000;

fn entry_view(e: &BalanceEntryRecord) -> Value {
    json!({"object": "balance_entry", "id": e.id, "kind": e.kind, "status": e.status, "amount": e.amount, "currency": e.currency,
        "purchase_id": e.purchase_id, "cycle": e.cycle, "payment_id": e.payment_id, "description": e.description,
        "created_at": crate::views::timestamp(e.created_at)})
}

async fn account(state: &AppState, auth: &Auth, acct_no: i64) -> Result<(), ApiError> {
    state
        .store
        .get_account(auth.client_no, acct_no)
        .await
        .map(|_| ())
        .map_err(|e| match e {
            StorageError::NotFound => ApiError::NotFound("account"),
            other => other.into(),
        })
}

/// Settles pending entries whose payment's outcome is now known.
async fn refresh(state: &AppState, auth: &Auth, acct_no: i64) -> Result<(), ApiError> {
    let now = kassa_storage::now_millis();
    for e in state
        .store
        .list_balance_entries(auth.client_no, acct_no)
        .await?
    {
        let (Some(pid), "pending") = (e.payment_id.as_deref(), e.status.as_str()) else {
            continue;
        };
        match state.store.get_payment(auth.client_no, pid).await {
            Ok(p) => {
                if let Some(s) = outcome(&p.status) {
                    state.store.finish_balance_payment(pid, s).await?;
                }
            }
            Err(StorageError::NotFound) if now - e.created_at > ORPHAN_AFTER_MS => {
                state.store.drop_balance_payment(pid).await?;
            }
            Err(StorageError::NotFound) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// What a payment's status means for its balance entry; `None` while unknown.
fn outcome(status: &str) -> Option<&'static str> {
    match status {
        "captured" | "authorized" | "partially_captured" | "partially_refunded" | "refunded" => {
            Some("applied")
        }
        "declined" | "voided" => Some("void"),
        _ => None,
    }
}

async fn balance_view(state: &AppState, auth: &Auth, acct_no: i64) -> Result<Value, ApiError> {
    let balances = state
        .store
        .account_balances(auth.client_no, acct_no)
        .await?;
    let entries = state
        .store
        .list_balance_entries(auth.client_no, acct_no)
        .await?;
    Ok(json!({"object": "balance", "acct_no": acct_no,
        "balances": balances.iter().map(|(c, a)| json!({"currency": c, "amount": a})).collect::<Vec<_>>(),
        "entries": entries.iter().map(entry_view).collect::<Vec<_>>()}))
}

/// `GET /v1/accounts/{acct_no}/balance`.
pub async fn get(state: &AppState, auth: &Auth, acct_no: i64) -> Result<Value, ApiError> {
    account(state, auth, acct_no).await?;
    refresh(state, auth, acct_no).await?;
    balance_view(state, auth, acct_no).await
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChargeInput {
    amount: i64,
    currency: Currency,
    #[serde(default)]
    description: Option<String>,
}

/// `POST /v1/accounts/{acct_no}/balance_entries`: an amount the account owes, charged later by
/// a settle.
pub async fn add_charge(
    state: &AppState,
    auth: &Auth,
    acct_no: i64,
    body: Map<String, Value>,
) -> Result<Value, ApiError> {
    account(state, auth, acct_no).await?;
    let input: ChargeInput = parse(Value::Object(body))?;
    if !(1..=99_999_999).contains(&input.amount) {
        return Err(ApiError::invalid(
            "amount",
            "amount: must be 1 to 99999999 minor units",
        ));
    }
    if let Some(d) = &input.description {
        kassa_domain::text::check_text(d, 250).map_err(|e| e.under("description"))?;
    }
    let e = state
        .store
        .insert_balance_entry(&BalanceEntryRecord {
            client_no: auth.client_no,
            acct_no,
            currency: input.currency.as_str().into(),
            amount: input.amount,
            kind: "charge".into(),
            status: "applied".into(),
            description: input.description,
            ..Default::default()
        })
        .await?
        .ok_or_else(|| ApiError::internal("balance entry conflict"))?;
    Ok(entry_view(&e))
}

/// A failed rebill's cycle becomes a debt of the account (once per purchase and cycle).
pub async fn owe_failed_rebill(
    state: &AppState,
    p: &PurchaseRecord,
    cycle: i64,
    amount: i64,
) -> Result<(), ApiError> {
    state
        .store
        .insert_balance_entry(&BalanceEntryRecord {
            client_no: p.client_no,
            acct_no: p.acct_no,
            currency: p.currency.clone(),
            amount,
            kind: "rebill".into(),
            status: "applied".into(),
            purchase_id: Some(p.id.clone()),
            cycle: Some(cycle),
            description: Some(format!("cycle {cycle} of purchase {}", p.id)),
            ..Default::default()
        })
        .await?;
    Ok(())
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PayInput {
    /// `collect` only: the amount to charge now.
    #[serde(default)]
    amount: Option<i64>,
    /// Default: the only currency the account owes in (settle), required for collect.
    #[serde(default)]
    currency: Option<Currency>,
    /// Default: the account's newest active card.
    #[serde(default)]
    payment_method_no: Option<i64>,
    /// 0–3 (a number in documents).
    #[serde(default)]
    #[schema(value_type = Option<i64>, minimum = 0, maximum = 3)]
    recurring_processing_model_ind: Option<RecurringModel>,
    #[serde(default)]
    gateway_id: Option<i64>,
    #[serde(default)]
    description: Option<String>,
}

/// `POST /v1/accounts/{acct_no}/settle` (`collect` false) and `…/collect` (true).
pub async fn pay(
    state: &AppState,
    auth: &Auth,
    acct_no: i64,
    body: Map<String, Value>,
    collect: bool,
) -> Result<Value, ApiError> {
    account(state, auth, acct_no).await?;
    let input: PayInput = parse(Value::Object(body))?;
    let amount = match (collect, input.amount) {
        (true, Some(a)) if (1..=99_999_999).contains(&a) => Some(a),
        (true, Some(_)) => {
            return Err(ApiError::invalid(
                "amount",
                "amount: must be 1 to 99999999 minor units",
            ))
        }
        (true, None) => {
            return Err(ApiError::InvalidRequest {
                param: Some("amount".into()),
                code: "parameter_missing",
                message: "amount: is required".into(),
            })
        }
        (false, Some(_)) => {
            return Err(ApiError::invalid(
                "amount",
                "amount: a settle charges the whole balance; use collect for an amount",
            ))
        }
        (false, None) => None,
    };
    if let Some(d) = &input.description {
        kassa_domain::text::check_text(d, 250).map_err(|e| e.under("description"))?;
    }
    refresh(state, auth, acct_no).await?;
    let currency = match (input.currency, collect) {
        (Some(c), _) => c.as_str().to_string(),
        (None, true) => {
            return Err(ApiError::InvalidRequest {
                param: Some("currency".into()),
                code: "parameter_missing",
                message: "currency: is required".into(),
            })
        }
        (None, false) => {
            let owed: Vec<String> = state
                .store
                .account_balances(auth.client_no, acct_no)
                .await?
                .into_iter()
                .filter(|(_, a)| *a > 0)
                .map(|(c, _)| c)
                .collect();
            match owed.as_slice() {
                [c] => c.clone(),
                [] => return Err(nothing_owed()),
                _ => {
                    return Err(ApiError::InvalidRequest {
                        param: Some("currency".into()),
                        code: "parameter_missing",
                        message: format!(
                            "currency: the account owes in {}; settle one at a time",
                            owed.join(", ")
                        ),
                    })
                }
            }
        }
    };
    let pm_no = match input.payment_method_no {
        Some(no) => no,
        None => state
            .store
            .list_payment_methods(auth.client_no, acct_no)
            .await?
            .into_iter()
            .find(|pm| {
                pm.kind == "card"
                    && pm.status == "active"
                    && input.gateway_id.is_none_or(|g| pm.gateway_id == Some(g))
            })
            .map(|pm| pm.pm_no)
            .ok_or_else(|| ApiError::InvalidRequest {
                param: Some("payment_method_no".into()),
                code: "parameter_missing",
                message: "payment_method_no: the account has no active stored card; give one"
                    .into(),
            })?,
    };
    let payment_id = kassa_secrets::new_id("pay_")?;
    let kind = if collect { "collect" } else { "settle" };
    let claimed = state
        .store
        .claim_balance_payment(
            &BalanceEntryRecord {
                client_no: auth.client_no,
                acct_no,
                currency: currency.clone(),
                kind: kind.into(),
                payment_id: Some(payment_id.clone()),
                description: input.description.clone(),
                ..Default::default()
            },
            amount,
        )
        .await?
        .ok_or_else(nothing_owed)?;
    let mut req = Map::new();
    req.insert("acct_no".into(), json!(acct_no));
    req.insert("amount".into(), json!(claimed));
    req.insert("currency".into(), json!(currency));
    req.insert("payment_method_no".into(), json!(pm_no));
    if let Some(m) = input.recurring_processing_model_ind {
        req.insert("recurring_processing_model_ind".into(), json!(m));
    }
    if let Some(g) = input.gateway_id {
        req.insert("gateway_id".into(), json!(g));
    }
    req.insert(
        "description".into(),
        json!(input
            .description
            .unwrap_or_else(|| format!("{kind} of account {acct_no}"))),
    );
    req.insert("metadata".into(), json!({"kassa_balance": kind}));
    match super::payments::create_with_id(state, auth, req, Some(payment_id.clone())).await {
        Ok((view, _)) => {
            if let Some(s) = outcome(&view.status) {
                state.store.finish_balance_payment(&payment_id, s).await?;
            }
            let mut v = balance_view(state, auth, acct_no).await?;
            v["payment"] = serde_json::to_value(&view).map_err(ApiError::internal)?;
            Ok(v)
        }
        Err(e @ ApiError::Card { .. }) => {
            state
                .store
                .finish_balance_payment(&payment_id, "void")
                .await?;
            Err(e)
        }
        Err(e) => {
            // Refused before a payment was made: nothing stays written. Otherwise the
            // payment's outcome is unknown and the entry stays pending until it is known.
            match state.store.get_payment(auth.client_no, &payment_id).await {
                Err(StorageError::NotFound) => {
                    state.store.drop_balance_payment(&payment_id).await?
                }
                Ok(p) => {
                    if let Some(s) = outcome(&p.status) {
                        state.store.finish_balance_payment(&payment_id, s).await?;
                    }
                }
                Err(other) => {
                    tracing::warn!(error = %other, payment = %payment_id, "balance payment left pending")
                }
            }
            Err(e)
        }
    }
}

fn nothing_owed() -> ApiError {
    ApiError::unprocessable(
        None,
        "nothing_to_settle",
        "the account owes nothing in this currency",
    )
}
