//! Stripe credentials: secret and restricted keys, publishable keys, webhook signing secrets.
//!
//! Secret values are wrapped so that `Debug` never prints them; the only ways to read one are
//! [`StripeSecretKey::expose`] (to put it on the wire) and [`redact`] (to show it).

use std::fmt;

use crate::ValidationError;

const SECRET_PREFIXES: [&str; 4] = ["sk_live_", "sk_test_", "rk_live_", "rk_test_"];
const PUBLISHABLE_PREFIXES: [&str; 2] = ["pk_live_", "pk_test_"];
const WEBHOOK_PREFIX: &str = "whsec_";
const MIN_BODY: usize = 8;
const MAX_LEN: usize = 255;

fn check_body(value: &str, prefix: &str, what: &str) -> Result<(), ValidationError> {
    let body = &value[prefix.len()..];
    if body.len() < MIN_BODY || value.len() > MAX_LEN {
        return Err(ValidationError::new(
            "",
            format!("is not a valid {what}: the part after `{prefix}` must be {MIN_BODY} to {} characters", MAX_LEN - prefix.len()),
        ));
    }
    if !body.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(ValidationError::new(
            "",
            format!("is not a valid {what}: only letters and digits may follow `{prefix}`"),
        ));
    }
    Ok(())
}

/// Shows a secret as its scheme prefix, an ellipsis and its last four characters:
/// `sk_test_…4242`, `whsec_…9f3a`. Never the whole value.
pub fn redact(secret: &str) -> String {
    let prefix_end = SECRET_PREFIXES
        .iter()
        .chain(PUBLISHABLE_PREFIXES.iter())
        .chain(std::iter::once(&WEBHOOK_PREFIX))
        .find(|p| secret.starts_with(**p))
        .map(|p| p.len())
        .unwrap_or(0);
    let chars: Vec<char> = secret[prefix_end..].chars().collect();
    // Short values show less, so that a redacted value never gives away most of the secret.
    let shown = if chars.len() >= 16 {
        4
    } else if chars.len() >= 8 {
        2
    } else {
        0
    };
    let tail: String = chars[chars.len() - shown..].iter().collect();
    format!("{}…{}", &secret[..prefix_end], tail)
}

/// A Stripe secret (`sk_…`) or restricted (`rk_…`) API key.
#[derive(Clone, PartialEq, Eq)]
pub struct StripeSecretKey(String);

impl StripeSecretKey {
    pub fn parse(value: &str) -> Result<Self, ValidationError> {
        let value = value.trim();
        let Some(prefix) = SECRET_PREFIXES.iter().find(|p| value.starts_with(**p)) else {
            return Err(ValidationError::new(
                "",
                "must be a Stripe secret or restricted key starting with sk_live_, sk_test_, rk_live_ or rk_test_",
            ));
        };
        check_body(value, prefix, "Stripe secret key")?;
        Ok(Self(value.to_string()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_live(&self) -> bool {
        self.0.contains("_live_")
    }

    pub fn redacted(&self) -> String {
        redact(&self.0)
    }
}

impl fmt::Debug for StripeSecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "StripeSecretKey({})", self.redacted())
    }
}

/// A Stripe publishable key (`pk_…`), needed for Radar sessions. Not a secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishableKey(String);

