//! The gateway form's fields, grouped as the seed groups them (merchant information, customer
//! service info, limits, descriptor and MID, fraud, 3-D Secure, webhooks), and the translation
//! between the form's flat fields and the API's JSON body (dotted names are nested objects).
//! Kept as data so the create and edit pages, and their tests, read one list.

use std::collections::HashMap;

use kassa_domain::money::{format_major, parse_major, Currency};
use serde_json::{Map, Value};

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Input {
    Text,
    /// Written, never shown: blank keeps the stored value.
    Secret,
    Check,
    /// Typed in the major unit of `limits.currency`, sent as minor units.
    Money,
    Percent,
    Number,
    Select(&'static [(&'static str, &'static str)]),
    /// One secret per line (webhook signing secrets); write-only like `Secret`.
    SecretLines,
}

pub struct Field {
    pub key: &'static str,
    pub label: &'static str,
    pub help: &'static str,
    pub input: Input,
    /// Only on Stripe V1 (legacy) gateways.
    pub v1_only: bool,
}

pub struct Group {
    pub id: &'static str,
    pub title: &'static str,
    pub fields: &'static [Field],
}

const fn f(key: &'static str, label: &'static str, help: &'static str, input: Input) -> Field {
    Field {
        key,
        label,
        help,
        input,
        v1_only: false,
    }
}

const STATUSES: &[(&str, &str)] = &[("active", "Active"), ("disabled", "Disabled")];
const ACCOUNT_STATUSES: &[(&str, &str)] = &[
    ("", "(leave unchanged)"),
    ("pending_review", "Pending review"),
    ("fraud_review", "Fraud review"),
    ("fraud_blocked", "Fraud blocked"),
    ("suspended", "Suspended"),
    ("inactive", "Inactive"),
];

pub const GROUPS: &[Group] = &[
    Group {
        id: "merchant",
        title: "Merchant information",
        fields: &[
            f("title", "Title", "For you only: tells this gateway apart from the others.", Input::Text),
            f("status", "Status", "A disabled gateway takes no new sales.", Input::Select(STATUSES)),
            f("secret_key", "secret_key", "Your live Secret Key (sk_live_… or a restricted rk_live_…). Write-only: leave blank to keep the stored key.", Input::Secret),
            f("public_key", "public_key", "Your live Public Key; required only for Radar sessions.", Input::Text),
            f("descriptor_suffix", "descriptorSuffix", "Appended to the statement descriptor. Duplicate the gateway for each further suffix.", Input::Text),
            f("send_product_name", "sendProductName", "Send product names to Stripe.", Input::Check),
            f("send_product_as_suffix", "sendProductAsSuffix", "Append the order's product name to the descriptor.", Input::Check),
            f("send_upsell_token", "sendUpsellToken", "Upsells reuse the offer's payment token: one click, no 3DS challenge.", Input::Check),
            f("send_radar_sessions", "sendRadarSessions", "Use Radar fraud prevention (needs public_key).", Input::Check),
            f("disable_phone", "disablePhone", "Do not send the phone number to Stripe.", Input::Check),
            f("disable_email", "disableEmail", "Do not send the email address to Stripe.", Input::Check),
            f("disable_email_receipt", "disableEmailReceipt", "Stripe sends no receipt: Kassa's autoresponders send the order confirmation.", Input::Check),
            f("do_not_send_address", "doNotSendAddress", "Do not send the customer's address to Stripe.", Input::Check),
            f("do_not_send_descriptor", "doNotSendDescriptor", "Do not send the descriptor to Stripe.", Input::Check),
            f("connected_account", "connectedAccount", "The account is a connected account: enter its acct_… id as the MID #.", Input::Check),
            f("send_mit_exemption", "sendMitExemption", "Stripe has enabled the MIT exemption for cards imported from another processor.", Input::Check),
            Field { key: "create_customer", label: "createCustomer", help: "Create a customer record at Stripe for each sale.", input: Input::Check, v1_only: true },
            f("api_base_url", "Stripe API URL", "Leave blank for https://api.stripe.com; another only for a proxy or a test emulator.", Input::Text),
            f("duplicate_window_minutes", "Duplicate window (minutes)", "The same card, amount and gateway within this many minutes is refused as a duplicate; 0 turns it off.", Input::Number),
        ],
    },
    Group {
        id: "customer_service",
        title: "Customer service info",
        fields: &[
            f("customer_service.phone", "Customer service phone", "Fills the autoresponders' phone token.", Input::Text),
            f("customer_service.email", "Customer service email", "Fills the autoresponders' email token.", Input::Text),
            f("customer_service.url", "Customer service URL", "Fills the autoresponders' URL token.", Input::Text),
        ],
    },
    Group {
        id: "limits",
        title: "Limits",
        fields: &[
            f("limits.currency", "Currency", "Of the cap and the fees (ISO code, e.g. usd).", Input::Text),
            f("limits.monthly_cap", "Monthly cap", "Most volume this gateway may process in a calendar month; blank for no cap.", Input::Money),
            f("limits.include_refunds", "Refunds lower the cap usage", "A net cap: refunds count against the month's volume.", Input::Check),
            f("limits.discount_rate", "Discount rate (%)", "Processing fee, percent of volume.", Input::Percent),
            f("limits.transaction_fee", "Transaction fee", "Fee per transaction.", Input::Money),
            f("limits.reserve_rate", "Reserve rate (%)", "Used for the Reserve Report.", Input::Percent),
            f("limits.chargeback_fee", "Chargeback fee", "Used for the Chargeback Details Report.", Input::Money),
            f("rate_limits.requests_per_second", "Stripe requests per second", "Kassa's budget of Stripe calls for this account (Stripe allows 100 live, 25 test).", Input::Number),
            f("rate_limits.max_concurrency", "Stripe requests at once", "Calls in flight at the same time, 1–200.", Input::Number),
        ],
    },
    Group {
        id: "descriptor",
        title: "Descriptor and MID #",
        fields: &[
            f("descriptor", "Descriptor", "The descriptor Stripe gave the account, shown on autoresponders.", Input::Text),
            f("mid_number", "MID #", "Any value; with connectedAccount, the account id (acct_…).", Input::Text),
            f("soft_descriptor", "Default soft descriptor", "The statement descriptor suffix used when a payment gives none.", Input::Text),
        ],
    },
    Group {
        id: "fraud",
        title: "Fraud",
        fields: &[
            f("fraud.send_fraud_scoring_request", "Send fraud scoring request", "Score every sale with Radar before charging.", Input::Check),
            f("fraud.change_status_on_fraud_scoring_failure", "Change status on fraud scoring failure", "", Input::Check),
            f("fraud.status_on_fraud_scoring_failure", "Status on fraud scoring failure", "", Input::Select(ACCOUNT_STATUSES)),
            f("fraud.change_status_on_fraud_scoring_review", "Change status on fraud scoring review", "", Input::Check),
            f("fraud.status_on_fraud_scoring_review", "Status on fraud scoring review", "", Input::Select(ACCOUNT_STATUSES)),
        ],
    },
    Group {
        id: "three_ds",
        title: "3-D Secure",
        fields: &[f("three_ds.termination_url", "Termination URL", "The merchant page the shopper returns to after a 3DS challenge (the seed's Merchant Redirect).", Input::Text)],
    },
    Group {
        id: "webhooks",
        title: "Webhooks",
        fields: &[f("webhook_secrets", "Signing secrets", "Stripe's whsec_… signing secrets, one per line. Write-only: leave blank to keep the stored ones.", Input::SecretLines)],
    },
];

/// Every field of a gateway of this kind.
pub fn fields(v1: bool) -> impl Iterator<Item = &'static Field> {
    GROUPS
        .iter()
        .flat_map(|g| g.fields.iter())
        .filter(move |f| v1 || !f.v1_only)
}

