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
    /// The card-update history: when, from where (account updater, API), what changed.
    pub changes: Vec<String>,
}

pub struct ChargebackRow {
    pub payment_id: String,
    pub opened: String,
    pub amount: String,
    pub reason: String,
    pub status: String,
    pub fee: String,
}

pub struct StatusRow {
    pub at: String,
    pub change: String,
    pub reason: String,
    pub actor: String,
}

pub struct PurchaseRow {
    pub id: String,
    pub order_id: String,
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
    chargebacks: Vec<ChargebackRow>,
    history: Vec<StatusRow>,
}

/// One card change as a line: `2026-12-01 10:00 account updater (evt_…): exp_year 2034 → 2037`.
/// A change is stored as `{event_type, from, to}` card snapshots; the line names what differs.
fn change_line(changes: &str, source: &str, at: i64) -> String {
    let v = serde_json::from_str::<serde_json::Value>(changes).unwrap_or_default();
    let kind = match v["event_type"].as_str() {
        Some("payment_method.automatically_updated") => "account updater",
        Some("payment_method.updated") => "card updated",
        Some(other) => other,
        None => "change",
    };
    let mut what = Vec::new();
    if let (Some(from), Some(to)) = (v["from"].as_object(), v["to"].as_object()) {
        for (k, new) in to {
            let old = from.get(k).unwrap_or(&serde_json::Value::Null);
            if old != new {
                what.push(format!("{k} {} → {}", plain(old), plain(new)));
            }
        }
    }
    format!(
        "{} {kind} ({source}): {}",
        day(&kassa_api::views::timestamp(at)),
        if what.is_empty() {
            "no visible change".to_string()
        } else {
            what.join(", ")
        }
    )
}

fn plain(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => "—".into(),
        other => other.to_string(),
    }
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
    let chargebacks = match state.store.chargebacks_for_account(client, acct_no).await {
        Ok(c) => c,
        Err(e) => return api_error(e.into()),
    };
    let history =
        match kassa_api::service::accounts::status_history(&state, &session.auth, acct_no).await {
            Ok(h) => h,
            Err(e) => return api_error(e),
        };
    let mut card_changes = HashMap::new();
    for c in &cards {
        match state
            .store
            .payment_method_history(client, c.payment_method_no)
            .await
        {
            Ok(rows) => {
                let lines = rows
                    .iter()
                    .map(|(changes, source, at)| change_line(changes, source, *at))
                    .collect::<Vec<_>>();
                card_changes.insert(c.payment_method_no, lines);
            }
            Err(e) => return api_error(e.into()),
        }
    }
    let notice = q.get("done").map(|d| {
        match d.as_str() {
            "billed" => "Billed now (Force Bill NOW).",
            "ordered" => "Test order placed.",
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
                changes: card_changes
                    .remove(&c.payment_method_no)
                    .unwrap_or_default(),
            })
            .collect(),
        purchases: purchases
            .iter()
            .map(|p| PurchaseRow {
                id: p.id.clone(),
                order_id: p.order_id.clone(),
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
        chargebacks: chargebacks
            .iter()
            .map(|c| ChargebackRow {
                payment_id: c.payment_id.clone(),
                opened: day(&kassa_api::views::timestamp(c.created_at)),
                amount: format!("{} {}", money(c.amount), c.currency.to_uppercase()),
                reason: c.reason.clone(),
                status: match &c.outcome {
                    Some(o) => format!("{} ({o})", c.status),
                    None => c.status.clone(),
                },
                fee: money(c.fee),
            })
            .collect(),
        history: history
            .iter()
            .map(|h| StatusRow {
                at: day(&h.created_at),
                change: format!(
                    "{} → {}",
                    h.from_status.as_deref().unwrap_or("—"),
                    h.to_status
                ),
                reason: match &h.payment_id {
                    Some(p) => format!("{} (payment {p})", h.reason),
                    None => h.reason.clone(),
                },
                actor: h.actor.clone(),
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
