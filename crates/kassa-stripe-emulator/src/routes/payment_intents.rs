//! `/v1/payment_intents`: create, retrieve, update, confirm, capture, cancel, list, search.

use serde_json::{json, Value};

use super::amount_details::{self, AMOUNT_DETAILS, PAYMENT_DETAILS};
use super::pi_params::{self, AUTOMATIC_PM, PMO, RADAR};
use super::{charges, confirm, path_id, payment_methods, Req};
use crate::error::{ApiError, ApiResult};
use crate::form::{Params, Spec};
use crate::ids::{new_id, now, token};
use crate::objects::{apply_metadata, PaymentIntent, PiStatus, SHIPPING};
use crate::render;
use crate::state::Account;

static CREATE: &[(&str, Spec)] = &[
    ("amount", Spec::Scalar),
    ("amount_details", Spec::Obj(AMOUNT_DETAILS)),
    ("automatic_payment_methods", Spec::Obj(AUTOMATIC_PM)),
    ("capture_method", Spec::Scalar),
    ("confirm", Spec::Scalar),
    ("confirmation_method", Spec::Scalar),
    ("currency", Spec::Scalar),
    ("customer", Spec::Scalar),
    ("description", Spec::Scalar),
    ("error_on_requires_action", Spec::Scalar),
    ("expand", Spec::ScalarList),
    ("metadata", Spec::Dict),
    ("off_session", Spec::Scalar),
    ("payment_details", Spec::Obj(PAYMENT_DETAILS)),
    ("payment_method", Spec::Scalar),
    ("payment_method_data", Spec::Obj(payment_methods::CREATE)),
    ("payment_method_options", Spec::Obj(PMO)),
    ("payment_method_types", Spec::ScalarList),
    ("radar_options", Spec::Obj(RADAR)),
    ("receipt_email", Spec::Scalar),
    ("return_url", Spec::Scalar),
    ("setup_future_usage", Spec::Scalar),
    ("shipping", Spec::Obj(SHIPPING)),
    ("statement_descriptor", Spec::Scalar),
    ("statement_descriptor_suffix", Spec::Scalar),
    ("use_stripe_sdk", Spec::Scalar),
];

static CONFIRM: &[(&str, Spec)] = &[
    ("amount_details", Spec::Obj(AMOUNT_DETAILS)),
    ("capture_method", Spec::Scalar),
    ("error_on_requires_action", Spec::Scalar),
    ("expand", Spec::ScalarList),
    ("off_session", Spec::Scalar),
    ("payment_details", Spec::Obj(PAYMENT_DETAILS)),
    ("payment_method", Spec::Scalar),
    ("payment_method_data", Spec::Obj(payment_methods::CREATE)),
    ("payment_method_options", Spec::Obj(PMO)),
    ("payment_method_types", Spec::ScalarList),
    ("radar_options", Spec::Obj(RADAR)),
    ("receipt_email", Spec::Scalar),
    ("return_url", Spec::Scalar),
    ("setup_future_usage", Spec::Scalar),
    ("shipping", Spec::Obj(SHIPPING)),
    ("use_stripe_sdk", Spec::Scalar),
];

static UPDATE: &[(&str, Spec)] = &[
    ("amount", Spec::Scalar),
    ("amount_details", Spec::Obj(AMOUNT_DETAILS)),
    ("capture_method", Spec::Scalar),
    ("currency", Spec::Scalar),
    ("customer", Spec::Scalar),
    ("description", Spec::Scalar),
    ("expand", Spec::ScalarList),
    ("metadata", Spec::Dict),
    ("payment_details", Spec::Obj(PAYMENT_DETAILS)),
    ("payment_method", Spec::Scalar),
    ("payment_method_options", Spec::Obj(PMO)),
    ("payment_method_types", Spec::ScalarList),
    ("receipt_email", Spec::Scalar),
    ("setup_future_usage", Spec::Scalar),
    ("shipping", Spec::Obj(SHIPPING)),
    ("statement_descriptor", Spec::Scalar),
    ("statement_descriptor_suffix", Spec::Scalar),
];

static CAPTURE: &[(&str, Spec)] = &[
    ("amount_details", Spec::Obj(AMOUNT_DETAILS)),
    ("amount_to_capture", Spec::Scalar),
    ("expand", Spec::ScalarList),
    ("final_capture", Spec::Scalar),
    ("metadata", Spec::Dict),
    ("payment_details", Spec::Obj(PAYMENT_DETAILS)),
    ("statement_descriptor", Spec::Scalar),
    ("statement_descriptor_suffix", Spec::Scalar),
];

