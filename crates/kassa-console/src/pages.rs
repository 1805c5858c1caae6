//! The console's pages: the Gateway List (with duplicate and archive) and the reports.

use std::collections::HashMap;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use kassa_api::service::reports::{self, Params, Report};
use kassa_api::AppState;
use kassa_domain::gateway::GatewaySettings;
use serde_json::{Map, Value};

use crate::charts;
use crate::session::{csrf_refused, render, Session};

/// A minor-unit amount as `1,234.56` (two-decimal currencies; reports carry the currency).
pub fn money(v: i64) -> String {
    let sign = if v < 0 { "-" } else { "" };
    let a = v.unsigned_abs();
    let whole = (a / 100).to_string();
    let mut grouped = String::new();
    for (i, c) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(c);
    }
    format!("{sign}{grouped}.{:02}", a % 100)
}

pub(crate) fn error_page(status: StatusCode, message: &str) -> Response {
    (
        status,
        axum::response::Html(format!(
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Error</title><link rel=\"stylesheet\" href=\"/console/console.css\"></head><body><main><h1>{}</h1><p><a href=\"/console/gateways\">Back to the console</a></p></main></body></html>",
            askama_escape(message)
        )),
    )
        .into_response()
}

fn askama_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

pub(crate) fn api_error(e: kassa_api::ApiError) -> Response {
    let status = e.status();
    error_page(status, &e.to_string())
}

pub struct GatewayRow {
    pub id: i64,
    pub kind: &'static str,
    pub legacy: bool,
    pub title: String,
    pub descriptor: String,
    pub mid: String,
    pub status: String,
    pub volume: String,
    pub cap: Option<String>,
    pub used: i64,
    pub cap_value: i64,
    pub over: bool,
}

#[derive(Template)]
#[template(path = "gateways.html")]
struct GatewaysPage {
    who: String,
    csrf: String,
    month: String,
    notice: Option<String>,
    rows: Vec<GatewayRow>,
}

pub async fn gateways(
    State(state): State<AppState>,
    session: Session,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let month = kassa_api::service::volume::this_month();
    let records = match state.store.all_gateways(session.auth.client_no).await {
        Ok(r) => r,
        Err(e) => return api_error(e.into()),
    };
    let mut rows = Vec::new();
    for g in records.iter().rev().filter(|g| g.status != "archived") {
        let Ok(s) = serde_json::from_str::<GatewaySettings>(&g.settings) else {
            continue;
        };
        let v = match state.store.volume(g.id, &month).await {
            Ok(v) => v,
            Err(e) => return api_error(e.into()),
        };
        let limits = &s.limits;
        let used = kassa_domain::reports::cap_used(limits, v.gross + v.reserved, v.refunded);
        let cap = limits.monthly_cap.map(|c| c.get());
        rows.push(GatewayRow {
            id: g.id,
            kind: if g.gateway_type == "stripe_v1" {
                "Stripe V1 (legacy)"
            } else {
                "Stripe V2"
            },
            legacy: g.gateway_type == "stripe_v1",
            title: s.title.clone(),
            descriptor: s.descriptor.clone().unwrap_or_default(),
            mid: s.mid_number.clone().unwrap_or_default(),
            status: g.status.clone(),
            volume: format!(
                "{} {}",
                money(used),
                limits.currency.as_str().to_uppercase()
            ),
            cap: cap.map(money),
            used: used.max(0),
            cap_value: cap.unwrap_or(0),
            over: cap.is_some_and(|c| used > c),
        });
    }
    let notice = q.get("done").map(|d| match d.as_str() {
        "duplicated" => format!(
            "Gateway duplicated as #{}. Change its descriptor suffix if it is for another product.",
            q.get("id").map(String::as_str).unwrap_or("?")
        ),
        "archived" => "Gateway archived.".to_string(),
        "created" => format!(
            "Gateway #{} created.",
            q.get("id").map(String::as_str).unwrap_or("?")
        ),
        "saved" => format!(
            "Gateway #{} updated.",
            q.get("id").map(String::as_str).unwrap_or("?")
        ),
        other => other.chars().filter(|c| c.is_alphanumeric()).collect(),
    });
    render(&GatewaysPage {
        who: session.key_label.clone(),
        csrf: session.csrf.clone(),
        month,
        notice,
        rows,
    })
}

fn path_id(raw: &str) -> Option<i64> {
    raw.parse().ok()
}

