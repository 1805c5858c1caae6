//! `/v1/charges` (read-only) and `/v1/refunds`.

use serde_json::Value;

use super::{path_id, Req};
use crate::cards::Behavior;
use crate::error::{ApiError, ApiResult};
use crate::form::Spec;
use crate::ids::{new_id, now};
use crate::objects::{apply_metadata, Refund};
use crate::render;
use crate::state::Account;

static EXPAND_ONLY: &[(&str, Spec)] = &[("expand", Spec::ScalarList)];
static LIST: &[(&str, Spec)] = &[
    ("customer", Spec::Scalar),
    ("ending_before", Spec::Scalar),
    ("expand", Spec::ScalarList),
    ("limit", Spec::Scalar),
    ("payment_intent", Spec::Scalar),
    ("starting_after", Spec::Scalar),
];
static REFUND_CREATE: &[(&str, Spec)] = &[
    ("amount", Spec::Scalar),
    ("charge", Spec::Scalar),
    ("expand", Spec::ScalarList),
    ("metadata", Spec::Dict),
    ("payment_intent", Spec::Scalar),
    ("reason", Spec::Scalar),
];
static REFUND_LIST: &[(&str, Spec)] = &[
    ("charge", Spec::Scalar),
    ("ending_before", Spec::Scalar),
    ("expand", Spec::ScalarList),
    ("limit", Spec::Scalar),
    ("payment_intent", Spec::Scalar),
    ("starting_after", Spec::Scalar),
];

/// `GET /v1/charges/search` (`query=metadata['k']:'v'`, `status`, `customer`, `currency`).
pub fn search(acct: &mut Account, req: &Req) -> ApiResult<Value> {
    use super::payment_intents::{parse_query_for, Clause, SearchPage, SEARCH};
    let p = &req.params;
    p.check_fields(SEARCH)?;
    let clauses = parse_query_for(p.str_req(&["query"])?, "charges")?;
    let page = SearchPage::read(p)?;
    let found: Vec<String> = acct
        .charges
        .newest_first()
        .filter(|c| {
            clauses.iter().all(|cl| match cl {
                Clause::Metadata(k, v) => c.metadata.get(k) == Some(v),
                Clause::Field(f, v) => match f.as_str() {
                    "status" => c.status == v,
                    "customer" => c.customer.as_deref() == Some(v.as_str()),
                    "currency" => c.currency == *v,
                    _ => false,
                },
            })
        })
        .map(|c| c.id.clone())
        .collect();
    let (ids, has_more) = page.window(found);
    let mut data = Vec::new();
    for id in &ids {
        data.push(render::respond(acct, id, &crate::form::Params::default())?);
    }
    Ok(page.result(data, has_more, "/v1/charges/search"))
}

pub fn retrieve(acct: &mut Account, req: &Req) -> ApiResult<Value> {
    req.params.check_fields(EXPAND_ONLY)?;
    let id = path_id(req);
    if acct.charges.get(id).is_none() {
        return Err(ApiError::not_found("charge", id));
    }
    render::respond(acct, id, &req.params)
}

pub fn list(acct: &mut Account, req: &Req) -> ApiResult<Value> {
    let p = &req.params;
    p.check_fields(LIST)?;
    let pi = p.str_nonempty(&["payment_intent"])?;
    let cus = p.str_nonempty(&["customer"])?;
    let customer_ok = |id: &&str| {
        cus.is_none()
            || acct
                .charges
                .get(id)
                .is_some_and(|c| c.customer.as_deref() == cus)
    };
    match pi {
        Some(pi) => {
            let of_pi = acct
                .charges_by_pi
                .get(pi)
                .map(Vec::as_slice)
                .unwrap_or_default();
            let ids = of_pi.iter().rev().map(String::as_str).filter(customer_ok);
            render::list(acct, "/v1/charges", ids, p)
        }
        None => {
            let ids = acct
                .charges
                .newest_first()
                .map(|c| c.id.as_str())
                .filter(customer_ok);
            render::list(acct, "/v1/charges", ids, p)
        }
    }
}

