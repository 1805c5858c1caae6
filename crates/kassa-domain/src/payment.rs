//! Payments: the CIT/MIT flag, the payment state machine and its amounts, decline classes, and
//! the statement descriptor suffix a payment sends.

use serde::{Deserialize, Serialize};

use crate::descriptor;
use crate::ValidationError;

/// The billing platform's `recurring_processing_model_ind` (stripe-facts §7.2).
/// In API documents it is a number, 0–3 (document fields holding it use `value_type = i64`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "i64", into = "i64")]
pub enum RecurringModel {
    /// 0 — customer-initiated, with a card already stored (credentials on file). The default.
    CitStoredCard,
    /// 1 — customer-initiated, with a new card not stored before.
    CitNewCard,
    /// 2 — merchant-initiated, standing instruction: a recurring charge on a stored card.
    MitRecurring,
    /// 3 — merchant-initiated, unscheduled credentials on file: a one-off charge on a stored card.
    MitUnscheduled,
}

impl TryFrom<i64> for RecurringModel {
    type Error = String;
    fn try_from(v: i64) -> Result<Self, String> {
        match v {
            0 => Ok(RecurringModel::CitStoredCard),
            1 => Ok(RecurringModel::CitNewCard),
            2 => Ok(RecurringModel::MitRecurring),
            3 => Ok(RecurringModel::MitUnscheduled),
            _ => Err("must be 0, 1, 2 or 3".into()),
        }
    }
}

impl From<RecurringModel> for i64 {
    fn from(m: RecurringModel) -> i64 {
        match m {
            RecurringModel::CitStoredCard => 0,
            RecurringModel::CitNewCard => 1,
            RecurringModel::MitRecurring => 2,
            RecurringModel::MitUnscheduled => 3,
        }
    }
}

impl RecurringModel {
    pub fn is_merchant_initiated(self) -> bool {
        matches!(
            self,
            RecurringModel::MitRecurring | RecurringModel::MitUnscheduled
        )
    }

    /// The model for a payment: the one asked for, checked against the card it uses; when none
    /// is asked for, the one the card implies (stored → 0, new → 1).
    pub fn resolve(
        requested: Option<RecurringModel>,
        new_card: bool,
    ) -> Result<RecurringModel, ValidationError> {
        let param = "recurring_processing_model_ind";
        match (requested, new_card) {
            (None, false) => Ok(RecurringModel::CitStoredCard),
            (None, true) => Ok(RecurringModel::CitNewCard),
            (Some(RecurringModel::CitNewCard), false) => Err(ValidationError::new(param, "1 is for a new card; a stored payment method is 0 (customer-initiated) or 2/3 (merchant-initiated)")),
            (Some(RecurringModel::CitStoredCard), true) => Err(ValidationError::new(param, "0 is for a stored payment method; a new card is 1")),
            (Some(m), true) if m.is_merchant_initiated() => Err(ValidationError::new(param, "merchant-initiated payments (2, 3) must use a stored payment method")),
            (Some(m), _) => Ok(m),
        }
    }
}

/// How a payment is flagged at Stripe for its model (stripe-facts addendum): the public
/// `stored_credential_usage` / `setup_credential_usage` parameters, no gated ones.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CitMitFlags {
    /// `off_session=true`: the customer is not there to authenticate.
    pub off_session: bool,
    /// `payment_method_options[card][stored_credential_usage]` on a merchant-initiated payment.
    pub stored_credential_usage: Option<&'static str>,
    /// `setup_future_usage=off_session` on a customer-initiated payment that stores the card.
    pub setup_future_usage: Option<&'static str>,
    /// `payment_method_options[card][setup_credential_usage]` with it.
    pub setup_credential_usage: Option<&'static str>,
}

impl RecurringModel {
    /// `stores_card`: a new card that is being saved for later merchant-initiated use.
    pub fn flags(self, stores_card: bool) -> CitMitFlags {
        match self {
            RecurringModel::CitStoredCard => CitMitFlags::default(),
            RecurringModel::CitNewCard if stores_card => CitMitFlags {
                setup_future_usage: Some("off_session"),
                setup_credential_usage: Some("recurring"),
                ..CitMitFlags::default()
            },
            RecurringModel::CitNewCard => CitMitFlags::default(),
            RecurringModel::MitRecurring => CitMitFlags {
                off_session: true,
                stored_credential_usage: Some("recurring"),
                ..CitMitFlags::default()
            },
            RecurringModel::MitUnscheduled => CitMitFlags {
                off_session: true,
                stored_credential_usage: Some("unscheduled"),
                ..CitMitFlags::default()
            },
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PaymentStatus {
    /// The outcome at Stripe is not known yet (a timeout, a crash): never failed, never retried
    /// into a second charge; the reconciler finishes it.
    Pending,
    /// 3-D Secure: the shopper must authenticate.
    RequiresAction,
    Authorized,
    Captured,
    PartiallyCaptured,
    Voided,
    Refunded,
    PartiallyRefunded,
    Declined,
}

impl PaymentStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            PaymentStatus::Pending => "pending",
            PaymentStatus::RequiresAction => "requires_action",
            PaymentStatus::Authorized => "authorized",
            PaymentStatus::Captured => "captured",
            PaymentStatus::PartiallyCaptured => "partially_captured",
            PaymentStatus::Voided => "voided",
            PaymentStatus::Refunded => "refunded",
            PaymentStatus::PartiallyRefunded => "partially_refunded",
            PaymentStatus::Declined => "declined",
        }
    }

