//! `amount_details[…]` (Level 2/3 line items) with Stripe's arithmetic validation (§1.6).

use serde_json::{json, Value};

use crate::error::{ApiError, ApiResult};
use crate::form::{Params, Spec};
use crate::ids::new_id;

static TAX: &[(&str, Spec)] = &[("total_tax_amount", Spec::Scalar)];
static SHIPPING: &[(&str, Spec)] = &[
    ("amount", Spec::Scalar),
    ("from_postal_code", Spec::Scalar),
    ("to_postal_code", Spec::Scalar),
];
static LI_CARD: &[(&str, Spec)] = &[("commodity_code", Spec::Scalar)];
static LI_PMO: &[(&str, Spec)] = &[("card", Spec::Obj(LI_CARD))];
static LINE_ITEM: Spec = Spec::Obj(&[
    ("discount_amount", Spec::Scalar),
    ("payment_method_options", Spec::Obj(LI_PMO)),
    ("product_code", Spec::Scalar),
    ("product_name", Spec::Scalar),
    ("quantity", Spec::Scalar),
    ("tax", Spec::Obj(TAX)),
    ("unit_cost", Spec::Scalar),
    ("unit_of_measure", Spec::Scalar),
]);
pub static AMOUNT_DETAILS: &[(&str, Spec)] = &[
    ("discount_amount", Spec::Scalar),
    ("enforce_arithmetic_validation", Spec::Scalar),
    ("line_items", Spec::List(&LINE_ITEM)),
    ("shipping", Spec::Obj(SHIPPING)),
    ("tax", Spec::Obj(TAX)),
];
pub static PAYMENT_DETAILS: &[(&str, Spec)] = &[
    ("customer_reference", Spec::Scalar),
    ("order_reference", Spec::Scalar),
];

const MAX_LINE_ITEMS: usize = 200;

fn int_min(p: &Params, path: &[&str], min: i64) -> ApiResult<Option<i64>> {
    let v = p.int(path)?;
    if let Some(x) = v {
        if x < min {
            let name = crate::form::path_name(path);
            return Err(ApiError::invalid(format!(
                "Invalid {name}: must be greater than or equal to {min}"
            ))
            .param(name));
        }
    }
    Ok(v)
}

fn postal(p: &Params, path: &[&str]) -> ApiResult<Option<String>> {
    let Some(s) = p.str_nonempty(path)? else {
        return Ok(None);
    };
    let ok = s.chars().count() <= 10
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == ' ');
    if !ok {
        let name = crate::form::path_name(path);
        return Err(ApiError::invalid(format!(
            "Invalid {name}: must be at most 10 alphanumeric characters (hyphens and spaces allowed)"
        ))
        .param(name));
    }
    Ok(Some(s.to_string()))
}

fn max_len(p: &Params, path: &[&str], max: usize) -> ApiResult<Option<String>> {
    match crate::objects::bounded_str(p, path, max)? {
        Some(v) => Ok(v),
        None => Ok(None),
    }
}

