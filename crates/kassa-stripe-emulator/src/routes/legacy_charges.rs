//! The legacy Charges API: `POST /v1/charges` and `POST /v1/charges/{id}/capture`, with the
//! same test-card outcomes as PaymentIntents. No PaymentIntent is created (`payment_intent` is
//! `null`); cards that require authentication decline with `authentication_required`, as a
//! charge cannot run 3DS.

use std::collections::BTreeMap;

use serde_json::Value;

use super::confirm::{assess, new_charge, Risk};
use super::{customers, path_id, payment_methods, pi_params, Req};
use crate::cards::{self, Behavior};
use crate::error::{ApiError, ApiResult};
use crate::form::{Node, Params, Spec};
use crate::objects::{
    apply_metadata, bounded_str, email_param, shipping_param, PaymentIntent, PaymentMethod,
    PiStatus, SHIPPING,
};
use crate::render;
use crate::state::Account;

static CARD: &[(&str, Spec)] = &[
    ("address_city", Spec::Scalar),
    ("address_country", Spec::Scalar),
    ("address_line1", Spec::Scalar),
    ("address_line2", Spec::Scalar),
    ("address_state", Spec::Scalar),
    ("address_zip", Spec::Scalar),
    ("cvc", Spec::Scalar),
    ("exp_month", Spec::Scalar),
    ("exp_year", Spec::Scalar),
    ("name", Spec::Scalar),
    ("number", Spec::Scalar),
    ("object", Spec::Scalar),
];

static CREATE: &[(&str, Spec)] = &[
    ("amount", Spec::Scalar),
    ("capture", Spec::Scalar),
    ("card", Spec::Obj(CARD)),
    ("currency", Spec::Scalar),
    ("customer", Spec::Scalar),
    ("description", Spec::Scalar),
    ("expand", Spec::ScalarList),
    ("metadata", Spec::Dict),
    ("receipt_email", Spec::Scalar),
    ("shipping", Spec::Obj(SHIPPING)),
    ("source", Spec::Scalar),
    ("statement_descriptor_suffix", Spec::Scalar),
];

static UPDATE: &[(&str, Spec)] = &[
    ("description", Spec::Scalar),
    ("expand", Spec::ScalarList),
    ("metadata", Spec::Dict),
    ("receipt_email", Spec::Scalar),
    ("shipping", Spec::Obj(SHIPPING)),
];

static CAPTURE: &[(&str, Spec)] = &[
    ("amount", Spec::Scalar),
    ("expand", Spec::ScalarList),
    ("receipt_email", Spec::Scalar),
    ("statement_descriptor_suffix", Spec::Scalar),
];

/// The PaymentMethod a charge uses: `source` (stored PaymentMethod, `pm_card_…` or `tok_…`),
/// raw `card[…]`, or the customer's default.
fn payment_method(acct: &mut Account, p: &Params, customer: Option<&str>) -> ApiResult<String> {
    if let Some(src) = p.str_nonempty(&["source"])? {
        let id = payment_methods::resolve(acct, src, "source").map_err(|_| {
            ApiError::invalid(format!("No such token: '{src}'"))
                .code("resource_missing")
                .param("source")
        })?;
        let owner = acct
            .payment_methods
            .get(&id)
            .and_then(|pm| pm.customer.clone());
        if owner.is_some() && owner.as_deref() != customer {
            return Err(ApiError::invalid(format!(
                "The PaymentMethod {src} belongs to a Customer; pass that Customer as `customer`."
            ))
            .param("source"));
        }
        return Ok(id);
    }
    if let Some(card) = p.get(&["card"]) {
        let mut root = BTreeMap::new();
        root.insert("type".to_string(), Node::Str("card".into()));
        root.insert("card".to_string(), card.clone());
        let pm = payment_methods::build(acct, &Params { root }).map_err(|mut e| {
            if let Some(param) = e.param.take() {
                let inner = param.trim_start_matches("card[").trim_end_matches(']');
                e.param = Some(format!("card[{inner}]"));
            }
            e
        })?;
        let id = pm.id.clone();
        acct.payment_methods.insert(id.clone(), pm);
        return Ok(id);
    }
    let default = customer.and_then(|c| {
        acct.customers
            .get(c)
            .and_then(|cus| cus.default_payment_method.clone())
            .or_else(|| {
                acct.pms_by_customer.get(c).and_then(|ids| {
                    ids.iter()
                        .rev()
                        .find(|id| {
                            acct.payment_methods
                                .get(id)
                                .is_some_and(|pm| pm.customer.as_deref() == Some(c))
                        })
                        .cloned()
                })
            })
    });
    default.ok_or_else(|| ApiError::invalid("Must provide source or customer.").code("missing"))
}

/// A PaymentIntent-shaped view of the charge parameters (never stored) for `new_charge`.
fn intent(amount: i64, currency: String, capture: bool) -> PaymentIntent {
    PaymentIntent {
        id: String::new(),
        created: 0,
        amount,
        amount_capturable: 0,
        amount_received: 0,
        currency,
        customer: None,
        description: None,
        capture_method: if capture { "automatic" } else { "manual" }.into(),
        confirmation_method: "automatic".into(),
        canceled_at: None,
        cancellation_reason: None,
        client_secret: String::new(),
        last_payment_error: None,
        latest_charge: None,
        metadata: Default::default(),
        next_action: None,
        payment_method: None,
        card: Default::default(),
        receipt_email: None,
        setup_future_usage: None,
        shipping: None,
        statement_descriptor_suffix: None,
        status: PiStatus::RequiresConfirmation,
        review: None,
        amount_details: None,
        payment_details: None,
        radar_session: None,
        return_url: None,
        off_session: None,
        error_on_requires_action: false,
        processing_tds: None,
    }
}

