//! `/v1/accounts/{acct_no}/payment_methods` and `/v1/payments`.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::Auth;
use crate::error::ErrorBody;
use crate::json::{path_id, JsonObject, QueryMap};
use crate::service::payment_methods as pms;
use crate::service::payment_ops::{self as ops, Op};
use crate::service::payments as svc;
use crate::views::{ListView, PaymentMethodView, PaymentView};
use crate::{ApiError, AppState};

/// Body of `POST /v1/accounts/{acct_no}/payment_methods`: exactly one of `card`, `token`,
/// `bank_account`; `gateway_id` or `collection_group_no` to choose the gateway (else the
/// account's collection group decides).
#[derive(Serialize, ToSchema)]
#[allow(dead_code)]
pub struct PaymentMethodCreate {
    /// `{number, exp_month, exp_year, cvc, billing_address, name}`; checked locally (Luhn, brand,
    /// expiry, CVC), tokenized at Stripe, never stored.
    #[schema(value_type = Option<Object>)]
    card: Option<serde_json::Value>,
    /// `payment_method_id:customer_id`, made outside Kassa; checked at Stripe before it is stored.
    token: Option<String>,
    /// `{routing_number, account_number, holder_type: individual|company, holder_name}`; stored encrypted.
    #[schema(value_type = Option<Object>)]
    bank_account: Option<serde_json::Value>,
    gateway_id: Option<i64>,
    collection_group_no: Option<i64>,
    /// With `card`: save it through 3-D Secure (a Stripe SetupIntent). The answer may be
    /// `status: requires_action` with `redirect_issuer_url`; then `authorize_3ds` finishes.
    attempt_3d_secure: Option<bool>,
}

/// Body of `POST /v1/payments`.
#[derive(Serialize, ToSchema)]
#[allow(dead_code)]
pub struct PaymentCreate {
    acct_no: i64,
    /// A stored payment method; or `token`; or `card` (an alternate card).
    payment_method_no: Option<i64>,
    token: Option<String>,
    #[schema(value_type = Option<Object>)]
    card: Option<serde_json::Value>,
    /// Store the alternate `card` for later payments.
    store: Option<bool>,
    /// Minor units, more than 0.
    amount: i64,
    currency: String,
    /// `false`: authorize only.
    capture: Option<bool>,
    /// 0 (default for a stored card), 1 (default for a new card), 2, 3.
    recurring_processing_model_ind: Option<i64>,
    soft_descriptor: Option<String>,
    description: Option<String>,
    /// `[{name, amount, quantity, sku}]`.
    #[schema(value_type = Option<Vec<Object>>)]
    products: Option<Vec<serde_json::Value>>,
    level23: Option<kassa_domain::level23::Level23>,
    radar_session: Option<String>,
    collection_group_no: Option<i64>,
    gateway_id: Option<i64>,
    metadata: Option<std::collections::BTreeMap<String, String>>,
}

/// Body of capture and refund: `amount` (all that is possible when left out).
#[derive(Serialize, ToSchema)]
#[allow(dead_code)]
pub struct AmountBody {
    amount: Option<i64>,
}

fn amount(body: &mut serde_json::Map<String, serde_json::Value>) -> Result<Option<i64>, ApiError> {
    let a = crate::service::take_i64(body, "amount")?;
    if let Some(k) = body.keys().next() {
        return Err(ApiError::InvalidRequest {
            param: Some(k.clone()),
            code: "parameter_unknown",
            message: format!("unknown field `{k}`"),
        });
    }
    Ok(a)
}

#[utoipa::path(operation_id = "create_payment_method", post, path = "/v1/accounts/{acct_no}/payment_methods", tag = "payment_methods", params(("acct_no" = i64, Path)), request_body = PaymentMethodCreate,
    responses((status = 201, body = PaymentMethodView), (status = 400, body = ErrorBody), (status = 402, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create_pm(
    State(state): State<AppState>,
    auth: Auth,
    Path(no): Path<String>,
    JsonObject(body): JsonObject,
) -> Result<(StatusCode, Json<PaymentMethodView>), ApiError> {
    Ok((
        StatusCode::CREATED,
        Json(pms::create(&state, &auth, path_id(&no, "account")?, body).await?),
    ))
}

#[utoipa::path(operation_id = "list_payment_methods", get, path = "/v1/accounts/{acct_no}/payment_methods", tag = "payment_methods", params(("acct_no" = i64, Path)),
    responses((status = 200, body = ListView<PaymentMethodView>), (status = 404, body = ErrorBody)))]
pub async fn list_pms(
    State(state): State<AppState>,
    auth: Auth,
    Path(no): Path<String>,
) -> Result<Json<ListView<PaymentMethodView>>, ApiError> {
    Ok(Json(ListView::new(
        pms::list(&state, &auth, path_id(&no, "account")?).await?,
        false,
    )))
}

