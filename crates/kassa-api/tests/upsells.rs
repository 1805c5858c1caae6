//! `POST /v1/orders/{id}/upsells` end to end against the emulator: the upsell-token path, and a
//! recurring upsell's purchase rebilled later.

use kassa_api::service::billing::run_due;
use kassa_testkit::{Emulator, StatusCode, TestApp, SECRET_KEY};
use serde_json::{json, Value};

fn card(n: &str) -> Value {
    json!({"number": n, "exp_month": 12, "exp_year": 2034, "cvc": "123"})
}

struct Shop {
    app: TestApp,
    emu: Emulator,
    campaign: i64,
    acct: i64,
    /// Products on the gateway that sends upsell tokens: recurring, one-time, upsell one-time,
    /// upsell recurring.
    main: i64,
    extra: i64,
    club: i64,
    /// A product on a gateway that does not.
    plain: i64,
}

async fn product(app: &TestApp, campaign: i64, body: Value) -> i64 {
    let r = app
        .post(&format!("/v1/campaigns/{campaign}/products"), &body)
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    r.body["id"].as_i64().unwrap()
}

async fn shop() -> Shop {
    let app = TestApp::spawn().await;
    let emu = Emulator::spawn().await;
    let (gw, group) = app
        .emulator_gateway(&emu, json!({"send_upsell_token": true}))
        .await;
    let (plain_gw, _) = app
        .emulator_gateway(&emu, json!({"title": "No upsells"}))
        .await;
    let acct = app.account("C-1", group).await;
    let campaign = app
        .post(
            "/v1/campaigns",
            &json!({"name": "Funnel", "currency": "usd"}),
        )
        .await
        .body["id"]
        .as_i64()
        .unwrap();
    let sched =
        |prices: Value| json!({"prices": prices, "interval_unit": "days", "interval_count": 30});
    Shop {
        main: product(
            &app,
            campaign,
            json!({"name": "Serum", "schedule": sched(json!([499, 2999])), "gateway_id": gw}),
        )
        .await,
        extra: product(
            &app,
            campaign,
            json!({"name": "Eye cream", "sku": "EYE-1", "price": 1500, "gateway_id": gw}),
        )
        .await,
        club: product(
            &app,
            campaign,
            json!({"name": "VIP club", "schedule": sched(json!([199, 990])), "gateway_id": gw}),
        )
        .await,
        plain: product(
            &app,
            campaign,
            json!({"name": "Serum", "schedule": sched(json!([499, 2999])), "gateway_id": plain_gw}),
        )
        .await,
        app,
        emu,
        campaign,
        acct,
    }
}

