//! Confirmation: 3DS decisions, authorization with test-card outcomes, charges, and the
//! emulator's 3DS completion endpoint.

use serde_json::{json, Value};

use super::{path_id, payment_methods, Req};
use crate::cards::{self, Behavior, Decline};
use crate::error::{ApiError, ApiResult};
use crate::form::Spec;
use crate::ids::{digits, new_id, now, token};
use crate::objects::{Charge, PaymentIntent, PaymentMethod, PiStatus};
use crate::render;
use crate::state::Account;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Risk {
    Normal,
    Elevated,
    Highest,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThreeDs {
    Frictionless,
    Challenge,
}

fn get(acct: &Account, pi_id: &str) -> ApiResult<(PaymentIntent, PaymentMethod)> {
    let pi = acct
        .payment_intents
        .get(pi_id)
        .cloned()
        .ok_or_else(|| ApiError::not_found("payment_intent", pi_id))?;
    let pm_id = pi.payment_method.clone().unwrap_or_default();
    let pm = acct
        .payment_methods
        .get(&pm_id)
        .cloned()
        .ok_or_else(|| ApiError::not_found("PaymentMethod", &pm_id))?;
    Ok((pi, pm))
}

fn risk_score(pm: &PaymentMethod, risk: Risk) -> i64 {
    let x = cards::stable_percent(&pm.fingerprint);
    match risk {
        Risk::Normal => 5 + x % 55,
        Risk::Elevated => 65 + x % 10,
        Risk::Highest => 75 + x % 25,
    }
}

fn risk_level(risk: Risk) -> &'static str {
    match risk {
        Risk::Normal => "normal",
        Risk::Elevated => "elevated",
        Risk::Highest => "highest",
    }
}

fn outcome(pm: &PaymentMethod, risk: Risk, decline: Option<&Decline>) -> Value {
    let (kind, network, reason, seller) = match (decline, risk) {
        (Some(_), Risk::Highest) => (
            "blocked",
            "not_sent_to_network",
            Some("highest_risk_level".to_string()),
            "Stripe blocked this payment as too risky.".to_string(),
        ),
        (Some(d), _) => {
            let code = d.decline_code.unwrap_or(d.code);
            let seller = if code == "generic_decline" {
                "The bank did not return any further details with this decline.".to_string()
            } else {
                format!("The bank returned the decline code `{code}`.")
            };
            ("issuer_declined", "declined_by_network", Some(code.to_string()), seller)
        }
        (None, Risk::Elevated) => (
            "manual_review",
            "approved_by_network",
            Some("elevated_risk_level".to_string()),
            "Stripe evaluated this payment as having elevated risk, and placed it in your manual review queue.".to_string(),
        ),
        (None, _) => ("authorized", "approved_by_network", None, "Payment complete.".to_string()),
    };
    json!({
        "advice_code": decline.map(|d| match d.decline_code {
            Some("insufficient_funds") | Some("processing_error") => "try_again_later",
            Some("lost_card") | Some("stolen_card") | Some("fraudulent") | Some("expired_card") => "do_not_try_again",
            _ => "confirm_card_data",
        }),
        "network_advice_code": null,
        "network_decline_code": null,
        "network_status": network,
        "reason": reason,
        "risk_level": risk_level(risk),
        "risk_score": risk_score(pm, risk),
        "seller_message": seller,
        "type": kind,
    })
}

/// `three_d_secure` of a charge's or setup attempt's card details after authentication.
pub(super) fn three_d_secure_json(pm: &PaymentMethod, tds: ThreeDs) -> Value {
    json!({
        "authentication_flow": match tds { ThreeDs::Frictionless => "frictionless", ThreeDs::Challenge => "challenge" },
        "electronic_commerce_indicator": if pm.brand == "mastercard" { "02" } else { "05" },
        "exemption_indicator": null,
        "exemption_indicator_applied": false,
        "result": "authenticated",
        "result_reason": null,
        "transaction_id": format!("{}-{}-{}", token(8), token(4), token(12)).to_lowercase(),
        "version": cards::three_ds_version(&pm.pan),
    })
}