fn money(amount: i64, currency: &str) -> String {
    let major = format!("{}.{:02}", amount / 100, amount % 100);
    if currency == "usd" {
        format!("${major}")
    } else {
        format!("{major} {}", currency.to_uppercase())
    }
}

fn store_refund(
    acct: &mut Account,
    ch_id: &str,
    amount: i64,
    reason: Option<String>,
) -> Option<String> {
    if let Some(review) = acct.charges.get(ch_id).and_then(|c| c.review.clone()) {
        let why = if reason.as_deref() == Some("fraudulent") {
            "refunded_as_fraud"
        } else {
            "refunded"
        };
        super::reviews::close(acct, &review, why);
    }
    let ch = acct.charges.get_mut(ch_id)?;
    ch.amount_refunded += amount;
    let refund = Refund {
        id: new_id("re"),
        created: now(),
        amount,
        charge: ch.id.clone(),
        payment_intent: ch.payment_intent.clone(),
        currency: ch.currency.clone(),
        customer: ch.customer.clone(),
        payment_method: ch.payment_method.clone(),
        metadata: Default::default(),
        reason,
        status: if ch.pending_refunds {
            "pending"
        } else {
            "succeeded"
        },
        failure_reason: None,
    };
    let fails = acct
        .payment_methods
        .get(&refund.payment_method)
        .is_some_and(|pm| pm.behavior() == Behavior::RefundFail);
    if fails {
        acct.refunds_to_fail.push(refund.id.clone());
    }
    let ch = acct.charges.get_mut(ch_id)?;
    ch.refunds.push(refund.id.clone());
    let id = refund.id.clone();
    acct.refunds.insert(id.clone(), refund);
    Some(id)
}

/// Fails the refunds queued by `store_refund` (Stripe's `refundFail` card): the refund turns
/// `failed` with a `failure_reason` and the charge gets its amount back.
pub fn fail_queued_refunds(acct: &mut Account) {
    for id in std::mem::take(&mut acct.refunds_to_fail) {
        let Some(r) = acct.refunds.get_mut(&id) else {
            continue;
        };
        if r.status == "failed" {
            continue;
        }
        r.status = "failed";
        r.failure_reason = Some("expired_or_canceled_card");
        let (charge, amount) = (r.charge.clone(), r.amount);
        if let Some(ch) = acct.charges.get_mut(&charge) {
            ch.amount_refunded = (ch.amount_refunded - amount).max(0);
        }
    }
}

/// Releases an uncaptured authorization (PaymentIntent cancel).
pub fn release(acct: &mut Account, ch_id: &str, amount: i64) {
    if amount > 0 {
        let _ = store_refund(acct, ch_id, amount, None);
    }
}

