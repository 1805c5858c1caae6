//! Payments: authorize (and capture), capture, void, refund — every gateway call written down
//! before it is made, with an idempotency key derived from it, so that an unknown outcome stays
//! `pending` and is never charged twice.

use std::collections::BTreeMap;

use kassa_domain::card::StripeToken;
use kassa_domain::group::Overrides;
use kassa_domain::json::parse;
use kassa_domain::level23::{Level23, LineItem};
use kassa_domain::money::Currency;
use kassa_domain::payment::{classify_decline, statement_suffix, PaymentStatus, RecurringModel};
use kassa_domain::settings;
use kassa_storage::{
    AccountRecord, PaymentHistory, PaymentRecord, PaymentUpdate, StorageError, TransactionRecord,
    TxnOutcome, VolumeReserve,
};
use kassa_stripe::objects::PaymentIntent;
use kassa_stripe::params::{PaymentIntentParams, ShippingParams};
use kassa_stripe::StripeError;
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::gateway_ctx::{self, GatewayCtx};
use super::payment_methods::{check_card, create_card_at_stripe, ensure_customer, CardInput};
use crate::auth::Auth;
use crate::views::{timestamp, PaymentView, TransactionView};
use crate::{ApiError, AppState};

#[derive(Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct Product {
    pub name: String,
    /// Price of one, minor units.
    #[serde(default)]
    pub amount: Option<i64>,
    #[serde(default)]
    pub quantity: Option<i64>,
    /// Level 3 `product_code`.
    #[serde(default)]
    pub sku: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PaymentRequest {
    acct_no: i64,
    #[serde(default)]
    payment_method_no: Option<i64>,
    #[serde(default)]
    token: Option<String>,
    #[serde(default)]
    card: Option<CardInput>,
    /// Keep an alternate card for later (it becomes a stored payment method).
    #[serde(default)]
    store: bool,
    amount: i64,
    currency: Currency,
    #[serde(default = "yes")]
    capture: bool,
    #[serde(default)]
    recurring_processing_model_ind: Option<RecurringModel>,
    #[serde(default)]
    soft_descriptor: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    products: Vec<Product>,
    #[serde(default)]
    level23: Option<Level23>,
    #[serde(default)]
    radar_session: Option<String>,
    #[serde(default)]
    collection_group_no: Option<i64>,
    #[serde(default)]
    gateway_id: Option<i64>,
    #[serde(default)]
    metadata: BTreeMap<String, String>,
    /// Ask for 3-D Secure (the seed's attempt_3d_secure): the shopper may have to authenticate.
    #[serde(default)]
    attempt_3d_secure: bool,
    /// Overrides the group's and the gateway's setting for this payment.
    #[serde(default)]
    send_fraud_scoring_request: Option<bool>,
    /// Charge even when the same card, amount and gateway were charged within the gateway's
    /// duplicate window.
    #[serde(default)]
    force: bool,
}

fn yes() -> bool {
    true
}

pub(crate) fn not_found(e: StorageError) -> ApiError {
    match e {
        StorageError::NotFound => ApiError::NotFound("payment"),
        StorageError::Stale => ApiError::Conflict {
            code: "payment_busy",
            message: "another operation on this payment is under way; retry when it has finished"
                .into(),
        },
        other => other.into(),
    }
}

/// The card the payment is made with, resolved.
struct Source {
    customer: Option<String>,
    payment_method: String,
    pm_no: Option<i64>,
    new_card: bool,
    initial_txn_id: Option<String>,
    /// The initial id was imported with the card (not made by a Stripe authorization).
    initial_txn_imported: bool,
    /// A Stripe V1 gateway's new card: its data goes in the legacy charge itself.
    legacy_card: Option<super::payment_methods::CheckedCard>,
    /// What identifies the card for duplicate protection: its fingerprint, else its id.
    card_key: Option<String>,
}