impl PublishableKey {
    pub fn parse(value: &str) -> Result<Self, ValidationError> {
        let value = value.trim();
        let Some(prefix) = PUBLISHABLE_PREFIXES.iter().find(|p| value.starts_with(**p)) else {
            return Err(ValidationError::new(
                "",
                "must be a Stripe publishable key starting with pk_live_ or pk_test_",
            ));
        };
        check_body(value, prefix, "Stripe publishable key")?;
        Ok(Self(value.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn is_live(&self) -> bool {
        self.0.starts_with("pk_live_")
    }
}

/// A live secret key with a test publishable key (or the other way round) is always a mistake:
/// Radar sessions made with one cannot be used with the other.
pub fn check_key_modes(
    secret: &StripeSecretKey,
    public: &PublishableKey,
) -> Result<(), ValidationError> {
    if secret.is_live() != public.is_live() {
        let (s, p) = if secret.is_live() {
            ("live", "test")
        } else {
            ("test", "live")
        };
        return Err(ValidationError::new(
            "public_key",
            format!(
                "is a {p}-mode key but secret_key is a {s}-mode key; use keys of the same mode"
            ),
        ));
    }
    Ok(())
}

/// A webhook endpoint signing secret (`whsec_…`).
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookSecret(String);

impl WebhookSecret {
    pub fn parse(value: &str) -> Result<Self, ValidationError> {
        let value = value.trim();
        if !value.starts_with(WEBHOOK_PREFIX) {
            return Err(ValidationError::new(
                "",
                "must be a Stripe webhook signing secret starting with whsec_",
            ));
        }
        check_body(value, WEBHOOK_PREFIX, "webhook signing secret")?;
        Ok(Self(value.to_string()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn redacted(&self) -> String {
        redact(&self.0)
    }
}

impl fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "WebhookSecret({})", self.redacted())
    }
}

/// Parses a list of webhook secrets (several during a rotation), naming the bad entry by index.
pub fn parse_webhook_secrets(values: &[String]) -> Result<Vec<WebhookSecret>, ValidationError> {
    if values.len() > 10 {
        return Err(ValidationError::new(
            "",
            "at most 10 webhook secrets may be active at once",
        ));
    }
    let mut out: Vec<WebhookSecret> = Vec::with_capacity(values.len());
    for (i, v) in values.iter().enumerate() {
        let s = WebhookSecret::parse(v).map_err(|e| e.under(&format!("[{i}]")))?;
        if out.iter().any(|o| o == &s) {
            return Err(ValidationError::new(format!("[{i}]"), "is listed twice"));
        }
        out.push(s);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_key_prefixes() {
        for ok in [
            "sk_live_abcdefgh1234",
            "sk_test_4eC39HqLyjWDarjtT1zdp7dc",
            "rk_live_12345678",
            "rk_test_ABCDEFGH",
        ] {
            assert!(StripeSecretKey::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "pk_test_abcdefgh",
            "sk_abcdefghijk",
            "sk_test_",
            "sk_test_short",
            "sk_test_has space1",
            "whsec_abcdefghij",
            "",
        ] {
            assert!(StripeSecretKey::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn key_modes_must_match() {
        let live = StripeSecretKey::parse("sk_live_abcdefgh1234").unwrap();
        let test = StripeSecretKey::parse("rk_test_abcdefgh1234").unwrap();
        let pk_live = PublishableKey::parse("pk_live_abcdefgh1234").unwrap();
        let pk_test = PublishableKey::parse("pk_test_abcdefgh1234").unwrap();
        assert!(check_key_modes(&live, &pk_live).is_ok());
        assert!(check_key_modes(&test, &pk_test).is_ok());
        assert_eq!(
            check_key_modes(&live, &pk_test).unwrap_err().param,
            "public_key"
        );
        assert!(check_key_modes(&test, &pk_live).is_err());
    }

    #[test]
    fn publishable_key() {
        assert!(PublishableKey::parse("pk_test_TYooMQauvdEDq54NiTphI7jx").is_ok());
        assert!(PublishableKey::parse("sk_test_TYooMQauvdEDq54NiTphI7jx").is_err());
    }

    #[test]
    fn webhook_secrets_named_by_index() {
        let e = parse_webhook_secrets(&["whsec_abcdefgh12".into(), "nope".into()]).unwrap_err();
        assert_eq!(e.param, "[1]");
        let e = parse_webhook_secrets(&["whsec_abcdefgh12".into(), "whsec_abcdefgh12".into()])
            .unwrap_err();
        assert!(e.message.contains("twice"));
        assert_eq!(parse_webhook_secrets(&[]).unwrap().len(), 0);
    }

    #[test]
    fn redaction_shows_prefix_and_last_four_only() {
        assert_eq!(redact("sk_test_4eC39HqLyjWDarjtT1zdp4242"), "sk_test_…4242");
        assert_eq!(redact("whsec_abcdefghijklmnop9f3a"), "whsec_…9f3a");
        assert_eq!(redact("rk_live_abcdefgh"), "rk_live_…gh");
        assert_eq!(redact("abc"), "…");
        let k = StripeSecretKey::parse("sk_live_supersecretvalue1234").unwrap();
        let dbg = format!("{k:?}");
        assert!(!dbg.contains("supersecret"), "{dbg}");
        assert!(dbg.contains("sk_live_…1234"));
    }
}
