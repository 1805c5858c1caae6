//! Stripe webhook signatures (stripe-facts §4.1): `Stripe-Signature: t=…,v1=…[,v1=…][,v0=…]`,
//! HMAC-SHA256 over `"{t}." + raw body`, any `v1` against any active secret, constant time.

use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("no Stripe-Signature header")]
    Missing,
    #[error("the Stripe-Signature header has no timestamp (t=…)")]
    NoTimestamp,
    #[error("the Stripe-Signature header has no v1 signature")]
    NoV1,
    #[error("no v1 signature matches any of the endpoint's secrets")]
    NoMatch,
    #[error("the timestamp is {0} s old, more than the {1} s tolerance")]
    Stale(i64, i64),
    #[error("no webhook secret is configured for this endpoint")]
    NoSecrets,
}

/// Which of `secrets` signed `body` (its index), or why none did. `now` and `tolerance` are
/// seconds; like Stripe's libraries, only timestamps older than the tolerance are refused.
pub fn verify_stripe_signature(
    header: Option<&str>,
    body: &[u8],
    secrets: &[&str],
    now: i64,
    tolerance: i64,
) -> Result<usize, SignatureError> {
    let header = header.ok_or(SignatureError::Missing)?;
    if secrets.is_empty() {
        return Err(SignatureError::NoSecrets);
    }
    let mut t: Option<&str> = None;
    let mut v1: Vec<Vec<u8>> = Vec::new();
    for item in header.split(',') {
        let Some((k, v)) = item.trim().split_once('=') else {
            continue;
        };
        match k {
            "t" => t = Some(v),
            // Every other scheme (v0, the test-mode fake one) is ignored: no downgrade.
            "v1" => {
                if let Some(bytes) = hex_decode(v) {
                    v1.push(bytes);
                }
            }
            _ => {}
        }
    }
    let t = t.ok_or(SignatureError::NoTimestamp)?;
    let ts: i64 = t.parse().map_err(|_| SignatureError::NoTimestamp)?;
    if v1.is_empty() {
        return Err(SignatureError::NoV1);
    }
    let mut found = None;
    for (i, secret) in secrets.iter().enumerate() {
        for sig in &v1 {
            let Ok(mut mac) = HmacSha256::new_from_slice(secret.as_bytes()) else {
                continue;
            };
            mac.update(t.as_bytes());
            mac.update(b".");
            mac.update(body);
            // `verify_slice` compares in constant time.
            if mac.verify_slice(sig).is_ok() && found.is_none() {
                found = Some(i);
            }
        }
    }
    let index = found.ok_or(SignatureError::NoMatch)?;
    // Saturating: a signed timestamp near i64's ends must not overflow into "fresh".
    let age = now.saturating_sub(ts);
    if age > tolerance {
        return Err(SignatureError::Stale(age, tolerance));
    }
    Ok(index)
}

/// The header Stripe would send for `body` at `t`, signed with each of `secrets` (for tests and
/// for the emulator's counterpart checks).
pub fn sign_stripe(body: &[u8], t: i64, secrets: &[&str]) -> String {
    let mut out = format!("t={t}");
    for s in secrets {
        if let Ok(mut mac) = HmacSha256::new_from_slice(s.as_bytes()) {
            mac.update(t.to_string().as_bytes());
            mac.update(b".");
            mac.update(body);
            let hex: String = mac
                .finalize()
                .into_bytes()
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            out.push_str(&format!(",v1={hex}"));
        }
    }
    out
}

