//! `/v1/customers`.

use serde_json::{json, Value};

use super::{path_id, payment_methods, Req};
use crate::error::{ApiError, ApiResult};
use crate::form::{Params, Spec};
use crate::ids::{new_id, now, token};
use crate::objects::{
    address_json, apply_metadata, bounded_str, email_param, shipping_param, Customer, ADDRESS,
    SHIPPING,
};
use crate::render;
use crate::state::Account;

static INVOICE_SETTINGS: &[(&str, Spec)] = &[("default_payment_method", Spec::Scalar)];

static UPDATE: &[(&str, Spec)] = &[
    ("address", Spec::Obj(ADDRESS)),
    ("description", Spec::Scalar),
    ("email", Spec::Scalar),
    ("expand", Spec::ScalarList),
    ("invoice_settings", Spec::Obj(INVOICE_SETTINGS)),
    ("metadata", Spec::Dict),
    ("name", Spec::Scalar),
    ("phone", Spec::Scalar),
    ("preferred_locales", Spec::ScalarList),
    ("shipping", Spec::Obj(SHIPPING)),
    ("tax_exempt", Spec::Scalar),
];

static CREATE: &[(&str, Spec)] = &[
    ("address", Spec::Obj(ADDRESS)),
    ("description", Spec::Scalar),
    ("email", Spec::Scalar),
    ("expand", Spec::ScalarList),
    ("invoice_settings", Spec::Obj(INVOICE_SETTINGS)),
    ("metadata", Spec::Dict),
    ("name", Spec::Scalar),
    ("payment_method", Spec::Scalar),
    ("phone", Spec::Scalar),
    ("preferred_locales", Spec::ScalarList),
    ("shipping", Spec::Obj(SHIPPING)),
    ("tax_exempt", Spec::Scalar),
];

static LIST: &[(&str, Spec)] = &[
    ("email", Spec::Scalar),
    ("ending_before", Spec::Scalar),
    ("expand", Spec::ScalarList),
    ("limit", Spec::Scalar),
    ("starting_after", Spec::Scalar),
];

static EXPAND_ONLY: &[(&str, Spec)] = &[("expand", Spec::ScalarList)];

/// A live (not deleted) customer, else 404.
pub fn live<'a>(acct: &'a Account, id: &str) -> ApiResult<&'a Customer> {
    match acct.customers.get(id) {
        Some(c) if !c.deleted => Ok(c),
        _ => Err(ApiError::not_found("customer", id)),
    }
}

fn apply(c: &mut Customer, p: &Params) -> ApiResult<()> {
    if let Some(v) = email_param(p, &["email"])? {
        c.email = v;
    }
    if let Some(v) = bounded_str(p, &["name"], 256)? {
        c.name = v;
    }
    if let Some(v) = bounded_str(p, &["phone"], 20)? {
        c.phone = v;
    }
    if let Some(v) = bounded_str(p, &["description"], 350)? {
        c.description = v;
    }
    if p.has(&["address"]) {
        c.address = match p.str(&["address"]) {
            Ok(Some("")) => None,
            _ => Some(address_json(p.get(&["address"]))),
        };
    }
    if let Some(v) = shipping_param(p, &["shipping"])? {
        c.shipping = v;
    }
    if let Some(v) = p.one_of(&["tax_exempt"], &["exempt", "none", "reverse"])? {
        c.tax_exempt = v;
    }
    if p.has(&["preferred_locales"]) {
        c.preferred_locales = crate::form::list_items(p.get(&["preferred_locales"]))
            .into_iter()
            .filter_map(|(_, n)| match n {
                crate::form::Node::Str(s) => Some(s.clone()),
                crate::form::Node::Map(_) => None,
            })
            .collect();
    }
    apply_metadata(&mut c.metadata, p)
}

fn set_default_pm(acct: &mut Account, cus: &str, p: &Params) -> ApiResult<()> {
    let path = ["invoice_settings", "default_payment_method"];
    let Some(pm) = p.str(&path)? else {
        return Ok(());
    };
    let pm = if pm.is_empty() {
        None
    } else {
        let attached = acct
            .payment_methods
            .get(pm)
            .is_some_and(|m| m.customer.as_deref() == Some(cus));
        if !attached {
            return Err(ApiError::invalid(format!(
                "The customer does not have a payment method with the ID {pm}. The payment method must be attached to the customer."
            ))
            .param("invoice_settings[default_payment_method]"));
        }
        Some(pm.to_string())
    };
    if let Some(c) = acct.customers.get_mut(cus) {
        c.default_payment_method = pm;
    }
    Ok(())
}

pub fn create(acct: &mut Account, req: &Req) -> ApiResult<Value> {
    let p = &req.params;
    p.check_fields(CREATE)?;
    let mut c = Customer {
        id: new_id("cus"),
        created: now(),
        invoice_prefix: token(8).to_uppercase(),
        tax_exempt: "none".into(),
        ..Customer::default()
    };
    apply(&mut c, p)?;
    let pm = p.str_nonempty(&["payment_method"])?.map(str::to_string);
    let id = c.id.clone();
    // Validate the payment method before storing anything.
    if let Some(pm) = &pm {
        payment_methods::check_attachable(acct, pm, "payment_method")?;
    }
    acct.customers.insert(id.clone(), c);
    if let Some(pm) = pm {
        payment_methods::attach_to(acct, &pm, &id)?;
    }
    set_default_pm(acct, &id, p)?;
    render::respond(acct, &id, p)
}

pub fn retrieve(acct: &mut Account, req: &Req) -> ApiResult<Value> {
    req.params.check_fields(EXPAND_ONLY)?;
    let id = path_id(req);
    if acct.customers.get(id).is_none() {
        return Err(ApiError::not_found("customer", id));
    }
    render::respond(acct, id, &req.params)
}

pub fn update(acct: &mut Account, req: &Req) -> ApiResult<Value> {
    let p = &req.params;
    p.check_fields(UPDATE)?;
    let id = path_id(req);
    live(acct, id)?;
    let mut c = acct
        .customers
        .get(id)
        .cloned()
        .ok_or_else(|| ApiError::not_found("customer", id))?;
    apply(&mut c, p)?;
    acct.customers.insert(id.to_string(), c);
    set_default_pm(acct, id, p)?;
    render::respond(acct, id, p)
}

pub fn delete(acct: &mut Account, req: &Req) -> ApiResult<Value> {
    req.params.check_fields(&[])?;
    let id = path_id(req);
    live(acct, id)?;
    if let Some(c) = acct.customers.get_mut(id) {
        c.deleted = true;
    }
    let attached: Vec<String> = acct
        .payment_methods
        .map
        .values()
        .filter(|pm| pm.customer.as_deref() == Some(id))
        .map(|pm| pm.id.clone())
        .collect();
    for pm_id in attached {
        if let Some(pm) = acct.payment_methods.get_mut(&pm_id) {
            pm.customer = None;
        }
    }
    Ok(json!({ "id": id, "object": "customer", "deleted": true }))
}

pub fn list(acct: &mut Account, req: &Req) -> ApiResult<Value> {
    let p = &req.params;
    p.check_fields(LIST)?;
    let email = p.str_nonempty(&["email"])?;
    let ids = acct
        .customers
        .newest_first()
        .filter(|c| !c.deleted && (email.is_none() || c.email.as_deref() == email))
        .map(|c| c.id.as_str());
    render::list(acct, "/v1/customers", ids, p)
}
