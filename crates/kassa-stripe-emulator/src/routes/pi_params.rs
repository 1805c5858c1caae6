//! PaymentIntent parameters shared by create, update and confirm: specs, the gated
//! `mit_exemption`, card options, statement descriptor rules (stripe-facts §1.4).

use serde_json::json;

use super::customers;
use super::payment_methods;
use crate::error::{ApiError, ApiResult};
use crate::form::{Params, Spec};
use crate::objects::{apply_metadata, bounded_str, email_param, shipping_param, PaymentIntent};
use crate::state::{Account, AccountSettings};

static MIT: &[(&str, Spec)] = &[
    ("claim_without_transaction_id", Spec::Scalar),
    ("ds_transaction_id", Spec::Scalar),
    ("network_transaction_id", Spec::Scalar),
];
static PMO_CARD: &[(&str, Spec)] = &[
    ("capture_method", Spec::Scalar),
    ("mit_exemption", Spec::Obj(MIT)),
    ("moto", Spec::Scalar),
    ("network", Spec::Scalar),
    ("request_extended_authorization", Spec::Scalar),
    ("request_incremental_authorization", Spec::Scalar),
    ("request_multicapture", Spec::Scalar),
    ("request_overcapture", Spec::Scalar),
    ("request_three_d_secure", Spec::Scalar),
    ("require_cvc_recollection", Spec::Scalar),
    ("setup_credential_usage", Spec::Scalar),
    ("setup_future_usage", Spec::Scalar),
    ("statement_descriptor_suffix_kana", Spec::Scalar),
    ("statement_descriptor_suffix_kanji", Spec::Scalar),
    ("stored_credential_usage", Spec::Scalar),
];
pub static PMO: &[(&str, Spec)] = &[("card", Spec::Obj(PMO_CARD))];
pub static RADAR: &[(&str, Spec)] = &[("session", Spec::Scalar)];

pub static AUTOMATIC_PM: &[(&str, Spec)] =
    &[("allow_redirects", Spec::Scalar), ("enabled", Spec::Scalar)];

const USAGES: &[&str] = &["installment", "recurring", "unscheduled"];
const NETWORKS: &[&str] = &[
    "amex",
    "cartes_bancaires",
    "diners",
    "discover",
    "eftpos_au",
    "girocard",
    "interac",
    "jcb",
    "link",
    "mastercard",
    "unionpay",
    "unknown",
    "visa",
];
const IF_AVAILABLE: &[&str] = &["if_available", "never"];

/// `payment_method_options[card][mit_exemption]` is gated per account: unknown unless enabled.
pub fn gate(acct: &Account, p: &Params) -> ApiResult<()> {
    let path = ["payment_method_options", "card", "mit_exemption"];
    if p.has(&path) && !acct.settings.mit_exemption {
        return Err(ApiError::unknown_param(
            "payment_method_options[card][mit_exemption]",
        ));
    }
    Ok(())
}

/// Validates a statement descriptor suffix; returns the calculated descriptor.
pub fn descriptor(
    settings: &AccountSettings,
    suffix: Option<&str>,
    param: &str,
) -> ApiResult<String> {
    let Some(s) = suffix else {
        return Ok(settings.statement_descriptor.to_uppercase());
    };
    let err = |m: String| ApiError::invalid(m).param(param);
    if s.chars().count() > 22 {
        return Err(err(format!(
            "Invalid string: {s}; must be at most 22 characters"
        )));
    }
    if !s.chars().all(|c| c.is_ascii() && !c.is_ascii_control()) {
        return Err(err(
            "The statement descriptor must contain only Latin characters.".into(),
        ));
    }
    if s.chars()
        .any(|c| matches!(c, '<' | '>' | '\\' | '\'' | '"' | '*'))
    {
        return Err(err(
            "The statement descriptor cannot contain any of the following special characters: < > \\ ' \" *".into(),
        ));
    }
    if !s.chars().any(|c| c.is_ascii_alphabetic()) {
        return Err(err(
            "The statement descriptor suffix must contain at least one letter.".into(),
        ));
    }
    let prefix = &settings.statement_descriptor_prefix;
    let full = format!("{prefix}* {s}");
    let budget = 22usize.saturating_sub(prefix.chars().count() + 2);
    if full.chars().count() > 22 {
        return Err(err(format!(
            "The statement descriptor suffix is too long: combined with the prefix '{prefix}' as '{full}' it exceeds 22 characters. The suffix can be at most {budget} characters."
        )));
    }
    if full.chars().count() < 5 {
        return Err(err(
            "The complete statement descriptor must be at least 5 characters.".into(),
        ));
    }
    Ok(full.to_uppercase())
}

