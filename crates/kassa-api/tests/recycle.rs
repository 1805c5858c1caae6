//! Decline salvage as data, end to end against the emulator with a simulated clock: recycle
//! profiles, their waits and price reductions, Hold Recycle Price, and the card networks'
//! retry limits.

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
    gw: i64,
    acct: i64,
    campaign: i64,
    product: i64,
}

async fn shop(schedule: Value) -> Shop {
    let app = TestApp::spawn().await;
    let emu = Emulator::spawn().await;
    let (gw, group) = app.emulator_gateway(&emu, json!({})).await;
    let acct = app.account("C-1", group).await;
    let campaign = app
        .post(
            "/v1/campaigns",
            &json!({"name": "Salvage", "currency": "usd"}),
        )
        .await
        .body["id"]
        .as_i64()
        .unwrap();
    let r = app
        .post(
            &format!("/v1/campaigns/{campaign}/products"),
            &json!({"name": "Serum", "schedule": schedule, "gateway_id": gw}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    Shop {
        app,
        emu,
        gw,
        acct,
        campaign,
        product: r.body["id"].as_i64().unwrap(),
    }
}

/// An order on a good card, whose purchase is then moved to a stored card that declines every
/// charge (it attaches, then fails). Returns the purchase id.
async fn declining_purchase(s: &Shop, bad_pm: i64) -> String {
    let o = s.app.post("/v1/orders", &json!({"campaign_id": s.campaign, "acct_no": s.acct, "items": [{"product_id": s.product}], "card": card("4242424242424242")})).await;
    assert_eq!(o.status, StatusCode::CREATED, "{:?}", o.body);
    let pur = o.body["purchases"][0]["id"].as_str().unwrap().to_string();
    let r = s
        .app
        .patch(
            &format!("/v1/purchases/{pur}"),
            &json!({"payment_method_no": bad_pm}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    pur
}

async fn store_card(s: &Shop, number: &str) -> i64 {
    let r = s
        .app
        .post(
            &format!("/v1/accounts/{}/payment_methods", s.acct),
            &json!({"card": card(number)}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    r.body["payment_method_no"].as_i64().unwrap()
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
async fn recycle_profiles_are_validated_and_each_gateway_is_in_one() {
    let s =
        shop(json!({"prices": [100, 2000], "interval_unit": "days", "interval_count": 30})).await;
    let body = json!({"name": "Standard", "reattempts": [
        {"wait_days": 2, "reduction": {"type": "percent", "value": "10"}},
        {"wait_days": 3}
    ], "min_price": 1000, "hold_recycle_price": true, "gateway_ids": [s.gw]});
    let r = s.app.post("/v1/recycle_profiles", &body).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let id = r.body["id"].as_i64().unwrap();
    assert_eq!(
        r.body["reattempts"][0]["reduction"],
        json!({"type": "percent", "value": "10"})
    );
    assert_eq!(
        r.body["reattempts"][1]["reduction"],
        json!({"type": "skip"})
    );
    assert_eq!(
        (r.body["min_price"].as_i64(), r.body["gateway_ids"].clone()),
        (Some(1000), json!([s.gw]))
    );

    // Bad input: 400 with the field named, nothing written.
    for (bad, param) in [
        (
            json!({"name": "x", "reattempts": [{"wait_days": 2}, {"wait_days": 0}]}),
            "reattempts[1].wait_days",
        ),
        (
            json!({"name": "x", "reattempts": [{"wait_days": 2, "reduction": {"type": "percent", "value": "120"}}]}),
            "reattempts[0].reduction.value",
        ),
        (
            json!({"name": "x", "reattempts": [{"wait_days": 2, "reduction": {"type": "flat", "value": 0}}]}),
            "reattempts[0].reduction.value",
        ),
        (
            json!({"name": "x", "reattempts": [], "min_price": -5}),
            "min_price",
        ),
        (
            json!({"name": "x", "reattempts": [], "gateway_ids": [999]}),
            "gateway_ids[0]",
        ),
        (
            json!({"name": "x", "reattempts": [], "bill_on_saturday": true}),
            "bill_on_saturday",
        ),
        (json!({"reattempts": []}), "name"),
    ] {
        let r = s.app.post("/v1/recycle_profiles", &bad).await;
        assert_eq!(
            (r.status, r.param()),
            (StatusCode::BAD_REQUEST, Some(param)),
            "{bad}: {:?}",
            r.body
        );
    }
    // A gateway in at most one profile.
    let (other, _) = s
        .app
        .emulator_gateway(&s.emu, json!({"title": "Other"}))
        .await;
    let r = s
        .app
        .post("/v1/recycle_profiles", &json!({"name": "Second", "reattempts": [{"wait_days": 1}], "gateway_ids": [other, s.gw]}))
        .await;
    assert_eq!(
        (r.status, r.param(), r.code()),
        (
            StatusCode::BAD_REQUEST,
            Some("gateway_ids[1]"),
            Some("gateway_in_other_profile")
        ),
        "{:?}",
        r.body
    );
    let list = s.app.get("/v1/recycle_profiles").await.body;
    assert_eq!(
        list["data"].as_array().unwrap().len(),
        1,
        "nothing half-written: {list}"
    );
    let second = s
        .app
        .post(
            "/v1/recycle_profiles",
            &json!({"name": "Second", "reattempts": [{"wait_days": 1}], "gateway_ids": [other]}),
        )
        .await;
    assert_eq!(second.status, StatusCode::CREATED);
    let r = s
        .app
        .patch(
            &format!("/v1/recycle_profiles/{}", second.body["id"]),
            &json!({"gateway_ids": [other, s.gw]}),
        )
        .await;
    assert_eq!(r.param(), Some("gateway_ids[1]"));

    // Updates are merge patches, checked whole; the profile keeps its own gateways.
    let r = s
        .app
        .patch(
            &format!("/v1/recycle_profiles/{id}"),
            &json!({"min_price": 1500, "hold_recycle_price": null}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(
        (
            r.body["min_price"].as_i64(),
            r.body["hold_recycle_price"].as_bool(),
            r.body["gateway_ids"].clone(),
            r.body["name"].as_str()
        ),
        (Some(1500), Some(false), json!([s.gw]), Some("Standard"))
    );
    let r = s
        .app
        .patch(
            &format!("/v1/recycle_profiles/{id}"),
            &json!({"reattempts": [{"wait_days": 61}]}),
        )
        .await;
    assert_eq!(r.param(), Some("reattempts[0].wait_days"));
    let got = s.app.get(&format!("/v1/recycle_profiles/{id}")).await;
    assert_eq!(
        got.body["reattempts"].as_array().unwrap().len(),
        2,
        "the refused patch wrote nothing"
    );
    assert_eq!(
        s.app.get("/v1/recycle_profiles/4242").await.status,
        StatusCode::NOT_FOUND
    );
    // Moving a gateway out frees it for another profile.
    let r = s
        .app
        .patch(
            &format!("/v1/recycle_profiles/{id}"),
            &json!({"gateway_ids": []}),
        )
        .await;
    assert_eq!(r.body["gateway_ids"], json!([]));
    let r = s
        .app
        .patch(
            &format!("/v1/recycle_profiles/{}", second.body["id"]),
            &json!({"gateway_ids": [other, s.gw]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
}

/// The gateway's profile decides the waits and the prices of the re-attempts (cumulative,
/// never below the minimum); every re-attempt is a merchant-initiated recurring charge; the
/// price that recovered is held for later cycles.
#[tokio::test]
async fn a_profile_reduces_the_recycle_price_and_holds_the_recovered_one() {
    let s =
        shop(json!({"prices": [100, 2000], "interval_unit": "days", "interval_count": 30})).await;
    let r = s
        .app
        .post(
            "/v1/recycle_profiles",
            &json!({"name": "Salvage", "reattempts": [
            {"wait_days": 2, "reduction": {"type": "percent", "value": "10"}},
            {"wait_days": 3, "reduction": {"type": "skip"}},
            {"wait_days": 4, "reduction": {"type": "flat", "value": 500}},
            {"wait_days": 4, "reduction": {"type": "flat", "value": 500}}
        ], "min_price": 1500, "hold_recycle_price": true, "gateway_ids": [s.gw]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let bad = store_card(&s, "4000000000000341").await;
    let pur = declining_purchase(&s, bad).await;
    let t0 = next_at(&purchase(&s, &pur).await);
    let state = s.app.state();

    assert_eq!(run_due(&state, "w1", t0, 50).await.unwrap(), 1);
    let p = purchase(&s, &pur).await;
    assert_eq!(
        (p["status"].as_str(), next_at(&p)),
        (Some("recycle_billing"), t0 + 2 * DAY),
        "the profile's first wait"
    );
    assert_eq!(
        run_due(&state, "w1", t0 + 2 * DAY - 1, 50).await.unwrap(),
        0,
        "not before"
    );
    run_due(&state, "w1", t0 + 2 * DAY, 50).await.unwrap();
    assert_eq!(next_at(&purchase(&s, &pur).await), t0 + 5 * DAY);
    run_due(&state, "w1", t0 + 5 * DAY, 50).await.unwrap();
    // The card is replaced before the third re-attempt, which goes through at the floor.
    let good = store_card(&s, "5555555555554444").await;
    s.app
        .patch(
            &format!("/v1/purchases/{pur}"),
            &json!({"payment_method_no": good}),
        )
        .await;
    run_due(&state, "w1", t0 + 9 * DAY, 50).await.unwrap();
    let p = purchase(&s, &pur).await;
    let got: Vec<(i64, &str)> = p["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["cycle"] == 2)
        .map(|a| (a["amount"].as_i64().unwrap(), a["status"].as_str().unwrap()))
        .collect();
    assert_eq!(
        got,
        vec![
            (2000, "declined"),
            (1800, "declined"),
            (1800, "declined"),
            (1500, "approved")
        ],
        "10 % off, skip, then 500 off stopped at min_price 1500: {p}"
    );
    assert_eq!(
        (
            p["status"].as_str(),
            p["cycle"].as_i64(),
            p["price_override"].as_i64()
        ),
        (Some("active"), Some(2), Some(1500))
    );
    assert_eq!(
        next_at(&p),
        t0 + 39 * DAY,
        "the next cycle counts from the recovery"
    );
    // Every attempt reached Stripe as a merchant-initiated recurring charge of that amount.
    for a in p["attempts"].as_array().unwrap() {
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
                pay["amount"].clone()
            ),
            (Some(2), a["amount"].clone())
        );
        if let Some(pi) = pay["processor_payment_id"].as_str() {
            let pi = s
                .emu
                .get(SECRET_KEY, &format!("/v1/payment_intents/{pi}"))
                .await;
            assert_eq!(
                pi["payment_method_options"]["card"]["stored_credential_usage"],
                "recurring"
            );
            assert_eq!(pi["amount"], a["amount"]);
        }
    }
    // Hold Recycle Price: cycle 3 is billed at the recovered price.
    run_due(&state, "w1", t0 + 39 * DAY, 50).await.unwrap();
    let p = purchase(&s, &pur).await;
    let last = p["attempts"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(
        (
            last["cycle"].as_i64(),
            last["amount"].as_i64(),
            last["status"].as_str()
        ),
        (Some(3), Some(1500), Some("approved"))
    );
}

/// Without Hold Recycle Price, the next cycle is back at the schedule's price.
#[tokio::test]
async fn without_hold_the_next_cycle_has_the_schedule_price() {
    let s =
        shop(json!({"prices": [100, 2000], "interval_unit": "days", "interval_count": 30})).await;
    s.app
        .post(
            "/v1/recycle_profiles",
            &json!({"name": "Salvage", "reattempts": [
            {"wait_days": 1, "reduction": {"type": "percent", "value": "25"}}
        ], "gateway_ids": [s.gw]}),
        )
        .await;
    let bad = store_card(&s, "4000000000000341").await;
    let pur = declining_purchase(&s, bad).await;
    let t0 = next_at(&purchase(&s, &pur).await);
    let state = s.app.state();
    run_due(&state, "w1", t0, 50).await.unwrap();
    let good = store_card(&s, "4242424242424242").await;
    s.app
        .patch(
            &format!("/v1/purchases/{pur}"),
            &json!({"payment_method_no": good}),
        )
        .await;
    run_due(&state, "w1", t0 + DAY, 50).await.unwrap();
    let p = purchase(&s, &pur).await;
    assert_eq!(
        (p["status"].as_str(), p["price_override"].clone()),
        (Some("active"), Value::Null)
    );
    run_due(&state, "w1", next_at(&p), 50).await.unwrap();
    let amounts: Vec<i64> = purchase(&s, &pur).await["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["amount"].as_i64().unwrap())
        .collect();
    assert_eq!(amounts, vec![2000, 1500, 2000]);
    // A profile with no re-attempts: a soft decline fails the purchase at once.
    let id = s.app.get("/v1/recycle_profiles").await.body["data"][0]["id"].clone();
    s.app
        .patch(
            &format!("/v1/recycle_profiles/{id}"),
            &json!({"reattempts": []}),
        )
        .await;
    s.app
        .patch(
            &format!("/v1/purchases/{pur}"),
            &json!({"payment_method_no": bad}),
        )
        .await;
    let at = next_at(&purchase(&s, &pur).await);
    run_due(&state, "w1", at, 50).await.unwrap();
    assert_eq!(purchase(&s, &pur).await["status"], "recycle_failed");
}

/// Visa allows 15 declined attempts on a card in 30 days: the 16th is refused before Stripe,
/// with the reason recorded, and the purchase stops.
#[tokio::test]
async fn the_network_retry_limit_is_enforced_before_stripe() {
    // Daily cycles keep the simulated clock within 30 days of the real one.
    let s = shop(json!({"prices": [100, 700], "interval_unit": "days", "interval_count": 1})).await;
    let waits: Vec<Value> = (0..20).map(|_| json!({"wait_days": 1})).collect();
    let r = s
        .app
        .post(
            "/v1/recycle_profiles",
            &json!({"name": "Relentless", "reattempts": waits, "gateway_ids": [s.gw]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let bad = store_card(&s, "4000000000000341").await;
    let pur = declining_purchase(&s, bad).await;
    let t0 = next_at(&purchase(&s, &pur).await);
    let state = s.app.state();
    for day in 0..20 {
        run_due(&state, "w1", t0 + day * DAY, 50).await.unwrap();
    }
    let p = purchase(&s, &pur).await;
    let attempts = p["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 16, "{p}");
    assert!(attempts[..15].iter().all(|a| a["status"] == "declined"));
    assert_eq!(
        (
            attempts[15]["status"].as_str(),
            attempts[15]["decline_code"].as_str(),
            attempts[15]["payment_id"].as_str()
        ),
        (Some("refused"), Some("network_retry_limit"), Some(""))
    );
    assert_eq!(
        (p["status"].as_str(), p["next_bill_at"].clone()),
        (Some("recycle_failed"), Value::Null)
    );
    let intents = s.emu.get(SECRET_KEY, "/v1/payment_intents?limit=100").await;
    let sent = intents["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|pi| pi["amount"] == 700)
        .count();
    assert_eq!(sent, 15, "the refused attempt never reached Stripe");
    // The limit is per card: another purchase on a fresh card is billed.
    let good = store_card(&s, "4242424242424242").await;
    let o = s.app.post("/v1/orders", &json!({"campaign_id": s.campaign, "acct_no": s.acct, "items": [{"product_id": s.product}], "payment_method_no": good})).await;
    assert_eq!(o.status, StatusCode::CREATED, "{:?}", o.body);
    let pur2 = o.body["purchases"][0]["id"].as_str().unwrap().to_string();
    run_due(&state, "w1", next_at(&purchase(&s, &pur2).await), 50)
        .await
        .unwrap();
    assert_eq!(
        purchase(&s, &pur2).await["attempts"][0]["status"],
        "approved"
    );
}

/// A hard decline is never re-attempted, whatever the profile offers. The emulator, like Stripe,
/// refuses to store its hard-declining test cards, so the hard decline is the record of an
/// attempt whose answer was found after a crash: the soft-declined first attempt's payment, copied
/// with Stripe's `advice_code` `do_not_try_again` (class `hard`). `bill` reads it as it reads a
/// fresh answer.
#[tokio::test]
async fn hard_declines_are_never_recycled() {
    let s =
        shop(json!({"prices": [100, 2000], "interval_unit": "days", "interval_count": 30})).await;
    let waits: Vec<Value> = (0..5).map(|_| json!({"wait_days": 1})).collect();
    s.app
        .post(
            "/v1/recycle_profiles",
            &json!({"name": "Eager", "reattempts": waits, "gateway_ids": [s.gw]}),
        )
        .await;
    let bad = store_card(&s, "4000000000000341").await;
    let pur = declining_purchase(&s, bad).await;
    let t0 = next_at(&purchase(&s, &pur).await);
    let state = s.app.state();
    run_due(&state, "w1", t0, 50).await.unwrap();
    let p = purchase(&s, &pur).await;
    assert_eq!(
        p["status"], "recycle_billing",
        "a soft decline is recycled: {p}"
    );
    let first = p["attempts"][0]["payment_id"].as_str().unwrap().to_string();
    let details = s.app.get(&format!("/v1/payments/{first}")).await.body["decline"].clone();
    assert_eq!(details["class"], "soft", "{details}");
    let store = &s.app.store;
    let cols = "client_no, acct_no, gateway_id, pm_no, status, currency, amount, amount_authorized, amount_captured, amount_refunded, recurring_model, processor_payment_id, auth_no, initial_auth_txn_id, descriptor";
    let rest = "busy_txn, card_key, version, created_at, updated_at";
    kassa_storage::testing::execute(store, &format!(
        "INSERT INTO payments (id, {cols}, details, {rest}) SELECT 'pay_hard', {cols}, REPLACE(REPLACE(details, '\"class\":\"soft\"', '\"class\":\"hard\"'), '\"advice\":null', '\"advice\":\"do_not_try_again\"'), {rest} FROM payments WHERE id = '{first}'"
    )).await.unwrap();
    kassa_storage::testing::execute(store, &format!(
        "INSERT INTO purchase_attempts (purchase_id, cycle, attempt, payment_id, amount, status, decline_code, created_at) VALUES ('{pur}', 2, 2, 'pay_hard', 2000, 'started', NULL, 0)"
    )).await.unwrap();
    assert_eq!(
        s.app.get("/v1/payments/pay_hard").await.body["decline"]["class"],
        "hard"
    );
    for day in 1..6 {
        run_due(&state, "w1", t0 + day * DAY, 50).await.unwrap();
    }
    let p = purchase(&s, &pur).await;
    let attempts = p["attempts"].as_array().unwrap();
    assert_eq!(
        (p["status"].as_str(), attempts.len()),
        (Some("recycle_failed"), 2),
        "{p}"
    );
    assert_eq!(attempts[1]["status"], "declined");
    let intents = s.emu.get(SECRET_KEY, "/v1/payment_intents?limit=100").await;
    let sent = intents["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|pi| pi["amount"] == 2000)
        .count();
    assert_eq!(sent, 1, "nothing sent after the hard decline");
}
