//! `/v1/reports/{name}`: the operator's reports as JSON, or CSV with `format=csv`.

use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;

use crate::auth::Auth;
use crate::error::ErrorBody;
use crate::json::QueryMap;
use crate::service::reports::{self, Params};
use crate::{ApiError, AppState};

#[utoipa::path(operation_id = "get_report", get, path = "/v1/reports/{name}", tag = "reports",
    params(
        ("name" = String, Path, pattern = "^(gateway_volume|reserve|chargebacks|declines|rebill_forecast)$", description = "gateway_volume, reserve, chargebacks, declines or rebill_forecast"),
        ("from" = Option<String>, Query, pattern = r"^([0-9]{4}-[0-9]{2})?$", description = "First month, YYYY-MM (default, also when empty: `to`)"),
        ("to" = Option<String>, Query, pattern = r"^([0-9]{4}-[0-9]{2})?$", description = "Last month, YYYY-MM (default, also when empty: this month)"),
        ("days" = Option<i64>, Query, minimum = 1, maximum = 366, description = "rebill_forecast: days ahead, 1–366 (default 30)"),
        ("format" = Option<String>, Query, pattern = "^(json|csv)$", description = "json (default) or csv"),
    ),
    responses((status = 200, description = "`{object: report, report, period, columns, rows, summary}`, or CSV with the columns as its header",
                content((Object = "application/json"), (String = "text/csv"))),
              (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn get(
    State(state): State<AppState>,
    auth: Auth,
    Path(name): Path<String>,
    q: QueryMap,
) -> Result<Response, ApiError> {
    q.only(&["from", "to", "days", "format"])?;
    let csv = match q.get("format") {
        None | Some("json") => false,
        Some("csv") => true,
        Some(f) => {
            return Err(ApiError::invalid(
                "format",
                format!("format: `{f}` is not one of json, csv"),
            ))
        }
    };
    // `days` is read by rebill_forecast alone, but a malformed one is refused by every report
    // (as `from` and `to` are), not silently ignored.
    if let Some(d) = q.get("days").filter(|d| !d.is_empty()) {
        if !d.parse::<i64>().is_ok_and(|d| (1..=366).contains(&d)) {
            return Err(ApiError::invalid(
                "days",
                "days: a whole number from 1 to 366",
            ));
        }
    }
    let p = Params {
        from: q.get("from").map(str::to_string),
        to: q.get("to").map(str::to_string),
        days: q.get("days").map(str::to_string),
    };
    let report = reports::run(&state, auth.client_no, &name, &p).await?;
    if !csv {
        return Ok(Json(report.json()).into_response());
    }
    let file = format!("attachment; filename=\"{}.csv\"", report.name);
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (header::CONTENT_DISPOSITION, file),
        ],
        report.csv(),
    )
        .into_response())
}
