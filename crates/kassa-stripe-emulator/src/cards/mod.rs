//! Stripe's test cards (docs.stripe.com/testing), brand detection, Luhn, fingerprints.

mod table;

pub use table::TEST_CARDS;

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// How a card behaves when charged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Behavior {
    Success,
    /// Declines when charged; cannot be attached to a customer.
    Decline(Decline),
    /// Attaches fine, declines (generic) when charged.
    ChargeCustomerFail,
    /// 3DS required on every payment; off-session fails with authentication_required.
    ThreeDsRequired,
    /// 3DS required, then declined with card_declined.
    ThreeDsRequiredDecline,
    /// 3DS required, lookup fails with processing_error.
    ThreeDsLookupError,
    /// 3DS supported, only when requested (`request_three_d_secure`).
    ThreeDsOptional,
    /// 3DS supported, processing error if attempted.
    ThreeDsOptionalError,
    /// Authentication required unless set up for off-session use.
    AuthUnlessSetup,
    /// Already set up: off-session succeeds, on-session needs authentication.
    SetupForOffSession,
    /// Authentication required, then declined with insufficient_funds.
    AuthThenInsufficient,
    /// Radar: always blocked (highest risk).
    RadarBlock,
    /// Radar: highest risk, blocked by the default rule.
    RiskHighest,
    /// Radar: elevated risk, placed in manual review.
    RiskElevated,
    /// Refunds stay pending.
    PendingRefund,
    /// Refunds are answered `succeeded`, then fail (`refund.failed`) right after.
    RefundFail,
    /// Succeeds, then the cardholder disputes the charge right after capture.
    Dispute {
        reason: &'static str,
        inquiry: bool,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decline {
    pub code: &'static str,
    pub decline_code: Option<&'static str>,
    pub message: &'static str,
    pub param: Option<&'static str>,
}

pub const GENERIC: Decline = Decline {
    code: "card_declined",
    decline_code: Some("generic_decline"),
    message: "Your card was declined.",
    param: None,
};
pub const INSUFFICIENT: Decline = Decline {
    code: "card_declined",
    decline_code: Some("insufficient_funds"),
    message: "Your card has insufficient funds.",
    param: None,
};
pub const LOST: Decline = Decline {
    code: "card_declined",
    decline_code: Some("lost_card"),
    message: "Your card was declined.",
    param: None,
};
pub const STOLEN: Decline = Decline {
    code: "card_declined",
    decline_code: Some("stolen_card"),
    message: "Your card was declined.",
    param: None,
};
pub const EXPIRED: Decline = Decline {
    code: "expired_card",
    decline_code: Some("expired_card"),
    message: "Your card has expired.",
    param: Some("exp_month"),
};
pub const INCORRECT_CVC: Decline = Decline {
    code: "incorrect_cvc",
    decline_code: Some("incorrect_cvc"),
    message: "Your card's security code is incorrect.",
    param: Some("cvc"),
};
pub const PROCESSING: Decline = Decline {
    code: "processing_error",
    decline_code: Some("processing_error"),
    message: "An error occurred while processing your card. Try again in a little bit.",
    param: None,
};
pub const VELOCITY: Decline = Decline {
    code: "card_declined",
    decline_code: Some("card_velocity_exceeded"),
    message: "Your card was declined.",
    param: None,
};
pub const FRAUDULENT: Decline = Decline {
    code: "card_declined",
    decline_code: Some("fraudulent"),
    message: "Your card was declined.",
    param: None,
};
pub const AUTH_REQUIRED: Decline = Decline {
    code: "authentication_required",
    decline_code: Some("authentication_required"),
    message: "Your card was declined. This transaction requires authentication.",
    param: None,
};

/// Result overrides for the CVC / address checks, applied when the data was provided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CheckOverride {
    pub cvc: Option<&'static str>,
    pub line1: Option<&'static str>,
    pub zip: Option<&'static str>,
    pub elevated: bool,
}

#[derive(Debug, Clone, Copy)]
pub struct TestCard {
    pub pan: &'static str,
    pub tokens: &'static [&'static str],
    pub funding: &'static str,
    pub country: &'static str,
    pub behavior: Behavior,
    pub checks: CheckOverride,
}