/// `stored` is the account's payment method `payment_method_no`, read with the account (`None`
/// if it has none by that number).
async fn source(
    state: &AppState,
    gw: &GatewayCtx,
    account: &AccountRecord,
    stored: Option<kassa_storage::PaymentMethodRecord>,
    req: &mut PaymentRequest,
) -> Result<Source, ApiError> {
    let given = [
        req.payment_method_no.is_some(),
        req.token.is_some(),
        req.card.is_some(),
    ]
    .iter()
    .filter(|b| **b)
    .count();
    if given != 1 {
        return Err(ApiError::InvalidRequest {
            param: Some("payment_method_no".into()),
            code: if given == 0 {
                "parameter_missing"
            } else {
                "parameter_invalid"
            },
            message: "give exactly one of payment_method_no, token or card".into(),
        });
    }
    if let Some(no) = req.payment_method_no {
        let pm = stored.ok_or_else(|| ApiError::InvalidRequest {
            param: Some("payment_method_no".into()),
            code: "resource_missing",
            message: format!("payment_method_no: the account has no payment method {no}"),
        })?;
        if pm.status != "active" {
            return Err(ApiError::unprocessable(
                Some("payment_method_no"),
                if pm.status == "detached" {
                    "payment_method_detached"
                } else {
                    "payment_method_not_ready"
                },
                format!("payment method {no} is {} and cannot be charged", pm.status),
            ));
        }
        if pm.gateway_id != Some(gw.record.id) {
            return Err(ApiError::unprocessable(
                Some("payment_method_no"),
                "payment_method_other_gateway",
                format!("payment method {no} is stored at another gateway's Stripe account"),
            ));
        }
        let token = StripeToken::parse(pm.token.as_deref().unwrap_or(""))?;
        return Ok(Source {
            customer: Some(token.customer_id),
            payment_method: token.payment_method_id.clone(),
            pm_no: Some(no),
            new_card: false,
            initial_txn_id: pm.initial_txn_id,
            initial_txn_imported: pm.initial_txn_imported,
            legacy_card: None,
            card_key: pm
                .fingerprint
                .clone()
                .or_else(|| Some(token.payment_method_id.clone())),
        });
    }
    if let Some(raw) = &req.token {
        let token = StripeToken::parse(raw)?;
        return Ok(Source {
            customer: Some(token.customer_id),
            payment_method: token.payment_method_id.clone(),
            pm_no: None,
            new_card: false,
            initial_txn_id: None,
            initial_txn_imported: false,
            legacy_card: None,
            card_key: Some(token.payment_method_id.clone()),
        });
    }
    let card = check_card(
        req.card
            .take()
            .ok_or_else(|| ApiError::internal("card vanished"))?,
    )?;
    if gw.legacy {
        // Stripe V1: the card goes in the charge; a Stripe customer only with create_customer.
        let customer = if gw.settings.create_customer {
            Some(ensure_customer(state, gw, account).await?)
        } else {
            None
        };
        return Ok(Source {
            customer,
            payment_method: String::new(),
            pm_no: None,
            new_card: true,
            initial_txn_id: None,
            initial_txn_imported: false,
            legacy_card: Some(card),
            card_key: None,
        });
    }
    let pm = create_card_at_stripe(gw, &card, account).await?;
    let customer = if req.store {
        Some(ensure_customer(state, gw, account).await?)
    } else {
        None
    };
    let card_key = pm
        .card
        .as_ref()
        .and_then(|c| c.fingerprint.clone())
        .or_else(|| Some(pm.id.clone()));
    Ok(Source {
        customer,
        payment_method: pm.id,
        pm_no: None,
        new_card: true,
        initial_txn_id: None,
        initial_txn_imported: false,
        legacy_card: None,
        card_key,
    })
}

fn level23_with_products(l: Option<Level23>, products: &[Product]) -> Option<Level23> {
    let mut l = l?;
    if l.line_items.is_empty() {
        l.line_items = products
            .iter()
            .filter_map(|p| {
                Some(LineItem {
                    product_name: p.name.clone(),
                    product_code: p.sku.clone(),
                    quantity: p.quantity.unwrap_or(1),
                    unit_cost: p.amount?,
                    tax_amount: None,
                    discount_amount: None,
                    unit_of_measure: None,
                    commodity_code: None,
                })
            })
            .collect();
    }
    Some(l)
}

/// `POST /v1/payments`.
pub async fn create(
    state: &AppState,
    auth: &Auth,
    body: Map<String, Value>,
) -> Result<(PaymentView, bool), ApiError> {
    create_with_id(state, auth, body, None).await
}

