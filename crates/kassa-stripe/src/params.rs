//! Request parameters for the flows Kassa uses, and how each goes on the wire.

use kassa_domain::billing_account::Address;
use kassa_domain::level23::Level23;

use crate::Form;

fn add_address(f: &mut Form, prefix: &str, a: &Address) {
    f.add_opt(format!("{prefix}[line1]"), a.line1.as_deref())
        .add_opt(format!("{prefix}[line2]"), a.line2.as_deref())
        .add_opt(format!("{prefix}[city]"), a.city.as_deref())
        .add_opt(format!("{prefix}[state]"), a.state.as_deref())
        .add_opt(format!("{prefix}[postal_code]"), a.postal_code.as_deref())
        .add_opt(format!("{prefix}[country]"), a.country.as_deref());
}

/// `POST /v1/customers`.
#[derive(Debug, Clone, Default)]
pub struct CustomerParams {
    pub name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub address: Option<Address>,
    pub description: Option<String>,
    pub metadata: Vec<(String, String)>,
}

impl CustomerParams {
    pub fn to_form(&self) -> Form {
        let mut f = Form::new();
        f.add_opt("name", self.name.as_deref())
            .add_opt("email", self.email.as_deref())
            .add_opt("phone", self.phone.as_deref())
            .add_opt("description", self.description.as_deref());
        if let Some(a) = &self.address {
            add_address(&mut f, "address", a);
        }
        f.add_map(
            "metadata",
            self.metadata.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        );
        f
    }
}

/// `POST /v1/payment_methods` for a card. The number and CVC live only in this value, on the way
/// to Stripe; `Debug` does not show them.
#[derive(Clone, Default)]
pub struct CardParams {
    pub number: String,
    pub exp_month: i64,
    pub exp_year: i64,
    pub cvc: Option<String>,
    pub name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub address: Option<Address>,
}

impl std::fmt::Debug for CardParams {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let last4 = self
            .number
            .get(self.number.len().saturating_sub(4)..)
            .unwrap_or("");
        write!(
            f,
            "CardParams(…{last4} {:02}/{})",
            self.exp_month, self.exp_year
        )
    }
}

impl CardParams {
    pub fn to_form(&self) -> Form {
        let mut f = Form::new();
        f.add("type", "card")
            .add("card[number]", &self.number)
            .add("card[exp_month]", self.exp_month)
            .add("card[exp_year]", self.exp_year)
            .add_opt("card[cvc]", self.cvc.as_deref())
            .add_opt("billing_details[name]", self.name.as_deref())
            .add_opt("billing_details[email]", self.email.as_deref())
            .add_opt("billing_details[phone]", self.phone.as_deref());
        if let Some(a) = &self.address {
            add_address(&mut f, "billing_details[address]", a);
        }
        f
    }
}

#[derive(Debug, Clone, Default)]
pub struct ShippingParams {
    pub name: String,
    pub phone: Option<String>,
    pub address: Address,
}

/// `POST /v1/payment_intents` (created and confirmed in one call).
#[derive(Debug, Clone, Default)]
pub struct PaymentIntentParams {
    pub amount: i64,
    pub currency: String,
    pub customer: Option<String>,
    pub payment_method: Option<String>,
    /// Authorize only (`capture_method=manual`).
    pub manual_capture: bool,
    pub off_session: bool,
    pub setup_future_usage: Option<&'static str>,
    pub stored_credential_usage: Option<&'static str>,
    pub setup_credential_usage: Option<&'static str>,
    /// Gated at Stripe: only for gateways that have the feature.
    pub mit_network_transaction_id: Option<String>,
    pub statement_descriptor_suffix: Option<String>,
    pub description: Option<String>,
    pub receipt_email: Option<String>,
    pub shipping: Option<ShippingParams>,
    pub metadata: Vec<(String, String)>,
    pub radar_session: Option<String>,
    pub return_url: Option<String>,
    pub request_three_d_secure: Option<&'static str>,
    pub error_on_requires_action: bool,
    pub level23: Option<Level23>,
}

