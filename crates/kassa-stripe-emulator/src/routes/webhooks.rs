//! `/v1/webhook_endpoints` and `/v1/events`.

use serde_json::{json, Value};

use super::{path_id, Req};
use crate::error::{ApiError, ApiResult};
use crate::form::{Node, Params, Spec};
use crate::ids::{new_id, now, token};
use crate::objects::{apply_metadata, bounded_str, WebhookEndpoint};
use crate::render;
use crate::state::Account;

static CREATE: &[(&str, Spec)] = &[
    ("api_version", Spec::Scalar),
    ("connect", Spec::Scalar),
    ("description", Spec::Scalar),
    ("enabled_events", Spec::ScalarList),
    ("expand", Spec::ScalarList),
    ("metadata", Spec::Dict),
    ("url", Spec::Scalar),
];

static UPDATE: &[(&str, Spec)] = &[
    ("description", Spec::Scalar),
    ("disabled", Spec::Scalar),
    ("enabled_events", Spec::ScalarList),
    ("expand", Spec::ScalarList),
    ("metadata", Spec::Dict),
    ("url", Spec::Scalar),
];

static LIST: &[(&str, Spec)] = &[
    ("ending_before", Spec::Scalar),
    ("expand", Spec::ScalarList),
    ("limit", Spec::Scalar),
    ("starting_after", Spec::Scalar),
];

static EVENTS_LIST: &[(&str, Spec)] = &[
    ("created", Spec::Scalar),
    ("delivery_success", Spec::Scalar),
    ("ending_before", Spec::Scalar),
    ("expand", Spec::ScalarList),
    ("limit", Spec::Scalar),
    ("starting_after", Spec::Scalar),
    ("type", Spec::Scalar),
    ("types", Spec::ScalarList),
];

static EXPAND_ONLY: &[(&str, Spec)] = &[("expand", Spec::ScalarList)];

fn url_param(p: &Params) -> ApiResult<Option<String>> {
    let Some(url) = p.str(&["url"])? else {
        return Ok(None);
    };
    let ok = (url.starts_with("http://") || url.starts_with("https://")) && url.len() > 8;
    if !ok {
        return Err(ApiError::invalid(format!("Invalid URL: {url}")).param("url"));
    }
    Ok(Some(url.to_string()))
}

fn scalar_list(p: &Params, name: &str) -> Vec<String> {
    match p.get(&[name]) {
        Some(Node::Str(s)) if !s.is_empty() => vec![s.clone()],
        other => crate::form::list_items(other)
            .into_iter()
            .filter_map(|(_, n)| match n {
                Node::Str(s) => Some(s.clone()),
                Node::Map(_) => None,
            })
            .collect(),
    }
}

fn enabled_events(p: &Params) -> ApiResult<Option<Vec<String>>> {
    if !p.has(&["enabled_events"]) {
        return Ok(None);
    }
    let events = scalar_list(p, "enabled_events");
    if events.is_empty() {
        return Err(crate::form::empty_error("enabled_events"));
    }
    for (i, e) in events.iter().enumerate() {
        let valid = e == "*"
            || (e.contains('.')
                && e.chars()
                    .all(|c| c.is_ascii_lowercase() || c == '.' || c == '_'));
        if !valid {
            return Err(ApiError::invalid(format!(
                "Invalid enabled_events[{i}]: unknown event type {e}"
            ))
            .param(format!("enabled_events[{i}]")));
        }
    }
    Ok(Some(events))
}

fn endpoint<'a>(acct: &'a Account, id: &str) -> ApiResult<&'a WebhookEndpoint> {
    acct.webhook_endpoints
        .get(id)
        .ok_or_else(|| ApiError::not_found("webhook_endpoint", id))
}