static CANCEL: &[(&str, Spec)] = &[
    ("cancellation_reason", Spec::Scalar),
    ("expand", Spec::ScalarList),
];
static EXPAND_ONLY: &[(&str, Spec)] = &[
    ("client_secret", Spec::Scalar),
    ("expand", Spec::ScalarList),
];
static LIST: &[(&str, Spec)] = &[
    ("customer", Spec::Scalar),
    ("ending_before", Spec::Scalar),
    ("expand", Spec::ScalarList),
    ("limit", Spec::Scalar),
    ("starting_after", Spec::Scalar),
];
pub(super) static SEARCH: &[(&str, Spec)] = &[
    ("expand", Spec::ScalarList),
    ("limit", Spec::Scalar),
    ("page", Spec::Scalar),
    ("query", Spec::Scalar),
];

fn find(acct: &Account, id: &str) -> ApiResult<PaymentIntent> {
    acct.payment_intents
        .get(id)
        .cloned()
        .ok_or_else(|| ApiError::not_found("payment_intent", id))
}

fn payment_method_types(p: &Params) -> ApiResult<()> {
    for (i, n) in p.list(&["payment_method_types"]) {
        if *n != crate::form::Node::Str("card".into()) {
            return Err(ApiError::invalid(
                "The payment method type provided is not supported by this emulator; only `card` is.",
            )
            .param(format!("payment_method_types[{i}]")));
        }
    }
    Ok(())
}

fn unexpected(pi: &PaymentIntent, action: &str, allowed: &str) -> ApiError {
    ApiError::unexpected_state(format!(
        "You cannot {action} this PaymentIntent because it has a status of {}. Only a PaymentIntent with one of the following statuses may be {action}ed: {allowed}.",
        pi.status.as_str()
    ))
    .with("payment_intent", pi.to_json())
}

fn missing_pm(pi: &PaymentIntent) -> ApiError {
    ApiError::invalid("You cannot confirm this PaymentIntent because it's missing a payment method. To confirm the PaymentIntent, specify a payment method with the `payment_method` parameter.")
        .code("payment_intent_unexpected_state")
        .with("payment_intent", pi.to_json())
}

/// Stores confirm-time context and runs one attempt.
fn run_confirm(
    acct: &mut Account,
    mut pi: PaymentIntent,
    p: &Params,
    base_url: &str,
) -> ApiResult<()> {
    pi.off_session = pi_params::off_session(p)?;
    pi.error_on_requires_action = p.bool(&["error_on_requires_action"])?.unwrap_or(false);
    if let Some(r) = p.str_nonempty(&["return_url"])? {
        pi.return_url = Some(r.to_string());
    }
    if pi.payment_method.is_none() {
        return Err(missing_pm(&pi));
    }
    let id = pi.id.clone();
    acct.payment_intents.insert(id.clone(), pi);
    confirm::attempt(acct, &id, base_url)
}

pub fn create(acct: &mut Account, req: &Req) -> ApiResult<Value> {
    let p = &req.params;
    pi_params::gate(acct, p)?;
    p.check_fields(CREATE)?;
    let currency = pi_params::currency(p)?.ok_or_else(|| ApiError::missing_param("currency"))?;
    let amount = pi_params::amount(p, &currency, &["amount"])?
        .ok_or_else(|| ApiError::missing_param("amount"))?;
    payment_method_types(p)?;
    let confirm = p.bool(&["confirm"])?.unwrap_or(false);
    if !confirm {
        pi_params::confirm_only(p)?;
    }
    let id = new_id("pi");
    let mut pi = PaymentIntent {
        client_secret: format!("{id}_secret_{}", token(25)),
        id,
        created: now(),
        amount,
        amount_capturable: 0,
        amount_received: 0,
        currency,
        customer: None,
        description: None,
        capture_method: "automatic".into(),
        confirmation_method: p
            .one_of(&["confirmation_method"], &["automatic", "manual"])?
            .unwrap_or_else(|| "automatic".into()),
        canceled_at: None,
        cancellation_reason: None,
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
        status: PiStatus::RequiresPaymentMethod,
        review: None,
        amount_details: None,
        payment_details: None,
        radar_session: None,
        return_url: None,
        off_session: None,
        error_on_requires_action: false,
        processing_tds: None,
    };
    pi_params::apply(acct, &mut pi, p)?;
    pi.amount_details = amount_details::parse(p, amount)?;
    pi.payment_details = pi_params::payment_details(p)?;
    if pi.payment_method.is_some() {
        pi.status = PiStatus::RequiresConfirmation;
    }
    let id = pi.id.clone();
    if confirm {
        if pi.payment_method.is_none() {
            return Err(missing_pm(&pi));
        }
        run_confirm(acct, pi, p, &req.base_url)?;
    } else {
        acct.payment_intents.insert(id.clone(), pi);
    }
    render::respond(acct, &id, p)
}

