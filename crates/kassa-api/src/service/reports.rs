//! The operator's reports: gateway volume and fees, reserve, chargeback details, declines, and
//! the rebill forecast. Each is a table (JSON rows or CSV) plus a summary; the arithmetic is in
//! `kassa_domain::reports`, the queries in `kassa_storage::reports`.

use std::collections::{BTreeMap, HashMap};

use kassa_domain::billing::Schedule;
use kassa_domain::gateway::GatewaySettings;
use kassa_domain::payment::classify_decline;
use kassa_domain::reports::{cap_used, csv, fees, percent, YearMonth};
use serde_json::{json, Map, Value};

use crate::views::timestamp;
use crate::{ApiError, AppState};

/// The reports there are, by the name in `/v1/reports/{name}`.
pub const NAMES: &[&str] = &[
    "gateway_volume",
    "reserve",
    "chargebacks",
    "declines",
    "rebill_forecast",
];

/// The longest period a report covers, in months.
const MAX_MONTHS: usize = 36;

/// A report: a table and its summary.
pub struct Report {
    pub name: &'static str,
    pub period: Value,
    pub columns: &'static [&'static str],
    pub rows: Vec<Map<String, Value>>,
    pub summary: Value,
}

impl Report {
    pub fn json(&self) -> Value {
        json!({"object": "report", "report": self.name, "period": self.period,
               "columns": self.columns, "rows": self.rows, "summary": self.summary})
    }

    pub fn csv(&self) -> String {
        let rows: Vec<Vec<String>> = self
            .rows
            .iter()
            .map(|r| {
                self.columns
                    .iter()
                    .map(|c| match r.get(*c) {
                        None | Some(Value::Null) => String::new(),
                        Some(Value::String(s)) => s.clone(),
                        Some(v) => v.to_string(),
                    })
                    .collect()
            })
            .collect();
        csv(self.columns, &rows)
    }
}

/// Query parameters of a report.
#[derive(Debug, Default, Clone)]
pub struct Params {
    pub from: Option<String>,
    pub to: Option<String>,
    pub days: Option<String>,
}

fn month_param(v: Option<&str>, name: &str, default: YearMonth) -> Result<YearMonth, ApiError> {
    match v {
        None | Some("") => Ok(default),
        Some(s) => YearMonth::parse(s)
            .map_err(|e| ApiError::invalid(name, format!("{name}: {}", e.message))),
    }
}

/// `from`..`to` months: by default the current month alone.
fn months(p: &Params) -> Result<(YearMonth, YearMonth), ApiError> {
    let now = YearMonth::of_millis(kassa_storage::now_millis());
    let to = month_param(p.to.as_deref(), "to", now)?;
    let from = month_param(p.from.as_deref(), "from", to)?;
    if from > to {
        return Err(ApiError::invalid("from", "from: must not be after `to`"));
    }
    if from.through(to, MAX_MONTHS + 1).len() > MAX_MONTHS {
        return Err(ApiError::invalid(
            "from",
            format!("from: a report covers at most {MAX_MONTHS} months"),
        ));
    }
    Ok((from, to))
}

fn period(from: YearMonth, to: YearMonth) -> Value {
    json!({"from": from.to_string(), "to": to.to_string()})
}

/// The client's gateways (archived ones too: their history stays in the reports).
struct Gateways(HashMap<i64, (String, GatewaySettings)>);

impl Gateways {
    async fn load(state: &AppState, client_no: i64) -> Result<Self, ApiError> {
        let mut map = HashMap::new();
        for g in state.store.all_gateways(client_no).await? {
            let s: GatewaySettings =
                serde_json::from_str(&g.settings).map_err(ApiError::internal)?;
            map.insert(g.id, (g.gateway_type, s));
        }
        Ok(Gateways(map))
    }

    fn title(&self, id: i64) -> String {
        self.0
            .get(&id)
            .map(|(_, s)| s.title.clone())
            .unwrap_or_else(|| format!("gateway {id}"))
    }

    fn settings(&self, id: i64) -> Option<&GatewaySettings> {
        self.0.get(&id).map(|(_, s)| s)
    }
}

/// The card brand of a payment: its stored card's, else the one Stripe reported.
fn brand(stored: Option<String>, details: &Value) -> Option<String> {
    stored.or_else(|| details["card"]["brand"].as_str().map(str::to_string))
}

