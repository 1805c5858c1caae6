//! `/v1/setup_intents`: saving a card for later (off-session) use, with the issuer's 3-D Secure
//! challenge when the card asks for one; `/v1/setup_attempts`; and the emulator's control that
//! completes or fails the challenge.
//!
//! Test cards behave as on a SetupIntent at Stripe: decline cards fail the setup with their
//! decline, cards that require authentication (3220, 3184, 3155, 0446, 3178, 1629, the mobile
//! challenge cards) go to `requires_action`, 3055 only when `request_three_d_secure=challenge`
//! (frictionless with `any`), and a succeeded setup attaches the card to the customer and, for
//! `usage=off_session`, makes later off-session payments on 3155 go through without a challenge.

use serde_json::{json, Value};

use super::confirm::{redirect_action, three_d_secure_json, ThreeDs};
use super::{customers, path_id, payment_methods, Req};
use crate::cards::{self, Behavior, Decline};
use crate::error::{ApiError, ApiResult};
use crate::form::{Node, Params, Spec};
use crate::ids::{new_id, now, token};
use crate::objects::{apply_metadata, bounded_str, SetiStatus, SetupAttempt, SetupIntent};
use crate::render;
use crate::state::Account;

static MANDATE_OPTIONS: &[(&str, Spec)] = &[
    ("amount", Spec::Scalar),
    ("amount_type", Spec::Scalar),
    ("currency", Spec::Scalar),
    ("description", Spec::Scalar),
    ("end_date", Spec::Scalar),
    ("interval", Spec::Scalar),
    ("interval_count", Spec::Scalar),
    ("reference", Spec::Scalar),
    ("start_date", Spec::Scalar),
    ("supported_types", Spec::ScalarList),
];
static PMO_CARD: &[(&str, Spec)] = &[
    ("mandate_options", Spec::Obj(MANDATE_OPTIONS)),
    ("moto", Spec::Scalar),
    ("network", Spec::Scalar),
    ("request_three_d_secure", Spec::Scalar),
];
static PMO: &[(&str, Spec)] = &[("card", Spec::Obj(PMO_CARD))];

static CREATE: &[(&str, Spec)] = &[
    ("confirm", Spec::Scalar),
    ("customer", Spec::Scalar),
    ("description", Spec::Scalar),
    ("expand", Spec::ScalarList),
    ("metadata", Spec::Dict),
    ("payment_method", Spec::Scalar),
    ("payment_method_data", Spec::Obj(payment_methods::CREATE)),
    ("payment_method_options", Spec::Obj(PMO)),
    ("payment_method_types", Spec::ScalarList),
    ("return_url", Spec::Scalar),
    ("usage", Spec::Scalar),
    ("use_stripe_sdk", Spec::Scalar),
];
static CONFIRM: &[(&str, Spec)] = &[
    ("expand", Spec::ScalarList),
    ("payment_method", Spec::Scalar),
    ("payment_method_data", Spec::Obj(payment_methods::CREATE)),
    ("payment_method_options", Spec::Obj(PMO)),
    ("return_url", Spec::Scalar),
    ("use_stripe_sdk", Spec::Scalar),
];
static UPDATE: &[(&str, Spec)] = &[
    ("customer", Spec::Scalar),
    ("description", Spec::Scalar),
    ("expand", Spec::ScalarList),
    ("metadata", Spec::Dict),
    ("payment_method", Spec::Scalar),
    ("payment_method_options", Spec::Obj(PMO)),
    ("payment_method_types", Spec::ScalarList),
];
static CANCEL: &[(&str, Spec)] = &[
    ("cancellation_reason", Spec::Scalar),
    ("expand", Spec::ScalarList),
];
static RETRIEVE: &[(&str, Spec)] = &[
    ("client_secret", Spec::Scalar),
    ("expand", Spec::ScalarList),
];
static LIST: &[(&str, Spec)] = &[
    ("customer", Spec::Scalar),
    ("ending_before", Spec::Scalar),
    ("expand", Spec::ScalarList),
    ("limit", Spec::Scalar),
    ("payment_method", Spec::Scalar),
    ("starting_after", Spec::Scalar),
];
static LIST_ATTEMPTS: &[(&str, Spec)] = &[
    ("ending_before", Spec::Scalar),
    ("expand", Spec::ScalarList),
    ("limit", Spec::Scalar),
    ("setup_intent", Spec::Scalar),
    ("starting_after", Spec::Scalar),
];
static AUTHENTICATE: &[(&str, Spec)] = &[("expand", Spec::ScalarList), ("outcome", Spec::Scalar)];