/// Parses and validates `amount_details` against `amount`. Returns the object to store, or
/// `None` when not sent.
pub fn parse(p: &Params, amount: i64) -> ApiResult<Option<Value>> {
    const AD: &str = "amount_details";
    if !p.has(&[AD]) {
        return Ok(None);
    }
    let discount = int_min(p, &[AD, "discount_amount"], 1)?;
    let enforce = p
        .bool(&[AD, "enforce_arithmetic_validation"])?
        .unwrap_or(true);
    let tax = int_min(p, &[AD, "tax", "total_tax_amount"], 0)?;
    let ship = int_min(p, &[AD, "shipping", "amount"], 0)?;
    let from = postal(p, &[AD, "shipping", "from_postal_code"])?;
    let to = postal(p, &[AD, "shipping", "to_postal_code"])?;
    let items = p.list(&[AD, "line_items"]);
    if items.len() > MAX_LINE_ITEMS {
        return Err(ApiError::invalid(format!(
            "Invalid amount_details[line_items]: must have at most {MAX_LINE_ITEMS} items"
        ))
        .param("amount_details[line_items]"));
    }
    let mut sum: i128 = 0;
    let mut data = Vec::with_capacity(items.len());
    let (mut line_tax, mut line_discount) = (false, false);
    for (i, _) in &items {
        let idx = i.to_string();
        let at = |k: &'static str| [AD, "line_items", idx.as_str(), k];
        let name = p.str_req(&at("product_name"))?;
        if name.chars().count() > 1024 {
            return Err(
                ApiError::invalid("Invalid product_name: must be at most 1024 characters")
                    .param(crate::form::path_name(&at("product_name"))),
            );
        }
        let code = max_len(p, &at("product_code"), 12)?;
        let qty = int_min(p, &at("quantity"), 1)?
            .ok_or_else(|| ApiError::missing_param(&crate::form::path_name(&at("quantity"))))?;
        let cost = int_min(p, &at("unit_cost"), 0)?
            .ok_or_else(|| ApiError::missing_param(&crate::form::path_name(&at("unit_cost"))))?;
        let li_disc = int_min(p, &at("discount_amount"), 1)?;
        let li_tax = int_min(
            p,
            &[AD, "line_items", idx.as_str(), "tax", "total_tax_amount"],
            0,
        )?;
        let uom = max_len(p, &at("unit_of_measure"), 12)?;
        let commodity = p.str_nonempty(&[
            AD,
            "line_items",
            idx.as_str(),
            "payment_method_options",
            "card",
            "commodity_code",
        ])?;
        line_tax |= li_tax.is_some();
        line_discount |= li_disc.is_some();
        // Saturating: absurd inputs must fail validation, not overflow.
        let line = i128::from(cost)
            .saturating_mul(i128::from(qty))
            .saturating_sub(i128::from(li_disc.unwrap_or(0)))
            .saturating_add(i128::from(li_tax.unwrap_or(0)));
        sum = sum.saturating_add(line);
        data.push(json!({
            "id": new_id("uli"),
            "object": "payment_intent_amount_details_line_item",
            "discount_amount": li_disc,
            "payment_method_options": commodity.map(|c| json!({ "card": { "commodity_code": c } })),
            "product_code": code,
            "product_name": name,
            "quantity": qty,
            "tax": li_tax.map(|t| json!({ "total_tax_amount": t })),
            "unit_cost": cost,
            "unit_of_measure": uom,
        }));
    }
    if tax.is_some() && line_tax {
        return Err(ApiError::invalid(
            "amount_details[tax][total_tax_amount] cannot be combined with line item tax amounts.",
        )
        .param("amount_details[tax][total_tax_amount]"));
    }
    if discount.is_some() && line_discount {
        return Err(ApiError::invalid(
            "amount_details[discount_amount] cannot be combined with line item discount amounts.",
        )
        .param("amount_details[discount_amount]"));
    }
    let extras = i128::from(ship.unwrap_or(0)) + i128::from(tax.unwrap_or(0))
        - i128::from(discount.unwrap_or(0));
    let error = if !items.is_empty() && sum.saturating_add(extras) != i128::from(amount) {
        Some((
            "amount_details_amount_mismatch",
            format!(
                "The sum of the line item amounts, shipping and tax minus discounts ({}) does not match the amount ({amount}).",
                sum.saturating_add(extras)
            ),
        ))
    } else if items.is_empty() && extras > i128::from(amount) {
        Some((
            "amount_details_tax_shipping_discount_greater_than_amount",
            format!("Tax and shipping minus discount ({extras}) are greater than the amount ({amount})."),
        ))
    } else {
        None
    };
    if let Some((code, msg)) = &error {
        if enforce {
            return Err(ApiError::invalid(msg.clone())
                .code(code)
                .param("amount_details"));
        }
    }
    let mut out = json!({
        "discount_amount": discount,
        "shipping": if ship.is_some() || from.is_some() || to.is_some() {
            json!({ "amount": ship, "from_postal_code": from, "to_postal_code": to })
        } else { Value::Null },
        "tax": tax.map(|t| json!({ "total_tax_amount": t })),
        "tip": {},
    });
    if let Value::Object(m) = &mut out {
        if !data.is_empty() {
            m.insert(
                "line_items".into(),
                json!({ "object": "list", "data": data, "has_more": false, "url": "/v1/payment_intents/amount_details_line_items" }),
            );
        }
        if let Some((code, msg)) = error {
            m.insert("error".into(), json!({ "code": code, "message": msg }));
        }
    }
    Ok(Some(out))
}