/// Rejects `statement_descriptor` on card PaymentIntents (Stripe, since 2024-01-02).
pub fn reject_static_descriptor(p: &Params) -> ApiResult<()> {
    if p.str_nonempty(&["statement_descriptor"])?.is_some() {
        return Err(ApiError::invalid(
            "The `statement_descriptor` parameter is not supported for the `card` payment method type. Use `statement_descriptor_suffix` instead.",
        )
        .param("statement_descriptor"));
    }
    Ok(())
}

pub fn amount(p: &Params, currency: &str, path: &[&str]) -> ApiResult<Option<i64>> {
    let Some(a) = p.int(path)? else {
        return Ok(None);
    };
    let name = crate::form::path_name(path);
    let min = match currency {
        "gbp" => 30,
        "usd" | "eur" | "cad" | "aud" | "chf" | "nzd" | "sgd" => 50,
        _ => 1,
    };
    if a < min {
        let symbol = match currency {
            "usd" | "cad" | "aud" | "nzd" | "sgd" => "$",
            "eur" => "€",
            "gbp" => "£",
            _ => "",
        };
        let msg = if min > 1 {
            format!(
                "Amount must be at least {symbol}{}.{:02} {currency}",
                min / 100,
                min % 100
            )
        } else {
            "Amount must be at least 1".to_string()
        };
        return Err(ApiError::invalid(msg).code("amount_too_small").param(name));
    }
    if a > 99_999_999 {
        return Err(ApiError::invalid("Amount must be no more than 999,999.99")
            .code("amount_too_large")
            .param(name));
    }
    Ok(Some(a))
}

pub fn currency(p: &Params) -> ApiResult<Option<String>> {
    let Some(c) = p.str(&["currency"])? else {
        return Ok(None);
    };
    if c.is_empty() {
        return Err(crate::form::empty_error("currency"));
    }
    if c.len() != 3 || !c.chars().all(|ch| ch.is_ascii_alphabetic()) {
        return Err(ApiError::invalid(format!("Invalid currency: {c}")).param("currency"));
    }
    Ok(Some(c.to_ascii_lowercase()))
}

/// Applies the parameters create, update and confirm share.
pub fn apply(acct: &mut Account, pi: &mut PaymentIntent, p: &Params) -> ApiResult<()> {
    if let Some(v) = bounded_str(p, &["description"], 1000)? {
        pi.description = v;
    }
    if let Some(v) = email_param(p, &["receipt_email"])? {
        pi.receipt_email = v;
    }
    if let Some(v) = shipping_param(p, &["shipping"])? {
        pi.shipping = v;
    }
    if p.has(&["setup_future_usage"]) {
        pi.setup_future_usage =
            p.one_of(&["setup_future_usage"], &["on_session", "off_session"])?;
    }
    if let Some(m) = p.one_of(
        &["capture_method"],
        &["automatic", "automatic_async", "manual"],
    )? {
        pi.capture_method = m;
    }
    if let Some(s) = p.str(&["radar_options", "session"])? {
        pi.radar_session = Some(s.to_string());
    }
    reject_static_descriptor(p)?;
    if let Some(v) = bounded_str(p, &["statement_descriptor_suffix"], 22)? {
        descriptor(&acct.settings, v.as_deref(), "statement_descriptor_suffix")?;
        pi.statement_descriptor_suffix = v;
    }
    apply_metadata(&mut pi.metadata, p)?;
    if let Some(c) = p.str(&["customer"])? {
        if c.is_empty() {
            pi.customer = None;
        } else {
            customers::live(acct, c).map_err(|_| {
                ApiError::invalid(format!("No such customer: '{c}'"))
                    .code("resource_missing")
                    .param("customer")
            })?;
            pi.customer = Some(c.to_string());
        }
    }
    card_options(pi, p)?;
    if let Some(pm) = payment_methods::from_intent_params(acct, p)? {
        pi.payment_method = Some(pm);
    }
    Ok(())
}