/// A payment whose id the caller chose before (a rebill records its attempt first, so a crash
/// between the two is recovered by id, never charged again under another).
pub async fn create_with_id(
    state: &AppState,
    auth: &Auth,
    body: Map<String, Value>,
    preset_id: Option<String>,
) -> Result<(PaymentView, bool), ApiError> {
    // Under an Idempotency-Key the id comes from the key: a retry of a request that died with
    // its process finds the payment it recorded (before Stripe was called) and answers with it;
    // the reconciler settles it if its outcome is still unknown. Never a second charge. (The
    // first request to hold its key has nothing to find.)
    let preset_id = match preset_id {
        Some(id) => Some(id),
        None => match crate::idempotency::derived_id("pay_") {
            Some(id) if crate::idempotency::first_attempt() => Some(id),
            Some(id) => match state.store.get_payment(auth.client_no, &id).await {
                Ok(rec) => return replayed(state, &rec).await,
                Err(StorageError::NotFound) => Some(id),
                Err(e) => return Err(e.into()),
            },
            None => None,
        },
    };
    let mut req: PaymentRequest = parse(Value::Object(body))?;
    if req.amount <= 0 || req.amount > 99_999_999 {
        return Err(ApiError::invalid(
            "amount",
            "amount: must be 1 to 99999999 minor units",
        ));
    }
    for (i, p) in req.products.iter().enumerate() {
        kassa_domain::text::check_text(&p.name, 250)
            .map_err(|e| e.under(&format!("products[{i}].name")))?;
    }
    // The account and the stored card it is charged on (if one is named), read together.
    let (account, stored) = state
        .store
        .account_and_payment_method(auth.client_no, req.acct_no, req.payment_method_no)
        .await?;
    let account = account.ok_or_else(|| ApiError::InvalidRequest {
        param: Some("acct_no".into()),
        code: "resource_missing",
        message: format!("acct_no: no account {}", req.acct_no),
    })?;
    let gw =
        gateway_ctx::for_account(state, &account, req.gateway_id, req.collection_group_no).await?;
    let model = RecurringModel::resolve(req.recurring_processing_model_ind, req.card.is_some())?;
    if req.store && req.card.is_none() {
        return Err(ApiError::invalid(
            "store",
            "store: only an alternate card (card) can be stored",
        ));
    }
    // Effective settings: request, then group, then gateway.
    let mut request_overrides = Overrides {
        soft_descriptor: req.soft_descriptor.clone(),
        ..Overrides::default()
    };
    request_overrides.fraud.send_fraud_scoring_request = req.send_fraud_scoring_request;
    let group = gw.group_overrides()?;
    let effective = settings::resolve(&request_overrides, group.as_ref(), &gw.settings)?;
    let first_product = req.products.first().map(|p| p.name.as_str());
    let descriptor = if gw.settings.do_not_send_descriptor {
        None
    } else {
        statement_suffix(
            effective.soft_descriptor.as_deref(),
            first_product,
            gw.settings.send_product_as_suffix,
            gw.settings.descriptor.as_deref(),
        )?
    };
    if req.radar_session.is_some() && !gw.settings.send_radar_sessions {
        return Err(ApiError::invalid(
            "radar_session",
            "radar_session: the gateway does not send Radar sessions (send_radar_sessions is off)",
        ));
    }
    if req.attempt_3d_secure && model.is_merchant_initiated() {
        return Err(ApiError::invalid(
            "attempt_3d_secure",
            "attempt_3d_secure: a merchant-initiated payment has no shopper to authenticate",
        ));
    }
    // The seed: without a termination URL the 3-D Secure transaction cannot complete.
    if req.attempt_3d_secure && effective.termination_url.is_none() {
        return Err(ApiError::InvalidRequest {
            param: Some("three_ds.termination_url".into()),
            code: "parameter_missing",
            message: "three_ds.termination_url: 3-D Secure needs the merchant page the shopper returns to; set it on the collection group or the gateway".into(),
        });
    }
    let level23 = level23_with_products(req.level23.take(), &req.products);
    if let Some(l) = &level23 {
        l.validate(req.amount).map_err(|e| e.under("level23"))?;
    }
    if req.card.is_some() {
        // A new card is made at Stripe before the payment is written: the key is claimed first.
        crate::idempotency::claim_first()?;
    }
    let src = source(state, &gw, &account, stored, &mut req).await?;
    // The seed warns of duplicate-transaction declines: the same card, amount and gateway
    // within the window is refused here, before Stripe, unless forced.
    let window = i64::from(gw.settings.duplicate_window_minutes) * 60_000;
    if let (Some(key), false, true) = (&src.card_key, req.force, window > 0) {
        let since = kassa_storage::now_millis() - window;
        if let Some(earlier) = state
            .store
            .recent_duplicate(auth.client_no, gw.record.id, key, req.amount, since)
            .await?
        {
            return Err(ApiError::Conflict {
                code: "duplicate_transaction",
                message: format!(
                    "payment {earlier} charged the same card the same amount on this gateway within {} minutes; send \"force\": true to charge again",
                    gw.settings.duplicate_window_minutes
                ),
            });
        }
    }
    let flags = model.flags(req.store);
    if model.is_merchant_initiated() && src.customer.is_none() {
        return Err(ApiError::invalid("recurring_processing_model_ind", "recurring_processing_model_ind: merchant-initiated payments need a stored card on a Stripe customer"));
    }
    let profile: kassa_domain::billing_account::AccountProfile =
        serde_json::from_str(&account.profile).map_err(ApiError::internal)?;
    let s = &gw.settings;
    let mut description = req.description.clone();
    if s.send_product_name && !req.products.is_empty() {
        let names = req
            .products
            .iter()
            .map(|p| p.name.as_str())
            .collect::<Vec<_>>()
            .join(", ");
        description = Some(match description {
            Some(d) => format!("{d} — {names}"),
            None => names,
        });
    }
    let payment_id = match preset_id {
        Some(id) => id,
        None => kassa_secrets::new_id("pay_")?,
    };
    let txn_id = kassa_secrets::new_id("txn_")?;
    let mut metadata: Vec<(String, String)> = req
        .metadata
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    metadata.push(("kassa_payment".into(), payment_id.clone()));
    metadata.push(("kassa_txn".into(), txn_id.clone()));
    let params = PaymentIntentParams {
        amount: req.amount,
        currency: req.currency.as_str().to_string(),
        customer: src.customer.clone(),
        payment_method: Some(src.payment_method.clone()),
        manual_capture: !req.capture,
        off_session: flags.off_session,
        setup_future_usage: flags.setup_future_usage,
        stored_credential_usage: flags.stored_credential_usage,
        setup_credential_usage: flags.setup_credential_usage,
        // Only for cards migrated from another processor, and only where Stripe enabled it.
        mit_network_transaction_id: if model.is_merchant_initiated()
            && s.send_mit_exemption
            && src.initial_txn_imported
        {
            src.initial_txn_id.clone()
        } else {
            None
        },
        statement_descriptor_suffix: descriptor.clone(),
        description,
        // Without it Stripe sends no receipt, and Kassa sends its own (service/email_events.rs).
        receipt_email: if kassa_domain::email::stripe_sends_receipt(s) {
            profile.email.clone()
        } else {
            None
        },
        shipping: match (&profile.shipping, s.do_not_send_address) {
            (Some(sh), false) if !sh.address.is_empty() => Some(ShippingParams {
                name: sh
                    .name
                    .clone()
                    .or_else(|| profile.display_name())
                    .unwrap_or_else(|| account.client_acct_id.clone()),
                phone: if s.disable_phone {
                    None
                } else {
                    sh.phone.clone()
                },
                address: sh.address.clone(),
            }),
            _ => None,
        },
        metadata,
        radar_session: req.radar_session.clone(),
        return_url: req.attempt_3d_secure.then(|| {
            format!(
                "{}/3ds/return/{payment_id}",
                state.config.public_url.trim_end_matches('/')
            )
        }),
        request_three_d_secure: req.attempt_3d_secure.then_some("any"),
        error_on_requires_action: model.is_merchant_initiated(),
        level23: level23.clone(),
    };
    let details = json!({
        "level23": level23.is_some(),
        "products": req.products.iter().map(|p| p.name.clone()).collect::<Vec<_>>(),
        // What an upsell or a later step needs to reuse the card, and the settings in force.
        "payment_method": src.payment_method,
        "customer": src.customer,
        "attempt_3d_secure": req.attempt_3d_secure,
        "termination_url": effective.termination_url,
        "fraud_settings": effective.fraud,
        // Whether Stripe emails the receipt: decides who sends the receipt emails later.
        "stripe_receipt": params.receipt_email.is_some(),
    });
    let record = PaymentRecord {
        id: payment_id.clone(),
        card_key: src.card_key.clone(),
        client_no: auth.client_no,
        acct_no: account.acct_no,
        gateway_id: gw.record.id,
        pm_no: src.pm_no,
        status: PaymentStatus::Pending.as_str().into(),
        currency: req.currency.as_str().into(),
        amount: req.amount,
        recurring_model: i64::from(model),
        descriptor: descriptor.clone(),
        details: details.to_string(),
        ..Default::default()
    };
    let txn = TransactionRecord {
        id: txn_id.clone(),
        payment_id: payment_id.clone(),
        client_no: auth.client_no,
        kind: "authorize".into(),
        amount: req.amount,
        ..Default::default()
    };
    // The monthly cap is hard: the volume is reserved before Stripe is called, with the payment.
    let limits = &gw.settings.limits;
    let month = super::volume::this_month();
    let mut record = record;
    let mut d: Value = serde_json::from_str(&record.details).unwrap_or(json!({}));
    d["volume"] = json!({"month": month, "reserved": req.amount});
    record.details = d.to_string();
    let reserve = VolumeReserve {
        gateway_id: gw.record.id,
        month: month.clone(),
        amount: req.amount,
        cap: limits.monthly_cap.map(|c| c.get()),
        net: limits.include_refunds,
    };
    // The first write of the request: under an Idempotency-Key it claims the key as well
    // (crate::idempotency::deferred_claim), unless the key was claimed before.
    let claim = crate::idempotency::deferred_claim();
    let inserted = state
        .store
        .insert_payment_claiming(&record, &txn, Some(&reserve), claim.as_ref())
        .await;
    crate::idempotency::note_claim(&inserted);
    let inserted = match inserted {
        // The id is taken: a key forgotten after its retention and used again for the same
        // request derives the same id. That payment is the answer, as within the retention.
        Err(StorageError::Conflict(what)) => {
            return match state.store.get_payment(auth.client_no, &record.id).await {
                Ok(earlier) => replayed(state, &earlier).await,
                Err(StorageError::NotFound) => Err(StorageError::Conflict(what).into()),
                Err(e) => Err(e.into()),
            }
        }
        other => other?,
    };
    if inserted.is_none() {
        return Err(ApiError::unprocessable(
            Some("gateway_id"),
            "gateway_cap_reached",
            format!(
                "gateway {} has reached its monthly cap for {month}; the payment was not sent",
                gw.record.id
            ),
        ));
    }
    let details: Value = serde_json::from_str(&record.details).unwrap_or(details);
    let (update, outcome, card_error) = if gw.legacy {
        let charge = super::legacy::charge_params(
            &params,
            &src.customer,
            &src.payment_method,
            src.legacy_card.as_ref(),
        );
        let answer = gw
            .client
            .create_charge(&charge, &gw.options(Some(txn_id.clone())))
            .await;
        super::legacy::charge_outcome(&record, answer, details)
    } else {
        let answer = gw
            .client
            .create_payment_intent(&params, &gw.options(Some(txn_id.clone())))
            .await;
        authorize_outcome(&record, answer, details, src.initial_txn_id.clone())
    };
    // The reservation settles with the outcome, in one transaction, when the outcome is final.
    let mut update = update;
    super::volume::settle_with(&mut update, record.gateway_id, kassa_storage::now_millis());
    let finished = state
        .store
        .finish_transaction(auth.client_no, &payment_id, &txn_id, &outcome, &update)
        .await?;
    // Keep the card's first customer-initiated network transaction id, and store an alternate card.
    if let Some(ntid) = update
        .initial_auth_txn_id
        .as_deref()
        .filter(|_| !model.is_merchant_initiated() && src.initial_txn_id.is_none())
    {
        if let Some(pm_no) = src.pm_no {
            state.store.set_initial_txn_id(pm_no, ntid).await?;
        }
    }
    let mut finished = finished;
    if req.store && src.new_card && matches!(finished.status.as_str(), "authorized" | "captured") {
        if let Ok(pm) = gw
            .client
            .retrieve_payment_method(&src.payment_method, &gw.options(None))
            .await
        {
            let customer = src.customer.clone().unwrap_or_default();
            let mut rec =
                super::payment_methods::card_record(&account, gw.record.id, &pm, &customer);
            rec.initial_txn_id = update.initial_auth_txn_id.clone();
            let stored = state.store.insert_payment_method(&rec).await?;
            state
                .store
                .set_payment_method_of_payment(auth.client_no, &finished.id, stored.pm_no)
                .await?;
            finished.pm_no = Some(stored.pm_no);
        }
    }
    super::volume::settle(state, &finished).await?;
    apply_fraud(state, auth, &finished).await?;
    let view = view(state, &finished, false).await?;
    notify_outcome(state, auth.client_no, &view).await;
    if let Some(ev) = super::email_events::for_new_payment(&req.metadata, &finished) {
        super::email_events::enqueue(state, &finished, ev).await;
    }
    match card_error {
        Some(ApiError::Card {
            code,
            decline_code,
            message,
            ..
        }) => Err(ApiError::Card {
            code,
            decline_code,
            message,
            payment_id: Some(view.id.clone()),
        }),
        Some(other) => Err(other),
        None => Ok((view, true)),
    }
}