/// The Gateway List's duplicate button: a copy in one click, with a new descriptor suffix when
/// one is given (the seed's way of running several descriptors).
pub async fn duplicate_gateway(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    if !session.csrf_ok(&form) {
        return csrf_refused();
    }
    let Some(id) = path_id(&id) else {
        return error_page(StatusCode::NOT_FOUND, "No such gateway.");
    };
    let mut body = Map::new();
    if let Some(s) = form
        .get("descriptor_suffix")
        .filter(|s| !s.trim().is_empty())
    {
        body.insert("descriptor_suffix".into(), Value::String(s.trim().into()));
    }
    match kassa_api::service::gateways::duplicate(&state, &session.auth, id, body).await {
        Ok(g) => {
            Redirect::to(&format!("/console/gateways?done=duplicated&id={}", g.id)).into_response()
        }
        Err(e) => api_error(e),
    }
}

pub async fn archive_gateway(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    if !session.csrf_ok(&form) {
        return csrf_refused();
    }
    let Some(id) = path_id(&id) else {
        return error_page(StatusCode::NOT_FOUND, "No such gateway.");
    };
    match kassa_api::service::gateways::archive(&state, &session.auth, id).await {
        Ok(_) => Redirect::to("/console/gateways?done=archived").into_response(),
        Err(e) => api_error(e),
    }
}

pub struct ReportLink {
    pub name: &'static str,
    pub title: &'static str,
    pub about: &'static str,
}

const REPORTS: &[ReportLink] = &[
    ReportLink {
        name: "gateway_volume",
        title: "Gateway volume and fees",
        about: "Gross, refunds, net, transactions, discount-rate and transaction fees, cap usage.",
    },
    ReportLink {
        name: "reserve",
        title: "Reserve",
        about: "Reserve held per gateway from its reserve rate on captured volume.",
    },
    ReportLink {
        name: "chargebacks",
        title: "Chargeback details",
        about: "Each chargeback with reason, status, amount and fee; chargeback rate per gateway.",
    },
    ReportLink {
        name: "declines",
        title: "Declines",
        about: "Declines by code, hard or soft, gateway, brand and initiator; recycle-billing recovery.",
    },
    ReportLink {
        name: "rebill_forecast",
        title: "Rebill forecast",
        about: "Purchases due per day for the next 30 days per gateway, against what is left of each cap.",
    },
];

#[derive(Template)]
#[template(path = "reports.html")]
struct ReportsPage {
    who: String,
    csrf: String,
    reports: &'static [ReportLink],
}

pub async fn reports_index(session: Session) -> Response {
    render(&ReportsPage {
        who: session.key_label.clone(),
        csrf: session.csrf.clone(),
        reports: REPORTS,
    })
}

#[derive(Template)]
#[template(path = "report.html")]
struct ReportPage {
    who: String,
    csrf: String,
    title: &'static str,
    name: &'static str,
    query: String,
    from: String,
    to: String,
    columns: Vec<&'static str>,
    rows: Vec<Vec<String>>,
    summary: Vec<(String, String)>,
    chart: String,
}

fn params(q: &HashMap<String, String>) -> Params {
    Params {
        from: q.get("from").cloned().filter(|s| !s.is_empty()),
        to: q.get("to").cloned().filter(|s| !s.is_empty()),
        days: q.get("days").cloned().filter(|s| !s.is_empty()),
    }
}

fn cell(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(v) => v.to_string(),
    }
}