fn find(acct: &Account, id: &str) -> ApiResult<SetupIntent> {
    acct.setup_intents
        .get(id)
        .cloned()
        .ok_or_else(|| ApiError::not_found("setup_intent", id))
}

fn unexpected(si: &SetupIntent, action: &str) -> ApiError {
    ApiError::invalid(format!(
        "You cannot {action} this SetupIntent because it has a status of {}.",
        si.status.as_str()
    ))
    .code("setup_intent_unexpected_state")
    .with("setup_intent", si.to_json())
}

/// The parameters create, update and confirm share.
fn apply(acct: &mut Account, si: &mut SetupIntent, p: &Params) -> ApiResult<()> {
    for (i, n) in p.list(&["payment_method_types"]) {
        if *n != Node::Str("card".into()) {
            return Err(ApiError::invalid(
                "The payment method type provided is not supported by this emulator; only `card` is.",
            )
            .param(format!("payment_method_types[{i}]")));
        }
    }
    if let Some(v) = bounded_str(p, &["description"], 1000)? {
        si.description = v;
    }
    apply_metadata(&mut si.metadata, p)?;
    if let Some(c) = p.str(&["customer"])? {
        if c.is_empty() {
            si.customer = None;
        } else {
            customers::live(acct, c).map_err(|_| {
                ApiError::invalid(format!("No such customer: '{c}'"))
                    .code("resource_missing")
                    .param("customer")
            })?;
            si.customer = Some(c.to_string());
        }
    }
    if let Some(r) = p.one_of(
        &["payment_method_options", "card", "request_three_d_secure"],
        &["any", "automatic", "challenge"],
    )? {
        si.request_three_d_secure = Some(r);
    }
    if let Some(r) = p.str_nonempty(&["return_url"])? {
        si.return_url = Some(r.to_string());
    }
    if let Some(pm) = payment_methods::from_intent_params(acct, p)? {
        si.payment_method = Some(pm);
    }
    Ok(())
}

/// The card details of a setup attempt.
fn attempt_card(acct: &Account, pm_id: &str, tds: Option<Value>) -> Value {
    let Some(pm) = acct.payment_methods.get(pm_id) else {
        return Value::Null;
    };
    json!({
        "brand": pm.brand,
        "checks": pm.checks(),
        "country": pm.country,
        "exp_month": pm.exp_month,
        "exp_year": pm.exp_year,
        "fingerprint": pm.fingerprint,
        "funding": pm.funding,
        "last4": pm.last4(),
        "network": pm.brand,
        "three_d_secure": tds,
        "wallet": null,
    })
}

/// Records the attempt's outcome: a new attempt, or the open one (after a challenge).
fn record_attempt(
    acct: &mut Account,
    si: &mut SetupIntent,
    status: &'static str,
    tds: Option<Value>,
    error: Option<Value>,
) {
    let pm = si.payment_method.clone().unwrap_or_default();
    let card = attempt_card(acct, &pm, tds).into();
    let open = si
        .latest_attempt
        .as_deref()
        .and_then(|id| acct.setup_attempts.get(id))
        .filter(|a| a.status == "requires_action" && a.payment_method == pm)
        .map(|a| a.id.clone());
    let att = SetupAttempt {
        id: open.unwrap_or_else(|| new_id("setatt")),
        created: now(),
        setup_intent: si.id.clone(),
        customer: si.customer.clone(),
        payment_method: pm,
        usage: si.usage.clone(),
        status,
        card,
        setup_error: error,
    };
    si.latest_attempt = Some(att.id.clone());
    acct.setup_attempts.insert(att.id.clone(), att);
}

