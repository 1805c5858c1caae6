//! `/v1/payment_methods` (type `card`).

use serde_json::Value;

use super::{customers, path_id, Req};
use crate::cards::{self, Behavior};
use crate::error::{ApiError, ApiResult};
use crate::form::{Node, Params, Spec};
use crate::ids::{new_id, now};
use crate::objects::{apply_metadata, billing_details, PaymentMethod, BILLING_DETAILS};
use crate::render;
use crate::state::Account;

static CARD: &[(&str, Spec)] = &[
    ("cvc", Spec::Scalar),
    ("exp_month", Spec::Scalar),
    ("exp_year", Spec::Scalar),
    ("number", Spec::Scalar),
    ("token", Spec::Scalar),
];

pub static CREATE: &[(&str, Spec)] = &[
    ("allow_redisplay", Spec::Scalar),
    ("billing_details", Spec::Obj(BILLING_DETAILS)),
    ("card", Spec::Obj(CARD)),
    ("expand", Spec::ScalarList),
    ("metadata", Spec::Dict),
    ("type", Spec::Scalar),
];

static NETWORKS: &[(&str, Spec)] = &[("preferred", Spec::Scalar)];
static UPDATE_CARD: &[(&str, Spec)] = &[
    ("exp_month", Spec::Scalar),
    ("exp_year", Spec::Scalar),
    ("networks", Spec::Obj(NETWORKS)),
];
static UPDATE: &[(&str, Spec)] = &[
    ("allow_redisplay", Spec::Scalar),
    ("billing_details", Spec::Obj(BILLING_DETAILS)),
    ("card", Spec::Obj(UPDATE_CARD)),
    ("expand", Spec::ScalarList),
    ("metadata", Spec::Dict),
];
static ATTACH: &[(&str, Spec)] = &[("customer", Spec::Scalar), ("expand", Spec::ScalarList)];
static EXPAND_ONLY: &[(&str, Spec)] = &[("expand", Spec::ScalarList)];
static LIST: &[(&str, Spec)] = &[
    ("customer", Spec::Scalar),
    ("ending_before", Spec::Scalar),
    ("expand", Spec::ScalarList),
    ("limit", Spec::Scalar),
    ("starting_after", Spec::Scalar),
    ("type", Spec::Scalar),
];
static LIST_FOR_CUSTOMER: &[(&str, Spec)] = &[
    ("ending_before", Spec::Scalar),
    ("expand", Spec::ScalarList),
    ("limit", Spec::Scalar),
    ("starting_after", Spec::Scalar),
    ("type", Spec::Scalar),
];

const RAW_PAN_DISABLED: &str = "Sending credit card numbers directly to the Stripe API is generally unsafe. We suggest you use test tokens that map to the test card you are using, see https://stripe.com/docs/testing. To enable testing raw card data APIs, see https://support.stripe.com/questions/enabling-access-to-raw-card-data-apis.";

/// Current (year, month) in UTC.
fn year_month() -> (i64, i64) {
    let days = now().div_euclid(86_400);
    // Civil-from-days (Howard Hinnant).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m)
}

fn card_err(code: &str, message: &str, param: &str) -> ApiError {
    ApiError::card(code, None, message).param(param)
}

/// Validates expiry; returns (month, four-digit year).
fn expiry(month: i64, year: i64) -> ApiResult<(i64, i64)> {
    if !(1..=12).contains(&month) {
        return Err(card_err(
            "invalid_expiry_month",
            "Your card's expiration month is invalid.",
            "exp_month",
        ));
    }
    let year = if (0..100).contains(&year) {
        year + 2000
    } else {
        year
    };
    let (cy, cm) = year_month();
    if year < cy || year > cy + 50 {
        return Err(card_err(
            "invalid_expiry_year",
            "Your card's expiration year is invalid.",
            "exp_year",
        ));
    }
    if year == cy && month < cm {
        return Err(card_err(
            "invalid_expiry_month",
            "Your card's expiration month is invalid.",
            "exp_month",
        ));
    }
    Ok((month, year))
}

