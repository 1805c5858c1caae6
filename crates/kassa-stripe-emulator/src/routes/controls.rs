//! Emulator-only controls that change objects as the card networks would.

use serde_json::Value;

use super::{path_id, Req};
use crate::cards;
use crate::error::{ApiError, ApiResult};
use crate::form::Spec;
use crate::render;
use crate::state::Account;

static CARD_UPDATE: &[(&str, Spec)] = &[
    ("exp_month", Spec::Scalar),
    ("exp_year", Spec::Scalar),
    ("last4", Spec::Scalar),
];

/// `POST /_emulator/payment_methods/{id}/card_update` (`exp_month`, `exp_year`, `last4`): an
/// automatic card update (network account updater). A new `last4` means a reissued card: a new
/// number and fingerprint under the same `pm_…` id. Emits
/// `payment_method.automatically_updated`.
pub fn card_update(acct: &mut Account, req: &Req) -> ApiResult<Value> {
    let p = &req.params;
    p.check_fields(CARD_UPDATE)?;
    let id = path_id(req);
    let mut pm = acct
        .payment_methods
        .get(id)
        .cloned()
        .ok_or_else(|| ApiError::not_found("PaymentMethod", id))?;
    if let Some(m) = p.int(&["exp_month"])? {
        if !(1..=12).contains(&m) {
            return Err(ApiError::invalid("exp_month must be 1-12").param("exp_month"));
        }
        pm.exp_month = m;
    }
    if let Some(y) = p.int(&["exp_year"])? {
        if !(2000..=2100).contains(&y) {
            return Err(ApiError::invalid("exp_year must be a four-digit year").param("exp_year"));
        }
        pm.exp_year = y;
    }
    if let Some(last4) = p.str_nonempty(&["last4"])? {
        if last4.len() != 4 || !last4.chars().all(|c| c.is_ascii_digit()) {
            return Err(ApiError::invalid("last4 must be 4 digits").param("last4"));
        }
        let keep = pm.pan.len().saturating_sub(4);
        let pan = format!("{}{last4}", pm.pan.get(..keep).unwrap_or_default());
        pm.fingerprint = cards::fingerprint(&acct.key, &pan);
        pm.pan = pan;
    }
    acct.payment_methods.insert(id.to_string(), pm);
    acct.auto_updated.insert(id.to_string());
    render::respond(acct, id, p)
}
