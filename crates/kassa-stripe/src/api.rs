//! The Stripe calls Kassa makes, typed.

use crate::objects::{
    Charge, Customer, List, PaymentIntent, PaymentMethod, Refund, SetupIntent, WebhookEndpoint,
};
use crate::params::{add_level23, CardParams, ChargeParams, CustomerParams, PaymentIntentParams};
use crate::{Form, RequestOptions, StripeClient, StripeError};

/// Stripe ids go into paths: only letters, digits and underscores are let through.
fn id(s: &str) -> Result<&str, StripeError> {
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        Ok(s)
    } else {
        Err(StripeError::NotSent(format!("`{s}` is not a Stripe id")))
    }
}

fn expand_charge() -> Form {
    let mut f = Form::new();
    f.push_list("expand", "latest_charge");
    f
}

impl StripeClient {
    pub async fn create_customer(
        &self,
        p: &CustomerParams,
        o: &RequestOptions,
    ) -> Result<Customer, StripeError> {
        self.post("/v1/customers", &p.to_form(), o).await
    }

    pub async fn retrieve_customer(
        &self,
        customer: &str,
        o: &RequestOptions,
    ) -> Result<Customer, StripeError> {
        self.get(&format!("/v1/customers/{}", id(customer)?), &Form::new(), o)
            .await
    }

    pub async fn create_card_payment_method(
        &self,
        p: &CardParams,
        o: &RequestOptions,
    ) -> Result<PaymentMethod, StripeError> {
        self.post("/v1/payment_methods", &p.to_form(), o).await
    }

    pub async fn attach_payment_method(
        &self,
        pm: &str,
        customer: &str,
        o: &RequestOptions,
    ) -> Result<PaymentMethod, StripeError> {
        let mut f = Form::new();
        f.add("customer", customer);
        self.post(&format!("/v1/payment_methods/{}/attach", id(pm)?), &f, o)
            .await
    }

    pub async fn retrieve_payment_method(
        &self,
        pm: &str,
        o: &RequestOptions,
    ) -> Result<PaymentMethod, StripeError> {
        self.get(&format!("/v1/payment_methods/{}", id(pm)?), &Form::new(), o)
            .await
    }

    pub async fn detach_payment_method(
        &self,
        pm: &str,
        o: &RequestOptions,
    ) -> Result<PaymentMethod, StripeError> {
        self.post(
            &format!("/v1/payment_methods/{}/detach", id(pm)?),
            &Form::new(),
            o,
        )
        .await
    }

    /// Creates and confirms a SetupIntent for a card on a customer (usage `off_session`): Stripe
    /// attaches the card when the setup succeeds; with `three_d_secure` the issuer is asked for
    /// authentication (`request_three_d_secure=any`) and the shopper comes back to `return_url`.
    pub async fn create_setup_intent(
        &self,
        customer: &str,
        payment_method: &str,
        three_d_secure: bool,
        return_url: Option<&str>,
        metadata: &[(String, String)],
        o: &RequestOptions,
    ) -> Result<SetupIntent, StripeError> {
        let mut f = Form::new();
        f.add("customer", id(customer)?)
            .add("payment_method", id(payment_method)?)
            .add("confirm", "true")
            .add("usage", "off_session")
            .add_opt("return_url", return_url);
        if three_d_secure {
            f.add(
                "payment_method_options[card][request_three_d_secure]",
                "any",
            );
        }
        f.add_map(
            "metadata",
            metadata.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        );
        f.push_list("expand", "latest_attempt");
        self.post("/v1/setup_intents", &f, o).await
    }

    /// A SetupIntent with its latest attempt expanded (for the 3-D Secure result).
    pub async fn retrieve_setup_intent(
        &self,
        seti: &str,
        o: &RequestOptions,
    ) -> Result<SetupIntent, StripeError> {
        let mut f = Form::new();
        f.push_list("expand", "latest_attempt");
        self.get(&format!("/v1/setup_intents/{}", id(seti)?), &f, o)
            .await
    }

    /// Creates and confirms a PaymentIntent, with its latest charge expanded.
    pub async fn create_payment_intent(
        &self,
        p: &PaymentIntentParams,
        o: &RequestOptions,
    ) -> Result<PaymentIntent, StripeError> {
        self.post("/v1/payment_intents", &p.to_form(), o).await
    }

    pub async fn retrieve_payment_intent(
        &self,
        pi: &str,
        o: &RequestOptions,
    ) -> Result<PaymentIntent, StripeError> {
        self.get(
            &format!("/v1/payment_intents/{}", id(pi)?),
            &expand_charge(),
            o,
        )
        .await
    }

    /// Finishes a PaymentIntent after 3-D Secure or an `requires_confirmation` step.
    pub async fn confirm_payment_intent(
        &self,
        pi: &str,
        o: &RequestOptions,
    ) -> Result<PaymentIntent, StripeError> {
        self.post(
            &format!("/v1/payment_intents/{}/confirm", id(pi)?),
            &expand_charge(),
            o,
        )
        .await
    }

