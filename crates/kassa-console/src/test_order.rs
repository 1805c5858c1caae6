//! "Place a test order" on a campaign's page: what the seed asks before a gateway goes live (a
//! dedicated test campaign, an un-shippable $1 offer, one order with a real card, then Force Bill
//! NOW on the purchase). The customer is found or made by email; the order goes through the same
//! service as `POST /v1/orders`. The card number is passed to Stripe and never kept or logged.

use std::collections::HashMap;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use kassa_api::service::{accounts, billing};
use kassa_api::{ApiError, AppState};
use kassa_storage::{AccountFilter, PageRequest};
use serde_json::{json, Map, Value};

use crate::campaigns::{campaign_page, ProductForm};
use crate::pages::{api_error, error_page};
use crate::session::{csrf_refused, Session};

fn object(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

/// The test customer's account: the one with this `client_acct_id`, else a new one.
async fn test_account(
    state: &AppState,
    session: &Session,
    form: &HashMap<String, String>,
) -> Result<i64, ApiError> {
    let t = |k: &str| {
        form.get(k)
            .map(|s| s.trim().to_string())
            .unwrap_or_default()
    };
    let email = t("email");
    let client_acct_id = format!("test-{}", email.to_ascii_lowercase());
    let filter = AccountFilter {
        client_acct_id: Some(client_acct_id.clone()),
        ..Default::default()
    };
    let page = PageRequest {
        limit: 1,
        starting_after: None,
    };
    let found = state
        .store
        .list_accounts(session.auth.client_no, &filter, page)
        .await?;
    if let Some(a) = found.data.first() {
        return Ok(a.acct_no);
    }
    let mut body = json!({"client_acct_id": client_acct_id, "email": email});
    for k in ["first_name", "last_name"] {
        if !t(k).is_empty() {
            body[k] = json!(t(k));
        }
    }
    let mut address = Map::new();
    for k in ["line1", "city", "postal_code", "country"] {
        if !t(k).is_empty() {
            address.insert(k.into(), json!(t(k)));
        }
    }
    if !address.is_empty() {
        body["billing_address"] = Value::Object(address);
    }
    Ok(accounts::create(state, &session.auth, object(body))
        .await?
        .acct_no)
}

pub async fn place(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    if !session.csrf_ok(&form) {
        return csrf_refused();
    }
    let Ok(campaign_id) = id.parse::<i64>() else {
        return error_page(StatusCode::NOT_FOUND, "No such campaign.");
    };
    let t = |k: &str| {
        form.get(k)
            .map(|s| s.trim().to_string())
            .unwrap_or_default()
    };
    let Ok(product_id) = t("product_id").parse::<i64>() else {
        let m = "product_id: choose the product to order".to_string();
        return campaign_page(&state, &session, &id, ProductForm::default(), None, Some(m)).await;
    };
    let whole = |k: &str| t(k).parse::<i64>().ok();
    let result = async {
        let acct_no = test_account(&state, &session, &form).await?;
        let body = json!({"campaign_id": campaign_id, "acct_no": acct_no, "items": [{"product_id": product_id, "quantity": 1}],
            "card": {"number": t("card_number").replace(' ', ""), "exp_month": whole("exp_month"), "exp_year": whole("exp_year"), "cvc": t("cvc")}});
        billing::create_order(&state, &session.auth, object(body))
            .await
            .map(|o| (acct_no, o))
    }
    .await;
    match result {
        Ok((acct_no, _)) => {
            Redirect::to(&format!("/console/customers/{acct_no}?done=ordered")).into_response()
        }
        Err(
            e @ (ApiError::InvalidRequest { .. }
            | ApiError::Unprocessable { .. }
            | ApiError::Card { .. }
            | ApiError::Conflict { .. }),
        ) => {
            let m = format!("Test order not placed: {e}");
            campaign_page(&state, &session, &id, ProductForm::default(), None, Some(m)).await
        }
        Err(e) => api_error(e),
    }
}