    /// States no event may move a payment out of (refunds aside, which only follow captures).
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            PaymentStatus::Voided | PaymentStatus::Refunded | PaymentStatus::Declined
        )
    }
}

/// Why an operation on a payment is not allowed now.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct PaymentOpError {
    /// `payment_unexpected_state` or `amount_too_large` / `amount_invalid`.
    pub code: &'static str,
    pub message: String,
}

fn op_err(code: &'static str, message: String) -> PaymentOpError {
    PaymentOpError { code, message }
}

/// A payment's amounts, all in the payment's currency's minor units.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PaymentAmounts {
    pub status: PaymentStatus,
    pub authorized: i64,
    pub captured: i64,
    pub refunded: i64,
}

impl PaymentAmounts {
    /// A capture of `amount` (the whole authorization when `None`). A partial capture releases the
    /// rest of the hold; a payment is captured once.
    pub fn capture(self, amount: Option<i64>) -> Result<PaymentAmounts, PaymentOpError> {
        if self.status != PaymentStatus::Authorized {
            return Err(op_err(
                "payment_unexpected_state",
                format!(
                    "only an authorized payment can be captured; this one is {}",
                    self.status.as_str()
                ),
            ));
        }
        let amount = amount.unwrap_or(self.authorized);
        if amount <= 0 {
            return Err(op_err(
                "amount_invalid",
                "the capture amount must be more than 0".into(),
            ));
        }
        if amount > self.authorized {
            return Err(op_err(
                "amount_too_large",
                format!(
                    "the capture amount {amount} is more than the {} authorized",
                    self.authorized
                ),
            ));
        }
        let status = if amount == self.authorized {
            PaymentStatus::Captured
        } else {
            PaymentStatus::PartiallyCaptured
        };
        Ok(PaymentAmounts {
            status,
            captured: amount,
            ..self
        })
    }

    /// Cancels (reverses) an authorization, or a payment still waiting for 3-D Secure.
    pub fn void(self) -> Result<PaymentAmounts, PaymentOpError> {
        match self.status {
            PaymentStatus::Authorized | PaymentStatus::RequiresAction => Ok(PaymentAmounts {
                status: PaymentStatus::Voided,
                ..self
            }),
            other => Err(op_err(
                "payment_unexpected_state",
                format!(
                    "only an authorized payment can be voided; this one is {}{}",
                    other.as_str(),
                    if matches!(
                        other,
                        PaymentStatus::Captured | PaymentStatus::PartiallyCaptured
                    ) {
                        ": refund it instead"
                    } else {
                        ""
                    }
                ),
            )),
        }
    }

    /// A refund of `amount` (all that is left when `None`); several partial refunds may follow
    /// one another, never more than was captured.
    pub fn refund(self, amount: Option<i64>) -> Result<PaymentAmounts, PaymentOpError> {
        if !matches!(
            self.status,
            PaymentStatus::Captured
                | PaymentStatus::PartiallyCaptured
                | PaymentStatus::PartiallyRefunded
        ) {
            return Err(op_err(
                "payment_unexpected_state",
                format!(
                    "only a captured payment can be refunded; this one is {}",
                    self.status.as_str()
                ),
            ));
        }
        let left = self.captured - self.refunded;
        let amount = amount.unwrap_or(left);
        if amount <= 0 {
            return Err(op_err(
                "amount_invalid",
                "the refund amount must be more than 0".into(),
            ));
        }
        if amount > left {
            return Err(op_err(
                "amount_too_large",
                format!("the refund amount {amount} is more than the {left} left to refund"),
            ));
        }
        let refunded = self.refunded + amount;
        let status = if refunded == self.captured {
            PaymentStatus::Refunded
        } else {
            PaymentStatus::PartiallyRefunded
        };
        Ok(PaymentAmounts {
            status,
            refunded,
            ..self
        })
    }
}