/// A payment made by an earlier run of the same request, answered as that run would have.
pub(crate) async fn replayed(
    state: &AppState,
    rec: &PaymentRecord,
) -> Result<(PaymentView, bool), ApiError> {
    let view = view(state, rec, false).await?;
    if rec.status == PaymentStatus::Declined.as_str() {
        let d = view.decline.clone().unwrap_or(Value::Null);
        return Err(ApiError::Card {
            code: d["code"].as_str().unwrap_or("card_declined").to_string(),
            decline_code: d["decline_code"].as_str().map(str::to_string),
            message: d["message"]
                .as_str()
                .unwrap_or("The card was declined.")
                .to_string(),
            payment_id: Some(view.id.clone()),
        });
    }
    Ok((view, false))
}

/// Tells the client's endpoints how a payment ended (nothing while it is still under way).
pub(crate) async fn notify_outcome(state: &AppState, client_no: i64, view: &PaymentView) {
    let event = match view.status.as_str() {
        "authorized" | "captured" => "payment.succeeded",
        "declined" => "payment.declined",
        _ => return,
    };
    let data = serde_json::to_value(view).unwrap_or(Value::Null);
    super::notifications::notify(state, client_no, event, data).await;
}

/// The account status change the payment's fraud result calls for, if any.
pub(crate) async fn apply_fraud(
    state: &AppState,
    auth: &Auth,
    rec: &PaymentRecord,
) -> Result<(), ApiError> {
    let details: Value = serde_json::from_str(&rec.details).unwrap_or(Value::Null);
    let Some(verdict) = details["fraud"]["fraud_score_result"].as_str() else {
        return Ok(());
    };
    let settings: kassa_domain::gateway::FraudSettings =
        serde_json::from_value(details["fraud_settings"].clone()).map_err(ApiError::internal)?;
    super::fraud::apply(
        state,
        auth.client_no,
        rec.acct_no,
        &rec.id,
        &auth.actor(),
        &settings,
        verdict,
    )
    .await?;
    Ok(())
}

