//! The HTTP entry point: auth, parameter decoding, routing, idempotency, response headers.

use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::Response;
use serde_json::{json, Value};

use crate::error::{ApiError, ApiResult};
use crate::events::RequestInfo;
use crate::faults::{self, Fault, Faults};
use crate::form::Params;
use crate::idempotency::{self, Replay};
use crate::routes::{self, Req};
use crate::{auth, ids, lock, webhooks, AccountSettings, Emulator};

fn response(status: u16, body: String, replayed: bool, idem_key: Option<&str>) -> Response {
    let mut resp = Response::new(Body::from(body));
    *resp.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let h = resp.headers_mut();
    h.insert("content-type", HeaderValue::from_static("application/json"));
    if let Ok(v) = HeaderValue::from_str(&ids::new_id("req")) {
        h.insert("request-id", v);
    }
    h.insert(
        "stripe-version",
        HeaderValue::from_static("2026-06-24.dahlia"),
    );
    if let Some(k) = idem_key.and_then(|k| HeaderValue::from_str(k).ok()) {
        h.insert("idempotency-key", k);
    }
    if replayed {
        h.insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    resp
}

fn error_response(e: &ApiError) -> Response {
    response(e.status.as_u16(), e.body().to_string(), false, None)
}

fn json_response(v: &Value) -> Response {
    response(200, v.to_string(), false, None)
}

fn unrecognized(method: &Method, path: &str) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        crate::ErrorType::InvalidRequestError,
        format!("Unrecognized request URL ({method}: {path}). Please see https://stripe.com/docs or we can help at https://support.stripe.com/."),
    )
}

pub async fn handle(
    State(emu): State<Emulator>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_string();
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    let params = if method == Method::POST {
        Params::parse(&body)
    } else {
        Params::parse(uri.query().unwrap_or_default().as_bytes())
    };
    let params = match params {
        Ok(p) => p,
        Err(e) => return error_response(&e),
    };
    match segs.as_slice() {
        ["_emulator", "data"] if method == Method::DELETE => {
            emu.reset();
            return json_response(&json!({ "deleted": true }));
        }
        ["_emulator", "accounts", key] => {
            return control_account(&emu, &method, key, &headers, &params);
        }
        ["_emulator", "faults"] => return control_faults(&emu, &method, &params),
        ["_emulator", "3ds", pi] => return crate::three_ds::page(&emu, &method, pi, &params).await,
        _ => {}
    }
    let is_v1 = segs.first() == Some(&"v1");
    let faults = if is_v1 {
        emu.faults()
    } else {
        Faults::default()
    };
    if faults.latency_ms > 0 {
        tokio::time::sleep(Duration::from_millis(faults.latency_ms)).await;
    }
    let Some((handler, path_ids)) = routes::find(&method, &segs) else {
        return error_response(&unrecognized(&method, &path));
    };
    let key = match auth::account_key(&headers) {
        Ok(k) => k,
        Err(e) => return error_response(&e),
    };
    if is_v1 && emu.inner.faults.rate_limited(&key) {
        return error_response(&faults::rate_limit());
    }
    let fault = if is_v1 && method == Method::POST {
        emu.inner.faults.roll()
    } else {
        Fault::None
    };
    match fault {
        Fault::Error500 => return error_response(&faults::error_500()),
        Fault::Drop => return faults::dropped(),
        Fault::None | Fault::TimeoutAfterSuccess => {}
    }
    let resp = execute(
        &emu, handler, path_ids, &key, &method, &path, &headers, params,
    )
    .await;
    if fault == Fault::TimeoutAfterSuccess {
        if faults.hold_ms > 0 {
            tokio::time::sleep(Duration::from_millis(faults.hold_ms)).await;
        }
        return faults::dropped();
    }
    resp
}