/// Whether a decline may be retried (decline salvage) or never (card-scheme retry rules).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeclineClass {
    Hard,
    Soft,
}

const HARD: &[&str] = &[
    "expired_card",
    "lost_card",
    "stolen_card",
    "pickup_card",
    "restricted_card",
    "fraudulent",
    "merchant_blacklist",
    "security_violation",
    "revocation_of_authorization",
    "revocation_of_all_authorizations",
    "stop_payment_order",
    "do_not_try_again",
    "new_account_information_available",
    "incorrect_number",
    "invalid_number",
    "invalid_account",
    "incorrect_cvc",
    "invalid_cvc",
    "incorrect_zip",
    "invalid_expiry_month",
    "invalid_expiry_year",
    "invalid_amount",
    "card_not_supported",
    "currency_not_supported",
    "testmode_decline",
];

/// Classifies a decline from Stripe's `code`, `decline_code` and `advice_code`. Stripe's advice
/// wins when given; otherwise the decline code (or the code) decides, soft by default.
pub fn classify_decline(
    code: Option<&str>,
    decline_code: Option<&str>,
    advice_code: Option<&str>,
) -> DeclineClass {
    match advice_code {
        Some("do_not_try_again") | Some("confirm_card_data") => return DeclineClass::Hard,
        Some("try_again_later") => return DeclineClass::Soft,
        _ => {}
    }
    let key = decline_code.or(code).unwrap_or("generic_decline");
    if HARD.contains(&key) {
        DeclineClass::Hard
    } else {
        DeclineClass::Soft
    }
}

