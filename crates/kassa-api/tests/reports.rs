//! The reports against hand-computed figures: payments, refunds, declines and a chargeback made
//! through the emulator, then each report read as JSON and CSV.

use std::time::Duration;

use kassa_testkit::{Emulator, StatusCode, TestApp, SECRET_KEY};
use serde_json::{json, Value};

fn card(n: &str) -> Value {
    json!({"number": n, "exp_month": 12, "exp_year": 2034, "cvc": "123"})
}

fn this_month() -> String {
    let t = time::OffsetDateTime::now_utc();
    format!("{:04}-{:02}", t.year(), u8::from(t.month()))
}

struct Books {
    app: TestApp,
    _emu: Emulator,
    gw: i64,
    group: i64,
}

/// Two captured payments ($100.00 and $50.00, $20.00 of it refunded), a soft decline ($20.00),
/// a hard decline ($30.00), and a chargeback on the $100.00 payment.
async fn books() -> Books {
    let app = TestApp::spawn().await;
    let emu = Emulator::spawn().await;
    let limits = json!({"limits": {"monthly_cap": 100_000, "discount_rate": "2.95", "transaction_fee": 30,
                                   "reserve_rate": "10", "chargeback_fee": 1500}});
    let (gw, group) = app.emulator_gateway(&emu, limits).await;
    kassa_api::service::webhooks::register(&app.state(), gw, None)
        .await
        .unwrap();
    let acct = app.account("C-1", group).await;
    let pay = |n: &str, amount: i64| json!({"acct_no": acct, "card": card(n), "amount": amount, "currency": "usd"});
    let p1 = app
        .post("/v1/payments", &pay("4242424242424242", 10_000))
        .await;
    assert_eq!(p1.body["status"], "captured", "{:?}", p1.body);
    let p2 = app
        .post("/v1/payments", &pay("5555555555554444", 5_000))
        .await;
    let r = app
        .post(
            &format!("/v1/payments/{}/refunds", p2.body["id"].as_str().unwrap()),
            &json!({"amount": 2_000}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let d1 = app
        .post("/v1/payments", &pay("4000000000000002", 2_000))
        .await;
    assert_eq!(d1.status, StatusCode::PAYMENT_REQUIRED);
    let d2 = app
        .post("/v1/payments", &pay("4000000000000069", 3_000))
        .await;
    assert_eq!(d2.status, StatusCode::PAYMENT_REQUIRED);
    // The cardholder disputes the $100.00 payment; Stripe tells Kassa by webhook.
    let charge = p1.body["auth_no"].as_str().unwrap();
    let r = kassa_testkit::reqwest::Client::new()
        .post(format!("{}/_emulator/charges/{charge}/dispute", emu.url))
        .bearer_auth(SECRET_KEY)
        .form(&[("reason", "fraudulent")])
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    for _ in 0..100 {
        let cb = app
            .get(&format!("/v1/reports/chargebacks?from={}", this_month()))
            .await;
        if cb.body["rows"].as_array().is_some_and(|r| !r.is_empty()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    Books {
        app,
        _emu: emu,
        gw,
        group,
    }
}

#[tokio::test]
async fn reports_match_hand_computed_figures() {
    let b = books().await;
    let m = this_month();
    // Volume and fees: gross 150.00, refunds 20.00, 2 transactions; 2.95 % of 150.00 = 4.425
    // → 4.43 (half up), 2 × 0.30 = 0.60; the cap counts gross (refunds not included): 15 %.
    let v = b
        .app
        .get(&format!("/v1/reports/gateway_volume?from={m}&to={m}"))
        .await;
    assert_eq!(v.status, StatusCode::OK, "{:?}", v.body);
    let row = &v.body["rows"][0];
    assert_eq!(row["gateway_id"], b.gw);
    assert_eq!(row["month"], m.as_str());
    assert_eq!(
        (
            row["gross"].as_i64(),
            row["refunds"].as_i64(),
            row["net"].as_i64()
        ),
        (Some(15_000), Some(2_000), Some(13_000))
    );
    assert_eq!(row["transactions"], 2);
    assert_eq!(row["discount_rate"], "2.95");
    assert_eq!(row["discount_fees"], 443);
    assert_eq!(row["transaction_fees"], 60);
    assert_eq!(row["total_fees"], 503);
    assert_eq!(row["cap_used"], 15_000);
    assert_eq!(row["cap_used_percent"], "15.00");
    assert_eq!(v.body["summary"]["total_fees"], 503);

    // Reserve: 10 % of the captured 150.00.
    let r = b.app.get("/v1/reports/reserve").await;
    assert_eq!(r.body["rows"][0]["captured"], 15_000, "{:?}", r.body);
    assert_eq!(r.body["rows"][0]["reserve"], 1_500);
    assert_eq!(r.body["summary"]["reserve"], 1_500);

    // Chargebacks: one, the gateway's 15.00 fee, on 1 of 2 captured payments: 50 %.
    let c = b.app.get("/v1/reports/chargebacks").await;
    let cb = &c.body["rows"][0];
    assert_eq!(cb["amount"], 10_000, "{:?}", c.body);
    assert_eq!(cb["fee"], 1_500);
    assert_eq!(cb["reason"], "fraudulent");
    assert_eq!(cb["brand"], "visa");
    let g = &c.body["summary"]["by_gateway"][0];
    assert_eq!(g["chargebacks"], 1);
    assert_eq!(g["captured_payments"], 2);
    assert_eq!(g["chargeback_rate"], "50.00");

    // Declines: a soft generic decline and a hard expired card.
    let d = b.app.get("/v1/reports/declines").await;
    assert_eq!(d.body["summary"]["declines"], 2, "{:?}", d.body);
    assert_eq!(d.body["summary"]["hard"], 1);
    assert_eq!(d.body["summary"]["soft"], 1);
    let rows = d.body["rows"].as_array().unwrap();
    let generic = rows
        .iter()
        .find(|r| r["decline_code"] == "generic_decline")
        .unwrap();
    assert_eq!(
        (generic["class"].as_str(), generic["amount"].as_i64()),
        (Some("soft"), Some(2_000))
    );
    let expired = rows.iter().find(|r| r["code"] == "expired_card").unwrap();
    assert_eq!(
        (expired["class"].as_str(), expired["amount"].as_i64()),
        (Some("hard"), Some(3_000))
    );
    assert_eq!(expired["initiator"], "cit");
    assert_eq!(
        generic["brand"], "visa",
        "the brand Stripe reported for an unstored card"
    );
}

#[tokio::test]
async fn csv_download_and_bad_parameters() {
    let b = books().await;
    let resp = kassa_testkit::reqwest::Client::new()
        .get(b.app.url("/v1/reports/gateway_volume?format=csv"))
        .bearer_auth(&b.app.api_key)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    assert!(resp.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .contains("gateway_volume.csv"));
    let text = resp.text().await.unwrap();
    let mut lines = text.lines();
    assert!(lines
        .next()
        .unwrap()
        .starts_with("month,gateway_id,gateway,currency,gross,"));
    let first: Vec<&str> = lines.next().unwrap().split(',').collect();
    assert_eq!(first[4], "15000", "{text}");
    for (q, param) in [
        ("gateway_volume?from=2026-13", "from"),
        ("gateway_volume?from=2027-01&to=2026-01", "from"),
        ("gateway_volume?from=2020-01&to=2026-01", "from"),
        ("gateway_volume?format=xml", "format"),
        ("rebill_forecast?days=0", "days"),
        ("gateway_volume?colour=red", "colour"),
    ] {
        let r = b.app.get(&format!("/v1/reports/{q}")).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{q}");
        assert_eq!(r.param(), Some(param), "{q}: {:?}", r.body);
    }
    assert_eq!(
        b.app.get("/v1/reports/nope").await.status,
        StatusCode::NOT_FOUND
    );
    // Another client sees none of it.
    let (_, other) = b.app.new_client("Other").await;
    let v = b
        .app
        .send_as(
            &other,
            kassa_testkit::reqwest::Method::GET,
            "/v1/reports/gateway_volume",
            None,
            &[],
        )
        .await;
    assert_eq!(v.body["rows"], json!([]));
}

#[tokio::test]
async fn the_rebill_forecast_counts_due_purchases_of_live_campaigns() {
    let b = books().await;
    let acct = b.app.account("C-2", b.group).await;
    let mut purchases = Vec::new();
    for name in ["Live", "Deleted"] {
        let c = b
            .app
            .post("/v1/campaigns", &json!({"name": name, "currency": "usd"}))
            .await;
        let campaign = c.body["id"].as_i64().unwrap();
        let p = b
            .app
            .post(
                &format!("/v1/campaigns/{campaign}/products"),
                &json!({"name": "Serum", "schedule": {"prices": [499, 2999], "interval_unit": "days", "interval_count": 3}, "gateway_id": b.gw}),
            )
            .await;
        let o = b
            .app
            .post(
                "/v1/orders",
                &json!({"campaign_id": campaign, "acct_no": acct, "gateway_id": b.gw,
                        "items": [{"product_id": p.body["id"]}], "card": card("4242424242424242")}),
            )
            .await;
        assert_eq!(o.status, StatusCode::CREATED, "{:?}", o.body);
        purchases.push((campaign, o.body["purchases"][0].clone()));
    }
    let deleted = purchases[1].0;
    let r = b
        .app
        .send(
            kassa_testkit::reqwest::Method::DELETE,
            &format!("/v1/campaigns/{deleted}"),
            None,
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let f = b.app.get("/v1/reports/rebill_forecast?days=10").await;
    assert_eq!(f.status, StatusCode::OK, "{:?}", f.body);
    assert_eq!(f.body["summary"]["purchases"], 1, "{:?}", f.body);
    let row = &f.body["rows"][0];
    assert_eq!(row["amount"], 2999);
    let due = purchases[0].1["next_bill_at"].as_str().unwrap();
    assert_eq!(row["date"], &due[..10]);
    // The cap left: 1,000.00 less this month's volume (if the day is in this month) and the rebill.
    let month = &due[..7];
    let usage = b
        .app
        .get(&format!("/v1/gateways/{}/usage?month={month}", b.gw))
        .await
        .body;
    let used = usage["gross"].as_i64().unwrap_or(0) + usage["reserved"].as_i64().unwrap_or(0);
    assert_eq!(
        row["cap_remaining"].as_i64(),
        Some(100_000 - used - 2999),
        "{usage}"
    );
}

#[tokio::test]
async fn payments_list_filters() {
    let b = books().await;
    let count = |q: &'static str| {
        let app = &b.app;
        async move {
            let r = app.get(&format!("/v1/payments?limit=100&{q}")).await;
            assert_eq!(r.status, StatusCode::OK, "{q}: {:?}", r.body);
            r.body["data"].as_array().unwrap().len()
        }
    };
    assert_eq!(count("").await, 4);
    assert_eq!(count("card_brand=mastercard").await, 1);
    assert_eq!(count("card_brand=visa").await, 3);
    assert_eq!(count("status=declined").await, 2);
    assert_eq!(count("initiator=cit").await, 4);
    assert_eq!(count("initiator=mit").await, 0);
    assert_eq!(
        count(&*Box::leak(format!("gateway_id={}", b.gw).into_boxed_str())).await,
        4
    );
    assert_eq!(count("gateway_id=999999").await, 0);
    let today = time::OffsetDateTime::now_utc().date();
    let q = |d: time::Date, k: &str| &*Box::leak(format!("{k}={d}").into_boxed_str());
    assert_eq!(count(q(today, "created_from")).await, 4);
    assert_eq!(count(q(today, "created_to")).await, 4);
    assert_eq!(count(q(today.next_day().unwrap(), "created_from")).await, 0);
    assert_eq!(
        count(q(today.previous_day().unwrap(), "created_to")).await,
        0
    );
    let card = &b.app.get("/v1/payments?card_brand=mastercard").await.body["data"][0]["card"];
    assert_eq!(card["last4"], "4444");
    for (q, param) in [
        ("initiator=bot", "initiator"),
        ("created_from=12-01-2026", "created_from"),
        ("gateway_id=x", "gateway_id"),
    ] {
        let r = b.app.get(&format!("/v1/payments?{q}")).await;
        assert_eq!(
            (r.status, r.param()),
            (StatusCode::BAD_REQUEST, Some(param)),
            "{q}"
        );
    }
}
