//! Autoresponder emails: the four kinds, their templates with `{{token}}` placeholders, the
//! tokens, rendering, who sends a receipt (Kassa or Stripe), and the retry schedule — all data
//! and pure functions, no I/O.

use std::collections::BTreeMap;

use crate::gateway::GatewaySettings;
use crate::money::Currency;
use crate::ValidationError;

/// The kinds of autoresponder, one template each per client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    OrderConfirmation,
    RebillReceipt,
    DeclineNotice,
    Refund,
}

impl Kind {
    pub const ALL: [Kind; 4] = [
        Kind::OrderConfirmation,
        Kind::RebillReceipt,
        Kind::DeclineNotice,
        Kind::Refund,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::OrderConfirmation => "order_confirmation",
            Kind::RebillReceipt => "rebill_receipt",
            Kind::DeclineNotice => "decline_notice",
            Kind::Refund => "refund",
        }
    }

    pub fn parse(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// What an operator calls it.
    pub fn label(self) -> &'static str {
        match self {
            Kind::OrderConfirmation => "Order confirmation",
            Kind::RebillReceipt => "Rebill receipt",
            Kind::DeclineNotice => "Decline notice",
            Kind::Refund => "Refund",
        }
    }

    /// Receipts are what Stripe would send itself when given `receipt_email`; a decline notice
    /// Stripe never sends.
    pub fn is_receipt(self) -> bool {
        !matches!(self, Kind::DeclineNotice)
    }
}

/// Whether Stripe sends the customer its own receipt for payments on this gateway: only when Kassa
/// gives Stripe the `receipt_email`, which `disable_email_receipt` and `disable_email` stop.
pub fn stripe_sends_receipt(s: &GatewaySettings) -> bool {
    !(s.disable_email_receipt || s.disable_email)
}

/// The rule for who emails the customer: decline notices are always Kassa's; a receipt (order
/// confirmation, rebill receipt, refund) is Kassa's only when Stripe does not send one, so the
/// customer never gets two. Any kind can still be switched off in its template.
pub fn kassa_sends(kind: Kind, stripe_sent_receipt: bool) -> bool {
    !kind.is_receipt() || !stripe_sent_receipt
}

/// Every token a template may use, with what it stands for.
pub const TOKENS: &[(&str, &str)] = &[
    ("first_name", "the customer's first name"),
    ("last_name", "the customer's last name"),
    ("customer_name", "the customer's full name (or company)"),
    ("customer_email", "the customer's email address"),
    (
        "order_id",
        "Kassa's order id (the payment id when there is no order)",
    ),
    ("payment_id", "Kassa's payment id"),
    (
        "amount",
        "the amount charged, with its currency (e.g. $19.99)",
    ),
    ("currency", "the currency code (e.g. USD)"),
    ("products", "the product names, comma separated"),
    ("card_brand", "the card brand (e.g. Visa)"),
    ("card_last4", "the card's last four digits"),
    (
        "descriptor",
        "the gateway's descriptor, as on the bank statement",
    ),
    ("cs_phone", "the gateway's customer-service phone"),
    ("cs_email", "the gateway's customer-service email"),
    ("cs_url", "the gateway's customer-service URL"),
    ("decline_reason", "why the card was declined"),
    ("refund_amount", "the amount refunded, with its currency"),
    ("cycle", "the purchase's billing cycle (1 for the order)"),
    (
        "next_bill_date",
        "the next billing date, YYYY-MM-DD (empty when none)",
    ),
    ("date", "the date of the event, YYYY-MM-DD"),
];

pub const SUBJECT_MAX: usize = 200;
pub const BODY_MAX: usize = 20_000;

/// A template as an operator edits it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    pub subject: String,
    pub body: String,
    pub enabled: bool,
}