/// What an authorization's answer means for the payment.
pub(crate) fn authorize_outcome(
    rec: &PaymentRecord,
    answer: Result<PaymentIntent, StripeError>,
    mut details: Value,
    card_initial_txn_id: Option<String>,
) -> (PaymentUpdate, TxnOutcome, Option<ApiError>) {
    let mut u = PaymentUpdate {
        status: PaymentStatus::Pending.as_str().into(),
        ..PaymentUpdate::default()
    };
    let mut card_error = None;
    let outcome = match answer {
        Ok(pi) => {
            let charge = pi.charge();
            u.processor_payment_id = Some(pi.id.clone());
            u.auth_no = charge.map(|c| c.id.clone());
            let ntid = charge.and_then(|c| c.network_transaction_id().map(str::to_string));
            u.initial_auth_txn_id = card_initial_txn_id.or(ntid);
            if let Some(o) = charge.and_then(|c| c.outcome.as_ref()) {
                details["outcome"] = json!({"type": o.kind, "risk_level": o.risk_level, "risk_score": o.risk_score, "network_status": o.network_status, "seller_message": o.seller_message});
            }
            if let Some(c) = charge
                .and_then(|c| c.payment_method_details.as_ref())
                .and_then(|d| d.card.as_ref())
            {
                details["card"] = json!({"brand": c.brand, "last4": c.last4});
                u.card_brand = c.brand.clone();
            }
            // 3-D Secure 1 or 2: version, frictionless or challenge, result.
            if let Some(t) = charge.and_then(|c| {
                c.payment_method_details
                    .as_ref()?
                    .card
                    .as_ref()?
                    .three_d_secure
                    .as_ref()
            }) {
                details["three_ds"] = json!({"version": t.version, "authentication_flow": t.authentication_flow, "result": t.result, "result_reason": t.result_reason});
            }
            match pi.status.as_str() {
                "requires_capture" => {
                    u.status = PaymentStatus::Authorized.as_str().into();
                    u.amount_authorized = pi.amount_capturable.max(rec.amount);
                }
                "succeeded" => {
                    u.status = PaymentStatus::Captured.as_str().into();
                    u.amount_authorized = rec.amount;
                    u.amount_captured = pi.amount_received;
                }
                "requires_action" => {
                    u.status = PaymentStatus::RequiresAction.as_str().into();
                    details["redirect_issuer_url"] = json!(pi.redirect_url());
                }
                "requires_payment_method" | "canceled" => {
                    u.status = PaymentStatus::Declined.as_str().into();
                    let e = pi.last_payment_error.clone();
                    let code = e
                        .as_ref()
                        .and_then(|e| e.code.clone())
                        .unwrap_or_else(|| "card_declined".into());
                    let decline_code = e.as_ref().and_then(|e| e.decline_code.clone());
                    let advice = e.as_ref().and_then(|e| e.advice_code.clone());
                    let message = e
                        .as_ref()
                        .and_then(|e| e.message.clone())
                        .unwrap_or_else(|| "The card was declined.".into());
                    details["decline"] =
                        decline_json(&code, decline_code.as_deref(), advice.as_deref(), &message);
                    card_error = Some(ApiError::Card {
                        code,
                        decline_code,
                        message,
                        payment_id: None,
                    });
                }
                _ => {}
            }
            TxnOutcome {
                status: if u.status == "pending" {
                    "pending".into()
                } else {
                    "succeeded".into()
                },
                processor_id: Some(pi.id.clone()),
                error: None,
            }
        }
        Err(StripeError::Api(a))
            if a.kind == kassa_stripe::ErrorKind::Card
                || (a.status < 500 && a.status != 409 && a.status != 429) =>
        {
            // Stripe answered and refused: nothing was charged.
            let pi = a.payment_intent.as_ref();
            u.processor_payment_id = pi.and_then(|p| p["id"].as_str()).map(str::to_string);
            u.auth_no = pi
                .and_then(|p| p["latest_charge"].as_str())
                .map(str::to_string);
            u.status = PaymentStatus::Declined.as_str().into();
            let code = a.code.clone().unwrap_or_else(|| {
                if a.kind == kassa_stripe::ErrorKind::Card {
                    "card_declined".into()
                } else {
                    "gateway_rejected".into()
                }
            });
            details["decline"] = decline_json(&code, a.decline_code.as_deref(), None, &a.message);
            if let Some(card) = a.payment_method.as_ref().map(|p| &p["card"]) {
                details["card"] = json!({"brand": card["brand"], "last4": card["last4"]});
                u.card_brand = card["brand"].as_str().map(str::to_string);
            }
            card_error = Some(if a.kind == kassa_stripe::ErrorKind::Card {
                ApiError::Card {
                    code,
                    decline_code: a.decline_code.clone(),
                    message: a.message.clone(),
                    payment_id: None,
                }
            } else {
                ApiError::Card {
                    code,
                    decline_code: None,
                    message: format!("Stripe refused the payment: {}", a.message),
                    payment_id: None,
                }
            });
            TxnOutcome {
                status: "failed".into(),
                processor_id: u.processor_payment_id.clone(),
                error: Some(
                    json!({"status": a.status, "code": a.code, "message": a.message}).to_string(),
                ),
            }
        }
        // Unknown: the payment stays pending and busy; the reconciler asks Stripe.
        Err(e) => TxnOutcome {
            status: "pending".into(),
            processor_id: None,
            error: Some(json!({"unknown": e.to_string()}).to_string()),
        },
    };
    if details["fraud_settings"]["send_fraud_scoring_request"] == json!(true) {
        let decline_code = details["decline"]["decline_code"]
            .as_str()
            .map(str::to_string);
        details["fraud"] = super::fraud::result(
            details.get("outcome").filter(|o| !o.is_null()),
            decline_code.as_deref(),
        );
    }
    u.details = details.to_string();
    (u, outcome, card_error)
}