#[utoipa::path(operation_id = "get_payment_method", get, path = "/v1/accounts/{acct_no}/payment_methods/{pm_no}", tag = "payment_methods", params(("acct_no" = i64, Path), ("pm_no" = i64, Path)),
    responses((status = 200, body = PaymentMethodView), (status = 404, body = ErrorBody)))]
pub async fn get_pm(
    State(state): State<AppState>,
    auth: Auth,
    Path((no, pm)): Path<(String, String)>,
) -> Result<Json<PaymentMethodView>, ApiError> {
    Ok(Json(
        pms::get(
            &state,
            &auth,
            path_id(&no, "account")?,
            path_id(&pm, "payment method")?,
        )
        .await?,
    ))
}

#[utoipa::path(operation_id = "delete_payment_method", delete, path = "/v1/accounts/{acct_no}/payment_methods/{pm_no}", tag = "payment_methods", params(("acct_no" = i64, Path), ("pm_no" = i64, Path)),
    responses((status = 200, body = PaymentMethodView), (status = 404, body = ErrorBody)))]
pub async fn delete_pm(
    State(state): State<AppState>,
    auth: Auth,
    Path((no, pm)): Path<(String, String)>,
) -> Result<Json<PaymentMethodView>, ApiError> {
    Ok(Json(
        pms::delete(
            &state,
            &auth,
            path_id(&no, "account")?,
            path_id(&pm, "payment method")?,
        )
        .await?,
    ))
}

#[utoipa::path(operation_id = "create_payment", post, path = "/v1/payments", tag = "payments", request_body = PaymentCreate,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes a retry safe: the same key never charges twice")),
    responses((status = 201, body = PaymentView), (status = 400, body = ErrorBody), (status = 402, body = ErrorBody, description = "Declined; the payment is recorded and its id is in the error"), (status = 422, body = ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    auth: Auth,
    JsonObject(body): JsonObject,
) -> Result<(StatusCode, Json<PaymentView>), ApiError> {
    let (view, _) = svc::create(&state, &auth, body).await?;
    Ok((StatusCode::CREATED, Json(view)))
}

#[utoipa::path(operation_id = "list_payments", get, path = "/v1/payments", tag = "payments",
    params(("limit" = Option<i64>, Query, minimum = 1, maximum = 100, description = "1–100, default 10"), ("starting_after" = Option<String>, Query), ("acct_no" = Option<i64>, Query), ("status" = Option<String>, Query),
        ("gateway_id" = Option<i64>, Query), ("card_brand" = Option<String>, Query, description = "visa, mastercard, amex, …"),
        ("initiator" = Option<String>, Query, description = "cit or mit"),
        ("created_from" = Option<String>, Query, description = "YYYY-MM-DD (UTC), included"), ("created_to" = Option<String>, Query, description = "YYYY-MM-DD (UTC), included")),
    responses((status = 200, body = ListView<PaymentView>), (status = 400, body = ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    auth: Auth,
    q: QueryMap,
) -> Result<Json<ListView<PaymentView>>, ApiError> {
    q.only(&[
        "limit",
        "starting_after",
        "acct_no",
        "status",
        "gateway_id",
        "card_brand",
        "initiator",
        "created_from",
        "created_to",
    ])?;
    let limit = q.int("limit")?.unwrap_or(10);
    if !(1..=100).contains(&limit) {
        return Err(ApiError::invalid(
            "limit",
            "limit: must be between 1 and 100",
        ));
    }
    let filter = svc::payment_filter(&q.0)?;
    let (data, more) = svc::list(&state, &auth, &filter, limit, q.get("starting_after")).await?;
    Ok(Json(ListView::new(data, more)))
}

#[utoipa::path(operation_id = "get_payment", get, path = "/v1/payments/{id}", tag = "payments", params(("id" = String, Path)),
    responses((status = 200, body = PaymentView), (status = 404, body = ErrorBody)))]
