//! The shapes of the answers the billing, balance and profile services build as JSON, for the
//! OpenAPI document (schemathesis checks every answer against them). Documentation only: the
//! services' `*_view` functions write these fields.

#![allow(dead_code)]

use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use crate::views::PaymentView;

/// A campaign (`object: campaign`).
#[derive(Serialize, ToSchema)]
pub struct CampaignView {
    object: String,
    id: i64,
    name: String,
    currency: String,
    is_test: bool,
    /// Deleted campaigns are listed with `deleted=true` and can be restored.
    deleted: bool,
    created_at: String,
    updated_at: String,
}

/// A campaign with its products.
#[derive(Serialize, ToSchema)]
pub struct CampaignDetail {
    object: String,
    id: i64,
    name: String,
    currency: String,
    is_test: bool,
    deleted: bool,
    created_at: String,
    updated_at: String,
    products: Vec<ProductView>,
}

/// A product of a campaign (`object: campaign_product`).
#[derive(Serialize, ToSchema)]
pub struct ProductView {
    object: String,
    id: i64,
    campaign_id: i64,
    name: String,
    sku: Option<String>,
    shippable: bool,
    /// A one-time product's price, or a recurring product's first cycle's.
    price: i64,
    recurring: bool,
    /// A recurring product's schedule: `prices`, `interval_unit`, `interval_count`,
    /// `trial_days`, `final_cycle`.
    #[schema(value_type = Option<Object>)]
    schedule: Option<Value>,
    gateway_id: Option<i64>,
    routing_profile_id: Option<i64>,
}

/// A recurring purchase (`object: purchase`).
#[derive(Serialize, ToSchema)]
pub struct PurchaseView {
    object: String,
    id: String,
    acct_no: i64,
    order_id: String,
    product_id: i64,
    gateway_id: i64,
    payment_method_no: Option<i64>,
    /// `trial`, `active`, `recycling`, `completed`, `cancelled`, …
    status: String,
    cycle: i64,
    recycle_attempt: i64,
    next_bill_at: Option<String>,
    price_override: Option<i64>,
    currency: String,
    cancel_at_end: bool,
    needs_new_card: bool,
    created_at: String,
    /// Every billing attempt (on `GET /v1/purchases/{id}` only).
    attempts: Option<Vec<AttemptView>>,
}

/// One billing attempt of a purchase.
#[derive(Serialize, ToSchema)]
pub struct AttemptView {
    cycle: i64,
    attempt: i64,
    payment_id: String,
    amount: i64,
    status: String,
    decline_code: Option<String>,
    at: String,
}

/// The answer to `POST /v1/orders`.
#[derive(Serialize, ToSchema)]
pub struct OrderCreated {
    object: String,
    id: String,
    status: String,
    acct_no: i64,
    campaign_id: i64,
    amount: i64,
    currency: String,
    payment_id: Option<String>,
    gateway_id: Option<i64>,
    /// The gateways tried, in order (routing profiles cascade on soft declines).
    gateways_tried: Vec<i64>,
    purchases: Vec<PurchaseView>,
}

/// An order (`GET /v1/orders/{id}`).
#[derive(Serialize, ToSchema)]
pub struct OrderView {
    object: String,
    id: String,
    status: String,
    acct_no: i64,
    campaign_id: i64,
    amount: i64,
    currency: String,
    payment_id: Option<String>,
    /// The items sold, upsells marked, with their payments.
    #[schema(value_type = Vec<Object>)]
    items: Value,
    purchases: Vec<PurchaseView>,
    created_at: String,
}

/// An upsell added to an order (`object: order_upsell`).
#[derive(Serialize, ToSchema)]
pub struct OrderUpsellView {
    object: String,
    order_id: String,
    product_id: i64,
    quantity: i64,
    amount: i64,
    payment: PaymentView,
    /// A recurring product's purchase.
    purchase: Option<PurchaseView>,
}

/// A routing profile (`object: routing_profile`).
#[derive(Serialize, ToSchema)]
pub struct RoutingProfileView {
    object: String,
    id: i64,
    name: String,
    /// `priority`, `round_robin` or `weighted`.
    algorithm: String,
    gateways: Vec<RoutedGateway>,
    cascade_on_soft_decline: bool,
    created_at: String,
}

#[derive(Serialize, ToSchema)]
pub struct RoutedGateway {
    gateway_id: i64,
    /// Percent, for `weighted` (0 otherwise).
    weight: i64,
}

/// A recycle profile (`object: recycle_profile`): the rules as they were given, and its ids.
#[derive(Serialize, ToSchema)]
pub struct RecycleProfileView {
    object: String,
    id: i64,
    name: String,
    gateway_ids: Vec<i64>,
    /// `[{wait_days, reduction: {type: percent|flat|skip, value}}]`.
    #[schema(value_type = Vec<Object>)]
    reattempts: Value,
    min_price: i64,
    hold_recycle_price: bool,
    created_at: String,
    updated_at: String,
}

/// What an account owes (`object: balance`).
#[derive(Serialize, ToSchema)]
pub struct BalanceView {
    object: String,
    acct_no: i64,
    balances: Vec<BalanceAmount>,
    /// Newest first.
    entries: Vec<BalanceEntryView>,
}

/// The balance after a settle or collect, with the payment made.
#[derive(Serialize, ToSchema)]
pub struct BalancePaid {
    object: String,
    acct_no: i64,
    balances: Vec<BalanceAmount>,
    entries: Vec<BalanceEntryView>,
    payment: PaymentView,
}

#[derive(Serialize, ToSchema)]
pub struct BalanceAmount {
    currency: String,
    amount: i64,
}

/// One entry of a balance (`object: balance_entry`).
#[derive(Serialize, ToSchema)]
pub struct BalanceEntryView {
    object: String,
    id: i64,
    /// `charge`, `rebill` (a failed one), `settle` or `collect`.
    kind: String,
    status: String,
    amount: i64,
    currency: String,
    purchase_id: Option<String>,
    cycle: Option<i64>,
    payment_id: Option<String>,
    description: Option<String>,
    created_at: String,
}