fn decline_json(
    code: &str,
    decline_code: Option<&str>,
    advice: Option<&str>,
    message: &str,
) -> Value {
    let class = classify_decline(Some(code), decline_code, advice);
    json!({"code": code, "decline_code": decline_code, "advice": advice, "message": message, "class": class})
}

pub async fn view(
    state: &AppState,
    rec: &PaymentRecord,
    with_transactions: bool,
) -> Result<PaymentView, ApiError> {
    let history = if with_transactions {
        Some(state.store.payment_history(rec.client_no, &rec.id).await?)
    } else {
        None
    };
    Ok(view_with(rec, history))
}

/// A payment's view, with its history if given (read by the caller).
pub(crate) fn view_with(rec: &PaymentRecord, history: Option<PaymentHistory>) -> PaymentView {
    let details: Value = serde_json::from_str(&rec.details).unwrap_or(Value::Null);
    let (transactions, chargebacks) = if let Some((txns, cbs)) = history {
        let transactions = txns
            .into_iter()
            .map(|t| TransactionView {
                id: t.id,
                kind: t.kind,
                amount: t.amount,
                status: t.status,
                processor_id: t.processor_id,
                error: t.error.and_then(|e| serde_json::from_str(&e).ok()),
                created_at: timestamp(t.created_at),
                updated_at: timestamp(t.updated_at),
            })
            .collect();
        let chargebacks = cbs
            .into_iter()
            .map(|c| crate::views::ChargebackView {
                dispute_id: c.dispute_id,
                amount: c.amount,
                currency: c.currency,
                reason: c.reason,
                status: c.status,
                evidence_due_by: c.evidence_due_by,
                fee: c.fee,
                outcome: c.outcome,
                created_at: timestamp(c.created_at),
                updated_at: timestamp(c.updated_at),
            })
            .collect();
        (Some(transactions), Some(chargebacks))
    } else {
        (None, None)
    };
    PaymentView {
        chargebacks,
        object: "payment",
        id: rec.id.clone(),
        status: rec.status.clone(),
        acct_no: rec.acct_no,
        gateway_id: rec.gateway_id,
        payment_method_no: rec.pm_no,
        currency: rec.currency.clone(),
        amount: rec.amount,
        amount_authorized: rec.amount_authorized,
        amount_captured: rec.amount_captured,
        amount_refunded: rec.amount_refunded,
        recurring_processing_model_ind: rec.recurring_model,
        processor_payment_id: rec.processor_payment_id.clone(),
        auth_no: rec.auth_no.clone(),
        initial_auth_txn_id: rec.initial_auth_txn_id.clone(),
        descriptor: rec.descriptor.clone(),
        decline: details.get("decline").cloned().filter(|d| !d.is_null()),
        outcome: details.get("outcome").cloned().filter(|d| !d.is_null()),
        card: details.get("card").cloned().filter(|d| !d.is_null()),
        redirect_issuer_url: details
            .get("redirect_issuer_url")
            .and_then(Value::as_str)
            .map(str::to_string),
        fraud_score: details["fraud"]["fraud_score"].as_i64(),
        risk_level: details["fraud"]["risk_level"].as_str().map(str::to_string),
        fraud_score_result: details["fraud"]["fraud_score_result"]
            .as_str()
            .map(str::to_string),
        three_ds: details.get("three_ds").cloned().filter(|d| !d.is_null()),
        transactions,
        created_at: timestamp(rec.created_at),
        updated_at: timestamp(rec.updated_at),
    }
}

