//! Gateway accounts: one Stripe account (or connected account) and how Kassa talks to it.
//!
//! Field names follow the seed (Konnektive's Stripe V2/V1 gateway form) in snake case. Secrets
//! (`secret_key`, `webhook_secrets`) are not part of [`GatewaySettings`]: they travel separately so
//! that nothing that prints or stores settings can leak them.

use serde::{Deserialize, Serialize};

use crate::account::AccountStatus;
use crate::descriptor;
use crate::money::{Currency, MinorUnits};
use crate::rate::Percent;
use crate::text::{check_email, check_http_url, check_phone, check_text};
use crate::ValidationError;

pub const DEFAULT_API_BASE_URL: &str = "https://api.stripe.com";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum GatewayType {
    /// Stripe with PaymentIntents, SCA and Radar: the type to create.
    StripeV2,
    /// The legacy Charges integration; kept for imported gateways only.
    StripeV1,
}

impl GatewayType {
    pub fn as_str(self) -> &'static str {
        match self {
            GatewayType::StripeV2 => "stripe_v2",
            GatewayType::StripeV1 => "stripe_v1",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "stripe_v2" => Some(GatewayType::StripeV2),
            "stripe_v1" => Some(GatewayType::StripeV1),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum GatewayStatus {
    /// Takes payments.
    Active,
    /// Configured but takes no payments (routing skips it).
    Disabled,
    /// Retired: hidden from lists by default, takes no payments, kept for reports.
    Archived,
}

impl GatewayStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            GatewayStatus::Active => "active",
            GatewayStatus::Disabled => "disabled",
            GatewayStatus::Archived => "archived",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "active" => Some(GatewayStatus::Active),
            "disabled" => Some(GatewayStatus::Disabled),
            "archived" => Some(GatewayStatus::Archived),
            _ => None,
        }
    }
}

/// The seed's "Customer Service Info": fills the autoresponder tokens.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomerService {
    #[serde(default)]
    pub phone: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub url: Option<String>,
}

/// The seed's "Limits".
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// Most volume, in minor units, this gateway may process in a calendar month. None: no cap.
    #[serde(default)]
    pub monthly_cap: Option<MinorUnits>,
    /// Whether refunds count against the cap (a net cap) or not (a gross cap, the default).
    #[serde(default)]
    pub include_refunds: bool,
    /// Processing fee, percent of volume.
    #[serde(default)]
    pub discount_rate: Percent,
    /// Percent of captured volume held in reserve (Reserve Report).
    #[serde(default)]
    pub reserve_rate: Percent,
    /// Fee per transaction, minor units.
    #[serde(default)]
    pub transaction_fee: MinorUnits,
    /// Fee per chargeback, minor units (Chargeback Details Report).
    #[serde(default)]
    pub chargeback_fee: MinorUnits,
    /// Currency of the cap and the fees.
    #[serde(default = "default_currency")]
    pub currency: Currency,
}

fn default_currency() -> Currency {
    Currency::USD
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            monthly_cap: None,
            include_refunds: false,
            discount_rate: Percent::ZERO,
            reserve_rate: Percent::ZERO,
            transaction_fee: MinorUnits::ZERO,
            chargeback_fee: MinorUnits::ZERO,
            currency: Currency::USD,
        }
    }
}

/// The five fraud-scoring settings of the billing platform's gateway and collection-group screens.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FraudSettings {
    #[serde(default)]
    pub send_fraud_scoring_request: bool,
    #[serde(default)]
    pub change_status_on_fraud_scoring_failure: bool,
    #[serde(default)]
    pub status_on_fraud_scoring_failure: Option<AccountStatus>,
    #[serde(default)]
    pub change_status_on_fraud_scoring_review: bool,
    #[serde(default)]
    pub status_on_fraud_scoring_review: Option<AccountStatus>,
}