/// A field's form value, from the gateway's JSON (as the API shows it).
pub fn value_of(gateway: &Value, field: &Field) -> String {
    let mut v = gateway;
    for part in field.key.split('.') {
        match v.get(part) {
            Some(next) => v = next,
            None => return String::new(),
        }
    }
    match (field.input, v) {
        (Input::Secret | Input::SecretLines, _) => String::new(),
        (Input::Money, Value::Number(n)) => {
            let currency = gateway
                .pointer("/limits/currency")
                .and_then(Value::as_str)
                .and_then(|c| Currency::parse(c).ok())
                .unwrap_or(Currency::USD);
            n.as_i64()
                .map(|m| format_major(m, currency))
                .unwrap_or_default()
        }
        (Input::Check, Value::Bool(b)) => if *b { "on" } else { "" }.into(),
        (_, Value::String(s)) => s.clone(),
        (_, Value::Number(n)) => n.to_string(),
        _ => String::new(),
    }
}

/// A field the form could not turn into JSON.
pub struct FieldError {
    pub key: &'static str,
    pub message: String,
}

/// The API body for the submitted form. Blank secrets are left out (kept); on `update`, other
/// blank fields are sent as `null` (cleared, or back to their default); on create they are left
/// out.
pub fn body_from(
    form: &HashMap<String, String>,
    v1: bool,
    update: bool,
) -> Result<Map<String, Value>, FieldError> {
    let currency_raw = form.get("limits.currency").map(|s| s.trim()).unwrap_or("");
    let currency = if currency_raw.is_empty() {
        Currency::USD
    } else {
        Currency::parse(currency_raw).map_err(|e| FieldError {
            key: "limits.currency",
            message: format!("limits.currency: {}", e.message),
        })?
    };
    let mut body = Map::new();
    for field in fields(v1) {
        let raw = form.get(field.key).map(|s| s.trim()).unwrap_or("");
        let value = match field.input {
            Input::Check => Some(Value::Bool(!raw.is_empty())),
            Input::Secret if raw.is_empty() => None,
            Input::Secret => Some(Value::String(raw.into())),
            Input::SecretLines => {
                let lines: Vec<Value> = raw
                    .lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty())
                    .map(|l| Value::String(l.into()))
                    .collect();
                (!lines.is_empty()).then_some(Value::Array(lines))
            }
            _ if raw.is_empty() => update.then_some(Value::Null),
            Input::Money => {
                let m = parse_major(raw, currency).map_err(|e| FieldError {
                    key: field.key,
                    message: format!("{}: {}", field.key, e.message),
                })?;
                Some(Value::from(m.get()))
            }
            Input::Number => Some(Value::from(raw.parse::<u32>().map_err(|_| FieldError {
                key: field.key,
                message: format!("{}: `{raw}` is not a whole number", field.key),
            })?)),
            Input::Text | Input::Percent | Input::Select(_) => Some(Value::String(raw.into())),
        };
        if let Some(v) = value {
            insert_dotted(&mut body, field.key, v);
        }
    }
    Ok(body)
}

