pub mod accounts;
pub mod answers;
pub mod audit;
pub mod balance;
pub mod billing;
pub mod emails;
pub mod gateways;
pub mod groups;
pub mod health;
pub mod notifications;
pub mod orders;
pub mod payments;
pub mod recycle;
pub mod reports;
pub mod three_ds;
pub mod webhooks;

use crate::ApiError;

/// Any path no route matches.
pub async fn not_found() -> ApiError {
    ApiError::NotFound("route")
}