fn card_details(
    pi: &PaymentIntent,
    pm: &PaymentMethod,
    ok: bool,
    tds: Option<ThreeDs>,
    created: i64,
) -> Value {
    let manual = pi.effective_capture_method() == "manual";
    let hold = if pi.off_session.is_some() && pm.brand == "visa" {
        410_400
    } else {
        604_800
    };
    json!({
        "amount_authorized": if ok { Some(pi.amount) } else { None },
        "authorization_code": if ok { Some(digits(6)) } else { None },
        "brand": pm.brand,
        "capture_before": if ok && manual { Some(created + hold) } else { None },
        "checks": pm.checks(),
        "country": pm.country,
        "exp_month": pm.exp_month,
        "exp_year": pm.exp_year,
        "extended_authorization": { "status": "disabled" },
        "fingerprint": pm.fingerprint,
        "funding": pm.funding,
        "incremental_authorization": { "status": "unavailable" },
        "installments": null,
        "last4": pm.last4(),
        "mandate": null,
        "multicapture": { "status": "unavailable" },
        "network": pm.brand,
        "network_token": { "used": false },
        "network_transaction_id": if ok { Some(digits(15)) } else { None },
        "overcapture": { "maximum_amount_capturable": pi.amount, "status": "unavailable" },
        "regulated_status": "unregulated",
        "three_d_secure": tds.map(|t| three_d_secure_json(pm, t)),
        "transaction_link_id": null,
        "wallet": null,
    })
}

pub(super) fn new_charge(
    acct: &Account,
    pi: &PaymentIntent,
    pm: &PaymentMethod,
    decline: Option<&Decline>,
    risk: Risk,
    tds: Option<ThreeDs>,
) -> Charge {
    let created = now();
    let ok = decline.is_none();
    let automatic = pi.effective_capture_method() != "manual";
    Charge {
        id: new_id("ch"),
        created,
        amount: pi.amount,
        amount_captured: if ok && automatic { pi.amount } else { 0 },
        amount_refunded: 0,
        captured: ok && automatic,
        currency: pi.currency.clone(),
        customer: pi.customer.clone(),
        description: pi.description.clone(),
        metadata: pi.metadata.clone(),
        outcome: outcome(pm, risk, decline).into(),
        paid: ok,
        status: if ok { "succeeded" } else { "failed" },
        payment_intent: pi.id.clone(),
        payment_method: pm.id.clone(),
        card: card_details(pi, pm, ok, tds, created).into(),
        billing_details: pm.billing_details.clone(),
        receipt_email: pi.receipt_email.clone(),
        refunds: Vec::new(),
        shipping: pi.shipping.clone(),
        statement_descriptor_suffix: pi.statement_descriptor_suffix.clone(),
        calculated_statement_descriptor: crate::routes::pi_params::descriptor(
            &acct.settings,
            pi.statement_descriptor_suffix.as_deref(),
            "statement_descriptor_suffix",
        )
        .ok(),
        failure_code: decline.map(|d| d.code.to_string()),
        failure_message: decline.map(|d| d.message.to_string()),
        review: None,
        pending_refunds: pm.behavior() == Behavior::PendingRefund,
        disputed: false,
    }
}

/// Marks an unattached PaymentMethod as used by this PaymentIntent.
fn consume(acct: &mut Account, pm_id: &str, pi_id: &str) {
    if let Some(pm) = acct.payment_methods.get_mut(pm_id) {
        if pm.customer.is_none() && pm.consumed_by.is_none() {
            pm.consumed_by = Some(pi_id.to_string());
        }
    }
}

/// Fails the attempt: PI back to requires_payment_method with last_payment_error; the
/// returned card error carries the PaymentIntent.
fn decline(
    acct: &mut Account,
    pi_id: &str,
    d: &Decline,
    risk: Risk,
    with_charge: bool,
    tds: Option<ThreeDs>,
) -> ApiError {
    let Ok((mut pi, pm)) = get(acct, pi_id) else {
        return ApiError::internal("payment intent vanished");
    };
    let mut err = ApiError::card(d.code, d.decline_code, d.message);
    if let Some(p) = d.param {
        err = err.param(p);
    }
    err = err.with("payment_method", pm.to_json());
    if with_charge {
        let ch = new_charge(acct, &pi, &pm, Some(d), risk, tds);
        err = err.with("charge", json!(ch.id));
        pi.latest_charge = Some(ch.id.clone());
        acct.add_charge(ch);
        consume(acct, &pm.id, pi_id);
    }
    pi.status = PiStatus::RequiresPaymentMethod;
    pi.next_action = None;
    pi.last_payment_error = Some(err.object());
    let pi_json = pi.to_json();
    acct.payment_intents.insert(pi_id.to_string(), pi);
    err.with("payment_intent", pi_json)
}

