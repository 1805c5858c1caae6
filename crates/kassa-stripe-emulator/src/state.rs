//! In-memory state of one account (an API key, or a connected account under it).

use std::collections::{HashMap, HashSet};

use serde::{Deserialize, Serialize};

use crate::idempotency::IdemStore;
use crate::objects::{
    Charge, Customer, Dispute, PaymentIntent, PaymentMethod, Refund, Review, SetupAttempt,
    SetupIntent, WebhookEndpoint,
};

/// Per-account switches, set with `POST /_emulator/accounts/{key}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct AccountSettings {
    /// Whether raw card numbers may be sent to the API (Stripe gates this per account).
    pub raw_card_data: bool,
    /// Whether the gated `payment_method_options[card][mit_exemption]` is enabled.
    pub mit_exemption: bool,
    /// The account's static statement descriptor.
    pub statement_descriptor: String,
    /// The shortened descriptor (prefix) joined to `statement_descriptor_suffix`.
    pub statement_descriptor_prefix: String,
    /// Sleep this long while holding an idempotency key before executing a POST (lets tests
    /// observe Stripe's 409 for concurrent duplicates).
    pub processing_delay_ms: u64,
    /// When above 0, card confirmations answer `processing` and the authorization happens this
    /// many milliseconds later (Stripe's asynchronous processing, rarely seen for cards).
    pub async_processing_ms: u64,
}

impl Default for AccountSettings {
    fn default() -> Self {
        AccountSettings {
            raw_card_data: true,
            mit_exemption: false,
            statement_descriptor: "KASSA TEST".into(),
            statement_descriptor_prefix: "KASSA".into(),
            processing_delay_ms: 0,
            async_processing_ms: 0,
        }
    }
}

/// Objects of one kind, by id, with creation order for lists. Writes through [`Store::insert`]
/// and [`Store::get_mut`] remember the object as it was before the request, so events can be
/// derived from the changes (see `events.rs`).
///
/// Objects are boxed: the hash table then holds a pointer per slot rather than the whole object
/// (hundreds of bytes), so its spare capacity — up to half the table after it doubles — stays
/// small, and memory per object stays flat as the store grows.
#[derive(Debug)]
pub struct Store<T> {
    pub map: HashMap<String, Box<T>>,
    pub order: Vec<String>,
    /// Objects written during the current request: id and the value before the first write.
    touched: Vec<(String, Option<T>)>,
    touched_ids: HashSet<String>,
}

impl<T> Default for Store<T> {
    fn default() -> Self {
        Store {
            map: HashMap::new(),
            order: Vec::new(),
            touched: Vec::new(),
            touched_ids: HashSet::new(),
        }
    }
}

impl<T: Clone> Store<T> {
    fn touch(&mut self, id: &str) {
        if !self.touched_ids.contains(id) {
            self.touched_ids.insert(id.to_string());
            self.touched
                .push((id.to_string(), self.map.get(id).map(|b| T::clone(b))));
        }
    }

    pub fn insert(&mut self, id: String, value: T) {
        self.touch(&id);
        if self.map.insert(id.clone(), Box::new(value)).is_none() {
            self.order.push(id);
        }
    }

    pub fn get(&self, id: &str) -> Option<&T> {
        self.map.get(id).map(|b| &**b)
    }

    pub fn get_mut(&mut self, id: &str) -> Option<&mut T> {
        if self.map.contains_key(id) {
            self.touch(id);
        }
        self.map.get_mut(id).map(|b| &mut **b)
    }

    /// The objects written since the last call, with their previous values.
    pub fn take_touched(&mut self) -> Vec<(String, Option<T>)> {
        self.touched_ids.clear();
        std::mem::take(&mut self.touched)
    }

    /// Inserts without change tracking, dropping the oldest objects beyond `cap`.
    pub fn insert_capped(&mut self, id: String, value: T, cap: usize) {
        if self.map.insert(id.clone(), Box::new(value)).is_none() {
            self.order.push(id);
        }
        if self.order.len() > cap {
            let excess = self.order.len() - cap + cap / 10;
            for old in self.order.drain(..excess) {
                self.map.remove(&old);
            }
        }
    }

    /// Newest first.
    pub fn newest_first(&self) -> impl Iterator<Item = &T> {
        self.order
            .iter()
            .rev()
            .filter_map(|id| self.map.get(id).map(|b| &**b))
    }
}

/// One account's data.
#[derive(Debug, Default)]
pub struct Account {
    /// The namespace key (API key plus connected account), used to derive fingerprints.
    pub key: String,
    pub settings: AccountSettings,
    pub customers: Store<Customer>,
    pub payment_methods: Store<PaymentMethod>,
    pub payment_intents: Store<PaymentIntent>,
    pub charges: Store<Charge>,
    pub refunds: Store<Refund>,
    pub idempotency: IdemStore,
    pub disputes: Store<Dispute>,
    pub reviews: Store<Review>,
    pub setup_intents: Store<SetupIntent>,
    pub setup_attempts: Store<SetupAttempt>,
    pub webhook_endpoints: Store<WebhookEndpoint>,
    /// Event objects, newest last.
    pub events: Store<crate::events::Event>,
    /// Events waiting to be handed to the webhook sender.
    pub outbox: Vec<crate::webhooks::Delivery>,
    /// PaymentMethods changed by the card networks in this request
    /// (`payment_method.automatically_updated` instead of `.updated`).
    pub auto_updated: HashSet<String>,
    /// Refunds (of `refundFail` cards) that fail once the current request is answered.
    pub refunds_to_fail: Vec<String>,
    /// PaymentIntents answered `processing` in this request, authorized later.
    pub processing: Vec<String>,
    /// Charge ids per PaymentIntent, oldest first.
    pub charges_by_pi: HashMap<String, Vec<String>>,
    /// PaymentMethod ids ever attached per customer, oldest first (check `customer` when reading).
    pub pms_by_customer: HashMap<String, Vec<String>>,
}

impl Account {
    pub fn new(key: String, settings: AccountSettings) -> Self {
        Account {
            key,
            settings,
            ..Account::default()
        }
    }

    pub fn add_charge(&mut self, ch: Charge) {
        if !ch.payment_intent.is_empty() {
            self.charges_by_pi
                .entry(ch.payment_intent.clone())
                .or_default()
                .push(ch.id.clone());
        }
        self.charges.insert(ch.id.clone(), ch);
    }

    /// Attaches a PaymentMethod to a customer.
    pub fn attach(&mut self, pm: &str, customer: &str) {
        if let Some(m) = self.payment_methods.get_mut(pm) {
            m.customer = Some(customer.to_string());
            self.pms_by_customer
                .entry(customer.to_string())
                .or_default()
                .push(pm.to_string());
        }
    }

    /// Drops all objects, keeping the settings.
    pub fn clear(&mut self) {
        let key = std::mem::take(&mut self.key);
        let settings = self.settings.clone();
        *self = Account::new(key, settings);
    }
}
