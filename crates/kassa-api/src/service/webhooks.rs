//! Stripe webhooks in: verified exactly as Stripe specifies, stored before anything acts on them,
//! applied once (deduplicated on the event id), newer state never overwritten by an older event.

use axum::http::HeaderMap;
use kassa_domain::gateway::GatewaySettings;
use kassa_domain::stripe_event::EventHead;
use kassa_storage::{CardUpdate, ChargebackWrite, StorageError, WebhookEventRecord};
use serde_json::{json, Map, Value};

use super::{open_webhook_secrets, PURPOSE_GATEWAY_WEBHOOK, PURPOSE_GROUP_WEBHOOK};
use crate::{ApiError, AppState};

/// What the endpoint answers.
pub struct Received {
    pub id: i64,
    pub duplicate: bool,
}

fn bad(reason: String) -> ApiError {
    ApiError::InvalidRequest {
        param: None,
        code: "webhook_invalid",
        message: reason,
    }
}

/// Candidate signing secrets: `(gateway id, secrets)` in the order they are tried.
async fn candidates(
    state: &AppState,
    client_no: i64,
    group_no: Option<i64>,
    account: Option<&str>,
) -> Result<Vec<(i64, Vec<String>)>, ApiError> {
    if let Some(no) = group_no {
        let g = state
            .store
            .get_group(client_no, no)
            .await
            .map_err(|e| match e {
                StorageError::NotFound => ApiError::NotFound("collection group"),
                other => other.into(),
            })?;
        let own = open_webhook_secrets(
            &state.master_key,
            PURPOSE_GROUP_WEBHOOK,
            g.webhook_secrets_sealed.as_deref(),
        )?;
        if !own.is_empty() {
            return Ok(vec![(g.gateway_id, own)]);
        }
        let gw = state.store.get_gateway(client_no, g.gateway_id).await?;
        return Ok(vec![(
            gw.id,
            open_webhook_secrets(
                &state.master_key,
                PURPOSE_GATEWAY_WEBHOOK,
                gw.webhook_secrets_sealed.as_deref(),
            )?,
        )]);
    }
    let mut out = Vec::new();
    for gw in state.store.all_gateways(client_no).await? {
        if let Some(acct) = account {
            let s: GatewaySettings =
                serde_json::from_str(&gw.settings).map_err(ApiError::internal)?;
            if !(s.connected_account && s.mid_number.as_deref() == Some(acct)) {
                continue;
            }
        }
        let secrets = open_webhook_secrets(
            &state.master_key,
            PURPOSE_GATEWAY_WEBHOOK,
            gw.webhook_secrets_sealed.as_deref(),
        )?;
        if !secrets.is_empty() {
            out.push((gw.id, secrets));
        }
    }
    Ok(out)
}