/// The authorization outcome of a card (after any authentication).
pub(super) fn assess(pm: &PaymentMethod) -> (Option<Decline>, Risk) {
    match pm.behavior() {
        Behavior::Decline(d) if d == cards::INCORRECT_CVC && !pm.cvc_provided => {
            (None, Risk::Normal)
        }
        Behavior::Decline(d) => (Some(d), Risk::Normal),
        Behavior::ChargeCustomerFail | Behavior::ThreeDsRequiredDecline => {
            (Some(cards::GENERIC), Risk::Normal)
        }
        Behavior::AuthThenInsufficient => (Some(cards::INSUFFICIENT), Risk::Normal),
        Behavior::RadarBlock | Behavior::RiskHighest => (Some(cards::FRAUDULENT), Risk::Highest),
        Behavior::RiskElevated => (None, Risk::Elevated),
        _ => (None, Risk::Normal),
    }
}

fn authorize(acct: &mut Account, pi_id: &str, tds: Option<ThreeDs>) -> ApiResult<()> {
    let (mut pi, pm) = get(acct, pi_id)?;
    let (d, risk) = assess(&pm);
    if let Some(d) = d {
        return Err(decline(acct, pi_id, &d, risk, true, tds));
    }
    let mut ch = new_charge(acct, &pi, &pm, None, risk, tds);
    if risk == Risk::Elevated {
        let review = super::reviews::open(acct, &ch.id, Some(&pi.id));
        ch.review = Some(review.clone());
        pi.review = Some(review);
    }
    if pi.effective_capture_method() == "manual" {
        pi.status = PiStatus::RequiresCapture;
        pi.amount_capturable = pi.amount;
    } else {
        pi.status = PiStatus::Succeeded;
        pi.amount_received = pi.amount;
    }
    pi.latest_charge = Some(ch.id.clone());
    pi.last_payment_error = None;
    pi.next_action = None;
    acct.add_charge(ch);
    let sfu = pi.effective_setup_future_usage().map(str::to_string);
    match (&sfu, &pi.customer) {
        (Some(usage), Some(cus)) => {
            let attachable = acct
                .payment_methods
                .get(&pm.id)
                .is_some_and(|m| m.customer.is_none() && m.consumed_by.is_none());
            if attachable {
                acct.attach(&pm.id, cus);
            }
            if let Some(m) = acct.payment_methods.get_mut(&pm.id) {
                if usage == "off_session" {
                    m.setup_off_session = true;
                }
            }
        }
        _ => consume(acct, &pm.id, pi_id),
    }
    acct.payment_intents.insert(pi_id.to_string(), pi);
    Ok(())
}

fn check_ownership(pi: &PaymentIntent, pm: &PaymentMethod) -> ApiResult<()> {
    match (&pm.customer, &pi.customer) {
        (Some(_), None) => Err(ApiError::invalid(
            "The provided PaymentMethod belongs to a Customer, so you must also provide the Customer's ID as the `customer` parameter.",
        )
        .param("payment_method")),
        (Some(c), Some(p)) if c != p => Err(ApiError::invalid(format!(
            "The provided PaymentMethod ({}) does not belong to the Customer ({p}).",
            pm.id
        ))
        .param("payment_method")),
        (None, _) if pm.consumed_by.as_deref().is_some_and(|by| by != pi.id) => {
            Err(payment_methods::reuse_error().param("payment_method"))
        }
        _ => Ok(()),
    }
}

/// `next_action` of an intent waiting for the shopper's challenge: a redirect to the hosted 3DS
/// page when a `return_url` was given, else what Stripe.js would handle.
pub(super) fn redirect_action(
    base_url: &str,
    id: &str,
    client_secret: &str,
    return_url: Option<&str>,
) -> Value {
    let url = format!("{base_url}/_emulator/3ds/{id}?client_secret={client_secret}");
    match return_url {
        Some(ret) => json!({
            "type": "redirect_to_url",
            "redirect_to_url": { "url": url, "return_url": ret },
        }),
        None => json!({
            "type": "use_stripe_sdk",
            "use_stripe_sdk": { "type": "three_d_secure_redirect", "stripe_js": url, "source": new_id("src") },
        }),
    }
}