pub fn retrieve(acct: &mut Account, req: &Req) -> ApiResult<Value> {
    req.params.check_fields(EXPAND_ONLY)?;
    let id = path_id(req);
    find(acct, id)?;
    render::respond(acct, id, &req.params)
}

pub fn update(acct: &mut Account, req: &Req) -> ApiResult<Value> {
    let p = &req.params;
    pi_params::gate(acct, p)?;
    p.check_fields(UPDATE)?;
    let id = path_id(req);
    let mut pi = find(acct, id)?;
    let open = matches!(
        pi.status,
        PiStatus::RequiresPaymentMethod | PiStatus::RequiresConfirmation | PiStatus::RequiresAction
    );
    let limited = [
        "description",
        "metadata",
        "receipt_email",
        "shipping",
        "expand",
    ];
    if !open {
        if let Some(k) = p.root.keys().find(|k| !limited.contains(&k.as_str())) {
            return Err(ApiError::unexpected_state(format!(
                "You cannot update `{k}` on a PaymentIntent with a status of {}.",
                pi.status.as_str()
            ))
            .param(k.clone())
            .with("payment_intent", pi.to_json()));
        }
    }
    if let Some(c) = pi_params::currency(p)? {
        pi.currency = c;
    }
    if let Some(a) = pi_params::amount(p, &pi.currency.clone(), &["amount"])? {
        pi.amount = a;
    }
    payment_method_types(p)?;
    pi_params::apply(acct, &mut pi, p)?;
    if let Some(ad) = amount_details::parse(p, pi.amount)? {
        pi.amount_details = Some(ad);
    }
    if let Some(pd) = pi_params::payment_details(p)? {
        pi.payment_details = Some(pd);
    }
    if open {
        pi.status = if pi.payment_method.is_some() {
            PiStatus::RequiresConfirmation
        } else {
            PiStatus::RequiresPaymentMethod
        };
        pi.next_action = None;
    }
    acct.payment_intents.insert(id.to_string(), pi);
    render::respond(acct, id, p)
}

pub fn confirm(acct: &mut Account, req: &Req) -> ApiResult<Value> {
    let p = &req.params;
    pi_params::gate(acct, p)?;
    p.check_fields(CONFIRM)?;
    let id = path_id(req);
    let mut pi = find(acct, id)?;
    if !matches!(
        pi.status,
        PiStatus::RequiresPaymentMethod | PiStatus::RequiresConfirmation | PiStatus::RequiresAction
    ) {
        return Err(unexpected(
            &pi,
            "confirm",
            "requires_confirmation, requires_payment_method, requires_action",
        ));
    }
    payment_method_types(p)?;
    pi_params::apply(acct, &mut pi, p)?;
    if let Some(ad) = amount_details::parse(p, pi.amount)? {
        pi.amount_details = Some(ad);
    }
    if let Some(pd) = pi_params::payment_details(p)? {
        pi.payment_details = Some(pd);
    }
    run_confirm(acct, pi, p, &req.base_url)?;
    render::respond(acct, id, p)
}

