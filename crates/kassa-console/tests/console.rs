//! The console over HTTP: sign-in and its cookie, CSRF, tenant isolation, the Gateway List with
//! duplicate and archive, and the report pages with their charts and CSV.

use kassa_testkit::console::ConsoleClient as Browser;
use kassa_testkit::reqwest::{self, StatusCode};
use kassa_testkit::{Emulator, TestApp};
use serde_json::json;

async fn setup() -> (TestApp, Emulator, i64) {
    let app = TestApp::spawn_with(kassa_console::app).await;
    let emu = Emulator::spawn().await;
    let (gw, group) = app
        .emulator_gateway(
            &emu,
            json!({"title": "Main <Stripe>", "descriptor": "KASSA SHOP", "mid_number": "MID-1",
                   "limits": {"monthly_cap": 100_000}}),
        )
        .await;
    let acct = app.account("C-1", group).await;
    let r = app
        .post(
            "/v1/payments",
            &json!({"acct_no": acct, "amount": 25_000, "currency": "usd",
                    "card": {"number": "4242424242424242", "exp_month": 12, "exp_year": 2034, "cvc": "123"}}),
        )
        .await;
    assert_eq!(r.body["status"], "captured", "{:?}", r.body);
    (app, emu, gw)
}

#[tokio::test]
async fn sign_in_session_and_csrf() {
    let (app, _emu, _gw) = setup().await;
    let mut b = Browser::new(&app);
    // Signed out: every page leads to the sign-in form.
    let r = b.get("/console/gateways").await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()["location"], "/console/sign-in");
    let r = b.get("/").await;
    assert_eq!(r.headers()["location"], "/console/gateways");
    let form = b.get("/console/sign-in").await;
    assert!(form.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .contains("frame-ancestors 'none'"));
    assert!(form
        .text()
        .await
        .unwrap()
        .contains("<label for=\"api_key\">"));
    // A wrong key, and a cross-site sign-in, are refused.
    let r = b
        .post("/console/sign-in", &[("api_key", "kassa_sk_nope")])
        .await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let r = b
        .http
        .post(format!("{}/console/sign-in", b.base))
        .header("origin", "https://evil.example")
        .form(&[("api_key", app.api_key.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let csrf = b.sign_in(&app.api_key).await;
    // A form without the session's token changes nothing.
    let r = b
        .post("/console/gateways/1/archive", &[("csrf", "x")])
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let g = app.get("/v1/gateways/1").await;
    assert_eq!(g.body["status"], "active");
    // Signing out ends the session for good.
    let r = b.post("/console/sign-out", &[("csrf", &csrf)]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let r = b.get("/console/gateways").await;
    assert_eq!(r.headers()["location"], "/console/sign-in");
}

#[tokio::test]
async fn the_gateway_list_duplicates_and_archives() {
    let (app, _emu, gw) = setup().await;
    let mut b = Browser::new(&app);
    let csrf = b.sign_in(&app.api_key).await;
    let page = b.get("/console/gateways").await.text().await.unwrap();
    assert!(
        page.contains("Main &#60;Stripe&#62;") && !page.contains("<Stripe>"),
        "titles are escaped"
    );
    assert!(page.contains("KASSA SHOP") && page.contains("MID-1"));
    assert!(page.contains("250.00 USD of 1,000.00"), "{page}");
    assert!(page.contains("<progress max=\"100000\" value=\"25000\">"));
    let r = b
        .post(
            &format!("/console/gateways/{gw}/duplicate"),
            &[("csrf", &csrf), ("descriptor_suffix", "SERUM")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let to = r.headers()["location"].to_str().unwrap().to_string();
    let copy: i64 = to.rsplit('=').next().unwrap().parse().unwrap();
    let c = app.get(&format!("/v1/gateways/{copy}")).await;
    assert_eq!(c.body["descriptor_suffix"], "SERUM");
    assert_eq!(c.body["title"], "Main <Stripe> (copy)");
    let audit = app
        .get(&format!(
            "/v1/audit_events?object_type=gateway&object_id={copy}"
        ))
        .await;
    assert_eq!(
        audit.body["data"][0]["actor"],
        format!(
            "api_key:console:{}",
            kassa_secrets::ApiKey::label(&app.api_key)
        )
    );
    let page = b.get(&to).await.text().await.unwrap();
    assert!(page.contains(&format!("Gateway duplicated as #{copy}")));
    let r = b
        .post(
            &format!("/console/gateways/{copy}/archive"),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        app.get(&format!("/v1/gateways/{copy}")).await.body["status"],
        "archived"
    );
    // Another client's operator sees none of it and cannot touch it.
    let (_, other_key) = app.new_client("Other").await;
    let mut o = Browser::new(&app);
    let other_csrf = o.sign_in(&other_key).await;
    let page = o.get("/console/gateways").await.text().await.unwrap();
    assert!(!page.contains("Main &#60;Stripe&#62;"));
    let r = o
        .post(
            &format!("/console/gateways/{gw}/archive"),
            &[("csrf", &other_csrf)],
        )
        .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        app.get(&format!("/v1/gateways/{gw}")).await.body["status"],
        "active"
    );
}

#[tokio::test]
async fn report_pages_have_charts_tables_and_csv() {
    let (app, _emu, _gw) = setup().await;
    let mut b = Browser::new(&app);
    b.sign_in(&app.api_key).await;
    let index = b.get("/console/reports").await.text().await.unwrap();
    for name in [
        "gateway_volume",
        "reserve",
        "chargebacks",
        "declines",
        "rebill_forecast",
    ] {
        assert!(
            index.contains(&format!("/console/reports/{name}")),
            "{name}"
        );
        let r = b.get(&format!("/console/reports/{name}")).await;
        assert_eq!(r.status(), StatusCode::OK, "{name}");
        let page = r.text().await.unwrap();
        assert!(page.contains("<table id=\"report\">"), "{name}");
    }
    let page = b
        .get("/console/reports/gateway_volume")
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("<svg"), "the volume chart");
    assert!(page.contains("Volume against the monthly cap"));
    assert!(page.contains("<td>25000</td>"), "{page}");
    let csv = b.get("/console/reports/gateway_volume/csv").await;
    assert_eq!(csv.status(), StatusCode::OK);
    let text = csv.text().await.unwrap();
    assert!(text.starts_with("month,gateway_id,"), "{text}");
    let bad = b.get("/console/reports/gateway_volume?from=2026-13").await;
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        b.get("/console/reports/nope").await.status(),
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn the_payments_list_filters() {
    let (app, _emu, gw) = setup().await;
    let mut b = Browser::new(&app);
    b.sign_in(&app.api_key).await;
    let page = b.get("/console/payments").await.text().await.unwrap();
    assert!(page.contains("<table id=\"payments\">"));
    assert!(
        page.contains("250.00 USD") && page.contains("visa 4242"),
        "{page}"
    );
    assert!(page.contains(&format!("<option value=\"{gw}\">")));
    let page = b
        .get("/console/payments?card_brand=amex")
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("No payments match."));
    assert!(page.contains("<option value=\"amex\" selected>"));
    let r = b.get("/console/payments?initiator=robot").await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn the_webhook_event_log() {
    let (app, emu, gw) = setup().await;
    kassa_api::service::webhooks::register(&app.state(), gw, None)
        .await
        .unwrap();
    let acct = app.get("/v1/accounts").await.body["data"][0]["acct_no"]
        .as_i64()
        .unwrap();
    let pm = app
        .post(
            &format!("/v1/accounts/{acct}/payment_methods"),
            &json!({"card": {"number": "4242424242424242", "exp_month": 12, "exp_year": 2034, "cvc": "123"}}),
        )
        .await
        .body;
    let pm_id = kassa_testkit::stripe_payment_method(&pm);
    let r = reqwest::Client::new()
        .post(format!(
            "{}/_emulator/payment_methods/{pm_id}/card_update",
            emu.url
        ))
        .bearer_auth(kassa_testkit::SECRET_KEY)
        .form(&[("exp_year", "2036")])
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    let mut b = Browser::new(&app);
    let csrf = b.sign_in(&app.api_key).await;
    let mut page = String::new();
    for _ in 0..100 {
        page = b
            .get("/console/webhook_events?status=applied")
            .await
            .text()
            .await
            .unwrap();
        if page.contains("payment_method.automatically_updated") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(30)).await;
    }
    assert!(
        page.contains("payment_method.automatically_updated"),
        "{page}"
    );
    assert!(page.contains("verified with gateway"), "{page}");
    let none = b
        .get("/console/webhook_events?status=failed")
        .await
        .text()
        .await
        .unwrap();
    assert!(none.contains("No events."));
    // Only failed events are retried.
    let id = app.get("/v1/webhook_events").await.body["data"][0]["id"]
        .as_i64()
        .unwrap();
    let r = b
        .post(
            &format!("/console/webhook_events/{id}/retry"),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    let r = b.get("/console/webhook_events?status=nope").await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn a_customer_profile_with_force_bill_now_refund_and_void() {
    let (app, _emu, gw) = setup().await;
    let acct = app.get("/v1/accounts").await.body["data"][0]["acct_no"]
        .as_i64()
        .unwrap();
    let (campaign, product) = app
        .recurring_product(
            gw,
            json!({"prices": [100, 1900], "interval_unit": "days", "interval_count": 30}),
        )
        .await;
    let o = app
        .order_with_card(campaign, acct, product, "5555555555554444")
        .await;
    let pur = o["purchases"][0]["id"].as_str().unwrap().to_string();
    let auth = app
        .post(
            "/v1/payments",
            &json!({"acct_no": acct, "amount": 700, "currency": "usd", "capture": false,
                    "card": {"number": "4242424242424242", "exp_month": 12, "exp_year": 2034, "cvc": "123"}}),
        )
        .await;
    let auth_id = auth.body["id"].as_str().unwrap().to_string();
    let mut b = Browser::new(&app);
    let csrf = b.sign_in(&app.api_key).await;
    let page = b
        .get("/console/customers?q=C-1")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        page.contains(&format!("href=\"/console/customers/{acct}\"")),
        "{page}"
    );
    assert!(b
        .get("/console/customers?q=ada@example.com")
        .await
        .text()
        .await
        .unwrap()
        .contains("Ada"));
    let page = b
        .get(&format!("/console/customers/{acct}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("Force Bill NOW") && page.contains("mastercard 4444"),
        "{page}"
    );
    // Force Bill NOW: cycle 2 is billed at once.
    let r = b
        .post(
            &format!("/console/purchases/{pur}/bill_now"),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        r.headers()["location"],
        format!("/console/customers/{acct}?done=billed").as_str()
    );
    assert_eq!(
        app.get(&format!("/v1/purchases/{pur}")).await.body["cycle"],
        2
    );
    // Void the authorization; refund the first sale.
    let r = b
        .post(
            &format!("/console/payments/{auth_id}/void"),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        app.get(&format!("/v1/payments/{auth_id}")).await.body["status"],
        "voided"
    );
    let sale = o["payment_id"].as_str().unwrap().to_string();
    let r = b
        .post(
            &format!("/console/payments/{sale}/refund"),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        app.get(&format!("/v1/payments/{sale}")).await.body["status"],
        "refunded"
    );
    let r = b
        .post(
            &format!("/console/purchases/{pur}/cancel"),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        app.get(&format!("/v1/purchases/{pur}")).await.body["status"],
        "cancelled"
    );
    // Without the token nothing happens; another client sees no such customer.
    let r = b
        .post(&format!("/console/purchases/{pur}/bill_now"), &[])
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let (_, other) = app.new_client("Other").await;
    let mut o = Browser::new(&app);
    o.sign_in(&other).await;
    assert_eq!(
        o.get(&format!("/console/customers/{acct}")).await.status(),
        StatusCode::NOT_FOUND
    );
}