impl Template {
    /// What a client has until it edits the template.
    pub fn default_for(kind: Kind) -> Template {
        let (subject, body) = match kind {
            Kind::OrderConfirmation => (
                "Your order {{order_id}} is confirmed",
                "Hello {{first_name}},\n\nThank you for your order {{order_id}}.\n\n\
                 Products: {{products}}\nAmount: {{amount}}\nCard: {{card_brand}} ending in {{card_last4}}\n\n\
                 The charge appears on your statement as {{descriptor}}.\n\n\
                 Questions? Call {{cs_phone}}, write to {{cs_email}} or visit {{cs_url}}.\n",
            ),
            Kind::RebillReceipt => (
                "Receipt for your subscription: {{amount}}",
                "Hello {{first_name}},\n\nWe charged {{amount}} to your {{card_brand}} ending in {{card_last4}} \
                 for {{products}} (billing cycle {{cycle}}).\nNext billing date: {{next_bill_date}}\n\n\
                 The charge appears on your statement as {{descriptor}}.\n\n\
                 Questions? Call {{cs_phone}}, write to {{cs_email}} or visit {{cs_url}}.\n",
            ),
            Kind::DeclineNotice => (
                "Your payment of {{amount}} was declined",
                "Hello {{first_name}},\n\nWe could not charge {{amount}} to your {{card_brand}} ending in \
                 {{card_last4}} for {{products}}: {{decline_reason}}\n\n\
                 Please contact us to update your payment details: call {{cs_phone}}, write to \
                 {{cs_email}} or visit {{cs_url}}.\n",
            ),
            Kind::Refund => (
                "Your refund of {{refund_amount}}",
                "Hello {{first_name}},\n\nWe refunded {{refund_amount}} of your payment {{payment_id}} \
                 to your {{card_brand}} ending in {{card_last4}}. It appears on your statement as \
                 {{descriptor}} within a few days.\n\n\
                 Questions? Call {{cs_phone}}, write to {{cs_email}} or visit {{cs_url}}.\n",
            ),
        };
        Template {
            subject: subject.into(),
            body: body.into(),
            enabled: true,
        }
    }

    /// Checks a template before it is saved: lengths, no control characters in the subject (no
    /// header injection), and only known tokens. Errors name the field (`subject`, `body`).
    pub fn validate(&self) -> Result<(), ValidationError> {
        if self.subject.trim().is_empty() {
            return Err(
                ValidationError::new("subject", "must not be empty").with_code("parameter_missing")
            );
        }
        if self.subject.chars().count() > SUBJECT_MAX {
            return Err(ValidationError::new(
                "subject",
                format!("must be at most {SUBJECT_MAX} characters"),
            ));
        }
        if self.subject.chars().any(char::is_control) {
            return Err(ValidationError::new(
                "subject",
                "must be one line, without control characters",
            ));
        }
        if self.body.trim().is_empty() {
            return Err(
                ValidationError::new("body", "must not be empty").with_code("parameter_missing")
            );
        }
        if self.body.chars().count() > BODY_MAX {
            return Err(ValidationError::new(
                "body",
                format!("must be at most {BODY_MAX} characters"),
            ));
        }
        if self
            .body
            .chars()
            .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
        {
            return Err(ValidationError::new(
                "body",
                "must not contain control characters other than line breaks and tabs",
            ));
        }
        for (field, text) in [("subject", &self.subject), ("body", &self.body)] {
            for piece in parse(text).map_err(|m| ValidationError::new(field, m))? {
                if let Piece::Token(t) = piece {
                    if !TOKENS.iter().any(|(name, _)| *name == t) {
                        return Err(ValidationError::new(
                            field,
                            format!("unknown token {{{{{t}}}}}"),
                        ));
                    }
                }
            }
        }
        Ok(())
    }
}

enum Piece<'a> {
    Text(&'a str),
    Token(&'a str),
}

/// Splits a template into text and `{{token}}`s (spaces inside the braces are allowed).
fn parse(text: &str) -> Result<Vec<Piece<'_>>, String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find("{{") {
        out.push(Piece::Text(&rest[..open]));
        let after = &rest[open + 2..];
        let close = after
            .find("}}")
            .ok_or_else(|| "a {{ is not closed with }}".to_string())?;
        let name = after[..close].trim();
        if name.is_empty() || name.contains("{{") {
            return Err(format!("{{{{{}}}}} is not a token", &after[..close]));
        }
        out.push(Piece::Token(name));
        rest = &after[close + 2..];
    }
    out.push(Piece::Text(rest));
    Ok(out)
}

/// The values of the tokens for one email. Missing values render as empty text.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Values(BTreeMap<&'static str, String>);

impl Values {
    /// Sets a token's value; names not in [`TOKENS`] are ignored.
    pub fn set(&mut self, token: &str, value: impl Into<String>) -> &mut Self {
        if let Some((name, _)) = TOKENS.iter().find(|(n, _)| *n == token) {
            self.0.insert(name, value.into());
        }
        self
    }