fn row(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

/// Gateway volume and fees, per gateway and month.
async fn gateway_volume(state: &AppState, client_no: i64, p: &Params) -> Result<Report, ApiError> {
    let (from, to) = months(p)?;
    let gws = Gateways::load(state, client_no).await?;
    let data = state
        .store
        .report_volume(client_no, &from.to_string(), &to.to_string())
        .await?;
    let mut rows = Vec::new();
    let (mut gross, mut refunds, mut txns, mut total_fees) = (0i64, 0i64, 0i64, 0i64);
    for v in data {
        let limits = gws
            .settings(v.gateway_id)
            .map(|s| s.limits.clone())
            .unwrap_or_default();
        let f = fees(&limits, v.gross, v.transactions);
        let used = cap_used(&limits, v.gross, v.refunded);
        let cap = limits.monthly_cap.map(|c| c.get());
        gross += v.gross;
        refunds += v.refunded;
        txns += v.transactions;
        total_fees += f.total;
        rows.push(row(json!({
            "month": v.month, "gateway_id": v.gateway_id, "gateway": gws.title(v.gateway_id),
            "currency": limits.currency.as_str(),
            "gross": v.gross, "refunds": v.refunded, "net": v.gross - v.refunded,
            "transactions": v.transactions,
            "discount_rate": limits.discount_rate.to_string(), "discount_fees": f.discount,
            "transaction_fee": limits.transaction_fee.get(), "transaction_fees": f.transactions,
            "total_fees": f.total,
            "monthly_cap": cap, "cap_used": used,
            "cap_used_percent": cap.and_then(|c| percent(used, c)),
        })));
    }
    Ok(Report {
        name: "gateway_volume",
        period: period(from, to),
        columns: &[
            "month",
            "gateway_id",
            "gateway",
            "currency",
            "gross",
            "refunds",
            "net",
            "transactions",
            "discount_rate",
            "discount_fees",
            "transaction_fee",
            "transaction_fees",
            "total_fees",
            "monthly_cap",
            "cap_used",
            "cap_used_percent",
        ],
        rows,
        summary: json!({"gross": gross, "refunds": refunds, "net": gross - refunds,
                        "transactions": txns, "total_fees": total_fees}),
    })
}

/// Reserve held per gateway and month: `reserve_rate` of the captured volume.
async fn reserve(state: &AppState, client_no: i64, p: &Params) -> Result<Report, ApiError> {
    let (from, to) = months(p)?;
    let gws = Gateways::load(state, client_no).await?;
    let mut rows = Vec::new();
    let mut held: BTreeMap<i64, i64> = BTreeMap::new();
    for m in from.through(to, MAX_MONTHS) {
        let (a, b) = m.range_millis();
        for c in state.store.report_captured(client_no, a, b).await? {
            let limits = gws
                .settings(c.gateway_id)
                .map(|s| s.limits.clone())
                .unwrap_or_default();
            let amount = limits.reserve_rate.of(c.captured);
            *held.entry(c.gateway_id).or_default() += amount;
            rows.push(row(json!({
                "month": m.to_string(), "gateway_id": c.gateway_id, "gateway": gws.title(c.gateway_id),
                "currency": limits.currency.as_str(), "captured": c.captured, "payments": c.payments,
                "reserve_rate": limits.reserve_rate.to_string(), "reserve": amount,
            })));
        }
    }
    let by_gateway: Vec<Value> = held
        .iter()
        .map(|(g, r)| json!({"gateway_id": g, "gateway": gws.title(*g), "reserve": r}))
        .collect();
    Ok(Report {
        name: "reserve",
        period: period(from, to),
        columns: &[
            "month",
            "gateway_id",
            "gateway",
            "currency",
            "captured",
            "payments",
            "reserve_rate",
            "reserve",
        ],
        rows,
        summary: json!({"reserve": held.values().sum::<i64>(), "by_gateway": by_gateway}),
    })
}

/// Each chargeback, and the chargeback rate per gateway (chargebacks per captured payment).
async fn chargebacks(state: &AppState, client_no: i64, p: &Params) -> Result<Report, ApiError> {
    let (from, to) = months(p)?;
    let (a, _) = from.range_millis();
    let (_, b) = to.range_millis();
    let gws = Gateways::load(state, client_no).await?;
    let mut per: BTreeMap<i64, (i64, i64, i64)> = BTreeMap::new();
    let mut rows = Vec::new();
    for c in state.store.report_chargebacks(client_no, a, b).await? {
        let details: Value = serde_json::from_str(&c.details).unwrap_or(Value::Null);
        let brand = brand(c.brand, &details);
        let e = per.entry(c.gateway_id).or_default();
        e.0 += 1;
        e.1 += c.amount;
        e.2 += c.fee;
        rows.push(row(json!({
            "opened_at": timestamp(c.created_at), "dispute_id": c.dispute_id, "payment_id": c.payment_id,
            "gateway_id": c.gateway_id, "gateway": gws.title(c.gateway_id), "brand": brand,
            "reason": c.reason, "status": c.status, "outcome": c.outcome,
            "amount": c.amount, "currency": c.currency, "fee": c.fee,
        })));
    }
    let captured: HashMap<i64, i64> = state
        .store
        .report_captured(client_no, a, b)
        .await?
        .into_iter()
        .map(|c| (c.gateway_id, c.payments))
        .collect();
    let mut ids: Vec<i64> = per.keys().chain(captured.keys()).copied().collect();
    ids.sort_unstable();
    ids.dedup();
    let by_gateway: Vec<Value> = ids
        .iter()
        .map(|g| {
            let (n, amount, fee) = per.get(g).copied().unwrap_or_default();
            let payments = captured.get(g).copied().unwrap_or(0);
            json!({"gateway_id": g, "gateway": gws.title(*g), "chargebacks": n, "amount": amount,
                   "fees": fee, "captured_payments": payments, "chargeback_rate": percent(n, payments)})
        })
        .collect();
    Ok(Report {
        name: "chargebacks",
        period: period(from, to),
        columns: &[
            "opened_at",
            "dispute_id",
            "payment_id",
            "gateway_id",
            "gateway",
            "brand",
            "reason",
            "status",
            "outcome",
            "amount",
            "currency",
            "fee",
        ],
        rows,
        summary: json!({"chargebacks": per.values().map(|v| v.0).sum::<i64>(), "by_gateway": by_gateway}),
    })
}

/// Declines by code, hard or soft, gateway, brand and initiator; recycle-billing recovery.
async fn declines(state: &AppState, client_no: i64, p: &Params) -> Result<Report, ApiError> {
    let (from, to) = months(p)?;
    let (a, _) = from.range_millis();
    let (_, b) = to.range_millis();
    let gws = Gateways::load(state, client_no).await?;
    type Key = (String, String, String, i64, String, &'static str);
    let mut groups: BTreeMap<Key, (i64, i64)> = BTreeMap::new();
    let (mut hard, mut soft) = (0i64, 0i64);
    for d in state.store.report_declines(client_no, a, b).await? {
        let details: Value = serde_json::from_str(&d.details).unwrap_or(Value::Null);
        let dec = &details["decline"];
        let code = dec["code"].as_str().unwrap_or("unknown").to_string();
        let decline_code = dec["decline_code"].as_str().unwrap_or("").to_string();
        let class = match dec["class"].as_str() {
            Some(c) => c.to_string(),
            None => {
                let c = classify_decline(Some(&code), dec["decline_code"].as_str(), None);
                serde_json::to_value(c)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_else(|| "soft".into())
            }
        };
        if class == "hard" {
            hard += 1;
        } else {
            soft += 1;
        }
        let initiator = if d.recurring_model >= 2 { "mit" } else { "cit" };
        let key = (
            code,
            decline_code,
            class,
            d.gateway_id,
            brand(d.brand, &details).unwrap_or_default(),
            initiator,
        );
        let e = groups.entry(key).or_default();
        e.0 += 1;
        e.1 += d.amount;
    }
    let rows = groups
        .into_iter()
        .map(|((code, dc, class, g, brand, initiator), (n, amount))| {
            row(
                json!({"code": code, "decline_code": dc, "class": class, "gateway_id": g,
                       "gateway": gws.title(g), "brand": brand, "initiator": initiator,
                       "declines": n, "amount": amount}),
            )
        })
        .collect();
    let (attempts, recovered) = state.store.report_recycle(client_no, a, b).await?;
    Ok(Report {
        name: "declines",
        period: period(from, to),
        columns: &[
            "code",
            "decline_code",
            "class",
            "gateway_id",
            "gateway",
            "brand",
            "initiator",
            "declines",
            "amount",
        ],
        rows,
        summary: json!({"declines": hard + soft, "hard": hard, "soft": soft,
                        "recycle": {"attempts": attempts, "recovered": recovered,
                                    "recovery_rate": percent(recovered, attempts)}}),
    })
}

/// Rebills due per day for the next `days` (default 30) per gateway, against what is left of
/// each month's cap.
async fn rebill_forecast(state: &AppState, client_no: i64, p: &Params) -> Result<Report, ApiError> {
    let days: i64 = match p.days.as_deref() {
        None | Some("") => 30,
        Some(s) => s
            .parse()
            .ok()
            .filter(|d| (1..=366).contains(d))
            .ok_or_else(|| ApiError::invalid("days", "days: a whole number from 1 to 366"))?,
    };
    let now = kassa_storage::now_millis();
    let start = now - now.rem_euclid(86_400_000);
    let end = start + days * 86_400_000;
    let gws = Gateways::load(state, client_no).await?;
    let mut per_day: BTreeMap<(String, i64), (i64, i64)> = BTreeMap::new();
    for d in state.store.report_due(client_no, start, end).await? {
        let schedule: Option<Schedule> = d
            .schedule
            .as_deref()
            .and_then(|s| serde_json::from_str(s).ok());
        let amount = d.price_override.unwrap_or_else(|| {
            schedule
                .as_ref()
                .map(|s| s.price((d.cycle + 1).clamp(1, i64::from(u32::MAX)) as u32))
                .unwrap_or(0)
        });
        let date = timestamp(d.next_bill_at)
            .get(..10)
            .unwrap_or_default()
            .to_string();
        let e = per_day.entry((date, d.gateway_id)).or_default();
        e.0 += 1;
        e.1 += amount;
    }
    // Remaining cap: the month's cap less its volume so far and the forecast before this day.
    let mut used: HashMap<(i64, String), i64> = HashMap::new();
    let mut rows = Vec::new();
    let (mut total_n, mut total_amount) = (0i64, 0i64);
    for ((date, g), (n, amount)) in per_day {
        let month = date.get(..7).unwrap_or_default().to_string();
        let limits = gws
            .settings(g)
            .map(|s| s.limits.clone())
            .unwrap_or_default();
        let key = (g, month.clone());
        if let std::collections::hash_map::Entry::Vacant(v) = used.entry(key.clone()) {
            let vol = state.store.volume(g, &month).await?;
            v.insert(cap_used(&limits, vol.gross + vol.reserved, vol.refunded));
        }
        let so_far = used.get_mut(&key).map(|u| {
            *u += amount;
            *u
        });
        let cap = limits.monthly_cap.map(|c| c.get());
        total_n += n;
        total_amount += amount;
        rows.push(row(json!({
            "date": date, "gateway_id": g, "gateway": gws.title(g), "currency": limits.currency.as_str(),
            "purchases": n, "amount": amount, "monthly_cap": cap,
            "cap_remaining": cap.map(|c| c - so_far.unwrap_or(0)),
        })));
    }
    Ok(Report {
        name: "rebill_forecast",
        period: json!({"from": timestamp(start), "to": timestamp(end), "days": days}),
        columns: &[
            "date",
            "gateway_id",
            "gateway",
            "currency",
            "purchases",
            "amount",
            "monthly_cap",
            "cap_remaining",
        ],
        rows,
        summary: json!({"purchases": total_n, "amount": total_amount}),
    })
}

/// Runs a report by name.
pub async fn run(
    state: &AppState,
    client_no: i64,
    name: &str,
    p: &Params,
) -> Result<Report, ApiError> {
    match name {
        "gateway_volume" => gateway_volume(state, client_no, p).await,
        "reserve" => reserve(state, client_no, p).await,
        "chargebacks" => chargebacks(state, client_no, p).await,
        "declines" => declines(state, client_no, p).await,
        "rebill_forecast" => rebill_forecast(state, client_no, p).await,
        _ => Err(ApiError::NotFound("report")),
    }
}
