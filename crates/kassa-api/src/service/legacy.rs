//! Stripe V1 (legacy) gateways: payments through the Charges API with the card's data in the
//! request, as the Konnektive seed's V1 gateway works. New gateways are Stripe V2; V1 ones exist
//! only as imports.

use kassa_storage::{PaymentRecord, PaymentUpdate, TxnOutcome};
use kassa_stripe::objects::Charge;
use kassa_stripe::params::{CardParams, ChargeParams, PaymentIntentParams};
use kassa_stripe::StripeError;
use serde_json::{json, Value};

use super::gateway_ctx::RAW_CARD_DATA_FIX;
use super::payment_methods::CheckedCard;
use crate::ApiError;

/// The legacy charge for what a PaymentIntent would have carried.
pub fn charge_params(
    pi: &PaymentIntentParams,
    customer: &Option<String>,
    payment_method: &str,
    card: Option<&CheckedCard>,
) -> ChargeParams {
    ChargeParams {
        amount: pi.amount,
        currency: pi.currency.clone(),
        capture: !pi.manual_capture,
        card: card.map(|c| CardParams {
            number: c.number.expose().to_string(),
            exp_month: c.exp_month,
            exp_year: c.exp_year,
            cvc: c.cvc.clone(),
            name: c.name.clone(),
            address: c.billing_address.clone(),
            ..Default::default()
        }),
        source: (!payment_method.is_empty()).then(|| payment_method.to_string()),
        customer: customer.clone(),
        description: pi.description.clone(),
        statement_descriptor_suffix: pi.statement_descriptor_suffix.clone(),
        receipt_email: pi.receipt_email.clone(),
        metadata: pi.metadata.clone(),
    }
}

/// What a legacy charge's answer means for the payment.
pub fn charge_outcome(
    rec: &PaymentRecord,
    answer: Result<Charge, StripeError>,
    mut details: Value,
) -> (PaymentUpdate, TxnOutcome, Option<ApiError>) {
    let mut u = PaymentUpdate {
        status: "pending".into(),
        ..PaymentUpdate::default()
    };
    let mut error = None;
    let outcome = match answer {
        Ok(ch) => {
            u.processor_payment_id = Some(ch.id.clone());
            u.auth_no = Some(ch.id.clone());
            u.initial_auth_txn_id = ch.network_transaction_id().map(str::to_string);
            if let Some(o) = &ch.outcome {
                details["outcome"] = json!({"type": o.kind, "risk_level": o.risk_level, "risk_score": o.risk_score, "network_status": o.network_status, "seller_message": o.seller_message});
            }
            if ch.status == "succeeded" {
                u.amount_authorized = rec.amount;
                if ch.captured {
                    u.status = "captured".into();
                    u.amount_captured = ch.amount_captured.max(ch.amount);
                } else {
                    u.status = "authorized".into();
                }
            } else {
                u.status = "declined".into();
                let code = ch
                    .failure_code
                    .clone()
                    .unwrap_or_else(|| "card_declined".into());
                let message = ch
                    .failure_message
                    .clone()
                    .unwrap_or_else(|| "The card was declined.".into());
                details["decline"] = json!({"code": code, "decline_code": null, "advice": null, "message": message, "class": kassa_domain::payment::classify_decline(Some(&code), None, None)});
                error = Some(ApiError::Card {
                    code,
                    decline_code: None,
                    message,
                    payment_id: None,
                });
            }
            TxnOutcome {
                status: "succeeded".into(),
                processor_id: Some(ch.id),
                error: None,
            }
        }
        Err(e) if e.raw_card_data_disabled() => {
            u.status = "declined".into();
            details["decline"] = json!({"code": "raw_card_data_disabled", "decline_code": null, "advice": null, "message": RAW_CARD_DATA_FIX, "class": "hard"});
            error = Some(ApiError::unprocessable(
                Some("card"),
                "raw_card_data_disabled",
                RAW_CARD_DATA_FIX,
            ));
            TxnOutcome {
                status: "failed".into(),
                processor_id: None,
                error: Some(json!({"message": e.to_string()}).to_string()),
            }
        }
        Err(StripeError::Api(a)) if a.status < 500 && a.status != 409 && a.status != 429 => {
            u.status = "declined".into();
            let code = a.code.clone().unwrap_or_else(|| "card_declined".into());
            details["decline"] = json!({"code": code, "decline_code": a.decline_code, "advice": null, "message": a.message,
                "class": kassa_domain::payment::classify_decline(Some(&code), a.decline_code.as_deref(), None)});
            error = Some(ApiError::Card {
                code,
                decline_code: a.decline_code.clone(),
                message: a.message.clone(),
                payment_id: None,
            });
            TxnOutcome {
                status: "failed".into(),
                processor_id: None,
                error: Some(json!({"status": a.status, "message": a.message}).to_string()),
            }
        }
        Err(e) => TxnOutcome {
            status: "pending".into(),
            processor_id: None,
            error: Some(json!({"unknown": e.to_string()}).to_string()),
        },
    };
    if details["fraud_settings"]["send_fraud_scoring_request"] == json!(true) {
        let decline_code = details["decline"]["decline_code"]
            .as_str()
            .map(str::to_string);
        details["fraud"] = super::fraud::result(
            details.get("outcome").filter(|o| !o.is_null()),
            decline_code.as_deref(),
        );
    }
    u.details = details.to_string();
    (u, outcome, error)
}