    pub fn get(&self, token: &str) -> &str {
        self.0.get(token).map(String::as_str).unwrap_or("")
    }

    /// Made-up values for a preview.
    pub fn sample() -> Values {
        let mut v = Values::default();
        for (k, val) in [
            ("first_name", "Ada"),
            ("last_name", "Lovelace"),
            ("customer_name", "Ada Lovelace"),
            ("customer_email", "ada@example.com"),
            ("order_id", "ord_sample"),
            ("payment_id", "pay_sample"),
            ("amount", "$19.99"),
            ("currency", "USD"),
            ("products", "Sample product"),
            ("card_brand", "Visa"),
            ("card_last4", "4242"),
            ("descriptor", "SHOP*SAMPLE"),
            ("cs_phone", "+1 800 555 0199"),
            ("cs_email", "support@shop.example"),
            ("cs_url", "https://shop.example/help"),
            ("decline_reason", "Your card has insufficient funds."),
            ("refund_amount", "$19.99"),
            ("cycle", "2"),
            ("next_bill_date", "2030-01-31"),
            ("date", "2030-01-01"),
        ] {
            v.set(k, val);
        }
        v
    }
}

/// A rendered email: one-line subject, plain-text body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub subject: String,
    pub body: String,
}

fn substitute(text: &str, values: &Values) -> String {
    // A template that does not parse was refused when saved; render it as it stands.
    match parse(text) {
        Ok(pieces) => pieces
            .into_iter()
            .map(|p| match p {
                Piece::Text(t) => t,
                Piece::Token(name) => values.get(name),
            })
            .collect(),
        Err(_) => text.to_string(),
    }
}

/// Fills a template's tokens. The subject is forced onto one line: any control character a value
/// brings in (CR, LF) becomes a space, so a header can never be injected.
pub fn render(t: &Template, values: &Values) -> Rendered {
    let subject: String = substitute(&t.subject, values)
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let subject = subject.split_whitespace().collect::<Vec<_>>().join(" ");
    let body = substitute(&t.body, values)
        .chars()
        .filter(|c| !c.is_control() || matches!(c, '\n' | '\r' | '\t'))
        .collect();
    Rendered { subject, body }
}

/// An amount in minor units as a customer reads it: `$1,234.50`, `¥500`, `12.345 KWD`.
pub fn format_amount(minor: i64, currency: Currency) -> String {
    let exp = u32::from(currency.exponent());
    let neg = minor < 0;
    let abs = minor.unsigned_abs();
    let scale = 10u64.pow(exp);
    let (whole, frac) = (abs / scale, abs % scale);
    let digits = whole.to_string();
    let mut grouped = String::new();
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(ch);
    }
    let number = if exp == 0 {
        grouped
    } else {
        format!("{grouped}.{frac:0width$}", width = exp as usize)
    };
    let sign = if neg { "-" } else { "" };
    let symbol = match currency.as_str() {
        "usd" => Some("$"),
        "eur" => Some("€"),
        "gbp" => Some("£"),
        "jpy" => Some("¥"),
        "cad" => Some("CA$"),
        "aud" => Some("A$"),
        _ => None,
    };
    match symbol {
        Some(s) => format!("{sign}{s}{number}"),
        None => format!("{sign}{number} {}", currency.as_str().to_ascii_uppercase()),
    }
}

/// Seconds to wait before each retry after a failed send (the first try is at once): 1 min,
/// 5 min, 30 min, 2 h, 6 h — about 8.5 hours, then the email is failed.
pub const RETRY_SCHEDULE_SECS: &[i64] = &[60, 300, 1_800, 7_200, 21_600];

/// An email not sent within this long after it was queued (or retried by hand) is failed rather
/// than sent late — e.g. while SMTP was not configured.
pub const EXPIRES_AFTER_SECS: i64 = 3 * 86_400;