async fn order(s: &Shop, product: i64) -> Value {
    let r = s.app.post("/v1/orders", &json!({"campaign_id": s.campaign, "acct_no": s.acct, "items": [{"product_id": product}], "card": card("4242424242424242")})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    r.body
}

#[tokio::test]
async fn upsells_charge_the_orders_card_and_start_purchases() {
    let s = shop().await;
    let o = order(&s, s.main).await;
    let id = o["id"].as_str().unwrap();
    let path = format!("/v1/orders/{id}/upsells");

    // A one-time product, twice: one merchant-initiated charge on the order's card.
    let r = s
        .app
        .post(&path, &json!({"product_id": s.extra, "quantity": 2}))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let pay = &r.body["payment"];
    assert_eq!(
        (
            pay["amount"].as_i64(),
            pay["status"].as_str(),
            pay["recurring_processing_model_ind"].as_i64(),
            pay["gateway_id"].clone()
        ),
        (
            Some(3000),
            Some("captured"),
            Some(3),
            o["gateway_id"].clone()
        )
    );
    assert_eq!(r.body["purchase"], Value::Null);
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
    assert_eq!(pi["metadata"]["kassa_upsell_of"], o["payment_id"]);
    assert_eq!(pi["metadata"]["kassa_order"], id);
    let sale_pi = s
        .emu
        .get(
            SECRET_KEY,
            &format!(
                "/v1/payment_intents/{}",
                s.app
                    .get(&format!(
                        "/v1/payments/{}",
                        o["payment_id"].as_str().unwrap()
                    ))
                    .await
                    .body["processor_payment_id"]
                    .as_str()
                    .unwrap()
            ),
        )
        .await;
    assert_eq!(
        pi["payment_method"], sale_pi["payment_method"],
        "the order's card"
    );

    // A recurring product: its first cycle now, and a purchase on the order's gateway and card.
    let r = s.app.post(&path, &json!({"product_id": s.club})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let pur = r.body["purchase"].clone();
    assert_eq!(
        (
            r.body["payment"]["amount"].as_i64(),
            r.body["amount"].as_i64()
        ),
        (Some(199), Some(199)),
        "cycle 1's price"
    );
    assert_eq!(
        (
            pur["status"].as_str(),
            pur["cycle"].as_i64(),
            pur["gateway_id"].clone(),
            pur["payment_method_no"].clone()
        ),
        (
            Some("active"),
            Some(1),
            o["gateway_id"].clone(),
            o["purchases"][0]["payment_method_no"].clone()
        )
    );
    let stored = s
        .app
        .get(&format!("/v1/purchases/{}", pur["id"].as_str().unwrap()))
        .await;
    assert_eq!(pur["created_at"], stored.body["created_at"], "as stored");
    let got = s.app.get(&format!("/v1/orders/{id}")).await.body;
    assert_eq!(got["purchases"].as_array().unwrap().len(), 2, "{got}");
    let items = got["items"].as_array().unwrap();
    assert_eq!(items.len(), 3);
    assert_eq!(
        (items[1]["upsell"].as_bool(), items[1]["quantity"].as_i64()),
        (Some(true), Some(2))
    );
    // The upsell's purchase is rebilled like any other (cycle 2 at 990).
    let due = time::OffsetDateTime::parse(
        pur["next_bill_at"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap()
    .unix_timestamp_nanos() as i64
        / 1_000_000;
    run_due(&s.app.state(), "w1", due, 50).await.unwrap();
    let p = s
        .app
        .get(&format!("/v1/purchases/{}", pur["id"].as_str().unwrap()))
        .await
        .body;
    assert_eq!(
        (
            p["cycle"].as_i64(),
            p["attempts"][0]["amount"].as_i64(),
            p["attempts"][0]["status"].as_str()
        ),
        (Some(2), Some(990), Some("approved"))
    );
}

#[tokio::test]
async fn upsells_are_refused_where_they_cannot_be_charged() {
    let s = shop().await;
    // The gateway does not send upsell tokens: 422, nothing added.
    let o = order(&s, s.plain).await;
    let id = o["id"].as_str().unwrap();
    let r = s
        .app
        .post(
            &format!("/v1/orders/{id}/upsells"),
            &json!({"product_id": s.club}),
        )
        .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("upsell_disabled")),
        "{:?}",
        r.body
    );
    let got = s.app.get(&format!("/v1/orders/{id}")).await.body;
    assert_eq!(
        (
            got["items"].as_array().unwrap().len(),
            got["purchases"].as_array().unwrap().len()
        ),
        (1, 1)
    );
    // Bad input names the field.
    let o = order(&s, s.main).await;
    let path = format!("/v1/orders/{}/upsells", o["id"].as_str().unwrap());
    let other = s
        .app
        .post(
            "/v1/campaigns",
            &json!({"name": "Other", "currency": "usd"}),
        )
        .await
        .body["id"]
        .as_i64()
        .unwrap();
    let foreign = product(
        &s.app,
        other,
        json!({"name": "X", "price": 100, "gateway_id": o["gateway_id"]}),
    )
    .await;
    for (body, param) in [
        (json!({}), "product_id"),
        (json!({"product_id": foreign}), "product_id"),
        (json!({"product_id": s.extra, "quantity": 0}), "quantity"),
        (
            json!({"product_id": s.extra, "card": card("4242424242424242")}),
            "card",
        ),
    ] {
        let r = s.app.post(&path, &body).await;
        assert_eq!(
            (r.status, r.param()),
            (StatusCode::BAD_REQUEST, Some(param)),
            "{body}: {:?}",
            r.body
        );
    }
    assert_eq!(
        s.app
            .post(
                "/v1/orders/ord_nope/upsells",
                &json!({"product_id": s.extra})
            )
            .await
            .status,
        StatusCode::NOT_FOUND
    );
}
