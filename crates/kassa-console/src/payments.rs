//! The payments list with its filters (status, gateway, date, card brand, CIT/MIT).

use std::collections::HashMap;

use askama::Template;
use axum::extract::{Query, State};
use axum::response::Response;
use kassa_api::AppState;

use crate::pages::{api_error, money};
use crate::session::{render, Session};

pub struct Row {
    pub id: String,
    pub created: String,
    pub acct_no: i64,
    pub gateway_id: i64,
    pub amount: String,
    pub status: String,
    pub card: String,
    pub initiator: &'static str,
    pub decline: String,
}

#[derive(Template)]
#[template(path = "payments.html")]
struct PaymentsPage {
    who: String,
    csrf: String,
    q: HashMap<String, String>,
    gateways: Vec<(i64, String)>,
    rows: Vec<Row>,
    next: Option<String>,
}

const STATUSES: &[&str] = &[
    "pending",
    "requires_action",
    "authorized",
    "captured",
    "partially_captured",
    "voided",
    "refunded",
    "partially_refunded",
    "declined",
];

const BRANDS: &[&str] = &[
    "visa",
    "mastercard",
    "amex",
    "discover",
    "diners",
    "jcb",
    "unionpay",
];

impl PaymentsPage {
    fn value(&self, k: &str) -> &str {
        self.q.get(k).map(String::as_str).unwrap_or("")
    }

    fn statuses(&self) -> &'static [&'static str] {
        STATUSES
    }

    fn brands(&self) -> &'static [&'static str] {
        BRANDS
    }

    fn is_gateway(&self, id: &i64) -> bool {
        self.value("gateway_id") == id.to_string()
    }
}

pub async fn list(
    State(state): State<AppState>,
    session: Session,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let filter = match kassa_api::service::payments::payment_filter(&q) {
        Ok(f) => f,
        Err(e) => return api_error(e),
    };
    let after = q.get("starting_after").filter(|s| !s.is_empty()).cloned();
    let (payments, more) = match kassa_api::service::payments::list(
        &state,
        &session.auth,
        &filter,
        50,
        after.as_deref(),
    )
    .await
    {
        Ok(p) => p,
        Err(e) => return api_error(e),
    };
    let gateways = match state.store.all_gateways(session.auth.client_no).await {
        Ok(g) => g
            .iter()
            .map(|g| {
                let title = serde_json::from_str::<serde_json::Value>(&g.settings)
                    .ok()
                    .and_then(|s| s["title"].as_str().map(str::to_string))
                    .unwrap_or_default();
                (g.id, format!("#{} {title}", g.id))
            })
            .collect(),
        Err(e) => return api_error(e.into()),
    };
    let rows = payments
        .iter()
        .map(|p| Row {
            id: p.id.clone(),
            created: p
                .created_at
                .get(..19)
                .unwrap_or(&p.created_at)
                .replace('T', " "),
            acct_no: p.acct_no,
            gateway_id: p.gateway_id,
            amount: format!("{} {}", money(p.amount), p.currency.to_uppercase()),
            status: p.status.clone(),
            card: p
                .card
                .as_ref()
                .map(|c| {
                    format!(
                        "{} {}",
                        c["brand"].as_str().unwrap_or(""),
                        c["last4"].as_str().unwrap_or("")
                    )
                })
                .unwrap_or_default(),
            initiator: if p.recurring_processing_model_ind >= 2 {
                "MIT"
            } else {
                "CIT"
            },
            decline: p
                .decline
                .as_ref()
                .and_then(|d| d["decline_code"].as_str().or(d["code"].as_str()))
                .unwrap_or("")
                .to_string(),
        })
        .collect::<Vec<_>>();
    let next = (more && !rows.is_empty()).then(|| {
        let mut parts: Vec<String> = q
            .iter()
            .filter(|(k, v)| k.as_str() != "starting_after" && !v.is_empty())
            .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
            .collect();
        parts.sort();
        if let Some(last) = rows.last() {
            parts.push(format!("starting_after={}", enc(&last.id)));
        }
        format!("/console/payments?{}", parts.join("&"))
    });
    render(&PaymentsPage {
        who: session.key_label.clone(),
        csrf: session.csrf.clone(),
        q,
        gateways,
        rows,
        next,
    })
}

/// Percent-encodes a query value (letters, digits and `-_.` pass).
fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}
