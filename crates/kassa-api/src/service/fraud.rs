//! Radar fraud scoring (the billing platform's five fraud settings) and what its result does to
//! the account.

use kassa_domain::account::AccountStatus;
use kassa_domain::gateway::FraudSettings;
use kassa_storage::StatusChange;
use serde_json::{json, Value};

use crate::{ApiError, AppState};

/// The billing platform's `proc_fraud_score_result` values.
pub const AUTHORIZED: &str = "Authorized";
pub const MANUAL_REVIEW: &str = "Manual_Review";
pub const BLOCKED: &str = "Blocked";

/// The fraud result of a charge from Stripe's `outcome` (and, for a decline that carries no
/// charge, its decline code): `{fraud_score, risk_level, fraud_score_result}`.
pub fn result(outcome: Option<&Value>, decline_code: Option<&str>) -> Value {
    let kind = outcome.and_then(|o| o["type"].as_str());
    let risk_level = outcome
        .and_then(|o| o["risk_level"].as_str())
        .map(str::to_string);
    let score = outcome.and_then(|o| o["risk_score"].as_i64());
    let verdict = if kind == Some("blocked")
        || risk_level.as_deref() == Some("highest")
        || decline_code == Some("fraudulent")
    {
        BLOCKED
    } else if kind == Some("manual_review") || risk_level.as_deref() == Some("elevated") {
        MANUAL_REVIEW
    } else {
        AUTHORIZED
    };
    let risk_level = risk_level.or_else(|| (verdict == BLOCKED).then(|| "highest".to_string()));
    json!({"fraud_score": score, "risk_level": risk_level, "fraud_score_result": verdict})
}

/// Moves the account as the fraud settings say for this result; returns the account's status now.
pub async fn apply(
    state: &AppState,
    client_no: i64,
    acct_no: i64,
    payment_id: &str,
    actor: &str,
    settings: &FraudSettings,
    verdict: &str,
) -> Result<Option<AccountStatus>, ApiError> {
    let target = match verdict {
        BLOCKED if settings.change_status_on_fraud_scoring_failure => {
            settings.status_on_fraud_scoring_failure
        }
        MANUAL_REVIEW if settings.change_status_on_fraud_scoring_review => {
            settings.status_on_fraud_scoring_review
        }
        _ => None,
    };
    if let Some(status) = target {
        let change = StatusChange {
            reason: if verdict == BLOCKED {
                "fraud_scoring_failure".into()
            } else {
                "fraud_scoring_review".into()
            },
            payment_id: Some(payment_id.to_string()),
            actor: actor.to_string(),
        };
        if let Some(from) = state
            .store
            .set_account_status(client_no, acct_no, status.as_str(), &change)
            .await?
        {
            let data = serde_json::json!({"acct_no": acct_no, "from": from, "to": status.as_str(), "reason": change.reason, "payment_id": payment_id});
            super::notifications::notify(state, client_no, "account.status_changed", data).await;
        }
    }
    Ok(target)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdicts() {
        let normal = json!({"type": "authorized", "risk_level": "normal", "risk_score": 12});
        assert_eq!(
            result(Some(&normal), None),
            json!({"fraud_score": 12, "risk_level": "normal", "fraud_score_result": "Authorized"})
        );
        let review = json!({"type": "manual_review", "risk_level": "elevated", "risk_score": 65});
        assert_eq!(
            result(Some(&review), None)["fraud_score_result"],
            "Manual_Review"
        );
        let blocked = json!({"type": "blocked", "risk_level": "highest", "risk_score": 94});
        assert_eq!(
            result(Some(&blocked), None)["fraud_score_result"],
            "Blocked"
        );
        let declined = result(None, Some("fraudulent"));
        assert_eq!(
            (
                declined["fraud_score_result"].as_str(),
                declined["risk_level"].as_str()
            ),
            (Some("Blocked"), Some("highest"))
        );
        assert_eq!(
            result(None, Some("insufficient_funds"))["fraud_score_result"],
            "Authorized"
        );
    }
}