fn new_pm(
    acct: &Account,
    pan: &str,
    exp: (i64, i64),
    cvc_provided: bool,
    from_token: bool,
) -> PaymentMethod {
    let test = cards::by_pan(pan);
    PaymentMethod {
        id: new_id("pm"),
        created: now(),
        customer: None,
        pan: pan.to_string(),
        brand: cards::detect_brand(pan),
        funding: test.map_or("credit", |t| t.funding),
        country: test.map_or("US", |t| t.country),
        exp_month: exp.0,
        exp_year: exp.1,
        fingerprint: cards::fingerprint(&acct.key, pan),
        cvc_provided,
        from_token,
        billing_details: billing_details(&Params::default(), &["billing_details"], None).into(),
        metadata: Default::default(),
        allow_redisplay: "unspecified".into(),
        test,
        setup_off_session: false,
        consumed_by: None,
    }
}

/// A new PaymentMethod from a test token (`pm_card_visa`, `tok_visa`), if it is one.
fn from_token(acct: &Account, token: &str) -> Option<PaymentMethod> {
    let card = cards::by_token(token)?;
    let (y, _) = year_month();
    Some(new_pm(acct, card.pan, (12, y + 3), true, true))
}

/// Resolves a `payment_method` parameter: stored ids, or test tokens (a fresh PaymentMethod each time).
pub fn resolve(acct: &mut Account, id: &str, param: &str) -> ApiResult<String> {
    if acct.payment_methods.get(id).is_some() {
        return Ok(id.to_string());
    }
    match from_token(acct, id) {
        Some(pm) => {
            let new_id = pm.id.clone();
            acct.payment_methods.insert(new_id.clone(), pm);
            Ok(new_id)
        }
        None => Err(ApiError::invalid(format!("No such PaymentMethod: '{id}'"))
            .code("resource_missing")
            .param(param)),
    }
}

fn decline_on_attach(pm: &PaymentMethod) -> Option<ApiError> {
    match pm.behavior() {
        Behavior::Decline(d) => Some(ApiError::card(d.code, d.decline_code, d.message)),
        Behavior::RadarBlock => {
            let d = cards::FRAUDULENT;
            Some(ApiError::card(d.code, d.decline_code, d.message))
        }
        _ => None,
    }
}

