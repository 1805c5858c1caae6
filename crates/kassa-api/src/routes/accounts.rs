//! `/v1/accounts`: billing accounts.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use kassa_domain::billing_account::AccountProfile;
use kassa_storage::AccountFilter;
use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::Auth;
use crate::error::ErrorBody;
use crate::json::{path_id, JsonObject, QueryMap};
use crate::service::accounts as svc;
use crate::views::{AccountView, ListView, StatusHistoryView};
use crate::{ApiError, AppState};

/// Body of `POST /v1/accounts`; `PATCH` takes any of these fields as a JSON merge patch.
#[derive(Serialize, ToSchema)]
#[allow(dead_code)]
pub struct AccountCreate {
    /// `active` (default), or another account status.
    status: Option<String>,
    #[serde(flatten)]
    profile: AccountProfile,
}

#[utoipa::path(operation_id = "create_account", post, path = "/v1/accounts", tag = "accounts", request_body = AccountCreate,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes a retry safe")),
    responses((status = 201, body = AccountView), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    auth: Auth,
    JsonObject(body): JsonObject,
) -> Result<(StatusCode, Json<AccountView>), ApiError> {
    Ok((
        StatusCode::CREATED,
        Json(svc::create(&state, &auth, body).await?),
    ))
}

#[utoipa::path(operation_id = "list_accounts", get, path = "/v1/accounts", tag = "accounts",
    params(
        ("limit" = Option<i64>, Query, minimum = 1, maximum = 100, description = "1–100, default 10"),
        ("starting_after" = Option<i64>, Query, description = "The last acct_no of the previous page"),
        ("status" = Option<String>, Query),
        ("email" = Option<String>, Query),
        ("client_acct_id" = Option<String>, Query),
        ("collection_group_no" = Option<i64>, Query),
    ),
    responses((status = 200, body = ListView<AccountView>), (status = 400, body = ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    auth: Auth,
    q: QueryMap,
) -> Result<Json<ListView<AccountView>>, ApiError> {
    q.only(&[
        "limit",
        "starting_after",
        "status",
        "email",
        "client_acct_id",
        "collection_group_no",
    ])?;
    let page = q.page()?;
    if let Some(s) = q.get("status") {
        kassa_domain::billing_account::parse_status(s)?;
    }
    let filter = AccountFilter {
        status: q.get("status").map(str::to_string),
        email: q.get("email").map(str::to_string),
        client_acct_id: q.get("client_acct_id").map(str::to_string),
        collection_group_no: q.int("collection_group_no")?,
    };
    let p = svc::list(&state, &auth, filter, page).await?;
    Ok(Json(ListView::new(p.data, p.has_more)))
}

#[utoipa::path(operation_id = "get_account", get, path = "/v1/accounts/{acct_no}", tag = "accounts", params(("acct_no" = i64, Path)),
    responses((status = 200, body = AccountView), (status = 404, body = ErrorBody)))]
pub async fn get(
    State(state): State<AppState>,
    auth: Auth,
    Path(no): Path<String>,
) -> Result<Json<AccountView>, ApiError> {
    Ok(Json(
        svc::get(&state, &auth, path_id(&no, "account")?).await?,
    ))
}

#[utoipa::path(operation_id = "update_account", patch, path = "/v1/accounts/{acct_no}", tag = "accounts", params(("acct_no" = i64, Path)), request_body = AccountCreate,
    responses((status = 200, body = AccountView), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn update(
    State(state): State<AppState>,
    auth: Auth,
    Path(no): Path<String>,
    JsonObject(body): JsonObject,
) -> Result<Json<AccountView>, ApiError> {
    Ok(Json(
        svc::update(&state, &auth, path_id(&no, "account")?, body).await?,
    ))
}

#[utoipa::path(operation_id = "list_account_status_history", get, path = "/v1/accounts/{acct_no}/status_history", tag = "accounts", params(("acct_no" = i64, Path)),
    responses((status = 200, body = ListView<StatusHistoryView>), (status = 404, body = ErrorBody)))]
pub async fn status_history(
    State(state): State<AppState>,
    auth: Auth,
    Path(no): Path<String>,
) -> Result<Json<ListView<StatusHistoryView>>, ApiError> {
    Ok(Json(ListView::new(
        svc::status_history(&state, &auth, path_id(&no, "account")?).await?,
        false,
    )))
}
