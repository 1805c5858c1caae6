//! Autoresponder emails end to end: payments against the Stripe emulator, the outbox, and a real
//! SMTP dialogue with the testkit's sink.

use kassa_api::service::email_events::{enqueue, Event};
use kassa_api::service::email_sender::deliver_due;
use kassa_api::smtp::SmtpConfig;
use kassa_testkit::smtp_sink::{SinkMessage, SmtpSink};
use kassa_testkit::{Emulator, StatusCode, TestApp, SECRET_KEY};
use serde_json::{json, Value};

const MIN: i64 = 60_000;

fn card(n: &str) -> Value {
    json!({"number": n, "exp_month": 12, "exp_year": 2034, "cvc": "123"})
}

/// A gateway with customer service and a descriptor; `kassa_receipts` sets
/// `disable_email_receipt` (Kassa, not Stripe, sends the receipts).
fn gateway(kassa_receipts: bool) -> Value {
    json!({"disable_email_receipt": kassa_receipts, "descriptor": "KASSA BOXES",
        "customer_service": {"phone": "+1 800 555 0199", "email": "help@shop.example", "url": "https://shop.example/help"}})
}

struct Shop {
    app: TestApp,
    emu: Emulator,
    sink: SmtpSink,
    cfg: SmtpConfig,
    gw: i64,
    group: i64,
    acct: i64,
}

async fn shop(kassa_receipts: bool) -> Shop {
    let app = TestApp::spawn().await;
    let emu = Emulator::spawn().await;
    let sink = SmtpSink::spawn().await;
    let cfg = SmtpConfig::parse(&sink.url(), "Shop <noreply@shop.example>").unwrap();
    let (gw, group) = app.emulator_gateway(&emu, gateway(kassa_receipts)).await;
    let acct = app.account("C-1", group).await;
    Shop {
        app,
        emu,
        sink,
        cfg,
        gw,
        group,
        acct,
    }
}

impl Shop {
    /// One sender pass at `now`.
    async fn deliver_at(&self, now: i64) -> usize {
        deliver_due(&self.app.state(), &self.cfg, now)
            .await
            .unwrap()
    }

    async fn deliver(&self) -> usize {
        self.deliver_at(kassa_storage::now_millis()).await
    }

    async fn outbox(&self, query: &str) -> Vec<Value> {
        let r = self.app.get(&format!("/v1/email_outbox{query}")).await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        r.body["data"].as_array().unwrap().clone()
    }

    async fn pay(&self, amount: i64) -> Value {
        let r = self.app.post("/v1/payments", &json!({"acct_no": self.acct, "card": card("4242424242424242"), "amount": amount, "currency": "usd", "products": [{"name": "Widget"}]})).await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
        r.body
    }

    async fn receipt_email(&self, payment_id: &str) -> Value {
        let p = self
            .app
            .get(&format!("/v1/payments/{payment_id}"))
            .await
            .body;
        let pi = p["processor_payment_id"].as_str().unwrap();
        self.emu
            .get(SECRET_KEY, &format!("/v1/payment_intents/{pi}"))
            .await["receipt_email"]
            .clone()
    }
}

/// The gateway's customer service (and, on receipts, its descriptor) filled in; sent to the
/// customer from the configured sender.
fn assert_customer_service(m: &SinkMessage) {
    let body = m.body();
    let descriptor = if m.subject().contains("declined") {
        None
    } else {
        Some("KASSA BOXES")
    };
    for want in [
        "+1 800 555 0199",
        "help@shop.example",
        "https://shop.example/help",
    ]
    .into_iter()
    .chain(descriptor)
    {
        assert!(body.contains(want), "{want} missing from:\n{body}");
    }
    assert_eq!(m.header("Reply-To").as_deref(), Some("help@shop.example"));
    assert_eq!(
        m.header("From").as_deref(),
        Some("Shop <noreply@shop.example>")
    );
    assert_eq!(m.rcpt_to, vec!["ada@example.com"]);
    assert_eq!(m.mail_from, "noreply@shop.example");
}

