//! Radar reviews: opened when Radar places a payment in the manual review queue (elevated risk),
//! read through `/v1/reviews`, closed by `POST /v1/reviews/{id}/approve`, by a refund of the
//! charge, or by canceling its PaymentIntent. Opening and closing emit `review.opened` and
//! `review.closed`.

use serde_json::Value;

use super::{path_id, Req};
use crate::error::{ApiError, ApiResult};
use crate::form::Spec;
use crate::ids::{new_id, now};
use crate::objects::Review;
use crate::render;
use crate::state::Account;

static EXPAND_ONLY: &[(&str, Spec)] = &[("expand", Spec::ScalarList)];
static LIST: &[(&str, Spec)] = &[
    ("ending_before", Spec::Scalar),
    ("expand", Spec::ScalarList),
    ("limit", Spec::Scalar),
    ("starting_after", Spec::Scalar),
];

/// Opens a review of a charge (Radar's elevated-risk rule); returns its id.
pub fn open(acct: &mut Account, charge: &str, payment_intent: Option<&str>) -> String {
    let id = new_id("prv");
    let review = Review {
        id: id.clone(),
        created: now(),
        charge: charge.to_string(),
        payment_intent: payment_intent.map(str::to_string),
        open: true,
        opened_reason: "rule",
        reason: "rule".into(),
        closed_reason: None,
    };
    acct.reviews.insert(id.clone(), review);
    id
}

/// Closes a review that is still open.
pub fn close(acct: &mut Account, id: &str, reason: &str) {
    if let Some(r) = acct.reviews.get(id) {
        if !r.open {
            return;
        }
    }
    if let Some(r) = acct.reviews.get_mut(id) {
        r.open = false;
        r.reason = reason.to_string();
        r.closed_reason = Some(reason.to_string());
    }
}

fn find(acct: &Account, id: &str) -> ApiResult<Review> {
    acct.reviews
        .get(id)
        .cloned()
        .ok_or_else(|| ApiError::not_found("review", id))
}

pub fn retrieve(acct: &mut Account, req: &Req) -> ApiResult<Value> {
    req.params.check_fields(EXPAND_ONLY)?;
    let id = path_id(req);
    find(acct, id)?;
    render::respond(acct, id, &req.params)
}

/// `GET /v1/reviews`: the open reviews, newest first (as Stripe lists them).
pub fn list(acct: &mut Account, req: &Req) -> ApiResult<Value> {
    req.params.check_fields(LIST)?;
    let ids = acct
        .reviews
        .newest_first()
        .filter(|r| r.open)
        .map(|r| r.id.as_str());
    render::list(acct, "/v1/reviews", ids, &req.params)
}

/// `POST /v1/reviews/{id}/approve`.
pub fn approve(acct: &mut Account, req: &Req) -> ApiResult<Value> {
    req.params.check_fields(EXPAND_ONLY)?;
    let id = path_id(req);
    let review = find(acct, id)?;
    if !review.open {
        return Err(ApiError::invalid(format!(
            "This review ({id}) is already closed and cannot be approved."
        )));
    }
    close(acct, id, "approved");
    render::respond(acct, id, &req.params)
}