fn insert_dotted(body: &mut Map<String, Value>, key: &str, value: Value) {
    match key.split_once('.') {
        None => {
            body.insert(key.into(), value);
        }
        Some((head, rest)) => {
            let entry = body
                .entry(head.to_string())
                .or_insert_with(|| Value::Object(Map::new()));
            if let Value::Object(inner) = entry {
                insert_dotted(inner, rest, value);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn form(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn a_form_becomes_the_apis_nested_body() {
        let body = body_from(
            &form(&[
                ("title", " Main "),
                ("secret_key", "sk_test_abc"),
                ("limits.currency", "usd"),
                ("limits.monthly_cap", "50,000.00"),
                ("limits.discount_rate", "2.95"),
                ("customer_service.phone", "+1 555 0100"),
                ("send_product_name", "on"),
                ("duplicate_window_minutes", "5"),
            ]),
            false,
            false,
        )
        .ok()
        .unwrap();
        assert_eq!(body["title"], "Main");
        assert_eq!(body["secret_key"], "sk_test_abc");
        assert_eq!(body["limits"]["monthly_cap"], 5_000_000);
        assert_eq!(body["limits"]["discount_rate"], "2.95");
        assert_eq!(body["customer_service"]["phone"], "+1 555 0100");
        assert_eq!(body["send_product_name"], true);
        assert_eq!(body["disable_email"], false);
        assert_eq!(body["duplicate_window_minutes"], 5);
        // Blank on create: left out; no V1-only field on a V2 gateway.
        assert!(body.get("public_key").is_none());
        assert!(body.get("create_customer").is_none());
        assert!(body.get("webhook_secrets").is_none());
    }

    #[test]
    fn on_update_blank_clears_but_blank_secrets_are_kept() {
        let body = body_from(&form(&[("title", "T"), ("public_key", "")]), false, true)
            .ok()
            .unwrap();
        assert_eq!(body["public_key"], Value::Null);
        assert_eq!(body["limits"]["monthly_cap"], Value::Null);
        assert!(body.get("secret_key").is_none());
        assert!(body.get("webhook_secrets").is_none());
        let body = body_from(
            &form(&[("webhook_secrets", "whsec_a\r\n\r\n whsec_b ")]),
            false,
            true,
        )
        .ok()
        .unwrap();
        assert_eq!(body["webhook_secrets"], json!(["whsec_a", "whsec_b"]));
    }

    #[test]
    fn a_bad_amount_names_its_field() {
        let e = body_from(&form(&[("limits.transaction_fee", "0.305")]), false, false)
            .err()
            .unwrap();
        assert_eq!(e.key, "limits.transaction_fee");
        assert!(
            e.message.starts_with("limits.transaction_fee: "),
            "{}",
            e.message
        );
        let e = body_from(&form(&[("limits.currency", "zzz")]), false, false)
            .err()
            .unwrap();
        assert_eq!(e.key, "limits.currency");
        let e = body_from(&form(&[("duplicate_window_minutes", "-1")]), false, false)
            .err()
            .unwrap();
        assert_eq!(e.key, "duplicate_window_minutes");
    }

    #[test]
    fn stored_values_show_in_the_form_but_secrets_never() {
        let g = json!({"title": "T", "secret_key": "sk_test_…4242", "webhook_secrets": ["whsec_…abcd"],
            "limits": {"currency": "jpy", "monthly_cap": 150000, "discount_rate": "2.5"},
            "send_product_name": true, "duplicate_window_minutes": 5});
        let by_key = |k: &str| fields(false).find(|f| f.key == k).unwrap();
        assert_eq!(value_of(&g, by_key("title")), "T");
        assert_eq!(value_of(&g, by_key("secret_key")), "");
        assert_eq!(value_of(&g, by_key("webhook_secrets")), "");
        assert_eq!(value_of(&g, by_key("limits.monthly_cap")), "150,000");
        assert_eq!(value_of(&g, by_key("limits.discount_rate")), "2.5");
        assert_eq!(value_of(&g, by_key("send_product_name")), "on");
        assert_eq!(value_of(&g, by_key("duplicate_window_minutes")), "5");
        assert_eq!(value_of(&g, by_key("descriptor")), "");
    }

    #[test]
    fn every_settings_field_is_on_the_form() {
        // A new setting must get a place on the form: compare with the API's own view.
        let s: kassa_domain::gateway::GatewaySettings =
            serde_json::from_value(json!({"title": "t"})).unwrap();
        let v = serde_json::to_value(&s).unwrap();
        let keys: Vec<&str> = fields(true).map(|f| f.key).collect();
        for (k, inner) in v.as_object().unwrap() {
            match inner {
                Value::Object(o) => {
                    for sub in o.keys() {
                        let dotted = format!("{k}.{sub}");
                        assert!(
                            keys.contains(&dotted.as_str()),
                            "{dotted} has no form field"
                        );
                    }
                }
                _ => assert!(keys.contains(&k.as_str()), "{k} has no form field"),
            }
        }
    }
}
