//! Card data checked locally before anything reaches Stripe: brand by IIN range, length, Luhn,
//! expiry, CVC; and the billing platform's token format `payment_method_id:customer_id`.
//!
//! A [`CardNumber`] never prints itself: `Debug` shows only brand and last four digits.

use serde::{Deserialize, Serialize};
use std::fmt;

use crate::ValidationError;

/// The seven brands the billing platform's Stripe integration supports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CardBrand {
    Visa,
    Mastercard,
    Amex,
    Discover,
    Diners,
    Jcb,
    Unionpay,
}

impl CardBrand {
    /// Stripe's name for the brand (`card.brand`).
    pub fn as_str(self) -> &'static str {
        match self {
            CardBrand::Visa => "visa",
            CardBrand::Mastercard => "mastercard",
            CardBrand::Amex => "amex",
            CardBrand::Discover => "discover",
            CardBrand::Diners => "diners",
            CardBrand::Jcb => "jcb",
            CardBrand::Unionpay => "unionpay",
        }
    }

    fn lengths(self) -> &'static [usize] {
        match self {
            CardBrand::Visa => &[13, 16, 19],
            CardBrand::Mastercard => &[16],
            CardBrand::Amex => &[15],
            CardBrand::Discover => &[16, 17, 18, 19],
            CardBrand::Diners => &[14, 15, 16, 17, 18, 19],
            CardBrand::Jcb | CardBrand::Unionpay => &[16, 17, 18, 19],
        }
    }

    fn cvc_lengths(self) -> &'static [usize] {
        match self {
            // Stripe accepts 3 or 4 digits for Amex.
            CardBrand::Amex => &[3, 4],
            _ => &[3],
        }
    }
}

fn prefix_num(digits: &str, n: usize) -> u32 {
    digits.get(..n).and_then(|p| p.parse().ok()).unwrap_or(0)
}

/// The brand of a card number by its IIN, most specific ranges first. The range 622126–622925,
/// shared by Discover and UnionPay, is reported as UnionPay (the issuing network).
pub fn detect_brand(digits: &str) -> Option<CardBrand> {
    let p1 = prefix_num(digits, 1);
    let p2 = prefix_num(digits, 2);
    let p3 = prefix_num(digits, 3);
    let p4 = prefix_num(digits, 4);
    let p6 = prefix_num(digits, 6);
    if (3528..=3589).contains(&p4) {
        return Some(CardBrand::Jcb);
    }
    if (300..=305).contains(&p3) || p4 == 3095 || p2 == 36 || p2 == 38 || p2 == 39 {
        return Some(CardBrand::Diners);
    }
    if p2 == 34 || p2 == 37 {
        return Some(CardBrand::Amex);
    }
    if (622_126..=622_925).contains(&p6) || p2 == 62 || p2 == 81 {
        return Some(CardBrand::Unionpay);
    }
    if p4 == 6011 || (644..=649).contains(&p3) || p2 == 65 {
        return Some(CardBrand::Discover);
    }
    if (51..=55).contains(&p2) || (2221..=2720).contains(&p4) {
        return Some(CardBrand::Mastercard);
    }
    if p1 == 4 {
        return Some(CardBrand::Visa);
    }
    None
}

/// The Luhn (mod 10) check.
pub fn luhn_ok(digits: &str) -> bool {
    let mut sum = 0;
    for (i, c) in digits.bytes().rev().enumerate() {
        if !c.is_ascii_digit() {
            return false;
        }
        let d = u32::from(c - b'0');
        sum += if i % 2 == 1 {
            let x = d * 2;
            if x > 9 {
                x - 9
            } else {
                x
            }
        } else {
            d
        };
    }
    !digits.is_empty() && sum % 10 == 0
}

/// A card number that passed every local check. Held only in memory on its way to Stripe.
#[derive(Clone, PartialEq, Eq)]
pub struct CardNumber {
    digits: String,
    brand: CardBrand,
}