fn needs_authentication(pm: &PaymentMethod) -> bool {
    matches!(
        pm.behavior(),
        Behavior::ThreeDsRequired
            | Behavior::ThreeDsRequiredDecline
            | Behavior::AuthThenInsufficient
            | Behavior::AuthUnlessSetup
            | Behavior::SetupForOffSession
    )
}

pub fn create(acct: &mut Account, req: &Req) -> ApiResult<Value> {
    let p = &req.params;
    p.check_fields(CREATE)?;
    let currency = pi_params::currency(p)?.ok_or_else(|| ApiError::missing_param("currency"))?;
    let amount = pi_params::amount(p, &currency, &["amount"])?
        .ok_or_else(|| ApiError::missing_param("amount"))?;
    let capture = p.bool(&["capture"])?.unwrap_or(true);
    let mut pi = intent(amount, currency, capture);
    if let Some(c) = p.str_nonempty(&["customer"])? {
        customers::live(acct, c)?;
        pi.customer = Some(c.to_string());
    }
    pi.description = bounded_str(p, &["description"], 1000)?.flatten();
    pi.receipt_email = email_param(p, &["receipt_email"])?.flatten();
    pi.shipping = shipping_param(p, &["shipping"])?.flatten();
    if let Some(v) = bounded_str(p, &["statement_descriptor_suffix"], 22)? {
        pi_params::descriptor(&acct.settings, v.as_deref(), "statement_descriptor_suffix")?;
        pi.statement_descriptor_suffix = v;
    }
    apply_metadata(&mut pi.metadata, p)?;
    let pm_id = payment_method(acct, p, pi.customer.as_deref())?;
    let pm = acct
        .payment_methods
        .get(&pm_id)
        .cloned()
        .ok_or_else(|| ApiError::not_found("PaymentMethod", &pm_id))?;
    let (decline, risk) = if needs_authentication(&pm) {
        (Some(cards::AUTH_REQUIRED), Risk::Normal)
    } else {
        assess(&pm)
    };
    let mut ch = new_charge(acct, &pi, &pm, decline.as_ref(), risk, None);
    if risk == Risk::Elevated && decline.is_none() {
        ch.review = Some(super::reviews::open(acct, &ch.id, None));
    }
    let id = ch.id.clone();
    acct.add_charge(ch);
    if let Some(d) = decline {
        let mut err = ApiError::card(d.code, d.decline_code, d.message).with("charge", id.into());
        if let Some(param) = d.param {
            err = err.param(param);
        }
        return Err(err);
    }
    render::respond(acct, &id, p)
}

pub fn capture(acct: &mut Account, req: &Req) -> ApiResult<Value> {
    let p = &req.params;
    p.check_fields(CAPTURE)?;
    let id = path_id(req);
    let mut ch = acct
        .charges
        .get(id)
        .cloned()
        .ok_or_else(|| ApiError::not_found("charge", id))?;
    if !ch.payment_intent.is_empty() {
        return Err(ApiError::invalid(format!(
            "This charge belongs to the PaymentIntent {}; capture the PaymentIntent instead.",
            ch.payment_intent
        )));
    }
    if ch.status != "succeeded" {
        return Err(ApiError::invalid(format!(
            "Charge {id} has failed and cannot be captured."
        )));
    }
    if ch.captured {
        return Err(
            ApiError::invalid(format!("Charge {id} has already been captured."))
                .code("charge_already_captured"),
        );
    }
    if ch.amount_refunded > 0 {
        return Err(ApiError::invalid(format!(
            "Charge {id} has been refunded and cannot be captured."
        ))
        .code("charge_already_refunded"));
    }
    let amount = p.int(&["amount"])?.unwrap_or(ch.amount);
    if amount < 1 || amount > ch.amount {
        return Err(ApiError::invalid(format!(
            "The amount to capture must be between 1 and the authorized amount ({}).",
            ch.amount
        ))
        .code("amount_too_large")
        .param("amount"));
    }
    if let Some(v) = bounded_str(p, &["statement_descriptor_suffix"], 22)? {
        let d = pi_params::descriptor(&acct.settings, v.as_deref(), "statement_descriptor_suffix")?;
        ch.statement_descriptor_suffix = v;
        ch.calculated_statement_descriptor = Some(d);
    }
    if let Some(e) = email_param(p, &["receipt_email"])? {
        ch.receipt_email = e;
    }
    ch.captured = true;
    ch.amount_captured = amount;
    acct.charges.insert(id.to_string(), ch);
    render::respond(acct, id, p)
}

/// `POST /v1/charges/{id}`: `description`, `metadata`, `receipt_email`, `shipping` (emits
/// `charge.updated`).
pub fn update(acct: &mut Account, req: &Req) -> ApiResult<Value> {
    let p = &req.params;
    p.check_fields(UPDATE)?;
    let id = path_id(req);
    let mut ch = acct
        .charges
        .get(id)
        .cloned()
        .ok_or_else(|| ApiError::not_found("charge", id))?;
    if let Some(v) = bounded_str(p, &["description"], 1000)? {
        ch.description = v;
    }
    if let Some(v) = email_param(p, &["receipt_email"])? {
        ch.receipt_email = v;
    }
    if let Some(v) = shipping_param(p, &["shipping"])? {
        ch.shipping = v;
    }
    apply_metadata(&mut ch.metadata, p)?;
    acct.charges.insert(id.to_string(), ch);
    render::respond(acct, id, p)
}