/// Level 2/3 data as `payment_details` and `amount_details` (stripe-facts §1.6).
pub fn add_level23(f: &mut Form, l: &Level23) {
    f.add_opt(
        "payment_details[order_reference]",
        l.order_reference.as_deref(),
    )
    .add_opt(
        "payment_details[customer_reference]",
        l.customer_reference.as_deref(),
    )
    .add_opt("amount_details[tax][total_tax_amount]", l.tax_amount)
    .add_opt("amount_details[discount_amount]", l.discount_amount)
    .add_opt("amount_details[shipping][amount]", l.shipping_amount)
    .add_opt(
        "amount_details[shipping][from_postal_code]",
        l.shipping_from_zip.as_deref(),
    )
    .add_opt(
        "amount_details[shipping][to_postal_code]",
        l.shipping_to_zip.as_deref(),
    );
    for (i, item) in l.line_items.iter().enumerate() {
        let p = format!("amount_details[line_items][{i}]");
        f.add(format!("{p}[product_name]"), &item.product_name)
            .add_opt(format!("{p}[product_code]"), item.product_code.as_deref())
            .add(format!("{p}[quantity]"), item.quantity)
            .add(format!("{p}[unit_cost]"), item.unit_cost)
            .add_opt(format!("{p}[tax][total_tax_amount]"), item.tax_amount)
            .add_opt(format!("{p}[discount_amount]"), item.discount_amount)
            .add_opt(
                format!("{p}[unit_of_measure]"),
                item.unit_of_measure.as_deref(),
            )
            .add_opt(
                format!("{p}[payment_method_options][card][commodity_code]"),
                item.commodity_code.as_deref(),
            );
    }
}

impl PaymentIntentParams {
    pub fn to_form(&self) -> Form {
        let mut f = Form::new();
        f.add("amount", self.amount)
            .add("currency", &self.currency)
            .add("confirm", "true");
        f.add_opt("customer", self.customer.as_deref())
            .add_opt("payment_method", self.payment_method.as_deref());
        f.add("payment_method_types[]", "card");
        if self.manual_capture {
            f.add("capture_method", "manual");
        }
        if self.off_session {
            f.add("off_session", "true");
        }
        f.add_opt("setup_future_usage", self.setup_future_usage)
            .add_opt(
                "payment_method_options[card][stored_credential_usage]",
                self.stored_credential_usage,
            )
            .add_opt(
                "payment_method_options[card][setup_credential_usage]",
                self.setup_credential_usage,
            )
            .add_opt(
                "payment_method_options[card][mit_exemption][network_transaction_id]",
                self.mit_network_transaction_id.as_deref(),
            )
            .add_opt(
                "payment_method_options[card][request_three_d_secure]",
                self.request_three_d_secure,
            )
            // Never `statement_descriptor` on a card payment: Stripe refuses it (stripe-facts §1.1).
            .add_opt(
                "statement_descriptor_suffix",
                self.statement_descriptor_suffix.as_deref(),
            )
            .add_opt("description", self.description.as_deref())
            .add_opt("receipt_email", self.receipt_email.as_deref())
            .add_opt("radar_options[session]", self.radar_session.as_deref())
            .add_opt("return_url", self.return_url.as_deref());
        if self.error_on_requires_action {
            f.add("error_on_requires_action", "true");
        }
        if let Some(s) = &self.shipping {
            f.add("shipping[name]", &s.name)
                .add_opt("shipping[phone]", s.phone.as_deref());
            add_address(&mut f, "shipping[address]", &s.address);
        }
        f.add_map(
            "metadata",
            self.metadata.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        );
        if let Some(l) = &self.level23 {
            add_level23(&mut f, l);
        }
        f.push_list("expand", "latest_charge");
        f
    }
}

/// `POST /v1/charges`, the legacy Charges API of Stripe V1 gateways: the card's data goes in the
/// request (or a stored card as `source` with its `customer`).
#[derive(Clone, Default)]
pub struct ChargeParams {
    pub amount: i64,
    pub currency: String,
    pub capture: bool,
    pub card: Option<CardParams>,
    pub source: Option<String>,
    pub customer: Option<String>,
    pub description: Option<String>,
    pub statement_descriptor_suffix: Option<String>,
    pub receipt_email: Option<String>,
    pub metadata: Vec<(String, String)>,
}

impl std::fmt::Debug for ChargeParams {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChargeParams")
            .field("amount", &self.amount)
            .field("currency", &self.currency)
            .field("card", &self.card)
            .finish()
    }
}