/// The statement descriptor suffix a payment sends: the effective soft descriptor, with the
/// product name appended when the gateway's `send_product_as_suffix` is on; cut to 22 characters
/// (as the billing platform does) and then checked against Stripe's character rules.
/// `descriptor`, the account's static descriptor when known, shortens the room to what fits
/// after its prefix.
pub fn statement_suffix(
    effective: Option<&str>,
    product_name: Option<&str>,
    append_product: bool,
    descriptor: Option<&str>,
) -> Result<Option<String>, ValidationError> {
    let product = if append_product {
        product_name.map(str::trim).filter(|p| !p.is_empty())
    } else {
        None
    };
    let joined = match (effective, product) {
        (Some(s), Some(p)) => format!("{s} {p}"),
        (Some(s), None) => s.to_string(),
        (None, Some(p)) => p.to_string(),
        (None, None) => return Ok(None),
    };
    // Product names may carry characters Stripe forbids; drop those rather than fail the sale.
    let cleaned: String = joined
        .chars()
        .filter(|c| !matches!(c, '<' | '>' | '\\' | '\'' | '"' | '*'))
        .collect();
    descriptor::fit_suffix(&cleaned, descriptor)
        .map(Some)
        .map_err(|e| e.under("soft_descriptor"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recurring_model_defaults_and_checks() {
        assert_eq!(
            RecurringModel::resolve(None, false).unwrap(),
            RecurringModel::CitStoredCard
        );
        assert_eq!(
            RecurringModel::resolve(None, true).unwrap(),
            RecurringModel::CitNewCard
        );
        assert_eq!(
            RecurringModel::resolve(Some(RecurringModel::MitRecurring), false).unwrap(),
            RecurringModel::MitRecurring
        );
        for (m, new) in [
            (RecurringModel::MitRecurring, true),
            (RecurringModel::MitUnscheduled, true),
            (RecurringModel::CitNewCard, false),
            (RecurringModel::CitStoredCard, true),
        ] {
            assert_eq!(
                RecurringModel::resolve(Some(m), new).unwrap_err().param,
                "recurring_processing_model_ind"
            );
        }
        assert!(serde_json::from_str::<RecurringModel>("4").is_err());
        assert_eq!(
            serde_json::from_str::<RecurringModel>("3").unwrap(),
            RecurringModel::MitUnscheduled
        );
    }

    #[test]
    fn flags_per_model() {
        assert_eq!(
            RecurringModel::CitStoredCard.flags(false),
            CitMitFlags::default()
        );
        let f = RecurringModel::CitNewCard.flags(true);
        assert_eq!(
            (
                f.off_session,
                f.setup_future_usage,
                f.setup_credential_usage
            ),
            (false, Some("off_session"), Some("recurring"))
        );
        assert_eq!(
            RecurringModel::CitNewCard.flags(false),
            CitMitFlags::default()
        );
        let f = RecurringModel::MitRecurring.flags(false);
        assert_eq!(
            (f.off_session, f.stored_credential_usage),
            (true, Some("recurring"))
        );
        let f = RecurringModel::MitUnscheduled.flags(false);
        assert_eq!(
            (
                f.off_session,
                f.stored_credential_usage,
                f.setup_future_usage
            ),
            (true, Some("unscheduled"), None)
        );
    }

    fn authorized(amount: i64) -> PaymentAmounts {
        PaymentAmounts {
            status: PaymentStatus::Authorized,
            authorized: amount,
            captured: 0,
            refunded: 0,
        }
    }

    #[test]
    fn capture_rules() {
        let full = authorized(5000).capture(None).unwrap();
        assert_eq!(
            (full.status, full.captured),
            (PaymentStatus::Captured, 5000)
        );
        let part = authorized(5000).capture(Some(3500)).unwrap();
        assert_eq!(
            (part.status, part.captured),
            (PaymentStatus::PartiallyCaptured, 3500)
        );
        assert_eq!(
            authorized(5000).capture(Some(5001)).unwrap_err().code,
            "amount_too_large"
        );
        assert_eq!(
            authorized(5000).capture(Some(0)).unwrap_err().code,
            "amount_invalid"
        );
        assert_eq!(
            part.capture(Some(1)).unwrap_err().code,
            "payment_unexpected_state",
            "captured once"
        );
    }

    #[test]
    fn void_rules() {
        assert_eq!(authorized(1).void().unwrap().status, PaymentStatus::Voided);
        let captured = authorized(100).capture(None).unwrap();
        let e = captured.void().unwrap_err();
        assert!(e.message.contains("refund it instead"));
        let waiting = PaymentAmounts {
            status: PaymentStatus::RequiresAction,
            ..authorized(100)
        };
        assert_eq!(waiting.void().unwrap().status, PaymentStatus::Voided);
    }

    #[test]
    fn refunds_never_exceed_captured() {
        let p = authorized(5000).capture(Some(4000)).unwrap();
        let r1 = p.refund(Some(1000)).unwrap();
        assert_eq!(
            (r1.status, r1.refunded),
            (PaymentStatus::PartiallyRefunded, 1000)
        );
        let r2 = r1.refund(Some(2500)).unwrap();
        assert_eq!(r2.refunded, 3500);
        assert_eq!(r2.refund(Some(501)).unwrap_err().code, "amount_too_large");
        let r3 = r2.refund(None).unwrap();
        assert_eq!((r3.status, r3.refunded), (PaymentStatus::Refunded, 4000));
        assert_eq!(
            r3.refund(Some(1)).unwrap_err().code,
            "payment_unexpected_state"
        );
        assert_eq!(
            authorized(10).refund(None).unwrap_err().code,
            "payment_unexpected_state"
        );
    }

    #[test]
    fn decline_classes() {
        assert_eq!(
            classify_decline(Some("card_declined"), Some("insufficient_funds"), None),
            DeclineClass::Soft
        );
        assert_eq!(
            classify_decline(Some("card_declined"), Some("stolen_card"), None),
            DeclineClass::Hard
        );
        assert_eq!(
            classify_decline(Some("expired_card"), None, None),
            DeclineClass::Hard
        );
        assert_eq!(
            classify_decline(Some("processing_error"), None, None),
            DeclineClass::Soft
        );
        assert_eq!(
            classify_decline(
                Some("card_declined"),
                Some("generic_decline"),
                Some("do_not_try_again")
            ),
            DeclineClass::Hard
        );
        assert_eq!(
            classify_decline(
                Some("card_declined"),
                Some("fraudulent"),
                Some("try_again_later")
            ),
            DeclineClass::Soft
        );
        assert_eq!(classify_decline(None, None, None), DeclineClass::Soft);
    }

    #[test]
    fn suffix_with_product_is_cut_and_cleaned() {
        let suffix = |e, p, a, d| statement_suffix(e, p, a, d).unwrap();
        assert_eq!(
            suffix(Some("GOLD"), Some("Widget"), false, None).as_deref(),
            Some("GOLD")
        );
        assert_eq!(
            suffix(Some("GOLD"), Some("Widget"), true, None).as_deref(),
            Some("GOLD Widget")
        );
        assert_eq!(
            suffix(
                None,
                Some("Bob's \"Best\" Widget Deluxe Edition"),
                true,
                None
            )
            .as_deref(),
            Some("Bobs Best Widget Delux")
        );
        assert_eq!(
            suffix(Some("GOLD"), Some("Widget Deluxe"), true, Some("RUNCLUB")).as_deref(),
            Some("GOLD Widget D")
        );
        assert_eq!(suffix(None, None, true, None), None);
        let err = statement_suffix(Some("1234"), None, false, None).unwrap_err();
        assert_eq!(err.param, "soft_descriptor");
    }
}