/// The setup fails: back to `requires_payment_method`, the card error carries the SetupIntent.
fn fail(acct: &mut Account, mut si: SetupIntent, d: &Decline, tds: Option<Value>) -> ApiError {
    let mut err = ApiError::card(d.code, d.decline_code, d.message);
    if let Some(p) = d.param {
        err = err.param(p);
    }
    if let Some(pm) = si
        .payment_method
        .as_deref()
        .and_then(|id| acct.payment_methods.get(id))
    {
        err = err.with("payment_method", pm.to_json());
    }
    record_attempt(acct, &mut si, "failed", tds, Some(err.object()));
    si.status = SetiStatus::RequiresPaymentMethod;
    si.next_action = None;
    si.last_setup_error = Some(err.object());
    let json = si.to_json();
    acct.setup_intents.insert(si.id.clone(), si);
    err.with("setup_intent", json)
}

/// The setup succeeds: the card is attached to the customer and, for off-session usage, set up
/// so that later off-session payments need no authentication.
fn succeed(acct: &mut Account, mut si: SetupIntent, tds: Option<ThreeDs>) {
    let pm_id = si.payment_method.clone().unwrap_or_default();
    let tds_json = acct
        .payment_methods
        .get(&pm_id)
        .and_then(|pm| tds.map(|t| three_d_secure_json(pm, t)));
    record_attempt(acct, &mut si, "succeeded", tds_json, None);
    if let Some(cus) = &si.customer {
        let attachable = acct
            .payment_methods
            .get(&pm_id)
            .is_some_and(|m| m.customer.is_none());
        if attachable {
            acct.attach(&pm_id, cus);
        }
    }
    if si.usage == "off_session" {
        if let Some(m) = acct.payment_methods.get_mut(&pm_id) {
            m.setup_off_session = true;
        }
    }
    si.status = SetiStatus::Succeeded;
    si.next_action = None;
    si.last_setup_error = None;
    acct.setup_intents.insert(si.id.clone(), si);
}

/// One confirmation of a SetupIntent that has a payment method.
fn attempt(acct: &mut Account, mut si: SetupIntent, base_url: &str) -> ApiResult<()> {
    let pm_id = si.payment_method.clone().unwrap_or_default();
    let pm = acct
        .payment_methods
        .get(&pm_id)
        .cloned()
        .ok_or_else(|| ApiError::not_found("PaymentMethod", &pm_id))?;
    match (&pm.customer, &si.customer) {
        (Some(c), p) if p.as_ref() != Some(c) => {
            return Err(ApiError::invalid(format!(
                "The provided PaymentMethod ({}) does not belong to the Customer on this SetupIntent.",
                pm.id
            ))
            .param("payment_method"));
        }
        (None, _) if pm.consumed_by.is_some() => {
            return Err(payment_methods::reuse_error().param("payment_method"));
        }
        _ => {}
    }
    let rtds = si.request_three_d_secure.as_deref();
    let wants = matches!(rtds, Some("any") | Some("challenge"));
    let behavior = pm.behavior();
    let decline = match behavior {
        Behavior::Decline(d) => Some(d),
        Behavior::RadarBlock => Some(cards::FRAUDULENT),
        Behavior::ThreeDsLookupError => Some(cards::PROCESSING),
        Behavior::ThreeDsOptionalError if wants => Some(cards::PROCESSING),
        _ => None,
    };
    if let Some(d) = decline {
        return Err(fail(acct, si, &d, None));
    }
    let needs_auth = match behavior {
        Behavior::ThreeDsRequired
        | Behavior::ThreeDsRequiredDecline
        | Behavior::AuthThenInsufficient
        | Behavior::AuthUnlessSetup
        | Behavior::SetupForOffSession => true,
        Behavior::ThreeDsOptional => rtds == Some("challenge"),
        _ => false,
    };
    if needs_auth {
        si.next_action = Some(redirect_action(
            base_url,
            &si.id,
            &si.client_secret,
            si.return_url.as_deref(),
        ));
        si.status = SetiStatus::RequiresAction;
        si.last_setup_error = None;
        record_attempt(acct, &mut si, "requires_action", None, None);
        acct.setup_intents.insert(si.id.clone(), si);
        return Ok(());
    }
    let frictionless = behavior == Behavior::ThreeDsOptional && wants;
    succeed(acct, si, frictionless.then_some(ThreeDs::Frictionless));
    Ok(())
}

