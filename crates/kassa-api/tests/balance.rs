//! Account balances, settle and collect (the seed's settle_account_balance_m and
//! collect_from_account_m) end to end against the emulator.

use kassa_api::service::billing::run_due;
use kassa_testkit::reqwest::Method;
use kassa_testkit::{Emulator, StatusCode, TestApp, SECRET_KEY};
use serde_json::{json, Value};

const DAY: i64 = 86_400_000;

fn card(n: &str) -> Value {
    json!({"number": n, "exp_month": 12, "exp_year": 2034, "cvc": "123"})
}

async fn store_card(app: &TestApp, acct: i64, number: &str) -> i64 {
    let r = app
        .post(
            &format!("/v1/accounts/{acct}/payment_methods"),
            &json!({"card": card(number)}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    r.body["payment_method_no"].as_i64().unwrap()
}

async fn balance(app: &TestApp, acct: i64) -> Value {
    let r = app.get(&format!("/v1/accounts/{acct}/balance")).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    r.body
}

fn owed(b: &Value) -> i64 {
    b["balances"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["currency"] == "usd")
        .map(|x| x["amount"].as_i64().unwrap())
        .unwrap_or(0)
}

/// Succeeded PaymentIntents of `amount` at the emulator.
async fn charged(emu: &Emulator, amount: i64) -> usize {
    let intents = emu.get(SECRET_KEY, "/v1/payment_intents?limit=100").await;
    intents["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|pi| pi["amount"] == amount && pi["status"] == "succeeded")
        .count()
}

/// A purchase whose cycle 2 declined through the default recycle schedule on a stored card that
/// declines every charge: (app, emulator, acct_no, purchase id, cycle 2's due time).
async fn failed_purchase() -> (TestApp, Emulator, i64, String, i64) {
    let app = TestApp::spawn().await;
    let emu = Emulator::spawn().await;
    let (gw, group) = app.emulator_gateway(&emu, json!({})).await;
    let acct = app.account("C-1", group).await;
    let campaign = app
        .post("/v1/campaigns", &json!({"name": "Dues", "currency": "usd"}))
        .await
        .body["id"]
        .as_i64()
        .unwrap();
    let product = app
        .post(
            &format!("/v1/campaigns/{campaign}/products"),
            &json!({"name": "Club", "schedule": {"prices": [100, 2000], "interval_unit": "days", "interval_count": 30}, "gateway_id": gw}),
        )
        .await
        .body["id"]
        .as_i64()
        .unwrap();
    let o = app.post("/v1/orders", &json!({"campaign_id": campaign, "acct_no": acct, "items": [{"product_id": product}], "card": card("4242424242424242")})).await;
    let pur = o.body["purchases"][0]["id"].as_str().unwrap().to_string();
    let bad = store_card(&app, acct, "4000000000000341").await;
    app.patch(
        &format!("/v1/purchases/{pur}"),
        &json!({"payment_method_no": bad}),
    )
    .await;
    assert_eq!(owed(&balance(&app, acct).await), 0);
    let p = app.get(&format!("/v1/purchases/{pur}")).await.body;
    let t0 = time::OffsetDateTime::parse(
        p["next_bill_at"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap()
    .unix_timestamp_nanos() as i64
        / 1_000_000;
    for day in [0, 3, 8, 15] {
        run_due(&app.state(), "w1", t0 + day * DAY, 50)
            .await
            .unwrap();
    }
    assert_eq!(
        app.get(&format!("/v1/purchases/{pur}")).await.body["status"],
        "recycle_failed"
    );
    (app, emu, acct, pur, t0)
}

/// A rebill that ends `recycle_failed` becomes a debt; explicit charges add to it; a settle
/// charges the whole balance on the stored card once, with the CIT/MIT flag asked for.
#[tokio::test]
async fn failed_rebills_and_charges_are_owed_and_settled_once() {
    let (app, emu, acct, pur, _) = failed_purchase().await;
    let b = balance(&app, acct).await;
    assert_eq!(owed(&b), 2000, "the failed cycle is owed: {b}");
    assert_eq!(
        (
            b["entries"][0]["kind"].as_str(),
            b["entries"][0]["purchase_id"].as_str(),
            b["entries"][0]["cycle"].as_i64()
        ),
        (Some("rebill"), Some(pur.as_str()), Some(2))
    );
    let r = app
        .post(
            &format!("/v1/accounts/{acct}/balance_entries"),
            &json!({"amount": 500, "currency": "usd", "description": "Shipping"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    for (bad_body, param) in [
        (json!({"amount": 0, "currency": "usd"}), "amount"),
        (json!({"amount": 5, "currency": "usd", "x": 1}), "x"),
        (json!({"amount": 5}), "currency"),
    ] {
        let r = app
            .post(&format!("/v1/accounts/{acct}/balance_entries"), &bad_body)
            .await;
        assert_eq!(
            (r.status, r.param()),
            (StatusCode::BAD_REQUEST, Some(param)),
            "{bad_body}"
        );
    }
    assert_eq!(owed(&balance(&app, acct).await), 2500);

    // The newest card declines: nothing is settled, the balance stays.
    let r = app
        .post(&format!("/v1/accounts/{acct}/settle"), &json!({}))
        .await;
    assert_eq!(r.status, StatusCode::PAYMENT_REQUIRED, "{:?}", r.body);
    assert_eq!(owed(&balance(&app, acct).await), 2500);
    // Bad input writes nothing.
    for (body, param) in [
        (json!({"amount": 5}), "amount"),
        (
            json!({"recurring_processing_model_ind": 7}),
            "recurring_processing_model_ind",
        ),
        (json!({"payment_method_no": 999}), "payment_method_no"),
    ] {
        let r = app
            .post(&format!("/v1/accounts/{acct}/settle"), &body)
            .await;
        assert_eq!(
            (r.status, r.param()),
            (StatusCode::BAD_REQUEST, Some(param)),
            "{body}: {:?}",
            r.body
        );
    }
    let before = balance(&app, acct).await["entries"]
        .as_array()
        .unwrap()
        .len();
    // A good card: settled once, as a merchant-initiated unscheduled charge; a retry with the
    // same Idempotency-Key replays the answer.
    let good = store_card(&app, acct, "4242424242424242").await;
    let body = json!({"payment_method_no": good, "recurring_processing_model_ind": 3});
    let path = format!("/v1/accounts/{acct}/settle");
    let r = app
        .send(
            Method::POST,
            &path,
            Some(&body),
            &[("Idempotency-Key", "settle-1")],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(
        (
            r.body["payment"]["amount"].as_i64(),
            r.body["payment"]["status"].as_str(),
            r.body["payment"]["recurring_processing_model_ind"].as_i64()
        ),
        (Some(2500), Some("captured"), Some(3))
    );
    assert_eq!(owed(&r.body), 0);
    let again = app
        .send(
            Method::POST,
            &path,
            Some(&body),
            &[("Idempotency-Key", "settle-1")],
        )
        .await;
    assert_eq!(again.header("Idempotent-Replayed"), Some("true"));
    let r = app.post(&path, &body).await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("nothing_to_settle"))
    );
    assert_eq!(charged(&emu, 2500).await, 1, "charged exactly once");
    let pi = emu
        .get(
            SECRET_KEY,
            &format!(
                "/v1/payment_intents/{}",
                again.body["payment"]["processor_payment_id"]
                    .as_str()
                    .unwrap()
            ),
        )
        .await;
    assert_eq!(
        pi["payment_method_options"]["card"]["stored_credential_usage"],
        "unscheduled"
    );
    let entries = balance(&app, acct).await["entries"].clone();
    assert_eq!(
        entries.as_array().unwrap().len(),
        before + 1,
        "refused settles wrote nothing"
    );
    assert_eq!(
        (
            entries[0]["kind"].as_str(),
            entries[0]["status"].as_str(),
            entries[0]["amount"].as_i64()
        ),
        (Some("settle"), Some("applied"), Some(-2500))
    );
}

/// A recycle-failed purchase set active again and billed for the cycle after all: the cycle's
/// debt is withdrawn, not owed twice.
#[tokio::test]
async fn a_cycle_billed_after_all_is_no_longer_owed() {
    let (app, _emu, acct, pur, t0) = failed_purchase().await;
    assert_eq!(owed(&balance(&app, acct).await), 2000);
    let good = store_card(&app, acct, "5555555555554444").await;
    let r = app
        .patch(
            &format!("/v1/purchases/{pur}"),
            &json!({"payment_method_no": good, "status": "active", "next_bill_at": t0 + 20 * DAY}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(
        run_due(&app.state(), "w1", t0 + 20 * DAY, 50)
            .await
            .unwrap(),
        1
    );
    let p = app.get(&format!("/v1/purchases/{pur}")).await.body;
    assert_eq!(
        (p["status"].as_str(), p["cycle"].as_i64()),
        (Some("active"), Some(2)),
        "{p}"
    );
    let b = balance(&app, acct).await;
    assert_eq!(owed(&b), 0, "{b}");
    assert_eq!(b["entries"][0]["status"], "void");
}

/// A failed cycle paid by a settle is not billed again when the purchase is set active: the
/// purchase goes on with the next cycle.
#[tokio::test]
async fn a_cycle_settled_then_reactivated_is_not_charged_twice() {
    let (app, emu, acct, pur, _t0) = failed_purchase().await;
    let good = store_card(&app, acct, "5555555555554444").await;
    let r = app
        .post(
            &format!("/v1/accounts/{acct}/settle"),
            &json!({"payment_method_no": good}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(
        charged(&emu, 2000).await,
        1,
        "the settle charged cycle 2's 20.00"
    );
    let r = app
        .patch(
            &format!("/v1/purchases/{pur}"),
            &json!({"payment_method_no": good, "status": "active"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(
        (r.body["status"].as_str(), r.body["cycle"].as_i64()),
        (Some("active"), Some(2)),
        "{:?}",
        r.body
    );
    // Nothing is due before the next interval; a run now bills nothing.
    let now = kassa_storage::now_millis();
    assert_eq!(run_due(&app.state(), "w1", now, 50).await.unwrap(), 0);
    assert_eq!(charged(&emu, 2000).await, 1);
    assert_eq!(owed(&balance(&app, acct).await), 0);
}

/// Collect charges an amount now; it counts against the balance (more than owed is a credit).
/// Two settles at once charge the balance once.
#[tokio::test]
async fn collect_and_concurrent_settles() {
    let app = TestApp::spawn().await;
    let emu = Emulator::spawn().await;
    let (_, group) = app.emulator_gateway(&emu, json!({})).await;
    let acct = app.account("C-1", group).await;
    let good = store_card(&app, acct, "4242424242424242").await;
    let path = format!("/v1/accounts/{acct}/collect");
    for (body, param) in [
        (json!({"currency": "usd"}), "amount"),
        (json!({"amount": 1234}), "currency"),
        (json!({"amount": -1, "currency": "usd"}), "amount"),
    ] {
        let r = app.post(&path, &body).await;
        assert_eq!(
            (r.status, r.param()),
            (StatusCode::BAD_REQUEST, Some(param)),
            "{body}"
        );
    }
    let r = app
        .post(
            &path,
            &json!({"amount": 1234, "currency": "usd", "recurring_processing_model_ind": 0}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(
        (
            r.body["payment"]["payment_method_no"].as_i64(),
            r.body["payment"]["recurring_processing_model_ind"].as_i64()
        ),
        (Some(good), Some(0)),
        "the newest active card, customer-initiated as asked"
    );
    assert_eq!(owed(&r.body), -1234, "a credit");
    app.post(
        &format!("/v1/accounts/{acct}/balance_entries"),
        &json!({"amount": 5000, "currency": "usd"}),
    )
    .await;
    assert_eq!(owed(&balance(&app, acct).await), 3766);
    let settle = format!("/v1/accounts/{acct}/settle");
    let mit = json!({"recurring_processing_model_ind": 3});
    let (a, b) = tokio::join!(app.post(&settle, &mit), app.post(&settle, &mit));
    let mut statuses = vec![a.status, b.status];
    statuses.sort();
    assert_eq!(
        statuses,
        vec![StatusCode::OK, StatusCode::UNPROCESSABLE_ENTITY],
        "{:?} {:?}",
        a.body,
        b.body
    );
    assert_eq!(charged(&emu, 3766).await, 1);
    assert_eq!(owed(&balance(&app, acct).await), 0);
    assert_eq!(
        app.get("/v1/accounts/4242/balance").await.status,
        StatusCode::NOT_FOUND
    );
}
