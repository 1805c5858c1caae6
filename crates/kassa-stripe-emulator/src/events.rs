//! Events: derived after each request from the objects it changed (see `Store::take_touched`),
//! stored for `GET /v1/events`, and queued for webhook delivery. The object of an event is kept
//! as a typed snapshot and rendered when read (the hot path renders no JSON unless a webhook
//! endpoint wants the event).

use serde_json::{json, Map, Value};

use crate::cards::Behavior;
use crate::ids::{new_id, now};
use crate::objects::{
    Charge, Customer, Dispute, PaymentIntent, PaymentMethod, PiStatus, Refund, Review, SetiStatus,
    SetupIntent,
};
use crate::render;
use crate::routes::disputes;
use crate::state::Account;
use crate::webhooks::{Delivery, Target};

/// The API version events are rendered with.
pub const API_VERSION: &str = "2026-06-24.dahlia";
/// Events kept per account (oldest dropped first).
const MAX_EVENTS: usize = 100_000;

/// The request that caused the events (`null`s for emulator-triggered changes).
#[derive(Debug, Clone, Default)]
pub struct RequestInfo {
    pub id: Option<String>,
    pub idempotency_key: Option<String>,
}

/// The old values of what changed between two renders (`previous_attributes`): nested objects
/// are compared field by field, anything else (arrays included) is taken whole.
pub fn previous_attributes(old: &Value, new: &Value) -> Option<Value> {
    let (Value::Object(o), Value::Object(n)) = (old, new) else {
        return (old != new).then(|| old.clone());
    };
    let mut out = Map::new();
    for (k, ov) in o {
        let nv = n.get(k).unwrap_or(&Value::Null);
        match (ov, nv) {
            (Value::Object(_), Value::Object(_)) => {
                if let Some(d) = previous_attributes(ov, nv) {
                    out.insert(k.clone(), d);
                }
            }
            _ if ov != nv => {
                out.insert(k.clone(), ov.clone());
            }
            _ => {}
        }
    }
    for k in n.keys() {
        if !o.contains_key(k) {
            out.insert(k.clone(), Value::Null);
        }
    }
    (!out.is_empty()).then_some(Value::Object(out))
}

/// An object as it was when the event happened.
#[derive(Debug, Clone)]
pub enum Snapshot {
    Customer(Box<Customer>),
    PaymentMethod(Box<PaymentMethod>),
    PaymentIntent(Box<PaymentIntent>),
    Charge(Box<Charge>),
    Dispute(Box<Dispute>),
    Refund(Box<Refund>),
    SetupIntent(Box<SetupIntent>),
    Review(Box<Review>),
}

impl Snapshot {
    fn render(&self, acct: &Account) -> Value {
        match self {
            Snapshot::Customer(c) => {
                let mut c = (**c).clone();
                c.deleted = false;
                c.to_json()
            }
            Snapshot::PaymentMethod(p) => p.to_json(),
            Snapshot::PaymentIntent(p) => p.to_json(),
            Snapshot::Charge(c) => render::charge_json(acct, c),
            Snapshot::Dispute(d) => d.to_json(),
            Snapshot::Refund(r) => r.to_json(),
            Snapshot::SetupIntent(s) => s.to_json(),
            Snapshot::Review(r) => r.to_json(),
        }
    }
}

/// An event's `data.previous_attributes`: the old values of what changed, or the object as it
/// was, to compare with the event's object when the event is rendered.
#[derive(Debug, Clone)]
pub enum Previous {
    Known(Value),
    Charge(Box<Charge>),
}

/// A stored event.
#[derive(Debug, Clone)]
pub struct Event {
    pub id: String,
    pub kind: &'static str,
    pub created: i64,
    pub object: Snapshot,
    pub previous: Option<Previous>,
    pub request: RequestInfo,
    pub pending_webhooks: u64,
}

