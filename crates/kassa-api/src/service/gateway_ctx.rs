//! Which gateway a payment goes through, and a Stripe client for it.

use kassa_domain::gateway::{GatewaySettings, GatewayStatus};
use kassa_domain::group::Overrides;
use kassa_domain::keys::StripeSecretKey;
use kassa_storage::{AccountRecord, GatewayRecord, GroupRecord, StorageError};
use kassa_stripe::{RequestOptions, StripeClient, StripeError};

use super::PURPOSE_SECRET_KEY;
use crate::{ApiError, AppState};

/// A gateway ready to be called.
pub struct GatewayCtx {
    pub record: GatewayRecord,
    pub settings: GatewaySettings,
    pub client: StripeClient,
    /// A Stripe V1 gateway: payments go through the legacy Charges API with the card's data.
    pub legacy: bool,
    /// The group whose overrides apply, if the payment goes through one.
    pub group: Option<GroupRecord>,
}

impl GatewayCtx {
    /// Options for one call: the idempotency key, and `Stripe-Account` for connected accounts.
    pub fn options(&self, idempotency_key: Option<String>) -> RequestOptions {
        RequestOptions {
            idempotency_key,
            stripe_account: if self.settings.connected_account {
                self.settings.mid_number.clone()
            } else {
                None
            },
        }
    }

    /// The group's overrides of the gateway's settings.
    pub fn group_overrides(&self) -> Result<Option<Overrides>, ApiError> {
        match &self.group {
            None => Ok(None),
            Some(g) => {
                let s: kassa_domain::group::GroupSettings = {
                    let mut doc: serde_json::Value =
                        serde_json::from_str(&g.settings).map_err(ApiError::internal)?;
                    if let serde_json::Value::Object(m) = &mut doc {
                        m.insert("gateway_id".into(), serde_json::Value::from(g.gateway_id));
                    }
                    serde_json::from_value(doc).map_err(ApiError::internal)?
                };
                Ok(Some(s.overrides()))
            }
        }
    }
}

/// Loads a gateway by id for a client: it must exist and take payments. (The gateway is read
/// through the store's short-lived cache: another node's change to it counts within a second.)
pub async fn load(
    state: &AppState,
    client_no: i64,
    gateway_id: i64,
    group: Option<GroupRecord>,
) -> Result<GatewayCtx, ApiError> {
    let record = match state.store.get_gateway_cached(client_no, gateway_id).await {
        Ok(r) => r,
        Err(StorageError::NotFound) => {
            return Err(ApiError::InvalidRequest {
                param: Some("gateway_id".into()),
                code: "resource_missing",
                message: format!("gateway_id: no gateway {gateway_id}"),
            })
        }
        Err(e) => return Err(e.into()),
    };
    if record.status != GatewayStatus::Active.as_str() {
        return Err(ApiError::unprocessable(
            Some("gateway_id"),
            "gateway_unavailable",
            format!(
                "gateway {gateway_id} is {} and takes no payments",
                record.status
            ),
        ));
    }
    let settings: GatewaySettings =
        serde_json::from_str(&record.settings).map_err(ApiError::internal)?;
    let sealed = record
        .secret_key_sealed
        .as_deref()
        .ok_or_else(|| ApiError::internal("gateway without a secret key"))?;
    let key = StripeSecretKey::parse(&state.master_key.open(PURPOSE_SECRET_KEY, sealed)?)
        .map_err(|e| ApiError::internal(e.message))?;
    let throttle = state.throttles.get(record.id, settings.rate_limits);
    let client =
        StripeClient::new(state.http.clone(), &settings.api_base_url, key).with_throttle(throttle);
    let legacy = record.gateway_type == "stripe_v1";
    Ok(GatewayCtx {
        record,
        settings,
        client,
        group,
        legacy,
    })
}

/// The gateway for an account's payment: the one named, else the named group's, else the
/// account's group's.
pub async fn for_account(
    state: &AppState,
    account: &AccountRecord,
    gateway_id: Option<i64>,
    group_no: Option<i64>,
) -> Result<GatewayCtx, ApiError> {
    let group_no = group_no.or(account.collection_group_no);
    let group = match group_no {
        Some(no) => match state.store.get_group_cached(account.client_no, no).await {
            Ok(g) => Some(g),
            Err(StorageError::NotFound) => {
                return Err(ApiError::InvalidRequest {
                    param: Some("collection_group_no".into()),
                    code: "resource_missing",
                    message: format!("collection_group_no: no collection group {no}"),
                })
            }
            Err(e) => return Err(e.into()),
        },
        None => None,
    };
    let gateway_id = match (gateway_id, &group) {
        (Some(id), _) => id,
        (None, Some(g)) => g.gateway_id,
        (None, None) => {
            return Err(ApiError::InvalidRequest {
                param: Some("gateway_id".into()),
                code: "parameter_missing",
                message: "gateway_id: name a gateway_id or a collection_group_no, or put the account in a collection group".into(),
            })
        }
    };
    load(state, account.client_no, gateway_id, group).await
}

/// Stripe's refusal of raw card numbers, with the fix the Konnektive seed gives.
pub const RAW_CARD_DATA_FIX: &str = "Stripe refused the card number: \"Sending credit card numbers directly to the Stripe API is generally unsafe\". \
Enable it in Stripe's dashboard: search for \"integration\", open Settings > Integration, expand the advanced options, select \
\"Handle card information directly\", check all the boxes, choose \"I collect payment information securely through a PCI compliant third party vendor\", \
enter \"Kassa\" and click Continue.";

/// Maps a Stripe error on a call that made no payment (customers, payment methods) to the API.
pub fn map_stripe_error(e: StripeError) -> ApiError {
    if e.raw_card_data_disabled() {
        return ApiError::unprocessable(Some("card"), "raw_card_data_disabled", RAW_CARD_DATA_FIX);
    }
    match e {
        StripeError::Api(a) if a.kind == kassa_stripe::ErrorKind::Card => ApiError::Card {
            code: a.code.clone().unwrap_or_else(|| "card_declined".into()),
            decline_code: a.decline_code.clone(),
            message: a.message.clone(),
            payment_id: None,
        },
        StripeError::Api(a) if a.status == 400 || a.status == 404 => ApiError::unprocessable(
            None,
            "gateway_rejected",
            format!("Stripe refused the request: {}", a.message),
        ),
        StripeError::Api(a) if a.status == 401 || a.status == 403 => ApiError::Gateway {
            code: "gateway_authentication",
            message: format!("Stripe refused the gateway's secret key: {}", a.message),
        },
        other => ApiError::Gateway {
            code: "gateway_error",
            message: other.to_string(),
        },
    }
}
