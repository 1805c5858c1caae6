//! API-key authentication (Bearer, or Basic with the key as user name) and `Stripe-Account`.

use axum::http::{HeaderMap, StatusCode};
use base64::Engine;

use crate::error::{ApiError, ErrorType};

const NO_KEY: &str = "You did not provide an API key. You need to provide your API key in the Authorization header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). See https://stripe.com/docs/api#authentication for details, or we can help at https://support.stripe.com/.";

fn redact(key: &str) -> String {
    let tail: String = key
        .chars()
        .rev()
        .take(4)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    let head: String = key.chars().take(8).collect();
    format!(
        "{head}{}{tail}",
        "*".repeat(key.len().saturating_sub(12).min(20))
    )
}

fn valid_key(key: &str) -> bool {
    key.strip_prefix("sk_test_").is_some_and(|rest| {
        !rest.is_empty() && rest.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    })
}

/// The account namespace of a request: `sk_test_…` or `sk_test_…/acct_…`.
pub fn account_key(headers: &HeaderMap) -> Result<String, ApiError> {
    let api_key = api_key(headers)?;
    match headers.get("stripe-account") {
        None => Ok(api_key),
        Some(v) => {
            let acct = v.to_str().unwrap_or_default().trim();
            let ok = acct.strip_prefix("acct_").is_some_and(|rest| {
                !rest.is_empty() && rest.chars().all(|c| c.is_ascii_alphanumeric())
            });
            if !ok {
                return Err(ApiError::new(
                    StatusCode::FORBIDDEN,
                    ErrorType::InvalidRequestError,
                    format!("The provided key '{}' does not have access to account '{acct}' (or that account does not exist). Application access may have been revoked.", redact(&api_key)),
                ));
            }
            Ok(format!("{api_key}/{acct}"))
        }
    }
}

fn api_key(headers: &HeaderMap) -> Result<String, ApiError> {
    let Some(raw) = headers.get("authorization") else {
        return Err(ApiError::unauthorized(NO_KEY));
    };
    let raw = raw.to_str().unwrap_or_default().trim();
    let key = if let Some(b) = raw.strip_prefix("Bearer ") {
        b.trim().to_string()
    } else if let Some(b) = raw.strip_prefix("Basic ") {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(b.trim())
            .ok()
            .and_then(|d| String::from_utf8(d).ok())
            .unwrap_or_default();
        decoded.split(':').next().unwrap_or_default().to_string()
    } else {
        return Err(ApiError::unauthorized(
            "Invalid API Key provided: the Authorization header must use Bearer or Basic auth.",
        ));
    };
    if key.is_empty() {
        return Err(ApiError::unauthorized(NO_KEY));
    }
    if !valid_key(&key) {
        return Err(ApiError::unauthorized(format!(
            "Invalid API Key provided: {}",
            redact(&key)
        )));
    }
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn bearer_basic_and_connected_account() {
        let mut h = HeaderMap::new();
        assert_eq!(
            account_key(&h).unwrap_err().status,
            StatusCode::UNAUTHORIZED
        );
        h.insert(
            "authorization",
            HeaderValue::from_static("Bearer sk_test_abc"),
        );
        assert_eq!(account_key(&h).unwrap(), "sk_test_abc");
        // "sk_test_abc:" base64
        h.insert(
            "authorization",
            HeaderValue::from_static("Basic c2tfdGVzdF9hYmM6"),
        );
        assert_eq!(account_key(&h).unwrap(), "sk_test_abc");
        h.insert("stripe-account", HeaderValue::from_static("acct_123"));
        assert_eq!(account_key(&h).unwrap(), "sk_test_abc/acct_123");
        h.insert(
            "authorization",
            HeaderValue::from_static("Bearer sk_live_abc"),
        );
        assert_eq!(
            account_key(&h).unwrap_err().status,
            StatusCode::UNAUTHORIZED
        );
    }
}
