//! Level 2 / Level 3 data (stripe-facts §1.6): checked here by Stripe's rules, including its
//! arithmetic validation, so a payment never reaches Stripe with data Stripe would refuse.

use serde::{Deserialize, Serialize};

use crate::ValidationError;

pub const MAX_LINE_ITEMS: usize = 200;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LineItem {
    pub product_name: String,
    /// SKU, at most 12 characters; required for Level 3.
    #[serde(default)]
    pub product_code: Option<String>,
    pub quantity: i64,
    /// Minor units, per unit.
    pub unit_cost: i64,
    #[serde(default)]
    pub tax_amount: Option<i64>,
    #[serde(default)]
    pub discount_amount: Option<i64>,
    #[serde(default)]
    pub unit_of_measure: Option<String>,
    #[serde(default)]
    pub commodity_code: Option<String>,
}

impl LineItem {
    /// unit cost × quantity − discount + tax.
    pub fn total(&self) -> i64 {
        self.unit_cost.saturating_mul(self.quantity) - self.discount_amount.unwrap_or(0)
            + self.tax_amount.unwrap_or(0)
    }
}

/// The `level23` object of a payment request.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Level23 {
    /// Required for Level 2 and 3 (Stripe cuts it to 25 alphanumerics for the networks).
    #[serde(default)]
    pub order_reference: Option<String>,
    #[serde(default)]
    pub customer_reference: Option<String>,
    /// Total tax, minor units; cannot be combined with per-line tax.
    #[serde(default)]
    pub tax_amount: Option<i64>,
    /// Order discount, minor units; cannot be combined with per-line discounts.
    #[serde(default)]
    pub discount_amount: Option<i64>,
    #[serde(default)]
    pub shipping_amount: Option<i64>,
    #[serde(default)]
    pub shipping_from_zip: Option<String>,
    #[serde(default)]
    pub shipping_to_zip: Option<String>,
    #[serde(default)]
    pub line_items: Vec<LineItem>,
}

fn postal(value: &str) -> bool {
    !value.is_empty()
        && value.len() <= 10
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b' ')
}

impl Level23 {
    pub fn is_empty(&self) -> bool {
        *self == Level23::default()
    }

    /// Stripe's rules for `payment_details` and `amount_details`, against the payment `amount`.
    pub fn validate(&self, amount: i64) -> Result<(), ValidationError> {
        if self.is_empty() {
            return Ok(());
        }
        match &self.order_reference {
            Some(r) if !r.trim().is_empty() && r.len() <= 200 => {}
            Some(_) => {
                return Err(ValidationError::new(
                    "order_reference",
                    "must be 1 to 200 characters",
                ))
            }
            None => {
                return Err(ValidationError::new(
                    "order_reference",
                    "is required for Level 2/3 data",
                )
                .with_code("parameter_missing"))
            }
        }
        if let Some(r) = &self.customer_reference {
            if r.trim().is_empty() || r.len() > 200 {
                return Err(ValidationError::new(
                    "customer_reference",
                    "must be 1 to 200 characters",
                ));
            }
        }
        for (name, v, min) in [
            ("tax_amount", self.tax_amount, 0),
            ("shipping_amount", self.shipping_amount, 0),
            ("discount_amount", self.discount_amount, 1),
        ] {
            if let Some(v) = v {
                if v < min {
                    return Err(ValidationError::new(name, format!("must be {min} or more")));
                }
            }
        }
        for (name, v) in [
            ("shipping_from_zip", &self.shipping_from_zip),
            ("shipping_to_zip", &self.shipping_to_zip),
        ] {
            if let Some(v) = v {
                if !postal(v) {
                    return Err(ValidationError::new(
                        name,
                        "must be at most 10 letters, digits, hyphens or spaces",
                    ));
                }
            }
        }
        if self.line_items.len() > MAX_LINE_ITEMS {
            return Err(ValidationError::new(
                "line_items",
                format!("at most {MAX_LINE_ITEMS} line items"),
            ));
        }
        for (i, item) in self.line_items.iter().enumerate() {
            self.check_item(item)
                .map_err(|e| e.under(&format!("line_items[{i}]")))?;
        }
        if !self.line_items.is_empty() {
            let lines: i64 = self.line_items.iter().map(LineItem::total).sum();
            let total = lines + self.shipping_amount.unwrap_or(0) + self.tax_amount.unwrap_or(0)
                - self.discount_amount.unwrap_or(0);
            if total != amount {
                return Err(ValidationError::new(
                    "line_items",
                    format!(
                        "add up to {total} (lines {lines} + shipping {} + tax {} − discount {}), not the payment amount {amount}",
                        self.shipping_amount.unwrap_or(0),
                        self.tax_amount.unwrap_or(0),
                        self.discount_amount.unwrap_or(0)
                    ),
                ));
            }
        }
        Ok(())
    }

