//! Endpoint table.

mod amount_details;
pub(crate) mod charges;
mod confirm;

pub use confirm::{settle_processing, ThreeDs};
mod controls;
mod customers;
pub mod disputes;
mod legacy_charges;
mod payment_intents;
mod payment_methods;
mod pi_params;
mod reviews;
mod setup_intents;
mod webhooks;

use axum::http::Method;
use serde_json::Value;

use crate::error::ApiResult;
use crate::form::Params;
use crate::state::Account;

/// A decoded request.
pub struct Req {
    pub params: Params,
    /// Ids from the path, in order.
    pub ids: Vec<String>,
    /// `http://host:port` the client used (for 3DS URLs).
    pub base_url: String,
}

pub type Handler = fn(&mut Account, &Req) -> ApiResult<Value>;

/// Finds the handler for a request path (split on `/`).
pub fn find(method: &Method, segs: &[&str]) -> Option<(Handler, Vec<String>)> {
    let m = method.as_str();
    let id = |s: &str| vec![s.to_string()];
    let found: (Handler, Vec<String>) = match (m, segs) {
        ("POST", ["v1", "customers"]) => (customers::create, vec![]),
        ("GET", ["v1", "customers"]) => (customers::list, vec![]),
        ("GET", ["v1", "customers", c]) => (customers::retrieve, id(c)),
        ("POST", ["v1", "customers", c]) => (customers::update, id(c)),
        ("DELETE", ["v1", "customers", c]) => (customers::delete, id(c)),
        ("GET", ["v1", "customers", c, "payment_methods"]) => {
            (payment_methods::list_for_customer, id(c))
        }
        ("POST", ["v1", "payment_methods"]) => (payment_methods::create, vec![]),
        ("GET", ["v1", "payment_methods"]) => (payment_methods::list, vec![]),
        ("GET", ["v1", "payment_methods", p]) => (payment_methods::retrieve, id(p)),
        ("POST", ["v1", "payment_methods", p]) => (payment_methods::update, id(p)),
        ("POST", ["v1", "payment_methods", p, "attach"]) => (payment_methods::attach, id(p)),
        ("POST", ["v1", "payment_methods", p, "detach"]) => (payment_methods::detach, id(p)),
        ("POST", ["v1", "payment_intents"]) => (payment_intents::create, vec![]),
        ("GET", ["v1", "payment_intents"]) => (payment_intents::list, vec![]),
        ("GET", ["v1", "payment_intents", "search"]) => (payment_intents::search, vec![]),
        ("GET", ["v1", "payment_intents", p]) => (payment_intents::retrieve, id(p)),
        ("POST", ["v1", "payment_intents", p]) => (payment_intents::update, id(p)),
        ("POST", ["v1", "payment_intents", p, "confirm"]) => (payment_intents::confirm, id(p)),
        ("POST", ["v1", "payment_intents", p, "capture"]) => (payment_intents::capture, id(p)),
        ("POST", ["v1", "payment_intents", p, "cancel"]) => (payment_intents::cancel, id(p)),
        ("POST", ["_emulator", "payment_intents", p, "authenticate"]) => {
            (confirm::authenticate, id(p))
        }
        ("GET", ["v1", "charges"]) => (charges::list, vec![]),
        ("GET", ["v1", "charges", "search"]) => (charges::search, vec![]),
        ("POST", ["v1", "charges"]) => (legacy_charges::create, vec![]),
        ("POST", ["v1", "charges", c, "capture"]) => (legacy_charges::capture, id(c)),
        ("GET", ["v1", "charges", c]) => (charges::retrieve, id(c)),
        ("POST", ["v1", "charges", c]) => (legacy_charges::update, id(c)),
        ("POST", ["v1", "refunds"]) => (charges::create_refund, vec![]),
        ("GET", ["v1", "refunds"]) => (charges::list_refunds, vec![]),
        ("GET", ["v1", "refunds", r]) => (charges::retrieve_refund, id(r)),
        ("POST", ["v1", "webhook_endpoints"]) => (webhooks::create, vec![]),
        ("GET", ["v1", "webhook_endpoints"]) => (webhooks::list, vec![]),
        ("GET", ["v1", "webhook_endpoints", w]) => (webhooks::retrieve, id(w)),
        ("POST", ["v1", "webhook_endpoints", w]) => (webhooks::update, id(w)),
        ("DELETE", ["v1", "webhook_endpoints", w]) => (webhooks::delete, id(w)),
        ("GET", ["v1", "events"]) => (webhooks::list_events, vec![]),
        ("GET", ["v1", "events", e]) => (webhooks::retrieve_event, id(e)),
        ("GET", ["v1", "reviews"]) => (reviews::list, vec![]),
        ("GET", ["v1", "reviews", r]) => (reviews::retrieve, id(r)),
        ("POST", ["v1", "reviews", r, "approve"]) => (reviews::approve, id(r)),
        ("POST", ["v1", "setup_intents"]) => (setup_intents::create, vec![]),
        ("GET", ["v1", "setup_intents"]) => (setup_intents::list, vec![]),
        ("GET", ["v1", "setup_intents", s]) => (setup_intents::retrieve, id(s)),
        ("POST", ["v1", "setup_intents", s]) => (setup_intents::update, id(s)),
        ("POST", ["v1", "setup_intents", s, "confirm"]) => (setup_intents::confirm, id(s)),
        ("POST", ["v1", "setup_intents", s, "cancel"]) => (setup_intents::cancel, id(s)),
        ("GET", ["v1", "setup_attempts"]) => (setup_intents::list_attempts, vec![]),
        ("POST", ["_emulator", "setup_intents", s, "authenticate"]) => {
            (setup_intents::authenticate, id(s))
        }
        ("GET", ["v1", "disputes"]) => (disputes::list, vec![]),
        ("GET", ["v1", "disputes", d]) => (disputes::retrieve, id(d)),
        ("POST", ["v1", "disputes", d]) => (disputes::update, id(d)),
        ("POST", ["v1", "disputes", d, "close"]) => (disputes::close, id(d)),
        ("POST", ["_emulator", "charges", c, "dispute"]) => (disputes::control_open, id(c)),
        ("POST", ["_emulator", "disputes", d, "close"]) => (disputes::control_close, id(d)),
        ("POST", ["_emulator", "payment_methods", p, "card_update"]) => {
            (controls::card_update, id(p))
        }
        _ => return None,
    };
    Some(found)
}

/// The id from the path.
pub fn path_id(req: &Req) -> &str {
    req.ids.first().map(String::as_str).unwrap_or_default()
}