/// Errors attaching would give, without changing anything.
pub fn check_attachable(acct: &Account, id: &str, param: &str) -> ApiResult<()> {
    if cards::by_token(id).is_some() {
        return Ok(());
    }
    let pm = acct.payment_methods.get(id).ok_or_else(|| {
        ApiError::invalid(format!("No such PaymentMethod: '{id}'"))
            .code("resource_missing")
            .param(param)
    })?;
    if pm.customer.is_some() {
        return Err(ApiError::invalid(
            "The payment method you provided has already been attached to a customer.",
        ));
    }
    if pm.consumed_by.is_some() {
        return Err(reuse_error());
    }
    match decline_on_attach(pm) {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

pub fn reuse_error() -> ApiError {
    ApiError::invalid("This PaymentMethod was previously used without being attached to a Customer or was detached from a Customer, and may not be used again.")
}

/// The PaymentMethod an intent's parameters name: `payment_method` (a stored id or a test token)
/// or one built from `payment_method_data`; `None` when neither is given.
pub fn from_intent_params(acct: &mut Account, p: &Params) -> ApiResult<Option<String>> {
    let given = p.str_nonempty(&["payment_method"])?;
    if given.is_some() && p.has(&["payment_method_data"]) {
        return Err(ApiError::invalid(
            "You cannot specify both `payment_method` and `payment_method_data`.",
        ));
    }
    if let Some(Node::Map(m)) = p.get(&["payment_method_data"]) {
        let sub = Params { root: m.clone() };
        let pm = build(acct, &sub).map_err(|mut e| {
            e.param = e.param.take().map(|x| format!("payment_method_data[{x}]"));
            e
        })?;
        let id = pm.id.clone();
        acct.payment_methods.insert(id.clone(), pm);
        return Ok(Some(id));
    }
    match given {
        Some(pm) => Ok(Some(resolve(acct, pm, "payment_method")?)),
        None => Ok(None),
    }
}

/// Attaches (test tokens first become a new PaymentMethod); returns the PaymentMethod id.
pub fn attach_to(acct: &mut Account, id: &str, customer: &str) -> ApiResult<String> {
    check_attachable(acct, id, "payment_method")?;
    let id = resolve(acct, id, "payment_method")?;
    if let Some(pm) = acct.payment_methods.get(&id) {
        if let Some(e) = decline_on_attach(pm) {
            return Err(e);
        }
    }
    acct.attach(&id, customer);
    Ok(id)
}

fn parse_pan(raw: &str) -> ApiResult<String> {
    let pan: String = raw.chars().filter(|c| *c != ' ' && *c != '-').collect();
    if pan.is_empty()
        || !pan.chars().all(|c| c.is_ascii_digit())
        || pan.len() < 12
        || pan.len() > 19
    {
        return Err(card_err(
            "invalid_number",
            "Your card number is incorrect.",
            "number",
        ));
    }
    if !cards::luhn_ok(&pan) || !cards::length_ok(cards::detect_brand(&pan), pan.len()) {
        return Err(card_err(
            "incorrect_number",
            "Your card number is incorrect.",
            "number",
        ));
    }
    Ok(pan)
}

/// Builds (does not store) a card PaymentMethod from `{prefix}[card]…` parameters.
pub fn build(acct: &Account, p: &Params) -> ApiResult<PaymentMethod> {
    p.one_of(&["type"], &["card"])?;
    p.str_req(&["type"])?;
    if !p.has(&["card"]) {
        return Err(ApiError::missing_param("card"));
    }
    let mut pm = if let Some(tok) = p.str_nonempty(&["card", "token"])? {
        from_token(acct, tok).ok_or_else(|| {
            ApiError::invalid(format!("No such token: '{tok}'"))
                .code("resource_missing")
                .param("card[token]")
        })?
    } else {
        let raw = p.str_req(&["card", "number"])?;
        if !acct.settings.raw_card_data {
            return Err(ApiError::invalid(RAW_PAN_DISABLED));
        }
        let pan = parse_pan(raw)?;
        let month = p.int_req(&["card", "exp_month"])?;
        let year = p.int_req(&["card", "exp_year"])?;
        let exp = expiry(month, year)?;
        let cvc = p.str_nonempty(&["card", "cvc"])?;
        if let Some(cvc) = cvc {
            let amex = cards::detect_brand(&pan) == "amex";
            let ok_len = cvc.len() == 3 || (amex && cvc.len() == 4);
            if !ok_len || !cvc.chars().all(|c| c.is_ascii_digit()) {
                return Err(card_err(
                    "invalid_cvc",
                    "Your card's security code is invalid.",
                    "cvc",
                ));
            }
        }
        new_pm(acct, &pan, exp, cvc.is_some(), false)
    };
    pm.billing_details = billing_details(p, &["billing_details"], None).into();
    apply_metadata(&mut pm.metadata, p)?;
    if let Some(r) = p.one_of(&["allow_redisplay"], &["always", "limited", "unspecified"])? {
        pm.allow_redisplay = r;
    }
    Ok(pm)
}

pub fn create(acct: &mut Account, req: &Req) -> ApiResult<Value> {
    let p = &req.params;
    p.check_fields(CREATE)?;
    let pm = build(acct, p)?;
    let id = pm.id.clone();
    acct.payment_methods.insert(id.clone(), pm);
    render::respond(acct, &id, p)
}

pub fn retrieve(acct: &mut Account, req: &Req) -> ApiResult<Value> {
    req.params.check_fields(EXPAND_ONLY)?;
    let id = resolve(acct, path_id(req), "id")?;
    render::respond(acct, &id, &req.params)
}

pub fn update(acct: &mut Account, req: &Req) -> ApiResult<Value> {
    let p = &req.params;
    p.check_fields(UPDATE)?;
    let id = path_id(req);
    let mut pm = acct
        .payment_methods
        .get(id)
        .cloned()
        .ok_or_else(|| ApiError::not_found("PaymentMethod", id))?;
    if pm.customer.is_none() {
        return Err(ApiError::invalid(
            "You must save this PaymentMethod to a customer before you can update it.",
        ));
    }
    let month = p.int(&["card", "exp_month"])?.unwrap_or(pm.exp_month);
    let year = p.int(&["card", "exp_year"])?.unwrap_or(pm.exp_year);
    if p.has(&["card", "exp_month"]) || p.has(&["card", "exp_year"]) {
        let (m, y) = expiry(month, year).map_err(|mut e| {
            // Stripe names the nested param on update.
            e.param = e.param.take().map(|x| format!("card[{x}]"));
            e.kind = crate::ErrorType::InvalidRequestError;
            e.status = axum::http::StatusCode::BAD_REQUEST;
            e
        })?;
        pm.exp_month = m;
        pm.exp_year = y;
    }
    pm.billing_details =
        billing_details(p, &["billing_details"], Some(&pm.billing_details.value())).into();
    apply_metadata(&mut pm.metadata, p)?;
    if let Some(r) = p.one_of(&["allow_redisplay"], &["always", "limited", "unspecified"])? {
        pm.allow_redisplay = r;
    }
    acct.payment_methods.insert(id.to_string(), pm);
    render::respond(acct, id, p)
}

pub fn attach(acct: &mut Account, req: &Req) -> ApiResult<Value> {
    let p = &req.params;
    p.check_fields(ATTACH)?;
    let cus = p.str_req(&["customer"])?;
    customers::live(acct, cus)?;
    let id = path_id(req);
    if cards::by_token(id).is_none() && acct.payment_methods.get(id).is_none() {
        return Err(ApiError::not_found("PaymentMethod", id));
    }
    let id = attach_to(acct, id, cus)?;
    render::respond(acct, &id, p)
}

pub fn detach(acct: &mut Account, req: &Req) -> ApiResult<Value> {
    req.params.check_fields(EXPAND_ONLY)?;
    let id = path_id(req);
    let pm = acct
        .payment_methods
        .get_mut(id)
        .ok_or_else(|| ApiError::not_found("PaymentMethod", id))?;
    if pm.customer.is_none() {
        return Err(ApiError::invalid(
            "The payment method you provided is not attached to a customer so detachment is impossible.",
        ));
    }
    pm.customer = None;
    pm.consumed_by = Some("detached".into());
    render::respond(acct, id, &req.params)
}

fn list_of(acct: &Account, customer: Option<&str>, p: &Params, url: &str) -> ApiResult<Value> {
    p.one_of(&["type"], &["card"])?;
    match customer {
        Some(cus) => {
            let attached = acct
                .pms_by_customer
                .get(cus)
                .map(Vec::as_slice)
                .unwrap_or_default();
            let ids = attached.iter().rev().map(String::as_str).filter(|id| {
                acct.payment_methods
                    .get(id)
                    .is_some_and(|pm| pm.customer.as_deref() == Some(cus))
            });
            render::list(acct, url, ids, p)
        }
        None => {
            let ids = acct.payment_methods.newest_first().map(|pm| pm.id.as_str());
            render::list(acct, url, ids, p)
        }
    }
}

pub fn list(acct: &mut Account, req: &Req) -> ApiResult<Value> {
    let p = &req.params;
    p.check_fields(LIST)?;
    let customer = p.str_nonempty(&["customer"])?;
    if let Some(c) = customer {
        customers::live(acct, c)?;
    }
    list_of(acct, customer, p, "/v1/payment_methods")
}

pub fn list_for_customer(acct: &mut Account, req: &Req) -> ApiResult<Value> {
    let p = &req.params;
    p.check_fields(LIST_FOR_CUSTOMER)?;
    let cus = path_id(req);
    customers::live(acct, cus)?;
    list_of(
        acct,
        Some(cus),
        p,
        &format!("/v1/customers/{cus}/payment_methods"),
    )
}