pub fn create_refund(acct: &mut Account, req: &Req) -> ApiResult<Value> {
    let p = &req.params;
    p.check_fields(REFUND_CREATE)?;
    let reason = p.one_of(
        &["reason"],
        &["duplicate", "fraudulent", "requested_by_customer"],
    )?;
    let ch_param = p.str_nonempty(&["charge"])?;
    let pi_param = p.str_nonempty(&["payment_intent"])?;
    let ch_id = match (ch_param, pi_param) {
        (None, None) => {
            return Err(ApiError::invalid(
                "One of the following params should be provided for this request: payment_intent or charge.",
            )
            .code("parameter_missing"))
        }
        (Some(c), _) => {
            let ch = acct.charges.get(c).ok_or_else(|| {
                ApiError::invalid(format!("No such charge: '{c}'")).code("resource_missing").param("charge")
            })?;
            if pi_param.is_some_and(|pi| pi != ch.payment_intent) {
                return Err(ApiError::invalid(format!(
                    "The charge {c} does not belong to the PaymentIntent {}.",
                    pi_param.unwrap_or_default()
                ))
                .param("charge"));
            }
            c.to_string()
        }
        (None, Some(pi)) => {
            let intent = acct.payment_intents.get(pi).ok_or_else(|| {
                ApiError::invalid(format!("No such payment_intent: '{pi}'"))
                    .code("resource_missing")
                    .param("payment_intent")
            })?;
            let ch = intent.latest_charge.as_deref().filter(|c| {
                acct.charges.get(c).is_some_and(|ch| ch.status == "succeeded")
            });
            ch.ok_or_else(|| {
                ApiError::invalid(format!(
                    "This PaymentIntent ({pi}) does not have a successful charge to refund."
                ))
                .param("payment_intent")
            })?
            .to_string()
        }
    };
    let ch = acct
        .charges
        .get(&ch_id)
        .ok_or_else(|| ApiError::not_found("charge", &ch_id))?;
    if ch.status != "succeeded" {
        return Err(ApiError::invalid(format!(
            "Charge {ch_id} has not succeeded and cannot be refunded."
        ))
        .param("charge"));
    }
    if !ch.captured && ch.payment_intent.is_empty() {
        // A legacy uncaptured charge: refunding releases the whole authorization.
        let amount = ch.amount - ch.amount_refunded;
        if amount <= 0 {
            return Err(
                ApiError::invalid(format!("Charge {ch_id} has already been refunded."))
                    .code("charge_already_refunded"),
            );
        }
        let id = store_refund(acct, &ch_id, amount, reason)
            .ok_or_else(|| ApiError::internal("charge vanished"))?;
        return render::respond(acct, &id, p);
    }
    if !ch.captured {
        return Err(ApiError::invalid(format!(
            "Charge {ch_id} has not been captured. Cancel its PaymentIntent to release the authorization instead."
        ))
        .code("charge_not_captured"));
    }
    let remaining = ch.amount_captured - ch.amount_refunded;
    if remaining <= 0 {
        return Err(
            ApiError::invalid(format!("Charge {ch_id} has already been refunded."))
                .code("charge_already_refunded"),
        );
    }
    let amount = p.int(&["amount"])?.unwrap_or(remaining);
    if amount < 1 {
        return Err(
            ApiError::invalid("Refund amount must be a positive integer.")
                .code("amount_too_small")
                .param("amount"),
        );
    }
    if amount > remaining {
        return Err(ApiError::invalid(format!(
            "Refund amount ({}) is greater than unrefunded amount on charge ({})",
            money(amount, &ch.currency),
            money(remaining, &ch.currency)
        ))
        .code("amount_too_large")
        .param("amount"));
    }
    let mut meta = Default::default();
    apply_metadata(&mut meta, p)?;
    let id = store_refund(acct, &ch_id, amount, reason)
        .ok_or_else(|| ApiError::internal("charge vanished"))?;
    if let Some(r) = acct.refunds.get_mut(&id) {
        r.metadata = meta;
    }
    render::respond(acct, &id, p)
}

pub fn retrieve_refund(acct: &mut Account, req: &Req) -> ApiResult<Value> {
    req.params.check_fields(EXPAND_ONLY)?;
    let id = path_id(req);
    if acct.refunds.get(id).is_none() {
        return Err(ApiError::not_found("refund", id));
    }
    render::respond(acct, id, &req.params)
}

pub fn list_refunds(acct: &mut Account, req: &Req) -> ApiResult<Value> {
    let p = &req.params;
    p.check_fields(REFUND_LIST)?;
    let ch = p.str_nonempty(&["charge"])?;
    let pi = p.str_nonempty(&["payment_intent"])?;
    let ids = acct
        .refunds
        .newest_first()
        .filter(|r| ch.is_none_or(|x| r.charge == x))
        .filter(|r| pi.is_none_or(|x| r.payment_intent == x))
        .map(|r| r.id.as_str());
    render::list(acct, "/v1/refunds", ids, p)
}