#[tokio::test]
async fn an_order_on_a_gateway_without_stripe_receipts_gets_kassas_confirmation() {
    let s = shop(true).await;
    let (campaign, product) = s
        .app
        .recurring_product(
            s.gw,
            json!({"prices": [499, 2999], "interval_unit": "days", "interval_count": 30}),
        )
        .await;
    let o = s
        .app
        .order_with_card(campaign, s.acct, product, "4242424242424242")
        .await;
    let order_id = o["id"].as_str().unwrap();
    let payment_id = o["payment_id"].as_str().unwrap();
    assert_eq!(
        s.receipt_email(payment_id).await,
        Value::Null,
        "Stripe sends no receipt"
    );
    let queued = s.outbox("").await;
    assert_eq!(queued.len(), 1, "{queued:?}");
    assert_eq!(
        (queued[0]["kind"].as_str(), queued[0]["status"].as_str()),
        (Some("order_confirmation"), Some("queued"))
    );
    assert_eq!(s.deliver().await, 1);
    let m = s.sink.messages();
    assert_eq!(m.len(), 1);
    assert_eq!(
        m[0].subject(),
        format!("Your order {order_id} is confirmed")
    );
    assert_customer_service(&m[0]);
    let body = m[0].body();
    assert!(body.starts_with("Hello Ada,"), "{body}");
    assert!(body.contains("Amount: $4.99"), "{body}");
    assert!(body.contains("Products: Box"), "{body}");
    assert!(body.contains("Visa ending in 4242"), "{body}");
    let sent = &s.outbox("?status=sent").await[0];
    assert_eq!(
        (sent["attempts"].as_i64(), sent["payment_id"].as_str()),
        (Some(1), Some(payment_id))
    );
    // Nothing twice: another pass sends nothing more.
    assert_eq!(s.deliver().await, 0);
    assert_eq!(s.sink.messages().len(), 1);
}

#[tokio::test]
async fn when_stripe_sends_the_receipt_kassa_does_not_but_declines_are_always_kassas() {
    let s = shop(false).await;
    let (campaign, product) = s
        .app
        .recurring_product(
            s.gw,
            json!({"prices": [499, 2999], "interval_unit": "days", "interval_count": 30}),
        )
        .await;
    let o = s
        .app
        .order_with_card(campaign, s.acct, product, "4242424242424242")
        .await;
    assert_eq!(
        s.receipt_email(o["payment_id"].as_str().unwrap()).await,
        "ada@example.com"
    );
    let p = s.pay(1500).await;
    s.app
        .post(
            &format!("/v1/payments/{}/refunds", p["id"].as_str().unwrap()),
            &json!({"amount": 500}),
        )
        .await;
    assert_eq!(
        s.outbox("").await.len(),
        0,
        "no receipt, no refund email from Kassa"
    );
    // A declined order: Stripe never sends a decline notice, so Kassa does.
    let r = s.app.post("/v1/orders", &json!({"campaign_id": campaign, "acct_no": s.acct, "items": [{"product_id": product}], "card": card("4000000000000002")})).await;
    assert_eq!(r.status, StatusCode::PAYMENT_REQUIRED, "{:?}", r.body);
    assert_eq!(s.deliver().await, 1);
    let m = s.sink.messages();
    assert_eq!(m.len(), 1);
    assert_eq!(m[0].subject(), "Your payment of $4.99 was declined");
    assert!(
        m[0].body().contains("Your card was declined."),
        "{}",
        m[0].body()
    );
    assert_customer_service(&m[0]);
    let e = &s.outbox("?kind=decline_notice").await;
    assert_eq!(e.len(), 1);
    assert_eq!(e[0]["payment_id"], r.body["error"]["payment_id"]);
}

