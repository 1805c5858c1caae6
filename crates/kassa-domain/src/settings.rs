//! The effective settings of one payment: the API request first, then the collection group, then
//! the gateway (the billing platform's stated priority for soft descriptors, applied to every
//! overridable setting).

use crate::descriptor;
use crate::gateway::{FraudSettings, GatewaySettings};
use crate::group::{FraudOverrides, Overrides};
use crate::ValidationError;

#[derive(Debug, Clone, PartialEq)]
pub struct EffectiveSettings {
    /// The statement descriptor suffix to send, if any.
    pub soft_descriptor: Option<String>,
    pub fraud: FraudSettings,
    pub termination_url: Option<String>,
}

/// Each fraud field resolved on its own: request, then group, then gateway.
pub fn resolve_fraud(
    request: &FraudOverrides,
    group: Option<&FraudOverrides>,
    gateway: &FraudSettings,
) -> FraudSettings {
    fn pick<T: Clone>(req: &Option<T>, grp: Option<&Option<T>>, gw: T) -> T {
        req.clone()
            .or_else(|| grp.and_then(|g| g.clone()))
            .unwrap_or(gw)
    }
    FraudSettings {
        send_fraud_scoring_request: pick(
            &request.send_fraud_scoring_request,
            group.map(|g| &g.send_fraud_scoring_request),
            gateway.send_fraud_scoring_request,
        ),
        change_status_on_fraud_scoring_failure: pick(
            &request.change_status_on_fraud_scoring_failure,
            group.map(|g| &g.change_status_on_fraud_scoring_failure),
            gateway.change_status_on_fraud_scoring_failure,
        ),
        status_on_fraud_scoring_failure: request
            .status_on_fraud_scoring_failure
            .or_else(|| group.and_then(|g| g.status_on_fraud_scoring_failure))
            .or(gateway.status_on_fraud_scoring_failure),
        change_status_on_fraud_scoring_review: pick(
            &request.change_status_on_fraud_scoring_review,
            group.map(|g| &g.change_status_on_fraud_scoring_review),
            gateway.change_status_on_fraud_scoring_review,
        ),
        status_on_fraud_scoring_review: request
            .status_on_fraud_scoring_review
            .or_else(|| group.and_then(|g| g.status_on_fraud_scoring_review))
            .or(gateway.status_on_fraud_scoring_review),
    }
}

/// Resolves the settings for one payment. A suffix given in the request is cut to 22 characters
/// (as the seed says) and must then follow Stripe's character rules; `do_not_send_descriptor` on
/// the gateway means no suffix is sent at all.
pub fn resolve(
    request: &Overrides,
    group: Option<&Overrides>,
    gateway: &GatewaySettings,
) -> Result<EffectiveSettings, ValidationError> {
    let request_suffix = match &request.soft_descriptor {
        Some(s) => {
            Some(descriptor::normalize_request_suffix(s).map_err(|e| e.under("soft_descriptor"))?)
        }
        None => None,
    };
    let soft_descriptor = if gateway.do_not_send_descriptor {
        None
    } else {
        request_suffix
            .or_else(|| group.and_then(|g| g.soft_descriptor.clone()))
            .or_else(|| gateway.default_suffix().map(str::to_string))
    };
    let fraud = resolve_fraud(&request.fraud, group.map(|g| &g.fraud), &gateway.fraud);
    fraud.validate().map_err(|e| e.under("fraud"))?;
    let termination_url = request
        .three_ds
        .termination_url
        .clone()
        .or_else(|| group.and_then(|g| g.three_ds.termination_url.clone()))
        .or_else(|| gateway.three_ds.termination_url.clone());
    Ok(EffectiveSettings {
        soft_descriptor,
        fraud,
        termination_url,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::account::AccountStatus;
    use crate::json::parse;
    use serde_json::json;

    fn gateway() -> GatewaySettings {
        parse(json!({
            "title": "gw",
            "descriptor": "RUNCLUB",
            "descriptor_suffix": "SUFFIX GW",
            "fraud": {"send_fraud_scoring_request": false, "change_status_on_fraud_scoring_failure": true, "status_on_fraud_scoring_failure": "fraud_blocked"},
            "three_ds": {"termination_url": "https://gw.example/3ds"}
        }))
        .unwrap()
    }

    fn group() -> Overrides {
        parse(json!({
            "soft_descriptor": "GROUP SFX",
            "fraud": {"send_fraud_scoring_request": true},
            "three_ds": {"termination_url": "https://group.example/3ds"}
        }))
        .unwrap()
    }

    #[test]
    fn request_beats_group_beats_gateway() {
        let req: Overrides = parse(json!({"soft_descriptor": "API SFX"})).unwrap();
        let e = resolve(&req, Some(&group()), &gateway()).unwrap();
        assert_eq!(e.soft_descriptor.as_deref(), Some("API SFX"));
        assert_eq!(
            e.termination_url.as_deref(),
            Some("https://group.example/3ds")
        );
        assert!(e.fraud.send_fraud_scoring_request);
        assert_eq!(
            e.fraud.status_on_fraud_scoring_failure,
            Some(AccountStatus::FraudBlocked)
        );

        let e = resolve(&Overrides::default(), Some(&group()), &gateway()).unwrap();
        assert_eq!(e.soft_descriptor.as_deref(), Some("GROUP SFX"));

        let e = resolve(&Overrides::default(), None, &gateway()).unwrap();
        assert_eq!(e.soft_descriptor.as_deref(), Some("SUFFIX GW"));
        assert_eq!(e.termination_url.as_deref(), Some("https://gw.example/3ds"));
        assert!(!e.fraud.send_fraud_scoring_request);
    }

    #[test]
    fn request_fraud_override_wins() {
        let req: Overrides =
            parse(json!({"fraud": {"send_fraud_scoring_request": false}})).unwrap();
        let e = resolve(&req, Some(&group()), &gateway()).unwrap();
        assert!(!e.fraud.send_fraud_scoring_request);
    }

    #[test]
    fn long_request_suffix_is_cut_to_22() {
        let req: Overrides =
            parse(json!({"soft_descriptor": "ABCDEFGHIJKLMNOPQRSTUVWXYZ"})).unwrap();
        let e = resolve(&req, None, &gateway()).unwrap();
        assert_eq!(e.soft_descriptor.as_deref(), Some("ABCDEFGHIJKLMNOPQRSTUV"));
        let bad: Overrides = parse(json!({"soft_descriptor": "NO*STARS"})).unwrap();
        assert_eq!(
            resolve(&bad, None, &gateway()).unwrap_err().param,
            "soft_descriptor"
        );
    }

    #[test]
    fn do_not_send_descriptor_sends_none() {
        let mut gw = gateway();
        gw.do_not_send_descriptor = true;
        let req: Overrides = parse(json!({"soft_descriptor": "API SFX"})).unwrap();
        assert_eq!(
            resolve(&req, Some(&group()), &gw).unwrap().soft_descriptor,
            None
        );
    }

    #[test]
    fn inconsistent_effective_fraud_is_an_error() {
        let req: Overrides =
            parse(json!({"fraud": {"change_status_on_fraud_scoring_review": true}})).unwrap();
        assert_eq!(
            resolve(&req, None, &gateway()).unwrap_err().param,
            "fraud.status_on_fraud_scoring_review"
        );
    }
}
