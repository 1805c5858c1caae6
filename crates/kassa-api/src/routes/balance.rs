//! `/v1/accounts/{acct_no}/balance`, `…/balance_entries`, `…/settle`, `…/collect`: what an account
//! owes, and the seed's settle_account_balance / collect_from_account.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde_json::Value;

use crate::auth::Auth;
use crate::error::ErrorBody;
use crate::json::{path_id, JsonObject};
use crate::routes::answers::{BalanceEntryView, BalancePaid, BalanceView};
use crate::service::balance as svc;
use crate::{ApiError, AppState};

const PAY: &str = "`payment_method_no` (default: the newest active card), `recurring_processing_model_ind` (0–3, as for payments), `gateway_id`, `description`";

#[utoipa::path(operation_id = "get_account_balance", get, path = "/v1/accounts/{acct_no}/balance", tag = "accounts", params(("acct_no" = i64, Path)),
    responses((status = 200, description = "The balance per currency (failed rebills and charges owed, less payments; pending payments count) and its entries, newest first", body = BalanceView), (status = 404, body = ErrorBody)))]
pub async fn get(
    State(state): State<AppState>,
    auth: Auth,
    Path(acct_no): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let acct_no = path_id(&acct_no, "account")?;
    Ok(Json(svc::get(&state, &auth, acct_no).await?))
}

#[utoipa::path(operation_id = "create_balance_entry", post, path = "/v1/accounts/{acct_no}/balance_entries", tag = "accounts", params(("acct_no" = i64, Path)),
    request_body(content = crate::service::balance::ChargeInput, description = "`amount` (minor units, owed), `currency`, `description`"),
    responses((status = 201, description = "The entry: the account owes it until a settle", body = BalanceEntryView), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn add_charge(
    State(state): State<AppState>,
    auth: Auth,
    Path(acct_no): Path<String>,
    JsonObject(body): JsonObject,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let acct_no = path_id(&acct_no, "account")?;
    Ok((
        StatusCode::CREATED,
        Json(svc::add_charge(&state, &auth, acct_no, body).await?),
    ))
}

#[utoipa::path(operation_id = "settle_account_balance", post, path = "/v1/accounts/{acct_no}/settle", tag = "accounts", params(("acct_no" = i64, Path)),
    request_body(content = crate::service::balance::PayInput, description = PAY),
    responses((status = 200, description = "The balance after, with the `payment`", body = BalancePaid), (status = 400, body = ErrorBody), (status = 402, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn settle(
    State(state): State<AppState>,
    auth: Auth,
    Path(acct_no): Path<String>,
    JsonObject(body): JsonObject,
) -> Result<Json<Value>, ApiError> {
    let acct_no = path_id(&acct_no, "account")?;
    Ok(Json(svc::pay(&state, &auth, acct_no, body, false).await?))
}

#[utoipa::path(operation_id = "collect_from_account", post, path = "/v1/accounts/{acct_no}/collect", tag = "accounts", params(("acct_no" = i64, Path)),
    request_body(content = crate::service::balance::PayInput, description = "`amount`, `currency` and, as for settle, `payment_method_no`, `recurring_processing_model_ind`, `gateway_id`, `description`"),
    responses((status = 200, description = "The balance after (the payment counts against it), with the `payment`", body = BalancePaid), (status = 400, body = ErrorBody), (status = 402, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn collect(
    State(state): State<AppState>,
    auth: Auth,
    Path(acct_no): Path<String>,
    JsonObject(body): JsonObject,
) -> Result<Json<Value>, ApiError> {
    let acct_no = path_id(&acct_no, "account")?;
    Ok(Json(svc::pay(&state, &auth, acct_no, body, true).await?))
}