pub async fn get(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<Json<PaymentView>, ApiError> {
    Ok(Json(svc::get(&state, &auth, &id).await?))
}

#[utoipa::path(operation_id = "capture_payment", post, path = "/v1/payments/{id}/capture", tag = "payments", params(("id" = String, Path)), request_body = AmountBody,
    responses((status = 200, body = PaymentView), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn capture(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    JsonObject(mut body): JsonObject,
) -> Result<Json<PaymentView>, ApiError> {
    let amount = amount(&mut body)?;
    Ok(Json(
        ops::operate_by_id(&state, &auth, &id, Op::Capture { amount }).await?,
    ))
}

#[utoipa::path(operation_id = "void_payment", post, path = "/v1/payments/{id}/void", tag = "payments", params(("id" = String, Path)),
    responses((status = 200, body = PaymentView), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn void(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<Json<PaymentView>, ApiError> {
    Ok(Json(
        ops::operate_by_id(&state, &auth, &id, Op::Void).await?,
    ))
}

#[utoipa::path(operation_id = "void_authorization", post, path = "/v1/authorizations/{auth_no}/void", tag = "payments", params(("auth_no" = String, Path)),
    responses((status = 200, body = PaymentView), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn void_by_auth_no(
    State(state): State<AppState>,
    auth: Auth,
    Path(auth_no): Path<String>,
) -> Result<Json<PaymentView>, ApiError> {
    Ok(Json(ops::void_by_auth_no(&state, &auth, &auth_no).await?))
}

#[utoipa::path(operation_id = "refund_payment", post, path = "/v1/payments/{id}/refunds", tag = "payments", params(("id" = String, Path)), request_body = AmountBody,
    responses((status = 200, body = PaymentView), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn refund(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    JsonObject(mut body): JsonObject,
) -> Result<Json<PaymentView>, ApiError> {
    let amount = amount(&mut body)?;
    Ok(Json(
        ops::operate_by_id(&state, &auth, &id, Op::Refund { amount }).await?,
    ))
}

#[utoipa::path(operation_id = "authorize_3ds", post, path = "/v1/payments/{id}/authorize_3ds", tag = "payments", params(("id" = String, Path)),
    responses((status = 200, body = PaymentView), (status = 402, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody, description = "The shopper has not completed the challenge")))]
pub async fn authorize_3ds(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<Json<PaymentView>, ApiError> {
    Ok(Json(
        crate::service::sca::authorize(&state, &auth, &id).await?,
    ))
}

/// Body of `POST /v1/payments/{id}/upsell`.
#[derive(Serialize, ToSchema)]
#[allow(dead_code)]
pub struct UpsellBody {
    amount: i64,
    /// Defaults to the earlier payment's.
    currency: Option<String>,
    capture: Option<bool>,
    description: Option<String>,
    #[schema(value_type = Option<Vec<Object>>)]
    products: Option<Vec<serde_json::Value>>,
    soft_descriptor: Option<String>,
    level23: Option<kassa_domain::level23::Level23>,
}

#[utoipa::path(operation_id = "upsell_payment", post, path = "/v1/payments/{id}/upsell", tag = "payments", params(("id" = String, Path)), request_body = UpsellBody,
    responses((status = 201, body = PaymentView), (status = 402, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody, description = "The gateway does not send upsell tokens")))]
pub async fn upsell(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    JsonObject(body): JsonObject,
) -> Result<(StatusCode, Json<PaymentView>), ApiError> {
    Ok((
        StatusCode::CREATED,
        Json(crate::service::checkout::upsell(&state, &auth, &id, body).await?),
    ))
}

#[utoipa::path(operation_id = "create_fraud_score", post, path = "/v1/fraud_scores", tag = "payments", request_body = PaymentCreate,
    responses((status = 200, body = crate::views::FraudScoreView), (status = 400, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn fraud_score(
    State(state): State<AppState>,
    auth: Auth,
    JsonObject(body): JsonObject,
) -> Result<Json<crate::views::FraudScoreView>, ApiError> {
    Ok(Json(
        crate::service::checkout::fraud_score(&state, &auth, body).await?,
    ))
}

#[utoipa::path(operation_id = "authorize_payment_method_3ds", post, path = "/v1/accounts/{acct_no}/payment_methods/{pm_no}/authorize_3ds", tag = "payment_methods", params(("acct_no" = i64, Path), ("pm_no" = i64, Path)),
    responses((status = 200, body = PaymentMethodView), (status = 402, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn authorize_pm_3ds(
    State(state): State<AppState>,
    auth: Auth,
    Path((no, pm)): Path<(String, String)>,
) -> Result<Json<PaymentMethodView>, ApiError> {
    Ok(Json(
        crate::service::card_setup::authorize(
            &state,
            &auth,
            path_id(&no, "account")?,
            path_id(&pm, "payment method")?,
        )
        .await?,
    ))
}

#[utoipa::path(operation_id = "payment_method_history", get, path = "/v1/accounts/{acct_no}/payment_methods/{pm_no}/history", tag = "payment_methods", params(("acct_no" = i64, Path), ("pm_no" = i64, Path)),
    responses((status = 200, body = ListView<crate::views::CardChangeView>), (status = 404, body = ErrorBody)))]
pub async fn pm_history(
    State(state): State<AppState>,
    auth: Auth,
    Path((no, pm)): Path<(String, String)>,
) -> Result<Json<ListView<crate::views::CardChangeView>>, ApiError> {
    let (acct_no, pm_no) = (path_id(&no, "account")?, path_id(&pm, "payment method")?);
    pms::get(&state, &auth, acct_no, pm_no).await?;
    let rows = state
        .store
        .payment_method_history(auth.client_no, pm_no)
        .await?;
    let data = rows
        .into_iter()
        .map(|(changes, source, at)| crate::views::CardChangeView {
            object: "payment_method_change",
            changes: serde_json::from_str(&changes).unwrap_or(serde_json::Value::Null),
            source,
            created_at: crate::views::timestamp(at),
        })
        .collect();
    Ok(Json(ListView::new(data, false)))
}