impl FraudSettings {
    pub fn validate(&self) -> Result<(), ValidationError> {
        if self.change_status_on_fraud_scoring_failure
            && self.status_on_fraud_scoring_failure.is_none()
        {
            return Err(ValidationError::new(
                "status_on_fraud_scoring_failure",
                "is required when change_status_on_fraud_scoring_failure is on",
            ));
        }
        if self.change_status_on_fraud_scoring_review
            && self.status_on_fraud_scoring_review.is_none()
        {
            return Err(ValidationError::new(
                "status_on_fraud_scoring_review",
                "is required when change_status_on_fraud_scoring_review is on",
            ));
        }
        Ok(())
    }
}

/// 3-D Secure (the billing platform's "Payer Authentication Settings").
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ThreeDsSettings {
    /// The merchant page the shopper returns to after a challenge.
    #[serde(default)]
    pub termination_url: Option<String>,
}

/// Every setting of a gateway account except its type, status and secrets.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GatewaySettings {
    /// For the operator only: tells this gateway apart from the others.
    pub title: String,
    /// Publishable key; required with `send_radar_sessions`.
    #[serde(default)]
    pub public_key: Option<String>,
    /// Where Stripe's API is (tests and the built-in emulator set another).
    #[serde(default = "default_api_base_url")]
    pub api_base_url: String,
    #[serde(default)]
    pub send_product_name: bool,
    #[serde(default)]
    pub send_product_as_suffix: bool,
    #[serde(default)]
    pub send_upsell_token: bool,
    #[serde(default)]
    pub send_radar_sessions: bool,
    #[serde(default)]
    pub disable_phone: bool,
    #[serde(default)]
    pub disable_email: bool,
    #[serde(default)]
    pub disable_email_receipt: bool,
    #[serde(default)]
    pub do_not_send_address: bool,
    #[serde(default)]
    pub do_not_send_descriptor: bool,
    #[serde(default)]
    pub connected_account: bool,
    /// Stripe has switched on the gated `payment_method_options[card][mit_exemption]` for this
    /// account: merchant-initiated payments on cards imported from another processor send the
    /// card's original network transaction id.
    #[serde(default)]
    pub send_mit_exemption: bool,
    /// Minutes within which the same card, amount and gateway is refused as a duplicate (unless
    /// the payment says `force`); 0 turns the check off.
    #[serde(default = "default_duplicate_window")]
    pub duplicate_window_minutes: u32,
    /// Stripe V1 only: create a Stripe customer record for each sale.
    #[serde(default)]
    pub create_customer: bool,
    /// The seed's descriptorSuffix, appended to the statement descriptor.
    #[serde(default)]
    pub descriptor_suffix: Option<String>,
    #[serde(default)]
    pub customer_service: CustomerService,
    #[serde(default)]
    pub limits: Limits,
    /// The descriptor Stripe gave the account, shown on autoresponders.
    #[serde(default)]
    pub descriptor: Option<String>,
    /// Free text, except with `connected_account`: then the connected account id (`acct_…`).
    #[serde(default)]
    pub mid_number: Option<String>,
    /// The gateway-level default soft descriptor (statement descriptor suffix).
    #[serde(default)]
    pub soft_descriptor: Option<String>,
    #[serde(default)]
    pub fraud: FraudSettings,
    #[serde(default)]
    pub three_ds: ThreeDsSettings,
    /// Kassa's budget of Stripe calls for this account (Stripe answers 429 past its limits).
    #[serde(default)]
    pub rate_limits: RateLimits,
}

/// How fast Kassa calls Stripe for one gateway account, across all its work in one process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RateLimits {
    /// Requests a second (Stripe allows 100 in live mode, 25 in test mode). 1–1000, default 25.
    #[serde(default = "default_per_second")]
    pub requests_per_second: u32,
    /// Requests in flight at once. 1–200, default 10.
    #[serde(default = "default_concurrency")]
    pub max_concurrency: u32,
}

impl Default for RateLimits {
    fn default() -> Self {
        RateLimits {
            requests_per_second: default_per_second(),
            max_concurrency: default_concurrency(),
        }
    }
}

fn default_per_second() -> u32 {
    25
}

