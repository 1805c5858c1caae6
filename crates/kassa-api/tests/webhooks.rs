//! Stripe webhooks in: events signed by the test itself, posted to Kassa's endpoint.

use kassa_testkit::reqwest::Method;
use kassa_testkit::{Emulator, StatusCode, TestApp};
use serde_json::{json, Value};
use std::time::Duration;

const SECRET: &str = "whsec_gatewaysecret00000001";
const OLD_SECRET: &str = "whsec_gatewaysecret0000old0";

fn now() -> i64 {
    kassa_storage::now_millis() / 1000
}

/// Posts an event signed with `secrets` at time `t`; returns the reply.
async fn deliver(
    app: &TestApp,
    path: &str,
    event: &Value,
    secrets: &[&str],
    t: i64,
) -> kassa_testkit::Reply {
    let body = serde_json::to_vec(event).unwrap();
    let sig = kassa_secrets::sign_stripe(&body, t, secrets);
    let resp = app
        .http
        .post(app.url(path))
        .header("Stripe-Signature", sig)
        .header("Content-Type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    kassa_testkit::read(resp).await
}

/// Waits until the stored event has been applied (or ignored, or failed).
async fn settled(app: &TestApp, event_id: &str) -> Value {
    for _ in 0..100 {
        let list = app.get("/v1/webhook_events?limit=100").await.body;
        if let Some(e) = list["data"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["event_id"] == event_id)
        {
            if !matches!(e["status"].as_str(), Some("received") | Some("applying")) {
                return e.clone();
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("event {event_id} was not applied");
}

fn event(id: &str, kind: &str, created: i64, object: Value) -> Value {
    json!({"id": id, "object": "event", "type": kind, "created": created, "api_version": "2026-06-24.dahlia", "livemode": false, "data": {"object": object}})
}

/// Stores a verified event as the receiving endpoint would, without applying it (what a crash
/// right after the insert leaves, or a delivery the test makes up).
async fn store_event(app: &TestApp, gw: i64, id: &str, kind: &str, object: Value) {
    let rec = kassa_storage::WebhookEventRecord {
        client_no: app.client_no,
        gateway_id: Some(gw),
        event_id: id.into(),
        event_type: kind.into(),
        event_created: now(),
        payload: event(id, kind, now(), object).to_string(),
        verification: "verified".into(),
        status: "received".into(),
        ..Default::default()
    };
    app.store.insert_webhook_event(&rec).await.unwrap();
}

async fn setup() -> (TestApp, Emulator, i64, i64, Value) {
    let app = TestApp::spawn().await;
    let emu = Emulator::spawn().await;
    let (gw, group) = app
        .emulator_gateway(
            &emu,
            json!({"webhook_secrets": [OLD_SECRET, SECRET], "limits": {"chargeback_fee": 1500}}),
        )
        .await;
    let acct = app.account("C-1", group).await;
    let pm = app.post(&format!("/v1/accounts/{acct}/payment_methods"), &json!({"card": {"number": "4242424242424242", "exp_month": 12, "exp_year": 2030, "cvc": "123"}})).await.body;
    (app, emu, gw, acct, pm)
}

#[tokio::test]
async fn account_updater_changes_the_stored_card_once() {
    let (app, _emu, gw, acct, pm) = setup().await;
    let no = pm["payment_method_no"].as_i64().unwrap();
    let updated = event(
        "evt_au_1",
        "payment_method.automatically_updated",
        now(),
        json!({"id": kassa_testkit::stripe_payment_method(&pm), "object": "payment_method", "card": {"brand": "visa", "last4": "1111", "exp_month": 1, "exp_year": 2032, "fingerprint": "fpNEW"}}),
    );
    let r = deliver(
        &app,
        &format!("/webhooks/stripe/{}", app.client_no),
        &updated,
        &[SECRET],
        now(),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["duplicate"], false);
    let e = settled(&app, "evt_au_1").await;
    assert_eq!(e["status"], "applied", "{e}");
    assert_eq!(e["gateway_id"], gw);
    let card = app
        .get(&format!("/v1/accounts/{acct}/payment_methods/{no}"))
        .await
        .body;
    assert_eq!(
        (
            card["last4"].as_str(),
            card["exp_month"].as_i64(),
            card["exp_year"].as_i64()
        ),
        (Some("1111"), Some(1), Some(2032))
    );
    assert_eq!(card["fingerprint"], "fpNEW");
    // Redelivered: acknowledged, changes nothing twice.
    let again = deliver(
        &app,
        &format!("/webhooks/stripe/{}", app.client_no),
        &updated,
        &[SECRET],
        now(),
    )
    .await;
    assert_eq!(again.body["duplicate"], true);
    let history = app
        .get(&format!("/v1/accounts/{acct}/payment_methods/{no}/history"))
        .await
        .body;
    let entries = history["data"].as_array().unwrap();
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0]["changes"]["from"]["last4"], "4242");
    assert_eq!(entries[0]["changes"]["to"]["last4"], "1111");
    assert_eq!(entries[0]["source"], "evt_au_1");
}

#[tokio::test]
async fn signatures_are_checked_exactly() {
    let (app, _emu, _gw, _acct, pm) = setup().await;
    let path = format!("/webhooks/stripe/{}", app.client_no);
    let ev = event(
        "evt_sig_1",
        "payment_method.updated",
        now(),
        json!({"id": kassa_testkit::stripe_payment_method(&pm), "card": {"exp_month": 3, "exp_year": 2031}}),
    );
    let wrong = deliver(&app, &path, &ev, &["whsec_notours0000000000"], now()).await;
    assert_eq!(wrong.status, StatusCode::BAD_REQUEST);
    assert!(
        wrong.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("signature"),
        "{:?}",
        wrong.body
    );
    let stale = deliver(&app, &path, &ev, &[SECRET], now() - 301).await;
    assert_eq!(stale.status, StatusCode::BAD_REQUEST);
    assert!(
        stale.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("tolerance"),
        "{:?}",
        stale.body
    );
    // Unsigned.
    let resp = app
        .http
        .post(app.url(&path))
        .body(serde_json::to_vec(&ev).unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    // Nothing was applied; the refusals are listed.
    let rejected = app.get("/v1/webhook_events?status=rejected").await.body;
    assert_eq!(rejected["data"].as_array().unwrap().len(), 3);
    // The old secret of a rotation still verifies.
    let ok = deliver(&app, &path, &ev, &[OLD_SECRET], now()).await;
    assert_eq!(ok.status, StatusCode::OK, "{:?}", ok.body);
    assert_eq!(settled(&app, "evt_sig_1").await["status"], "applied");
    // Unknown client.
    assert_eq!(
        deliver(&app, "/webhooks/stripe/999", &ev, &[SECRET], now())
            .await
            .status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn an_older_event_never_overwrites_a_newer_one() {
    let (app, _emu, _gw, acct, pm) = setup().await;
    let path = format!("/webhooks/stripe/{}", app.client_no);
    let t = now();
    let newer = event(
        "evt_new",
        "payment_method.automatically_updated",
        t,
        json!({"id": kassa_testkit::stripe_payment_method(&pm), "card": {"last4": "2222", "exp_month": 5, "exp_year": 2033}}),
    );
    let older = event(
        "evt_old",
        "payment_method.automatically_updated",
        t - 60,
        json!({"id": kassa_testkit::stripe_payment_method(&pm), "card": {"last4": "3333", "exp_month": 4, "exp_year": 2031}}),
    );
    deliver(&app, &path, &newer, &[SECRET], now()).await;
    settled(&app, "evt_new").await;
    deliver(&app, &path, &older, &[SECRET], now()).await;
    assert_eq!(settled(&app, "evt_old").await["status"], "ignored");
    let card = app
        .get(&format!(
            "/v1/accounts/{acct}/payment_methods/{}",
            pm["payment_method_no"]
        ))
        .await
        .body;
    assert_eq!(card["last4"], "2222");
}

#[tokio::test]
async fn a_crash_between_storing_and_applying_loses_nothing() {
    let (app, _emu, gw, acct, pm) = setup().await;
    // What a crash right after the insert leaves: the event stored, never applied.
    store_event(
        &app,
        gw,
        "evt_crash",
        "payment_method.detached",
        json!({"id": kassa_testkit::stripe_payment_method(&pm), "customer": null}),
    )
    .await;
    let applied = kassa_api::service::webhooks::catch_up(&app.state(), 0, 0)
        .await
        .unwrap();
    assert_eq!(applied, 1);
    assert_eq!(settled(&app, "evt_crash").await["status"], "applied");
    let card = app
        .get(&format!(
            "/v1/accounts/{acct}/payment_methods/{}",
            pm["payment_method_no"]
        ))
        .await
        .body;
    assert_eq!(card["status"], "detached");
    let r = app.post("/v1/payments", &json!({"acct_no": acct, "payment_method_no": pm["payment_method_no"], "amount": 100, "currency": "usd"})).await;
    assert_eq!(
        r.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "a detached card is never charged again"
    );
}

#[tokio::test]
async fn group_urls_use_the_group_secret() {
    let (app, _emu, gw, _acct, pm) = setup().await;
    let g = app.post("/v1/collection_groups", &json!({"name": "Own secret", "gateway_id": gw, "webhook_secrets": ["whsec_groupsecret000000001"]})).await.body;
    let no = g["group_no"].as_i64().unwrap();
    let ev = event(
        "evt_grp",
        "payment_method.updated",
        now(),
        json!({"id": kassa_testkit::stripe_payment_method(&pm), "card": {"exp_month": 7, "exp_year": 2031}}),
    );
    let on_client_url = deliver(
        &app,
        &format!("/webhooks/stripe/{}", app.client_no),
        &ev,
        &["whsec_groupsecret000000001"],
        now(),
    )
    .await;
    assert_eq!(
        on_client_url.status,
        StatusCode::BAD_REQUEST,
        "the client URL uses the gateways' secrets"
    );
    let on_group_url = deliver(
        &app,
        &format!("/webhooks/stripe/{}/{no}", app.client_no),
        &ev,
        &["whsec_groupsecret000000001"],
        now(),
    )
    .await;
    assert_eq!(
        on_group_url.status,
        StatusCode::OK,
        "{:?}",
        on_group_url.body
    );
    let e = settled(&app, "evt_grp").await;
    assert_eq!(e["group_no"], no);
    // A group without secrets of its own falls back to its gateway's.
    let ev2 = event(
        "evt_grp2",
        "payment_method.updated",
        now(),
        json!({"id": kassa_testkit::stripe_payment_method(&pm), "card": {"exp_month": 8, "exp_year": 2031}}),
    );
    assert_eq!(
        deliver(
            &app,
            &format!("/webhooks/stripe/{}/1", app.client_no),
            &ev2,
            &[SECRET],
            now()
        )
        .await
        .status,
        StatusCode::OK
    );
    assert_eq!(
        deliver(
            &app,
            &format!("/webhooks/stripe/{}/99", app.client_no),
            &ev2,
            &[SECRET],
            now()
        )
        .await
        .status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn connected_account_events_use_that_gateway() {
    let app = TestApp::spawn().await;
    let emu = Emulator::spawn().await;
    app.emulator_gateway(&emu, json!({"webhook_secrets": [SECRET]}))
        .await;
    let (connected, _) = app.emulator_gateway(&emu, json!({"connected_account": true, "mid_number": "acct_1032D82eZvKYlo2C", "webhook_secrets": ["whsec_connectedsecret0001"]})).await;
    let ev = json!({"id": "evt_conn", "object": "event", "type": "customer.updated", "created": now(), "account": "acct_1032D82eZvKYlo2C", "data": {"object": {"id": "cus_1"}}});
    // Signed with the platform gateway's secret: not that account's gateway.
    assert_eq!(
        deliver(
            &app,
            &format!("/webhooks/stripe/{}", app.client_no),
            &ev,
            &[SECRET],
            now()
        )
        .await
        .status,
        StatusCode::BAD_REQUEST
    );
    let r = deliver(
        &app,
        &format!("/webhooks/stripe/{}", app.client_no),
        &ev,
        &["whsec_connectedsecret0001"],
        now(),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let e = settled(&app, "evt_conn").await;
    assert_eq!(
        (
            e["gateway_id"].as_i64(),
            e["account"].as_str(),
            e["status"].as_str()
        ),
        (
            Some(connected),
            Some("acct_1032D82eZvKYlo2C"),
            Some("ignored")
        ),
        "unknown types are stored and acknowledged"
    );
}

#[tokio::test]
async fn disputes_become_chargebacks() {
    let (app, _emu, _gw, acct, pm) = setup().await;
    let p = app.post("/v1/payments", &json!({"acct_no": acct, "payment_method_no": pm["payment_method_no"], "amount": 5000, "currency": "usd"})).await.body;
    let path = format!("/webhooks/stripe/{}", app.client_no);
    let dp = |status: &str| {
        json!({"id": "dp_1", "object": "dispute", "amount": 5000, "currency": "usd", "charge": p["auth_no"], "payment_intent": p["processor_payment_id"],
        "reason": "fraudulent", "status": status, "evidence_details": {"due_by": 1_900_000_000, "has_evidence": false}})
    };
    let t = now();
    deliver(
        &app,
        &path,
        &event(
            "evt_dp_created",
            "charge.dispute.created",
            t,
            dp("needs_response"),
        ),
        &[SECRET],
        now(),
    )
    .await;
    settled(&app, "evt_dp_created").await;
    deliver(
        &app,
        &path,
        &event("evt_dp_closed", "charge.dispute.closed", t + 10, dp("lost")),
        &[SECRET],
        now(),
    )
    .await;
    settled(&app, "evt_dp_closed").await;
    // A late, older update does not reopen it.
    deliver(
        &app,
        &path,
        &event(
            "evt_dp_late",
            "charge.dispute.updated",
            t + 5,
            dp("under_review"),
        ),
        &[SECRET],
        now(),
    )
    .await;
    settled(&app, "evt_dp_late").await;
    let got = app
        .get(&format!("/v1/payments/{}", p["id"].as_str().unwrap()))
        .await
        .body;
    let cb = &got["chargebacks"][0];
    assert_eq!(
        (
            cb["status"].as_str(),
            cb["outcome"].as_str(),
            cb["fee"].as_i64(),
            cb["reason"].as_str()
        ),
        (Some("lost"), Some("lost"), Some(1500), Some("fraudulent")),
        "{got}"
    );
    assert_eq!(cb["evidence_due_by"], 1_900_000_000);
    assert_eq!(got["chargebacks"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn refunds_made_outside_kassa_are_picked_up() {
    let (app, emu, _gw, acct, pm) = setup().await;
    let p = app.post("/v1/payments", &json!({"acct_no": acct, "payment_method_no": pm["payment_method_no"], "amount": 5000, "currency": "usd"})).await.body;
    // A refund in Stripe's dashboard.
    let r = kassa_testkit::reqwest::Client::new()
        .post(format!("{}/v1/refunds", emu.url))
        .bearer_auth(kassa_testkit::SECRET_KEY)
        .form(&[
            ("charge", p["auth_no"].as_str().unwrap()),
            ("amount", "2000"),
        ])
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    // The event says 3000 (a forged or garbled amount): Kassa takes Stripe's own, 2000.
    let charge = json!({"id": p["auth_no"], "object": "charge", "payment_intent": p["processor_payment_id"], "amount": 5000, "amount_captured": 5000, "amount_refunded": 3000, "refunded": false});
    deliver(
        &app,
        &format!("/webhooks/stripe/{}", app.client_no),
        &event("evt_ref", "charge.refunded", now(), charge),
        &[SECRET],
        now(),
    )
    .await;
    assert_eq!(settled(&app, "evt_ref").await["status"], "applied");
    let got = app
        .get(&format!("/v1/payments/{}", p["id"].as_str().unwrap()))
        .await
        .body;
    assert_eq!(
        (got["status"].as_str(), got["amount_refunded"].as_i64()),
        (Some("partially_refunded"), Some(2000))
    );
    // A late "canceled" for a captured payment never moves it backwards.
    let pi =
        json!({"id": p["processor_payment_id"], "object": "payment_intent", "status": "canceled"});
    deliver(
        &app,
        &format!("/webhooks/stripe/{}", app.client_no),
        &event("evt_late_cancel", "payment_intent.canceled", now(), pi),
        &[SECRET],
        now(),
    )
    .await;
    assert_eq!(settled(&app, "evt_late_cancel").await["status"], "ignored");
    assert_eq!(
        app.get(&format!("/v1/payments/{}", p["id"].as_str().unwrap()))
            .await
            .body["status"],
        "partially_refunded"
    );
    // Retry is only for failed events.
    let id = app.get("/v1/webhook_events?limit=1").await.body["data"][0]["id"]
        .as_i64()
        .unwrap();
    assert_eq!(
        app.send(
            Method::POST,
            &format!("/v1/webhook_events/{id}/retry"),
            Some(&json!({})),
            &[]
        )
        .await
        .status,
        StatusCode::CONFLICT
    );
}

/// Registered at the emulator, Kassa receives what Stripe would send: card updates, detaches,
/// disputes — signed by the emulator, verified by Kassa.
#[tokio::test]
async fn events_the_emulator_sends() {
    let app = TestApp::spawn().await;
    let emu = Emulator::spawn().await;
    let (gw, group) = app.emulator_gateway(&emu, json!({})).await;
    let acct = app.account("C-1", group).await;
    let (endpoint, url) = kassa_api::service::webhooks::register(&app.state(), gw, None)
        .await
        .unwrap();
    assert!(endpoint.starts_with("we_"));
    assert_eq!(url, app.url(&format!("/webhooks/stripe/{}", app.client_no)));
    let g = app.get(&format!("/v1/gateways/{gw}")).await.body;
    assert_eq!(g["webhook_secrets"].as_array().unwrap().len(), 1, "{g}");
    let audit = app
        .get(&format!(
            "/v1/audit_events?object_type=gateway&object_id={gw}"
        ))
        .await
        .body;
    assert!(
        audit["data"][0]["actor"]
            .as_str()
            .unwrap()
            .starts_with("cli"),
        "{audit}"
    );

    let pm = app.post(&format!("/v1/accounts/{acct}/payment_methods"), &json!({"card": {"number": "4242424242424242", "exp_month": 12, "exp_year": 2030, "cvc": "123"}})).await.body;
    let no = pm["payment_method_no"].as_i64().unwrap();
    let http = kassa_testkit::reqwest::Client::new();
    let r = http
        .post(format!(
            "{}/_emulator/payment_methods/{}/card_update",
            emu.url,
            kassa_testkit::stripe_payment_method(&pm)
        ))
        .bearer_auth(kassa_testkit::SECRET_KEY)
        .form(&[("exp_month", "2"), ("exp_year", "2033")])
        .send()
        .await
        .unwrap();
    assert!(
        r.status().is_success(),
        "{}",
        r.text().await.unwrap_or_default()
    );
    let mut updated = Value::Null;
    for _ in 0..100 {
        updated = app
            .get(&format!("/v1/accounts/{acct}/payment_methods/{no}"))
            .await
            .body;
        if updated["exp_year"] == 2033 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    assert_eq!(
        (updated["exp_month"].as_i64(), updated["exp_year"].as_i64()),
        (Some(2), Some(2033)),
        "{updated}"
    );
    let history = app
        .get(&format!("/v1/accounts/{acct}/payment_methods/{no}/history"))
        .await
        .body;
    assert_eq!(
        history["data"][0]["changes"]["event_type"],
        "payment_method.automatically_updated"
    );

    // A dispute opened at Stripe becomes a chargeback on the payment.
    let p = app
        .post(
            "/v1/payments",
            &json!({"acct_no": acct, "payment_method_no": no, "amount": 3000, "currency": "usd"}),
        )
        .await
        .body;
    let r = http
        .post(format!(
            "{}/_emulator/charges/{}/dispute",
            emu.url,
            p["auth_no"].as_str().unwrap()
        ))
        .bearer_auth(kassa_testkit::SECRET_KEY)
        .form(&[("reason", "product_not_received")])
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    let mut got = Value::Null;
    for _ in 0..100 {
        got = app
            .get(&format!("/v1/payments/{}", p["id"].as_str().unwrap()))
            .await
            .body;
        if got["chargebacks"].as_array().is_some_and(|c| !c.is_empty()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    assert_eq!(
        got["chargebacks"][0]["reason"], "product_not_received",
        "{got}"
    );
    assert_eq!(got["chargebacks"][0]["status"], "needs_response");

    // Detached at Stripe: never charged again.
    http.post(format!(
        "{}/v1/payment_methods/{}/detach",
        emu.url,
        kassa_testkit::stripe_payment_method(&pm)
    ))
    .bearer_auth(kassa_testkit::SECRET_KEY)
    .send()
    .await
    .unwrap();
    let mut status = Value::Null;
    for _ in 0..100 {
        status = app
            .get(&format!("/v1/accounts/{acct}/payment_methods/{no}"))
            .await
            .body["status"]
            .clone();
        if status == "detached" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    assert_eq!(status, "detached");
}

/// Stripe's `refundFail` card: the refund is answered `succeeded`, then fails. Kassa hears
/// `refund.failed`, gives the payment its amount back and marks the refund's transaction failed
/// — once, however often the event arrives.
#[tokio::test]
async fn a_refund_that_fails_after_success_is_reversed() {
    let app = TestApp::spawn().await;
    let emu = Emulator::spawn().await;
    let (gw, group) = app.emulator_gateway(&emu, json!({})).await;
    let acct = app.account("C-1", group).await;
    kassa_api::service::webhooks::register(&app.state(), gw, None)
        .await
        .unwrap();
    let pm = app.post(&format!("/v1/accounts/{acct}/payment_methods"), &json!({"card": {"number": "4000000000005126", "exp_month": 12, "exp_year": 2030, "cvc": "123"}})).await.body;
    let p = app
        .post(
            "/v1/payments",
            &json!({"acct_no": acct, "payment_method_no": pm["payment_method_no"], "amount": 5000, "currency": "usd"}),
        )
        .await
        .body;
    assert_eq!(p["status"], "captured", "{p}");
    let id = p["id"].as_str().unwrap();
    let r = app
        .post(
            &format!("/v1/payments/{id}/refunds"),
            &json!({"amount": 2000}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(
        r.body["status"], "partially_refunded",
        "the answer is a success"
    );
    let mut after = Value::Null;
    for _ in 0..150 {
        after = app.get(&format!("/v1/payments/{id}")).await.body;
        if after["amount_refunded"] == 0 {
            break;
        }
        // What `serve`'s catch-up loop does: events that met the refund call still under way
        // wait for a later pass.
        kassa_api::service::webhooks::catch_up(&app.state(), 0, 60_000)
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let seen = app.get("/v1/webhook_events?limit=100").await.body;
    assert_eq!(after["amount_refunded"], 0, "{after}\nevents: {seen}");
    assert_eq!(after["status"], "captured", "{after}");
    let failed: Vec<&Value> = after["transactions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["kind"] == "refund")
        .collect();
    assert_eq!(failed.len(), 1, "{after}");
    assert_eq!(failed[0]["status"], "failed", "{after}");
    let events = app.get("/v1/webhook_events?limit=100").await.body;
    let ev = events["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["event_type"] == "refund.failed")
        .cloned()
        .expect("refund.failed received");
    let ev = settled(&app, ev["event_id"].as_str().unwrap()).await;
    assert_eq!(ev["status"], "applied", "{ev}");

    // Stripe's refund says the same; the same failure under another event id changes nothing.
    let refund_id = failed[0]["processor_id"].as_str().unwrap();
    let refund = emu
        .get(
            kassa_testkit::SECRET_KEY,
            &format!("/v1/refunds/{refund_id}"),
        )
        .await;
    assert_eq!(refund["status"], "failed");
    assert_eq!(refund["failure_reason"], "expired_or_canceled_card");
    store_event(&app, gw, "evt_refund_failed_again", "refund.failed", refund).await;
    kassa_api::service::webhooks::catch_up(&app.state(), 0, 0)
        .await
        .unwrap();
    assert_eq!(
        settled(&app, "evt_refund_failed_again").await["status"],
        "ignored"
    );
    let again = app.get(&format!("/v1/payments/{id}")).await.body;
    assert_eq!(
        (again["amount_refunded"].as_i64(), again["status"].as_str()),
        (Some(0), Some("captured"))
    );
    // A second refund on the same payment still works.
    let r = app
        .post(
            &format!("/v1/payments/{id}/refunds"),
            &json!({"amount": 5000}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
}

/// A `refund.failed` that meets the payment while a gateway call on it is under way waits for
/// the next catch-up pass (it is not failed, and changes nothing yet).
#[tokio::test]
async fn a_refund_failure_waits_while_the_payment_is_busy() {
    let (app, emu, gw, acct, pm) = setup().await;
    let p = app.post("/v1/payments", &json!({"acct_no": acct, "payment_method_no": pm["payment_method_no"], "amount": 4000, "currency": "usd"})).await.body;
    let id = p["id"].as_str().unwrap();
    let r = app
        .post(
            &format!("/v1/payments/{id}/refunds"),
            &json!({"amount": 1500}),
        )
        .await;
    assert_eq!(r.body["amount_refunded"], 1500, "{}", r.body);
    let refund_id = r.body["transactions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["kind"] == "refund")
        .and_then(|t| t["processor_id"].as_str())
        .unwrap()
        .to_string();
    let mut refund = emu
        .get(
            kassa_testkit::SECRET_KEY,
            &format!("/v1/refunds/{refund_id}"),
        )
        .await;
    refund["status"] = json!("failed");
    refund["failure_reason"] = json!("lost_or_stolen_card");
    kassa_storage::testing::execute(
        &app.store,
        &format!("UPDATE payments SET busy_txn = 'txn_busy' WHERE id = '{id}'"),
    )
    .await
    .unwrap();
    store_event(&app, gw, "evt_refund_failed_busy", "refund.failed", refund).await;
    let state = app.state();
    kassa_api::service::webhooks::catch_up(&state, 0, 0)
        .await
        .unwrap();
    let waiting = app.get("/v1/webhook_events?type=refund.failed").await.body;
    assert_eq!(waiting["data"][0]["status"], "received", "{waiting}");
    let unchanged = app.get(&format!("/v1/payments/{id}")).await.body;
    assert_eq!(unchanged["amount_refunded"], 1500);
    // The call finishes; the next pass applies the failure.
    kassa_storage::testing::execute(
        &app.store,
        &format!("UPDATE payments SET busy_txn = NULL WHERE id = '{id}'"),
    )
    .await
    .unwrap();
    kassa_api::service::webhooks::catch_up(&state, 0, 0)
        .await
        .unwrap();
    assert_eq!(
        settled(&app, "evt_refund_failed_busy").await["status"],
        "applied"
    );
    let after = app.get(&format!("/v1/payments/{id}")).await.body;
    assert_eq!(
        (after["amount_refunded"].as_i64(), after["status"].as_str()),
        (Some(0), Some("captured")),
        "{after}"
    );
    let usage = app.get(&format!("/v1/gateways/{gw}/usage")).await.body;
    assert_eq!(usage["refunded"], 0, "{usage}");
}