/// The test card that authenticates with 3-D Secure 1 (every other 3DS card uses 3DS 2).
pub const THREE_DS1_PAN: &str = "4000000000003063";

/// The 3-D Secure protocol version a card's issuer runs.
pub fn three_ds_version(pan: &str) -> &'static str {
    if pan == THREE_DS1_PAN {
        "1.0.2"
    } else {
        "2.2.0"
    }
}

pub fn by_pan(pan: &str) -> Option<&'static TestCard> {
    TEST_CARDS.iter().find(|c| c.pan == pan)
}

pub fn by_token(token: &str) -> Option<&'static TestCard> {
    TEST_CARDS.iter().find(|c| c.tokens.contains(&token))
}

/// Luhn mod-10 check.
pub fn luhn_ok(pan: &str) -> bool {
    let ds: Vec<u32> = pan.chars().filter_map(|c| c.to_digit(10)).collect();
    if ds.len() != pan.len() || ds.len() < 12 || ds.len() > 19 {
        return false;
    }
    let sum: u32 = ds
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| {
            if i % 2 == 1 {
                let x = d * 2;
                if x > 9 {
                    x - 9
                } else {
                    x
                }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

fn prefix_num(pan: &str, n: usize) -> u32 {
    pan.get(..n).and_then(|p| p.parse().ok()).unwrap_or(0)
}

/// Brand from the IIN (stripe-facts §6).
pub fn detect_brand(pan: &str) -> &'static str {
    let p2 = prefix_num(pan, 2);
    let p3 = prefix_num(pan, 3);
    let p4 = prefix_num(pan, 4);
    if pan.starts_with('4') {
        "visa"
    } else if p2 == 34 || p2 == 37 {
        "amex"
    } else if (51..=55).contains(&p2) || (2221..=2720).contains(&p4) {
        "mastercard"
    } else if p4 == 6011 || (644..=649).contains(&p3) || p2 == 65 {
        "discover"
    } else if p2 == 62 || p2 == 81 {
        "unionpay"
    } else if (300..=305).contains(&p3) || p4 == 3095 || p2 == 36 || p2 == 38 || p2 == 39 {
        "diners"
    } else if (3528..=3589).contains(&p4) {
        "jcb"
    } else {
        "unknown"
    }
}

/// Whether `len` is a valid PAN length for the brand.
pub fn length_ok(brand: &str, len: usize) -> bool {
    match brand {
        "visa" => matches!(len, 13 | 16 | 19),
        "mastercard" => len == 16,
        "amex" => len == 15,
        "diners" => (14..=19).contains(&len),
        _ => (16..=19).contains(&len),
    }
}

/// Deterministic per card number and account (like Stripe's per-account fingerprint).
pub fn fingerprint(account_key: &str, pan: &str) -> String {
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(account_key.as_bytes()) else {
        return String::from("0000000000000000");
    };
    mac.update(pan.as_bytes());
    let out = mac.finalize().into_bytes();
    out.iter()
        .take(16)
        .map(|b| ALPHABET[(*b as usize) % ALPHABET.len()] as char)
        .collect()
}

/// A stable 0..=99 number derived from a fingerprint.
pub fn stable_percent(fingerprint: &str) -> i64 {
    let sum: u64 = fingerprint
        .bytes()
        .fold(7u64, |a, b| a.wrapping_mul(31).wrapping_add(b as u64));
    (sum % 100) as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_test_pans_pass_luhn_and_have_brand_lengths() {
        for c in TEST_CARDS {
            assert!(luhn_ok(c.pan), "{}", c.pan);
            let b = detect_brand(c.pan);
            assert_ne!(b, "unknown", "{}", c.pan);
            assert!(length_ok(b, c.pan.len()), "{}", c.pan);
        }
        assert!(!luhn_ok("4242424242424241"));
    }

    #[test]
    fn brands() {
        assert_eq!(detect_brand("378282246310005"), "amex");
        assert_eq!(detect_brand("2223003122003222"), "mastercard");
        assert_eq!(detect_brand("36227206271667"), "diners");
        assert_eq!(detect_brand("3566002020360505"), "jcb");
        assert_eq!(detect_brand("6200000000000005"), "unionpay");
        assert_eq!(detect_brand("6011000990139424"), "discover");
    }
}