/// `POST /webhooks/stripe/{client_no}[/{group_no}]`.
pub async fn receive(
    state: &AppState,
    client_no: i64,
    group_no: Option<i64>,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Received, ApiError> {
    if !state.store.client_exists(client_no).await? {
        return Err(ApiError::NotFound("client"));
    }
    let EventHead {
        id: event_id,
        event_type,
        account,
        created: event_created,
    } = EventHead::decode(body).map_err(|e| bad(e.to_string()))?;
    let signature = headers
        .get("stripe-signature")
        .and_then(|v| v.to_str().ok());
    let now = kassa_storage::now_millis() / 1000;
    let mut verified: Option<(i64, usize)> = None;
    let mut reason = String::from("no webhook secret is configured for this endpoint");
    for (gateway_id, secrets) in candidates(state, client_no, group_no, account.as_deref()).await? {
        let refs: Vec<&str> = secrets.iter().map(String::as_str).collect();
        match kassa_secrets::verify_stripe_signature(
            signature,
            body,
            &refs,
            now,
            state.config.webhook_tolerance_secs,
        ) {
            Ok(i) => {
                verified = Some((gateway_id, i));
                break;
            }
            Err(e) => reason = e.to_string(),
        }
    }
    let mut record = WebhookEventRecord {
        client_no,
        group_no,
        event_id: event_id.clone(),
        event_type,
        account,
        event_created,
        ..Default::default()
    };
    let Some((gateway_id, secret_index)) = verified else {
        // Kept for the operator to see, but never applied; the body is cut to keep it small.
        record.event_id = kassa_secrets::new_id("rejected_")?;
        record.status = "rejected".into();
        record.verification = format!("rejected: {reason}");
        record.payload = String::from_utf8_lossy(&body[..body.len().min(16 * 1024)]).into_owned();
        state.store.insert_webhook_event(&record).await?;
        return Err(bad(format!("signature verification failed: {reason}")));
    };
    record.gateway_id = Some(gateway_id);
    record.status = "received".into();
    record.verification = format!(
        "verified with gateway {gateway_id}'s secret #{}",
        secret_index + 1
    );
    record.payload = String::from_utf8_lossy(body).into_owned();
    match state.store.insert_webhook_event(&record).await? {
        Some(id) => Ok(Received {
            id,
            duplicate: false,
        }),
        None => Ok(Received {
            id: 0,
            duplicate: true,
        }),
    }
}

/// Applies a stored event once. `retry_failed` lets a failed event be tried again.
pub async fn apply(state: &AppState, id: i64, retry_failed: bool) -> Result<(), ApiError> {
    if !state.store.claim_webhook_event(id, retry_failed).await? {
        return Ok(());
    }
    let rec = state.store.get_webhook_event_unscoped(id).await?;
    let outcome = apply_event(state, &rec).await;
    match outcome {
        Ok((status, result)) => {
            state
                .store
                .finish_webhook_event(id, status, Some(&result.to_string()), None)
                .await?
        }
        // The payment is being worked on (a gateway call under way): the event waits for the
        // next catch-up pass instead of failing.
        Err(ApiError::Conflict { .. }) => state.store.release_webhook_event(id).await?,
        Err(e) => {
            tracing::warn!(event = %rec.event_id, error = %e, "webhook event failed");
            state
                .store
                .finish_webhook_event(id, "failed", None, Some(&e.to_string()))
                .await?
        }
    }
    Ok(())
}

async fn apply_event(
    state: &AppState,
    rec: &WebhookEventRecord,
) -> Result<(&'static str, Value), ApiError> {
    let event: Value = serde_json::from_str(&rec.payload).map_err(ApiError::internal)?;
    let object = &event["data"]["object"];
    let created = rec.event_created;
    match rec.event_type.as_str() {
        "payment_method.updated" | "payment_method.automatically_updated" => {
            card_updated(
                state,
                rec,
                object,
                &event["data"]["previous_attributes"],
                created,
            )
            .await
        }
        "payment_method.detached" => card_detached(state, rec, object).await,
        "charge.dispute.created"
        | "charge.dispute.updated"
        | "charge.dispute.closed"
        | "charge.dispute.funds_withdrawn"
        | "charge.dispute.funds_reinstated" => dispute(state, rec, object, created).await,
        "payment_intent.succeeded"
        | "payment_intent.payment_failed"
        | "payment_intent.canceled"
        | "charge.refunded"
        | "charge.captured" => payment_state(state, rec, object, created).await,
        "refund.failed" => refund_failed(state, rec, object).await,
        "setup_intent.succeeded" | "setup_intent.setup_failed" | "setup_intent.canceled" => {
            super::card_setup::settle_from_event(state, rec.client_no, object).await
        }
        _ => Ok(("ignored", json!({"note": "event type not acted on"}))),
    }
}

async fn card_updated(
    state: &AppState,
    rec: &WebhookEventRecord,
    pm: &Value,
    previous: &Value,
    created: i64,
) -> Result<(&'static str, Value), ApiError> {
    let stripe_id = pm["id"].as_str().unwrap_or_default();
    let card = &pm["card"];
    let update = CardUpdate {
        brand: card["brand"].as_str().map(str::to_string),
        last4: card["last4"].as_str().map(str::to_string),
        exp_month: card["exp_month"].as_i64(),
        exp_year: card["exp_year"].as_i64(),
        fingerprint: card["fingerprint"].as_str().map(str::to_string),
    };
    let mut changed = Vec::new();
    for stored in state
        .store
        .payment_methods_by_stripe_id(rec.client_no, stripe_id)
        .await?
    {
        let old = json!({"brand": stored.brand, "last4": stored.last4, "exp_month": stored.exp_month, "exp_year": stored.exp_year, "fingerprint": stored.fingerprint});
        let new = json!({"brand": update.brand, "last4": update.last4, "exp_month": update.exp_month, "exp_year": update.exp_year, "fingerprint": update.fingerprint});
        let changes = json!({"from": old, "to": new, "previous_attributes": previous, "event_type": rec.event_type});
        if state
            .store
            .update_card(
                rec.client_no,
                stored.pm_no,
                &update,
                &changes.to_string(),
                &rec.event_id,
                created,
            )
            .await?
        {
            changed.push(stored.pm_no);
        }
    }
    if changed.is_empty() {
        return Ok((
            "ignored",
            json!({"note": "no stored card with this PaymentMethod, or a newer update was applied already"}),
        ));
    }
    let revived = revive_purchases(state, rec.client_no, &changed).await?;
    let data = json!({"payment_method_nos": changed, "purchases_eligible_again": revived, "brand": update.brand, "last4": update.last4, "exp_month": update.exp_month, "exp_year": update.exp_year, "source_event": rec.event_id});
    super::notifications::notify(state, rec.client_no, "card.updated", data).await;
    Ok(("applied", json!({"payment_methods_updated": changed})))
}

async fn card_detached(
    state: &AppState,
    rec: &WebhookEventRecord,
    pm: &Value,
) -> Result<(&'static str, Value), ApiError> {
    let stripe_id = pm["id"].as_str().unwrap_or_default();
    let mut detached = Vec::new();
    for stored in state
        .store
        .payment_methods_by_stripe_id(rec.client_no, stripe_id)
        .await?
    {
        if stored.status != "detached" {
            state
                .store
                .set_payment_method_status(rec.client_no, stored.pm_no, "detached")
                .await?;
            detached.push(stored.pm_no);
        }
    }
    if detached.is_empty() {
        return Ok((
            "ignored",
            json!({"note": "no active stored card with this PaymentMethod"}),
        ));
    }
    let mut flagged = Vec::new();
    for pm_no in &detached {
        for mut p in state
            .store
            .purchases_with_card(rec.client_no, *pm_no)
            .await?
        {
            if matches!(
                p.status.as_str(),
                "active" | "trial" | "recycle_billing" | "paused"
            ) && !p.needs_new_card
            {
                p.needs_new_card = true;
                state.store.update_purchase_terms(&p).await?;
                flagged.push(p.id);
            }
        }
    }
    let data = json!({"payment_method_nos": detached, "purchases_needing_a_new_card": flagged, "source_event": rec.event_id});
    super::notifications::notify(state, rec.client_no, "card.detached", data).await;
    Ok((
        "applied",
        json!({"payment_methods_detached": detached, "purchases_needing_a_new_card": flagged}),
    ))
}

async fn dispute(
    state: &AppState,
    rec: &WebhookEventRecord,
    dp: &Value,
    created: i64,
) -> Result<(&'static str, Value), ApiError> {
    let payment = state
        .store
        .find_payment_by_processor(
            rec.client_no,
            dp["payment_intent"].as_str(),
            dp["charge"].as_str(),
        )
        .await?;
    let Some(payment) = payment else {
        return Ok((
            "ignored",
            json!({"note": "no Kassa payment for this dispute's charge"}),
        ));
    };
    let gw = state
        .store
        .get_gateway(rec.client_no, payment.gateway_id)
        .await?;
    let settings: GatewaySettings =
        serde_json::from_str(&gw.settings).map_err(ApiError::internal)?;
    let status = dp["status"]
        .as_str()
        .unwrap_or("needs_response")
        .to_string();
    let outcome = match status.as_str() {
        "won" | "lost" => Some(status.clone()),
        "warning_closed" => Some("closed".to_string()),
        _ => None,
    };
    let cb = ChargebackWrite {
        client_no: rec.client_no,
        payment_id: payment.id.clone(),
        gateway_id: payment.gateway_id,
        dispute_id: dp["id"].as_str().unwrap_or_default().to_string(),
        amount: dp["amount"].as_i64().unwrap_or(0),
        currency: dp["currency"]
            .as_str()
            .unwrap_or(&payment.currency)
            .to_string(),
        reason: dp["reason"].as_str().unwrap_or("general").to_string(),
        status,
        evidence_due_by: dp["evidence_details"]["due_by"].as_i64().filter(|d| *d > 0),
        fee: settings.limits.chargeback_fee.get(),
        outcome,
        event_created: created,
    };
    let applied = state.store.upsert_chargeback(&cb).await?;
    if applied {
        let event = match rec.event_type.as_str() {
            "charge.dispute.created" => Some("chargeback.opened"),
            "charge.dispute.closed" => Some("chargeback.closed"),
            _ => None,
        };
        if let Some(event) = event {
            let data = json!({"payment_id": payment.id, "dispute_id": cb.dispute_id, "amount": cb.amount, "currency": cb.currency, "reason": cb.reason, "status": cb.status, "fee": cb.fee, "outcome": cb.outcome});
            super::notifications::notify(state, rec.client_no, event, data).await;
        }
    }
    Ok((
        if applied { "applied" } else { "ignored" },
        json!({"payment_id": payment.id, "dispute": cb.dispute_id, "status": cb.status, "newer_state_kept": !applied}),
    ))
}

/// A payment's state as Stripe reports it when it changed outside Kassa (a refund in Stripe's
/// dashboard, a capture elsewhere). Terminal states never move backwards.
async fn payment_state(
    state: &AppState,
    rec: &WebhookEventRecord,
    object: &Value,
    created: i64,
) -> Result<(&'static str, Value), ApiError> {
    let (pi, charge) = if object["object"] == "charge" {
        (object["payment_intent"].as_str(), object["id"].as_str())
    } else {
        (object["id"].as_str(), object["latest_charge"].as_str())
    };
    let Some(p) = state
        .store
        .find_payment_by_processor(rec.client_no, pi, charge)
        .await?
    else {
        return Ok((
            "ignored",
            json!({"note": "no Kassa payment for this object"}),
        ));
    };
    if p.busy_txn.is_some() {
        return Ok((
            "ignored",
            json!({"note": "a Kassa call on this payment is under way; it settles the state", "payment_id": p.id}),
        ));
    }
    // A refund's amount is read from Stripe now, not from the event: an older `charge.refunded`
    // delivered after a `refund.failed` would otherwise bring back money that was never refunded.
    let charge_refunded = match (rec.event_type.as_str(), charge) {
        ("charge.refunded", Some(ch)) => {
            let gw = super::gateway_ctx::load(state, rec.client_no, p.gateway_id, None).await?;
            gw.client
                .retrieve_charge(ch, &gw.options(None))
                .await
                .map_err(super::gateway_ctx::map_stripe_error)?
                .amount_refunded
        }
        _ => object["amount_refunded"].as_i64().unwrap_or(0),
    };
    let (mut captured, mut refunded) = (p.amount_captured, p.amount_refunded);
    let status: String = match rec.event_type.as_str() {
        "payment_intent.succeeded"
            if matches!(
                p.status.as_str(),
                "authorized" | "pending" | "requires_action"
            ) =>
        {
            captured = object["amount_received"].as_i64().unwrap_or(p.amount);
            if captured >= p.amount_authorized.max(p.amount) {
                "captured"
            } else {
                "partially_captured"
            }
            .into()
        }
        "payment_intent.canceled"
            if matches!(
                p.status.as_str(),
                "authorized" | "pending" | "requires_action"
            ) =>
        {
            "voided".into()
        }
        "payment_intent.payment_failed"
            if matches!(p.status.as_str(), "pending" | "requires_action") =>
        {
            "declined".into()
        }
        "charge.captured" if matches!(p.status.as_str(), "authorized" | "pending") => {
            captured = object["amount_captured"].as_i64().unwrap_or(p.amount);
            if captured >= p.amount_authorized.max(p.amount) {
                "captured"
            } else {
                "partially_captured"
            }
            .into()
        }
        "charge.refunded" if charge_refunded > p.amount_refunded && p.amount_captured > 0 => {
            refunded = charge_refunded.min(p.amount_captured);
            if refunded >= p.amount_captured {
                "refunded"
            } else {
                "partially_refunded"
            }
            .into()
        }
        _ => {
            return Ok((
                "ignored",
                json!({"note": "the payment already reflects this or a later state", "payment_id": p.id, "status": p.status}),
            ))
        }
    };
    let applied = state
        .store
        .apply_external_payment_state(&p, &status, captured, refunded, created)
        .await?;
    Ok((
        if applied { "applied" } else { "ignored" },
        json!({"payment_id": p.id, "from": p.status, "to": status, "applied": applied}),
    ))
}

/// A refund that Stripe answered `succeeded` and that failed afterwards (the card was closed,
/// the issuer refused it): the money stays with the merchant, so the payment gets the amount
/// back, the refund's transaction is marked failed and subscribers hear `payment.refund_failed`.
async fn refund_failed(
    state: &AppState,
    rec: &WebhookEventRecord,
    refund: &Value,
) -> Result<(&'static str, Value), ApiError> {
    let Some(refund_id) = refund["id"].as_str() else {
        return Ok(("ignored", json!({"note": "the event carries no refund id"})));
    };
    let Some(p) = state
        .store
        .find_payment_by_processor(
            rec.client_no,
            refund["payment_intent"].as_str(),
            refund["charge"].as_str(),
        )
        .await?
    else {
        return Ok((
            "ignored",
            json!({"note": "no Kassa payment for this refund"}),
        ));
    };
    let reason = refund["failure_reason"].as_str().unwrap_or("unknown");
    let Some(amount) = state.store.fail_refund(&p, refund_id, reason).await? else {
        return Ok((
            "ignored",
            json!({"note": "no succeeded Kassa refund with this id (already reversed, or made outside Kassa)", "payment_id": p.id}),
        ));
    };
    state
        .store
        .add_refund_volume(p.gateway_id, &super::volume::this_month(), -amount)
        .await?;
    let after = state.store.get_payment(rec.client_no, &p.id).await?;
    let view = super::payments::view(state, &after, true).await?;
    let data = serde_json::to_value(&view).unwrap_or(Value::Null);
    super::notifications::notify(state, rec.client_no, "payment.refund_failed", data).await;
    Ok((
        "applied",
        json!({"payment_id": p.id, "refund": refund_id, "amount": amount, "failure_reason": reason, "status": after.status}),
    ))
}

/// Declines that a new expiry or number cures: the card data was the problem.
const CARD_DATA_DECLINES: &[&str] = &[
    "expired_card",
    "incorrect_number",
    "invalid_number",
    "invalid_expiry_month",
    "invalid_expiry_year",
    "new_account_information_available",
];

/// After a card update, rebills that failed for its old data become due again at once.
async fn revive_purchases(
    state: &AppState,
    client_no: i64,
    pm_nos: &[i64],
) -> Result<Vec<String>, ApiError> {
    let mut revived = Vec::new();
    for pm_no in pm_nos {
        for mut p in state.store.purchases_with_card(client_no, *pm_no).await? {
            if !matches!(p.status.as_str(), "recycle_failed" | "recycle_billing") {
                continue;
            }
            let last = state.store.last_decline(&p.id).await?;
            if last
                .as_deref()
                .is_some_and(|c| CARD_DATA_DECLINES.contains(&c))
            {
                p.status = "active".into();
                p.next_bill_at = Some(kassa_storage::now_millis());
                state.store.update_purchase_terms(&p).await?;
                revived.push(p.id);
            }
        }
    }
    Ok(revived)
}

/// Applies what was stored but not applied (a crash between storing and applying, or an apply
/// task that died), every few seconds while the server runs.
pub async fn run_forever(state: AppState, every: std::time::Duration) {
    let mut tick = tokio::time::interval(every);
    loop {
        tick.tick().await;
        if let Err(e) = catch_up(&state, 2_000, 5 * 60_000).await {
            tracing::warn!(error = %e, "webhook catch-up failed");
        }
    }
}

/// One catch-up pass: events received at least `min_age_ms` ago, and events stuck applying for
/// `stuck_ms`. Returns how many it applied.
pub async fn catch_up(state: &AppState, min_age_ms: i64, stuck_ms: i64) -> Result<usize, ApiError> {
    let now = kassa_storage::now_millis();
    let pending = state
        .store
        .unapplied_webhook_events(now - min_age_ms, now - stuck_ms, 500)
        .await?;
    let n = pending.len();
    for e in pending {
        if e.status == "applying" {
            state.store.release_webhook_event(e.id).await?;
        }
        apply(state, e.id, false).await?;
    }
    Ok(n)
}

/// The events Kassa acts on, which `register` asks Stripe to send.
pub const ENABLED_EVENTS: &[&str] = &[
    "payment_method.updated",
    "payment_method.automatically_updated",
    "payment_method.detached",
    "charge.dispute.created",
    "charge.dispute.updated",
    "charge.dispute.closed",
    "charge.dispute.funds_withdrawn",
    "charge.dispute.funds_reinstated",
    "setup_intent.succeeded",
    "setup_intent.setup_failed",
    "setup_intent.canceled",
    "payment_intent.succeeded",
    "payment_intent.payment_failed",
    "payment_intent.canceled",
    "charge.refunded",
    "charge.captured",
    "refund.failed",
];

/// `kassa webhooks register --gateway ID`: creates the Stripe webhook endpoint that sends this
/// client's events to Kassa (`{public_url}/webhooks/stripe/{client_no}[/{group_no}]`) and keeps
/// its signing secret with the gateway's (or the group's). Returns the endpoint id and URL.
pub async fn register(
    state: &AppState,
    gateway_id: i64,
    group_no: Option<i64>,
) -> Result<(String, String), ApiError> {
    let gw = state
        .store
        .get_gateway_by_id(gateway_id)
        .await
        .map_err(|e| match e {
            StorageError::NotFound => ApiError::NotFound("gateway"),
            other => other.into(),
        })?;
    let ctx = super::gateway_ctx::load(state, gw.client_no, gw.id, None).await?;
    let base = state.config.public_url.trim_end_matches('/');
    let url = match group_no {
        Some(g) => format!("{base}/webhooks/stripe/{}/{g}", gw.client_no),
        None => format!("{base}/webhooks/stripe/{}", gw.client_no),
    };
    let endpoint = ctx
        .client
        .create_webhook_endpoint(
            &url,
            ENABLED_EVENTS,
            &format!("Kassa gateway {gateway_id}"),
            &ctx.options(None),
        )
        .await
        .map_err(super::gateway_ctx::map_stripe_error)?;
    let secret = endpoint.secret.clone().ok_or_else(|| ApiError::Gateway {
        code: "gateway_error",
        message: "Stripe returned no signing secret".into(),
    })?;
    let actor = crate::auth::Auth {
        client_no: gw.client_no,
        api_key_id: 0,
        key_label: "cli".into(),
        request_id: None,
    };
    let mut body = Map::new();
    match group_no {
        Some(g) => {
            let group = state.store.get_group(gw.client_no, g).await?;
            let mut secrets = open_webhook_secrets(
                &state.master_key,
                PURPOSE_GROUP_WEBHOOK,
                group.webhook_secrets_sealed.as_deref(),
            )?;
            secrets.push(secret);
            body.insert("webhook_secrets".into(), json!(secrets));
            super::groups::update(state, &actor, g, body).await?;
        }
        None => {
            let mut secrets = open_webhook_secrets(
                &state.master_key,
                PURPOSE_GATEWAY_WEBHOOK,
                gw.webhook_secrets_sealed.as_deref(),
            )?;
            secrets.push(secret);
            body.insert("webhook_secrets".into(), json!(secrets));
            super::gateways::update(state, &actor, gw.id, body).await?;
        }
    }
    Ok((endpoint.id, url))
}
