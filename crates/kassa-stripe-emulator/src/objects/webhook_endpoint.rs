//! The `webhook_endpoint` object (`we_…`).

use serde_json::{json, Value};

use super::{metadata_json, Metadata};

#[derive(Debug, Clone)]
pub struct WebhookEndpoint {
    pub id: String,
    pub created: i64,
    pub url: String,
    pub enabled_events: Vec<String>,
    pub description: Option<String>,
    pub metadata: Metadata,
    /// `whsec_…`, rendered on create only.
    pub secret: String,
    pub disabled: bool,
    pub api_version: Option<String>,
}

impl WebhookEndpoint {
    /// Whether an event of this type goes to this endpoint.
    pub fn wants(&self, event_type: &str) -> bool {
        !self.disabled
            && self
                .enabled_events
                .iter()
                .any(|e| e == "*" || e == event_type)
    }

    pub fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "object": "webhook_endpoint",
            "api_version": self.api_version,
            "application": null,
            "created": self.created,
            "description": self.description,
            "enabled_events": self.enabled_events,
            "livemode": false,
            "metadata": metadata_json(&self.metadata),
            "status": if self.disabled { "disabled" } else { "enabled" },
            "url": self.url,
        })
    }
}
