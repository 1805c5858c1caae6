//! The table of Stripe's test cards (docs.stripe.com/testing; stripe-facts §5).

use super::{
    Behavior, CheckOverride, TestCard, EXPIRED, GENERIC, INCORRECT_CVC, INSUFFICIENT, LOST,
    PROCESSING, STOLEN, THREE_DS1_PAN, VELOCITY,
};
const NO: CheckOverride = CheckOverride {
    cvc: None,
    line1: None,
    zip: None,
    elevated: false,
};

const fn card(
    pan: &'static str,
    tokens: &'static [&'static str],
    funding: &'static str,
    behavior: Behavior,
) -> TestCard {
    TestCard {
        pan,
        tokens,
        funding,
        country: "US",
        behavior,
        checks: NO,
    }
}

const fn checks(
    pan: &'static str,
    tokens: &'static [&'static str],
    checks: CheckOverride,
) -> TestCard {
    TestCard {
        pan,
        tokens,
        funding: "credit",
        country: "US",
        behavior: if checks.elevated {
            Behavior::RiskElevated
        } else {
            Behavior::Success
        },
        checks,
    }
}

use Behavior as B;

pub static TEST_CARDS: &[TestCard] = &[
    // 5.1 success by brand
    card(
        "4242424242424242",
        &["pm_card_visa", "tok_visa"],
        "credit",
        B::Success,
    ),
    card(
        "4000056655665556",
        &["pm_card_visa_debit", "tok_visa_debit"],
        "debit",
        B::Success,
    ),
    card(
        "5555555555554444",
        &["pm_card_mastercard", "tok_mastercard"],
        "credit",
        B::Success,
    ),
    card("2223003122003222", &[], "credit", B::Success),
    card(
        "5200828282828210",
        &["pm_card_mastercard_debit", "tok_mastercard_debit"],
        "debit",
        B::Success,
    ),
    card(
        "5105105105105100",
        &["pm_card_mastercard_prepaid", "tok_mastercard_prepaid"],
        "prepaid",
        B::Success,
    ),
    card(
        "378282246310005",
        &[
            "pm_card_amex",
            "tok_amex",
            "pm_card_amex_threeDSecureNotSupported",
        ],
        "credit",
        B::Success,
    ),
    card("371449635398431", &[], "credit", B::Success),
    card(
        "6011111111111117",
        &["pm_card_discover", "tok_discover"],
        "credit",
        B::Success,
    ),
    card("6011000990139424", &[], "credit", B::Success),
    card("6011981111111113", &[], "debit", B::Success),
    card(
        "3056930009020004",
        &["pm_card_diners", "tok_diners"],
        "credit",
        B::Success,
    ),
    card("36227206271667", &[], "credit", B::Success),
    card(
        "3566002020360505",
        &["pm_card_jcb", "tok_jcb"],
        "credit",
        B::Success,
    ),
    card(
        "6200000000000005",
        &["pm_card_unionpay", "tok_unionpay"],
        "credit",
        B::Success,
    ),
    card("6200000000000047", &[], "debit", B::Success),
    card("6205500000000000004", &[], "credit", B::Success),
    TestCard {
        country: "GB",
        ..card(
            "4000008260000000",
            &["pm_card_gb", "tok_gb"],
            "credit",
            B::Success,
        )
    },
    // 5.2 declines
    card(
        "4000000000000002",
        &[
            "pm_card_visa_chargeDeclined",
            "pm_card_chargeDeclined",
            "tok_chargeDeclined",
        ],
        "credit",
        B::Decline(GENERIC),
    ),
    card(
        "4000000000009995",
        &[
            "pm_card_visa_chargeDeclinedInsufficientFunds",
            "pm_card_chargeDeclinedInsufficientFunds",
            "tok_chargeDeclinedInsufficientFunds",
        ],
        "credit",
        B::Decline(INSUFFICIENT),
    ),
    card(
        "4000000000009987",
        &[
            "pm_card_visa_chargeDeclinedLostCard",
            "pm_card_chargeDeclinedLostCard",
            "tok_chargeDeclinedLostCard",
        ],
        "credit",
        B::Decline(LOST),
    ),
    card(
        "4000000000009979",
        &[
            "pm_card_visa_chargeDeclinedStolenCard",
            "pm_card_chargeDeclinedStolenCard",
            "tok_chargeDeclinedStolenCard",
        ],
        "credit",
        B::Decline(STOLEN),
    ),
    card(
        "4000000000000069",
        &[
            "pm_card_chargeDeclinedExpiredCard",
            "tok_chargeDeclinedExpiredCard",
        ],
        "credit",
        B::Decline(EXPIRED),
    ),
    card(
        "4000000000000127",
        &[
            "pm_card_chargeDeclinedIncorrectCvc",
            "tok_chargeDeclinedIncorrectCvc",
        ],
        "credit",
        B::Decline(INCORRECT_CVC),
    ),
    card(
        "4000000000000119",
        &[
            "pm_card_chargeDeclinedProcessingError",
            "tok_chargeDeclinedProcessingError",
        ],
        "credit",
        B::Decline(PROCESSING),
    ),
    card(
        "4000000000006975",
        &[
            "pm_card_visa_chargeDeclinedVelocityLimitExceeded",
            "tok_visa_chargeDeclinedVelocityLimitExceeded",
        ],
        "credit",
        B::Decline(VELOCITY),
    ),
    card(
        "4000000000000341",
        &["pm_card_chargeCustomerFail", "tok_chargeCustomerFail"],
        "credit",
        B::ChargeCustomerFail,
    ),
    // 5.3 3DS
    card(
        "4000000000003220",
        &["pm_card_threeDSecure2Required", "tok_threeDSecure2Required"],
        "credit",
        B::ThreeDsRequired,
    ),
    // The legacy 3-D Secure 1 card: a challenge is required, and authentication runs on 3DS 1.0.2.
    card(
        THREE_DS1_PAN,
        &["pm_card_threeDSecureRequired", "tok_threeDSecureRequired"],
        "credit",
        B::ThreeDsRequired,
    ),
    card(
        "4000008400001629",
        &["pm_card_threeDSecureRequiredChargeDeclined"],
        "credit",
        B::ThreeDsRequiredDecline,
    ),
    card(
        "4000008400001280",
        &["pm_card_threeDSecureRequiredProcessingError"],
        "credit",
        B::ThreeDsLookupError,
    ),
    card(
        "4000000000003055",
        &["pm_card_threeDSecureOptional", "tok_threeDSecureOptional"],
        "credit",
        B::ThreeDsOptional,
    ),
    card(
        "4000000000003097",
        &["pm_card_threeDSecureOptionalProcessingError"],
        "credit",
        B::ThreeDsOptionalError,
    ),
    card(
        "4000002500003155",
        &[
            "pm_card_authenticationRequiredOnSetup",
            "tok_authenticationRequiredOnSetup",
        ],
        "credit",
        B::AuthUnlessSetup,
    ),
    card(
        "4000002760003184",
        &[
            "pm_card_authenticationRequired",
            "tok_authenticationRequired",
        ],
        "credit",
        B::ThreeDsRequired,
    ),
    card(
        "4000003800000446",
        &["pm_card_authenticationRequiredSetupForOffSession"],
        "credit",
        B::SetupForOffSession,
    ),
    card(
        "4000008260003178",
        &["pm_card_authenticationRequiredChargeDeclinedInsufficientFunds"],
        "credit",
        B::AuthThenInsufficient,
    ),
    card("4000582600000094", &[], "credit", B::ThreeDsRequired),
    card("4000582600000045", &[], "credit", B::ThreeDsRequired),
    card("4000582600000102", &[], "credit", B::ThreeDsRequired),
    card("4000582600000110", &[], "credit", B::ThreeDsRequired),
    // 5.4 Radar
    card(
        "4100000000000019",
        &[
            "pm_card_radarBlock",
            "pm_card_chargeDeclinedFraudulent",
            "tok_radarBlock",
            "tok_chargeDeclinedFraudulent",
        ],
        "credit",
        B::RadarBlock,
    ),
    card(
        "4000000000004954",
        &["pm_card_riskLevelHighest", "tok_riskLevelHighest"],
        "credit",
        B::RiskHighest,
    ),
    card(
        "4000000000009235",
        &["pm_card_riskLevelElevated", "tok_riskLevelElevated"],
        "credit",
        B::RiskElevated,
    ),
    checks(
        "4000000000000101",
        &["pm_card_cvcCheckFail", "tok_cvcCheckFail"],
        CheckOverride {
            cvc: Some("fail"),
            ..NO
        },
    ),
    checks(
        "4000000000000036",
        &["pm_card_avsZipFail", "tok_avsZipFail"],
        CheckOverride {
            zip: Some("fail"),
            ..NO
        },
    ),
    checks(
        "4000058400307872",
        &["pm_card_cvcCheckFailElevatedRisk"],
        CheckOverride {
            cvc: Some("fail"),
            elevated: true,
            ..NO
        },
    ),
    checks(
        "4000058400306072",
        &["pm_card_avsZipFailElevatedRisk"],
        CheckOverride {
            zip: Some("fail"),
            elevated: true,
            ..NO
        },
    ),
    checks(
        "4000000000000028",
        &["pm_card_avsLine1Fail", "tok_avsLine1Fail"],
        CheckOverride {
            line1: Some("fail"),
            ..NO
        },
    ),
    checks(
        "4000000000000010",
        &["pm_card_avsFail", "tok_avsFail"],
        CheckOverride {
            line1: Some("fail"),
            zip: Some("fail"),
            ..NO
        },
    ),
    checks(
        "4000000000000044",
        &["pm_card_avsUnchecked", "tok_avsUnchecked"],
        CheckOverride {
            line1: Some("unavailable"),
            zip: Some("unavailable"),
            ..NO
        },
    ),
    // 5.5 disputes (opened right after capture), refunds, balance
    card(
        "4000000000000259",
        &["pm_card_createDispute", "tok_createDispute"],
        "credit",
        B::Dispute {
            reason: "fraudulent",
            inquiry: false,
        },
    ),
    card(
        "4000000000002685",
        &["pm_card_createDisputeProductNotReceived"],
        "credit",
        B::Dispute {
            reason: "product_not_received",
            inquiry: false,
        },
    ),
    card(
        "4000000000001976",
        &["pm_card_createDisputeInquiry"],
        "credit",
        B::Dispute {
            reason: "fraudulent",
            inquiry: true,
        },
    ),
    card(
        "4000000000005423",
        &["pm_card_createIssuerFraudRecord"],
        "credit",
        B::Success,
    ),
    card(
        "4000000404000079",
        &[],
        "credit",
        B::Dispute {
            reason: "fraudulent",
            inquiry: false,
        },
    ),
    card(
        "4000000404000038",
        &[],
        "credit",
        B::Dispute {
            reason: "fraudulent",
            inquiry: false,
        },
    ),
    card(
        "4000008400000779",
        &[],
        "credit",
        B::Dispute {
            reason: "noncompliant",
            inquiry: false,
        },
    ),
    card(
        "4000000000007726",
        &["pm_card_pendingRefund", "tok_pendingRefund"],
        "credit",
        B::PendingRefund,
    ),
    card(
        "4000000000005126",
        &["pm_card_refundFail", "tok_refundFail"],
        "credit",
        B::RefundFail,
    ),
    card(
        "4000000000000077",
        &["pm_card_bypassPending", "tok_bypassPending"],
        "credit",
        B::Success,
    ),
];