/// Runs a handler under the account lock, then turns its changes into events and starts their
/// webhook deliveries.
pub(crate) fn run(
    emu: &Emulator,
    key: &str,
    handler: routes::Handler,
    req: &Req,
    info: &RequestInfo,
) -> ApiResult<Value> {
    let account = emu.account(key);
    let (result, outbox) = {
        let mut acct = lock(&account);
        let result = handler(&mut acct, req);
        acct.flush_events(info);
        if !acct.refunds_to_fail.is_empty() {
            // Stripe's asynchronous refund failure, as a change of its own after the answer.
            routes::charges::fail_queued_refunds(&mut acct);
            acct.flush_events(&RequestInfo::default());
        }
        let processing = std::mem::take(&mut acct.processing);
        if !processing.is_empty() {
            settle_later(emu, key, processing, acct.settings.async_processing_ms);
        }
        (result, std::mem::take(&mut acct.outbox))
    };
    webhooks::send(emu, key, outbox);
    result
}

/// Payments answered `processing` (the account's `async_processing_ms`) are authorized that much
/// later, as a change of Stripe's own (events with a `null` request).
fn settle_later(emu: &Emulator, key: &str, intents: Vec<String>, after_ms: u64) {
    let emu = emu.clone();
    let key = key.to_string();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(after_ms)).await;
        let account = emu.account(&key);
        let outbox = {
            let mut acct = lock(&account);
            for id in intents {
                routes::settle_processing(&mut acct, &id);
            }
            acct.flush_events(&RequestInfo::default());
            std::mem::take(&mut acct.outbox)
        };
        webhooks::send(&emu, &key, outbox);
    });
}

/// Runs a routed, authenticated request with idempotency handling.
#[allow(clippy::too_many_arguments)]
async fn execute(
    emu: &Emulator,
    handler: routes::Handler,
    path_ids: Vec<String>,
    key: &str,
    method: &Method,
    path: &str,
    headers: &HeaderMap,
    params: Params,
) -> Response {
    let request_id = ids::new_id("req");
    let mut resp = execute_inner(
        emu,
        handler,
        path_ids,
        key,
        method,
        path,
        headers,
        params,
        &request_id,
    )
    .await;
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        resp.headers_mut().insert("request-id", v);
    }
    resp
}

#[allow(clippy::too_many_arguments)]
async fn execute_inner(
    emu: &Emulator,
    handler: routes::Handler,
    path_ids: Vec<String>,
    key: &str,
    method: &Method,
    path: &str,
    headers: &HeaderMap,
    params: Params,
    request_id: &str,
) -> Response {
    let host = headers
        .get("host")
        .and_then(|h| h.to_str().ok())
        .unwrap_or("127.0.0.1");
    let req = Req {
        params,
        ids: path_ids,
        base_url: format!("http://{host}"),
    };
    let idem_key = if *method == Method::POST {
        headers
            .get("idempotency-key")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    } else {
        None
    };
    let from_api = path.starts_with("/v1/");
    let info = RequestInfo {
        id: from_api.then(|| request_id.to_string()),
        idempotency_key: idem_key.clone().filter(|_| from_api),
    };
    let Some(idem_key) = idem_key else {
        return match run(emu, key, handler, &req, &info) {
            Ok(v) => json_response(&v),
            Err(e) => error_response(&e),
        };
    };
    if let Err(e) = idempotency::validate_key(&idem_key) {
        return error_response(&e);
    }
    let account = emu.account(key);
    let fp = req.params.fingerprint(&format!("{method} {path}"));
    let (begun, delay) = {
        let mut acct = lock(&account);
        (
            acct.idempotency.begin(&idem_key, fp),
            acct.settings.processing_delay_ms,
        )
    };
    match begun {
        Err(e) => return error_response(&e),
        Ok(Some(Replay { status, body })) => return response(status, body, true, Some(&idem_key)),
        Ok(None) => {}
    }
    // Releases the key if the client goes away while we sleep (the future is dropped).
    let mut guard = InFlight {
        account: &account,
        key: &idem_key,
        fp,
        armed: true,
    };
    if delay > 0 {
        tokio::time::sleep(Duration::from_millis(delay)).await;
    }
    let (status, body, save) = match run(emu, key, handler, &req, &info) {
        Ok(v) => (200, v.to_string(), true),
        Err(e) => (e.status.as_u16(), e.body().to_string(), !e.is_validation()),
    };
    guard.armed = false;
    let saved = save.then(|| (status, body.clone()));
    lock(&account).idempotency.finish(&idem_key, fp, saved);
    response(status, body, false, Some(&idem_key))
}