#[tokio::test]
async fn refunds_and_rebills_get_their_emails() {
    let s = shop(true).await;
    let p = s.pay(1500).await;
    let id = p["id"].as_str().unwrap();
    for amount in [500, 250] {
        let r = s
            .app
            .post(
                &format!("/v1/payments/{id}/refunds"),
                &json!({"amount": amount}),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    }
    let (campaign, product) = s
        .app
        .recurring_product(
            s.gw,
            json!({"prices": [499, 2999], "interval_unit": "days", "interval_count": 30}),
        )
        .await;
    let o = s
        .app
        .order_with_card(campaign, s.acct, product, "4242424242424242")
        .await;
    let pur = o["purchases"][0]["id"].as_str().unwrap();
    let r = s
        .app
        .post(&format!("/v1/purchases/{pur}/bill_now"), &json!({}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(s.deliver().await, 5);
    let mut subjects: Vec<String> = s.sink.messages().iter().map(SinkMessage::subject).collect();
    subjects.sort();
    let mut want = vec![
        "Receipt for your subscription: $29.99".to_string(),
        format!("Your order {id} is confirmed"),
        format!("Your order {} is confirmed", o["id"].as_str().unwrap()),
        "Your refund of $2.50".to_string(),
        "Your refund of $5.00".to_string(),
    ];
    want.sort();
    assert_eq!(subjects, want);
    let messages = s.sink.messages();
    let rebill = messages
        .iter()
        .find(|m| m.subject().starts_with("Receipt"))
        .unwrap();
    assert_customer_service(rebill);
    let next = r.body["next_bill_at"].as_str().unwrap()[..10].to_string();
    assert!(
        rebill.body().contains("(billing cycle 2)"),
        "{}",
        rebill.body()
    );
    assert!(
        rebill
            .body()
            .contains(&format!("Next billing date: {next}")),
        "{}",
        rebill.body()
    );
    let refund = messages
        .iter()
        .find(|m| m.subject() == "Your refund of $5.00")
        .unwrap();
    assert!(
        refund.body().contains(&format!("of your payment {id}")),
        "{}",
        refund.body()
    );
    assert_customer_service(refund);
}

#[tokio::test]
async fn an_edited_template_changes_the_next_email_and_a_bad_one_is_refused() {
    let s = shop(true).await;
    let r = s.app.get("/v1/email_templates").await;
    assert_eq!(r.body["data"].as_array().unwrap().len(), 4);
    assert_eq!(r.body["data"][0]["customized"], false);
    let put = |body: Value| {
        let app = &s.app;
        async move {
            app.send(
                reqwest::Method::PUT,
                "/v1/email_templates/order_confirmation",
                Some(&body),
                &[],
            )
            .await
        }
    };
    let r = put(json!({"subject": "Thanks {{ first_name }}!", "body": "Call {{cs_phone}} about {{products}} ({{descriptor}})."})).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["customized"], true);
    // Refused, naming the field; nothing saved.
    let r = put(json!({"subject": "Hi", "body": "Dear {{foo}}"})).await;
    assert_eq!(
        (r.status, r.param()),
        (StatusCode::BAD_REQUEST, Some("body"))
    );
    assert_eq!(r.body["error"]["message"], "body: unknown token {{foo}}");
    let r = put(json!({"subject": "Hi\r\nBcc: all@example.com"})).await;
    assert_eq!(
        (r.status, r.param()),
        (StatusCode::BAD_REQUEST, Some("subject"))
    );
    let r = put(json!({"colour": "red"})).await;
    assert_eq!(
        (r.status, r.param()),
        (StatusCode::BAD_REQUEST, Some("colour"))
    );
    let t = s
        .app
        .get("/v1/email_templates/order_confirmation")
        .await
        .body;
    assert_eq!(t["subject"], "Thanks {{ first_name }}!");
    assert_eq!(
        s.app.get("/v1/email_templates/welcome").await.status,
        StatusCode::NOT_FOUND
    );
    // The preview fills sample data, and a gateway's customer service when named.
    let r = s
        .app
        .post(
            "/v1/email_templates/order_confirmation/preview",
            &json!({"gateway_id": s.gw}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["subject"], "Thanks Ada!");
    assert_eq!(
        r.body["body"],
        "Call +1 800 555 0199 about Sample product (KASSA BOXES)."
    );
    let r = s
        .app
        .post(
            "/v1/email_templates/refund/preview",
            &json!({"body": "{{nope}}"}),
        )
        .await;
    assert_eq!(
        (r.status, r.param()),
        (StatusCode::BAD_REQUEST, Some("body"))
    );

    s.pay(1000).await;
    s.deliver().await;
    let m = s.sink.messages();
    assert_eq!(m[0].subject(), "Thanks Ada!");
    assert_eq!(
        m[0].body(),
        "Call +1 800 555 0199 about Widget (KASSA BOXES).\n"
    );
    // Switched off: nothing is queued.
    assert_eq!(put(json!({"enabled": false})).await.status, StatusCode::OK);
    s.pay(1000).await;
    assert_eq!(s.outbox("").await.len(), 1);
}

#[tokio::test]
async fn a_refusing_or_down_server_keeps_the_email_queued_until_a_later_pass() {
    let s = shop(true).await;
    // A little ahead of the clock: due emails are those queued before `now`.
    let ahead = || kassa_storage::now_millis() + 1_000;
    s.pay(1000).await;
    let now = ahead();
    s.sink.refuse(Some((451, "4.3.0 try again later")));
    assert_eq!(s.deliver_at(now).await, 1);
    let e = s.outbox("").await[0].clone();
    assert_eq!(
        (e["status"].as_str(), e["attempts"].as_i64()),
        (Some("queued"), Some(1))
    );
    assert!(e["last_error"].as_str().unwrap().contains("451"), "{e}");
    assert_eq!(
        s.deliver_at(now).await,
        0,
        "not due before the schedule says"
    );
    s.sink.refuse(None);
    assert_eq!(s.deliver_at(now + 2 * MIN).await, 1);
    let e = s.outbox("").await[0].clone();
    assert_eq!(
        (e["status"].as_str(), e["attempts"].as_i64()),
        (Some("sent"), Some(2))
    );
    assert_eq!(s.sink.messages().len(), 1);

    // Down: nothing listens.
    s.pay(1100).await;
    let now = ahead();
    s.sink.down().await;
    assert_eq!(s.deliver_at(now).await, 1);
    let e = s.outbox("?status=queued").await[0].clone();
    assert!(
        e["last_error"].as_str().unwrap().starts_with("connection:"),
        "{e}"
    );
    s.sink.up().await;
    assert_eq!(s.deliver_at(now + 2 * MIN).await, 1);
    assert_eq!(s.sink.messages().len(), 2);

    // Refused for good (5xx): failed at once; an operator's retry sends it.
    s.pay(1200).await;
    let now = ahead();
    s.sink.refuse(Some((550, "5.1.1 no such user")));
    s.deliver_at(now).await;
    let e = s.outbox("?status=failed").await[0].clone();
    assert_eq!(e["attempts"], 1);
    let id = e["id"].as_i64().unwrap();
    s.sink.refuse(None);
    let (_, other_key) = s.app.new_client("Other").await;
    let other = s
        .app
        .send_as(
            &other_key,
            reqwest::Method::POST,
            &format!("/v1/email_outbox/{id}/retry"),
            Some(&json!({})),
            &[],
        )
        .await;
    assert_eq!(
        other.status,
        StatusCode::NOT_FOUND,
        "another client's email"
    );
    let other = s
        .app
        .send_as(
            &other_key,
            reqwest::Method::GET,
            "/v1/email_outbox",
            None,
            &[],
        )
        .await;
    assert_eq!(other.body["data"], json!([]));
    let r = s
        .app
        .post(&format!("/v1/email_outbox/{id}/retry"), &json!({}))
        .await;
    assert_eq!(
        (r.status, r.body["status"].as_str()),
        (StatusCode::OK, Some("queued"))
    );
    assert_eq!(s.deliver().await, 1);
    assert_eq!(s.sink.messages().len(), 3);
    let r = s
        .app
        .post(&format!("/v1/email_outbox/{id}/retry"), &json!({}))
        .await;
    assert_eq!(
        r.status,
        StatusCode::CONFLICT,
        "a sent email is not sent again"
    );
    // The schedule runs out: failed.
    s.pay(1300).await;
    s.sink.refuse(Some((421, "busy")));
    let mut at = ahead();
    for _ in 0..6 {
        s.deliver_at(at).await;
        at += 7 * 3600 * 1000;
    }
    let e = &s.outbox("?status=failed").await[0];
    assert_eq!(
        (e["attempts"].as_i64(), e["payment_id"].is_string()),
        (Some(6), true)
    );
}

#[tokio::test]
async fn one_event_is_emailed_once() {
    let s = shop(true).await;
    let key = [("Idempotency-Key", "pay-once")];
    let body = json!({"acct_no": s.acct, "card": card("4242424242424242"), "amount": 1000, "currency": "usd"});
    let first = s
        .app
        .send(reqwest::Method::POST, "/v1/payments", Some(&body), &key)
        .await;
    let again = s
        .app
        .send(reqwest::Method::POST, "/v1/payments", Some(&body), &key)
        .await;
    assert_eq!(first.body["id"], again.body["id"]);
    // The same event queued again (a replay, a second worker): still one email.
    let rec = s
        .app
        .store
        .get_payment(s.app.client_no, first.body["id"].as_str().unwrap())
        .await
        .unwrap();
    enqueue(&s.app.state(), &rec, Event::for_outcome(&rec).unwrap()).await;
    assert_eq!(s.outbox("").await.len(), 1);
    s.deliver().await;
    s.deliver().await;
    assert_eq!(s.sink.messages().len(), 1);
    // No address, no email (and the payment is not troubled).
    let r = s
        .app
        .post(
            "/v1/accounts",
            &json!({"client_acct_id": "C-2", "first_name": "Bo", "collection_group_no": s.group}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let p = s.app.post("/v1/payments", &json!({"acct_no": r.body["acct_no"], "card": card("4242424242424242"), "amount": 1000, "currency": "usd"})).await;
    assert_eq!(p.status, StatusCode::CREATED, "{:?}", p.body);
    assert_eq!(s.outbox("").await.len(), 1);
    // A fraud score's probe (an authorization voided at once) is no order, approved or declined.
    for number in ["4242424242424242", "4000000000000002"] {
        let r = s.app.post("/v1/fraud_scores", &json!({"acct_no": s.acct, "card": card(number), "amount": 5000, "currency": "usd"})).await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    }
    assert_eq!(s.outbox("").await.len(), 1);
}