    fn check_item(&self, item: &LineItem) -> Result<(), ValidationError> {
        if item.product_name.trim().is_empty() || item.product_name.chars().count() > 1024 {
            return Err(ValidationError::new(
                "product_name",
                "must be 1 to 1024 characters",
            ));
        }
        if let Some(code) = &item.product_code {
            if code.is_empty() || code.chars().count() > 12 {
                return Err(ValidationError::new(
                    "product_code",
                    "must be 1 to 12 characters",
                ));
            }
        }
        if item.quantity <= 0 {
            return Err(ValidationError::new("quantity", "must be more than 0"));
        }
        if item.unit_cost < 0 {
            return Err(ValidationError::new("unit_cost", "must be 0 or more"));
        }
        if let Some(t) = item.tax_amount {
            if t < 0 {
                return Err(ValidationError::new("tax_amount", "must be 0 or more"));
            }
            if self.tax_amount.is_some() {
                return Err(ValidationError::new(
                    "tax_amount",
                    "per-line tax cannot be combined with the order's tax_amount",
                ));
            }
        }
        if let Some(d) = item.discount_amount {
            if d <= 0 {
                return Err(ValidationError::new(
                    "discount_amount",
                    "must be more than 0",
                ));
            }
            if self.discount_amount.is_some() {
                return Err(ValidationError::new(
                    "discount_amount",
                    "per-line discounts cannot be combined with the order's discount_amount",
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::parse;
    use serde_json::json;

    fn l23(v: serde_json::Value) -> Level23 {
        parse(v).unwrap()
    }

    #[test]
    fn arithmetic_must_match_the_amount() {
        let d = l23(json!({
            "order_reference": "ORD-1", "tax_amount": 80, "shipping_amount": 500,
            "line_items": [{"product_name": "Widget", "product_code": "W-1", "quantity": 2, "unit_cost": 1000}]
        }));
        assert!(d.validate(2580).is_ok());
        let e = d.validate(2500).unwrap_err();
        assert_eq!(e.param, "line_items");
        assert!(e.message.contains("2580"), "{}", e.message);
    }

    #[test]
    fn per_line_tax_and_discount() {
        let d = l23(json!({"order_reference": "o", "line_items": [
            {"product_name": "A", "quantity": 1, "unit_cost": 1000, "tax_amount": 100, "discount_amount": 50},
            {"product_name": "B", "quantity": 3, "unit_cost": 200}
        ]}));
        assert!(d.validate(1650).is_ok());
        let mixed = l23(
            json!({"order_reference": "o", "tax_amount": 5, "line_items": [{"product_name": "A", "quantity": 1, "unit_cost": 10, "tax_amount": 1}]}),
        );
        assert_eq!(
            mixed.validate(16).unwrap_err().param,
            "line_items[0].tax_amount"
        );
    }

    #[test]
    fn field_rules() {
        let cases = [
            (json!({"tax_amount": 1}), "order_reference"),
            (
                json!({"order_reference": "o", "shipping_to_zip": "12345-67890"}),
                "shipping_to_zip",
            ),
            (
                json!({"order_reference": "o", "shipping_from_zip": "AB#1"}),
                "shipping_from_zip",
            ),
            (
                json!({"order_reference": "o", "discount_amount": 0}),
                "discount_amount",
            ),
            (
                json!({"order_reference": "o", "line_items": [{"product_name": "A", "product_code": "THIRTEENCHARS", "quantity": 1, "unit_cost": 1}]}),
                "line_items[0].product_code",
            ),
            (
                json!({"order_reference": "o", "line_items": [{"product_name": "A", "quantity": 0, "unit_cost": 1}]}),
                "line_items[0].quantity",
            ),
            (
                json!({"order_reference": "o", "line_items": [{"product_name": " ", "quantity": 1, "unit_cost": 1}]}),
                "line_items[0].product_name",
            ),
        ];
        for (v, param) in cases {
            assert_eq!(l23(v.clone()).validate(1).unwrap_err().param, param, "{v}");
        }
        let too_many: Vec<_> = (0..201)
            .map(|_| json!({"product_name": "A", "quantity": 1, "unit_cost": 1}))
            .collect();
        assert_eq!(
            l23(json!({"order_reference": "o", "line_items": too_many}))
                .validate(201)
                .unwrap_err()
                .param,
            "line_items"
        );
        assert!(Level23::default().validate(5).is_ok());
        let err = parse::<Level23>(
            json!({"order_reference": "o", "line_items": [{"product_name": "A", "quantity": 1}]}),
        )
        .unwrap_err();
        assert_eq!(err.param, "line_items[0].unit_cost");
    }
}