struct InFlight<'a> {
    account: &'a std::sync::Mutex<crate::state::Account>,
    key: &'a str,
    fp: [u8; 32],
    armed: bool,
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        if self.armed {
            lock(self.account)
                .idempotency
                .finish(self.key, self.fp, None);
        }
    }
}

fn control_faults(emu: &Emulator, method: &Method, p: &Params) -> Response {
    if *method == Method::POST {
        match faults::apply(emu.faults(), p) {
            Ok(f) => emu.set_faults(f),
            Err(e) => return error_response(&e),
        }
    } else if *method != Method::GET {
        return error_response(&unrecognized(method, "/_emulator/faults"));
    }
    match serde_json::to_value(emu.faults()) {
        Ok(v) => json_response(&v),
        Err(e) => error_response(&ApiError::internal(e.to_string())),
    }
}

fn control_account(
    emu: &Emulator,
    method: &Method,
    key: &str,
    headers: &HeaderMap,
    p: &Params,
) -> Response {
    let ns = match headers.get("stripe-account").and_then(|v| v.to_str().ok()) {
        Some(acct) => format!("{key}/{acct}"),
        None => key.to_string(),
    };
    if *method == Method::POST {
        match apply_settings(emu.settings(&ns), p) {
            Ok(s) => emu.set_settings(&ns, s),
            Err(e) => return error_response(&e),
        }
    } else if *method != Method::GET {
        return error_response(&unrecognized(method, &format!("/_emulator/accounts/{key}")));
    }
    match serde_json::to_value(emu.settings(&ns)) {
        Ok(v) => json_response(&v),
        Err(e) => error_response(&ApiError::internal(e.to_string())),
    }
}

fn apply_settings(mut s: AccountSettings, p: &Params) -> Result<AccountSettings, ApiError> {
    use crate::form::Spec;
    static FIELDS: &[(&str, Spec)] = &[
        ("raw_card_data", Spec::Scalar),
        ("mit_exemption", Spec::Scalar),
        ("statement_descriptor", Spec::Scalar),
        ("statement_descriptor_prefix", Spec::Scalar),
        ("processing_delay_ms", Spec::Scalar),
        ("async_processing_ms", Spec::Scalar),
    ];
    p.check_fields(FIELDS)?;
    if let Some(v) = p.bool(&["raw_card_data"])? {
        s.raw_card_data = v;
    }
    if let Some(v) = p.bool(&["mit_exemption"])? {
        s.mit_exemption = v;
    }
    if let Some(v) = p.str(&["statement_descriptor"])? {
        s.statement_descriptor = v.to_string();
    }
    if let Some(v) = p.str(&["statement_descriptor_prefix"])? {
        let n = v.chars().count();
        if !(2..=10).contains(&n) {
            return Err(
                ApiError::invalid("statement_descriptor_prefix must be 2-10 characters")
                    .param("statement_descriptor_prefix"),
            );
        }
        s.statement_descriptor_prefix = v.to_string();
    }
    if let Some(v) = p.int(&["processing_delay_ms"])? {
        s.processing_delay_ms = v.clamp(0, 60_000) as u64;
    }
    if let Some(v) = p.int(&["async_processing_ms"])? {
        s.async_processing_ms = v.clamp(0, 600_000) as u64;
    }
    Ok(s)
}