fn card_options(pi: &mut PaymentIntent, p: &Params) -> ApiResult<()> {
    let base = ["payment_method_options", "card"];
    let at = |k: &'static str| [base[0], base[1], k];
    let c = &mut pi.card;
    if p.has(&at("request_three_d_secure")) {
        c.request_three_d_secure = p.one_of(
            &at("request_three_d_secure"),
            &["any", "automatic", "challenge"],
        )?;
    }
    if p.has(&at("capture_method")) {
        c.capture_method = p.one_of(&at("capture_method"), &["manual"])?;
    }
    if p.has(&at("setup_future_usage")) {
        c.setup_future_usage = p.one_of(
            &at("setup_future_usage"),
            &["none", "on_session", "off_session"],
        )?;
    }
    if p.has(&at("stored_credential_usage")) {
        c.stored_credential_usage = p.one_of(&at("stored_credential_usage"), USAGES)?;
    }
    if p.has(&at("setup_credential_usage")) {
        c.setup_credential_usage = p.one_of(&at("setup_credential_usage"), USAGES)?;
    }
    if let Some(m) = p.bool(&at("moto"))? {
        c.moto = Some(m);
    }
    if p.has(&at("network")) {
        c.network = p.one_of(&at("network"), NETWORKS)?;
    }
    for k in [
        "request_extended_authorization",
        "request_incremental_authorization",
        "request_multicapture",
        "request_overcapture",
    ] {
        p.one_of(&at(k), IF_AVAILABLE)?;
    }
    let mit = at("mit_exemption");
    if p.has(&mit) {
        p.str(&[base[0], base[1], "mit_exemption", "network_transaction_id"])?;
        p.bool(&[
            base[0],
            base[1],
            "mit_exemption",
            "claim_without_transaction_id",
        ])?;
        c.mit_exemption = p.get(&mit).map(crate::form::to_json);
    }
    let sfu = pi.effective_setup_future_usage().is_some();
    let c = &pi.card;
    if c.stored_credential_usage.is_some() && sfu {
        return Err(ApiError::invalid(
            "payment_method_options[card][stored_credential_usage] is not supported together with setup_future_usage.",
        )
        .param("payment_method_options[card][stored_credential_usage]"));
    }
    if c.setup_credential_usage.is_some() && !sfu {
        return Err(ApiError::invalid(
            "payment_method_options[card][setup_credential_usage] can only be used when setup_future_usage is set.",
        )
        .param("payment_method_options[card][setup_credential_usage]"));
    }
    Ok(())
}

/// `off_session`: `true`/`one_off`/`recurring` → Some, `false` → None.
pub fn off_session(p: &Params) -> ApiResult<Option<String>> {
    match p.str(&["off_session"])? {
        None | Some("") | Some("false") => Ok(None),
        Some(v @ ("true" | "one_off" | "recurring")) => Ok(Some(v.to_string())),
        Some(v) => Err(ApiError::invalid(format!(
            "Invalid off_session: {v}; must be a boolean or one of one_off, recurring"
        ))
        .param("off_session")),
    }
}

/// Validates the confirm-time parameters given on create without `confirm=true`.
pub fn confirm_only(p: &Params) -> ApiResult<()> {
    for k in ["off_session", "error_on_requires_action", "return_url"] {
        if p.has(&[k]) {
            return Err(ApiError::invalid(format!(
                "The parameter {k} can only be used when confirm=true."
            ))
            .param(k));
        }
    }
    Ok(())
}

/// The `payment_details` hash.
pub fn payment_details(p: &Params) -> ApiResult<Option<serde_json::Value>> {
    if !p.has(&["payment_details"]) {
        return Ok(None);
    }
    let order = bounded_str(p, &["payment_details", "order_reference"], 255)?.flatten();
    let customer = bounded_str(p, &["payment_details", "customer_reference"], 255)?.flatten();
    Ok(Some(
        json!({ "customer_reference": customer, "order_reference": order }),
    ))
}