/// Strict hex: two hex digits a byte and nothing else (`u8::from_str_radix` would also take a
/// sign, so `+f` would pass for `0f`).
fn hex_decode(s: &str) -> Option<Vec<u8>> {
    fn digit(b: u8) -> Option<u8> {
        char::from(b).to_digit(16).map(|d| d as u8)
    }
    if !s.len().is_multiple_of(2) {
        return None;
    }
    s.as_bytes()
        .chunks(2)
        .map(|p| Some(digit(p[0])? << 4 | digit(p[1])?))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const BODY: &[u8] = br#"{"id":"evt_1","type":"payment_method.updated"}"#;

    #[test]
    fn good_signature_and_rotation() {
        let h = sign_stripe(BODY, 1_700_000_000, &["whsec_old", "whsec_new"]);
        assert_eq!(
            verify_stripe_signature(Some(&h), BODY, &["whsec_new"], 1_700_000_100, 300),
            Ok(0)
        );
        assert_eq!(
            verify_stripe_signature(
                Some(&h),
                BODY,
                &["whsec_other", "whsec_old"],
                1_700_000_100,
                300
            ),
            Ok(1)
        );
    }

    #[test]
    fn failures_have_reasons() {
        let h = sign_stripe(BODY, 1_700_000_000, &["whsec_a"]);
        assert_eq!(
            verify_stripe_signature(Some(&h), BODY, &["whsec_b"], 1_700_000_000, 300),
            Err(SignatureError::NoMatch)
        );
        assert_eq!(
            verify_stripe_signature(Some(&h), b"{}", &["whsec_a"], 1_700_000_000, 300),
            Err(SignatureError::NoMatch)
        );
        assert_eq!(
            verify_stripe_signature(Some(&h), BODY, &["whsec_a"], 1_700_000_301, 300),
            Err(SignatureError::Stale(301, 300))
        );
        // Timestamps from the future are not refused (as stripe-python).
        assert!(verify_stripe_signature(Some(&h), BODY, &["whsec_a"], 1_699_999_000, 300).is_ok());
        assert_eq!(
            verify_stripe_signature(None, BODY, &["whsec_a"], 0, 300),
            Err(SignatureError::Missing)
        );
        assert_eq!(
            verify_stripe_signature(Some("v1=abcd"), BODY, &["whsec_a"], 0, 300),
            Err(SignatureError::NoTimestamp)
        );
        assert_eq!(
            verify_stripe_signature(Some("t=1"), BODY, &["whsec_a"], 0, 300),
            Err(SignatureError::NoV1)
        );
        assert_eq!(
            verify_stripe_signature(Some(&h), BODY, &[], 0, 300),
            Err(SignatureError::NoSecrets)
        );
    }

    #[test]
    fn v0_is_ignored() {
        // A valid-looking v0 with the right secret is not accepted on its own.
        let v1 = sign_stripe(BODY, 1_700_000_000, &["whsec_a"]);
        let sig = v1.split("v1=").nth(1).unwrap();
        let header = format!("t=1700000000,v0={sig}");
        assert_eq!(
            verify_stripe_signature(Some(&header), BODY, &["whsec_a"], 1_700_000_000, 300),
            Err(SignatureError::NoV1)
        );
    }

    #[test]
    fn signatures_are_strict_hex() {
        // Found by the fuzzer: `+f` parsed as a hex byte, so a mangled signature still matched.
        // A secret whose signature has a byte below 0x10 (`0X`, which `+X` parsed as).
        let (secret, v1, i) = (0..100)
            .find_map(|n| {
                let secret = format!("whsec_{n}");
                let h = sign_stripe(BODY, 1_700_000_000, &[&secret]);
                let v1 = h.split("v1=").nth(1)?.to_string();
                let i = (0..v1.len())
                    .step_by(2)
                    .find(|&i| v1.as_bytes()[i] == b'0')?;
                Some((secret, v1, i))
            })
            .unwrap();
        let mangled = format!("t=1700000000,v1={}+{}", &v1[..i], &v1[i + 1..]);
        assert_eq!(
            verify_stripe_signature(Some(&mangled), BODY, &[&secret], 1_700_000_000, 300),
            Err(SignatureError::NoV1)
        );
        assert_eq!(hex_decode("+f"), None);
        assert_eq!(hex_decode("0fA0"), Some(vec![0x0f, 0xa0]));
    }

    #[test]
    fn extreme_timestamps_do_not_overflow() {
        // Found by the fuzzer: `now - t` overflowed (a panic in debug builds, and in release a
        // wrap to a negative age, which passed as fresh).
        let t = i64::MIN;
        let h = sign_stripe(BODY, t, &["whsec_a"]);
        assert_eq!(
            verify_stripe_signature(Some(&h), BODY, &["whsec_a"], 1_700_000_000, 300),
            Err(SignatureError::Stale(i64::MAX, 300))
        );
    }

    #[test]
    fn the_timestamp_is_signed() {
        let h = sign_stripe(BODY, 1_700_000_000, &["whsec_a"]);
        let moved = h.replace("t=1700000000", "t=1700000999");
        assert_eq!(
            verify_stripe_signature(Some(&moved), BODY, &["whsec_a"], 1_700_001_000, 300),
            Err(SignatureError::NoMatch)
        );
    }
}
