//! Collection groups: route accounts to a gateway and may override some of its settings.

use serde::{Deserialize, Serialize};

use crate::account::AccountStatus;
use crate::descriptor;
use crate::gateway::GatewaySettings;
use crate::text::{check_http_url, check_text};
use crate::ValidationError;

/// The fraud settings a group (or a request) may override, each on its own; `None` inherits.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FraudOverrides {
    #[serde(default)]
    pub send_fraud_scoring_request: Option<bool>,
    #[serde(default)]
    pub change_status_on_fraud_scoring_failure: Option<bool>,
    #[serde(default)]
    pub status_on_fraud_scoring_failure: Option<AccountStatus>,
    #[serde(default)]
    pub change_status_on_fraud_scoring_review: Option<bool>,
    #[serde(default)]
    pub status_on_fraud_scoring_review: Option<AccountStatus>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ThreeDsOverrides {
    #[serde(default)]
    pub termination_url: Option<String>,
}

/// What a collection group or an API request may set over its gateway's settings.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Overrides {
    #[serde(default)]
    pub soft_descriptor: Option<String>,
    #[serde(default)]
    pub fraud: FraudOverrides,
    #[serde(default)]
    pub three_ds: ThreeDsOverrides,
}

/// A collection group's settings, without its number and its webhook secrets.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GroupSettings {
    pub name: String,
    /// The client's own id for the group (the billing platform's client_collection_group_id).
    #[serde(default)]
    pub client_group_id: Option<String>,
    /// The gateway this group's payments go through.
    pub gateway_id: i64,
    #[serde(default)]
    pub soft_descriptor: Option<String>,
    #[serde(default)]
    pub fraud: FraudOverrides,
    #[serde(default)]
    pub three_ds: ThreeDsOverrides,
}

impl GroupSettings {
    pub fn overrides(&self) -> Overrides {
        Overrides {
            soft_descriptor: self.soft_descriptor.clone(),
            fraud: self.fraud.clone(),
            three_ds: self.three_ds.clone(),
        }
    }

    /// The group's own rules, and the rules that depend on its gateway: the soft descriptor must
    /// fit the gateway's descriptor prefix, and a status change must have a status to change to.
    pub fn validate(&self, gateway: &GatewaySettings) -> Result<(), ValidationError> {
        check_text(&self.name, 100).map_err(|e| e.under("name"))?;
        if let Some(id) = &self.client_group_id {
            check_text(id, 100).map_err(|e| e.under("client_group_id"))?;
        }
        if let Some(s) = &self.soft_descriptor {
            descriptor::check_suffix(s, gateway.descriptor.as_deref())
                .map_err(|e| e.under("soft_descriptor"))?;
        }
        if let Some(u) = &self.three_ds.termination_url {
            check_http_url(u).map_err(|e| e.under("three_ds.termination_url"))?;
        }
        crate::settings::resolve_fraud(&Default::default(), Some(&self.fraud), &gateway.fraud)
            .validate()
            .map_err(|e| e.under("fraud"))
    }
}