/// One confirmation attempt of a PaymentIntent that has a payment method.
pub fn attempt(acct: &mut Account, pi_id: &str, base_url: &str) -> ApiResult<()> {
    let (mut pi, pm) = get(acct, pi_id)?;
    check_ownership(&pi, &pm)?;
    let off = pi.off_session.is_some();
    let rtds = pi.card.request_three_d_secure.as_deref();
    let wants = matches!(rtds, Some("any") | Some("challenge"));
    let behavior = pm.behavior();
    if behavior == Behavior::ThreeDsLookupError
        || (behavior == Behavior::ThreeDsOptionalError && wants && !off)
    {
        return Err(decline(
            acct,
            pi_id,
            &cards::PROCESSING,
            Risk::Normal,
            true,
            None,
        ));
    }
    let exempt = pi.card.mit_exemption.is_some();
    let needs_auth = match behavior {
        Behavior::ThreeDsRequired
        | Behavior::ThreeDsRequiredDecline
        | Behavior::AuthThenInsufficient => true,
        Behavior::AuthUnlessSetup => !(off && (pm.setup_off_session || exempt)),
        Behavior::SetupForOffSession => !off,
        Behavior::ThreeDsOptional => !off && rtds == Some("challenge"),
        _ => false,
    };
    if needs_auth && off {
        return Err(decline(
            acct,
            pi_id,
            &cards::AUTH_REQUIRED,
            Risk::Normal,
            true,
            None,
        ));
    }
    if needs_auth && pi.error_on_requires_action {
        return Err(decline(
            acct,
            pi_id,
            &cards::AUTH_REQUIRED,
            Risk::Normal,
            false,
            None,
        ));
    }
    if needs_auth {
        pi.next_action = Some(redirect_action(
            base_url,
            &pi.id,
            &pi.client_secret,
            pi.return_url.as_deref(),
        ));
        pi.status = PiStatus::RequiresAction;
        pi.last_payment_error = None;
        acct.payment_intents.insert(pi_id.to_string(), pi);
        return Ok(());
    }
    let frictionless = behavior == Behavior::ThreeDsOptional && wants && !off;
    let tds = frictionless.then_some(ThreeDs::Frictionless);
    if acct.settings.async_processing_ms > 0 {
        // Answered `processing`; the authorization follows (see `settle_processing`).
        pi.status = PiStatus::Processing;
        pi.last_payment_error = None;
        pi.next_action = None;
        pi.processing_tds = tds;
        acct.payment_intents.insert(pi_id.to_string(), pi);
        acct.processing.push(pi_id.to_string());
        return Ok(());
    }
    authorize(acct, pi_id, tds)
}

/// Authorizes a PaymentIntent that was answered `processing`, if it still is.
pub fn settle_processing(acct: &mut Account, pi_id: &str) {
    let Some(pi) = acct.payment_intents.get(pi_id) else {
        return;
    };
    if pi.status != PiStatus::Processing {
        return;
    }
    let tds = pi.processing_tds;
    // A decline is recorded on the PaymentIntent (`payment_intent.payment_failed`).
    let _ = authorize(acct, pi_id, tds);
}

static AUTHENTICATE: &[(&str, Spec)] = &[("expand", Spec::ScalarList), ("outcome", Spec::Scalar)];

/// `POST /_emulator/payment_intents/{id}/authenticate` (`outcome=success|failure`): completes
/// the 3DS challenge of a PaymentIntent in `requires_action`, as the customer would.
pub fn authenticate(acct: &mut Account, req: &Req) -> ApiResult<Value> {
    let p = &req.params;
    p.check_fields(AUTHENTICATE)?;
    let ok = p.one_of(&["outcome"], &["success", "failure"])?.as_deref() != Some("failure");
    let id = path_id(req);
    let (mut pi, pm) = get(acct, id)?;
    if pi.status != PiStatus::RequiresAction {
        return Err(ApiError::unexpected_state(format!(
            "This PaymentIntent has a status of {}; only a PaymentIntent in requires_action can be authenticated.",
            pi.status.as_str()
        )));
    }
    if ok {
        // A decline after authentication is reported on the PaymentIntent, not to the customer.
        let _ = authorize(acct, id, Some(ThreeDs::Challenge));
    } else {
        pi.status = PiStatus::RequiresPaymentMethod;
        pi.next_action = None;
        pi.last_payment_error = Some(
            ApiError::invalid("The provided PaymentMethod has failed authentication. You can provide payment_method_data or a new PaymentMethod to attempt to fulfill this PaymentIntent again.")
                .code("payment_intent_authentication_failure")
                .with("payment_method", pm.to_json())
                .object(),
        );
        acct.payment_intents.insert(id.to_string(), pi);
    }
    render::respond(acct, id, p)
}
