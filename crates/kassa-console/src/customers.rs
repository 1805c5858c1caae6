//! Customers: search, and a profile with the account's cards, purchases and payments, and the
//! buttons an operator needs — Force Bill NOW and cancel on a purchase, refund and void on a
//! payment (each CSRF-protected, through the same services as the API).

use std::collections::HashMap;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use kassa_api::service::payment_ops::{operate_by_id, Op};
use kassa_api::AppState;
use kassa_domain::billing_account::AccountProfile;
use kassa_storage::{AccountFilter, PageRequest, PaymentFilter};

use crate::pages::{api_error, error_page, money};
use crate::session::{csrf_refused, render, Session};

pub struct AccountRow {
    pub acct_no: i64,
    pub client_acct_id: String,
    pub name: String,
    pub email: String,
    pub status: String,
}

#[derive(Template)]
#[template(path = "customers.html")]
struct SearchPage {
    who: String,
    csrf: String,
    q: String,
    rows: Vec<AccountRow>,
}

fn row(a: &kassa_storage::AccountRecord) -> AccountRow {
    let name = serde_json::from_str::<AccountProfile>(&a.profile)
        .ok()
        .and_then(|p| p.display_name())
        .unwrap_or_default();
    AccountRow {
        acct_no: a.acct_no,
        client_acct_id: a.client_acct_id.clone(),
        name,
        email: a.email.clone().unwrap_or_default(),
        status: a.status.clone(),
    }
}

/// `?q=` finds by account number, the client's account id, or the exact email; empty lists the
/// newest accounts.
pub async fn search(
    State(state): State<AppState>,
    session: Session,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let term = q.get("q").map(|s| s.trim().to_string()).unwrap_or_default();
    let client = session.auth.client_no;
    let page = PageRequest {
        limit: 50,
        starting_after: None,
    };
    let mut found = Vec::new();
    if let Ok(no) = term.parse::<i64>() {
        if let Ok(a) = state.store.get_account(client, no).await {
            found.push(a);
        }
    }
    let filters = if term.is_empty() {
        vec![AccountFilter::default()]
    } else if term.contains('@') {
        vec![AccountFilter {
            email: Some(term.clone()),
            ..Default::default()
        }]
    } else {
        vec![AccountFilter {
            client_acct_id: Some(term.clone()),
            ..Default::default()
        }]
    };
    for f in filters {
        match state.store.list_accounts(client, &f, page).await {
            Ok(p) => found.extend(p.data),
            Err(e) => return api_error(e.into()),
        }
    }
    let mut seen = std::collections::HashSet::new();
    found.retain(|a| seen.insert(a.acct_no));
    render(&SearchPage {
        who: session.key_label.clone(),
        csrf: session.csrf.clone(),
        q: term,
        rows: found.iter().map(row).collect(),
    })
}

pub struct CardRow {
    pub no: i64,
    pub card: String,
    pub expiry: String,
    pub status: String,
    pub three_ds: String,
}

pub struct PurchaseRow {
    pub id: String,
    pub status: String,
    pub cycle: i64,
    pub next_bill: String,
    pub live: bool,
}

pub struct PaymentRow {
    pub id: String,
    pub created: String,
    pub amount: String,
    pub status: String,
    pub initiator: &'static str,
    pub fraud: String,
    pub three_ds: String,
    pub refundable: bool,
    pub voidable: bool,
}

#[derive(Template)]
#[template(path = "customer.html")]
struct ProfilePage {
    who: String,
    csrf: String,
    notice: Option<String>,
    account: AccountRow,
    cards: Vec<CardRow>,
    purchases: Vec<PurchaseRow>,
    payments: Vec<PaymentRow>,
}

fn day(ts: &str) -> String {
    ts.get(..16).unwrap_or(ts).replace('T', " ")
}