    /// Captures `amount` (all that is capturable when `None`); Level 2/3 data goes with it.
    pub async fn capture_payment_intent(
        &self,
        pi: &str,
        amount: Option<i64>,
        level23: Option<&kassa_domain::level23::Level23>,
        o: &RequestOptions,
    ) -> Result<PaymentIntent, StripeError> {
        let mut f = expand_charge();
        f.add_opt("amount_to_capture", amount);
        if let Some(l) = level23 {
            add_level23(&mut f, l);
        }
        self.post(&format!("/v1/payment_intents/{}/capture", id(pi)?), &f, o)
            .await
    }

    /// Cancels (voids) a PaymentIntent.
    pub async fn cancel_payment_intent(
        &self,
        pi: &str,
        reason: Option<&str>,
        o: &RequestOptions,
    ) -> Result<PaymentIntent, StripeError> {
        let mut f = expand_charge();
        f.add_opt("cancellation_reason", reason);
        self.post(&format!("/v1/payment_intents/{}/cancel", id(pi)?), &f, o)
            .await
    }

    /// PaymentIntents whose metadata `key` is `value` — how the reconciler finds an attempt whose
    /// answer was lost.
    pub async fn search_payment_intents(
        &self,
        key: &str,
        value: &str,
        o: &RequestOptions,
    ) -> Result<List<PaymentIntent>, StripeError> {
        let mut f = Form::new();
        let clean = |s: &str| s.replace(['\'', '\\'], "");
        f.add(
            "query",
            format!("metadata['{}']:'{}'", clean(key), clean(value)),
        );
        self.get("/v1/payment_intents/search", &f, o).await
    }

    /// Refunds `amount` of a PaymentIntent (all that is left when `None`).
    pub async fn create_refund(
        &self,
        pi: &str,
        amount: Option<i64>,
        metadata: &[(String, String)],
        o: &RequestOptions,
    ) -> Result<Refund, StripeError> {
        let mut f = Form::new();
        f.add("payment_intent", id(pi)?).add_opt("amount", amount);
        f.add_map(
            "metadata",
            metadata.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        );
        self.post("/v1/refunds", &f, o).await
    }

    /// Legacy (Stripe V1): creates a charge.
    pub async fn create_charge(
        &self,
        p: &ChargeParams,
        o: &RequestOptions,
    ) -> Result<Charge, StripeError> {
        self.post("/v1/charges", &p.to_form(), o).await
    }

    pub async fn retrieve_charge(
        &self,
        charge: &str,
        o: &RequestOptions,
    ) -> Result<Charge, StripeError> {
        self.get(&format!("/v1/charges/{}", id(charge)?), &Form::new(), o)
            .await
    }

    /// Legacy (Stripe V1): captures an uncaptured charge (all of it when `amount` is `None`).
    pub async fn capture_charge(
        &self,
        charge: &str,
        amount: Option<i64>,
        o: &RequestOptions,
    ) -> Result<Charge, StripeError> {
        let mut f = Form::new();
        f.add_opt("amount", amount);
        self.post(&format!("/v1/charges/{}/capture", id(charge)?), &f, o)
            .await
    }

    /// Legacy (Stripe V1): refunds a charge; for an uncaptured one this releases the hold.
    pub async fn refund_charge(
        &self,
        charge: &str,
        amount: Option<i64>,
        metadata: &[(String, String)],
        o: &RequestOptions,
    ) -> Result<Refund, StripeError> {
        let mut f = Form::new();
        f.add("charge", id(charge)?).add_opt("amount", amount);
        f.add_map(
            "metadata",
            metadata.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        );
        self.post("/v1/refunds", &f, o).await
    }

    /// Creates a webhook endpoint at Stripe for `url`, sending `events`.
    pub async fn create_webhook_endpoint(
        &self,
        url: &str,
        events: &[&str],
        description: &str,
        o: &RequestOptions,
    ) -> Result<WebhookEndpoint, StripeError> {
        let mut f = Form::new();
        f.add("url", url).add("description", description);
        for e in events {
            f.push_list("enabled_events", e);
        }
        self.post("/v1/webhook_endpoints", &f, o).await
    }

    /// Legacy charges whose metadata `key` is `value` (the reconciler's search for V1 payments).
    pub async fn search_charges(
        &self,
        key: &str,
        value: &str,
        o: &RequestOptions,
    ) -> Result<List<Charge>, StripeError> {
        let mut f = Form::new();
        let clean = |s: &str| s.replace(['\'', '\\'], "");
        f.add(
            "query",
            format!("metadata['{}']:'{}'", clean(key), clean(value)),
        );
        self.get("/v1/charges/search", &f, o).await
    }
}