fn run_confirm(acct: &mut Account, si: SetupIntent, base_url: &str) -> ApiResult<()> {
    if si.payment_method.is_none() {
        return Err(ApiError::invalid("You cannot confirm this SetupIntent because it's missing a payment method. To confirm the SetupIntent, specify a payment method with the `payment_method` parameter.")
            .code("setup_intent_unexpected_state")
            .with("setup_intent", si.to_json()));
    }
    attempt(acct, si, base_url)
}

pub fn create(acct: &mut Account, req: &Req) -> ApiResult<Value> {
    let p = &req.params;
    p.check_fields(CREATE)?;
    let confirm = p.bool(&["confirm"])?.unwrap_or(false);
    if !confirm && p.has(&["return_url"]) {
        return Err(ApiError::invalid(
            "The parameter return_url can only be used when confirm=true.",
        )
        .param("return_url"));
    }
    let id = new_id("seti");
    let mut si = SetupIntent {
        client_secret: format!("{id}_secret_{}", token(25)),
        id,
        created: now(),
        customer: None,
        description: None,
        metadata: Default::default(),
        payment_method: None,
        usage: p
            .one_of(&["usage"], &["off_session", "on_session"])?
            .unwrap_or_else(|| "off_session".into()),
        status: SetiStatus::RequiresPaymentMethod,
        cancellation_reason: None,
        last_setup_error: None,
        latest_attempt: None,
        next_action: None,
        request_three_d_secure: None,
        return_url: None,
    };
    apply(acct, &mut si, p)?;
    if si.payment_method.is_some() {
        si.status = SetiStatus::RequiresConfirmation;
    }
    let id = si.id.clone();
    if confirm {
        run_confirm(acct, si, &req.base_url)?;
    } else {
        acct.setup_intents.insert(id.clone(), si);
    }
    render::respond(acct, &id, p)
}

pub fn retrieve(acct: &mut Account, req: &Req) -> ApiResult<Value> {
    req.params.check_fields(RETRIEVE)?;
    let id = path_id(req);
    find(acct, id)?;
    render::respond(acct, id, &req.params)
}

pub fn update(acct: &mut Account, req: &Req) -> ApiResult<Value> {
    let p = &req.params;
    p.check_fields(UPDATE)?;
    let id = path_id(req);
    let mut si = find(acct, id)?;
    let limited = ["description", "metadata", "expand"];
    if !si.status.open() {
        if let Some(k) = p.root.keys().find(|k| !limited.contains(&k.as_str())) {
            return Err(ApiError::invalid(format!(
                "You cannot update `{k}` on a SetupIntent with a status of {}.",
                si.status.as_str()
            ))
            .code("setup_intent_unexpected_state")
            .param(k.clone())
            .with("setup_intent", si.to_json()));
        }
    }
    apply(acct, &mut si, p)?;
    if si.status.open() {
        si.status = if si.payment_method.is_some() {
            SetiStatus::RequiresConfirmation
        } else {
            SetiStatus::RequiresPaymentMethod
        };
        si.next_action = None;
    }
    acct.setup_intents.insert(id.to_string(), si);
    render::respond(acct, id, p)
}

pub fn confirm(acct: &mut Account, req: &Req) -> ApiResult<Value> {
    let p = &req.params;
    p.check_fields(CONFIRM)?;
    let id = path_id(req);
    let mut si = find(acct, id)?;
    if !si.status.open() {
        return Err(unexpected(&si, "confirm"));
    }
    apply(acct, &mut si, p)?;
    run_confirm(acct, si, &req.base_url)?;
    render::respond(acct, id, p)
}

