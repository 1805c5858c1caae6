//! What Kassa reads of an incoming Stripe webhook event before it is verified and stored: its
//! id, type, connected account and creation time. The rest (`data.object`) is read when the
//! stored event is applied.

use serde_json::Value;

/// The head of a Stripe event (`{"id": "evt_…", "type": …, "account": …, "created": …}`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventHead {
    /// Always starts with `evt_`.
    pub id: String,
    /// `unknown` when the event has no string `type`.
    pub event_type: String,
    /// Set for events of connected accounts.
    pub account: Option<String>,
    /// Seconds since the epoch; 0 when absent or not an integer.
    pub created: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventError {
    #[error("the body is not a JSON event: {0}")]
    NotJson(String),
    #[error("the event has no evt_ id")]
    NoId,
}

impl EventHead {
    /// Decodes a webhook body. serde_json refuses nesting deeper than 128 levels, so a hostile
    /// body cannot exhaust the stack.
    pub fn decode(body: &[u8]) -> Result<Self, EventError> {
        let event: Value =
            serde_json::from_slice(body).map_err(|e| EventError::NotJson(e.to_string()))?;
        let id = event["id"]
            .as_str()
            .filter(|s| s.starts_with("evt_"))
            .ok_or(EventError::NoId)?
            .to_string();
        Ok(EventHead {
            id,
            event_type: event["type"].as_str().unwrap_or("unknown").to_string(),
            account: event["account"].as_str().map(str::to_string),
            created: event["created"].as_i64().unwrap_or(0),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_head() {
        let h = EventHead::decode(
            br#"{"id":"evt_1","type":"charge.refunded","account":"acct_9","created":1700000000,"data":{}}"#,
        )
        .unwrap();
        assert_eq!(h.id, "evt_1");
        assert_eq!(h.event_type, "charge.refunded");
        assert_eq!(h.account.as_deref(), Some("acct_9"));
        assert_eq!(h.created, 1_700_000_000);
        let h = EventHead::decode(br#"{"id":"evt_2"}"#).unwrap();
        assert_eq!(
            (h.event_type.as_str(), h.account, h.created),
            ("unknown", None, 0)
        );
        assert_eq!(
            EventHead::decode(br#"{"id":"ch_1"}"#),
            Err(EventError::NoId)
        );
        assert_eq!(EventHead::decode(b"[1]"), Err(EventError::NoId));
        assert!(matches!(
            EventHead::decode(b"{"),
            Err(EventError::NotJson(_))
        ));
    }
}