/// When to try again after `attempts` failed sends, or `None` when it is time to give up.
pub fn next_attempt(now_ms: i64, attempts: usize) -> Option<i64> {
    RETRY_SCHEDULE_SECS
        .get(attempts.saturating_sub(1))
        .map(|s| now_ms + s * 1000)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(subject: &str, body: &str) -> Template {
        Template {
            subject: subject.into(),
            body: body.into(),
            enabled: true,
        }
    }

    #[test]
    fn kinds_round_trip() {
        for k in Kind::ALL {
            assert_eq!(Kind::parse(k.as_str()), Some(k));
        }
        assert_eq!(Kind::parse("welcome"), None);
    }

    #[test]
    fn defaults_are_valid_and_use_the_customer_service_tokens() {
        for k in Kind::ALL {
            let d = Template::default_for(k);
            d.validate().unwrap();
            for token in ["{{cs_phone}}", "{{cs_email}}", "{{cs_url}}"] {
                assert!(d.body.contains(token), "{k:?} {token}");
            }
        }
    }

    #[test]
    fn unknown_tokens_are_refused_naming_the_field() {
        let e = t("Hi", "Dear {{foo}}").validate().unwrap_err();
        assert_eq!(e.param, "body");
        assert_eq!(e.to_string(), "body: unknown token {{foo}}");
        let e = t("Hi {{ nope }}", "ok").validate().unwrap_err();
        assert_eq!(e.to_string(), "subject: unknown token {{nope}}");
        let e = t("Hi", "open {{amount").validate().unwrap_err();
        assert_eq!(e.param, "body");
        assert!(t("Hi", "{{}}").validate().is_err());
        assert!(t("Hi {{ amount }}", "a }} b").validate().is_ok());
    }

    #[test]
    fn subjects_are_one_line() {
        assert_eq!(
            t("a\r\nBcc: x@y.z", "b").validate().unwrap_err().param,
            "subject"
        );
        assert_eq!(t("", "b").validate().unwrap_err().param, "subject");
        assert_eq!(t("a", " ").validate().unwrap_err().param, "body");
        assert!(t("a", "line\r\nline\ttab").validate().is_ok());
        assert_eq!(t("a", "bell\u{7}").validate().unwrap_err().param, "body");
        // A value cannot bring a line break into the subject.
        let mut v = Values::default();
        v.set("first_name", "Ada\r\nBcc: evil@example.com");
        let r = render(&t("Hi {{first_name}}", "Dear {{first_name}}"), &v);
        assert_eq!(r.subject, "Hi Ada Bcc: evil@example.com");
        assert!(!r.subject.contains(['\r', '\n']));
    }

    #[test]
    fn rendering_fills_tokens_and_empties_missing_ones() {
        let mut v = Values::default();
        v.set("first_name", "Ada")
            .set("cs_phone", "+1 800 555 0199")
            .set("bogus", "x");
        let r = render(
            &t("For {{first_name}}", "Call {{ cs_phone }}; {{cs_email}}."),
            &v,
        );
        assert_eq!(r.subject, "For Ada");
        assert_eq!(r.body, "Call +1 800 555 0199; .");
        assert_eq!(v.get("bogus"), "");
        let sample = render(
            &Template::default_for(Kind::OrderConfirmation),
            &Values::sample(),
        );
        assert!(!sample.body.contains("{{"), "{}", sample.body);
    }

    #[test]
    fn amounts_respect_the_currency_exponent() {
        let c = |s| Currency::parse(s).unwrap();
        assert_eq!(format_amount(1999, Currency::USD), "$19.99");
        assert_eq!(format_amount(123_456_789, c("eur")), "€1,234,567.89");
        assert_eq!(format_amount(5, Currency::USD), "$0.05");
        assert_eq!(format_amount(500, c("jpy")), "¥500");
        assert_eq!(format_amount(1_500_000, c("krw")), "1,500,000 KRW");
        assert_eq!(format_amount(12_345, c("kwd")), "12.345 KWD");
        assert_eq!(format_amount(-250, c("gbp")), "-£2.50");
    }

    #[test]
    fn who_sends_the_receipt() {
        let mut s: GatewaySettings =
            serde_json::from_value(serde_json::json!({"title": "t"})).unwrap();
        assert!(stripe_sends_receipt(&s));
        assert!(!kassa_sends(Kind::OrderConfirmation, true));
        assert!(!kassa_sends(Kind::Refund, true));
        assert!(kassa_sends(Kind::DeclineNotice, true));
        s.disable_email_receipt = true;
        assert!(!stripe_sends_receipt(&s));
        assert!(kassa_sends(Kind::RebillReceipt, false));
        s.disable_email_receipt = false;
        s.disable_email = true;
        assert!(!stripe_sends_receipt(&s));
    }

    #[test]
    fn schedule() {
        assert_eq!(next_attempt(0, 1), Some(60_000));
        assert_eq!(next_attempt(0, 5), Some(21_600_000));
        assert_eq!(next_attempt(0, 6), None);
    }
}