pub async fn get(state: &AppState, auth: &Auth, id: &str) -> Result<PaymentView, ApiError> {
    let rec = state
        .store
        .get_payment(auth.client_no, id)
        .await
        .map_err(not_found)?;
    view(state, &rec, true).await
}

pub async fn list(
    state: &AppState,
    auth: &Auth,
    filter: &kassa_storage::PaymentFilter,
    limit: i64,
    starting_after: Option<&str>,
) -> Result<(Vec<PaymentView>, bool), ApiError> {
    let page = state
        .store
        .list_payments(auth.client_no, filter, limit, starting_after)
        .await?;
    let mut out = Vec::with_capacity(page.data.len());
    for rec in &page.data {
        out.push(view(state, rec, false).await?);
    }
    Ok((out, page.has_more))
}

/// A day (`YYYY-MM-DD`, UTC) as Unix milliseconds at its start.
fn day_millis(
    q: &std::collections::HashMap<String, String>,
    name: &str,
) -> Result<Option<i64>, ApiError> {
    let Some(v) = q.get(name).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    let format = time::macros::format_description!("[year]-[month]-[day]");
    let d = time::Date::parse(v, &format)
        .map_err(|_| ApiError::invalid(name, format!("{name}: use YYYY-MM-DD")))?;
    Ok(Some(d.midnight().assume_utc().unix_timestamp() * 1000))
}