pub fn capture(acct: &mut Account, req: &Req) -> ApiResult<Value> {
    let p = &req.params;
    p.check_fields(CAPTURE)?;
    let id = path_id(req);
    let mut pi = find(acct, id)?;
    if pi.status != PiStatus::RequiresCapture {
        return Err(ApiError::unexpected_state(format!(
            "This PaymentIntent could not be captured because it has a status of {}. Only a PaymentIntent with one of the following statuses may be captured: requires_capture.",
            pi.status.as_str()
        ))
        .with("payment_intent", pi.to_json()));
    }
    let amount = p
        .int(&["amount_to_capture"])?
        .unwrap_or(pi.amount_capturable);
    if amount > pi.amount_capturable {
        return Err(ApiError::invalid(format!(
            "The amount to capture ({amount}) must be less than or equal to the amount capturable ({}).",
            pi.amount_capturable
        ))
        .code("amount_too_large")
        .param("amount_to_capture"));
    }
    if amount < 1 {
        return Err(
            ApiError::invalid("The amount to capture must be a positive integer.")
                .code("amount_too_small")
                .param("amount_to_capture"),
        );
    }
    p.bool(&["final_capture"])?;
    pi_params::reject_static_descriptor(p)?;
    if let Some(v) = crate::objects::bounded_str(p, &["statement_descriptor_suffix"], 22)? {
        pi_params::descriptor(&acct.settings, v.as_deref(), "statement_descriptor_suffix")?;
        pi.statement_descriptor_suffix = v;
    }
    if let Some(ad) = amount_details::parse(p, amount)? {
        pi.amount_details = Some(ad);
    }
    if let Some(pd) = pi_params::payment_details(p)? {
        pi.payment_details = Some(pd);
    }
    apply_metadata(&mut pi.metadata, p)?;
    let descriptor = pi_params::descriptor(
        &acct.settings,
        pi.statement_descriptor_suffix.as_deref(),
        "statement_descriptor_suffix",
    )
    .ok();
    if let Some(ch) = pi
        .latest_charge
        .as_deref()
        .and_then(|c| acct.charges.get_mut(c))
    {
        ch.captured = true;
        ch.amount_captured = amount;
        ch.statement_descriptor_suffix = pi.statement_descriptor_suffix.clone();
        ch.calculated_statement_descriptor = descriptor;
    }
    pi.amount_received = amount;
    pi.amount_capturable = 0;
    pi.status = PiStatus::Succeeded;
    acct.payment_intents.insert(id.to_string(), pi);
    render::respond(acct, id, p)
}

pub fn cancel(acct: &mut Account, req: &Req) -> ApiResult<Value> {
    let p = &req.params;
    p.check_fields(CANCEL)?;
    let id = path_id(req);
    let mut pi = find(acct, id)?;
    let reason = p.one_of(
        &["cancellation_reason"],
        &[
            "duplicate",
            "fraudulent",
            "requested_by_customer",
            "abandoned",
        ],
    )?;
    if matches!(
        pi.status,
        PiStatus::Succeeded | PiStatus::Canceled | PiStatus::Processing
    ) {
        return Err(ApiError::unexpected_state(format!(
            "You cannot cancel this PaymentIntent because it has a status of {}. Only a PaymentIntent with one of the following statuses may be canceled: requires_payment_method, requires_capture, requires_confirmation, requires_action.",
            pi.status.as_str()
        ))
        .with("payment_intent", pi.to_json()));
    }
    if pi.status == PiStatus::RequiresCapture {
        if let Some(ch) = pi.latest_charge.clone() {
            charges::release(acct, &ch, pi.amount_capturable);
        }
    }
    if let Some(review) = &pi.review {
        super::reviews::close(acct, review, "canceled");
    }
    pi.status = PiStatus::Canceled;
    pi.canceled_at = Some(now());
    pi.cancellation_reason = reason;
    pi.amount_capturable = 0;
    pi.next_action = None;
    acct.payment_intents.insert(id.to_string(), pi);
    render::respond(acct, id, p)
}

pub fn list(acct: &mut Account, req: &Req) -> ApiResult<Value> {
    let p = &req.params;
    p.check_fields(LIST)?;
    let customer = p.str_nonempty(&["customer"])?;
    let ids = acct
        .payment_intents
        .newest_first()
        .filter(|pi| customer.is_none() || pi.customer.as_deref() == customer)
        .map(|pi| pi.id.as_str());
    render::list(acct, "/v1/payment_intents", ids, p)
}

/// One `field:'value'` clause of a search query.
pub(crate) enum Clause {
    Metadata(String, String),
    Field(String, String),
}

fn unquote(v: &str) -> Option<String> {
    let v = v.trim();
    let q = v.chars().next()?;
    if (q == '\'' || q == '"') && v.len() >= 2 && v.ends_with(q) {
        Some(v[1..v.len() - 1].to_string())
    } else {
        None
    }
}