impl Event {
    pub fn to_json(&self, acct: &Account) -> Value {
        let mut data = json!({ "object": self.object.render(acct) });
        let previous = match (&self.previous, &self.object) {
            (Some(Previous::Known(prev)), _) => Some(prev.clone()),
            // Both rendered against the same account, so only the charge's own changes differ.
            (Some(Previous::Charge(old)), Snapshot::Charge(new)) => Some(
                previous_attributes(
                    &render::charge_json(acct, old),
                    &render::charge_json(acct, new),
                )
                .unwrap_or_else(|| json!({})),
            ),
            (Some(Previous::Charge(_)), _) | (None, _) => None,
        };
        if let (Some(prev), Value::Object(m)) = (previous, &mut data) {
            m.insert("previous_attributes".into(), prev);
        }
        let mut ev = json!({
            "id": self.id,
            "object": "event",
            "api_version": API_VERSION,
            "context": null,
            "created": self.created,
            "data": data,
            "livemode": false,
            "pending_webhooks": self.pending_webhooks,
            "request": { "id": self.request.id, "idempotency_key": self.request.idempotency_key },
            "type": self.kind,
        });
        if let (Some((_, connected)), Value::Object(m)) = (acct.key.split_once('/'), &mut ev) {
            m.insert("account".into(), json!(connected));
        }
        ev
    }
}