fn default_concurrency() -> u32 {
    10
}

fn default_duplicate_window() -> u32 {
    5
}

fn default_api_base_url() -> String {
    DEFAULT_API_BASE_URL.to_string()
}

fn field<T>(name: &str, r: Result<T, ValidationError>) -> Result<T, ValidationError> {
    r.map_err(|e| e.under(name))
}

fn opt_field(
    name: &str,
    value: &Option<String>,
    check: impl Fn(&str) -> Result<(), ValidationError>,
) -> Result<(), ValidationError> {
    match value {
        Some(v) => field(name, check(v)),
        None => Ok(()),
    }
}

/// A Stripe account id: `acct_` followed by letters and digits.
pub fn check_account_id(value: &str) -> Result<(), ValidationError> {
    let body = value.strip_prefix("acct_").unwrap_or("");
    if body.len() < 6 || body.len() > 64 || !body.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(ValidationError::new(
            "",
            "must be a Stripe account id starting with acct_ when connected_account is on",
        ));
    }
    Ok(())
}

impl GatewaySettings {
    /// Every rule of the seed and of Stripe for a gateway of type `kind`. Secrets are checked by
    /// the caller; `has_webhook_secrets` is not needed here.
    pub fn validate(&self, kind: GatewayType) -> Result<(), ValidationError> {
        field("title", check_text(&self.title, 100))?;
        if !(1..=1000).contains(&self.rate_limits.requests_per_second) {
            return Err(ValidationError::new(
                "rate_limits.requests_per_second",
                "must be from 1 to 1000",
            ));
        }
        if !(1..=200).contains(&self.rate_limits.max_concurrency) {
            return Err(ValidationError::new(
                "rate_limits.max_concurrency",
                "must be from 1 to 200",
            ));
        }
        opt_field("public_key", &self.public_key, |v| {
            crate::keys::PublishableKey::parse(v).map(|_| ())
        })?;
        if self.send_radar_sessions && self.public_key.is_none() {
            return Err(ValidationError::new(
                "public_key",
                "is required when send_radar_sessions is on (Radar sessions are created with the publishable key)",
            ));
        }
        field(
            "api_base_url",
            crate::text::check_api_base_url(&self.api_base_url),
        )?;
        if self.create_customer && kind != GatewayType::StripeV1 {
            return Err(ValidationError::new(
                "create_customer",
                "applies only to stripe_v1 gateways; stripe_v2 always stores cards on a Stripe customer",
            ));
        }
        opt_field("descriptor", &self.descriptor, descriptor::check_static)?;
        let descriptor = self.descriptor.as_deref();
        opt_field("descriptor_suffix", &self.descriptor_suffix, |v| {
            descriptor::check_suffix(v, descriptor)
        })?;
        opt_field("soft_descriptor", &self.soft_descriptor, |v| {
            descriptor::check_suffix(v, descriptor)
        })?;
        match (&self.mid_number, self.connected_account) {
            (None, true) => return Err(ValidationError::new(
                "mid_number",
                "is required when connected_account is on: enter the connected account id (acct_…)",
            )),
            (Some(mid), true) => field("mid_number", check_account_id(mid))?,
            (Some(mid), false) => field("mid_number", check_text(mid, 64))?,
            (None, false) => {}
        }
        opt_field(
            "customer_service.phone",
            &self.customer_service.phone,
            check_phone,
        )?;
        opt_field(
            "customer_service.email",
            &self.customer_service.email,
            check_email,
        )?;
        opt_field(
            "customer_service.url",
            &self.customer_service.url,
            check_http_url,
        )?;
        field("fraud", self.fraud.validate())?;
        opt_field(
            "three_ds.termination_url",
            &self.three_ds.termination_url,
            check_http_url,
        )?;
        Ok(())
    }

