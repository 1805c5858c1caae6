//! Billing-account statuses. The fraud-scoring settings move an account to one of these when a
//! payment is blocked or sent to review.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AccountStatus {
    Active,
    Inactive,
    PendingReview,
    FraudReview,
    FraudBlocked,
    Suspended,
    Cancelled,
    Terminated,
}

impl AccountStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            AccountStatus::Active => "active",
            AccountStatus::Inactive => "inactive",
            AccountStatus::PendingReview => "pending_review",
            AccountStatus::FraudReview => "fraud_review",
            AccountStatus::FraudBlocked => "fraud_blocked",
            AccountStatus::Suspended => "suspended",
            AccountStatus::Cancelled => "cancelled",
            AccountStatus::Terminated => "terminated",
        }
    }
}