type Pending = (&'static str, Snapshot, Option<Previous>);

impl Account {
    fn customer_events(&mut self, out: &mut Vec<Pending>) {
        for (id, old) in self.customers.take_touched() {
            let Some(new) = self.customers.get(&id) else {
                continue;
            };
            let snap = || Snapshot::Customer(Box::new(new.clone()));
            match old {
                None => out.push(("customer.created", snap(), None)),
                Some(old) if !old.deleted && new.deleted => {
                    out.push(("customer.deleted", Snapshot::Customer(Box::new(old)), None));
                }
                Some(old) => {
                    if let Some(prev) = previous_attributes(&old.to_json(), &new.to_json()) {
                        out.push(("customer.updated", snap(), Some(Previous::Known(prev))));
                    }
                }
            }
        }
    }

    fn payment_method_events(&mut self, out: &mut Vec<Pending>) {
        let auto = std::mem::take(&mut self.auto_updated);
        for (id, old) in self.payment_methods.take_touched() {
            let Some(new) = self.payment_methods.get(&id) else {
                continue;
            };
            let snap = || Snapshot::PaymentMethod(Box::new(new.clone()));
            let old_customer = old.as_ref().and_then(|o| o.customer.as_deref());
            if old_customer != new.customer.as_deref() {
                let kind = if new.customer.is_some() {
                    "payment_method.attached"
                } else {
                    "payment_method.detached"
                };
                out.push((kind, snap(), None));
                continue;
            }
            let Some(old) = old else { continue };
            if let Some(prev) = previous_attributes(&old.to_json(), &new.to_json()) {
                let kind = if auto.contains(&id) {
                    "payment_method.automatically_updated"
                } else {
                    "payment_method.updated"
                };
                out.push((kind, snap(), Some(Previous::Known(prev))));
            }
        }
    }

    fn payment_intent_events(&mut self, out: &mut Vec<Pending>) {
        for (id, old) in self.payment_intents.take_touched() {
            let Some(new) = self.payment_intents.get(&id) else {
                continue;
            };
            let snap = || Snapshot::PaymentIntent(Box::new(new.clone()));
            if old.is_none() {
                out.push(("payment_intent.created", snap(), None));
            }
            let old_status = old.as_ref().map(|o| o.status);
            let changed = old_status != Some(new.status);
            let kind = match new.status {
                PiStatus::RequiresAction if changed => Some("payment_intent.requires_action"),
                PiStatus::Processing if changed => Some("payment_intent.processing"),
                PiStatus::RequiresCapture if changed => {
                    Some("payment_intent.amount_capturable_updated")
                }
                PiStatus::Succeeded if changed => Some("payment_intent.succeeded"),
                PiStatus::Canceled if changed => Some("payment_intent.canceled"),
                PiStatus::RequiresPaymentMethod
                    if new.last_payment_error.is_some()
                        && (changed
                            || old.as_ref().map(|o| &o.last_payment_error)
                                != Some(&new.last_payment_error)) =>
                {
                    Some("payment_intent.payment_failed")
                }
                _ => None,
            };
            if let Some(kind) = kind {
                out.push((kind, snap(), None));
            }
        }
    }

    fn charge_events(&mut self, out: &mut Vec<Pending>) {
        let mut disputes = Vec::new();
        for (id, old) in self.charges.take_touched() {
            let Some(new) = self.charges.get(&id) else {
                continue;
            };
            let newly_captured = new.captured && !old.as_ref().is_some_and(|o| o.captured);
            if newly_captured && new.status == "succeeded" {
                if let Some(Behavior::Dispute { reason, inquiry }) = self
                    .payment_methods
                    .get(&new.payment_method)
                    .map(|pm| pm.behavior())
                {
                    disputes.push((id.clone(), reason, inquiry));
                }
            }
            let snap = || Snapshot::Charge(Box::new(new.clone()));
            let Some(old) = old else {
                let kind = if new.status == "failed" {
                    "charge.failed"
                } else {
                    "charge.succeeded"
                };
                out.push((kind, snap(), None));
                continue;
            };
            // A capture or a refund is an event whatever else changed; what changed is worked
            // out when the event is read (most never are), from the charge as it was.
            let captured = !old.captured && new.captured;
            let refunded = new.amount_refunded > old.amount_refunded;
            if captured || refunded {
                let was = || Some(Previous::Charge(Box::new(old.clone())));
                if captured {
                    out.push(("charge.captured", snap(), was()));
                }
                if refunded {
                    out.push(("charge.refunded", snap(), was()));
                }
                continue;
            }
            let nj = render::charge_json(self, new);
            let Some(prev) = previous_attributes(&render::charge_json(self, &old), &nj) else {
                continue;
            };
            let only_dispute = prev
                .as_object()
                .is_some_and(|m| m.keys().all(|k| k == "disputed"));
            if !only_dispute {
                out.push(("charge.updated", snap(), Some(Previous::Known(prev))));
            }
        }
        // The dispute test cards: the cardholder disputes right after capture.
        for (charge, reason, inquiry) in disputes {
            if let Err(e) = disputes::open(self, &charge, reason, None, inquiry) {
                tracing::debug!(error = %e, "automatic dispute not opened");
            }
        }
    }

    fn dispute_events(&mut self, out: &mut Vec<Pending>) {
        for (id, old) in self.disputes.take_touched() {
            let Some(new) = self.disputes.get(&id) else {
                continue;
            };
            let snap = || Snapshot::Dispute(Box::new(new.clone()));
            let chargeback = new.case_type == "chargeback";
            match old {
                None => {
                    out.push(("charge.dispute.created", snap(), None));
                    // A chargeback takes the disputed amount (and the fee) from the balance.
                    if chargeback {
                        out.push(("charge.dispute.funds_withdrawn", snap(), None));
                    }
                }
                Some(old) => {
                    if let Some(prev) = previous_attributes(&old.to_json(), &new.to_json()) {
                        let kind = if !old.closed() && new.closed() {
                            "charge.dispute.closed"
                        } else {
                            "charge.dispute.updated"
                        };
                        out.push((kind, snap(), Some(Previous::Known(prev))));
                    }
                    if chargeback && old.status != "won" && new.status == "won" {
                        out.push(("charge.dispute.funds_reinstated", snap(), None));
                    }
                }
            }
        }
    }

    fn refund_events(&mut self, out: &mut Vec<Pending>) {
        for (id, old) in self.refunds.take_touched() {
            let Some(new) = self.refunds.get(&id) else {
                continue;
            };
            let snap = || Snapshot::Refund(Box::new(new.clone()));
            let Some(old) = old else {
                out.push(("refund.created", snap(), None));
                continue;
            };
            let Some(prev) = previous_attributes(&old.to_json(), &new.to_json()) else {
                continue;
            };
            out.push((
                "refund.updated",
                snap(),
                Some(Previous::Known(prev.clone())),
            ));
            out.push(("charge.refund.updated", snap(), Some(Previous::Known(prev))));
            if new.status == "failed" && old.status != "failed" {
                out.push(("refund.failed", snap(), None));
            }
        }
    }

    fn setup_intent_events(&mut self, out: &mut Vec<Pending>) {
        for (id, old) in self.setup_intents.take_touched() {
            let Some(new) = self.setup_intents.get(&id) else {
                continue;
            };
            let snap = || Snapshot::SetupIntent(Box::new(new.clone()));
            if old.is_none() {
                out.push(("setup_intent.created", snap(), None));
            }
            let changed = old.as_ref().map(|o| o.status) != Some(new.status);
            let kind = match new.status {
                SetiStatus::RequiresAction if changed => Some("setup_intent.requires_action"),
                SetiStatus::Succeeded if changed => Some("setup_intent.succeeded"),
                SetiStatus::Canceled if changed => Some("setup_intent.canceled"),
                SetiStatus::RequiresPaymentMethod
                    if new.last_setup_error.is_some()
                        && old.as_ref().map(|o| &o.last_setup_error)
                            != Some(&new.last_setup_error) =>
                {
                    Some("setup_intent.setup_failed")
                }
                _ => None,
            };
            if let Some(kind) = kind {
                out.push((kind, snap(), None));
            }
        }
        self.setup_attempts.take_touched();
    }

    fn review_events(&mut self, out: &mut Vec<Pending>) {
        for (id, old) in self.reviews.take_touched() {
            let Some(new) = self.reviews.get(&id) else {
                continue;
            };
            let snap = || Snapshot::Review(Box::new(new.clone()));
            match old {
                None => out.push(("review.opened", snap(), None)),
                Some(old) if old.open && !new.open => out.push(("review.closed", snap(), None)),
                Some(_) => {}
            }
        }
    }

    /// Turns the changes of the current request into events (and queued deliveries).
    pub fn flush_events(&mut self, req: &RequestInfo) {
        let mut out = Vec::new();
        self.customer_events(&mut out);
        self.payment_method_events(&mut out);
        self.payment_intent_events(&mut out);
        self.charge_events(&mut out);
        self.dispute_events(&mut out);
        self.refund_events(&mut out);
        self.setup_intent_events(&mut out);
        self.review_events(&mut out);
        self.webhook_endpoints.take_touched();
        for (kind, object, prev) in out {
            self.record_event(kind, object, prev, req);
        }
    }

    fn record_event(
        &mut self,
        kind: &'static str,
        object: Snapshot,
        previous: Option<Previous>,
        req: &RequestInfo,
    ) {
        let targets: Vec<Target> = self
            .webhook_endpoints
            .newest_first()
            .filter(|e| e.wants(kind))
            .map(|e| Target {
                url: e.url.clone(),
                secret: e.secret.clone(),
            })
            .collect();
        let ev = Event {
            id: new_id("evt"),
            kind,
            created: now(),
            object,
            previous,
            request: req.clone(),
            pending_webhooks: targets.len() as u64,
        };
        if !targets.is_empty() {
            self.outbox.push(Delivery {
                event_id: ev.id.clone(),
                payload: ev.to_json(self).to_string(),
                targets,
            });
        }
        self.events.insert_capped(ev.id.clone(), ev, MAX_EVENTS);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn previous_attributes_keeps_changed_leaves_and_whole_arrays() {
        let old = json!({"a": 1, "card": {"exp_month": 1, "last4": "4242"}, "l": [1], "same": 2});
        let new =
            json!({"a": 2, "card": {"exp_month": 2, "last4": "4242"}, "l": [1, 2], "same": 2});
        assert_eq!(
            previous_attributes(&old, &new),
            Some(json!({"a": 1, "card": {"exp_month": 1}, "l": [1]}))
        );
        assert_eq!(previous_attributes(&old, &old), None);
    }
}
