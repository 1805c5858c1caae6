//! Recurring billing end to end against the emulator, with a simulated clock: the scheduler is
//! run at chosen times.

use kassa_api::service::billing::run_due;
use kassa_testkit::{Emulator, StatusCode, TestApp, SECRET_KEY};
use serde_json::{json, Value};

const DAY: i64 = 86_400_000;

fn card(n: &str) -> Value {
    json!({"number": n, "exp_month": 12, "exp_year": 2034, "cvc": "123"})
}

struct Shop {
    app: TestApp,
    emu: Emulator,
    acct: i64,
    campaign: i64,
    recurring: i64,
    one_time: i64,
}

async fn shop(schedule: Value) -> Shop {
    let app = TestApp::spawn().await;
    let emu = Emulator::spawn().await;
    let (gw, group) = app.emulator_gateway(&emu, json!({})).await;
    let acct = app.account("C-1", group).await;
    let c = app
        .post(
            "/v1/campaigns",
            &json!({"name": "Gateway test (phone)", "currency": "usd", "is_test": true}),
        )
        .await;
    assert_eq!(c.status, StatusCode::CREATED, "{:?}", c.body);
    let campaign = c.body["id"].as_i64().unwrap();
    let r = app
        .post(
            &format!("/v1/campaigns/{campaign}/products"),
            &json!({"name": "Serum", "sku": "SER-1", "schedule": schedule, "gateway_id": gw}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let o = app
        .post(
            &format!("/v1/campaigns/{campaign}/products"),
            &json!({"name": "Test offer", "price": 100, "gateway_id": gw}),
        )
        .await;
    Shop {
        app,
        emu,
        acct,
        campaign,
        recurring: r.body["id"].as_i64().unwrap(),
        one_time: o.body["id"].as_i64().unwrap(),
    }
}

async fn order(s: &Shop) -> Value {
    let r = s.app.post("/v1/orders", &json!({"campaign_id": s.campaign, "acct_no": s.acct, "items": [{"product_id": s.recurring}, {"product_id": s.one_time}], "card": card("4242424242424242")})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    r.body
}

async fn purchase(s: &Shop, id: &str) -> Value {
    s.app.get(&format!("/v1/purchases/{id}")).await.body
}

fn next_at(p: &Value) -> i64 {
    let t = p["next_bill_at"].as_str().unwrap();
    (time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339)
        .unwrap()
        .unix_timestamp_nanos()
        / 1_000_000) as i64
}

#[tokio::test]
async fn a_recurring_offer_through_its_cycles() {
    let s = shop(json!({"prices": [499, 2999, 1999], "interval_unit": "days", "interval_count": 30, "final_cycle": 4})).await;
    let o = order(&s).await;
    assert_eq!(
        o["amount"], 599,
        "cycle 1 of the offer plus the one-time product"
    );
    let pur = o["purchases"][0]["id"].as_str().unwrap().to_string();
    let p = purchase(&s, &pur).await;
    assert_eq!(
        (p["status"].as_str(), p["cycle"].as_i64()),
        (Some("active"), Some(1))
    );
    // The order answers with the purchase as it is stored (once with 1970 as its creation).
    assert_eq!(o["purchases"][0]["created_at"], p["created_at"]);
    let t0 = next_at(&p) - 30 * DAY;
    // Not due yet.
    assert_eq!(
        run_due(&s.app.state(), "w1", t0 + 29 * DAY, 50)
            .await
            .unwrap(),
        0
    );
    for (day, cycle, price) in [(31, 2, 2999), (62, 3, 1999), (93, 4, 1999)] {
        assert_eq!(
            run_due(&s.app.state(), "w1", t0 + day * DAY, 50)
                .await
                .unwrap(),
            1,
            "day {day}"
        );
        let p = purchase(&s, &pur).await;
        assert_eq!(p["cycle"], cycle);
        let a = p["attempts"].as_array().unwrap().last().unwrap().clone();
        assert_eq!(
            (a["amount"].as_i64(), a["status"].as_str()),
            (Some(price), Some("approved"))
        );
        let pay = s
            .app
            .get(&format!(
                "/v1/payments/{}",
                a["payment_id"].as_str().unwrap()
            ))
            .await
            .body;
        assert_eq!(
            (
                pay["recurring_processing_model_ind"].as_i64(),
                pay["status"].as_str()
            ),
            (Some(2), Some("captured")),
            "rebills are MITs"
        );
        let pi = s
            .emu
            .get(
                SECRET_KEY,
                &format!(
                    "/v1/payment_intents/{}",
                    pay["processor_payment_id"].as_str().unwrap()
                ),
            )
            .await;
        assert_eq!(
            pi["payment_method_options"]["card"]["stored_credential_usage"],
            "recurring"
        );
        assert_eq!(pi["metadata"]["kassa_purchase"], pur.as_str());
    }
    let p = purchase(&s, &pur).await;
    assert_eq!(
        (p["status"].as_str(), p["next_bill_at"].clone()),
        (Some("completed"), Value::Null),
        "the final cycle ends it"
    );
    assert_eq!(
        run_due(&s.app.state(), "w1", t0 + 400 * DAY, 50)
            .await
            .unwrap(),
        0
    );
}

#[tokio::test]
async fn force_bill_now_and_cancel() {
    let s =
        shop(json!({"prices": [100, 2000], "interval_unit": "months", "interval_count": 1})).await;
    let o = order(&s).await;
    let pur = o["purchases"][0]["id"].as_str().unwrap().to_string();
    let before = next_at(&purchase(&s, &pur).await);
    let r = s
        .app
        .post(&format!("/v1/purchases/{pur}/bill_now"), &json!({}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["cycle"], 2);
    assert!(next_at(&r.body) > before, "the schedule moves on from now");
    // Cancel after the next bill: billed once more, then cancelled.
    s.app
        .post(
            &format!("/v1/purchases/{pur}/cancel"),
            &json!({"after_next_bill": true}),
        )
        .await;
    let r = s
        .app
        .post(&format!("/v1/purchases/{pur}/bill_now"), &json!({}))
        .await;
    assert_eq!(
        (r.body["cycle"].as_i64(), r.body["status"].as_str()),
        (Some(3), Some("cancelled"))
    );
    let r = s
        .app
        .post(&format!("/v1/purchases/{pur}/bill_now"), &json!({}))
        .await;
    assert_eq!(
        r.status,
        StatusCode::CONFLICT,
        "a cancelled purchase is not billed"
    );
    // A second order cancelled now is never billed.
    let o2 = order(&s).await;
    let pur2 = o2["purchases"][0]["id"].as_str().unwrap().to_string();
    s.app
        .post(&format!("/v1/purchases/{pur2}/cancel"), &json!({}))
        .await;
    assert_eq!(
        run_due(
            &s.app.state(),
            "w1",
            kassa_storage::now_millis() + 400 * DAY,
            50
        )
        .await
        .unwrap(),
        0
    );
}

#[tokio::test]
async fn soft_declines_are_recycled_then_fail() {
    let s =
        shop(json!({"prices": [100, 2000], "interval_unit": "days", "interval_count": 30})).await;
    let o = order(&s).await;
    let pur = o["purchases"][0]["id"].as_str().unwrap().to_string();
    // The card on file starts declining (it attaches, then every charge fails).
    let bad = s
        .app
        .post(
            &format!("/v1/accounts/{}/payment_methods", s.acct),
            &json!({"card": card("4000000000000341")}),
        )
        .await
        .body;
    let r = s
        .app
        .patch(
            &format!("/v1/purchases/{pur}"),
            &json!({"payment_method_no": bad["payment_method_no"]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let t0 = next_at(&purchase(&s, &pur).await);
    run_due(&s.app.state(), "w1", t0, 50).await.unwrap();
    let p = purchase(&s, &pur).await;
    assert_eq!(
        (p["status"].as_str(), p["recycle_attempt"].as_i64()),
        (Some("recycle_billing"), Some(1))
    );
    assert_eq!(next_at(&p), t0 + 3 * DAY, "the first retry waits 3 days");
    run_due(&s.app.state(), "w1", t0 + 3 * DAY, 50)
        .await
        .unwrap();
    assert_eq!(next_at(&purchase(&s, &pur).await), t0 + 8 * DAY, "then 5");
    run_due(&s.app.state(), "w1", t0 + 8 * DAY, 50)
        .await
        .unwrap();
    run_due(&s.app.state(), "w1", t0 + 15 * DAY, 50)
        .await
        .unwrap();
    let p = purchase(&s, &pur).await;
    assert_eq!(p["status"], "recycle_failed");
    let attempts = p["attempts"].as_array().unwrap();
    assert_eq!(
        attempts.len(),
        4,
        "the bill and three retries, all declined: {p}"
    );
    assert!(attempts
        .iter()
        .all(|a| a["cycle"] == 2 && a["status"] == "declined"));
    assert_eq!(
        run_due(&s.app.state(), "w1", t0 + 60 * DAY, 50)
            .await
            .unwrap(),
        0,
        "no more tries"
    );
}

#[tokio::test]
async fn concurrent_workers_never_bill_twice() {
    let s =
        shop(json!({"prices": [100, 1500], "interval_unit": "days", "interval_count": 30})).await;
    let mut ids = Vec::new();
    for _ in 0..12 {
        ids.push(
            order(&s).await["purchases"][0]["id"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    let due = next_at(&purchase(&s, &ids[11]).await) + DAY;
    let state = s.app.state();
    let workers: Vec<_> = (0..4)
        .map(|w| {
            let st = state.clone();
            tokio::spawn(async move { run_due(&st, &format!("w{w}"), due, 3).await.unwrap() })
        })
        .collect();
    let mut billed = 0;
    for w in workers {
        billed += w.await.unwrap();
    }
    assert_eq!(billed, 12, "each due purchase billed by exactly one worker");
    for id in &ids {
        let p = purchase(&s, id).await;
        assert_eq!(
            (p["cycle"].as_i64(), p["attempts"].as_array().unwrap().len()),
            (Some(2), 1)
        );
    }
    let intents = s.emu.get(SECRET_KEY, "/v1/payment_intents?limit=100").await;
    let rebills = intents["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|pi| pi["amount"] == 1500)
        .count();
    assert_eq!(rebills, 12);
}

/// Eight workers billing side by side against a monthly cap: the cap holds — what would take the
/// month's volume over it never reaches Stripe.
#[tokio::test]
async fn eight_concurrent_workers_never_exceed_the_cap() {
    let s =
        shop(json!({"prices": [100, 1500], "interval_unit": "days", "interval_count": 30})).await;
    let mut ids = Vec::new();
    for _ in 0..12 {
        ids.push(
            order(&s).await["purchases"][0]["id"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    let gw = s.app.get("/v1/gateways").await.body["data"][0]["id"]
        .as_i64()
        .unwrap();
    // Whatever the first charges used, room is left for exactly five 15.00 rebills.
    let used = s.app.get(&format!("/v1/gateways/{gw}/usage")).await.body["gross"]
        .as_i64()
        .unwrap();
    let cap = used + 5 * 1500 + 1000;
    let r = s
        .app
        .patch(
            &format!("/v1/gateways/{gw}"),
            &json!({"limits": {"monthly_cap": cap}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    // Due now (the same month as the first charges).
    kassa_storage::testing::execute(
        &s.app.store,
        &format!(
            "UPDATE purchases SET next_bill_at = {}",
            kassa_storage::now_millis() - 60_000
        ),
    )
    .await
    .unwrap();
    let now = kassa_storage::now_millis();
    let state = s.app.state();
    let workers: Vec<_> = (0..8)
        .map(|w| {
            let st = state.clone();
            tokio::spawn(async move { run_due(&st, &format!("w{w}"), now, 2).await })
        })
        .collect();
    for w in workers {
        w.await.unwrap().unwrap();
    }
    let usage = s.app.get(&format!("/v1/gateways/{gw}/usage")).await.body;
    assert!(usage["gross"].as_i64().unwrap() <= cap, "{usage}");
    assert_eq!(usage["reserved"], 0, "{usage}");
    let intents = s.emu.get(SECRET_KEY, "/v1/payment_intents?limit=100").await;
    let rebills = intents["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|pi| pi["amount"] == 1500 && pi["status"] == "succeeded")
        .count();
    assert_eq!(rebills, 5, "exactly what fits under the cap reached Stripe");
    assert_eq!(usage["gross"].as_i64().unwrap(), used + 5 * 1500);
}

#[tokio::test]
async fn campaigns_delete_and_restore() {
    let s = shop(json!({"prices": [100], "interval_unit": "days", "interval_count": 30})).await;
    let d = s
        .app
        .send(
            kassa_testkit::reqwest::Method::DELETE,
            &format!("/v1/campaigns/{}", s.campaign),
            None,
            &[],
        )
        .await;
    assert_eq!(d.body["deleted"], true);
    assert_eq!(s.app.get("/v1/campaigns").await.body["data"], json!([]));
    assert_eq!(
        s.app.get("/v1/campaigns?deleted=true").await.body["data"][0]["id"],
        s.campaign
    );
    let r = s.app.post("/v1/orders", &json!({"campaign_id": s.campaign, "acct_no": s.acct, "items": [{"product_id": s.recurring}], "card": card("4242424242424242")})).await;
    assert_eq!(r.code(), Some("campaign_deleted"));
    s.app
        .post(&format!("/v1/campaigns/{}/restore", s.campaign), &json!({}))
        .await;
    let c = s
        .app
        .get(&format!("/v1/campaigns/{}", s.campaign))
        .await
        .body;
    assert_eq!(
        (
            c["deleted"].as_bool(),
            c["products"].as_array().unwrap().len()
        ),
        (Some(false), 2),
        "restored with its settings"
    );
    assert_eq!(order(&s).await["status"], "complete");
}

/// The account updater and detaches reach the purchases: a card update makes rebills that failed
/// for the old card due again; a detached card holds its purchases until a new card is set.
#[tokio::test]
async fn card_updates_and_detaches_reach_purchases() {
    let s =
        shop(json!({"prices": [100, 2000], "interval_unit": "days", "interval_count": 30})).await;
    let o = order(&s).await;
    let pur = o["purchases"][0]["id"].as_str().unwrap().to_string();
    let gw = s.app.get(&format!("/v1/purchases/{pur}")).await.body["gateway_id"]
        .as_i64()
        .unwrap();
    s.app
        .patch(
            &format!("/v1/gateways/{gw}"),
            &json!({"webhook_secrets": ["whsec_billingtestsecret0001"]}),
        )
        .await;
    let pm_no = s.app.get(&format!("/v1/purchases/{pur}")).await.body["payment_method_no"]
        .as_i64()
        .unwrap();
    let pm = s
        .app
        .get(&format!("/v1/accounts/{}/payment_methods/{pm_no}", s.acct))
        .await
        .body;
    let stripe_pm = kassa_testkit::stripe_payment_method(&pm);
    // What an expired card leaves: the rebill failed for good.
    let store = &s.app.store;
    kassa_storage::testing::execute(store, &format!("UPDATE purchases SET status = 'recycle_failed', next_bill_at = NULL WHERE id = '{pur}'")).await.unwrap();
    kassa_storage::testing::execute(store, &format!("INSERT INTO purchase_attempts (purchase_id, cycle, attempt, payment_id, amount, status, decline_code, created_at) VALUES ('{pur}', 2, 1, 'pay_x', 2000, 'declined', 'expired_card', 0)")).await.unwrap();
    let post = |id: &str, kind: &str, object: Value| {
        let body = serde_json::to_vec(&json!({"id": id, "object": "event", "type": kind, "created": kassa_storage::now_millis() / 1000, "data": {"object": object}})).unwrap();
        let sig = kassa_secrets::sign_stripe(
            &body,
            kassa_storage::now_millis() / 1000,
            &["whsec_billingtestsecret0001"],
        );
        s.app
            .http
            .post(s.app.url(&format!("/webhooks/stripe/{}", s.app.client_no)))
            .header("Stripe-Signature", sig)
            .body(body)
            .send()
    };
    assert!(post(
        "evt_upd",
        "payment_method.automatically_updated",
        json!({"id": stripe_pm, "card": {"exp_month": 1, "exp_year": 2036}})
    )
    .await
    .unwrap()
    .status()
    .is_success());
    let mut p = Value::Null;
    for _ in 0..100 {
        p = s.app.get(&format!("/v1/purchases/{pur}")).await.body;
        if p["status"] == "active" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(
        p["status"], "active",
        "eligible again after the card update: {p}"
    );
    assert!(p["next_bill_at"].is_string());
    // Detached: held until a new card.
    assert!(post(
        "evt_det",
        "payment_method.detached",
        json!({"id": stripe_pm, "customer": null})
    )
    .await
    .unwrap()
    .status()
    .is_success());
    for _ in 0..100 {
        p = s.app.get(&format!("/v1/purchases/{pur}")).await.body;
        if p["needs_new_card"] == true {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(p["needs_new_card"], true, "{p}");
    assert_eq!(
        run_due(
            &s.app.state(),
            "w1",
            kassa_storage::now_millis() + 60 * DAY,
            50
        )
        .await
        .unwrap(),
        0,
        "not billed without a card"
    );
    let new = s
        .app
        .post(
            &format!("/v1/accounts/{}/payment_methods", s.acct),
            &json!({"card": card("5555555555554444")}),
        )
        .await
        .body;
    let r = s
        .app
        .patch(
            &format!("/v1/purchases/{pur}"),
            &json!({"payment_method_no": new["payment_method_no"]}),
        )
        .await;
    assert_eq!(r.body["needs_new_card"], false);
    assert_eq!(
        run_due(
            &s.app.state(),
            "w1",
            kassa_storage::now_millis() + 60 * DAY,
            50
        )
        .await
        .unwrap(),
        1
    );
}

/// Initial sales spread over gateways by a routing profile; caps and soft declines move a sale on.
#[tokio::test]
async fn routing_profiles_split_skip_and_cascade() {
    let app = TestApp::spawn().await;
    let emu = Emulator::spawn().await;
    let (a, group) = app
        .emulator_gateway(&emu, json!({"title": "A", "limits": {"monthly_cap": 1000}}))
        .await;
    let (b, _) = app.emulator_gateway(&emu, json!({"title": "B"})).await;
    let acct = app.account("C-1", group).await;
    let camp = app
        .post(
            "/v1/campaigns",
            &json!({"name": "Routed", "currency": "usd"}),
        )
        .await
        .body["id"]
        .as_i64()
        .unwrap();
    let profile = |algorithm: &str, cascade: bool| json!({"name": algorithm, "algorithm": algorithm, "gateways": [{"gateway_id": a, "weight": 50}, {"gateway_id": b, "weight": 50}], "cascade_on_soft_decline": cascade});
    let rr = app
        .post("/v1/routing_profiles", &profile("round_robin", false))
        .await;
    assert_eq!(rr.status, StatusCode::CREATED, "{:?}", rr.body);
    let prio = app
        .post("/v1/routing_profiles", &profile("priority", true))
        .await
        .body;
    let bad = app.post("/v1/routing_profiles", &json!({"name": "x", "algorithm": "weighted", "gateways": [{"gateway_id": a, "weight": 60}]})).await;
    assert_eq!(bad.param(), Some("gateways"));
    let product = |profile: &Value, price: i64| json!({"name": "Thing", "price": price, "routing_profile_id": profile["id"]});
    let p_rr = app
        .post(
            &format!("/v1/campaigns/{camp}/products"),
            &product(&rr.body, 300),
        )
        .await
        .body["id"]
        .as_i64()
        .unwrap();
    let p_prio = app
        .post(
            &format!("/v1/campaigns/{camp}/products"),
            &product(&prio, 600),
        )
        .await
        .body["id"]
        .as_i64()
        .unwrap();
    let order = |product: i64, number: &str| json!({"campaign_id": camp, "acct_no": acct, "items": [{"product_id": product}], "card": card(number), "force": true});

    // Round robin alternates.
    let mut used = Vec::new();
    for _ in 0..4 {
        let o = app
            .post("/v1/orders", &order(p_rr, "4242424242424242"))
            .await;
        assert_eq!(o.status, StatusCode::CREATED, "{:?}", o.body);
        used.push(o.body["gateway_id"].as_i64().unwrap());
    }
    assert_eq!(used, vec![a, b, a, b]);
    // Priority stays on A until its cap (1,000 a month; 600 already used by round robin), then B.
    let o = app
        .post("/v1/orders", &order(p_prio, "4242424242424242"))
        .await
        .body;
    assert_eq!(
        (o["gateway_id"].as_i64(), o["gateways_tried"].clone()),
        (Some(b), json!([a, b])),
        "A's cap was reached: {o}"
    );
    // A soft decline cascades to the next gateway when the profile says so.
    let p_small = app
        .post(
            &format!("/v1/campaigns/{camp}/products"),
            &product(&prio, 100),
        )
        .await
        .body["id"]
        .as_i64()
        .unwrap();
    let o = app
        .post("/v1/orders", &order(p_small, "4000000000009995"))
        .await;
    assert_eq!(o.status, StatusCode::PAYMENT_REQUIRED);
    let declined = app.get("/v1/payments?status=declined").await.body;
    let mut on: Vec<i64> = declined["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["amount"] == 100)
        .map(|p| p["gateway_id"].as_i64().unwrap())
        .collect();
    on.sort();
    assert_eq!(on, vec![a, b], "declined on A, then tried on B: {declined}");
    // Without cascade, a decline stops at the first gateway.
    let o = app
        .post("/v1/orders", &order(p_rr, "4000000000009995"))
        .await;
    assert_eq!(o.status, StatusCode::PAYMENT_REQUIRED);
    let declined = app.get("/v1/payments?status=declined").await.body;
    assert_eq!(
        declined["data"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["amount"] == 300)
            .count(),
        1
    );
}
