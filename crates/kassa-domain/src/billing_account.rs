//! Billing accounts: the seeds' customer / account that cards and purchases belong to.

use serde::{Deserialize, Serialize};

use crate::account::AccountStatus;
use crate::text::{check_email, check_phone, check_text};
use crate::ValidationError;

/// A postal address, as Stripe takes it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Address {
    #[serde(default)]
    pub line1: Option<String>,
    #[serde(default)]
    pub line2: Option<String>,
    #[serde(default)]
    pub city: Option<String>,
    /// State, county, province or region.
    #[serde(default)]
    pub state: Option<String>,
    #[serde(default)]
    pub postal_code: Option<String>,
    /// ISO 3166-1 alpha-2, e.g. `US`.
    #[serde(default)]
    pub country: Option<String>,
}

impl Address {
    pub fn validate(&self) -> Result<(), ValidationError> {
        for (name, v, max) in [
            ("line1", &self.line1, 200),
            ("line2", &self.line2, 200),
            ("city", &self.city, 100),
            ("state", &self.state, 100),
            ("postal_code", &self.postal_code, 20),
        ] {
            if let Some(v) = v {
                check_text(v, max).map_err(|e| e.under(name))?;
            }
        }
        if let Some(c) = &self.country {
            if c.len() != 2 || !c.bytes().all(|b| b.is_ascii_uppercase()) {
                return Err(ValidationError::new(
                    "country",
                    "must be an ISO 3166-1 alpha-2 code in capitals, e.g. US",
                ));
            }
        }
        if self.line1.is_none()
            && (self.line2.is_some() || self.city.is_some() || self.postal_code.is_some())
        {
            return Err(ValidationError::new(
                "line1",
                "is required when other address fields are given",
            )
            .with_code("parameter_missing"));
        }
        Ok(())
    }

    pub fn is_empty(&self) -> bool {
        *self == Address::default()
    }
}

/// A shipping address with the recipient's name and phone.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Shipping {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub phone: Option<String>,
    #[serde(default)]
    pub address: Address,
}

/// Everything about a billing account but its number, status and timestamps.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AccountProfile {
    /// The client's own id for the account; unique per client.
    pub client_acct_id: String,
    #[serde(default)]
    pub first_name: Option<String>,
    #[serde(default)]
    pub last_name: Option<String>,
    #[serde(default)]
    pub company_name: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub phone: Option<String>,
    #[serde(default)]
    pub billing_address: Address,
    #[serde(default)]
    pub shipping: Option<Shipping>,
    /// The collection group that decides the account's gateway and settings.
    #[serde(default)]
    pub collection_group_no: Option<i64>,
}

impl AccountProfile {
    pub fn validate(&self) -> Result<(), ValidationError> {
        check_text(&self.client_acct_id, 100).map_err(|e| e.under("client_acct_id"))?;
        for (name, v) in [
            ("first_name", &self.first_name),
            ("last_name", &self.last_name),
            ("company_name", &self.company_name),
        ] {
            if let Some(v) = v {
                check_text(v, 100).map_err(|e| e.under(name))?;
            }
        }
        if let Some(e) = &self.email {
            check_email(e).map_err(|e| e.under("email"))?;
        }
        if let Some(p) = &self.phone {
            check_phone(p).map_err(|e| e.under("phone"))?;
        }
        self.billing_address
            .validate()
            .map_err(|e| e.under("billing_address"))?;
        if let Some(s) = &self.shipping {
            if let Some(n) = &s.name {
                check_text(n, 200).map_err(|e| e.under("shipping.name"))?;
            }
            if let Some(p) = &s.phone {
                check_phone(p).map_err(|e| e.under("shipping.phone"))?;
            }
            s.address
                .validate()
                .map_err(|e| e.under("shipping.address"))?;
        }
        if let Some(n) = self.collection_group_no {
            if n <= 0 {
                return Err(ValidationError::new(
                    "collection_group_no",
                    "must be a positive group number",
                ));
            }
        }
        Ok(())
    }

    /// The name Stripe's customer gets: first and last name, else the company.
    pub fn display_name(&self) -> Option<String> {
        let person = [self.first_name.as_deref(), self.last_name.as_deref()]
            .iter()
            .flatten()
            .copied()
            .collect::<Vec<_>>()
            .join(" ");
        if person.is_empty() {
            self.company_name.clone()
        } else {
            Some(person)
        }
    }
}

/// Statuses an operator may set through the API (the fraud settings may set any).
pub fn parse_status(value: &str) -> Result<AccountStatus, ValidationError> {
    serde_json::from_value(serde_json::Value::String(value.to_string())).map_err(|_| {
        ValidationError::new(
            "status",
            format!("`{value}` is not one of active, inactive, pending_review, fraud_review, fraud_blocked, suspended, cancelled, terminated"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::parse;
    use serde_json::json;

    fn err(v: serde_json::Value) -> ValidationError {
        match parse::<AccountProfile>(v) {
            Ok(p) => p.validate().unwrap_err(),
            Err(e) => e,
        }
    }

    #[test]
    fn full_profile_is_valid() {
        let p: AccountProfile = parse(json!({
            "client_acct_id": "C-1001", "first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.com",
            "phone": "+44 20 7946 0018",
            "billing_address": {"line1": "1 Main St", "city": "London", "postal_code": "N1 9GU", "country": "GB"},
            "shipping": {"name": "Ada L", "address": {"line1": "2 Side St", "country": "GB"}},
            "collection_group_no": 1
        }))
        .unwrap();
        assert!(p.validate().is_ok());
        assert_eq!(p.display_name().as_deref(), Some("Ada Lovelace"));
    }

    #[test]
    fn rules_name_their_field() {
        assert_eq!(err(json!({})).param, "client_acct_id");
        assert_eq!(err(json!({"client_acct_id": ""})).param, "client_acct_id");
        assert_eq!(
            err(json!({"client_acct_id": "x", "email": "nope"})).param,
            "email"
        );
        assert_eq!(
            err(json!({"client_acct_id": "x", "phone": "12"})).param,
            "phone"
        );
        assert_eq!(
            err(
                json!({"client_acct_id": "x", "billing_address": {"line1": "a", "country": "usa"}})
            )
            .param,
            "billing_address.country"
        );
        assert_eq!(
            err(json!({"client_acct_id": "x", "billing_address": {"city": "Paris"}})).param,
            "billing_address.line1"
        );
        assert_eq!(err(json!({"client_acct_id": "x", "shipping": {"address": {"line1": "a", "country": "u"}}})).param, "shipping.address.country");
        assert_eq!(
            err(json!({"client_acct_id": "x", "collection_group_no": 0})).param,
            "collection_group_no"
        );
        assert_eq!(
            err(json!({"client_acct_id": "x", "nickname": "y"})).param,
            "nickname"
        );
    }

    #[test]
    fn statuses() {
        assert_eq!(
            parse_status("fraud_blocked").unwrap(),
            AccountStatus::FraudBlocked
        );
        assert_eq!(parse_status("gone").unwrap_err().param, "status");
    }

    #[test]
    fn company_name_when_no_person() {
        let p: AccountProfile =
            parse(json!({"client_acct_id": "x", "company_name": "Acme Ltd"})).unwrap();
        assert_eq!(p.display_name().as_deref(), Some("Acme Ltd"));
    }
}