impl CardNumber {
    /// Accepts digits with optional spaces or dashes between them.
    pub fn parse(input: &str) -> Result<Self, ValidationError> {
        let digits: String = input.chars().filter(|c| !matches!(c, ' ' | '-')).collect();
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(
                ValidationError::new("", "must contain only digits").with_code("invalid_number")
            );
        }
        if !(12..=19).contains(&digits.len()) {
            return Err(ValidationError::new("", "must be 12 to 19 digits long")
                .with_code("invalid_number"));
        }
        if !luhn_ok(&digits) {
            return Err(ValidationError::new(
                "",
                "is not a valid card number (it fails the Luhn check)",
            )
            .with_code("incorrect_number"));
        }
        let brand = detect_brand(&digits).ok_or_else(|| {
            ValidationError::new(
                "",
                "is not a card of a supported brand (American Express, Diners Club International, Discover, JCB, Mastercard, UnionPay, Visa)",
            )
            .with_code("card_brand_unsupported")
        })?;
        if !brand.lengths().contains(&digits.len()) {
            return Err(ValidationError::new(
                "",
                format!(
                    "has {} digits, which no {} card has",
                    digits.len(),
                    brand.as_str()
                ),
            )
            .with_code("invalid_number"));
        }
        Ok(CardNumber { digits, brand })
    }

    pub fn brand(&self) -> CardBrand {
        self.brand
    }

    pub fn last4(&self) -> &str {
        &self.digits[self.digits.len() - 4..]
    }

    /// The full number, to put on the wire to Stripe and nowhere else.
    pub fn expose(&self) -> &str {
        &self.digits
    }
}

impl fmt::Debug for CardNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CardNumber({} …{})", self.brand.as_str(), self.last4())
    }
}

/// Checks an expiry against today's year and month; a card is valid through the end of its month.
/// Two-digit years are read as 20YY.
pub fn check_expiry(month: i64, year: i64, today: (i32, u8)) -> Result<(i32, u8), ValidationError> {
    if !(1..=12).contains(&month) {
        return Err(
            ValidationError::new("exp_month", "must be 1 to 12").with_code("invalid_expiry_month")
        );
    }
    let year = if (0..100).contains(&year) {
        2000 + year
    } else {
        year
    };
    let (now_y, now_m) = (i64::from(today.0), i64::from(today.1));
    if year < now_y || (year == now_y && month < now_m) {
        return Err(ValidationError::new("exp_year", "the card has expired")
            .with_code("invalid_expiry_year"));
    }
    if year > now_y + 50 {
        return Err(ValidationError::new("exp_year", "is too far in the future")
            .with_code("invalid_expiry_year"));
    }
    Ok((year as i32, month as u8))
}

pub fn check_cvc(cvc: &str, brand: CardBrand) -> Result<(), ValidationError> {
    if !cvc.bytes().all(|b| b.is_ascii_digit()) || !brand.cvc_lengths().contains(&cvc.len()) {
        let want = if brand == CardBrand::Amex {
            "3 or 4"
        } else {
            "3"
        };
        return Err(ValidationError::new(
            "cvc",
            format!("must be {want} digits for {}", brand.as_str()),
        )
        .with_code("invalid_cvc"));
    }
    Ok(())
}

/// The billing platform's exact message for a token in the wrong format.
pub const INVALID_TOKEN_MESSAGE: &str =
    "Invalid token. The valid token format is payment_method_id:customer_id.";

/// A stored Stripe card token: `payment_method_id:customer_id` (pay method 13).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StripeToken {
    pub payment_method_id: String,
    pub customer_id: String,
}

impl StripeToken {
    pub fn parse(input: &str) -> Result<Self, ValidationError> {
        let bad =
            || ValidationError::new("token", INVALID_TOKEN_MESSAGE).with_code("token_invalid");
        let (pm, cus) = input.trim().split_once(':').ok_or_else(bad)?;
        let ok = |id: &str, prefix: &str| {
            id.strip_prefix(prefix).is_some_and(|rest| {
                !rest.is_empty()
                    && rest.len() <= 250
                    && rest.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
            })
        };
        if !ok(pm, "pm_") || !ok(cus, "cus_") {
            return Err(bad());
        }
        Ok(StripeToken {
            payment_method_id: pm.to_string(),
            customer_id: cus.to_string(),
        })
    }