pub fn cancel(acct: &mut Account, req: &Req) -> ApiResult<Value> {
    let p = &req.params;
    p.check_fields(CANCEL)?;
    let reason = p.one_of(
        &["cancellation_reason"],
        &["abandoned", "duplicate", "requested_by_customer"],
    )?;
    let id = path_id(req);
    let mut si = find(acct, id)?;
    if !si.status.open() {
        return Err(unexpected(&si, "cancel"));
    }
    if let Some(att) = si.latest_attempt.as_deref() {
        if let Some(a) = acct.setup_attempts.get_mut(att) {
            if a.status == "requires_action" {
                a.status = "abandoned";
            }
        }
    }
    si.status = SetiStatus::Canceled;
    si.cancellation_reason = reason;
    si.next_action = None;
    acct.setup_intents.insert(id.to_string(), si);
    render::respond(acct, id, p)
}

pub fn list(acct: &mut Account, req: &Req) -> ApiResult<Value> {
    let p = &req.params;
    p.check_fields(LIST)?;
    let customer = p.str_nonempty(&["customer"])?;
    let pm = p.str_nonempty(&["payment_method"])?;
    let ids = acct
        .setup_intents
        .newest_first()
        .filter(|s| customer.is_none_or(|c| s.customer.as_deref() == Some(c)))
        .filter(|s| pm.is_none_or(|m| s.payment_method.as_deref() == Some(m)))
        .map(|s| s.id.as_str());
    render::list(acct, "/v1/setup_intents", ids, p)
}

/// `GET /v1/setup_attempts?setup_intent=…`.
pub fn list_attempts(acct: &mut Account, req: &Req) -> ApiResult<Value> {
    let p = &req.params;
    p.check_fields(LIST_ATTEMPTS)?;
    let seti = p.str_req(&["setup_intent"])?;
    let ids = acct
        .setup_attempts
        .newest_first()
        .filter(|a| a.setup_intent == seti)
        .map(|a| a.id.as_str());
    render::list(acct, "/v1/setup_attempts", ids, p)
}

/// `POST /_emulator/setup_intents/{id}/authenticate` (`outcome=success|failure`): completes the
/// 3DS challenge of a SetupIntent in `requires_action`, as the customer would.
pub fn authenticate(acct: &mut Account, req: &Req) -> ApiResult<Value> {
    let p = &req.params;
    p.check_fields(AUTHENTICATE)?;
    let ok = p.one_of(&["outcome"], &["success", "failure"])?.as_deref() != Some("failure");
    let id = path_id(req);
    let mut si = find(acct, id)?;
    if si.status != SetiStatus::RequiresAction {
        return Err(ApiError::invalid(format!(
            "This SetupIntent has a status of {}; only a SetupIntent in requires_action can be authenticated.",
            si.status.as_str()
        ))
        .code("setup_intent_unexpected_state"));
    }
    let pm = si
        .payment_method
        .as_deref()
        .and_then(|m| acct.payment_methods.get(m))
        .cloned()
        .ok_or_else(|| ApiError::internal("setup intent without a payment method"))?;
    if !ok {
        let mut tds = three_d_secure_json(&pm, ThreeDs::Challenge);
        tds["result"] = json!("failed");
        tds["result_reason"] = json!("abandoned");
        let err = ApiError::invalid("The latest attempt to set up the payment method has failed because authentication failed.")
            .code("setup_intent_authentication_failure")
            .with("payment_method", pm.to_json());
        record_attempt(acct, &mut si, "failed", Some(tds), Some(err.object()));
        si.status = SetiStatus::RequiresPaymentMethod;
        si.next_action = None;
        si.last_setup_error = Some(err.object());
        acct.setup_intents.insert(id.to_string(), si);
    } else if pm.behavior() == Behavior::ThreeDsRequiredDecline {
        // Authenticated, then declined by the issuer: reported on the SetupIntent.
        let tds = three_d_secure_json(&pm, ThreeDs::Challenge);
        let _ = fail(acct, si, &cards::GENERIC, Some(tds));
    } else {
        succeed(acct, si, Some(ThreeDs::Challenge));
    }
    render::respond(acct, id, p)
}