/// The filters of `GET /v1/payments` (the console's payments list uses them too).
pub fn payment_filter(
    q: &std::collections::HashMap<String, String>,
) -> Result<kassa_storage::PaymentFilter, ApiError> {
    let merchant_initiated = match q.get("initiator").map(String::as_str) {
        None | Some("") => None,
        Some("cit") => Some(false),
        Some("mit") => Some(true),
        Some(x) => {
            return Err(ApiError::invalid(
                "initiator",
                format!("initiator: `{x}` is not one of cit, mit"),
            ))
        }
    };
    let text = |k: &str| q.get(k).filter(|v| !v.is_empty()).cloned();
    let int = |k: &str| -> Result<Option<i64>, ApiError> {
        match q.get(k).filter(|v| !v.is_empty()) {
            None => Ok(None),
            Some(v) => v
                .parse()
                .map(Some)
                .map_err(|_| ApiError::invalid(k, format!("{k}: must be a whole number"))),
        }
    };
    Ok(kassa_storage::PaymentFilter {
        acct_no: int("acct_no")?,
        status: text("status"),
        gateway_id: int("gateway_id")?,
        card_brand: text("card_brand"),
        merchant_initiated,
        created_from: day_millis(q, "created_from")?,
        // The last day is included.
        created_to: day_millis(q, "created_to")?.map(|t| t + 86_400_000),
    })
}