fn parse_query(q: &str) -> ApiResult<Vec<Clause>> {
    parse_query_for(q, "payment_intents")
}

/// Parses a search query (`metadata['k']:'v' AND status:'…'`) for `resource`, which takes the
/// fields `status`, `customer` and `currency` besides metadata.
pub(crate) fn parse_query_for(q: &str, resource: &str) -> ApiResult<Vec<Clause>> {
    let bad = || ApiError::invalid(format!("Invalid query: {q}")).param("query");
    let mut out = Vec::new();
    for part in q.split(" AND ") {
        let part = part.trim();
        if let Some(rest) = part.strip_prefix("metadata[") {
            let close = rest.find(']').ok_or_else(bad)?;
            let key = unquote(&rest[..close]).ok_or_else(bad)?;
            let value = rest[close + 1..].strip_prefix(':').ok_or_else(bad)?;
            out.push(Clause::Metadata(key, unquote(value).ok_or_else(bad)?));
        } else {
            let (field, value) = part.split_once(':').ok_or_else(bad)?;
            let field = field.trim();
            if !["status", "customer", "currency"].contains(&field) {
                return Err(ApiError::invalid(format!(
                    "Field `{field}` is an unsupported search field for resource `{resource}`."
                ))
                .param("query"));
            }
            out.push(Clause::Field(
                field.to_string(),
                unquote(value).ok_or_else(bad)?,
            ));
        }
    }
    Ok(out)
}

fn matches(pi: &PaymentIntent, clauses: &[Clause]) -> bool {
    clauses.iter().all(|c| match c {
        Clause::Metadata(k, v) => pi.metadata.get(k) == Some(v),
        Clause::Field(f, v) => match f.as_str() {
            "status" => pi.status.as_str() == v,
            "customer" => pi.customer.as_deref() == Some(v.as_str()),
            "currency" => pi.currency == *v,
            _ => false,
        },
    })
}

/// One page of a search (`limit`, `page=page_N`), shared by the search endpoints.
pub(super) struct SearchPage {
    limit: usize,
    offset: usize,
}

impl SearchPage {
    pub(super) fn read(p: &Params) -> ApiResult<SearchPage> {
        Ok(SearchPage {
            limit: p.int(&["limit"])?.unwrap_or(10).clamp(1, 100) as usize,
            offset: p
                .str_nonempty(&["page"])?
                .and_then(|s| s.strip_prefix("page_"))
                .and_then(|s| s.parse().ok())
                .unwrap_or(0),
        })
    }

    /// This page's share of everything found, and whether more follows.
    pub(super) fn window<T>(&self, found: Vec<T>) -> (Vec<T>, bool) {
        let has_more = found.len() > self.offset + self.limit;
        let page = found
            .into_iter()
            .skip(self.offset)
            .take(self.limit)
            .collect();
        (page, has_more)
    }

    /// Stripe's `search_result` object.
    pub(super) fn result(&self, data: Vec<Value>, has_more: bool, url: &str) -> Value {
        json!({
            "object": "search_result",
            "data": data,
            "has_more": has_more,
            "next_page": if has_more { Some(format!("page_{}", self.offset + self.limit)) } else { None },
            "url": url,
        })
    }
}

pub fn search(acct: &mut Account, req: &Req) -> ApiResult<Value> {
    let p = &req.params;
    p.check_fields(SEARCH)?;
    let clauses = parse_query(p.str_req(&["query"])?)?;
    let page = SearchPage::read(p)?;
    let found: Vec<&PaymentIntent> = acct
        .payment_intents
        .newest_first()
        .filter(|pi| matches(pi, &clauses))
        .collect();
    let (found, has_more) = page.window(found);
    let data = found.iter().map(|pi| pi.to_json()).collect();
    let mut v = page.result(data, has_more, "/v1/payment_intents/search");
    render::expand(acct, &mut v, &p.expand())?;
    Ok(v)
}

#[cfg(test)]
mod tests {
    #[test]
    fn query_parsing() {
        let c = super::parse_query("metadata['order']:'42' AND status:'succeeded'").unwrap();
        assert_eq!(c.len(), 2);
        assert!(super::parse_query("metadata['order']:42").is_err());
        assert!(super::parse_query("amount>3").is_err());
    }
}
