//! Small checks for free-text fields: URLs, e-mail addresses, phone numbers, lengths.

use crate::ValidationError;

/// Trimmed, non-empty, at most `max` characters, no control characters.
pub fn check_text(value: &str, max: usize) -> Result<(), ValidationError> {
    if value.trim().is_empty() {
        return Err(ValidationError::new("", "must not be empty"));
    }
    if value.chars().count() > max {
        return Err(ValidationError::new(
            "",
            format!("must be at most {max} characters"),
        ));
    }
    if value.chars().any(char::is_control) {
        return Err(ValidationError::new(
            "",
            "must not contain control characters",
        ));
    }
    Ok(())
}

/// An absolute `http` or `https` URL with a host and no white space.
pub fn check_http_url(value: &str) -> Result<(), ValidationError> {
    check_text(value, 2048)?;
    let rest = value
        .strip_prefix("https://")
        .or_else(|| value.strip_prefix("http://"))
        .ok_or_else(|| {
            ValidationError::new(
                "",
                "must be an absolute URL starting with https:// or http://",
            )
        })?;
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host_only = host.rsplit('@').next().unwrap_or("");
    if host_only.is_empty() || host_only.starts_with(':') {
        return Err(ValidationError::new("", "must name a host"));
    }
    if value.chars().any(char::is_whitespace) {
        return Err(ValidationError::new("", "must not contain spaces"));
    }
    Ok(())
}

pub fn check_email(value: &str) -> Result<(), ValidationError> {
    check_text(value, 254)?;
    let bad = || ValidationError::new("", format!("`{value}` is not an e-mail address"));
    let (local, domain) = value.split_once('@').ok_or_else(bad)?;
    if local.is_empty()
        || domain.len() < 3
        || !domain.contains('.')
        || domain.starts_with('.')
        || domain.ends_with('.')
        || domain.contains('@')
        || value.chars().any(char::is_whitespace)
    {
        return Err(bad());
    }
    Ok(())
}

/// An API base URL that a secret key may be sent to: `https://`, or plain `http://` only to this
/// machine (the built-in emulator, tests), so a key never crosses a network unencrypted.
pub fn check_api_base_url(value: &str) -> Result<(), ValidationError> {
    check_http_url(value)?;
    if let Some(rest) = value.strip_prefix("http://") {
        let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
        let host = match authority.strip_prefix('[') {
            Some(v6) => v6.split(']').next().unwrap_or(""),
            None => authority.split(':').next().unwrap_or(""),
        };
        let local = host == "localhost" || host == "::1" || host.starts_with("127.");
        if !local {
            return Err(ValidationError::new(
                "",
                "must use https:// (plain http:// is allowed only for localhost, where the Stripe emulator runs)",
            ));
        }
    }
    Ok(())
}

/// A phone number as people write it: digits with optional `+`, spaces, dashes, dots and
/// parentheses; 7 to 15 digits (E.164 allows 15).
pub fn check_phone(value: &str) -> Result<(), ValidationError> {
    check_text(value, 32)?;
    if !value
        .chars()
        .all(|c| c.is_ascii_digit() || " +-().".contains(c))
    {
        return Err(ValidationError::new(
            "",
            "may contain only digits, spaces and + - ( ) .",
        ));
    }
    let digits = value.chars().filter(char::is_ascii_digit).count();
    if !(7..=15).contains(&digits) {
        return Err(ValidationError::new("", "must have 7 to 15 digits"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert!(check_http_url("https://api.stripe.com").is_ok());
        assert!(check_http_url("http://127.0.0.1:12111").is_ok());
        assert!(check_http_url("https://shop.example/3ds/done?x=1").is_ok());
        for bad in [
            "ftp://x",
            "api.stripe.com",
            "https://",
            "https:///path",
            "https://a b",
            "",
        ] {
            assert!(check_http_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn api_base_urls() {
        for ok in [
            "https://api.stripe.com",
            "http://127.0.0.1:12111",
            "http://localhost:1",
            "http://[::1]:9",
        ] {
            assert!(check_api_base_url(ok).is_ok(), "{ok}");
        }
        for bad in [
            "http://api.stripe.com",
            "http://10.0.0.5:12111",
            "http://localhost.evil.example",
            "ftp://x",
        ] {
            assert!(check_api_base_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn emails() {
        assert!(check_email("support@shop.example").is_ok());
        for bad in [
            "support",
            "a@b",
            "@shop.example",
            "a@@shop.example",
            "a b@shop.example",
            "a@shop.",
        ] {
            assert!(check_email(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn phones() {
        assert!(check_phone("+1 (800) 555-0199").is_ok());
        assert!(check_phone("555-01").is_err());
        assert!(check_phone("call me").is_err());
    }

    #[test]
    fn text() {
        assert!(check_text("  ", 10).is_err());
        assert!(check_text("abc", 2).is_err());
        assert!(check_text("a\u{0007}b", 10).is_err());
        assert!(check_text("ok", 2).is_ok());
    }
}
