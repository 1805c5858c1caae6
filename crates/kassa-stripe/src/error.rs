//! Stripe's errors, and which of them leave a payment's outcome unknown.

use serde::Deserialize;

/// Stripe's error `type`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ErrorKind {
    Card,
    InvalidRequest,
    Api,
    Idempotency,
    Authentication,
    RateLimit,
    Other(String),
}

impl ErrorKind {
    fn parse(s: &str) -> Self {
        match s {
            "card_error" => ErrorKind::Card,
            "invalid_request_error" => ErrorKind::InvalidRequest,
            "api_error" => ErrorKind::Api,
            "idempotency_error" => ErrorKind::Idempotency,
            "authentication_error" => ErrorKind::Authentication,
            "rate_limit_error" => ErrorKind::RateLimit,
            other => ErrorKind::Other(other.to_string()),
        }
    }
}

/// An error object Stripe answered with.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: u16,
    pub kind: ErrorKind,
    pub code: Option<String>,
    pub decline_code: Option<String>,
    pub message: String,
    pub param: Option<String>,
    /// The PaymentIntent in the error, for card errors on a PaymentIntent.
    pub payment_intent: Option<serde_json::Value>,
    /// The PaymentMethod in the error (card errors), for its brand and last4.
    pub payment_method: Option<serde_json::Value>,
    pub request_id: Option<String>,
    /// `Stripe-Should-Retry` when Stripe sent it.
    pub should_retry: Option<bool>,
}

#[derive(Debug, thiserror::Error)]
pub enum StripeError {
    /// Stripe answered with an error object.
    #[error("Stripe {} {:?}{}: {}", .0.status, .0.kind, .0.code.as_deref().map(|c| format!(" ({c})")).unwrap_or_default(), .0.message)]
    Api(Box<ApiError>),
    /// No answer: the request may or may not have taken effect at Stripe. A payment in this
    /// state is unknown, never failed; it is retried with the same idempotency key or reconciled.
    #[error("no answer from Stripe ({0}); the outcome is unknown")]
    Unknown(String),
    /// The request could not be sent at all (bad URL, TLS setup): it did not reach Stripe.
    #[error("the request to Stripe could not be sent: {0}")]
    NotSent(String),
    /// Stripe answered something that is not Stripe's JSON.
    #[error("unexpected answer from Stripe (HTTP {status}): {message}")]
    Malformed { status: u16, message: String },
}

#[derive(Deserialize)]
struct Envelope {
    error: Body,
}

#[derive(Deserialize)]
struct Body {
    #[serde(rename = "type")]
    kind: Option<String>,
    code: Option<String>,
    decline_code: Option<String>,
    message: Option<String>,
    param: Option<String>,
    payment_intent: Option<serde_json::Value>,
    #[serde(default)]
    payment_method: Option<serde_json::Value>,
}

impl StripeError {
    /// Reads an error response.
    pub fn from_response(
        status: u16,
        body: &[u8],
        request_id: Option<String>,
        should_retry: Option<bool>,
    ) -> StripeError {
        match serde_json::from_slice::<Envelope>(body) {
            Ok(Envelope { error }) => StripeError::Api(Box::new(ApiError {
                status,
                kind: ErrorKind::parse(error.kind.as_deref().unwrap_or("api_error")),
                code: error.code,
                decline_code: error.decline_code,
                message: error.message.unwrap_or_default(),
                param: error.param,
                payment_intent: error.payment_intent,
                payment_method: error.payment_method,
                request_id,
                should_retry,
            })),
            Err(_) => StripeError::Malformed {
                status,
                message: String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned(),
            },
        }
    }

    /// Whether sending the same request again (same idempotency key) is right: Stripe's own
    /// rule — its `Stripe-Should-Retry` header when present, else 409 (a concurrent request with
    /// the same key), 429 and 5xx — plus every request that got no answer. (A 2xx whose body
    /// cannot be read is not sent again: under the same key Stripe would only replay it.)
    pub fn is_retryable(&self) -> bool {
        match self {
            StripeError::Api(e) => match e.should_retry {
                Some(v) => v,
                None => e.status == 409 || e.status == 429 || e.status >= 500,
            },
            StripeError::Unknown(_) => true,
            // An unreadable answer from a proxy or Stripe's edge (a 502 page): as any 5xx.
            StripeError::Malformed { status, .. } => *status >= 500,
            StripeError::NotSent(_) => false,
        }
    }

    /// Whether Stripe may have done the work: true unless Stripe answered with an error that
    /// says it did not. A success whose body cannot be read is unknown too: Stripe did the work,
    /// and what it made is learnt by asking again (the reconciler), never recorded as a failure.
    pub fn outcome_unknown(&self) -> bool {
        match self {
            StripeError::Unknown(_) => true,
            StripeError::Api(e) => e.status >= 500,
            StripeError::Malformed { status, .. } => *status >= 500 || (200..300).contains(status),
            StripeError::NotSent(_) => false,
        }
    }

    /// The legacy-integration error the Konnektive seed describes, with what the operator must do.
    pub fn raw_card_data_disabled(&self) -> bool {
        matches!(self, StripeError::Api(e) if e.message.contains("Sending credit card numbers directly to the Stripe API is generally unsafe"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_card_errors() {
        let body = br#"{"error":{"type":"card_error","code":"card_declined","decline_code":"insufficient_funds","message":"Your card has insufficient funds.","param":"","payment_intent":{"id":"pi_1"}}}"#;
        let e = StripeError::from_response(402, body, Some("req_1".into()), None);
        match &e {
            StripeError::Api(e) => {
                assert_eq!(e.kind, ErrorKind::Card);
                assert_eq!(e.code.as_deref(), Some("card_declined"));
                assert_eq!(e.decline_code.as_deref(), Some("insufficient_funds"));
                assert_eq!(e.payment_intent.as_ref().unwrap()["id"], "pi_1");
            }
            other => panic!("{other:?}"),
        }
        assert!(!e.is_retryable());
        assert!(!e.outcome_unknown());
    }

    #[test]
    fn retry_rules() {
        let e = |status| {
            StripeError::from_response(
                status,
                br#"{"error":{"type":"api_error","message":"x"}}"#,
                None,
                None,
            )
        };
        assert!(e(500).is_retryable() && e(500).outcome_unknown());
        assert!(e(429).is_retryable() && !e(429).outcome_unknown());
        assert!(e(409).is_retryable());
        assert!(!e(400).is_retryable());
        let told = StripeError::from_response(
            500,
            br#"{"error":{"type":"api_error","message":"x"}}"#,
            None,
            Some(false),
        );
        assert!(!told.is_retryable());
        assert!(StripeError::Unknown("timeout".into()).is_retryable());
        let garbage = StripeError::from_response(502, b"<html>bad gateway</html>", None, None);
        assert!(matches!(
            garbage,
            StripeError::Malformed { status: 502, .. }
        ));
        assert!(garbage.is_retryable() && garbage.outcome_unknown());
        let refused = StripeError::from_response(400, b"<html>bad request</html>", None, None);
        assert!(!refused.is_retryable() && !refused.outcome_unknown());
    }

    #[test]
    fn recognises_raw_card_data_refusal() {
        let body = br#"{"error":{"type":"invalid_request_error","message":"Sending credit card numbers directly to the Stripe API is generally unsafe. We suggest you use test tokens that map to the test card you are using, see https://stripe.com/docs/testing."}}"#;
        assert!(StripeError::from_response(402, body, None, None).raw_card_data_disabled());
    }
}