pub async fn profile(
    State(state): State<AppState>,
    session: Session,
    Path(no): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let Ok(acct_no) = no.parse::<i64>() else {
        return error_page(StatusCode::NOT_FOUND, "No such customer.");
    };
    let client = session.auth.client_no;
    let account = match state.store.get_account(client, acct_no).await {
        Ok(a) => a,
        Err(kassa_storage::StorageError::NotFound) => {
            return error_page(StatusCode::NOT_FOUND, "No such customer.")
        }
        Err(e) => return api_error(e.into()),
    };
    let cards =
        match kassa_api::service::payment_methods::list(&state, &session.auth, acct_no).await {
            Ok(c) => c,
            Err(e) => return api_error(e),
        };
    let purchases = match state
        .store
        .list_purchases(client, Some(acct_no), None)
        .await
    {
        Ok(p) => p,
        Err(e) => return api_error(e.into()),
    };
    let filter = PaymentFilter {
        acct_no: Some(acct_no),
        ..Default::default()
    };
    let payments =
        match kassa_api::service::payments::list(&state, &session.auth, &filter, 50, None).await {
            Ok((p, _)) => p,
            Err(e) => return api_error(e),
        };
    let notice = q.get("done").map(|d| {
        match d.as_str() {
            "billed" => "Billed now (Force Bill NOW).",
            "cancelled" => "Purchase cancelled.",
            "refunded" => "Payment refunded.",
            "voided" => "Authorization voided.",
            _ => "Done.",
        }
        .to_string()
    });
    render(&ProfilePage {
        who: session.key_label.clone(),
        csrf: session.csrf.clone(),
        notice,
        account: row(&account),
        cards: cards
            .iter()
            .map(|c| CardRow {
                no: c.payment_method_no,
                card: format!(
                    "{} {}",
                    c.brand.clone().unwrap_or_else(|| c.kind.clone()),
                    c.last4.clone().unwrap_or_default()
                ),
                expiry: match (c.exp_month, c.exp_year) {
                    (Some(m), Some(y)) => format!("{m:02}/{y}"),
                    _ => String::new(),
                },
                status: c.status.clone(),
                three_ds: c
                    .three_ds
                    .as_ref()
                    .and_then(|t| t["outcome"].as_str().map(str::to_string))
                    .unwrap_or_default(),
            })
            .collect(),
        purchases: purchases
            .iter()
            .map(|p| PurchaseRow {
                id: p.id.clone(),
                status: p.status.clone(),
                cycle: p.cycle,
                next_bill: p
                    .next_bill_at
                    .map(|t| day(&kassa_api::views::timestamp(t)))
                    .unwrap_or_default(),
                live: matches!(
                    p.status.as_str(),
                    "active" | "trial" | "recycle_billing" | "paused"
                ),
            })
            .collect(),
        payments: payments
            .iter()
            .map(|p| PaymentRow {
                id: p.id.clone(),
                created: day(&p.created_at),
                amount: format!("{} {}", money(p.amount), p.currency.to_uppercase()),
                status: p.status.clone(),
                initiator: if p.recurring_processing_model_ind >= 2 {
                    "MIT"
                } else {
                    "CIT"
                },
                fraud: p.fraud_score_result.clone().unwrap_or_default(),
                three_ds: p
                    .three_ds
                    .as_ref()
                    .map(|t| {
                        format!(
                            "{} {}",
                            t["version"].as_str().unwrap_or(""),
                            t["result"].as_str().unwrap_or("")
                        )
                    })
                    .unwrap_or_default(),
                refundable: p.amount_captured > p.amount_refunded,
                voidable: p.status == "authorized",
            })
            .collect(),
    })
}

/// The account a purchase or payment belongs to, for the redirect back to its profile.
fn back(acct_no: i64, done: &str) -> Response {
    Redirect::to(&format!("/console/customers/{acct_no}?done={done}")).into_response()
}

pub async fn purchase_action(
    State(state): State<AppState>,
    session: Session,
    Path((id, action)): Path<(String, String)>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    if !session.csrf_ok(&form) {
        return csrf_refused();
    }
    let auth = &session.auth;
    let acct_no = match state.store.get_purchase(auth.client_no, &id).await {
        Ok(p) => p.acct_no,
        Err(_) => return error_page(StatusCode::NOT_FOUND, "No such purchase."),
    };
    let result = match action.as_str() {
        "bill_now" => kassa_api::service::billing::bill_now(&state, auth, &id)
            .await
            .map(|_| "billed"),
        "cancel" => kassa_api::service::billing::cancel_purchase(&state, auth, &id, false)
            .await
            .map(|_| "cancelled"),
        _ => return error_page(StatusCode::NOT_FOUND, "No such action."),
    };
    match result {
        Ok(done) => back(acct_no, done),
        Err(e) => api_error(e),
    }
}

pub async fn payment_action(
    State(state): State<AppState>,
    session: Session,
    Path((id, action)): Path<(String, String)>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    if !session.csrf_ok(&form) {
        return csrf_refused();
    }
    let (op, done) = match action.as_str() {
        "refund" => (Op::Refund { amount: None }, "refunded"),
        "void" => (Op::Void, "voided"),
        _ => return error_page(StatusCode::NOT_FOUND, "No such action."),
    };
    match operate_by_id(&state, &session.auth, &id, op).await {
        Ok(p) => back(p.acct_no, done),
        Err(e) => api_error(e),
    }
}