impl ChargeParams {
    pub fn to_form(&self) -> Form {
        let mut f = Form::new();
        f.add("amount", self.amount)
            .add("currency", &self.currency)
            .add("capture", self.capture);
        if let Some(c) = &self.card {
            f.add("card[number]", &c.number)
                .add("card[exp_month]", c.exp_month)
                .add("card[exp_year]", c.exp_year)
                .add_opt("card[cvc]", c.cvc.as_deref())
                .add_opt("card[name]", c.name.as_deref());
            if let Some(a) = &c.address {
                f.add_opt("card[address_line1]", a.line1.as_deref())
                    .add_opt("card[address_line2]", a.line2.as_deref())
                    .add_opt("card[address_city]", a.city.as_deref())
                    .add_opt("card[address_state]", a.state.as_deref())
                    .add_opt("card[address_zip]", a.postal_code.as_deref())
                    .add_opt("card[address_country]", a.country.as_deref());
            }
        }
        f.add_opt("source", self.source.as_deref())
            .add_opt("customer", self.customer.as_deref())
            .add_opt("description", self.description.as_deref())
            .add_opt(
                "statement_descriptor_suffix",
                self.statement_descriptor_suffix.as_deref(),
            )
            .add_opt("receipt_email", self.receipt_email.as_deref());
        f.add_map(
            "metadata",
            self.metadata.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        );
        f
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kassa_domain::json::parse;
    use serde_json::json;

    #[test]
    fn merchant_initiated_recurring_on_the_wire() {
        let p = PaymentIntentParams {
            amount: 1999,
            currency: "usd".into(),
            customer: Some("cus_1".into()),
            payment_method: Some("pm_1".into()),
            off_session: true,
            stored_credential_usage: Some("recurring"),
            statement_descriptor_suffix: Some("GOLD".into()),
            metadata: vec![("kassa_payment".into(), "pay_1".into())],
            ..Default::default()
        };
        let f = p.to_form();
        assert_eq!(f.get("off_session"), Some("true"));
        assert_eq!(f.get("confirm"), Some("true"));
        assert_eq!(
            f.get("payment_method_options[card][stored_credential_usage]"),
            Some("recurring")
        );
        assert_eq!(f.get("statement_descriptor_suffix"), Some("GOLD"));
        assert_eq!(f.get("statement_descriptor"), None);
        assert_eq!(f.get("metadata[kassa_payment]"), Some("pay_1"));
        assert_eq!(f.get("capture_method"), None);
        assert_eq!(f.get("setup_future_usage"), None);
    }

    #[test]
    fn level23_on_the_wire() {
        let l: Level23 = parse(json!({"order_reference": "ORD-1", "tax_amount": 80, "shipping_amount": 500, "shipping_to_zip": "10001",
            "line_items": [{"product_name": "Widget", "product_code": "W-1", "quantity": 2, "unit_cost": 1000, "commodity_code": "44121618"}]}))
        .unwrap();
        let p = PaymentIntentParams {
            amount: 2580,
            currency: "usd".into(),
            level23: Some(l),
            manual_capture: true,
            ..Default::default()
        };
        let f = p.to_form();
        assert_eq!(f.get("payment_details[order_reference]"), Some("ORD-1"));
        assert_eq!(f.get("amount_details[tax][total_tax_amount]"), Some("80"));
        assert_eq!(f.get("amount_details[shipping][amount]"), Some("500"));
        assert_eq!(
            f.get("amount_details[shipping][to_postal_code]"),
            Some("10001")
        );
        assert_eq!(
            f.get("amount_details[line_items][0][product_code]"),
            Some("W-1")
        );
        assert_eq!(f.get("amount_details[line_items][0][quantity]"), Some("2"));
        assert_eq!(
            f.get("amount_details[line_items][0][payment_method_options][card][commodity_code]"),
            Some("44121618")
        );
        assert_eq!(f.get("capture_method"), Some("manual"));
    }

    #[test]
    fn card_params_never_debug_the_number() {
        let c = CardParams {
            number: "4242424242424242".into(),
            exp_month: 12,
            exp_year: 2030,
            cvc: Some("123".into()),
            ..Default::default()
        };
        let dbg = format!("{c:?}");
        assert!(
            !dbg.contains("424242424242") && !dbg.contains("123"),
            "{dbg}"
        );
        assert_eq!(c.to_form().get("card[number]"), Some("4242424242424242"));
    }
}