pub fn create(acct: &mut Account, req: &Req) -> ApiResult<Value> {
    let p = &req.params;
    p.check_fields(CREATE)?;
    let url = url_param(p)?.ok_or_else(|| ApiError::missing_param("url"))?;
    let events = enabled_events(p)?.ok_or_else(|| ApiError::missing_param("enabled_events"))?;
    let mut we = WebhookEndpoint {
        id: new_id("we"),
        created: now(),
        url,
        enabled_events: events,
        description: bounded_str(p, &["description"], 5000)?.flatten(),
        metadata: Default::default(),
        secret: format!("whsec_{}", token(32)),
        disabled: false,
        api_version: p.str_nonempty(&["api_version"])?.map(str::to_string),
    };
    apply_metadata(&mut we.metadata, p)?;
    let mut v = we.to_json();
    if let Value::Object(m) = &mut v {
        m.insert("secret".into(), json!(we.secret));
    }
    acct.webhook_endpoints.insert(we.id.clone(), we);
    render::expand(acct, &mut v, &p.expand())?;
    Ok(v)
}

pub fn retrieve(acct: &mut Account, req: &Req) -> ApiResult<Value> {
    req.params.check_fields(EXPAND_ONLY)?;
    let id = path_id(req);
    endpoint(acct, id)?;
    render::respond(acct, id, &req.params)
}

pub fn update(acct: &mut Account, req: &Req) -> ApiResult<Value> {
    let p = &req.params;
    p.check_fields(UPDATE)?;
    let id = path_id(req);
    let mut we = endpoint(acct, id)?.clone();
    if let Some(url) = url_param(p)? {
        we.url = url;
    }
    if let Some(events) = enabled_events(p)? {
        we.enabled_events = events;
    }
    if let Some(d) = bounded_str(p, &["description"], 5000)? {
        we.description = d;
    }
    if let Some(d) = p.bool(&["disabled"])? {
        we.disabled = d;
    }
    apply_metadata(&mut we.metadata, p)?;
    acct.webhook_endpoints.insert(id.to_string(), we);
    render::respond(acct, id, p)
}

pub fn delete(acct: &mut Account, req: &Req) -> ApiResult<Value> {
    req.params.check_fields(&[])?;
    let id = path_id(req);
    endpoint(acct, id)?;
    acct.webhook_endpoints.map.remove(id);
    acct.webhook_endpoints.order.retain(|i| i != id);
    Ok(json!({ "id": id, "object": "webhook_endpoint", "deleted": true }))
}

pub fn list(acct: &mut Account, req: &Req) -> ApiResult<Value> {
    let p = &req.params;
    p.check_fields(LIST)?;
    let ids = acct.webhook_endpoints.newest_first().map(|w| w.id.as_str());
    render::list(acct, "/v1/webhook_endpoints", ids, p)
}

/// `type` filter: exact, or a `prefix.*` wildcard.
fn type_matches(pattern: &str, kind: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => kind.starts_with(prefix),
        None => pattern == kind,
    }
}

pub fn list_events(acct: &mut Account, req: &Req) -> ApiResult<Value> {
    let p = &req.params;
    p.check_fields(EVENTS_LIST)?;
    let mut patterns = scalar_list(p, "types");
    if let Some(t) = p.str_nonempty(&["type"])? {
        patterns.push(t.to_string());
    }
    let delivered = p.bool(&["delivery_success"])?;
    let ids = acct
        .events
        .newest_first()
        .filter(|ev| patterns.is_empty() || patterns.iter().any(|pt| type_matches(pt, ev.kind)))
        .filter(|ev| delivered.is_none_or(|d| d == (ev.pending_webhooks == 0)))
        .map(|ev| ev.id.as_str());
    render::list(acct, "/v1/events", ids, p)
}

pub fn retrieve_event(acct: &mut Account, req: &Req) -> ApiResult<Value> {
    req.params.check_fields(EXPAND_ONLY)?;
    let id = path_id(req);
    let mut v = acct
        .events
        .get(id)
        .map(|e| e.to_json(acct))
        .ok_or_else(|| ApiError::not_found("event", id))?;
    render::expand(acct, &mut v, &req.params.expand())?;
    Ok(v)
}