/// The report's chart: volume against the cap, declines by reason, chargeback rate, reserve,
/// rebills due.
fn chart(r: &Report) -> String {
    let col = |row: &Map<String, Value>, k: &str| row.get(k).and_then(Value::as_i64).unwrap_or(0);
    match r.name {
        "gateway_volume" => {
            let labels: Vec<String> = r
                .rows
                .iter()
                .map(|x| format!("{} #{}", cell(x.get("month")), cell(x.get("gateway_id"))))
                .collect();
            let values: Vec<i64> = r.rows.iter().map(|x| col(x, "cap_used")).collect();
            let cap = r
                .rows
                .iter()
                .filter_map(|x| x.get("monthly_cap").and_then(Value::as_i64))
                .max();
            charts::bars(
                "Volume against the monthly cap",
                &labels,
                &values,
                cap,
                true,
            )
        }
        "declines" => {
            let mut by: std::collections::BTreeMap<String, i64> = Default::default();
            for x in &r.rows {
                let reason = match cell(x.get("decline_code")) {
                    s if s.is_empty() => cell(x.get("code")),
                    s => s,
                };
                *by.entry(reason).or_default() += col(x, "declines");
            }
            let (labels, values): (Vec<String>, Vec<i64>) = by.into_iter().unzip();
            charts::bars("Declines by reason", &labels, &values, None, false)
        }
        "chargebacks" => {
            let g = r.summary["by_gateway"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            let labels: Vec<String> = g.iter().map(|x| cell(x.get("gateway"))).collect();
            // Basis points, so the bars keep two decimals of the percentage.
            let values: Vec<i64> = g
                .iter()
                .map(|x| {
                    let n = x["chargebacks"].as_i64().unwrap_or(0);
                    let p = x["captured_payments"].as_i64().unwrap_or(0);
                    if p > 0 {
                        n * 10_000 / p
                    } else {
                        0
                    }
                })
                .collect();
            charts::bars(
                "Chargeback rate (basis points)",
                &labels,
                &values,
                None,
                false,
            )
        }
        "reserve" => {
            let labels: Vec<String> = r
                .rows
                .iter()
                .map(|x| format!("{} #{}", cell(x.get("month")), cell(x.get("gateway_id"))))
                .collect();
            let values: Vec<i64> = r.rows.iter().map(|x| col(x, "reserve")).collect();
            charts::bars("Reserve held", &labels, &values, None, true)
        }
        _ => {
            let labels: Vec<String> = r.rows.iter().map(|x| cell(x.get("date"))).collect();
            let values: Vec<i64> = r.rows.iter().map(|x| col(x, "amount")).collect();
            charts::bars("Rebills due", &labels, &values, None, true)
        }
    }
}

fn summary(v: &Value) -> Vec<(String, String)> {
    let Value::Object(m) = v else {
        return Vec::new();
    };
    m.iter()
        .filter(|(_, v)| !v.is_array())
        .map(|(k, v)| match v {
            Value::Object(inner) => (
                k.replace('_', " "),
                inner
                    .iter()
                    .map(|(a, b)| format!("{}: {}", a.replace('_', " "), cell(Some(b))))
                    .collect::<Vec<_>>()
                    .join(", "),
            ),
            other => (k.replace('_', " "), cell(Some(other))),
        })
        .collect()
}

fn find(name: &str) -> Option<&'static ReportLink> {
    REPORTS.iter().find(|r| r.name == name)
}

pub async fn report(
    State(state): State<AppState>,
    session: Session,
    Path(name): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let Some(link) = find(&name) else {
        return error_page(StatusCode::NOT_FOUND, "No such report.");
    };
    let p = params(&q);
    let r = match reports::run(&state, session.auth.client_no, link.name, &p).await {
        Ok(r) => r,
        Err(e) => return api_error(e),
    };
    let rows = r
        .rows
        .iter()
        .map(|row| r.columns.iter().map(|c| cell(row.get(*c))).collect())
        .collect();
    let mut query = form_query(&p);
    if !query.is_empty() {
        query.insert(0, '?');
    }
    render(&ReportPage {
        who: session.key_label.clone(),
        csrf: session.csrf.clone(),
        title: link.title,
        name: link.name,
        query,
        from: p.from.clone().unwrap_or_default(),
        to: p.to.clone().unwrap_or_default(),
        columns: r.columns.to_vec(),
        rows,
        summary: summary(&r.summary),
        chart: chart(&r),
    })
}

fn form_query(p: &Params) -> String {
    let mut parts = Vec::new();
    for (k, v) in [("from", &p.from), ("to", &p.to), ("days", &p.days)] {
        if let Some(v) = v {
            let clean: String = v
                .chars()
                .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
                .collect();
            parts.push(format!("{k}={clean}"));
        }
    }
    parts.join("&")
}

pub async fn report_csv(
    State(state): State<AppState>,
    session: Session,
    Path(name): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let Some(link) = find(&name) else {
        return error_page(StatusCode::NOT_FOUND, "No such report.");
    };
    match reports::run(&state, session.auth.client_no, link.name, &params(&q)).await {
        Ok(r) => (
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
                (
                    header::CONTENT_DISPOSITION,
                    format!("attachment; filename=\"{}.csv\"", r.name),
                ),
            ],
            r.csv(),
        )
            .into_response(),
        Err(e) => api_error(e),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn money_groups_thousands() {
        assert_eq!(super::money(123_456_789), "1,234,567.89");
        assert_eq!(super::money(5), "0.05");
        assert_eq!(super::money(-100_000), "-1,000.00");
    }
}