    /// The suffix this gateway sends when neither the request nor the collection group gives one:
    /// the soft descriptor, else the seed's descriptorSuffix.
    pub fn default_suffix(&self) -> Option<&str> {
        self.soft_descriptor
            .as_deref()
            .or(self.descriptor_suffix.as_deref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::parse;
    use serde_json::json;

    fn settings(v: serde_json::Value) -> GatewaySettings {
        parse(v).expect("settings parse")
    }

    fn err(v: serde_json::Value, kind: GatewayType) -> ValidationError {
        match parse::<GatewaySettings>(v) {
            Ok(s) => s.validate(kind).unwrap_err(),
            Err(e) => e,
        }
    }

    #[test]
    fn minimal_gateway_gets_defaults() {
        let s = settings(json!({"title": "Main"}));
        assert!(s.validate(GatewayType::StripeV2).is_ok());
        assert_eq!(s.api_base_url, DEFAULT_API_BASE_URL);
        assert_eq!(s.limits.currency, Currency::USD);
        assert!(!s.send_radar_sessions);
    }

    #[test]
    fn title_required() {
        assert_eq!(err(json!({}), GatewayType::StripeV2).param, "title");
        assert_eq!(
            err(json!({"title": "  "}), GatewayType::StripeV2).param,
            "title"
        );
    }

    #[test]
    fn radar_needs_public_key() {
        let e = err(
            json!({"title": "t", "send_radar_sessions": true}),
            GatewayType::StripeV2,
        );
        assert_eq!(e.param, "public_key");
        let ok = settings(
            json!({"title": "t", "send_radar_sessions": true, "public_key": "pk_test_abcdefgh12"}),
        );
        assert!(ok.validate(GatewayType::StripeV2).is_ok());
        let e = err(
            json!({"title": "t", "public_key": "sk_test_abcdefgh12"}),
            GatewayType::StripeV2,
        );
        assert_eq!(e.param, "public_key");
    }

    #[test]
    fn connected_account_needs_acct_mid() {
        let e = err(
            json!({"title": "t", "connected_account": true}),
            GatewayType::StripeV2,
        );
        assert_eq!(e.param, "mid_number");
        let e = err(
            json!({"title": "t", "connected_account": true, "mid_number": "12345"}),
            GatewayType::StripeV2,
        );
        assert_eq!(e.param, "mid_number");
        assert!(e.message.contains("acct_"));
        let ok = settings(
            json!({"title": "t", "connected_account": true, "mid_number": "acct_1032D82eZvKYlo2C"}),
        );
        assert!(ok.validate(GatewayType::StripeV2).is_ok());
        // Without connected accounts any MID is fine, as the seed says.
        let ok = settings(json!({"title": "t", "mid_number": "MID-778899"}));
        assert!(ok.validate(GatewayType::StripeV2).is_ok());
    }

    #[test]
    fn create_customer_is_v1_only() {
        let e = err(
            json!({"title": "t", "create_customer": true}),
            GatewayType::StripeV2,
        );
        assert_eq!(e.param, "create_customer");
        let ok = settings(json!({"title": "t", "create_customer": true}));
        assert!(ok.validate(GatewayType::StripeV1).is_ok());
    }

    #[test]
    fn descriptor_rules_apply_with_prefix() {
        let e = err(
            json!({"title": "t", "descriptor": "RUNCLUB", "soft_descriptor": "OCTOBER MARATHON"}),
            GatewayType::StripeV2,
        );
        assert_eq!(e.param, "soft_descriptor");
        let e = err(
            json!({"title": "t", "descriptor_suffix": "BAD'ONE"}),
            GatewayType::StripeV2,
        );
        assert_eq!(e.param, "descriptor_suffix");
        let e = err(
            json!({"title": "t", "descriptor": "ABC"}),
            GatewayType::StripeV2,
        );
        assert_eq!(e.param, "descriptor");
        let ok = settings(
            json!({"title": "t", "descriptor": "RUNCLUB", "soft_descriptor": "OCT MARATHON", "descriptor_suffix": "GOLD"}),
        );
        assert!(ok.validate(GatewayType::StripeV2).is_ok());
        assert_eq!(ok.default_suffix(), Some("OCT MARATHON"));
    }

    #[test]
    fn limits_are_typed() {
        let e = err(
            json!({"title": "t", "limits": {"discount_rate": "101"}}),
            GatewayType::StripeV2,
        );
        assert_eq!(e.param, "limits.discount_rate");
        let e = err(
            json!({"title": "t", "limits": {"monthly_cap": -1}}),
            GatewayType::StripeV2,
        );
        assert_eq!(e.param, "limits.monthly_cap");
        let e = err(
            json!({"title": "t", "limits": {"monthly_cap": 1.5}}),
            GatewayType::StripeV2,
        );
        assert_eq!(e.param, "limits.monthly_cap");
        let e = err(
            json!({"title": "t", "limits": {"currency": "xyz"}}),
            GatewayType::StripeV2,
        );
        assert_eq!(e.param, "limits.currency");
        let s = settings(
            json!({"title": "t", "limits": {"monthly_cap": 5000000, "discount_rate": 2.95, "reserve_rate": "10", "transaction_fee": 30, "chargeback_fee": 1500, "currency": "EUR", "include_refunds": true}}),
        );
        assert_eq!(s.limits.discount_rate.ten_thousandths(), 29_500);
        assert_eq!(s.limits.currency.as_str(), "eur");
        let out = serde_json::to_value(&s).unwrap();
        assert_eq!(out["limits"]["discount_rate"], "2.95");
        assert_eq!(out["limits"]["monthly_cap"], 5_000_000);
    }

    #[test]
    fn fraud_status_required_when_changing() {
        let e = err(
            json!({"title": "t", "fraud": {"change_status_on_fraud_scoring_failure": true}}),
            GatewayType::StripeV2,
        );
        assert_eq!(e.param, "fraud.status_on_fraud_scoring_failure");
        let e = err(
            json!({"title": "t", "fraud": {"change_status_on_fraud_scoring_review": true}}),
            GatewayType::StripeV2,
        );
        assert_eq!(e.param, "fraud.status_on_fraud_scoring_review");
        let e = err(
            json!({"title": "t", "fraud": {"status_on_fraud_scoring_review": "sleeping"}}),
            GatewayType::StripeV2,
        );
        assert_eq!(e.param, "fraud.status_on_fraud_scoring_review");
        let ok = settings(
            json!({"title": "t", "fraud": {"send_fraud_scoring_request": true, "change_status_on_fraud_scoring_failure": true, "status_on_fraud_scoring_failure": "fraud_blocked"}}),
        );
        assert!(ok.validate(GatewayType::StripeV2).is_ok());
    }

    #[test]
    fn contact_and_urls() {
        assert_eq!(
            err(
                json!({"title": "t", "customer_service": {"email": "nope"}}),
                GatewayType::StripeV2
            )
            .param,
            "customer_service.email"
        );
        assert_eq!(
            err(
                json!({"title": "t", "customer_service": {"phone": "x"}}),
                GatewayType::StripeV2
            )
            .param,
            "customer_service.phone"
        );
        assert_eq!(
            err(
                json!({"title": "t", "customer_service": {"url": "shop"}}),
                GatewayType::StripeV2
            )
            .param,
            "customer_service.url"
        );
        assert_eq!(
            err(
                json!({"title": "t", "three_ds": {"termination_url": "nope"}}),
                GatewayType::StripeV2
            )
            .param,
            "three_ds.termination_url"
        );
        assert_eq!(
            err(
                json!({"title": "t", "api_base_url": "localhost"}),
                GatewayType::StripeV2
            )
            .param,
            "api_base_url"
        );
    }

    #[test]
    fn unknown_fields_are_named() {
        assert_eq!(
            err(
                json!({"title": "t", "sendProductName": true}),
                GatewayType::StripeV2
            )
            .param,
            "sendProductName"
        );
        assert_eq!(
            err(
                json!({"title": "t", "limits": {"cap": 1}}),
                GatewayType::StripeV2
            )
            .param,
            "limits.cap"
        );
    }
}