    pub fn to_token_string(&self) -> String {
        format!("{}:{}", self.payment_method_id, self.customer_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stripe_test_cards_get_their_brand() {
        let cases = [
            ("4242424242424242", CardBrand::Visa),
            ("4000056655665556", CardBrand::Visa),
            ("5555555555554444", CardBrand::Mastercard),
            ("2223003122003222", CardBrand::Mastercard),
            ("5200828282828210", CardBrand::Mastercard),
            ("5105105105105100", CardBrand::Mastercard),
            ("378282246310005", CardBrand::Amex),
            ("371449635398431", CardBrand::Amex),
            ("6011111111111117", CardBrand::Discover),
            ("6011000990139424", CardBrand::Discover),
            ("3056930009020004", CardBrand::Diners),
            ("36227206271667", CardBrand::Diners),
            ("3566002020360505", CardBrand::Jcb),
            ("6200000000000005", CardBrand::Unionpay),
            ("6205500000000000004", CardBrand::Unionpay),
        ];
        for (pan, brand) in cases {
            let n = CardNumber::parse(pan).unwrap_or_else(|e| panic!("{pan}: {e}"));
            assert_eq!(n.brand(), brand, "{pan}");
            assert_eq!(n.last4(), &pan[pan.len() - 4..]);
        }
    }

    #[test]
    fn rejects_bad_numbers_with_codes() {
        assert_eq!(
            CardNumber::parse("4242424242424241").unwrap_err().code,
            "incorrect_number"
        );
        assert_eq!(
            CardNumber::parse("4242-4242-4242-424x").unwrap_err().code,
            "invalid_number"
        );
        assert_eq!(
            CardNumber::parse("42424242").unwrap_err().code,
            "invalid_number"
        );
        // Luhn-valid but of no supported brand.
        assert_eq!(
            CardNumber::parse("9999999999999995").unwrap_err().code,
            "card_brand_unsupported"
        );
        // A Luhn-valid Amex prefix with 16 digits.
        assert_eq!(
            CardNumber::parse("3782822463100003").unwrap_err().code,
            "invalid_number"
        );
        assert!(CardNumber::parse("4242 4242 4242 4242").is_ok());
    }

    #[test]
    fn debug_never_shows_the_number() {
        let n = CardNumber::parse("4242424242424242").unwrap();
        assert_eq!(format!("{n:?}"), "CardNumber(visa …4242)");
    }

    #[test]
    fn expiry_rules() {
        let today = (2026, 11);
        assert_eq!(check_expiry(11, 2026, today).unwrap(), (2026, 11));
        assert_eq!(check_expiry(12, 30, today).unwrap(), (2030, 12));
        assert_eq!(
            check_expiry(13, 2030, today).unwrap_err().code,
            "invalid_expiry_month"
        );
        assert_eq!(
            check_expiry(10, 2026, today).unwrap_err().code,
            "invalid_expiry_year"
        );
        assert_eq!(
            check_expiry(1, 2090, today).unwrap_err().code,
            "invalid_expiry_year"
        );
    }

    #[test]
    fn cvc_rules() {
        assert!(check_cvc("123", CardBrand::Visa).is_ok());
        assert!(check_cvc("1234", CardBrand::Amex).is_ok());
        assert!(check_cvc("123", CardBrand::Amex).is_ok());
        assert_eq!(
            check_cvc("12", CardBrand::Visa).unwrap_err().code,
            "invalid_cvc"
        );
        assert!(check_cvc("1234", CardBrand::Visa).is_err());
        assert!(check_cvc("12a", CardBrand::Visa).is_err());
    }

    #[test]
    fn token_format() {
        let t = StripeToken::parse("pm_1MqLiJLkdIwHu7ixUEgbFdYF:cus_NffrFeUfNV2Hib").unwrap();
        assert_eq!(t.payment_method_id, "pm_1MqLiJLkdIwHu7ixUEgbFdYF");
        assert_eq!(t.customer_id, "cus_NffrFeUfNV2Hib");
        assert_eq!(
            t.to_token_string(),
            "pm_1MqLiJLkdIwHu7ixUEgbFdYF:cus_NffrFeUfNV2Hib"
        );
        for bad in [
            "pm_abc",
            "cus_abc:pm_abc",
            "pm_:cus_x",
            "pm_x:cus_",
            "pm_x:cus_y:z",
            "",
            "pm_x cus_y",
            "tok_visa:cus_y",
        ] {
            let e = StripeToken::parse(bad).unwrap_err();
            assert_eq!(e.message, INVALID_TOKEN_MESSAGE, "{bad}");
            assert_eq!(e.param, "token");
        }
    }
}
